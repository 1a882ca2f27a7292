import { EnablementError, isErrorCode, type JsonValue, parseOptions } from '@creto/core';
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
  QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import { z } from 'zod';
import type {
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
} from '../../driver/types.js';
import { BoundedOutput, monotonicMs } from '../output.js';
import { PRELUDE_SOURCE } from './prelude.js';
import { createQuickJsLoader, QUICKJS_INITIAL_PAGES, type QuickJsLoader, WASM_PAGE_BYTES } from './wasm.js';

/** Options of {@link createQuickJsDriver}; every one has a default. */
export interface QuickJsDriverOptions {
  /**
   * Ceiling of one sandbox's memory, bytes: `limits.memoryBytes` above it is clamped down to it
   * (the spec's 2 GiB default cannot be met by a 32-bit WebAssembly instance, which holds 2 GiB
   * in all). Default 256 MiB; 4 MiB to 1 GiB.
   */
  readonly maxMemoryBytes?: number;
  /**
   * QuickJS stack limit, bytes. QuickJS runs on the host thread's native stack too, so a large
   * value lets deep recursion overflow the host stack before QuickJS notices (the sandbox is then
   * lost, the host is not). Default 256 KiB (about 1 500 plain JS frames); 32 to 384 KiB.
   */
  readonly maxStackBytes?: number;
  /** Largest JSON of an exec's return value and of a checkpoint, UTF-8 bytes. Default 1 MiB. */
  readonly maxValueBytes?: number;
  /**
   * Largest capability payload crossing into or out of a sandbox (a `fetch` request or response
   * body, tool arguments or result), as JSON text. Default 1 MiB (`RT-413` in the sandbox beyond).
   */
  readonly maxCapabilityBytes?: number;
  /** Most capability calls one exec may have pending at once (`RT-413` in the sandbox beyond). Default 32. */
  readonly maxPendingCalls?: number;
  /** Most execs (and checkpoints) waiting in one sandbox's queue, the running one included (`RT-413` beyond). Default 16. */
  readonly maxQueuedExecs?: number;
  /** Most pending `setTimeout` timers per sandbox (the call throws beyond). Default 1000. */
  readonly maxTimers?: number;
  /** Most live sandboxes of this driver (`RT-413` beyond). Default 256. */
  readonly maxSandboxes?: number;
  /** Time limit of `checkpoint()`, which runs `JSON.stringify(globalThis.state)` in the sandbox, ms. Default 1000. */
  readonly checkpointTimeoutMs?: number;
}

/** The defaults of {@link QuickJsDriverOptions}. */
export const DEFAULT_QUICKJS_DRIVER_OPTIONS: Readonly<Required<QuickJsDriverOptions>> = Object.freeze({
  maxMemoryBytes: 256 * 1024 * 1024,
  maxStackBytes: 256 * 1024,
  maxValueBytes: 1024 * 1024,
  maxCapabilityBytes: 1024 * 1024,
  maxPendingCalls: 32,
  maxQueuedExecs: 16,
  maxTimers: 1000,
  maxSandboxes: 256,
  checkpointTimeoutMs: 1000,
});

/** Smallest `limits.memoryBytes` a QuickJS sandbox can run in (`RT-413` below). */
export const MIN_QUICKJS_MEMORY_BYTES = 1024 * 1024;
/** Longest `code` an exec accepts, UTF-16 code units (`RT-413` beyond). */
export const MAX_QUICKJS_CODE_LENGTH = 16 * 1024 * 1024;

const MIB = 1024 * 1024;
// Pages above the runtime's own limit: malloc bookkeeping and fragmentation live in the same
// linear memory, and QuickJS must reach its own (catchable) limit before WebAssembly's hard one.
const HEADROOM_PAGES = 256;

const optionsSchema = z.strictObject({
  maxMemoryBytes: z
    .number()
    .int()
    .min(4 * MIB)
    .max(1024 * MIB)
    .optional(),
  maxStackBytes: z
    .number()
    .int()
    .min(32 * 1024)
    .max(384 * 1024)
    .optional(),
  maxValueBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * MIB)
    .optional(),
  maxCapabilityBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * MIB)
    .optional(),
  maxPendingCalls: z.number().int().min(1).max(1024).optional(),
  maxQueuedExecs: z.number().int().min(1).max(1024).optional(),
  maxTimers: z.number().int().min(0).max(100_000).optional(),
  maxSandboxes: z.number().int().min(1).max(100_000).optional(),
  checkpointTimeoutMs: z.number().int().min(1).max(600_000).optional(),
});

type Settings = Readonly<Required<QuickJsDriverOptions>>;

/** The driver-internal helpers the prelude returns, as handles the sandbox cannot replace. */
interface Vm {
  readonly module: QuickJSWASMModule;
  readonly runtime: QuickJSRuntime;
  readonly context: QuickJSContext;
  readonly toJson: QuickJSHandle;
  readonly describe: QuickJSHandle;
  readonly fireTimer: QuickJSHandle;
  readonly clearTimers: QuickJSHandle;
  readonly checkpoint: QuickJSHandle;
}

interface PendingCall {
  readonly id: number;
  readonly deferred: QuickJSDeferredPromise;
}

interface Completion {
  readonly call: PendingCall;
  readonly envelope: string;
}

type StopReason = 'timeout' | 'aborted';

/** One turn of the sandbox: an exec or a checkpoint. */
interface Turn {
  readonly deadline: number;
  /** The time limit the deadline came from, ms (for messages). */
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  readonly stdout: BoundedOutput;
  readonly stderr: BoundedOutput;
  /** Whether capabilities may be called (not during a checkpoint). */
  readonly capabilities: boolean;
  readonly calls: Map<number, PendingCall>;
  readonly completions: Completion[];
  /** Set when the interrupt handler stopped running JS: the runtime is then poisoned. */
  interrupted: StopReason | undefined;
  wake: (() => void) | undefined;
}

type SandboxState = 'ready' | 'poisoned' | 'lost' | 'disposed';

/** What `describe` says about a thrown value. */
interface Described {
  readonly text: string;
  readonly code: string | undefined;
}

/** Thrown inside the driver when the QuickJS instance itself failed (not the code it runs). */
class InstanceFailure extends Error {
  constructor(
    message: string,
    /** Whether the failure was the runtime running out of memory. */
    readonly outOfMemory = false,
  ) {
    super(message);
  }
}

/** How an exec or checkpoint result is assembled from a turn. */
type Finish = (
  turn: Turn | undefined,
  outcome: ExecOutcome,
  extra?: Partial<Pick<DriverExecResult, 'value' | 'error' | 'errorCode'>>,
) => DriverExecResult;

interface Envelope {
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: string;
  readonly message?: string;
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function errorEnvelope(error: unknown): string {
  if (EnablementError.is(error)) {
    return JSON.stringify({
      ok: false,
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    } satisfies Envelope);
  }
  // Anything else may carry host internals: the sandbox learns only that the call failed.
  return JSON.stringify({
    ok: false,
    code: 'RT-500',
    message: 'the host capability failed',
  } satisfies Envelope);
}

function invalid(message: string): EnablementError {
  return new EnablementError('RT-400', message);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_HEADERS = 100;

function parseFetchPayload(payload: unknown, maxBytes: number): EgressRequest {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw invalid('fetch: expected a request');
  }
  const { url, method, headers, body } = payload as Record<string, unknown>;
  if (typeof url !== 'string' || url.length > 8192) throw invalid('fetch: url must be a string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(`fetch: "${url.slice(0, 200)}" is not an absolute URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`fetch: scheme ${parsed.protocol} is not allowed (http: and https: only)`);
  }
  if (typeof method !== 'string' || method.length > 32 || !TOKEN.test(method)) {
    throw invalid('fetch: method must be an HTTP token such as GET or POST');
  }
  const entries = typeof headers === 'object' && headers !== null ? Object.entries(headers) : [];
  if (entries.length > MAX_HEADERS) throw invalid(`fetch: more than ${MAX_HEADERS} headers`);
  const cleanHeaders: [string, string][] = [];
  for (const [name, value] of entries) {
    if (!TOKEN.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw invalid(`fetch: header "${name.slice(0, 100)}" is not a valid header`);
    }
    cleanHeaders.push([name.toLowerCase(), value]);
  }
  let bytes: Uint8Array | undefined;
  if (body !== undefined) {
    if (typeof body !== 'string') throw invalid('fetch: body must be a string');
    bytes = textEncoder.encode(body);
    if (bytes.length > maxBytes) {
      throw new EnablementError('RT-413', `fetch: the request body is more than ${maxBytes} bytes`);
    }
  }
  return {
    url: parsed.href,
    method: method.toUpperCase(),
    // fromEntries defines own properties, so a "__proto__" header stays a header.
    headers: Object.fromEntries(cleanHeaders),
    ...(bytes === undefined ? {} : { body: bytes }),
  };
}

function responseEnvelope(url: string, response: EgressResponse, maxBytes: number): string {
  if (response.body.length > maxBytes) {
    throw new EnablementError('RT-413', `fetch: the response body is more than ${maxBytes} bytes`);
  }
  return JSON.stringify({
    ok: true,
    value: {
      status: response.status,
      statusText: response.statusText,
      url,
      headers: Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v])),
      body: textDecoder.decode(response.body),
    },
  });
}

function toolEnvelope(result: JsonValue, maxBytes: number): string {
  const json = JSON.stringify({ ok: true, value: result === undefined ? null : result });
  if (json.length > maxBytes) {
    throw new EnablementError('RT-413', `tools.call: the result is more than ${maxBytes} bytes`);
  }
  return json;
}

/**
 * A QuickJS sandbox: one WebAssembly instance holding one QuickJS runtime and context.
 *
 * Why an instance per sandbox: quickjs-emscripten 0.32 aborts inside `JS_FreeRuntime`
 * (`list_empty(&rt->gc_obj_list)`) after an out-of-memory and after many objects were allocated
 * in a promise job (issues #257, #269), and an abort latches Emscripten's module-wide `ABORT`
 * flag; a host stack overflow inside QuickJS leaves the C state half-updated. With its own
 * instance, such damage stays inside one sandbox, and disposing a sandbox only drops its
 * instance (the garbage collector frees the whole linear memory) instead of calling
 * `JS_FreeRuntime`, so the assertion never runs. The compiled code is shared, so an instance
 * costs about 2 ms and 0.5 MB resident.
 */
class QuickJsSandbox implements DriverSandbox {
  private state: SandboxState = 'ready';
  private why = '';
  private turn: Turn | undefined;
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private callSeq = 0;
  private disposed: Promise<void> | undefined;

  constructor(
    private vm: Vm | undefined,
    private readonly spec: DriverSandboxSpec,
    private readonly settings: Settings,
    private readonly onGone: (sandbox: QuickJsSandbox) => void,
  ) {}

  /** Wires the host functions and the interrupt handler; called once by the driver. */
  static async open(
    module: QuickJSWASMModule,
    spec: DriverSandboxSpec,
    settings: Settings,
    memoryLimit: number,
    onGone: (sandbox: QuickJsSandbox) => void,
  ): Promise<QuickJsSandbox> {
    const sandbox = new QuickJsSandbox(undefined, spec, settings, onGone);
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(memoryLimit);
    runtime.setMaxStackSize(settings.maxStackBytes);
    // A resource guard, not logic time: the deadline is checked against the host's monotonic
    // clock, so the core Clock (which FakeClock drives in tests) must not be used here.
    runtime.setInterruptHandler(() => sandbox.shouldInterrupt());
    const context = runtime.newContext();
    const write = context.newFunction('write', (fd, text) => {
      sandbox.hostWrite(context.getNumber(fd), context.getString(text));
    });
    const call = context.newFunction('call', (kind, payload) =>
      sandbox.hostCall(context.getString(kind), context.getString(payload)),
    );
    const timers = context.newNumber(settings.maxTimers);
    const callChars = context.newNumber(settings.maxCapabilityBytes);
    // A character is at least one UTF-8 byte: this many always fills the output bound.
    const lineChars = context.newNumber(spec.limits.maxOutputBytes + 1);
    const preludeResult = context.evalCode(PRELUDE_SOURCE, 'creto-prelude.js', { type: 'global' });
    if (preludeResult.error !== undefined) {
      preludeResult.error.dispose();
      throw new EnablementError('RT-413', 'the sandbox memory limit is too small to start QuickJS');
    }
    const installed = context.callFunction(
      preludeResult.value,
      context.undefined,
      write,
      call,
      timers,
      callChars,
      lineChars,
    );
    for (const handle of [preludeResult.value, write, call, timers, callChars, lineChars]) handle.dispose();
    if (installed.error !== undefined) {
      installed.error.dispose();
      throw new EnablementError('RT-413', 'the sandbox memory limit is too small to start QuickJS');
    }
    const api = installed.value;
    sandbox.vm = {
      module,
      runtime,
      context,
      toJson: context.getProp(api, 'toJson'),
      describe: context.getProp(api, 'describe'),
      fireTimer: context.getProp(api, 'fireTimer'),
      clearTimers: context.getProp(api, 'clearTimers'),
      checkpoint: context.getProp(api, 'checkpoint'),
    };
    api.dispose();
    return sandbox;
  }

  exec(request: DriverExecRequest): Promise<DriverExecResult> {
    return this.enqueue((start) => this.runExec(request, start));
  }

  checkpoint(): Promise<JsonValue> {
    return this.enqueue(() => this.runCheckpoint());
  }

  dispose(): Promise<void> {
    if (this.disposed !== undefined) return this.disposed;
    this.state = 'disposed';
    // A running exec is waiting for a host call (JS cannot run while the host runs this): wake
    // it, and it ends with `aborted`. Queued turns see the state and end the same way.
    this.turn?.wake?.();
    this.disposed = this.tail.then(() => {
      // Dropping the instance frees everything (see the class comment); nothing is disposed one
      // by one, so a QuickJS teardown assertion cannot fire and cannot reach the host.
      this.vm = undefined;
      this.onGone(this);
    });
    return this.disposed;
  }

  // ---- queue -------------------------------------------------------------------------------

  private enqueue<T>(task: (start: number) => Promise<T>): Promise<T> {
    if (this.queued >= this.settings.maxQueuedExecs) {
      return Promise.reject(
        new EnablementError(
          'RT-413',
          `sandbox ${this.spec.sandboxId} already has ${this.settings.maxQueuedExecs} executions queued`,
        ),
      );
    }
    this.queued += 1;
    // Every turn starts after an await, from a shallow host stack: QuickJS shares the native
    // stack with the host, and its stack limit assumes the host is not already deep.
    const run = this.tail.then(() => task(monotonicMs()));
    const done = () => {
      this.queued -= 1;
    };
    this.tail = run.then(done, done);
    return run;
  }

  private unusable(): EnablementError {
    if (this.state === 'lost') {
      return new EnablementError('RT-500', `sandbox ${this.spec.sandboxId} was lost: ${this.why}`);
    }
    return new EnablementError(
      'RT-413',
      `sandbox ${this.spec.sandboxId} stopped at ${this.why} in an earlier execution and cannot run code again; terminate it and spawn a new one`,
    );
  }

  // ---- host functions (called by QuickJS, synchronously) -------------------------------------

  private shouldInterrupt(): boolean {
    const turn = this.turn;
    if (turn === undefined) return false;
    if (turn.interrupted !== undefined) return true;
    let reason: StopReason | undefined;
    if (this.state === 'disposed' || turn.signal?.aborted === true) reason = 'aborted';
    else if (monotonicMs() > turn.deadline) reason = 'timeout';
    if (reason === undefined) return false;
    turn.interrupted = reason;
    return true;
  }

  private hostWrite(fd: number, text: string): void {
    const turn = this.turn;
    if (turn === undefined) return;
    (fd === 2 ? turn.stderr : turn.stdout).pushText(text);
  }

  private hostCall(kind: string, payload: string): QuickJSHandle {
    const vm = this.vm;
    if (vm === undefined) throw new InstanceFailure('no instance');
    const { context } = vm;
    const turn = this.turn;
    const refuse = (error: EnablementError) => context.newString(errorEnvelope(error));
    if (turn === undefined || !turn.capabilities) {
      return refuse(invalid(`${kind}: capabilities are available only while an exec runs`));
    }
    if (turn.calls.size >= this.settings.maxPendingCalls) {
      return refuse(
        new EnablementError('RT-413', `more than ${this.settings.maxPendingCalls} capability calls pending`),
      );
    }
    let start: () => Promise<string>;
    try {
      start = this.prepareCall(kind, payload);
    } catch (error) {
      return refuse(EnablementError.is(error) ? error : invalid(`${kind}: invalid call`));
    }
    const deferred = context.newPromise();
    this.callSeq += 1;
    const pending: PendingCall = { id: this.callSeq, deferred };
    turn.calls.set(pending.id, pending);
    // The capability runs after this QuickJS callback has returned: host code never re-enters
    // the VM, and its result is handed to the sandbox by the exec loop, between job rounds.
    void Promise.resolve()
      .then(start)
      .then(
        (envelope) => envelope,
        (error: unknown) => errorEnvelope(error),
      )
      .then((envelope) => {
        if (this.turn !== turn || !turn.calls.has(pending.id)) return;
        turn.completions.push({ call: pending, envelope });
        turn.wake?.();
      });
    return deferred.handle;
  }

  private prepareCall(kind: string, payload: string): () => Promise<string> {
    const max = this.settings.maxCapabilityBytes;
    if (payload.length > max) {
      throw new EnablementError('RT-413', `${kind}: the call is more than ${max} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      throw invalid(`${kind}: the call is not JSON`);
    }
    const capabilities: SandboxCapabilities = this.spec.capabilities;
    if (kind === 'fetch') {
      const request = parseFetchPayload(parsed, max);
      return async () => responseEnvelope(request.url, await capabilities.fetch(request), max);
    }
    if (kind === 'tool') {
      const { name, args } = (parsed ?? {}) as { name?: unknown; args?: unknown };
      if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
        throw invalid('tools.call: the tool name must be a string of 1 to 256 characters');
      }
      return async () => toolEnvelope(await capabilities.callTool(name, (args ?? null) as JsonValue), max);
    }
    throw invalid(`unknown capability ${kind.slice(0, 50)}`);
  }

  // ---- exec ----------------------------------------------------------------------------------

  private newTurn(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    outputBytes: number,
    caps: boolean,
  ): Turn {
    return {
      deadline: monotonicMs() + timeoutMs,
      timeoutMs,
      signal,
      stdout: new BoundedOutput(outputBytes),
      stderr: new BoundedOutput(outputBytes),
      capabilities: caps,
      calls: new Map(),
      completions: [],
      interrupted: undefined,
      wake: undefined,
    };
  }

  private async runExec(request: DriverExecRequest, start: number): Promise<DriverExecResult> {
    const limits = this.spec.limits;
    const finish: Finish = (turn, outcome, extra = {}) => ({
      outcome,
      stdout: turn?.stdout.text() ?? '',
      stderr: turn?.stderr.text() ?? '',
      exitCode: null,
      ...extra,
      truncated: (turn?.stdout.truncated ?? false) || (turn?.stderr.truncated ?? false),
      durationMs: monotonicMs() - start,
    });
    if (this.state === 'disposed') return finish(undefined, 'aborted', { error: 'the sandbox was disposed' });
    if (this.state !== 'ready') throw this.unusable();
    if (request.signal?.aborted === true) {
      return finish(undefined, 'aborted', { error: 'the execution was aborted' });
    }
    const code = request.code;
    if (typeof code !== 'string') {
      throw invalid('exec: quickjs sandboxes run `code` (JavaScript), not commands');
    }
    if (code.length > MAX_QUICKJS_CODE_LENGTH) {
      throw new EnablementError('RT-413', `exec: code is longer than ${MAX_QUICKJS_CODE_LENGTH} characters`);
    }
    const timeoutMs =
      Number.isFinite(request.timeoutMs) && request.timeoutMs > 0 ? request.timeoutMs : limits.execTimeoutMs;
    const turn = this.newTurn(timeoutMs, request.signal, limits.maxOutputBytes, true);
    this.turn = turn;
    let promise: QuickJSHandle | undefined;
    try {
      const vm = this.requireVm();
      // An async function body: `return` gives the value, `await` works at the top level. The
      // code starts on the wrapper's first line, so line numbers in stacks are the code's own.
      const evaluated = vm.context.evalCode(`(async () => {${code}\n})()`, 'sandbox.js', { type: 'global' });
      if (evaluated.error !== undefined) return this.thrown(turn, finish, evaluated.error);
      promise = evaluated.value;
      for (;;) {
        // Checked before touching the VM: an interrupt may have stopped JS (the runtime is then
        // poisoned), and a dispose, abort or the deadline may have woken the loop.
        const interrupted = this.interruption(turn, finish);
        if (interrupted !== undefined) return interrupted;
        if (this.isDisposed() || turn.signal?.aborted === true) {
          return finish(turn, 'aborted', { error: 'the execution was aborted' });
        }
        if (monotonicMs() > turn.deadline) {
          return finish(turn, 'timeout', { error: `the execution exceeded its ${timeoutMs} ms time limit` });
        }
        this.deliverCompletions(vm, turn);
        const jobs = vm.runtime.executePendingJobs();
        if (jobs.error !== undefined) {
          // Only an uncatchable error (interrupt, out-of-memory) escapes a promise job.
          const result = this.thrown(turn, finish, jobs.error);
          this.poison('an uncatchable error');
          return result;
        }
        const stopped = this.interruption(turn, finish);
        if (stopped !== undefined) return stopped;
        const state = vm.context.getPromiseState(promise);
        if (state.type === 'fulfilled') {
          const value = state.value;
          try {
            // Ready jobs the code left behind (an un-awaited `.then`) finish in this exec.
            this.drainJobs(vm, turn);
            const late = this.interruption(turn, finish);
            if (late !== undefined) return late;
            return this.fulfilled(vm, turn, finish, value);
          } finally {
            // A non-promise result (the code broke out of the wrapper) is the evaluated handle itself.
            if (state.notAPromise !== true && value.alive) value.dispose();
          }
        }
        if (state.type === 'rejected') return this.thrown(turn, finish, state.error);
        if (turn.completions.length > 0) continue;
        if (turn.calls.size > 0) {
          await this.waitForHost(turn);
          continue;
        }
        if (this.callVm(vm, vm.fireTimer) === true) continue;
        return finish(turn, 'error', {
          error: 'the code awaits a promise that can never settle (no pending host call or timer)',
        });
      }
    } catch (error) {
      return this.failed(turn, finish, error);
    } finally {
      this.endTurn(turn, promise);
    }
  }

  /** A method, not a field read: the state changes while an exec awaits (TS would narrow it). */
  private isDisposed(): boolean {
    return this.state === 'disposed';
  }

  private requireVm(): Vm {
    if (this.vm === undefined) throw new InstanceFailure('the sandbox has no instance');
    return this.vm;
  }

  /** Calls a prelude helper and dumps its result; a QuickJS exception becomes an {@link InstanceFailure}. */
  private callVm(vm: Vm, fn: QuickJSHandle, ...args: QuickJSHandle[]): unknown {
    const result = vm.context.callFunction(fn, vm.context.undefined, ...args);
    if (result.error !== undefined) {
      let outOfMemory = true;
      try {
        const dumped = vm.context.dump(result.error) as { message?: unknown } | undefined;
        outOfMemory = dumped?.message === 'out of memory';
      } catch {
        // Not even the error can be read: the runtime cannot allocate.
      }
      result.error.dispose();
      throw new InstanceFailure('a driver helper failed inside the sandbox', outOfMemory);
    }
    const value: unknown = vm.context.dump(result.value);
    result.value.dispose();
    return value;
  }

  private drainJobs(vm: Vm, turn: Turn): void {
    this.deliverCompletions(vm, turn);
    const jobs = vm.runtime.executePendingJobs();
    if (jobs.error !== undefined) {
      jobs.error.dispose();
      if (turn.interrupted === undefined) throw new InstanceFailure('a pending job failed');
    }
  }

  private deliverCompletions(vm: Vm, turn: Turn): void {
    for (let next = turn.completions.shift(); next !== undefined; next = turn.completions.shift()) {
      turn.calls.delete(next.call.id);
      const text = vm.context.newString(next.envelope);
      try {
        next.call.deferred.resolve(text);
      } finally {
        text.dispose();
      }
    }
  }

  /** The result when the interrupt handler stopped running JS; the runtime is then poisoned. */
  private interruption(turn: Turn, finish: Finish): DriverExecResult | undefined {
    if (turn.interrupted === undefined) return undefined;
    if (turn.interrupted === 'timeout') {
      this.poison(`its ${turn.timeoutMs} ms time limit`);
      return finish(turn, 'timeout', { error: `the execution exceeded its ${turn.timeoutMs} ms time limit` });
    }
    this.poison('an abort');
    return finish(turn, 'aborted', { error: 'the execution was aborted' });
  }

  private fulfilled(vm: Vm, turn: Turn, finish: Finish, value: QuickJSHandle): DriverExecResult {
    const json = this.callVm(vm, vm.toJson, value);
    if (typeof json !== 'string') return finish(turn, 'ok');
    const bytes = utf8Length(json);
    if (bytes > this.settings.maxValueBytes) {
      return finish(turn, 'output_limit', {
        error: `the return value is ${bytes} bytes of JSON, more than ${this.settings.maxValueBytes}`,
      });
    }
    return finish(turn, 'ok', { value: JSON.parse(json) as JsonValue });
  }

  /** The result of a thrown value or rejection: `error`, or `memory_limit` for an out-of-memory. */
  private thrown(turn: Turn, finish: Finish, error: QuickJSHandle): DriverExecResult {
    let described: Described | undefined;
    try {
      // After an interrupt, no JS may run (describing the error would).
      if (turn.interrupted === undefined) described = this.describe(error);
    } finally {
      error.dispose();
    }
    const stopped = this.interruption(turn, finish);
    if (stopped !== undefined || described === undefined) {
      return stopped ?? finish(turn, 'error', { error: 'Uncaught exception' });
    }
    if (described.text.startsWith('InternalError: out of memory')) {
      this.poison('its memory limit');
      return finish(turn, 'memory_limit', { error: 'the code exceeded the sandbox memory limit' });
    }
    const code = described.code !== undefined && isErrorCode(described.code) ? described.code : undefined;
    return finish(turn, 'error', {
      error: described.text,
      ...(code === undefined ? {} : { errorCode: code }),
    });
  }

  private describe(error: QuickJSHandle): Described {
    const vm = this.requireVm();
    let json: unknown;
    try {
      json = this.callVm(vm, vm.describe, error);
    } catch (failure) {
      if (failure instanceof InstanceFailure && !failure.outOfMemory) throw failure;
      return { text: 'InternalError: out of memory', code: undefined };
    }
    if (typeof json !== 'string') return { text: 'Uncaught exception', code: undefined };
    const parsed = JSON.parse(json) as { text?: unknown; code?: unknown };
    return {
      text: typeof parsed.text === 'string' ? parsed.text : 'Uncaught exception',
      code: typeof parsed.code === 'string' ? parsed.code : undefined,
    };
  }

  /** A failure outside the code's control; unless it was an interrupt, the instance is dropped. */
  private failed(turn: Turn, finish: Finish, error: unknown): DriverExecResult {
    const stopped = this.interruption(turn, finish);
    if (stopped !== undefined) return stopped;
    if (error instanceof InstanceFailure && error.outOfMemory) {
      this.poison('its memory limit');
      return finish(turn, 'memory_limit', { error: 'the code exceeded the sandbox memory limit' });
    }
    if (error instanceof RangeError) {
      // The code nested so deeply that the host's native stack ran out inside QuickJS, leaving
      // the instance's C state half-updated.
      this.lose('a stack overflow');
      return finish(turn, 'error', {
        error: 'RangeError: Maximum call stack size exceeded (the nesting exhausted the host stack)',
      });
    }
    this.lose('a failure of the QuickJS instance');
    return finish(turn, 'error', { error: 'the sandbox failed inside the QuickJS engine' });
  }

  private poison(why: string): void {
    if (this.state !== 'ready') return;
    this.state = 'poisoned';
    this.why = why;
    // Not reused and never called into again; dropping the instance frees it (class comment).
    this.vm = undefined;
  }

  private lose(why: string): void {
    if (this.state !== 'ready') return;
    this.state = 'lost';
    this.why = why;
    this.vm = undefined;
  }

  private waitForHost(turn: Turn): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = turn.signal;
      // A resource guard on the wall clock (like the interrupt handler), not logic time.
      const timer = setTimeout(done, Math.max(0, Math.ceil(turn.deadline - monotonicMs())));
      signal?.addEventListener('abort', done, { once: true });
      turn.wake = done;
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        turn.wake = undefined;
        resolve();
      }
    });
  }

  private endTurn(turn: Turn, promise: QuickJSHandle | undefined): void {
    this.turn = undefined;
    // Calls still pending are abandoned: their promises never settle in the sandbox, and their
    // host results are dropped when they arrive.
    for (const call of turn.calls.values()) call.deferred.dispose();
    turn.calls.clear();
    turn.completions.length = 0;
    turn.wake = undefined;
    const vm = this.vm;
    if (vm === undefined || this.state !== 'ready') return;
    try {
      if (promise?.alive === true) promise.dispose();
      // Virtual timers do not outlive the exec that set them.
      this.callVm(vm, vm.clearTimers);
    } catch {
      this.lose('a failure of the QuickJS instance');
    }
  }

  // ---- checkpoint ----------------------------------------------------------------------------

  private async runCheckpoint(): Promise<JsonValue> {
    if (this.state === 'disposed') {
      throw new EnablementError('RT-404', `sandbox ${this.spec.sandboxId} is disposed`);
    }
    if (this.state !== 'ready') throw this.unusable();
    const timeoutMs = Math.min(this.settings.checkpointTimeoutMs, this.spec.limits.execTimeoutMs);
    // No output is kept and no capability may be called while the state is serialised.
    const turn = this.newTurn(timeoutMs, undefined, 0, false);
    this.turn = turn;
    try {
      const vm = this.requireVm();
      const result = vm.context.callFunction(vm.checkpoint, vm.context.undefined);
      if (result.error !== undefined) {
        const described = turn.interrupted === undefined ? this.describe(result.error) : undefined;
        result.error.dispose();
        if (turn.interrupted !== undefined) {
          this.poison(`the ${timeoutMs} ms checkpoint time limit`);
          throw new EnablementError(
            'RT-408',
            `checkpoint of sandbox ${this.spec.sandboxId} exceeded its ${timeoutMs} ms time limit`,
          );
        }
        if (described?.text.startsWith('InternalError: out of memory') === true) {
          this.poison('its memory limit');
          throw new EnablementError(
            'RT-413',
            `checkpoint of sandbox ${this.spec.sandboxId} ran out of memory`,
          );
        }
        throw invalid(`globalThis.state is not JSON-serialisable: ${described?.text.split('\n')[0] ?? ''}`);
      }
      const json: unknown = vm.context.dump(result.value);
      result.value.dispose();
      if (typeof json !== 'string') return {};
      const bytes = utf8Length(json);
      if (bytes > this.settings.maxValueBytes) {
        throw new EnablementError(
          'RT-413',
          `checkpoint of sandbox ${this.spec.sandboxId} is ${bytes} bytes, more than ${this.settings.maxValueBytes}`,
        );
      }
      return JSON.parse(json) as JsonValue;
    } catch (error) {
      if (EnablementError.is(error)) throw error;
      this.lose(error instanceof RangeError ? 'a stack overflow' : 'a failure of the QuickJS instance');
      throw this.unusable();
    } finally {
      this.turn = undefined;
    }
  }
}

/**
 * Creates the default sandbox driver: JavaScript in QuickJS compiled to WebAssembly, in the
 * host process (ARCHITECTURE §6). Each sandbox gets its own WebAssembly instance with one QuickJS
 * runtime and context; the engine code is loaded and compiled once per driver, on first use.
 *
 * Sandbox code is the body of an async function (`return` gives the result, top-level `await`
 * works); see the package README for its API (`console`, `fetch`, `tools.call`, virtual timers,
 * `globalThis.state` checkpoints) and limits.
 *
 * Limits: memory (`limits.memoryBytes`, clamped to `maxMemoryBytes`, enforced by QuickJS and
 * backed by the instance's WebAssembly memory maximum), stack (`maxStackBytes`), and the exec's
 * wall-clock deadline, checked by QuickJS's interrupt handler while JS runs and by a host timer
 * while the code waits for a capability. `limits.cpuMillicores` is not enforced: QuickJS runs on
 * the host thread, one exec at a time per sandbox, and blocks the host's event loop while JS runs
 * (at most until the deadline). After a timeout, an abort that interrupted running JS, or an
 * out-of-memory, the sandbox is not used again: later execs reject with `RT-413`.
 *
 * @example
 * ```ts
 * const driver = createQuickJsDriver();
 * const sandbox = await driver.create(spec);
 * const result = await sandbox.exec({ code: 'return 6 * 7', timeoutMs: 1000, signal });
 * // result.outcome === 'ok', result.value === 42
 * ```
 */
export function createQuickJsDriver(options: QuickJsDriverOptions = {}): SandboxDriver {
  const parsed = parseOptions(optionsSchema, options, 'createQuickJsDriver');
  const settings: Settings = Object.freeze({ ...DEFAULT_QUICKJS_DRIVER_OPTIONS, ...stripUndefined(parsed) });
  const loader: QuickJsLoader = createQuickJsLoader();
  const live = new Set<QuickJsSandbox>();
  let reserved = 0;
  let closed = false;
  const info: DriverInfo = Object.freeze({
    name: 'quickjs',
    isolation: 'QuickJS WebAssembly runtime (one WebAssembly instance per sandbox)',
    isolated: true,
  });
  return {
    info,
    async create(spec: DriverSandboxSpec): Promise<DriverSandbox> {
      if (closed) throw new EnablementError('RT-500', 'the quickjs driver is closed');
      const memoryLimit = memoryLimitOf(spec, settings);
      if (live.size + reserved >= settings.maxSandboxes) {
        throw new EnablementError(
          'RT-413',
          `the quickjs driver already runs ${settings.maxSandboxes} sandboxes`,
        );
      }
      reserved += 1;
      try {
        const pages = QUICKJS_INITIAL_PAGES + Math.ceil(memoryLimit / WASM_PAGE_BYTES) + HEADROOM_PAGES;
        let module: QuickJSWASMModule;
        try {
          module = await loader.instantiate(pages);
        } catch (cause) {
          throw new EnablementError('RT-500', 'could not load the QuickJS WebAssembly engine', { cause });
        }
        let sandbox: QuickJsSandbox;
        try {
          sandbox = await QuickJsSandbox.open(module, spec, settings, memoryLimit, (gone) =>
            live.delete(gone),
          );
        } catch (cause) {
          if (EnablementError.is(cause)) throw cause;
          throw new EnablementError('RT-500', 'could not start a QuickJS sandbox', { cause });
        }
        if (closed) {
          await sandbox.dispose();
          throw new EnablementError('RT-500', 'the quickjs driver is closed');
        }
        live.add(sandbox);
        return sandbox;
      } finally {
        reserved -= 1;
      }
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...live].map((sandbox) => sandbox.dispose()));
      loader.release();
    },
  };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function memoryLimitOf(spec: DriverSandboxSpec, settings: Settings): number {
  if (typeof spec !== 'object' || spec === null || typeof spec.limits !== 'object' || spec.limits === null) {
    throw invalid('create: spec.limits is required');
  }
  const { memoryBytes, execTimeoutMs, maxOutputBytes } = spec.limits;
  if (typeof memoryBytes !== 'bigint') throw invalid('create: limits.memoryBytes must be a bigint');
  if (!Number.isFinite(execTimeoutMs) || execTimeoutMs <= 0) {
    throw invalid('create: limits.execTimeoutMs must be a positive number');
  }
  if (!Number.isInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw invalid('create: limits.maxOutputBytes must be a non-negative integer');
  }
  if (typeof spec.capabilities?.fetch !== 'function' || typeof spec.capabilities.callTool !== 'function') {
    throw invalid('create: spec.capabilities must provide fetch and callTool');
  }
  if (memoryBytes < BigInt(MIN_QUICKJS_MEMORY_BYTES)) {
    throw new EnablementError(
      'RT-413',
      `limits.memoryBytes ${memoryBytes} is below the ${MIN_QUICKJS_MEMORY_BYTES} bytes a QuickJS sandbox needs`,
    );
  }
  return memoryBytes > BigInt(settings.maxMemoryBytes) ? settings.maxMemoryBytes : Number(memoryBytes);
}
