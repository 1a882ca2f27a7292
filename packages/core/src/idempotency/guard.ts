import { canonicalBytes, canonicalize } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { ProductId } from '../errors/product.js';
import { type Clock, millisToNanos, sleep, systemClock } from '../time/clock.js';
import type { IdempotencyStore } from './store.js';
import {
  assertOperation,
  assertProduct,
  DEFAULT_IDEMPOTENCY_WINDOWS,
  type IdempotencyWindow,
  idempotencyStoreKey,
} from './windows.js';

/** Default {@link IdempotencyGuardOptions.lockTtlMs}: 5 minutes, as in spec §9.2's `set_nx`. */
export const DEFAULT_IDEMPOTENCY_LOCK_TTL_MS = 300_000;
/** Default {@link IdempotencyGuardOptions.inFlightRetryAfterMs}: spec §9.2's `Retry(100 ms)`. */
export const DEFAULT_IDEMPOTENCY_IN_FLIGHT_RETRY_AFTER_MS = 100;
/** Default {@link IdempotencyGuardOptions.maxInFlight}. */
export const DEFAULT_IDEMPOTENCY_MAX_IN_FLIGHT = 10_000;
/** Default {@link IdempotencyGuardOptions.maxResultLength}: 64 Ki characters of canonical JSON. */
export const DEFAULT_IDEMPOTENCY_GUARD_MAX_RESULT_LENGTH = 65_536;

/** Which store call failed, as reported to {@link IdempotencyGuardOptions.onStoreError}. */
export type IdempotencyStorePhase = 'complete' | 'release';

/** Options of {@link createIdempotencyGuard}. */
export interface IdempotencyGuardOptions {
  /** Where locks and results live (memory, Redis, …). */
  store: IdempotencyStore;
  /** Clock for waits on in-flight executions in other processes; the system clock by default. */
  clock?: Clock;
  /** SHA-256 for parameter fingerprints; the noble provider by default. */
  crypto?: Pick<CryptoProvider, 'sha256'>;
  /**
   * Deduplication windows by product and operation; each entry overrides the spec default
   * ({@link DEFAULT_IDEMPOTENCY_WINDOWS}) for the same pair, and adds operations.
   */
  windows?: readonly Pick<IdempotencyWindow, 'product' | 'operation' | 'windowMs'>[];
  /**
   * How long an executor's lock lasts, ms ({@link DEFAULT_IDEMPOTENCY_LOCK_TTL_MS}). After it, a
   * crashed executor stops blocking the key and a duplicate runs the operation; so it must
   * exceed the operation's worst-case duration, or a slow executor's result is not stored.
   */
  lockTtlMs?: number;
  /**
   * How long a call waits for an execution that another process (or another guard on the same
   * store) has in flight, polling the store, before giving up with a retryable `PL-409`.
   * 0 (the default) gives up at once. Duplicates inside this guard never poll: they share the
   * running execution's promise.
   */
  inFlightWaitMs?: number;
  /**
   * Polling interval while waiting, and the `retryAfterMs` hint of the in-flight `PL-409`
   * (capped by the time left on the other executor's lock);
   * {@link DEFAULT_IDEMPOTENCY_IN_FLIGHT_RETRY_AFTER_MS} by default.
   */
  inFlightRetryAfterMs?: number;
  /**
   * Most distinct keys executing at once in this guard ({@link DEFAULT_IDEMPOTENCY_MAX_IN_FLIGHT});
   * beyond it `run` rejects with a retryable `PL-503` instead of growing without bound.
   */
  maxInFlight?: number;
  /** Longest canonical JSON result stored, in UTF-16 code units; longer results are `PL-400`. */
  maxResultLength?: number;
  /**
   * Which failures to store and replay to duplicates for the whole window. By default none:
   * the key is released so that a retry runs the operation again. Only `EnablementError`s can
   * be stored (as their spec §8.2 JSON); return `true` for deterministic failures such as
   * `PL-400`, never for transient ones.
   */
  cacheFailure?: (error: EnablementError) => boolean;
  /**
   * Told when storing a result or releasing a lock fails after the operation ran (the caller
   * still gets the operation's outcome). `lost_lock` means `complete` found the lock gone
   * (`lockTtlMs` too short). Not called for `begin` failures: those reject `run`.
   */
  onStoreError?: (error: unknown, phase: IdempotencyStorePhase | 'lost_lock', storeKey: string) => void;
}

/** One idempotent call. */
export interface IdempotentRequest {
  /** Product that owns the operation. */
  readonly product: ProductId;
  /** Operation name, `snake_case` (`spawn_sandbox`). */
  readonly operation: string;
  /** The caller's idempotency key: 1–512 visible ASCII characters. */
  readonly key: string;
  /**
   * The operation's parameters, as JSON. Their fingerprint (SHA-256 of the RFC 8785 canonical
   * form) is stored with the key: a later call with the same key and other parameters is
   * rejected with `PL-409`.
   */
  readonly parameters: unknown;
  /** Overrides the window of this product and operation, ms. */
  readonly windowMs?: number;
  /** Overrides the guard's lock TTL, ms. */
  readonly lockTtlMs?: number;
  /**
   * Stops this caller's wait (for a shared execution or another process's) with the signal's
   * reason. It never cancels an execution that other callers share.
   */
  readonly signal?: AbortSignal;
}

/** Runs operations at most once per idempotency key and window (spec §9.2). */
export interface IdempotencyGuard {
  /**
   * Runs `fn` unless the same key has already run (then returns the stored result) or is running
   * (then shares that execution, or rejects with a retryable `PL-409` when it runs elsewhere).
   *
   * Every caller, the first included, gets the result as it comes back from the store: the
   * JSON round-trip of `fn`'s value (`undefined` members dropped, `undefined` itself becomes
   * `null`; a `Date`, a `bigint` or a class instance is rejected with `PL-400`), a fresh copy each. A failure is not stored by default: its key is released and the
   * error reaches the executing caller and the duplicates that shared its execution.
   *
   * Rejections: `PL-400` bad request or non-JSON parameters/result; `PL-409` key reused with other
   * parameters (not retryable) or in flight elsewhere (retryable, with `retryAfterMs`); `PL-503`
   * too many executions in flight; whatever the store's `begin` throws.
   */
  run<T>(request: IdempotentRequest, fn: () => T | Promise<T>): Promise<T>;
  /** The SHA-256 hex fingerprint that `run` stores for `parameters`. */
  fingerprint(parameters: unknown): string;
  /** Number of keys executing in this guard now. */
  readonly inFlight: number;
}

/** How one execution ended, shared by every caller that joined it. */
type Outcome =
  | { readonly kind: 'stored'; readonly text: string }
  | { readonly kind: 'error'; readonly error: unknown };

interface Execution {
  readonly fingerprint: string;
  readonly promise: Promise<Outcome>;
}

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `idempotency guard: ${message}`);
}

function duration(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${name} must be an integer number of milliseconds ≥ ${min}`);
  }
  return value;
}

function optionalDuration(value: unknown, fallback: number, name: string, min: number): number {
  return value === undefined ? fallback : duration(value, name, min);
}

/** Resolves with `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

class Guard implements IdempotencyGuard {
  readonly #store: IdempotencyStore;
  readonly #clock: Clock;
  readonly #crypto: Pick<CryptoProvider, 'sha256'>;
  readonly #windows = new Map<string, number>();
  readonly #lockTtlMs: number;
  readonly #inFlightWaitMs: number;
  readonly #inFlightRetryAfterMs: number;
  readonly #maxInFlight: number;
  readonly #maxResultLength: number;
  readonly #cacheFailure: ((error: EnablementError) => boolean) | undefined;
  readonly #onStoreError: IdempotencyGuardOptions['onStoreError'];
  // Executions running in this guard, by store key: duplicates await the same promise instead
  // of polling the store. Bounded by maxInFlight.
  readonly #running = new Map<string, Execution>();

  constructor(options: IdempotencyGuardOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
    const { store } = options;
    if (typeof store?.begin !== 'function' || typeof store.complete !== 'function') {
      throw invalid('store must implement IdempotencyStore');
    }
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#crypto = options.crypto ?? nobleCryptoProvider;
    if (typeof this.#crypto?.sha256 !== 'function') throw invalid('crypto must provide sha256');
    for (const window of [...DEFAULT_IDEMPOTENCY_WINDOWS, ...(options.windows ?? [])]) {
      assertProduct(window.product);
      assertOperation(window.operation);
      const windowMs = duration(
        window.windowMs,
        `windows[${window.product}:${window.operation}].windowMs`,
        1,
      );
      this.#windows.set(`${window.product}:${window.operation}`, windowMs);
    }
    this.#lockTtlMs = optionalDuration(options.lockTtlMs, DEFAULT_IDEMPOTENCY_LOCK_TTL_MS, 'lockTtlMs', 1);
    this.#inFlightWaitMs = optionalDuration(options.inFlightWaitMs, 0, 'inFlightWaitMs', 0);
    this.#inFlightRetryAfterMs = optionalDuration(
      options.inFlightRetryAfterMs,
      DEFAULT_IDEMPOTENCY_IN_FLIGHT_RETRY_AFTER_MS,
      'inFlightRetryAfterMs',
      1,
    );
    this.#maxInFlight = optionalDuration(
      options.maxInFlight,
      DEFAULT_IDEMPOTENCY_MAX_IN_FLIGHT,
      'maxInFlight',
      1,
    );
    this.#maxResultLength = optionalDuration(
      options.maxResultLength,
      DEFAULT_IDEMPOTENCY_GUARD_MAX_RESULT_LENGTH,
      'maxResultLength',
      1,
    );
    if (options.cacheFailure !== undefined && typeof options.cacheFailure !== 'function') {
      throw invalid('cacheFailure must be a function');
    }
    this.#cacheFailure = options.cacheFailure;
    this.#onStoreError = options.onStoreError;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  fingerprint(parameters: unknown): string {
    let bytes: Uint8Array;
    try {
      bytes = canonicalBytes(parameters);
    } catch (error) {
      throw new EnablementError(
        'PL-400',
        'idempotency guard: parameters must be JSON (RFC 8785 canonicalizable)',
        {
          cause: error,
        },
      );
    }
    return bytesToHex(this.#crypto.sha256(bytes));
  }

  async run<T>(request: IdempotentRequest, fn: () => T | Promise<T>): Promise<T> {
    if (typeof request !== 'object' || request === null) throw invalid('request must be an object');
    if (typeof fn !== 'function') throw invalid('fn must be a function');
    const storeKey = idempotencyStoreKey(request.product, request.operation, request.key);
    const windowMs =
      request.windowMs === undefined
        ? this.#windows.get(`${request.product}:${request.operation}`)
        : duration(request.windowMs, 'windowMs', 1);
    if (windowMs === undefined) {
      throw invalid(`no deduplication window for ${request.product}:${request.operation}; pass windowMs`);
    }
    const lockTtlMs = optionalDuration(request.lockTtlMs, this.#lockTtlMs, 'lockTtlMs', 1);
    const signal = request.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw invalid('signal must be an AbortSignal');
    const fingerprint = this.fingerprint(request.parameters);
    if (signal?.aborted) throw signal.reason;

    let execution = this.#running.get(storeKey);
    if (execution === undefined) {
      if (this.#running.size >= this.#maxInFlight) {
        throw new EnablementError(
          'PL-503',
          `idempotency guard: more than ${this.#maxInFlight} operations in flight`,
          { retryAfterMs: this.#inFlightRetryAfterMs },
        );
      }
      // Registered synchronously, before the first await, so that a duplicate arriving while the
      // store is consulted joins this execution instead of racing it.
      const promise = this.#execute(storeKey, fingerprint, windowMs, lockTtlMs, fn).finally(() => {
        this.#running.delete(storeKey);
      });
      execution = { fingerprint, promise };
      this.#running.set(storeKey, execution);
    } else if (execution.fingerprint !== fingerprint) {
      throw mismatchFor(storeKey);
    }
    return settle<T>(await untilAborted(execution.promise, signal));
  }

  /** Consults the store and runs `fn` if this guard gets the lock. Never rejects. */
  async #execute<T>(
    storeKey: string,
    fingerprint: string,
    windowMs: number,
    lockTtlMs: number,
    fn: () => T | Promise<T>,
  ): Promise<Outcome> {
    try {
      const deadline = this.#clock.now() + millisToNanos(this.#inFlightWaitMs);
      for (;;) {
        const begun = await this.#store.begin(storeKey, fingerprint, lockTtlMs);
        switch (begun.status) {
          case 'completed':
            return { kind: 'stored', text: begun.result };
          case 'mismatch':
            return { kind: 'error', error: mismatchFor(storeKey) };
          case 'acquired':
            return await this.#runLocked(storeKey, begun.token, windowMs, fn);
          case 'in_flight': {
            const hint = Math.max(1, Math.min(this.#inFlightRetryAfterMs, begun.retryAfterMs));
            const leftMs = Number(deadline - this.#clock.now()) / 1e6;
            if (leftMs <= 0) {
              return {
                kind: 'error',
                error: new EnablementError(
                  'PL-409',
                  `idempotency guard: ${operationOf(storeKey)} with this key is already in flight`,
                  { retryable: true, retryAfterMs: hint },
                ),
              };
            }
            await sleep(this.#clock, Math.min(hint, Math.ceil(leftMs)));
            break;
          }
          default:
            throw new EnablementError('PL-500', 'idempotency store returned an unknown begin status');
        }
      }
    } catch (error) {
      return { kind: 'error', error };
    }
  }

  /** Runs `fn` under the lock, then stores its outcome or releases the key. */
  async #runLocked<T>(
    storeKey: string,
    token: string,
    windowMs: number,
    fn: () => T | Promise<T>,
  ): Promise<Outcome> {
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      if (EnablementError.is(error) && this.#cacheFailure?.(error) === true) {
        const text = canonicalize({ ok: false, error: error.toJSON() });
        await this.#complete(storeKey, token, text, windowMs);
        return { kind: 'stored', text };
      }
      await this.#release(storeKey, token);
      return { kind: 'error', error };
    }
    let text: string;
    try {
      text = canonicalize({ ok: true, value: value === undefined ? null : value });
    } catch (error) {
      await this.#release(storeKey, token);
      return {
        kind: 'error',
        error: new EnablementError(
          'PL-400',
          'idempotency guard: the result must be JSON (RFC 8785 canonicalizable)',
          {
            cause: error,
          },
        ),
      };
    }
    if (text.length > this.#maxResultLength) {
      await this.#release(storeKey, token);
      return {
        kind: 'error',
        error: new EnablementError(
          'PL-400',
          `idempotency guard: the result is longer than ${this.#maxResultLength} characters of JSON`,
        ),
      };
    }
    await this.#complete(storeKey, token, text, windowMs);
    return { kind: 'stored', text };
  }

  async #complete(storeKey: string, token: string, text: string, windowMs: number): Promise<void> {
    try {
      const stored = await this.#store.complete(storeKey, token, text, windowMs);
      if (!stored) {
        this.#report(
          new EnablementError('PL-409', 'idempotency guard: the lock expired before the result was stored'),
          'lost_lock',
          storeKey,
        );
      }
    } catch (error) {
      // The operation ran: its outcome goes to the caller. The key stays locked until the lock
      // TTL, then a duplicate may run again; the host hears of it through onStoreError.
      this.#report(error, 'complete', storeKey);
    }
  }

  async #release(storeKey: string, token: string): Promise<void> {
    try {
      await this.#store.release(storeKey, token);
    } catch (error) {
      // The lock expires on its own; the operation's own failure is what the caller must see.
      this.#report(error, 'release', storeKey);
    }
  }

  #report(error: unknown, phase: IdempotencyStorePhase | 'lost_lock', storeKey: string): void {
    try {
      this.#onStoreError?.(error, phase, storeKey);
    } catch {
      // A failing observer must not turn a completed operation into a failure.
    }
  }
}

function operationOf(storeKey: string): string {
  // `idem:{product}:{operation}:…`: product and operation never contain ':'.
  const [, product, operation] = storeKey.split(':', 3);
  return `${product}:${operation}`;
}

function mismatchFor(storeKey: string): EnablementError {
  return new EnablementError(
    'PL-409',
    `idempotency guard: ${operationOf(storeKey)} key reused with different parameters`,
    { retryable: false },
  );
}

/** Turns a shared outcome into this caller's own value or error. */
function settle<T>(outcome: Outcome): T {
  if (outcome.kind === 'error') throw outcome.error;
  let parsed: unknown;
  try {
    parsed = JSON.parse(outcome.text);
  } catch (error) {
    throw new EnablementError('PL-500', 'idempotency guard: the stored result is not JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { ok?: unknown }).ok !== 'boolean') {
    throw new EnablementError('PL-500', 'idempotency guard: the stored result has an unknown shape');
  }
  const record = parsed as { ok: boolean; value?: unknown; error?: unknown };
  if (record.ok) return record.value as T;
  throw EnablementError.fromJSON(record.error);
}

/**
 * Builds an {@link IdempotencyGuard} over a store (spec §9.2; ARCHITECTURE §5).
 *
 * Exactly one execution per key: concurrent duplicates in this guard share the running
 * execution's promise (no polling); duplicates after it get the stored result until the window
 * ends; a duplicate while another process executes gets a retryable `PL-409` (or waits up to
 * `inFlightWaitMs`); a crashed executor blocks its key only until its lock TTL.
 *
 * @example
 * ```ts
 * const guard = createIdempotencyGuard({ store: createMemoryIdempotencyStore({ clock }), clock });
 * const sandbox = await guard.run(
 *   { product: 'runtime', operation: 'spawn_sandbox', key, parameters: spec },
 *   () => spawn(spec),
 * );
 * ```
 */
export function createIdempotencyGuard(options: IdempotencyGuardOptions): IdempotencyGuard {
  return new Guard(options);
}
