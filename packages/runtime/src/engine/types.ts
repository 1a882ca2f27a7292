import type {
  AgentIdentity,
  AgentKeyPair,
  CheckpointRef,
  ConsensusTimestamp,
  DelegationChain,
  JsonValue,
  RuntimeUsageEvent,
  SandboxId,
} from '@creto/core';
import type { SandboxAttestation } from '../attestation/attestation.js';
import type { DriverExecResult, EgressRequest, EgressResponse } from '../driver/types.js';
import type { NetworkPolicy } from '../egress/hosts.js';
import type { InferenceCallOptions, InferenceRequest, InferenceResult } from '../inference/types.js';
import type { ToolArguments, ToolDefinition, ToolInfo } from '../tools/registry.js';
import type { UsageFlushResult, UsageOutboxStats } from '../usage/outbox.js';
import type { UsageEventSigner } from '../usage/signer.js';

/**
 * What to spawn (spec §3.1 `SandboxSpec`, §7.1). Everything but `agent` has a default; the
 * validated, normalized spec (without secrets: `env` values and `code` enter only through
 * their hash) is hashed into the attestation and the spawn's idempotency key (spec §9.2).
 */
export interface SandboxSpec {
  /**
   * The agent the sandbox is bound to. It signs the sandbox's usage events, so it needs a
   * post-quantum key: an `AgentKeyPair` created with `{ postQuantum: true }` (signs in-process),
   * or an `AgentIdentity` with an ML-DSA-65 key together with `signer` (a KMS, another process).
   * Anything else is `RT-400`.
   */
  readonly agent: AgentKeyPair | AgentIdentity;
  /** Signs usage events when `agent` is an `AgentIdentity`; its signatures are verified before use. */
  readonly signer?: UsageEventSigner;
  /** The delegation chain the agent acts under (leaf = agent); checked by authz on every call. */
  readonly delegationChain?: DelegationChain;
  /** Runtime class (default `quickjs`); an alias is served by its target driver. */
  readonly runtimeClass?: string;
  /** Image name, recorded and attested (the SDK's own drivers take no image); not with `code`. */
  readonly image?: string;
  /** JavaScript run once when the sandbox starts (its globals persist); hashed into the attestation. */
  readonly code?: string;
  /** CPU share in millicores (default 1000). */
  readonly cpuMillicores?: number;
  /** Memory limit in bytes (default 2 GiB = 2147483648n). */
  readonly memoryBytes?: bigint;
  /** Sandbox lifetime, ms: the sandbox is terminated with reason `timeout` after it. */
  readonly timeoutMs?: number;
  /** Default wall-clock limit of one `exec`, ms. */
  readonly execTimeoutMs?: number;
  /** Environment variables for process drivers (hashed, never logged or attested in clear). */
  readonly env?: Readonly<Record<string, string>>;
  /** Free labels for `listSandboxes` and operators (not secrets: they are shown by `getSandbox`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** The sandbox's own egress lists; they only narrow what authz allows. */
  readonly network?: NetworkPolicy;
}

/** Lifecycle of a sandbox. */
export type SandboxState = 'running' | 'terminating' | 'terminated';

/** What the runtime knows about a sandbox (a live view: `state` changes). */
export interface SandboxInfo {
  /** The sandbox id (`sb-…`). */
  readonly sandboxId: SandboxId;
  /** The agent it is bound to. */
  readonly agentNhi: string;
  /** The runtime class asked for. */
  readonly runtimeClass: string;
  /** The driver serving it. */
  readonly driver: string;
  /** Current state. */
  readonly state: SandboxState;
  /** CPU share in millicores. */
  readonly cpuMillicores: number;
  /** Memory limit in bytes. */
  readonly memoryBytes: bigint;
  /** Lifetime, ms. */
  readonly timeoutMs: number;
  /** Default exec limit, ms. */
  readonly execTimeoutMs: number;
  /** When it was created (the runtime's clock, Unix ns). */
  readonly createdAt: ConsensusTimestamp;
  /** When the reaper terminates it (Unix ns). */
  readonly expiresAt: ConsensusTimestamp;
  /** Labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** The sandbox's normalized egress lists. */
  readonly network: NetworkPolicy;
  /** Hex SHA-256 of the normalized spec. */
  readonly specHash: string;
  /** The host-signed attestation (verify with `verifyAttestation`). */
  readonly attestation: SandboxAttestation;
}

/** One execution in a sandbox. Exactly one of `code` (code drivers) and `command` (process drivers). */
export interface ExecRequest {
  /** JavaScript source (the `quickjs` driver). */
  readonly code?: string;
  /** Program to run (process drivers). */
  readonly command?: string;
  /** Program arguments. */
  readonly args?: readonly string[];
  /** Standard input (a string is sent as UTF-8). */
  readonly stdin?: Uint8Array | string;
  /** Wall-clock limit, ms; default the sandbox's `execTimeoutMs`, at most the runtime's `maxExecTimeoutMs`. */
  readonly timeoutMs?: number;
}

/**
 * How an execution ended. A timeout is not an error: the result says `outcome: 'timeout'`
 * (`RT-408` is never thrown by `exec`; capability errors inside the code surface as
 * `outcome: 'error'` with their `errorCode`).
 */
export interface ExecResult extends DriverExecResult {
  /** The execution's id. */
  readonly executionId: string;
  /** The sandbox. */
  readonly sandboxId: SandboxId;
}

/**
 * State of an execution: `running` (queued or running), `pending_approval` (a capability call is
 * waiting for an Oversight decision, spec §8.3 `RT-202`), `completed` (`result` resolved; read its
 * `outcome`) or `failed` (`result` rejected: unknown or terminated sandbox, driver failure, …).
 */
export type ExecutionState = 'running' | 'pending_approval' | 'completed' | 'failed';

/** An action waiting for human approval. */
export interface PendingApproval {
  /** The Oversight request id. */
  readonly requestId: string;
  /** The sandbox the action comes from (absent for a spawn that needs approval). */
  readonly sandboxId: SandboxId | undefined;
  /** The execution waiting, when the action comes from one. */
  readonly executionId: string | undefined;
  /** The agent. */
  readonly agentNhi: string;
  /** The authz action, e.g. `funds.transfer`, `network.egress`, `sandbox.spawn`. */
  readonly action: string;
  /** The authz resource. */
  readonly resource: string;
  /** The policy that required oversight. */
  readonly policyId: string;
  /** When the wait began (the runtime's clock, Unix ns). */
  readonly since: ConsensusTimestamp;
}

/** A running execution (of code, a command or a tool call) that may wait for approval. */
export interface ExecutionHandle<T> {
  /** Execution id (UUID). */
  readonly id: string;
  /** The sandbox. */
  readonly sandboxId: SandboxId;
  /** Current state. */
  readonly state: ExecutionState;
  /** The approval being waited for while `state` is `pending_approval`. */
  readonly pendingApproval: PendingApproval | undefined;
  /** Settles when the execution ends. */
  readonly result: Promise<T>;
  /** Aborts the execution (a driver ends it with outcome `aborted`; a waiting tool call rejects). */
  cancel(): void;
}

/** What `terminate` reports. */
export interface TerminationResult {
  /** The sandbox. */
  readonly sandboxId: SandboxId;
  /** Why it ended (`timeout` for the reaper). */
  readonly reason: string;
  /** Whole seconds it ran, rounded up (the `sandbox_terminated` event's `duration_seconds`). */
  readonly durationSeconds: bigint;
  /** When it ended (the runtime's clock, Unix ns). */
  readonly terminatedAt: ConsensusTimestamp;
}

/** A sandbox with its operations bound (E2B-style: `sandbox.exec(...)`, `sandbox.terminate()`). */
export interface SandboxHandle extends SandboxInfo {
  /** `runtime.exec(sandboxId, request)`. */
  exec(request: ExecRequest): Promise<ExecResult>;
  /** `runtime.startExec(sandboxId, request)`. */
  startExec(request: ExecRequest): ExecutionHandle<ExecResult>;
  /** `runtime.callTool(sandboxId, name, args)`. */
  callTool(name: string, args: JsonValue): Promise<JsonValue>;
  /** `runtime.fetch(sandboxId, request)`. */
  fetch(request: EgressRequest): Promise<EgressResponse>;
  /** `runtime.inference(sandboxId, request, options)`. */
  inference(request: InferenceRequest, options?: InferenceCallOptions): Promise<InferenceResult>;
  /** `runtime.checkpoint(sandboxId)`. */
  checkpoint(): Promise<CheckpointRef>;
  /** `runtime.terminate(sandboxId, reason)`. */
  terminate(reason?: string): Promise<TerminationResult>;
}

/** Filter of `listSandboxes`. */
export interface SandboxFilter {
  /** Only sandboxes bound to this agent. */
  readonly agent?: AgentIdentity | string;
  /** Only sandboxes carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Counters of a runtime. */
export interface RuntimeStats {
  /** Live sandboxes. */
  readonly sandboxes: number;
  /** Sandboxes spawned since creation. */
  readonly spawned: number;
  /** Sandboxes terminated since creation. */
  readonly terminated: number;
  /** Actions waiting for approval now. */
  readonly pendingApprovals: number;
  /** Audit appends that failed (each is logged). */
  readonly auditFailures: number;
  /** Usage events that could not be signed (each is logged with its content). */
  readonly usageSigningFailures: number;
  /** The usage outbox. */
  readonly usage: UsageOutboxStats;
}

/** The Runtime engine (ARCHITECTURE §6 Runtime). */
export interface Runtime {
  /** Spawns (or, within 1 h for the same agent and spec, returns) a sandbox (spec §7.1, §9.2). */
  spawnSandbox(spec: SandboxSpec): Promise<SandboxHandle>;
  /** The live sandbox; `RT-404` when unknown or terminated. */
  getSandbox(sandboxId: string): SandboxHandle;
  /** Live sandboxes matching the filter, oldest first (at most `maxSandboxes`). */
  listSandboxes(filter?: SandboxFilter): SandboxHandle[];
  /** Runs code or a command and resolves with its result (a timeout is `outcome: 'timeout'`). */
  exec(sandboxId: string, request: ExecRequest): Promise<ExecResult>;
  /** Starts an execution and returns its handle at once (to watch `pending_approval`). */
  startExec(sandboxId: string, request: ExecRequest): ExecutionHandle<ExecResult>;
  /** Calls a tool on the sandbox's behalf, through the same checks as sandbox code. */
  callTool(sandboxId: string, name: string, args: JsonValue): Promise<JsonValue>;
  /** Starts a tool call and returns its handle at once. */
  startToolCall(sandboxId: string, name: string, args: JsonValue): ExecutionHandle<JsonValue>;
  /** Performs an egress request on the sandbox's behalf, through the same checks as sandbox code. */
  fetch(sandboxId: string, request: EgressRequest): Promise<EgressResponse>;
  /** A model call for the sandbox through the inference router, metered (spec §4.3, §7.1). */
  inference(
    sandboxId: string,
    request: InferenceRequest,
    options?: InferenceCallOptions,
  ): Promise<InferenceResult>;
  /** Stores the driver's checkpoint of the sandbox in memory (spec §3.6). */
  checkpoint(sandboxId: string): Promise<CheckpointRef>;
  /** Terminates a sandbox (usage event with duration, audit, driver dispose, NHI unbind). */
  terminate(sandboxId: string, reason?: string): Promise<TerminationResult>;
  /** Registers a tool. */
  registerTool<A extends ToolArguments>(tool: ToolDefinition<A>): void;
  /** Removes a tool; true when there was one. */
  unregisterTool(name: string): boolean;
  /** The registered tools. */
  listTools(): ToolInfo[];
  /** Actions waiting for approval now. */
  pendingApprovals(): PendingApproval[];
  /** Delivers waiting usage events to the sink now. */
  flushUsage(): Promise<UsageFlushResult>;
  /** Removes and returns waiting usage events (for hosts without a sink). */
  drainUsageEvents(max?: number): RuntimeUsageEvent[];
  /** Counters. */
  stats(): RuntimeStats;
  /** The host's service identity (the attestation signer). */
  readonly hostIdentity: AgentIdentity;
  /** Terminates every sandbox (reason `shutdown`), flushes usage, stops timers. Idempotent. */
  close(): Promise<void>;
}
