import { z } from 'zod';
import { INT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { clockSchema, parseOptions } from '../options/options.js';
import {
  type CancelTimer,
  type Clock,
  type ConsensusTimestamp,
  millisToNanos,
  systemClock,
} from '../time/clock.js';
import { type TimerEntry, TimerHeap } from '../time/timer-heap.js';

/** Default bound on pending timers of one {@link Scheduler} (about 10 MB of timer entries). */
export const DEFAULT_SCHEDULER_MAX_PENDING_TIMERS = 100_000;

/** Largest `maxPendingTimers` accepted. */
export const MAX_SCHEDULER_PENDING_TIMERS = 10_000_000;

/** Default number of callbacks one wake-up runs before yielding back to the clock. */
export const DEFAULT_SCHEDULER_MAX_FIRES_PER_RUN = 10_000;

/** What {@link SchedulerOptions.onError} learns about the timer whose callback threw. */
export interface SchedulerErrorInfo {
  /** The deadline the timer was scheduled for. */
  readonly deadline: ConsensusTimestamp;
}

/** Options of {@link createScheduler}. */
export interface SchedulerOptions {
  /** Time source; default `systemClock`. Tests pass `FakeClock` from `@creto/testing`. */
  readonly clock?: Clock;
  /**
   * Most timers pending at once, 1 to {@link MAX_SCHEDULER_PENDING_TIMERS}; default
   * {@link DEFAULT_SCHEDULER_MAX_PENDING_TIMERS}. At the limit `schedule` throws `PL-409` and nothing is
   * scheduled (no timer is ever dropped to make room).
   */
  readonly maxPendingTimers?: number;
  /**
   * Most callbacks run in one wake-up, 1 to 1 000 000; default {@link DEFAULT_SCHEDULER_MAX_FIRES_PER_RUN}.
   * Beyond it the scheduler re-arms the clock for `now` and yields, so a callback that keeps
   * scheduling due timers cannot starve the event loop.
   */
  readonly maxFiresPerRun?: number;
  /**
   * Called with what a callback threw; the remaining timers still fire. Without a hook (or when
   * the hook itself throws) the error is rethrown from a fresh microtask, as an exception in a
   * `setTimeout` callback would be: isolated from the other timers, never silently lost.
   */
  readonly onError?: (error: unknown, info: SchedulerErrorInfo) => void;
}

/**
 * Many deadlines on one clock timer (see {@link createScheduler}). Used for escalations, TTLs and
 * retries.
 */
export interface Scheduler {
  /**
   * Runs `callback` once when the clock reaches `at` (Unix ns). A deadline in the past fires at
   * the next wake-up, never synchronously inside `schedule`. Timers fire in deadline order, equal
   * deadlines in scheduling order. Returns an idempotent cancel function. Throws `PL-400` for a
   * bad deadline or callback and `PL-409` when the scheduler is full or disposed.
   */
  schedule(at: ConsensusTimestamp, callback: () => void): CancelTimer;
  /** `schedule(clock.now() + delayMs)`; `delayMs` must be finite and non-negative (`PL-400`). */
  scheduleAfter(delayMs: number, callback: () => void): CancelTimer;
  /** Number of timers scheduled and neither fired nor cancelled. */
  readonly pending: number;
  /** Earliest pending deadline, or `undefined` when nothing is pending. */
  readonly nextDeadline: ConsensusTimestamp | undefined;
  /** The bound on pending timers. */
  readonly maxPendingTimers: number;
  /** Cancels every pending timer and releases the clock timer; later `schedule` calls throw `PL-409`. */
  dispose(): void;
  /** True after {@link Scheduler.dispose}. */
  readonly disposed: boolean;
}

const optionsSchema = z.strictObject({
  clock: clockSchema.optional(),
  maxPendingTimers: z.number().int().min(1).max(MAX_SCHEDULER_PENDING_TIMERS).optional(),
  maxFiresPerRun: z.number().int().min(1).max(1_000_000).optional(),
  onError: z
    .custom<(error: unknown, info: SchedulerErrorInfo) => void>((v) => typeof v === 'function', {
      error: 'expected a function',
    })
    .optional(),
});

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * A deadline scheduler on a {@link Clock}: pending timers live in one binary heap ordered by
 * `(deadline, scheduling order)`, and the scheduler holds at most one `clock.schedule` timer,
 * armed for the earliest deadline and re-armed as the earliest changes. Scheduling and cancelling
 * cost O(log n); many thousands of timers cost one clock timer.
 *
 * When the armed timer fires, every timer due by `clock.now()` runs in order (timers that
 * callbacks schedule for `now` or earlier run in the same wake-up, up to `maxFiresPerRun`). A
 * cancelled earliest timer leaves the clock timer armed; it wakes early, finds nothing due and
 * re-arms (cheaper than re-arming on every cancel). When nothing is pending the clock timer is
 * released.
 *
 * @example
 * ```ts
 * const scheduler = createScheduler({ clock, onError: (e) => log.error(e) });
 * const cancel = scheduler.schedule(request.expiresAt, () => escalate(request));
 * // later, if the request is decided first:
 * cancel();
 * ```
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  const parsed = parseOptions(optionsSchema, options, 'createScheduler');
  const clock = parsed.clock ?? systemClock;
  const maxPendingTimers = parsed.maxPendingTimers ?? DEFAULT_SCHEDULER_MAX_PENDING_TIMERS;
  const maxFiresPerRun = parsed.maxFiresPerRun ?? DEFAULT_SCHEDULER_MAX_FIRES_PER_RUN;
  const onError = parsed.onError;
  const heap = new TimerHeap();
  let seq = 0;
  let firing = false;
  let disposed = false;
  // The one clock timer: its deadline, its cancel, and a token so a late or duplicate firing of
  // a timer already replaced is ignored.
  let armed: { readonly at: bigint; readonly cancel: CancelTimer; readonly token: object } | undefined;

  const report = (error: unknown, deadline: bigint): void => {
    if (onError === undefined) {
      rethrowLater(error);
      return;
    }
    try {
      onError(error, { deadline });
    } catch (hookError) {
      rethrowLater(hookError);
    }
  };

  const disarm = (): void => {
    const current = armed;
    armed = undefined;
    current?.cancel();
  };

  const arm = (): void => {
    if (firing || disposed) return;
    const top = heap.peek();
    if (top === undefined) {
      disarm();
      return;
    }
    // An armed timer that fires no later than the earliest deadline is good enough.
    if (armed !== undefined && armed.at <= top.deadline) return;
    disarm();
    const token = {};
    const at = top.deadline;
    const cancel = clock.schedule(at, () => wake(token));
    armed = { at, cancel, token };
  };

  const wake = (token: object): void => {
    if (armed?.token !== token) return;
    armed = undefined;
    firing = true;
    let fired = 0;
    try {
      for (let top = heap.peek(); top !== undefined && !disposed; top = heap.peek()) {
        if (top.deadline > clock.now() || fired >= maxFiresPerRun) break;
        heap.pop();
        fired++;
        try {
          top.callback();
        } catch (error) {
          report(error, top.deadline);
        }
      }
    } finally {
      firing = false;
    }
    try {
      arm();
    } catch (error) {
      // The clock refused a timer (e.g. a bounded fake clock): report it; the next `schedule`
      // call tries to arm again.
      report(error, heap.peek()?.deadline ?? 0n);
    }
  };

  const schedule = (at: ConsensusTimestamp, callback: () => void): CancelTimer => {
    if (typeof at !== 'bigint' || at < 0n || at > INT64_MAX) {
      throw new EnablementError('PL-400', 'at: expected a non-negative int64 bigint of Unix nanoseconds');
    }
    if (typeof callback !== 'function') throw new EnablementError('PL-400', 'callback: expected a function');
    if (disposed) throw new EnablementError('PL-409', 'scheduler is disposed');
    if (heap.size >= maxPendingTimers) {
      throw new EnablementError(
        'PL-409',
        `scheduler is full (${maxPendingTimers} pending timers); nothing was scheduled`,
      );
    }
    const entry: TimerEntry = { deadline: at, seq: seq++, callback, index: -1 };
    heap.push(entry);
    try {
      arm();
    } catch (error) {
      heap.remove(entry);
      throw error;
    }
    return () => {
      if (heap.remove(entry) && heap.size === 0 && !firing) disarm();
    };
  };

  return Object.freeze({
    schedule,
    scheduleAfter(delayMs: number, callback: () => void): CancelTimer {
      if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
        throw new EnablementError(
          'PL-400',
          'delayMs: expected a finite, non-negative number of milliseconds',
        );
      }
      return schedule(clock.now() + millisToNanos(delayMs), callback);
    },
    get pending(): number {
      return heap.size;
    },
    get nextDeadline(): ConsensusTimestamp | undefined {
      return heap.peek()?.deadline;
    },
    maxPendingTimers,
    dispose(): void {
      disposed = true;
      heap.clear();
      disarm();
    },
    get disposed(): boolean {
      return disposed;
    },
  });
}
