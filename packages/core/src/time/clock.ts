import { EnablementError } from '../errors/enablement-error.js';

/**
 * A point in time as Unix nanoseconds (spec §6.3). `bigint`, because nanoseconds since 1970
 * exceed 2^53; the wire form is a decimal string.
 */
export type ConsensusTimestamp = bigint;

/** Nanoseconds in one millisecond. */
export const NANOS_PER_MILLI = 1_000_000n;
/** Nanoseconds in one second. */
export const NANOS_PER_SECOND = 1_000_000_000n;

/** Cancels a scheduled callback; calling it after the callback ran does nothing. */
export type CancelTimer = () => void;

/**
 * The source of time for every engine. Nothing in the SDK reads the wall clock directly, so
 * `FakeClock` (in `@creto/testing`) can drive escalations, TTLs and billing windows in tests.
 */
export interface Clock {
  /** Current time in Unix nanoseconds. */
  now(): ConsensusTimestamp;
  /**
   * Runs `callback` once when `now()` reaches `at` (immediately, asynchronously, if `at` is past).
   * Engines that need many deadlines put them in one scheduler and keep a single timer here.
   */
  schedule(at: ConsensusTimestamp, callback: () => void): CancelTimer;
}

// setTimeout's delay is a signed 32-bit millisecond count; longer waits are chained.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The wall clock: Unix time sampled once, advanced by the monotonic high-resolution timer so
 * that `now()` never goes backwards when the system clock is stepped.
 */
export class SystemClock implements Clock {
  readonly #originNs: bigint;

  constructor() {
    // The single sanctioned read of the wall clock: everything else derives from it.
    this.#originNs = BigInt(Date.now()) * NANOS_PER_MILLI - process.hrtime.bigint();
  }

  now(): ConsensusTimestamp {
    return this.#originNs + process.hrtime.bigint();
  }

  schedule(at: ConsensusTimestamp, callback: () => void): CancelTimer {
    let handle: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    const arm = () => {
      if (cancelled) return;
      const remainingNs = at - this.now();
      if (remainingNs <= 0n) {
        handle = setTimeout(() => cancelled || callback(), 0);
      } else {
        const ms = Number((remainingNs + NANOS_PER_MILLI - 1n) / NANOS_PER_MILLI);
        handle = setTimeout(arm, Math.min(ms, MAX_TIMEOUT_MS));
      }
      // A pending deadline must not keep a host process alive on its own.
      handle.unref?.();
    };
    arm();
    return () => {
      cancelled = true;
      if (handle !== undefined) clearTimeout(handle);
    };
  }
}

/** A shared {@link SystemClock}. */
export const systemClock: Clock = new SystemClock();

/**
 * Milliseconds as nanoseconds, rounded to the nearest nanosecond; rejects non-finite input (and
 * input so large that its nanoseconds are not finite) with `PL-400`.
 */
export function millisToNanos(ms: number): bigint {
  const ns = typeof ms === 'number' ? Math.round(ms * 1e6) : Number.NaN;
  if (!Number.isFinite(ns)) {
    throw new EnablementError('PL-400', 'duration must be a finite number of milliseconds');
  }
  return BigInt(ns);
}

/** Nanoseconds as (possibly fractional) milliseconds. */
export function nanosToMillis(ns: bigint): number {
  return Number(ns) / 1e6;
}

/**
 * Resolves after `ms` of the given clock's time, or rejects with the signal's reason when aborted.
 *
 * @example
 * ```ts
 * await sleep(clock, 250); // with FakeClock, resolves when the test advances 250 ms
 * ```
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const at = clock.now() + millisToNanos(ms);
    let cancel: CancelTimer | undefined;
    const onAbort = () => {
      cancel?.();
      reject(signal?.reason);
    };
    // Listen before scheduling and unlisten when done, so that no listener is left behind on a
    // long-lived signal, even with a clock that fires synchronously or refuses the timer.
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      cancel = clock.schedule(at, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      reject(error);
    }
  });
}
