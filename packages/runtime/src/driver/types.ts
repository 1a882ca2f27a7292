import type { JsonValue } from '@creto/core';

/**
 * The resource limits of one sandbox. Drivers enforce what their isolation allows and document
 * the rest (e.g. `cpuMillicores` is a scheduling weight for QuickJS, a cgroup share elsewhere).
 */
export interface SandboxLimits {
  /** Memory the sandbox may use, in bytes (spec default 2 GiB). */
  readonly memoryBytes: bigint;
  /** CPU share in millicores (spec default 1000). */
  readonly cpuMillicores: number;
  /** Default wall-clock limit of one `exec`, in milliseconds. */
  readonly execTimeoutMs: number;
  /** Most bytes of stdout (and, separately, of stderr) kept per `exec`; the rest is cut and flagged. */
  readonly maxOutputBytes: number;
}

/** An HTTP request sandbox code makes through the host's egress capability. */
export interface EgressRequest {
  /** Absolute `http:` or `https:` URL. */
  readonly url: string;
  /** Method, upper case. */
  readonly method: string;
  /** Request headers (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  /** Request body, if any. */
  readonly body?: Uint8Array;
}

/** The host's answer to an {@link EgressRequest}. */
export interface EgressResponse {
  /** HTTP status. */
  readonly status: number;
  /** Status text. */
  readonly statusText: string;
  /** Response headers (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  /** Response body. */
  readonly body: Uint8Array;
}

/**
 * What the host gives a sandbox: its only way to reach the outside world (ARCHITECTURE §6: no
 * ambient authority). The engine implements each capability with the authz check, audit and
 * metering; drivers only expose them to sandbox code. A capability rejects with an
 * `EnablementError` (`RT-403` denied, `RT-202` pending approval, …) that drivers surface to
 * the sandbox code as a catchable error carrying the code.
 */
export interface SandboxCapabilities {
  /** Network egress (spec §3.2 `network.egress` on `network:<host>`). */
  fetch(request: EgressRequest): Promise<EgressResponse>;
  /** Calls a host-registered tool with JSON arguments; resolves with its JSON result. */
  callTool(name: string, args: JsonValue): Promise<JsonValue>;
}

/** What a driver needs to create one sandbox. */
export interface DriverSandboxSpec {
  /** The sandbox id (`sb-…`). */
  readonly sandboxId: string;
  /** The agent the sandbox is bound to (NHI). */
  readonly agentNhi: string;
  /** Resource limits. */
  readonly limits: SandboxLimits;
  /** Environment variables visible to processes (drivers that run processes only); nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** The host capabilities this sandbox may use. */
  readonly capabilities: SandboxCapabilities;
}

/** One execution request, as the engine passes it to a driver. */
export interface DriverExecRequest {
  /** JavaScript source (code drivers such as `quickjs`). */
  readonly code?: string;
  /** Program to run (process drivers). */
  readonly command?: string;
  /** Program arguments. */
  readonly args?: readonly string[];
  /** Standard input. */
  readonly stdin?: Uint8Array;
  /** Wall-clock limit in milliseconds (already clamped by the engine). */
  readonly timeoutMs: number;
  /** Aborted when the sandbox is terminated or the caller gives up. */
  readonly signal: AbortSignal;
}

/** How an execution ended. */
export type ExecOutcome = 'ok' | 'error' | 'timeout' | 'memory_limit' | 'output_limit' | 'aborted';

/** The result of one execution. */
export interface DriverExecResult {
  /** How it ended. */
  readonly outcome: ExecOutcome;
  /** Standard output (console output for code drivers), UTF-8, cut at `maxOutputBytes`. */
  readonly stdout: string;
  /** Standard error, UTF-8, cut at `maxOutputBytes`. */
  readonly stderr: string;
  /** Process exit code (process drivers); `null` for code drivers or a killed process. */
  readonly exitCode: number | null;
  /** The JSON value the code evaluated to (code drivers), when it is JSON. */
  readonly value?: JsonValue;
  /** For `error`: the error the code threw or the failure, as text (never host internals). */
  readonly error?: string;
  /** For `error`: the `EnablementError` code the code's failure carried (e.g. a capability's `RT-403`). */
  readonly errorCode?: string;
  /** Whether stdout or stderr was cut. */
  readonly truncated: boolean;
  /** Wall-clock duration in milliseconds, measured with the host's monotonic timer. */
  readonly durationMs: number;
}

/** A live sandbox of a driver. */
export interface DriverSandbox {
  /** Runs one execution. Executions of one sandbox run one at a time, in call order. */
  exec(request: DriverExecRequest): Promise<DriverExecResult>;
  /**
   * A JSON snapshot of the sandbox's durable state (spec §3.6 checkpoints): for `quickjs` the
   * JSON-serialisable globals the code stored; drivers without state return `{}`.
   */
  checkpoint(): Promise<JsonValue>;
  /** Frees every resource; idempotent; running executions end with outcome `aborted`. */
  dispose(): Promise<void>;
}

/** What a driver tells the engine about itself. */
export interface DriverInfo {
  /** Driver name (`quickjs`, `process`, …). */
  readonly name: string;
  /** What isolates sandboxes, in words, e.g. `QuickJS WebAssembly runtime`, `bubblewrap`. */
  readonly isolation: string;
  /** Whether the driver can run untrusted code safely on this host right now. */
  readonly isolated: boolean;
}

/**
 * A sandbox driver, registered with the engine under one or more runtime classes
 * (`quickjs`, `process`, or aliases such as `gvisor`). Hosted sandboxes (E2B-like services,
 * Firecracker, gVisor) plug in by implementing this interface; see the package README.
 */
export interface SandboxDriver {
  /** Facts about the driver. */
  readonly info: DriverInfo;
  /** Creates a sandbox; rejects with `RT-500` when the driver fails, `RT-413` when limits cannot be met. */
  create(spec: DriverSandboxSpec): Promise<DriverSandbox>;
  /** Releases driver-wide resources (e.g. the WebAssembly module); idempotent. */
  close?(): Promise<void>;
}
