import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnablementError, type JsonValue, parseOptions } from '@creto/core';
import { z } from 'zod';
import type {
  DriverExecRequest,
  DriverExecResult,
  DriverInfo,
  DriverSandbox,
  DriverSandboxSpec,
  ExecOutcome,
  SandboxDriver,
} from '../../driver/types.js';
import { BoundedOutput, monotonicMs } from '../output.js';
import {
  type BubblewrapProbe,
  baseBubblewrapArgs,
  findBwrap,
  probeBubblewrapSync,
  SANDBOX_EGRESS_SOCKET,
  SANDBOX_PATH,
} from './bubblewrap.js';
import { type EgressProxy, startEgressProxy } from './egress-proxy.js';

/** Options of {@link createProcessDriver}; every one has a default. */
export interface ProcessDriverOptions {
  /** The `bwrap` executable. Default: the first of `BWRAP_CANDIDATE_PATHS` that exists. */
  readonly bwrapPath?: string;
  /** Whether to isolate with bubblewrap. Default `true`; `false` runs plain child processes. */
  readonly useBubblewrap?: boolean;
  /**
   * Run commands without isolation when bubblewrap is off or unavailable. Default `false`: the
   * driver then refuses to create sandboxes (`RT-403`), because an unisolated process has the
   * host's network, its files and its other processes.
   */
  readonly allowUnisolated?: boolean;
  /**
   * The result of an earlier `probeBubblewrap()`, to skip the driver's own probe (which blocks
   * for the few milliseconds bwrap takes, once, the first time it is needed).
   */
  readonly probe?: BubblewrapProbe;
  /** Where sandbox directories are created. Default: the OS temporary directory. */
  readonly tmpDir?: string;
  /**
   * Host directories replaced by an empty tmpfs inside the sandbox (those that exist), on top of
   * `/tmp` and `/run`, which are always private. Default `['/home', '/root']` (keys, tokens and
   * shell histories live there). A command installed under a hidden directory cannot run.
   */
  readonly hiddenPaths?: readonly string[];
  /** Most live sandboxes of this driver (`RT-413` beyond). Default 64. */
  readonly maxSandboxes?: number;
  /** Most execs waiting in one sandbox's queue, the running one included (`RT-413` beyond). Default 16. */
  readonly maxQueuedExecs?: number;
  /** Largest `stdin`, bytes (`RT-413` beyond). Default 16 MiB. */
  readonly maxStdinBytes?: number;
  /** Most simultaneous connections to a sandbox's egress proxy. Default 8. */
  readonly maxEgressConnections?: number;
  /** Largest egress request body, bytes. Default 1 MiB. */
  readonly maxEgressRequestBytes?: number;
  /** Largest egress response body passed back to the process, bytes. Default 10 MiB. */
  readonly maxEgressResponseBytes?: number;
  /** Time a process has to send one whole request to the egress proxy, ms. Default 30 s. */
  readonly egressRequestTimeoutMs?: number;
}

/** The defaults of {@link ProcessDriverOptions} (except the probe, paths and bwrap location). */
export const DEFAULT_PROCESS_DRIVER_OPTIONS = Object.freeze({
  useBubblewrap: true,
  allowUnisolated: false,
  hiddenPaths: Object.freeze(['/home', '/root']) as readonly string[],
  maxSandboxes: 64,
  maxQueuedExecs: 16,
  maxStdinBytes: 16 * 1024 * 1024,
  maxEgressConnections: 8,
  maxEgressRequestBytes: 1024 * 1024,
  maxEgressResponseBytes: 10 * 1024 * 1024,
  egressRequestTimeoutMs: 30_000,
});

/** The environment variable that holds the egress proxy's socket path inside a sandbox. */
export const EGRESS_SOCKET_ENV = 'CRETO_EGRESS_SOCKET';

const MAX_ENV_VARS = 256;
const MAX_ENV_BYTES = 128 * 1024;
const MAX_ARGS = 4096;
const MAX_ARG_BYTES = 1024 * 1024;
// Longest Unix socket path the kernel accepts is 107 bytes (108 with the NUL).
const MAX_SOCKET_PATH = 107;
// After the command exits, how long its output pipes may stay open (held by a leftover
// process) before they are closed by force.
const CLOSE_GRACE_MS = 2000;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const optionsSchema = z.strictObject({
  bwrapPath: z.string().min(1).optional(),
  useBubblewrap: z.boolean().optional(),
  allowUnisolated: z.boolean().optional(),
  probe: z
    .object({ available: z.boolean(), path: z.string().optional(), reason: z.string().optional() })
    .optional(),
  tmpDir: z
    .string()
    .regex(/^\/[^\0]*[^/\0]$/, 'expected an absolute path other than /')
    .optional(),
  hiddenPaths: z
    .array(z.string().regex(/^\/[^\0]*$/, 'expected an absolute path'))
    .max(64)
    .optional(),
  maxSandboxes: z.number().int().min(1).max(10_000).optional(),
  maxQueuedExecs: z.number().int().min(1).max(1024).optional(),
  maxStdinBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024 * 1024)
    .optional(),
  maxEgressConnections: z.number().int().min(1).max(1024).optional(),
  maxEgressRequestBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024 * 1024)
    .optional(),
  maxEgressResponseBytes: z
    .number()
    .int()
    .min(0)
    .max(1024 * 1024 * 1024)
    .optional(),
  egressRequestTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
});

type Settings = typeof DEFAULT_PROCESS_DRIVER_OPTIONS & {
  readonly tmpDir: string;
};

function invalid(message: string): EnablementError {
  return new EnablementError('RT-400', message);
}

function validateEnv(env: unknown): Record<string, string> {
  if (typeof env !== 'object' || env === null || Array.isArray(env))
    throw invalid('create: spec.env must be an object');
  const entries = Object.entries(env);
  if (entries.length > MAX_ENV_VARS)
    throw invalid(`create: spec.env has more than ${MAX_ENV_VARS} variables`);
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name))
      throw invalid(`create: spec.env name "${name.slice(0, 100)}" is not a valid name`);
    if (name === EGRESS_SOCKET_ENV) throw invalid(`create: spec.env may not set ${EGRESS_SOCKET_ENV}`);
    if (typeof value !== 'string' || value.includes('\0')) {
      throw invalid(`create: spec.env.${name} must be a string without NUL`);
    }
    bytes += name.length + Buffer.byteLength(value) + 2;
  }
  if (bytes > MAX_ENV_BYTES) throw invalid(`create: spec.env is more than ${MAX_ENV_BYTES} bytes`);
  return Object.fromEntries(entries) as Record<string, string>;
}

function validateCommand(request: DriverExecRequest): { command: string; args: string[] } {
  const { command, args = [] } = request;
  if (
    typeof command !== 'string' ||
    command.length === 0 ||
    command.length > 4096 ||
    command.includes('\0')
  ) {
    throw invalid('exec: process sandboxes run `command` (a program name or path)');
  }
  if (!Array.isArray(args) || args.length > MAX_ARGS)
    throw invalid(`exec: args must be at most ${MAX_ARGS} strings`);
  let bytes = 0;
  for (const arg of args) {
    if (typeof arg !== 'string' || arg.includes('\0'))
      throw invalid('exec: every arg must be a string without NUL');
    bytes += Buffer.byteLength(arg) + 1;
  }
  if (bytes > MAX_ARG_BYTES)
    throw new EnablementError('RT-413', `exec: args are more than ${MAX_ARG_BYTES} bytes`);
  return { command, args: [...args] };
}

function killGroup(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    // The child leads its own process group (`detached`), so this reaches its descendants too.
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    // The process may have left directories without write permission: restore it, then retry.
    await restoreWritable(path);
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function restoreWritable(path: string): Promise<void> {
  await chmod(path, 0o700).catch(() => undefined);
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.isDirectory()) await restoreWritable(join(path, entry.name));
  }
}

interface Running {
  kill(reason: ExecOutcome): void;
}

/** A process sandbox: a private directory, an egress proxy, and the processes its execs start. */
class ProcessSandbox implements DriverSandbox {
  private state: 'ready' | 'disposed' = 'ready';
  private running: Running | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private disposed: Promise<void> | undefined;

  constructor(
    private readonly spec: DriverSandboxSpec,
    private readonly settings: Settings,
    private readonly isolation: { readonly bwrap: string } | undefined,
    private readonly root: string,
    private readonly workDir: string,
    private readonly env: Readonly<Record<string, string>>,
    private readonly proxy: EgressProxy,
    private readonly onGone: (sandbox: ProcessSandbox) => void,
  ) {}

  exec(request: DriverExecRequest): Promise<DriverExecResult> {
    if (this.queued >= this.settings.maxQueuedExecs) {
      return Promise.reject(
        new EnablementError(
          'RT-413',
          `sandbox ${this.spec.sandboxId} already has ${this.settings.maxQueuedExecs} executions queued`,
        ),
      );
    }
    this.queued += 1;
    const run = this.tail.then(() => this.runExec(request));
    const done = () => {
      this.queued -= 1;
    };
    this.tail = run.then(done, done);
    return run;
  }

  /** A process sandbox keeps no state the driver can read (spec §3.6): always `{}`. */
  async checkpoint(): Promise<JsonValue> {
    if (this.state === 'disposed')
      throw new EnablementError('RT-404', `sandbox ${this.spec.sandboxId} is disposed`);
    return {};
  }

  dispose(): Promise<void> {
    if (this.disposed !== undefined) return this.disposed;
    this.state = 'disposed';
    this.running?.kill('aborted');
    this.disposed = (async () => {
      await this.tail;
      await this.proxy.close();
      await removeTree(this.root);
      this.onGone(this);
    })();
    return this.disposed;
  }

  private argv(
    command: string,
    args: string[],
  ): { file: string; argv: string[]; env: Record<string, string> } {
    if (this.isolation === undefined) return { file: command, argv: args, env: { ...this.env } };
    // The sandboxes' parent directory is hidden too: the other sandboxes' egress sockets live
    // there, and a read-only mount does not stop connecting to a socket.
    const hidden = [...this.settings.hiddenPaths, this.settings.tmpDir].filter(isHideable);
    const bwrapArgs = baseBubblewrapArgs(hidden);
    bwrapArgs.push(
      '--bind',
      this.workDir,
      this.workDir,
      // The socket's directory, read-only: the process can connect to the socket but cannot
      // replace it.
      '--ro-bind',
      join(this.root, 'run'),
      '/run/creto',
      '--chdir',
      this.workDir,
      '--clearenv',
    );
    for (const [name, value] of Object.entries(this.env)) bwrapArgs.push('--setenv', name, value);
    bwrapArgs.push('--', command, ...args);
    // bwrap itself gets nothing from the host's environment either.
    return { file: this.isolation.bwrap, argv: bwrapArgs, env: { PATH: SANDBOX_PATH } };
  }

  private async runExec(request: DriverExecRequest): Promise<DriverExecResult> {
    const start = monotonicMs();
    const empty = (outcome: ExecOutcome, error: string): DriverExecResult => ({
      outcome,
      stdout: '',
      stderr: '',
      exitCode: null,
      error,
      truncated: false,
      durationMs: monotonicMs() - start,
    });
    if (this.state === 'disposed') return empty('aborted', 'the sandbox was disposed');
    if (request.signal?.aborted === true) return empty('aborted', 'the execution was aborted');
    const { command, args } = validateCommand(request);
    const stdin = request.stdin;
    if (stdin !== undefined && !(stdin instanceof Uint8Array)) throw invalid('exec: stdin must be bytes');
    if (stdin !== undefined && stdin.length > this.settings.maxStdinBytes) {
      throw new EnablementError('RT-413', `exec: stdin is more than ${this.settings.maxStdinBytes} bytes`);
    }
    const limits = this.spec.limits;
    const timeoutMs =
      Number.isFinite(request.timeoutMs) && request.timeoutMs > 0 ? request.timeoutMs : limits.execTimeoutMs;
    const { file, argv, env } = this.argv(command, args);
    return new Promise<DriverExecResult>((resolve) => {
      const stdout = new BoundedOutput(limits.maxOutputBytes);
      const stderr = new BoundedOutput(limits.maxOutputBytes);
      let stop: ExecOutcome | undefined;
      let spawnError: Error | undefined;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let settled = false;
      let child: ChildProcess;
      try {
        child = spawn(file, argv, {
          cwd: this.workDir,
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
          // Its own process group, so a timeout kills everything it started.
          detached: true,
        });
      } catch (error) {
        resolve(empty('error', `could not start ${command}: ${(error as Error).message}`));
        return;
      }
      const kill = (reason: ExecOutcome) => {
        stop ??= reason;
        killGroup(child);
      };
      this.running = { kill };
      // A resource guard on the wall clock, not logic time.
      const timer = setTimeout(() => kill('timeout'), timeoutMs);
      let graceTimer: NodeJS.Timeout | undefined;
      const onAbort = () => kill('aborted');
      request.signal?.addEventListener('abort', onAbort, { once: true });

      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (graceTimer !== undefined) clearTimeout(graceTimer);
        request.signal?.removeEventListener('abort', onAbort);
        this.running = undefined;
        const exitCode = exit?.code ?? null;
        let outcome: ExecOutcome;
        let error: string | undefined;
        if (stop !== undefined) {
          outcome = stop;
          error =
            stop === 'timeout'
              ? `the process exceeded its ${timeoutMs} ms time limit and was killed`
              : stop === 'output_limit'
                ? `the process wrote more than ${limits.maxOutputBytes} bytes to stdout or stderr and was killed`
                : 'the execution was aborted';
        } else if (spawnError !== undefined) {
          outcome = 'error';
          error = `could not start ${command}: ${spawnError.message}`;
        } else if (exitCode === 0) {
          outcome = 'ok';
        } else {
          outcome = 'error';
          error =
            exitCode === null
              ? `the process was killed by ${exit?.signal ?? 'a signal'}`
              : `the process exited with code ${exitCode}`;
        }
        resolve({
          outcome,
          stdout: stdout.text(),
          stderr: stderr.text(),
          exitCode: stop === undefined ? exitCode : null,
          ...(error === undefined ? {} : { error }),
          truncated: stdout.truncated || stderr.truncated,
          durationMs: monotonicMs() - start,
        });
      };

      child.stdout?.on('data', (chunk: Buffer) => {
        if (!stdout.pushBytes(chunk)) kill('output_limit');
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        if (!stderr.pushBytes(chunk)) kill('output_limit');
      });
      child.on('error', (error) => {
        spawnError ??= error;
        // A process that never started emits no 'close' in every Node version.
        if (child.pid === undefined) finish();
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // The execution is over: whatever it left running in its group goes too.
        killGroup(child);
        graceTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, CLOSE_GRACE_MS);
      });
      child.on('close', finish);
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(stdin === undefined ? undefined : Buffer.from(stdin));
    });
  }
}

function isHideable(path: string): boolean {
  // `/tmp` and `/run` are private already; `/` cannot be hidden.
  if (path === '/' || path === '/tmp' || path === '/run') return false;
  try {
    return existsSync(path) && lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A process driver: the {@link SandboxDriver} with the isolation it found. */
export interface ProcessDriver extends SandboxDriver {
  /** The bubblewrap probe the driver acts on (probed on first use unless given). */
  readonly probe: BubblewrapProbe;
}

/**
 * Creates the process driver: each exec runs `command` with `args` (never through a shell) in a
 * child process, inside a bubblewrap sandbox where bubblewrap works (ARCHITECTURE §6): its own
 * network namespace with no route out, a read-only view of the host's root, private `/tmp` and
 * `/run`, fresh `/proc` and `/dev`, no capabilities, and its sandbox directory as the only
 * writable host path. The environment is exactly `spec.env` over a minimal `PATH`, `HOME` (the
 * sandbox directory) and `TMPDIR`, plus `CRETO_EGRESS_SOCKET`.
 *
 * Network access goes only through the sandbox's egress proxy, an HTTP/1.1 forward proxy on a
 * Unix socket (`/run/creto/egress.sock` inside bubblewrap, also in `CRETO_EGRESS_SOCKET`) that
 * turns each absolute-URI request into `capabilities.fetch` (spec §3.2 `network.egress`).
 *
 * Limits: the exec's wall-clock deadline (the whole process group is killed with `SIGKILL`),
 * `maxOutputBytes` per stream (the process is killed on excess: outcome `output_limit`). Memory
 * and CPU limits are not enforced (they need cgroups). Without working bubblewrap, sandboxes
 * are refused with `RT-403` unless `allowUnisolated` is set.
 *
 * @example
 * ```ts
 * const driver = createProcessDriver();
 * if (!driver.info.isolated) throw new Error(driver.probe.reason);
 * const sandbox = await driver.create(spec);
 * const result = await sandbox.exec({ command: 'python3', args: ['-c', 'print(6*7)'], timeoutMs: 5000, signal });
 * ```
 */
export function createProcessDriver(options: ProcessDriverOptions = {}): ProcessDriver {
  const parsed = parseOptions(optionsSchema, options, 'createProcessDriver');
  const settings: Settings = Object.freeze({
    ...DEFAULT_PROCESS_DRIVER_OPTIONS,
    ...Object.fromEntries(Object.entries(parsed).filter(([key, v]) => v !== undefined && key !== 'probe')),
    tmpDir: parsed.tmpDir ?? tmpdir(),
  }) as Settings;
  const bwrapPath = parsed.bwrapPath ?? findBwrap();
  let probe: BubblewrapProbe | undefined = settings.useBubblewrap
    ? (options.probe ?? undefined)
    : { available: false, path: bwrapPath, reason: 'bubblewrap is turned off (useBubblewrap: false)' };
  const probed = (): BubblewrapProbe => {
    probe ??= probeBubblewrapSync(bwrapPath);
    return probe;
  };
  const live = new Set<ProcessSandbox>();
  let reserved = 0;
  let closed = false;

  const driver: ProcessDriver = {
    get probe() {
      return probed();
    },
    get info(): DriverInfo {
      const found = probed();
      return found.available
        ? {
            name: 'process',
            isolation: 'bubblewrap (namespaces, read-only root, no network)',
            isolated: true,
          }
        : { name: 'process', isolation: 'none (plain child process)', isolated: false };
    },
    async create(spec: DriverSandboxSpec): Promise<DriverSandbox> {
      if (closed) throw new EnablementError('RT-500', 'the process driver is closed');
      if (
        typeof spec !== 'object' ||
        spec === null ||
        typeof spec.limits !== 'object' ||
        spec.limits === null
      ) {
        throw invalid('create: spec.limits is required');
      }
      if (typeof spec.capabilities?.fetch !== 'function') {
        throw invalid('create: spec.capabilities.fetch is required');
      }
      const env = validateEnv(spec.env ?? {});
      const found = probed();
      const bwrap = found.available ? (found.path ?? bwrapPath) : undefined;
      if (bwrap === undefined && !settings.allowUnisolated) {
        throw new EnablementError(
          'RT-403',
          `the process driver refuses to run commands without isolation: bubblewrap is unavailable (${found.reason ?? 'unknown reason'}); set allowUnisolated: true to run them anyway`,
        );
      }
      if (live.size + reserved >= settings.maxSandboxes) {
        throw new EnablementError(
          'RT-413',
          `the process driver already runs ${settings.maxSandboxes} sandboxes`,
        );
      }
      reserved += 1;
      let root: string | undefined;
      try {
        root = await mkdtemp(join(settings.tmpDir, 'creto-sb-'));
        await chmod(root, 0o700);
        const workDir = join(root, 'work');
        const runDir = join(root, 'run');
        const tmpDir = join(root, 'tmp');
        await mkdir(workDir, { mode: 0o700 });
        await mkdir(runDir, { mode: 0o700 });
        if (bwrap === undefined) await mkdir(tmpDir, { mode: 0o700 });
        const socketPath = join(runDir, 'egress.sock');
        if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
          throw new EnablementError(
            'RT-500',
            `tmpDir is too long for a Unix socket path (${socketPath.length} bytes)`,
          );
        }
        const proxy = await startEgressProxy(socketPath, spec.capabilities, {
          maxConnections: settings.maxEgressConnections,
          maxRequestBytes: settings.maxEgressRequestBytes,
          maxResponseBytes: settings.maxEgressResponseBytes,
          requestTimeoutMs: settings.egressRequestTimeoutMs,
        });
        const fullEnv: Record<string, string> = {
          PATH: SANDBOX_PATH,
          HOME: workDir,
          TMPDIR: bwrap === undefined ? tmpDir : '/tmp',
          LANG: 'C.UTF-8',
          ...env,
          [EGRESS_SOCKET_ENV]: bwrap === undefined ? socketPath : SANDBOX_EGRESS_SOCKET,
        };
        const sandbox = new ProcessSandbox(
          spec,
          settings,
          bwrap === undefined ? undefined : { bwrap },
          root,
          workDir,
          Object.freeze(fullEnv),
          proxy,
          (gone) => live.delete(gone),
        );
        live.add(sandbox);
        return sandbox;
      } catch (cause) {
        if (root !== undefined) await removeTree(root);
        if (EnablementError.is(cause)) throw cause;
        throw new EnablementError('RT-500', 'could not prepare the process sandbox', { cause });
      } finally {
        reserved -= 1;
      }
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...live].map((sandbox) => sandbox.dispose()));
    },
  };
  return driver;
}
