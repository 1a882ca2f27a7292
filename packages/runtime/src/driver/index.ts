/**
 * The sandbox driver interface: what the engine asks of every isolation technology.
 * @module
 */
export type {
  DriverExecRequest,
  DriverExecResult,
  DriverInfo,
  DriverSandbox,
  DriverSandboxSpec,
  EgressRequest,
  EgressResponse,
  ExecOutcome,
  SandboxCapabilities,
  SandboxDriver,
  SandboxLimits,
} from './types.js';
