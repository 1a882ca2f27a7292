import { ERROR_CATALOGUE } from '../errors/catalogue.js';
import { EnablementError } from '../errors/enablement-error.js';
import { isClock } from '../options/options.js';
import {
  type Clock,
  type ConsensusTimestamp,
  millisToNanos,
  NANOS_PER_MILLI,
  systemClock,
} from '../time/clock.js';
import { CircuitOpenError } from './errors.js';

/** Default {@link CircuitBreakerOptions.consecutiveFailures}. */
export const DEFAULT_CIRCUIT_CONSECUTIVE_FAILURES = 5;
/** Default {@link CircuitBreakerOptions.openDurationMs}: 30 s. */
export const DEFAULT_CIRCUIT_OPEN_DURATION_MS = 30_000;
/** Default {@link CircuitBreakerSampling.buckets}. */
export const DEFAULT_CIRCUIT_SAMPLING_BUCKETS = 10;
/** Most state-change listeners one breaker holds. */
export const MAX_CIRCUIT_LISTENERS = 100;

/**
 * The states of spec §11.3: `closed` (calls go through), `open` (calls are rejected without
 * being made), `half_open` (one trial call goes through; its outcome closes or reopens).
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

/** A state transition, as told to listeners. */
export interface CircuitStateChange {
  /** Name of the breaker. */
  readonly breaker: string;
  /** State before. */
  readonly from: CircuitState;
  /** State after. */
  readonly to: CircuitState;
  /** When, on the breaker's clock (Unix ns). */
  readonly at: ConsensusTimestamp;
}

/** Failure-rate opening: the share of failed calls over a rolling time window. */
export interface CircuitBreakerSampling {
  /** Opens when failures / calls in the window reach this share, in `(0, 1]`. */
  readonly failureRateThreshold: number;
  /** Length of the rolling window, ms (integer ≥ 1). */
  readonly windowMs: number;
  /** Fewest calls in the window before the rate counts, so that 1 failure of 1 call does not open. */
  readonly minimumThroughput: number;
  /**
   * The window is kept as this many fixed slices that expire one at a time
   * ({@link DEFAULT_CIRCUIT_SAMPLING_BUCKETS}; at most 1000): memory is constant whatever the
   * call rate, and the window slides in steps of `windowMs / buckets`.
   */
  readonly buckets?: number;
}

/** Options of {@link createCircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Name carried by rejections and state changes (1–128 visible characters). */
  name: string;
  /** Clock for the open duration and the sampling window; the system clock by default. */
  clock?: Clock;
  /**
   * Opens after this many failures in a row. Default {@link DEFAULT_CIRCUIT_CONSECUTIVE_FAILURES}
   * when `sampling` is not given; with `sampling` and no value here, only the rate applies.
   */
  consecutiveFailures?: number;
  /** Also (or only) opens on the failure rate over a rolling window. */
  sampling?: CircuitBreakerSampling;
  /** How long the breaker stays open before a trial call, ms ({@link DEFAULT_CIRCUIT_OPEN_DURATION_MS}). */
  openDurationMs?: number;
  /**
   * Which errors count as failures of the protected dependency; {@link isDependencyFailure} by
   * default. Other errors (the dependency answered, with a business error) count as successes.
   */
  isFailure?: (error: unknown) => boolean;
  /** A first state-change listener (more with {@link CircuitBreaker.onStateChange}). */
  onStateChange?: (change: CircuitStateChange) => void;
}

/** Counters, for health endpoints and tests. */
export interface CircuitBreakerStats {
  /** The current state. */
  readonly state: CircuitState;
  /** Failures in a row while closed. */
  readonly consecutiveFailures: number;
  /** Calls recorded in the sampling window (0 without sampling). */
  readonly windowCalls: number;
  /** Failures recorded in the sampling window (0 without sampling). */
  readonly windowFailures: number;
}

/** A closed / open / half-open circuit breaker (spec §11.3). */
export interface CircuitBreaker {
  /** The breaker's name. */
  readonly name: string;
  /** The current state (an open breaker whose duration is over reports, and becomes, `half_open`). */
  readonly state: CircuitState;
  /** Counters of the current state. */
  readonly stats: CircuitBreakerStats;
  /**
   * Calls `fn` unless the breaker is open, or half-open with its trial running: then rejects with
   * a {@link CircuitOpenError} (`PL-503`, retryable) without calling it. `fn`'s own outcome is
   * returned or rethrown unchanged.
   */
  execute<T>(fn: () => T | Promise<T>): Promise<T>;
  /** Adds a state-change listener; returns its removal. Listener exceptions are swallowed. */
  onStateChange(listener: (change: CircuitStateChange) => void): () => void;
  /** Forces the breaker closed with fresh counters (an operator's override). */
  reset(): void;
}

/**
 * The default failure predicate: an `EnablementError` that says the dependency is unavailable
 * (catalogue kind `unavailable`) or that is retryable, except `pending` codes (`RT-202`,
 * `OV-202`: a normal answer, not a fault). Other errors, and anything not an `EnablementError`
 * (most likely a bug on the caller's side), do not trip the breaker.
 */
export function isDependencyFailure(error: unknown): boolean {
  if (!EnablementError.is(error)) return false;
  const kind = ERROR_CATALOGUE[error.code].kind;
  return kind === 'unavailable' || (error.retryable && kind !== 'pending');
}

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `circuit breaker: ${message}`);
}

function positiveInteger(value: unknown, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalid(`${name} must be an integer in [1, ${max}]`);
  }
  return value;
}

/** Success and failure counts over a rolling window, in a ring of fixed time slices. */
class RollingWindow {
  readonly #calls: number[];
  readonly #failures: number[];
  readonly #bucketNs: bigint;
  #index = 0;
  #bucketStart: ConsensusTimestamp;

  constructor(windowMs: number, buckets: number, now: ConsensusTimestamp) {
    this.#calls = new Array<number>(buckets).fill(0);
    this.#failures = new Array<number>(buckets).fill(0);
    this.#bucketNs = millisToNanos(windowMs) / BigInt(buckets);
    if (this.#bucketNs < 1n) throw invalid('sampling.windowMs / sampling.buckets must be at least 1 ns');
    this.#bucketStart = now;
  }

  record(now: ConsensusTimestamp, failed: boolean): void {
    this.#roll(now);
    this.#calls[this.#index] = (this.#calls[this.#index] ?? 0) + 1;
    if (failed) this.#failures[this.#index] = (this.#failures[this.#index] ?? 0) + 1;
  }

  totals(now: ConsensusTimestamp): { calls: number; failures: number } {
    this.#roll(now);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < this.#calls.length; i++) {
      calls += this.#calls[i] ?? 0;
      failures += this.#failures[i] ?? 0;
    }
    return { calls, failures };
  }

  clear(now: ConsensusTimestamp): void {
    this.#calls.fill(0);
    this.#failures.fill(0);
    this.#index = 0;
    this.#bucketStart = now;
  }

  /** Moves to the slice that contains `now`, emptying the slices that expired on the way. */
  #roll(now: ConsensusTimestamp): void {
    if (now < this.#bucketStart + this.#bucketNs) return;
    const steps = (now - this.#bucketStart) / this.#bucketNs;
    if (steps >= BigInt(this.#calls.length)) {
      this.clear(now);
      return;
    }
    for (let i = 0n; i < steps; i++) {
      this.#index = (this.#index + 1) % this.#calls.length;
      this.#calls[this.#index] = 0;
      this.#failures[this.#index] = 0;
    }
    this.#bucketStart += steps * this.#bucketNs;
  }
}

class Breaker implements CircuitBreaker {
  readonly name: string;
  readonly #clock: Clock;
  readonly #threshold: number | undefined;
  readonly #sampling: { rate: number; minimum: number; window: RollingWindow } | undefined;
  readonly #openNs: bigint;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #listeners = new Set<(change: CircuitStateChange) => void>();
  #state: CircuitState = 'closed';
  // Bumped on every transition: a call that started under an earlier state cannot change the
  // current one (a slow success from before the breaker opened must not close it).
  #generation = 0;
  #consecutive = 0;
  #openUntil: ConsensusTimestamp = 0n;
  #trialRunning = false;

  constructor(options: CircuitBreakerOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object');
    if (typeof options.name !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(options.name)) {
      throw invalid('name must be 1–128 visible ASCII characters');
    }
    this.name = options.name;
    this.#clock = options.clock ?? systemClock;
    if (!isClock(this.#clock)) throw invalid('clock must implement Clock');
    const sampling = options.sampling;
    if (sampling !== undefined) {
      if (typeof sampling !== 'object' || sampling === null) throw invalid('sampling must be an object');
      const rate = sampling.failureRateThreshold;
      if (typeof rate !== 'number' || !(rate > 0 && rate <= 1)) {
        throw invalid('sampling.failureRateThreshold must be a number in (0, 1]');
      }
      const windowMs = positiveInteger(sampling.windowMs, 'sampling.windowMs');
      const minimum = positiveInteger(sampling.minimumThroughput, 'sampling.minimumThroughput');
      const buckets =
        sampling.buckets === undefined
          ? DEFAULT_CIRCUIT_SAMPLING_BUCKETS
          : positiveInteger(sampling.buckets, 'sampling.buckets', 1000);
      this.#sampling = { rate, minimum, window: new RollingWindow(windowMs, buckets, this.#clock.now()) };
    }
    this.#threshold =
      options.consecutiveFailures !== undefined
        ? positiveInteger(options.consecutiveFailures, 'consecutiveFailures')
        : sampling === undefined
          ? DEFAULT_CIRCUIT_CONSECUTIVE_FAILURES
          : undefined;
    this.#openNs = millisToNanos(
      options.openDurationMs === undefined
        ? DEFAULT_CIRCUIT_OPEN_DURATION_MS
        : positiveInteger(options.openDurationMs, 'openDurationMs'),
    );
    if (options.isFailure !== undefined && typeof options.isFailure !== 'function') {
      throw invalid('isFailure must be a function');
    }
    this.#isFailure = options.isFailure ?? isDependencyFailure;
    if (options.onStateChange !== undefined) this.onStateChange(options.onStateChange);
  }

  get state(): CircuitState {
    return this.#refresh(this.#clock.now());
  }

  get stats(): CircuitBreakerStats {
    const now = this.#clock.now();
    const state = this.#refresh(now);
    const totals = this.#sampling?.window.totals(now) ?? { calls: 0, failures: 0 };
    return {
      state,
      consecutiveFailures: this.#consecutive,
      windowCalls: totals.calls,
      windowFailures: totals.failures,
    };
  }

  async execute<T>(fn: () => T | Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw invalid('fn must be a function');
    const now = this.#clock.now();
    const state = this.#refresh(now);
    if (state === 'open') {
      const ms = Number((this.#openUntil - now + NANOS_PER_MILLI - 1n) / NANOS_PER_MILLI);
      throw new CircuitOpenError(this.name, 'open', Math.max(1, ms));
    }
    let trial = false;
    if (state === 'half_open') {
      if (this.#trialRunning) throw new CircuitOpenError(this.name, 'trial_in_progress');
      this.#trialRunning = true;
      trial = true;
    }
    const generation = this.#generation;
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      this.#record(generation, trial, this.#counts(error));
      throw error;
    }
    this.#record(generation, trial, false);
    return value;
  }

  onStateChange(listener: (change: CircuitStateChange) => void): () => void {
    if (typeof listener !== 'function') throw invalid('listener must be a function');
    if (this.#listeners.size >= MAX_CIRCUIT_LISTENERS && !this.#listeners.has(listener)) {
      throw invalid(`more than ${MAX_CIRCUIT_LISTENERS} state-change listeners`);
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  reset(): void {
    this.#close(this.#clock.now());
  }

  #counts(error: unknown): boolean {
    try {
      return this.#isFailure(error) === true;
    } catch {
      // A predicate that cannot decide is treated as a failure: erring towards protection.
      return true;
    }
  }

  /** The state at `now`: an open breaker whose duration is over moves to half-open here. */
  #refresh(now: ConsensusTimestamp): CircuitState {
    if (this.#state === 'open' && now >= this.#openUntil) {
      this.#trialRunning = false;
      this.#transition('half_open', now);
    }
    return this.#state;
  }

  #record(generation: number, trial: boolean, failed: boolean): void {
    if (generation !== this.#generation) return;
    const now = this.#clock.now();
    if (trial) {
      this.#trialRunning = false;
      if (failed) this.#open(now);
      else this.#close(now);
      return;
    }
    // Closed (the only other state a call can start in).
    this.#consecutive = failed ? this.#consecutive + 1 : 0;
    let open = this.#threshold !== undefined && this.#consecutive >= this.#threshold;
    if (this.#sampling !== undefined) {
      const { window, rate, minimum } = this.#sampling;
      window.record(now, failed);
      if (failed && !open) {
        const totals = window.totals(now);
        open = totals.calls >= minimum && totals.failures >= rate * totals.calls;
      }
    }
    if (open) this.#open(now);
  }

  #open(now: ConsensusTimestamp): void {
    this.#openUntil = now + this.#openNs;
    this.#transition('open', now);
  }

  #close(now: ConsensusTimestamp): void {
    this.#consecutive = 0;
    this.#trialRunning = false;
    this.#sampling?.window.clear(now);
    this.#transition('closed', now);
  }

  #transition(to: CircuitState, at: ConsensusTimestamp): void {
    const from = this.#state;
    this.#state = to;
    this.#generation++;
    if (from === to) return;
    const change: CircuitStateChange = { breaker: this.name, from, to, at };
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch {
        // Observers must not break the state machine or the call that triggered the change.
      }
    }
  }
}

/**
 * Builds a {@link CircuitBreaker} on the injected clock (spec §11.3).
 *
 * Closed, it counts failures (see {@link isDependencyFailure}); it opens after
 * `consecutiveFailures` in a row, or when the failure rate over the `sampling` window reaches its
 * threshold with at least `minimumThroughput` calls. Open, it rejects every call with `PL-503`
 * (`retryAfterMs` = time left) for `openDurationMs`. Then it is half-open: exactly one trial call
 * goes through (others are rejected while it runs); success closes the breaker, failure opens it
 * for another full duration. No timer is scheduled: the open → half-open move happens on the
 * first look at the breaker after the duration.
 *
 * @example
 * ```ts
 * const breaker = createCircuitBreaker({ name: 'creto-audit', clock, consecutiveFailures: 5 });
 * await breaker.execute(() => audit.append(event));
 * ```
 */
export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new Breaker(options);
}
