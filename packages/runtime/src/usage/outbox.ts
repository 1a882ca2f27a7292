import {
  type CancelTimer,
  EnablementError,
  type Logger,
  type RuntimeUsageEvent,
  type Scheduler,
  type UsageSink,
} from '@creto/core';

/** Default {@link UsageOutboxOptions.maxPending}: spec §4.1 "buffer events locally (max 10K)". */
export const DEFAULT_MAX_PENDING_USAGE_EVENTS = 10_000;
/** Default first retry delay after a sink failure, ms (spec §8.4 transient backoff). */
export const DEFAULT_USAGE_RETRY_INITIAL_MS = 100;
/** Default longest retry delay, ms (spec §8.4 transient backoff). */
export const DEFAULT_USAGE_RETRY_MAX_MS = 30_000;

/** Options of {@link createUsageOutbox}. */
export interface UsageOutboxOptions {
  /** Where events go; without one they wait in the outbox until {@link UsageOutbox.drain}. */
  readonly sink?: UsageSink | undefined;
  /** Runs retries on the engine's clock. */
  readonly scheduler: Scheduler;
  /** Sink failures are logged here (no event content beyond ids). */
  readonly logger: Logger;
  /** Most events waiting (reserved slots included); see {@link UsageOutbox.reserve}. */
  readonly maxPending?: number;
  /** First retry delay, ms. */
  readonly retryInitialMs?: number;
  /** Longest retry delay, ms. */
  readonly retryMaxMs?: number;
}

/** A place in the outbox held for an event that is about to be produced. */
export interface UsageSlot {
  /** Puts the event in the reserved place and starts delivering it. Idempotent per slot. */
  commit(event: RuntimeUsageEvent): void;
  /** Gives the place back (the operation failed before producing usage). Idempotent per slot. */
  release(): void;
}

/** Counters of an outbox. */
export interface UsageOutboxStats {
  /** Events waiting to be accepted by the sink (or drained). */
  readonly pending: number;
  /** Places reserved for events being produced. */
  readonly reserved: number;
  /** Events the sink accepted since creation. */
  readonly published: number;
  /** Failed sink calls since creation (each is retried). */
  readonly failedAttempts: number;
}

/** What {@link UsageOutbox.flush} achieved. */
export interface UsageFlushResult {
  /** Events the sink accepted during this flush. */
  readonly published: number;
  /** Events still waiting afterwards. */
  readonly remaining: number;
}

/**
 * The runtime's usage outbox (spec §4.1 error handling: "buffer events locally (max 10K), retry
 * with backoff"). Signed events are delivered to the {@link UsageSink} in order; a sink failure
 * keeps the event and retries it with exponential backoff (on the scheduler), so an event is never
 * lost silently. The bound is enforced *before* usage happens: an operation that will produce an
 * event reserves a place first and fails with `RT-503` when the outbox is full, so the runtime
 * refuses new metered work rather than dropping its record.
 */
export interface UsageOutbox {
  /** Reserves a place; `RT-503` (retryable) when `maxPending` places are taken. */
  reserve(): UsageSlot;
  /**
   * Adds an event that must not be refused (a sandbox's termination record): it may exceed
   * `maxPending` by at most the number of live sandboxes, which are bounded separately.
   */
  pushUnbounded(event: RuntimeUsageEvent): void;
  /** Tries to deliver every waiting event now (cancelling a scheduled retry). */
  flush(): Promise<UsageFlushResult>;
  /** Removes and returns up to `max` waiting events not being delivered right now, oldest first. */
  drain(max?: number): RuntimeUsageEvent[];
  /** Counters. */
  stats(): UsageOutboxStats;
  /** Cancels a scheduled retry; waiting events stay (drain them, or flush before closing). */
  close(): void;
}

/** Builds a {@link UsageOutbox}. */
export function createUsageOutbox(options: UsageOutboxOptions): UsageOutbox {
  const { sink, scheduler, logger } = options;
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_USAGE_EVENTS;
  const initialMs = options.retryInitialMs ?? DEFAULT_USAGE_RETRY_INITIAL_MS;
  const maxMs = options.retryMaxMs ?? DEFAULT_USAGE_RETRY_MAX_MS;
  const queue: RuntimeUsageEvent[] = [];
  let head = 0;
  let reserved = 0;
  let published = 0;
  let failedAttempts = 0;
  let consecutiveFailures = 0;
  let pumping: Promise<number> | undefined;
  let inFlight: RuntimeUsageEvent | undefined;
  let retryTimer: CancelTimer | undefined;
  let closed = false;

  const waiting = (): number => queue.length - head;

  function compact(): void {
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  }

  function scheduleRetry(): void {
    if (closed || retryTimer !== undefined) return;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(30, consecutiveFailures - 1));
    try {
      retryTimer = scheduler.scheduleAfter(delay, () => {
        retryTimer = undefined;
        void pump();
      });
    } catch (error) {
      // A full or disposed scheduler: the events stay and the next enqueue or flush retries.
      logger.error('usage outbox could not schedule a retry', { error });
    }
  }

  async function deliver(): Promise<number> {
    let count = 0;
    while (sink !== undefined && waiting() > 0) {
      const event = queue[head] as RuntimeUsageEvent;
      inFlight = event;
      try {
        await sink.publish(event);
      } catch (error) {
        inFlight = undefined;
        failedAttempts++;
        consecutiveFailures++;
        logger.warn('usage sink refused an event; kept for retry', {
          operation: 'publish_usage_event',
          event_id: event.eventId,
          idempotency_key: event.idempotencyKey,
          attempt: consecutiveFailures,
          error,
        });
        scheduleRetry();
        return count;
      }
      inFlight = undefined;
      // `drain` may have removed events meanwhile, but never the one in flight (it is at `head`).
      queue[head] = undefined as unknown as RuntimeUsageEvent;
      head++;
      compact();
      published++;
      count++;
      consecutiveFailures = 0;
    }
    return count;
  }

  function pump(): Promise<number> {
    if (pumping !== undefined) return pumping;
    if (sink === undefined || waiting() === 0) return Promise.resolve(0);
    const run = deliver().finally(() => {
      pumping = undefined;
    });
    pumping = run;
    return run;
  }

  function push(event: RuntimeUsageEvent): void {
    queue.push(event);
    if (retryTimer === undefined) void pump();
  }

  return {
    reserve(): UsageSlot {
      if (waiting() + reserved >= maxPending) {
        throw new EnablementError(
          'RT-503',
          `usage outbox is full (${maxPending} events not yet accepted by the usage sink); metered operations are refused until it drains`,
          { retryable: true, retryAfterMs: initialMs },
        );
      }
      reserved++;
      let done = false;
      return {
        commit(event: RuntimeUsageEvent): void {
          if (done) return;
          done = true;
          reserved--;
          push(event);
        },
        release(): void {
          if (done) return;
          done = true;
          reserved--;
        },
      };
    },
    pushUnbounded(event: RuntimeUsageEvent): void {
      push(event);
    },
    async flush(): Promise<UsageFlushResult> {
      let count = 0;
      // Let a pass already running end, then run a fresh one now instead of waiting for a retry.
      if (pumping !== undefined) count += await pumping;
      if (retryTimer !== undefined) {
        retryTimer();
        retryTimer = undefined;
      }
      count += await pump();
      return { published: count, remaining: waiting() };
    },
    drain(max = Number.MAX_SAFE_INTEGER): RuntimeUsageEvent[] {
      const keep = inFlight !== undefined ? 1 : 0;
      const take = Math.max(0, Math.min(max, waiting() - keep));
      const start = head + keep;
      const out = queue.splice(start, take);
      return out;
    },
    stats(): UsageOutboxStats {
      return { pending: waiting(), reserved, published, failedAttempts };
    },
    close(): void {
      closed = true;
      if (retryTimer !== undefined) {
        retryTimer();
        retryTimer = undefined;
      }
    },
  };
}
