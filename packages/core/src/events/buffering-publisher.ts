import { z } from 'zod';
import { EnablementError } from '../errors/enablement-error.js';
import { TRANSIENT_BACKOFF } from '../errors/retry-strategy.js';
import { clockSchema, parseOptions } from '../options/options.js';
import { type CancelTimer, type Clock, millisToNanos, systemClock } from '../time/clock.js';
import { checkPublish } from './config.js';
import type { EventBus, EventHeaders, PublishAck, PublishOptions } from './types.js';

/** Default bound on buffered events (spec §4.1: "buffer events locally (max 10K)"). */
export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

const backoff = TRANSIENT_BACKOFF.kind === 'exponential_backoff' ? TRANSIENT_BACKOFF : undefined;
/** First retry delay: the spec's transient backoff (§8.4), 100 ms. */
export const DEFAULT_BUFFER_INITIAL_DELAY_MS = backoff?.initialDelayMs ?? 100;
/** Longest retry delay: the spec's transient backoff (§8.4), 30 s. */
export const DEFAULT_BUFFER_MAX_DELAY_MS = backoff?.maxDelayMs ?? 30_000;

/** An event held by a {@link BufferingPublisher}. */
export interface BufferedEvent {
  /** Subject to publish on. */
  readonly subject: string;
  /** Payload (the publisher's private copy). */
  readonly data: Uint8Array;
  /** Message id, if any (give one, so a retry after an ambiguous failure is deduplicated). */
  readonly msgId: string | undefined;
  /** Headers. */
  readonly headers: EventHeaders;
}

/** Options of {@link createBufferingPublisher}. */
export interface BufferingPublisherOptions {
  /** The bus to publish on (only `publish` is used). */
  readonly bus: Pick<EventBus, 'publish'>;
  /** Time source for the retry timer; default `systemClock`. */
  readonly clock?: Clock;
  /** Most events held (in flight included); default {@link DEFAULT_MAX_BUFFERED_EVENTS}. */
  readonly maxBuffered?: number;
  /** Delay before the first retry; default {@link DEFAULT_BUFFER_INITIAL_DELAY_MS}. Doubles per failure. */
  readonly initialDelayMs?: number;
  /** Cap on the retry delay; default {@link DEFAULT_BUFFER_MAX_DELAY_MS}. */
  readonly maxDelayMs?: number;
  /**
   * Jitter source returning a number in `[0, 1)`; default `Math.random`. Each delay is drawn
   * uniformly from `[d/2, d]` ("equal jitter"), so publishers that failed together do not retry
   * together. Tests pass a fixed function for deterministic delays.
   */
  readonly random?: () => number;
  /**
   * Which failures mean "the bus is unavailable, keep the event and retry"; default: an
   * `EnablementError` whose `retryable` is true (e.g. `PL-503`). Any other failure is final for
   * that event (see {@link BufferingPublisherOptions.onRejected}).
   */
  readonly isRetryable?: (error: unknown) => boolean;
  /**
   * Called when an event that was already accepted into the buffer fails with a non-retryable
   * error (a configuration error such as no stream for its subject): it leaves the buffer and its
   * `stored` promise rejects. Never called for events refused up front.
   */
  readonly onRejected?: (event: BufferedEvent, error: unknown) => void;
}

/** Outcome of {@link BufferingPublisher.publish}. */
export type BufferedPublishResult =
  | {
      /** The bus stored the event on the first attempt. */
      readonly status: 'published';
      /** The bus's acknowledgement. */
      readonly ack: PublishAck;
    }
  | {
      /** The bus was unavailable (or earlier events are still buffered): the event is held. */
      readonly status: 'buffered';
      /**
       * Resolves when the event is finally stored; rejects if it fails with a non-retryable error
       * or the publisher is closed with a timeout before it is stored. Awaiting it is optional:
       * an unobserved rejection is not reported as unhandled.
       */
      readonly stored: Promise<PublishAck>;
    };

/** Counters of a {@link BufferingPublisher}. */
export interface BufferingPublisherStats {
  /** Events held now (in flight included). */
  readonly buffered: number;
  /** Events stored since creation. */
  readonly published: number;
  /** Accepted events that failed with a non-retryable error. */
  readonly rejected: number;
  /** Retryable failures seen (each one starts a backoff wait). */
  readonly retries: number;
}

/** Options of {@link BufferingPublisher.close}. */
export interface BufferingPublisherCloseOptions {
  /**
   * Give up draining after this long (on the publisher's clock): the events still held are
   * rejected with `PL-503` and `close` rejects. Default: keep retrying until drained.
   */
  readonly timeoutMs?: number;
}

/**
 * A publisher that survives bus outages (spec §4.1 error table: "NATS unavailable: buffer events
 * locally (max 10K), retry with backoff"). See {@link createBufferingPublisher}.
 */
export interface BufferingPublisher {
  /**
   * Publishes `data`, or holds it while the bus is unavailable. Rejects at once with `PL-400` for
   * invalid input, with `PL-503` (retryable) when the buffer is full, and with `PL-503` (not
   * retryable) after `close`. A non-retryable failure on the first attempt rejects too.
   */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<BufferedPublishResult>;
  /** Events held now (in flight included). */
  readonly buffered: number;
  /** Counters. */
  readonly stats: BufferingPublisherStats;
  /**
   * Retries now instead of waiting for the backoff timer. Resolves once every event held at the
   * time of the call has left the buffer (stored, or rejected as non-retryable); rejects with
   * `PL-503` if the bus fails again meanwhile (the events stay held and the backoff resumes).
   */
  flush(): Promise<void>;
  /**
   * Stops accepting events and drains: retries now, then with backoff, until every held event is
   * stored. Idempotent (later calls return the same promise).
   */
  close(options?: BufferingPublisherCloseOptions): Promise<void>;
  /** Whether {@link BufferingPublisher.close} was called. */
  readonly closed: boolean;
}

const optionsSchema = z.strictObject({
  bus: z.custom<Pick<EventBus, 'publish'>>(
    (v) => typeof v === 'object' && v !== null && typeof (v as EventBus).publish === 'function',
    { error: 'expected an object with a publish method' },
  ),
  clock: clockSchema.optional(),
  maxBuffered: z.number().int().min(1).max(10_000_000).optional(),
  initialDelayMs: z.number().min(1).max(86_400_000).optional(),
  maxDelayMs: z.number().min(1).max(86_400_000).optional(),
  random: z.custom<() => number>((v) => typeof v === 'function', { error: 'expected a function' }).optional(),
  isRetryable: z
    .custom<(error: unknown) => boolean>((v) => typeof v === 'function', { error: 'expected a function' })
    .optional(),
  onRejected: z
    .custom<(event: BufferedEvent, error: unknown) => void>((v) => typeof v === 'function', {
      error: 'expected a function',
    })
    .optional(),
});

interface Entry {
  readonly event: BufferedEvent;
  readonly options: PublishOptions;
  /** Settles the caller's `publish` promise; cleared once called. */
  first: { resolve: (r: BufferedPublishResult) => void; reject: (e: unknown) => void } | undefined;
  /** Settles the `stored` promise of a buffered result. */
  stored: { resolve: (ack: PublishAck) => void; reject: (e: unknown) => void } | undefined;
  done: boolean;
}

interface FlushWaiter {
  readonly target: Entry;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Wraps any {@link EventBus} so that publishing survives an outage of the bus:
 *
 * - Events are published **one at a time, in call order**. While the bus fails with a retryable
 *   error the failed event and every later one are held (up to `maxBuffered`, 10 000 by default)
 *   and retried with exponential backoff and jitter on the clock; the first success flushes
 *   them in order. Events published during a flush queue behind it, so order always holds.
 * - When the buffer is full, `publish` rejects with retryable `PL-503`: nothing held is ever
 *   dropped to make room.
 * - A retry after an ambiguous failure (stored, but the reply was lost) stores the event twice
 *   unless it has a `msgId`, which the bus deduplicates: give every event one.
 *
 * @example
 * ```ts
 * const publisher = createBufferingPublisher({ bus, clock });
 * const result = await publisher.publish('metering.events.runtime', encodeJson(event), {
 *   msgId: event.idempotency_key,
 * });
 * if (result.status === 'buffered') log.warn('event bus unavailable; event buffered');
 * // on shutdown:
 * await publisher.close({ timeoutMs: 10_000 });
 * ```
 */
export function createBufferingPublisher(options: BufferingPublisherOptions): BufferingPublisher {
  const parsed = parseOptions(optionsSchema, options, 'createBufferingPublisher');
  const { bus } = parsed;
  const clock = parsed.clock ?? systemClock;
  const maxBuffered = parsed.maxBuffered ?? DEFAULT_MAX_BUFFERED_EVENTS;
  const initialDelayMs = parsed.initialDelayMs ?? DEFAULT_BUFFER_INITIAL_DELAY_MS;
  const maxDelayMs = Math.max(parsed.maxDelayMs ?? DEFAULT_BUFFER_MAX_DELAY_MS, initialDelayMs);
  const random = parsed.random ?? Math.random;
  const isRetryable = parsed.isRetryable ?? ((e: unknown) => EnablementError.is(e) && e.retryable);
  const onRejected = parsed.onRejected;

  // Bounded by maxBuffered: publish refuses beyond it. Slots before `head` are spent (undefined).
  const queue: (Entry | undefined)[] = [];
  let head = 0; // index of the first live entry (shifting an array per event is O(n))
  // Bounded by the callers: one per pending flush() call.
  const waiters: FlushWaiter[] = [];
  let inFlight = false;
  let timer: CancelTimer | undefined;
  let failures = 0;
  let published = 0;
  let rejected = 0;
  let retries = 0;
  let closed = false;
  let closing: Promise<void> | undefined;
  let drained: (() => void) | undefined;
  // Set when close() timed out: whatever is still in flight fails instead of being retried.
  let abandoned: EnablementError | undefined;

  const size = (): number => queue.length - head;

  const shift = (): Entry | undefined => {
    const entry = queue[head];
    if (entry === undefined) return undefined;
    queue[head] = undefined; // release the event for the GC
    head++;
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    return entry;
  };

  const markBuffered = (entry: Entry): void => {
    const first = entry.first;
    if (first === undefined) return;
    entry.first = undefined;
    const stored = new Promise<PublishAck>((resolve, reject) => {
      entry.stored = { resolve, reject };
    });
    // The caller may ignore `stored`; its rejection is still delivered to whoever awaits it.
    stored.catch(() => {});
    first.resolve(Object.freeze({ status: 'buffered', stored }));
  };

  const succeed = (entry: Entry, ack: PublishAck): void => {
    entry.done = true;
    published++;
    if (entry.first !== undefined) entry.first.resolve(Object.freeze({ status: 'published', ack }));
    else entry.stored?.resolve(ack);
    entry.first = undefined;
  };

  const fail = (entry: Entry, error: unknown, report: boolean): void => {
    entry.done = true;
    rejected++;
    if (entry.first !== undefined) {
      entry.first.reject(error);
      entry.first = undefined;
      return;
    }
    entry.stored?.reject(error);
    if (report && onRejected !== undefined) {
      try {
        onRejected(entry.event, error);
      } catch {
        // A failing hook must not stop the flush of the events behind this one.
      }
    }
  };

  const settleWaiters = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i] as FlushWaiter;
      if (waiter.target.done) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
    if (size() === 0 && drained !== undefined) drained();
  };

  const delayFor = (error: unknown): number => {
    const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failures - 1, 52));
    let delay = base / 2 + random() * (base / 2);
    const hint = EnablementError.is(error) ? error.retryAfterMs : undefined;
    if (hint !== undefined) delay = Math.max(delay, Math.min(hint, maxDelayMs));
    return delay;
  };

  const retryLater = (error: unknown): void => {
    failures++;
    retries++;
    for (let i = head; i < queue.length; i++) {
      const entry = queue[i];
      if (entry !== undefined) markBuffered(entry);
    }
    const failure = new EnablementError('PL-503', `event bus unavailable; ${size()} events buffered`, {
      cause: error,
    });
    for (const waiter of waiters.splice(0)) waiter.reject(failure);
    timer = clock.schedule(clock.now() + millisToNanos(delayFor(error)), () => {
      timer = undefined;
      kick();
    });
  };

  async function attempt(entry: Entry): Promise<void> {
    inFlight = true;
    let outcome: { ok: true; ack: PublishAck } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, ack: await bus.publish(entry.event.subject, entry.event.data, entry.options) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    inFlight = false;
    if (outcome.ok) {
      failures = 0;
      shift();
      succeed(entry, outcome.ack);
    } else if (abandoned !== undefined) {
      shift();
      fail(entry, abandoned, false);
    } else if (isRetryable(outcome.error)) {
      retryLater(outcome.error);
    } else {
      shift();
      fail(entry, outcome.error, true);
    }
    settleWaiters();
    kick();
  }

  function kick(): void {
    if (inFlight || timer !== undefined || abandoned !== undefined) return;
    const entry = queue[head];
    if (entry === undefined) return;
    void attempt(entry);
  }

  /** Skips the backoff wait: retry now. */
  const retryNow = (): void => {
    if (timer !== undefined) {
      timer();
      timer = undefined;
    }
    kick();
  };

  return Object.freeze({
    publish(
      subject: string,
      data: Uint8Array,
      publishOptions?: PublishOptions,
    ): Promise<BufferedPublishResult> {
      try {
        if (closed)
          throw new EnablementError('PL-503', 'buffering publisher is closed', { retryable: false });
        const checked = checkPublish(subject, data, publishOptions);
        if (size() >= maxBuffered) {
          throw new EnablementError(
            'PL-503',
            `event buffer full (${maxBuffered} events held while the bus is unavailable); event refused`,
            { retryAfterMs: initialDelayMs },
          );
        }
        return new Promise<BufferedPublishResult>((resolve, reject) => {
          const event: BufferedEvent = Object.freeze({
            subject: checked.subject,
            data: checked.data,
            msgId: checked.msgId,
            headers: checked.headers,
          });
          const entryOptions: PublishOptions = Object.freeze({
            ...(checked.msgId === undefined ? {} : { msgId: checked.msgId }),
            headers: checked.headers,
          });
          const entry: Entry = {
            event,
            options: entryOptions,
            first: { resolve, reject },
            stored: undefined,
            done: false,
          };
          queue.push(entry);
          // Behind a failure (waiting for, or making, a retry): held from the start.
          if (timer !== undefined || failures > 0) markBuffered(entry);
          kick();
        });
      } catch (error) {
        return Promise.reject(error);
      }
    },
    get buffered(): number {
      return size();
    },
    get stats(): BufferingPublisherStats {
      return Object.freeze({ buffered: size(), published, rejected, retries });
    },
    flush(): Promise<void> {
      const target = queue[queue.length - 1];
      if (target === undefined || size() === 0) return Promise.resolve();
      const done = new Promise<void>((resolve, reject) => {
        waiters.push({ target, resolve, reject });
      });
      retryNow();
      return done;
    },
    close(closeOptions: BufferingPublisherCloseOptions = {}): Promise<void> {
      if (closing !== undefined) return closing;
      const timeoutMs = closeOptions.timeoutMs;
      if (
        timeoutMs !== undefined &&
        (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      ) {
        return Promise.reject(
          new EnablementError('PL-400', 'close timeoutMs: expected a finite, non-negative number'),
        );
      }
      closed = true;
      closing = new Promise<void>((resolve, reject) => {
        let cancelTimeout: CancelTimer | undefined;
        drained = () => {
          drained = undefined;
          cancelTimeout?.();
          resolve();
        };
        if (timeoutMs !== undefined) {
          cancelTimeout = clock.schedule(clock.now() + millisToNanos(timeoutMs), () => {
            if (drained === undefined) return;
            drained = undefined;
            const error = new EnablementError(
              'PL-503',
              `buffering publisher closed with ${size()} events not stored (close timeout ${timeoutMs} ms)`,
              { retryable: false },
            );
            abandoned = error;
            if (timer !== undefined) timer();
            timer = undefined;
            // The one in flight (if any) is settled by its own outcome; the rest fail now.
            const remaining = queue.splice(inFlight ? head + 1 : head);
            for (const entry of remaining) if (entry !== undefined) fail(entry, error, false);
            for (const waiter of waiters.splice(0)) waiter.reject(error);
            reject(error);
          });
        }
        if (size() === 0) drained();
        else retryNow();
      });
      closing.catch(() => {});
      return closing;
    },
    get closed(): boolean {
      return closed;
    },
  });
}
