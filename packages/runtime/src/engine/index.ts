/**
 * The Runtime engine: `createRuntime`, sandboxes bound to an agent (spawn, exec, terminate,
 * checkpoint, reaper), the egress and tool capabilities with the approval gate, inference
 * metering and the signed usage events (spec §3.1, §3.2, §4.1–4.3, §7.1, §7.2, §9.2).
 * @module
 */
export {
  DEFAULT_RUNTIME_LIMITS,
  type RuntimeAudit,
  type RuntimeLimits,
  type RuntimeNhi,
  type RuntimeOptions,
  type RuntimePlatform,
} from './options.js';
export {
  createRuntime,
  MAX_EXEC_ARG_LENGTH,
  MAX_EXEC_ARGS,
  MAX_EXEC_STDIN_BYTES,
  MAX_TERMINATION_REASON_LENGTH,
  TOOL_RESULT_BOUNDS,
} from './runtime.js';
export {
  DEFAULT_CPU_MILLICORES,
  DEFAULT_MEMORY_BYTES,
  DEFAULT_RUNTIME_CLASS,
  MAX_ENV_ENTRIES,
  MAX_ENV_VALUE_LENGTH,
  MAX_IMAGE_LENGTH,
  MAX_LABEL_VALUE_LENGTH,
  MAX_LABELS,
} from './spec.js';
export type {
  ExecRequest,
  ExecResult,
  ExecutionHandle,
  ExecutionState,
  PendingApproval,
  Runtime,
  RuntimeStats,
  SandboxFilter,
  SandboxHandle,
  SandboxInfo,
  SandboxSpec,
  SandboxState,
  TerminationResult,
} from './types.js';
