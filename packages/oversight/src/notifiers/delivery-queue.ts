import {
  type Clock,
  EnablementError,
  type Logger,
  type Notification,
  type NotificationReceipt,
  RetryError,
  type RetryStrategy,
  retry,
  sleep,
} from '@creto/core';
import type {
  NotificationFailedEvent,
  NotificationFailureReason,
  NotifierCloseOptions,
  NotifierCloseResult,
  NotifierHooks,
  NotifierStats,
  ResolvedNotifierRetry,
} from './types.js';

/** What one delivery attempt is given. */
export interface AttemptContext {
  /** 1 for the inline attempt, 2 for the first retry, … */
  readonly attempt: number;
  /** Aborted when the notifier abandons its queue; pass it on to I/O that honours it. */
  readonly signal: AbortSignal;
}

/** Settings of {@link createDeliveryQueue}; each notifier supplies its channel's behaviour. */
export interface DeliveryQueueOptions<P> {
  /** Channel named in receipts and logs. */
  readonly channel: string;
  /** Clock the backoff waits and the drain timeout run on. */
  readonly clock: Clock;
  /** Bound on queued notifications. */
  readonly maxQueued: number;
  /** Backoff settings. */
  readonly retry: ResolvedNotifierRetry;
  /** Jitter source for core `retry`; `Math.random` when undefined. */
  readonly random: (() => number) | undefined;
  /** Where queueing, retries and failures are logged (ids and codes only: never body or data). */
  readonly logger: Logger;
  /** The owner's hooks. */
  readonly hooks: NotifierHooks;
  /**
   * One attempt: resolves the receipt (`delivered`, or `queued` when the channel holds the
   * notification for an offline recipient) or throws.
   */
  readonly attempt: (
    notification: Notification,
    prepared: P,
    context: AttemptContext,
  ) => Promise<NotificationReceipt>;
  /** Whether an attempt's error is transient: keep the notification and retry. */
  readonly isTransient: (error: unknown) => boolean;
  /** The error reported for a permanent failure (an `OV-` error wrapping the channel's). */
  readonly permanentError: (error: unknown, notification: Notification) => EnablementError;
}

/** The retry machinery shared by the messaging and webhook notifiers. */
export interface DeliveryQueue<P> {
  /**
   * Attempts delivery inline; on a transient failure queues the notification (receipt `queued`
   * with `OV-202`) and retries it in the background. A notification whose id is already queued
   * is not sent again: its receipt is `queued` at once. Rejects on a permanent failure, a full
   * queue, or when closed.
   */
  deliver(notification: Notification, prepared: P): Promise<NotificationReceipt>;
  /** Throws `PL-409` once closed (checked before a notifier does any work). */
  assertOpen(): void;
  /** Counts a notification refused before any attempt (invalid input) and returns its error. */
  refuse(error: EnablementError): EnablementError;
  /** Counters. */
  readonly stats: NotifierStats;
  /** Whether `close` was called. */
  readonly closed: boolean;
  /** See `ManagedNotifier.close`. */
  close(options?: NotifierCloseOptions): Promise<NotifierCloseResult>;
}

interface Entry {
  readonly notification: Notification;
  attempts: number;
  done: boolean;
}

const NEVER: RetryStrategy = Object.freeze({ kind: 'never' });

/** Longest drain accepted by `close`: one day. */
const MAX_DRAIN_TIMEOUT_MS = 86_400_000;

/**
 * Builds the bounded retry queue of a notifier (spec §8.3 `OV-202`: the recipient is
 * unreachable, the notification is queued and retried, the request continues; §11.3: Oversight
 * with Messaging down retries notifications). Each queued notification is one core `retry` loop
 * on the clock; the first attempt of that loop replays the inline attempt's error, so the first
 * wait is computed from it (its `retryAfterMs` included).
 */
export function createDeliveryQueue<P>(options: DeliveryQueueOptions<P>): DeliveryQueue<P> {
  const { channel, clock, maxQueued, logger, hooks } = options;
  const settings = options.retry;
  const backoff: RetryStrategy = Object.freeze({
    kind: 'exponential_backoff',
    initialDelayMs: settings.initialDelayMs,
    maxDelayMs: settings.maxDelayMs,
    maxAttempts: settings.maxAttempts,
  });
  const abandon = new AbortController();
  // Keyed by notification id: a notification already queued is not queued twice.
  const entries = new Map<string, Entry>();
  let idleWaiters: (() => void)[] = [];
  let delivered = 0;
  let deferred = 0;
  let failed = 0;
  let closing: Promise<NotifierCloseResult> | undefined;

  const closedError = (): EnablementError => new EnablementError('PL-409', `${channel} notifier is closed`);

  const callHook = <E>(name: string, hook: ((event: E) => void) | undefined, event: E): void => {
    if (hook === undefined) return;
    try {
      hook(event);
    } catch (error) {
      logger.warn(`${channel} notifier: ${name} hook threw`, { operation: 'notify', channel, error });
    }
  };

  const count = (receipt: NotificationReceipt): void => {
    if (receipt.status === 'delivered') delivered++;
    else deferred++;
  };

  const settle = (entry: Entry): void => {
    entry.done = true;
    entries.delete(entry.notification.id);
    if (entries.size === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  const fail = (entry: Entry, reason: NotificationFailureReason, error: EnablementError): void => {
    settle(entry);
    failed++;
    const event: NotificationFailedEvent = {
      notification: entry.notification,
      channel,
      attempts: entry.attempts,
      reason,
      error,
    };
    logger.error(`${channel} notifier: queued notification not delivered (${reason})`, {
      operation: 'notify',
      channel,
      notification_id: entry.notification.id,
      attempts: entry.attempts,
      error,
    });
    callHook('onFailed', hooks.onFailed, event);
  };

  const runRetries = async (entry: Entry, prepared: P, first: unknown): Promise<void> => {
    let receipt: NotificationReceipt;
    try {
      receipt = await retry(
        async ({ attempt }) => {
          // Attempt 1 already happened inline: replay its error so `retry` schedules the first wait.
          if (attempt === 1) throw first;
          entry.attempts = attempt;
          return options.attempt(entry.notification, prepared, { attempt, signal: abandon.signal });
        },
        {
          clock,
          signal: abandon.signal,
          ...(options.random === undefined ? {} : { random: options.random }),
          maxAttempts: settings.maxAttempts,
          maxDelayMs: Math.max(settings.maxDelayMs, settings.maxRetryAfterMs),
          strategy: (error) => (options.isTransient(error) ? backoff : NEVER),
          onRetry: ({ attempt, delayMs }) =>
            logger.debug(`${channel} notifier: retrying`, {
              operation: 'notify',
              channel,
              notification_id: entry.notification.id,
              attempt,
              delay_ms: delayMs,
            }),
        },
      );
    } catch (error) {
      // Abandoned by `close`, which has reported it already.
      if (entry.done) return;
      const last = RetryError.is(error) ? error.cause : error;
      if (!options.isTransient(last)) {
        fail(entry, 'rejected', options.permanentError(last, entry.notification));
      } else {
        fail(
          entry,
          'gave_up',
          EnablementError.is(error)
            ? error
            : new EnablementError('PL-500', `${channel} delivery failed`, { cause: error }),
        );
      }
      return;
    }
    if (entry.done) return;
    settle(entry);
    count(receipt);
    logger.info(`${channel} notifier: queued notification delivered`, {
      operation: 'notify',
      channel,
      notification_id: entry.notification.id,
      attempts: entry.attempts,
    });
    callHook('onDelivered', hooks.onDelivered, {
      notification: entry.notification,
      channel,
      attempts: entry.attempts,
      receipt,
    });
  };

  /** Counts a notification `notify` refuses and returns the error to throw. */
  const refuse = (error: EnablementError): EnablementError => {
    failed++;
    return error;
  };

  const assertOpen = (): void => {
    if (closing !== undefined) throw closedError();
  };

  const deliver = async (notification: Notification, prepared: P): Promise<NotificationReceipt> => {
    assertOpen();
    if (entries.has(notification.id)) {
      // The same notification again (same id): it is already being retried; do not send it twice.
      return {
        notificationId: notification.id,
        status: 'queued',
        channel,
        error: new EnablementError('OV-202', `notification ${notification.id} is already queued for retry`),
      };
    }
    let first: unknown;
    try {
      const receipt = await options.attempt(notification, prepared, { attempt: 1, signal: abandon.signal });
      count(receipt);
      return receipt;
    } catch (error) {
      first = error;
    }
    const id = notification.id;
    // Closed while the attempt ran: whatever it failed with, the queue takes nothing more.
    if (abandon.signal.aborted) {
      throw refuse(
        new EnablementError('PL-409', `${channel} notifier closed while delivering notification ${id}`, {
          cause: first,
        }),
      );
    }
    if (!options.isTransient(first)) throw refuse(options.permanentError(first, notification));
    const known = EnablementError.is(first) ? first : undefined;
    if (settings.maxAttempts < 2) {
      throw refuse(
        new EnablementError(known?.code ?? 'PL-503', `notification ${id}: ${channel} delivery failed`, {
          cause: first,
          retryable: true,
        }),
      );
    }
    if (known?.retryAfterMs !== undefined && known.retryAfterMs > settings.maxRetryAfterMs) {
      throw refuse(
        new EnablementError(
          known.code,
          `notification ${id} not queued: ${channel} asks to retry after ${known.retryAfterMs} ms, more than maxRetryAfterMs (${settings.maxRetryAfterMs} ms)`,
          { cause: first, retryable: true },
        ),
      );
    }
    // The same id may have been queued by a concurrent call meanwhile.
    if (entries.has(id)) {
      return {
        notificationId: id,
        status: 'queued',
        channel,
        error: new EnablementError('OV-202', `notification ${id} is already queued for retry`, {
          cause: first,
        }),
      };
    }
    if (entries.size >= maxQueued) {
      throw refuse(
        new EnablementError(
          'PL-503',
          `${channel} notifier retry queue is full (${maxQueued} notifications); notification ${id} was not queued`,
          { cause: first, retryable: true },
        ),
      );
    }
    const entry: Entry = { notification, attempts: 1, done: false };
    entries.set(id, entry);
    logger.warn(`${channel} notifier: notification queued for retry`, {
      operation: 'notify',
      channel,
      notification_id: id,
      error: first,
    });
    void runRetries(entry, prepared, first);
    return {
      notificationId: id,
      status: 'queued',
      channel,
      error: new EnablementError(
        'OV-202',
        `notification ${id} queued: ${channel} delivery failed transiently; retrying with backoff`,
        { cause: first, ...(notification.traceId === undefined ? {} : { traceId: notification.traceId }) },
      ),
    };
  };

  const close = (closeOptions: NotifierCloseOptions = {}): Promise<NotifierCloseResult> => {
    if (closing !== undefined) return closing;
    const drainTimeoutMs = closeOptions?.drainTimeoutMs ?? 0;
    if (
      typeof drainTimeoutMs !== 'number' ||
      !Number.isFinite(drainTimeoutMs) ||
      drainTimeoutMs < 0 ||
      drainTimeoutMs > MAX_DRAIN_TIMEOUT_MS
    ) {
      return Promise.reject(
        new EnablementError(
          'PL-400',
          `drainTimeoutMs: expected a number of ms from 0 to ${MAX_DRAIN_TIMEOUT_MS}`,
        ),
      );
    }
    closing = (async () => {
      if (drainTimeoutMs > 0 && entries.size > 0) {
        const timer = new AbortController();
        const idle = new Promise<void>((resolve) => idleWaiters.push(resolve));
        await Promise.race([idle, sleep(clock, drainTimeoutMs, timer.signal).catch(() => undefined)]);
        timer.abort();
      }
      const abandoned = [...entries.values()];
      for (const entry of abandoned) {
        fail(
          entry,
          'abandoned',
          new EnablementError(
            'PL-409',
            `${channel} notifier closed before notification ${entry.notification.id} was delivered`,
          ),
        );
      }
      abandon.abort(closedError());
      return Object.freeze({ abandoned: Object.freeze(abandoned.map((entry) => entry.notification)) });
    })();
    return closing;
  };

  return {
    deliver,
    assertOpen,
    refuse,
    get stats(): NotifierStats {
      return Object.freeze({ delivered, deferred, queued: entries.size, failed });
    },
    get closed(): boolean {
      return closing !== undefined;
    },
    close,
  };
}
