/**
 * Sandbox drivers: the isolation technologies behind the runtime classes (ARCHITECTURE §6).
 * `quickjs` (the default) runs JavaScript in a QuickJS WebAssembly instance inside the host
 * process; `process` runs commands in a child process, isolated with bubblewrap where available.
 * Both implement the `SandboxDriver` interface of `../driver/`.
 * @module
 */

export {
  type BubblewrapProbe,
  BWRAP_CANDIDATE_PATHS,
  probeBubblewrap,
  probeBubblewrapSync,
  SANDBOX_EGRESS_SOCKET,
} from './process/bubblewrap.js';
export {
  type EgressProxy,
  type EgressProxyLimits,
  startEgressProxy,
  statusForCode,
} from './process/egress-proxy.js';
export {
  createProcessDriver,
  DEFAULT_PROCESS_DRIVER_OPTIONS,
  EGRESS_SOCKET_ENV,
  type ProcessDriver,
  type ProcessDriverOptions,
} from './process/process-driver.js';
export {
  createQuickJsDriver,
  DEFAULT_QUICKJS_DRIVER_OPTIONS,
  MAX_QUICKJS_CODE_LENGTH,
  MIN_QUICKJS_MEMORY_BYTES,
  type QuickJsDriverOptions,
} from './quickjs/quickjs-driver.js';
