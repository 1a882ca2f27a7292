import { EnablementError } from '../errors/enablement-error.js';
import { type RetryStrategy, retryStrategyFor } from '../errors/retry-strategy.js';
import { type Clock, sleep, systemClock } from '../time/clock.js';
import { MAX_RECORDED_RETRY_ERRORS, RetryError } from './errors.js';

/** Default {@link RetryOptions.maxDelayMs}: 30 s, the spec §8.4 backoff ceiling. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 30_000;
/** Hard ceiling on attempts, whatever a strategy or option says. */
export const MAX_RETRY_ATTEMPTS = 1000;

/** What `retry` passes to each attempt. */
export interface RetryAttempt {
  /** 1 for the first call, 2 for the first retry, … */
  readonly attempt: number;
  /** The caller's signal, to pass on to the operation. */
  readonly signal: AbortSignal | undefined;
}

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryEvent {
  /** The attempt that just failed (1-based). */
  readonly attempt: number;
  /** Its error. */
  readonly error: unknown;
  /** How long `retry` now waits before the next attempt, ms. */
  readonly delayMs: number;
  /** The strategy that chose the wait. */
  readonly strategy: RetryStrategy;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Clock the waits are measured on (so `FakeClock` drives them); the system clock by default. */
  clock?: Clock;
  /**
   * The strategy: fixed, or chosen per failure. By default each error picks its own with
   * `retryStrategyFor` (spec §8.4): transient `*-503` back off exponentially, `*-429` retry
   * after their period, everything else (including non-`EnablementError`s) is not retried.
   */
  strategy?: RetryStrategy | ((error: unknown, attempt: number) => RetryStrategy);
  /** Aborting stops the retrying at once (a wait in progress ends) with the signal's reason. */
  signal?: AbortSignal;
  /** Uniform random numbers in `[0, 1)` for the jitter; `Math.random` by default. */
  random?: () => number;
  /** Called before each wait (for logs and metrics). An exception thrown here ends `retry`. */
  onRetry?: (event: RetryEvent) => void;
  /** Caps the total number of attempts below the strategy's (at most {@link MAX_RETRY_ATTEMPTS}). */
  maxAttempts?: number;
  /**
   * Longest single wait, ms ({@link DEFAULT_RETRY_MAX_DELAY_MS}). A wait that would be longer (a
   * quota's hour-long `retryAfterMs`) is not slept: `retry` gives up and the error, with its
   * hint, goes to the caller, who can schedule the retry instead of holding a call open.
   */
  maxDelayMs?: number;
}

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `retry: ${message}`);
}

function nonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`${name} must be a finite number ≥ 0`);
  }
  return value;
}

function attemptsOf(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${name} must be a positive integer`);
  }
  return Math.min(value, MAX_RETRY_ATTEMPTS);
}

/** Checks a strategy's shape, since it may come from configuration. */
function checkStrategy(strategy: unknown): RetryStrategy {
  if (typeof strategy !== 'object' || strategy === null) throw invalid('strategy must be a RetryStrategy');
  const s = strategy as RetryStrategy;
  switch (s.kind) {
    case 'never':
      return s;
    case 'exponential_backoff':
      nonNegative(s.initialDelayMs, 'strategy.initialDelayMs');
      nonNegative(s.maxDelayMs, 'strategy.maxDelayMs');
      attemptsOf(s.maxAttempts, 'strategy.maxAttempts');
      return s;
    case 'fixed_delay':
      nonNegative(s.delayMs, 'strategy.delayMs');
      attemptsOf(s.maxAttempts, 'strategy.maxAttempts');
      return s;
    case 'retry_after':
      nonNegative(s.delayMs, 'strategy.delayMs');
      return s;
    default:
      throw invalid('strategy.kind must be never, exponential_backoff, fixed_delay or retry_after');
  }
}

/**
 * Decorrelated jitter ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015):
 * `sleep = min(cap, random_between(base, previous_sleep × 3))`, starting from `base`. Waits grow
 * roughly ×3 on average yet stay spread out, so clients that failed together do not retry in
 * lockstep.
 */
function decorrelatedJitter(base: number, cap: number, previous: number | undefined, random: number): number {
  const upper = Math.max(base, (previous ?? base) * 3);
  return Math.min(cap, base + random * (upper - base));
}

/**
 * Calls `fn` until it succeeds, the strategy says stop, the attempts run out, or `signal`
 * aborts; waits between attempts on the injected clock (spec §8.4).
 *
 * - Waits: exponential backoff uses decorrelated jitter between `initialDelayMs` and
 *   `maxDelayMs`; a fixed delay is exact; `retry_after` retries once after its delay. An
 *   error's own `retryAfterMs` is a floor: the wait is never shorter.
 * - Giving up: after one attempt the error is rethrown unchanged; after several, a
 *   {@link RetryError} with the same code wraps it (`cause`), recording `attempts`.
 * - Aborting rejects with the signal's reason, at once if `retry` is waiting; a running attempt
 *   is not interrupted unless `fn` honours the signal it is given.
 *
 * @example
 * ```ts
 * const profile = await retry(({ signal }) => nhi.lookup(agent, { signal }), { clock, signal });
 * ```
 */
export async function retry<T>(
  fn: (attempt: RetryAttempt) => T | Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  if (typeof fn !== 'function') throw invalid('fn must be a function');
  const clock = options.clock ?? systemClock;
  const { signal, onRetry } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalid('signal must be an AbortSignal');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw invalid('random must be a function');
  const maxAttempts =
    options.maxAttempts === undefined ? MAX_RETRY_ATTEMPTS : attemptsOf(options.maxAttempts, 'maxAttempts');
  const maxDelayMs =
    options.maxDelayMs === undefined
      ? DEFAULT_RETRY_MAX_DELAY_MS
      : nonNegative(options.maxDelayMs, 'maxDelayMs');
  const fixed = typeof options.strategy === 'object' ? checkStrategy(options.strategy) : undefined;
  const choose = typeof options.strategy === 'function' ? options.strategy : undefined;
  if (options.strategy !== undefined && fixed === undefined && choose === undefined) {
    throw invalid('strategy must be a RetryStrategy or a function');
  }

  const errors: unknown[] = [];
  let previousBackoff: number | undefined;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn({ attempt, signal });
    } catch (error) {
      // An attempt that failed because the caller aborted ends here, with the abort's reason.
      if (signal?.aborted) throw signal.reason;
      errors.push(error);
      if (errors.length > MAX_RECORDED_RETRY_ERRORS) errors.shift();
      const strategy = fixed ?? (choose ? checkStrategy(choose(error, attempt)) : retryStrategyFor(error));
      let delayMs: number | undefined;
      switch (strategy.kind) {
        case 'never':
          break;
        case 'exponential_backoff':
          if (attempt < strategy.maxAttempts) {
            const draw = random();
            if (typeof draw !== 'number' || !(draw >= 0 && draw < 1))
              throw invalid('random must return a number in [0, 1)');
            previousBackoff = decorrelatedJitter(
              strategy.initialDelayMs,
              strategy.maxDelayMs,
              previousBackoff,
              draw,
            );
            delayMs = previousBackoff;
          }
          break;
        case 'fixed_delay':
          if (attempt < strategy.maxAttempts) delayMs = strategy.delayMs;
          break;
        case 'retry_after':
          if (attempt < 2) delayMs = strategy.delayMs;
          break;
      }
      const hint = EnablementError.is(error) ? error.retryAfterMs : undefined;
      if (delayMs !== undefined && hint !== undefined) delayMs = Math.max(delayMs, hint);
      if (delayMs === undefined || attempt >= maxAttempts || delayMs > maxDelayMs) {
        throw attempt === 1 ? error : new RetryError(error, attempt, errors);
      }
      onRetry?.({ attempt, error, delayMs, strategy });
      await sleep(clock, delayMs, signal);
    }
  }
}
