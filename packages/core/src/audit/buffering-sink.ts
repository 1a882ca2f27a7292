import { z } from 'zod';
import { EnablementError } from '../errors/enablement-error.js';
import { TRANSIENT_BACKOFF } from '../errors/retry-strategy.js';
import { type CancelTimer, type Clock, millisToNanos, systemClock } from '../time/clock.js';
import { decodeWire } from '../wire/errors.js';
import {
  type AuditReceipt,
  encodeAuditEvent,
  fromValidatedWire,
  isValidatedEvent,
  type UnifiedAuditEvent,
} from './event.js';
import type { AuditLog } from './log.js';

/** What became of an event given to an {@link AuditSink}. */
export type AuditAppendResult =
  | { readonly status: 'appended'; readonly receipt: AuditReceipt }
  | { readonly status: 'buffered'; readonly buffered: number };

/**
 * Where products write audit events (spec §2.3: audit is a soft dependency). An `AuditLog`'s
 * `append` fails when the log is unreachable; a sink keeps the event instead and says so.
 */
export interface AuditSink {
  /** Appends the event now, or keeps it to append later; rejects only when it can do neither. */
  append(event: UnifiedAuditEvent): Promise<AuditAppendResult>;
}

/** Outcome of {@link BufferingAuditSink.flush}. */
export interface AuditFlushResult {
  /** Events appended by this flush. */
  readonly appended: number;
  /** Events still buffered (0 after a successful flush). */
  readonly remaining: number;
}

/** A buffering {@link AuditSink} (see {@link createBufferingAuditSink}). */
export interface BufferingAuditSink extends AuditSink {
  /** Events accepted but not yet in the log (including the one being appended). */
  readonly bufferedCount: number;
  /** Events handed to `onRejected` because the log refused them permanently. */
  readonly rejectedCount: number;
  /**
   * Tries to append every buffered event now, in order. Resolves when the buffer is empty;
   * rejects with `PL-503` (the log's error as cause) when the log is still unavailable, in which
   * case the events stay buffered and the retry timer is re-armed.
   */
  flush(): Promise<AuditFlushResult>;
  /** Stops the retry timer and refuses new events (`PL-503`); buffered events stay for `flush()`. */
  close(): void;
}

/** Default bound of the buffer: the size the spec's buffering publisher uses (ARCHITECTURE §5). */
export const DEFAULT_AUDIT_BUFFER_SIZE = 10_000;
/** Largest `maxBuffered` accepted. */
export const MAX_AUDIT_BUFFER_SIZE = 1_000_000;

const transient = TRANSIENT_BACKOFF.kind === 'exponential_backoff' ? TRANSIENT_BACKOFF : undefined;
/** First retry delay: the spec's transient backoff (§8.4), 100 ms. */
export const DEFAULT_AUDIT_RETRY_INITIAL_MS = transient?.initialDelayMs ?? 100;
/** Longest retry delay: the spec's transient backoff (§8.4), 30 s. */
export const DEFAULT_AUDIT_RETRY_MAX_MS = transient?.maxDelayMs ?? 30_000;

/** Options of {@link createBufferingAuditSink}. */
export interface BufferingAuditSinkOptions {
  /** The log to write to. */
  log: AuditLog;
  /** Drives the retry timer; the system clock by default (`FakeClock` in tests). */
  clock?: Clock;
  /**
   * Most events held (waiting or being appended): {@link DEFAULT_AUDIT_BUFFER_SIZE} by default.
   * When full, `append` rejects with `PL-503` (retryable): an event is never silently dropped.
   */
  maxBuffered?: number;
  /** First retry delay; {@link DEFAULT_AUDIT_RETRY_INITIAL_MS} by default (spec §8.4 transient backoff). */
  initialBackoffMs?: number;
  /** Retry delays double up to this; {@link DEFAULT_AUDIT_RETRY_MAX_MS} by default (spec §8.4). */
  maxBackoffMs?: number;
  /**
   * Jitter source in `[0, 1]`; `Math.random` by default. Each delay `d` is drawn from
   * `[d/2, d]` ("equal jitter", as the event bus's buffering publisher does), so sinks that lost
   * the log together do not all retry at the same instant. Tests pass `() => 1` for exact delays.
   */
  random?: () => number;
  /**
   * Which failures mean "the log is unavailable, keep the event". By default, an
   * `EnablementError` marked `retryable` (e.g. `PL-503`).
   */
  isRetryable?: (error: unknown) => boolean;
  /**
   * Receives a buffered event the log refused permanently (a non-retryable error during a
   * background retry), which is then removed from the buffer. Without a handler such an event
   * stays at the head of the buffer and keeps being retried: nothing is ever dropped unseen,
   * and if the log never takes it the buffer fills and `append` fails loudly with `PL-503`.
   * (An event refused while its caller waits is rejected to that caller instead.)
   */
  onRejected?: (event: UnifiedAuditEvent, error: unknown) => void;
}

const optionsSchema = z.strictObject({
  log: z.custom<AuditLog>(
    (v) => typeof v === 'object' && v !== null && typeof (v as AuditLog).append === 'function',
    { error: 'expected an AuditLog' },
  ),
  clock: z
    .custom<Clock>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Clock).schedule === 'function',
      { error: 'expected a Clock' },
    )
    .optional(),
  maxBuffered: z.number().int().min(1).max(MAX_AUDIT_BUFFER_SIZE).optional(),
  initialBackoffMs: z.number().min(1).max(3_600_000).optional(),
  maxBackoffMs: z.number().min(1).max(86_400_000).optional(),
  random: z.custom<() => number>((v) => typeof v === 'function', { error: 'expected a function' }).optional(),
  isRetryable: z.custom<(error: unknown) => boolean>((v) => typeof v === 'function').optional(),
  onRejected: z
    .custom<(event: UnifiedAuditEvent, error: unknown) => void>((v) => typeof v === 'function')
    .optional(),
});

interface Waiter {
  resolve(result: AuditAppendResult): void;
  reject(error: unknown): void;
}

interface Entry {
  readonly event: UnifiedAuditEvent;
  /** The caller still awaiting this event's fate, if any (only while the log is healthy). */
  waiter: Waiter | undefined;
}

const defaultIsRetryable = (error: unknown) => EnablementError.is(error) && error.retryable;

/**
 * Degraded mode for audit (spec §2.3, §11.3 "Buffer events locally — events delayed, not
 * lost"): wraps an {@link AuditLog} so that products keep working while the log is down.
 *
 * - Events are validated up front (`PL-400` to the caller) and kept as frozen copies.
 * - Every event goes through one FIFO queue, so the log receives them in `append` order.
 *   While the log is healthy the caller's promise settles with the receipt.
 * - When an append fails with a retryable error, the waiting callers resolve with
 *   `{ status: 'buffered' }` and the queue is retried on the `Clock` with exponential backoff
 *   (100 ms doubling to 30 s by default, with equal jitter, no attempt limit: audit events must
 *   not be lost). New
 *   events are buffered behind them at once. On the first success the whole queue is flushed,
 *   in order. `flush()` retries immediately.
 * - Bound: at most `maxBuffered` events (10 000 by default). At the bound `append` rejects with
 *   `PL-503` (retryable) and keeps everything already accepted; events are never dropped.
 * - A log that returns the original receipt for a re-appended identical event (the in-process
 *   log does) makes retries after an ambiguous failure safe.
 *
 * @example
 * ```ts
 * const sink = createBufferingAuditSink({ log, clock });
 * const result = await sink.append(event); // 'appended' or 'buffered'
 * ```
 */
export function createBufferingAuditSink(options: BufferingAuditSinkOptions): BufferingAuditSink {
  const opts = decodeWire(optionsSchema, options, { contract: 'BufferingAuditSinkOptions', code: 'PL-400' });
  const log = opts.log;
  const clock = opts.clock ?? systemClock;
  const maxBuffered = opts.maxBuffered ?? DEFAULT_AUDIT_BUFFER_SIZE;
  const initialBackoffMs = opts.initialBackoffMs ?? DEFAULT_AUDIT_RETRY_INITIAL_MS;
  const maxBackoffMs = Math.max(opts.maxBackoffMs ?? DEFAULT_AUDIT_RETRY_MAX_MS, initialBackoffMs);
  const random = opts.random ?? Math.random;
  const isRetryable = opts.isRetryable ?? defaultIsRetryable;
  const onRejected = opts.onRejected;

  const queue: Entry[] = [];
  let head = 0; // queue[head..] are pending; the prefix is compacted away periodically
  /** `idle`: nothing running; `pumping`: appending the queue; `waiting`: a retry is scheduled. */
  let state: 'idle' | 'pumping' | 'waiting' = 'idle';
  let closed = false;
  let failures = 0;
  let rejectedCount = 0;
  let appendedSinceFlush = 0;
  let cancelRetry: CancelTimer | undefined;
  let lastError: unknown;
  let flushWaiters: { resolve(): void; reject(error: unknown): void }[] = [];

  const pending = () => queue.length - head;

  const shift = (): void => {
    head++;
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };

  const scheduleRetry = () => {
    const base = Math.min(initialBackoffMs * 2 ** Math.min(failures - 1, 40), maxBackoffMs);
    const r = random();
    const delayMs = base / 2 + (Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 1) * (base / 2);
    state = 'waiting';
    if (closed) return;
    cancelRetry = clock.schedule(clock.now() + millisToNanos(delayMs), () => {
      cancelRetry = undefined;
      if (state !== 'waiting') return;
      state = 'idle';
      void pump();
    });
  };

  const settleFlushWaiters = (error?: unknown) => {
    const waiters = flushWaiters;
    flushWaiters = [];
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  };

  const pump = async (): Promise<void> => {
    if (state !== 'idle') return;
    state = 'pumping';
    while (pending() > 0) {
      const entry = queue[head] as Entry;
      let receipt: AuditReceipt;
      try {
        receipt = await log.append(entry.event);
      } catch (error) {
        if (isRetryable(error) || (entry.waiter === undefined && onRejected === undefined)) {
          // Unavailable (or a refusal nobody is listening for): keep everything, wait, retry.
          failures++;
          lastError = error;
          for (let p = head; p < queue.length; p++) {
            const e = queue[p] as Entry;
            e.waiter?.resolve({ status: 'buffered', buffered: pending() });
            e.waiter = undefined;
          }
          scheduleRetry();
          settleFlushWaiters(
            new EnablementError('PL-503', `audit log unavailable; ${pending()} events buffered`, {
              cause: error,
            }),
          );
          return;
        }
        // Refused for good: tell whoever is listening, then go on with the rest.
        shift();
        if (entry.waiter) {
          entry.waiter.reject(error);
        } else {
          rejectedCount++;
          onRejected?.(entry.event, error);
        }
        continue;
      }
      failures = 0;
      lastError = undefined;
      shift();
      appendedSinceFlush++;
      entry.waiter?.resolve({ status: 'appended', receipt });
    }
    state = 'idle';
    settleFlushWaiters();
  };

  const copyOf = (event: UnifiedAuditEvent): UnifiedAuditEvent => {
    if (typeof event !== 'object' || event === null)
      throw new EnablementError('PL-400', 'event: expected an object');
    // Built by the audit constructors: validated and deep-frozen already, nothing to copy.
    if (isValidatedEvent(event) && event.merkleProof === undefined) return event;
    const { merkleProof: _receipt, ...unreceipted } = event;
    const wire = encodeAuditEvent(unreceipted);
    const { merkle_proof: _none, ...leaf } = wire;
    return fromValidatedWire(JSON.parse(JSON.stringify(leaf)));
  };

  return Object.freeze({
    get bufferedCount() {
      return pending();
    },
    get rejectedCount() {
      return rejectedCount;
    },
    append: async (event: UnifiedAuditEvent): Promise<AuditAppendResult> => {
      if (closed) throw new EnablementError('PL-503', 'audit sink is closed', { retryable: false });
      const copy = copyOf(event);
      if (pending() >= maxBuffered) {
        throw new EnablementError(
          'PL-503',
          `audit buffer is full (${maxBuffered} events); event not accepted`,
          {
            ...(lastError === undefined ? {} : { cause: lastError }),
          },
        );
      }
      if (state === 'waiting') {
        queue.push({ event: copy, waiter: undefined });
        return { status: 'buffered', buffered: pending() };
      }
      return new Promise<AuditAppendResult>((resolve, reject) => {
        queue.push({ event: copy, waiter: { resolve, reject } });
        void pump();
      });
    },
    flush: (): Promise<AuditFlushResult> => {
      if (pending() === 0) return Promise.resolve({ appended: 0, remaining: 0 });
      appendedSinceFlush = 0;
      const done = new Promise<void>((resolve, reject) => flushWaiters.push({ resolve, reject }));
      if (state === 'waiting') {
        cancelRetry?.();
        cancelRetry = undefined;
        state = 'idle';
      }
      void pump();
      return done.then(() => ({ appended: appendedSinceFlush, remaining: pending() }));
    },
    close: () => {
      closed = true;
      cancelRetry?.();
      cancelRetry = undefined;
    },
  });
}
