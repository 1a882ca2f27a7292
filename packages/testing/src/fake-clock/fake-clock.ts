import {
  assertInt64,
  type CancelTimer,
  type Clock,
  type ConsensusTimestamp,
  EnablementError,
  millisToNanos,
  type TimerEntry,
  TimerHeap,
} from '@creto/core';

/**
 * Where a {@link FakeClock} starts unless told otherwise: 2026-01-01T00:00:00Z, as Unix
 * nanoseconds. A fixed, realistic instant keeps test output reproducible and far from 0, so code
 * that subtracts durations from `now()` does not go negative.
 */
export const DEFAULT_FAKE_CLOCK_START: ConsensusTimestamp = 1_767_225_600_000_000_000n;

/** Default bound on timers fired by one advance or run (see {@link FakeClockOptions.maxTimersPerRun}). */
export const DEFAULT_MAX_TIMERS_PER_RUN = 10_000;

/** Default bound on pending timers (see {@link FakeClockOptions.maxPendingTimers}). */
export const DEFAULT_MAX_PENDING_TIMERS = 100_000;

/** Options of {@link FakeClock}. */
export interface FakeClockOptions {
  /** Initial `now()`, Unix nanoseconds; {@link DEFAULT_FAKE_CLOCK_START} by default. */
  start?: ConsensusTimestamp;
  /**
   * Most timers one `advance*` / `runAll*` call may fire before it gives up with `PL-500`, so a
   * timer that keeps rescheduling itself fails the test instead of hanging it.
   * {@link DEFAULT_MAX_TIMERS_PER_RUN} by default.
   */
  maxTimersPerRun?: number;
  /**
   * Most timers pending at once; `schedule` beyond it throws `PL-500` (a leak in the code under
   * test, usually). {@link DEFAULT_MAX_PENDING_TIMERS} by default.
   */
  maxPendingTimers?: number;
}

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `FakeClock: ${message}`);
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw invalid(`${name} must be a positive integer`);
  return value;
}

// Captured at load, so that a test which later fakes the global timers (vi.useFakeTimers) does
// not stall the async variants.
const realSetImmediate = globalThis.setImmediate;

// Lets every pending promise continuation run: `setImmediate` fires only after the microtask
// queue is empty, however long the chain of `then`s that the last timer started.
function flushPromises(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/**
 * A {@link Clock} whose time moves only when the test says so (Temporal-style time skipping):
 * `advance(ms)` jumps forward and fires every timer that falls due on the way, in deadline order
 * (timers with equal deadlines in the order they were scheduled), with `now()` equal to each
 * timer's deadline while its callback runs. Timers that callbacks schedule inside the window fire
 * in the same advance. Time never goes backwards.
 *
 * Timers never fire on their own: one scheduled at or before `now()` fires at the next
 * `advance*` (`advance(0)` is enough) or `runAll*`, at the current time.
 *
 * A callback that throws does not stop the others: errors are collected and rethrown together
 * as an `AggregateError` once the advance is complete (time has then reached its target).
 *
 * Use the `*Async` variants when the code under test awaits between timers (`await sleep(clock,
 * 100)` in a loop): they let promise continuations run after each timer, so the next `sleep` is
 * scheduled before the clock looks for the next due timer.
 *
 * Pending timers live in one binary heap: O(log n) schedule, fire and cancel.
 *
 * @example
 * ```ts
 * const clock = new FakeClock();
 * const done = sleep(clock, 1_000);
 * await clock.advanceAsync(1_000);
 * await done; // resolved, and clock.now() is start + 1 s
 * ```
 */
export class FakeClock implements Clock {
  #now: ConsensusTimestamp;
  #seq = 0;
  #running = false;
  readonly #timers = new TimerHeap();
  readonly #maxTimersPerRun: number;
  readonly #maxPendingTimers: number;

  constructor(options: FakeClockOptions = {}) {
    const start = options.start ?? DEFAULT_FAKE_CLOCK_START;
    if (typeof start !== 'bigint') throw invalid('start must be a bigint of Unix nanoseconds');
    assertInt64(start, 'FakeClock: start');
    this.#now = start;
    this.#maxTimersPerRun = positiveInteger(
      options.maxTimersPerRun,
      DEFAULT_MAX_TIMERS_PER_RUN,
      'maxTimersPerRun',
    );
    this.#maxPendingTimers = positiveInteger(
      options.maxPendingTimers,
      DEFAULT_MAX_PENDING_TIMERS,
      'maxPendingTimers',
    );
  }

  /** The fake current time, Unix nanoseconds. */
  now(): ConsensusTimestamp {
    return this.#now;
  }

  /** Number of timers scheduled and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Deadline of the next timer to fire, or `undefined` when none is pending. */
  get nextDeadline(): ConsensusTimestamp | undefined {
    return this.#timers.peek()?.deadline;
  }

  /**
   * Schedules `callback` for when time reaches `at`. A deadline in the past counts as `now()`
   * (time cannot go back to it). Returns a function that cancels the timer; calling it after
   * the timer fired, or twice, does nothing.
   */
  schedule(at: ConsensusTimestamp, callback: () => void): CancelTimer {
    if (typeof at !== 'bigint') throw invalid('schedule: at must be a bigint of Unix nanoseconds');
    assertInt64(at, 'FakeClock: schedule at');
    if (typeof callback !== 'function') throw invalid('schedule: callback must be a function');
    if (this.#timers.size >= this.#maxPendingTimers) {
      throw new EnablementError(
        'PL-500',
        `FakeClock: more than ${this.#maxPendingTimers} pending timers; is the code under test leaking them?`,
      );
    }
    const node: TimerEntry = {
      deadline: at > this.#now ? at : this.#now,
      seq: this.#seq++,
      callback,
      index: -1,
    };
    this.#timers.push(node);
    return () => {
      this.#timers.remove(node);
    };
  }

  /**
   * Moves time forward by `ms` milliseconds (rounded to the nanosecond), firing due timers.
   * Returns the number of timers fired. Negative or non-finite `ms` throws `PL-400`.
   */
  advance(ms: number): number {
    return this.advanceNs(this.#msToNs(ms));
  }

  /** Moves time forward by `ns` nanoseconds, firing due timers; returns how many fired. */
  advanceNs(ns: bigint): number {
    return this.advanceTo(this.#targetAfter(ns));
  }

  /**
   * Moves time forward to `at`, firing due timers; returns how many fired. `at` before `now()`
   * throws `PL-400`: time never goes backwards.
   */
  advanceTo(at: ConsensusTimestamp): number {
    this.#checkTarget(at);
    return this.#exclusive(() => this.#runSync(at));
  }

  /**
   * Fires every pending timer, including those that callbacks schedule, moving time to each
   * deadline in turn; returns how many fired. Time ends at the last deadline fired. Throws
   * `PL-500` after `maxTimersPerRun` timers (a timer that keeps rescheduling itself).
   */
  runAll(): number {
    return this.#exclusive(() => this.#runSync(undefined));
  }

  /** {@link FakeClock.advance}, letting promise continuations run after each timer. */
  async advanceAsync(ms: number): Promise<number> {
    return this.advanceNsAsync(this.#msToNs(ms));
  }

  /** {@link FakeClock.advanceNs}, letting promise continuations run after each timer. */
  async advanceNsAsync(ns: bigint): Promise<number> {
    return this.advanceToAsync(this.#targetAfter(ns));
  }

  /** {@link FakeClock.advanceTo}, letting promise continuations run after each timer. */
  async advanceToAsync(at: ConsensusTimestamp): Promise<number> {
    this.#checkTarget(at);
    return this.#exclusiveAsync(() => this.#runAsync(at));
  }

  /**
   * {@link FakeClock.runAll}, letting promise continuations run after each timer (and before
   * deciding that no timer is left), so chains of `await sleep(...)` run to completion.
   */
  async runAllAsync(): Promise<number> {
    return this.#exclusiveAsync(() => this.#runAsync(undefined));
  }

  #msToNs(ms: number): bigint {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw invalid('advance: ms must be a finite, non-negative number (time never goes backwards)');
    }
    return millisToNanos(ms);
  }

  #targetAfter(ns: bigint): ConsensusTimestamp {
    if (typeof ns !== 'bigint' || ns < 0n) {
      throw invalid('advance: ns must be a non-negative bigint (time never goes backwards)');
    }
    return this.#now + ns;
  }

  #checkTarget(at: ConsensusTimestamp): void {
    if (typeof at !== 'bigint') throw invalid('advanceTo: at must be a bigint of Unix nanoseconds');
    if (at < this.#now) {
      throw invalid(`advanceTo: ${at} is before now (${this.#now}); time never goes backwards`);
    }
    assertInt64(at, 'FakeClock: advance target');
  }

  // One advance at a time: a callback (or a concurrent async advance) that advances again
  // would interleave two walks over the same timers and let time jump past due deadlines.
  #enter(): void {
    if (this.#running) {
      throw new EnablementError('PL-409', 'FakeClock: advance or runAll called while another one is running');
    }
    this.#running = true;
  }

  #exclusive<T>(run: () => T): T {
    this.#enter();
    try {
      return run();
    } finally {
      this.#running = false;
    }
  }

  async #exclusiveAsync<T>(run: () => Promise<T>): Promise<T> {
    this.#enter();
    try {
      return await run();
    } finally {
      this.#running = false;
    }
  }

  /** The next timer due at or before `target` (any timer when `target` is undefined). */
  #nextDue(target: ConsensusTimestamp | undefined): TimerEntry | undefined {
    const next = this.#timers.peek();
    if (next === undefined || (target !== undefined && next.deadline > target)) return undefined;
    this.#timers.pop();
    return next;
  }

  /** Fires one timer at its deadline, collecting what it throws. */
  #fire(timer: TimerEntry, fired: number, errors: unknown[]): void {
    if (fired >= this.#maxTimersPerRun) {
      // Put it back: the test may inspect or cancel it after the failure.
      this.#timers.push(timer);
      throw new EnablementError(
        'PL-500',
        `FakeClock: more than ${this.#maxTimersPerRun} timers fired in one run; does a timer reschedule itself forever?`,
        errors.length > 0 ? { cause: new AggregateError(errors, 'timer callbacks that threw before') } : {},
      );
    }
    this.#now = timer.deadline;
    try {
      timer.callback();
    } catch (error) {
      errors.push(error);
    }
  }

  #finish(target: ConsensusTimestamp | undefined, fired: number, errors: unknown[]): number {
    if (target !== undefined) this.#now = target;
    if (errors.length > 0) {
      throw new AggregateError(errors, `FakeClock: ${errors.length} timer callback(s) threw`);
    }
    return fired;
  }

  #runSync(target: ConsensusTimestamp | undefined): number {
    const errors: unknown[] = [];
    let fired = 0;
    for (let timer = this.#nextDue(target); timer !== undefined; timer = this.#nextDue(target)) {
      this.#fire(timer, fired, errors);
      fired++;
    }
    return this.#finish(target, fired, errors);
  }

  async #runAsync(target: ConsensusTimestamp | undefined): Promise<number> {
    const errors: unknown[] = [];
    let fired = 0;
    // Continuations already queued (a `sleep` about to be called) get to schedule first.
    await flushPromises();
    for (let timer = this.#nextDue(target); timer !== undefined; timer = this.#nextDue(target)) {
      this.#fire(timer, fired, errors);
      fired++;
      await flushPromises();
    }
    return this.#finish(target, fired, errors);
  }
}
