import type { EnablementError, Notification, NotificationReceipt, Notifier } from '@creto/core';

/**
 * Counters of a notifier. `delivered`, `deferred` and `failed` only grow; `queued` is the number
 * of notifications waiting in the notifier's own retry queue right now.
 */
export interface NotifierStats {
  /** Notifications handed to their recipient (at once, or later from the retry queue). */
  readonly delivered: number;
  /**
   * Notifications handed to a channel that holds them for an offline recipient (the messaging
   * relay): their receipt is `queued` with `OV-202`, but this notifier no longer tracks them.
   */
  readonly deferred: number;
  /** Notifications waiting in this notifier's retry queue now. */
  readonly queued: number;
  /** Notifications refused by `notify`, or dropped from the retry queue (rejected, gave up, abandoned). */
  readonly failed: number;
}

/** What {@link NotifierHooks.onDelivered} learns: a queued notification finally left the queue. */
export interface NotificationDeliveredEvent {
  /** The notification. */
  readonly notification: Notification;
  /** The channel, e.g. `messaging`, `webhook`. */
  readonly channel: string;
  /** Delivery attempts made in all, the first (inline) one included. */
  readonly attempts: number;
  /**
   * The final receipt: `delivered`, or `queued` when the channel took it for an offline
   * recipient (the messaging relay holds it).
   */
  readonly receipt: NotificationReceipt;
}

/** Why a queued notification left the retry queue without being delivered. */
export type NotificationFailureReason = 'rejected' | 'gave_up' | 'abandoned';

/** What {@link NotifierHooks.onFailed} learns: a queued notification will not be delivered. */
export interface NotificationFailedEvent {
  /** The notification. */
  readonly notification: Notification;
  /** The channel, e.g. `messaging`, `webhook`. */
  readonly channel: string;
  /** Delivery attempts made in all, the first (inline) one included. */
  readonly attempts: number;
  /**
   * `rejected`: a retry failed permanently (e.g. HTTP 400, `MS-404`). `gave_up`: the attempts
   * ran out, or the channel asked for a longer wait than allowed. `abandoned`: the notifier was
   * closed first.
   */
  readonly reason: NotificationFailureReason;
  /** The last error (`PL-409` for `abandoned`). */
  readonly error: EnablementError;
}

/**
 * Hooks through which the owner (the Oversight engine) learns the fate of notifications whose
 * receipt was `queued` by the notifier's own retry queue (spec §8.3 `OV-202`: continue, retry
 * delivery). They never fire for a notification whose receipt was final (`delivered`, or
 * rejected), nor for one the messaging relay holds. A hook that throws is logged and ignored.
 */
export interface NotifierHooks {
  /** A queued notification was delivered (or handed to a channel that holds it). */
  readonly onDelivered?: (event: NotificationDeliveredEvent) => void;
  /** A queued notification will not be delivered. */
  readonly onFailed?: (event: NotificationFailedEvent) => void;
}

/**
 * Backoff of a notifier's retry queue. Waits use core `retry` on the Clock: decorrelated
 * jitter between `initialDelayMs` and `maxDelayMs`, never shorter than a `Retry-After` the
 * channel sent.
 */
export interface NotifierRetryOptions {
  /** Shortest wait before a retry, ms (default {@link DEFAULT_NOTIFIER_RETRY}: 1 s). */
  readonly initialDelayMs?: number;
  /** Longest backoff wait, ms (default 5 min). */
  readonly maxDelayMs?: number;
  /** Most delivery attempts, the first (inline) one included, 1–100 (default 10). */
  readonly maxAttempts?: number;
  /**
   * Longest `Retry-After` honoured, ms (default 1 h). A channel asking for a longer wait on the
   * first attempt gets the notification refused (its retryable error, with the hint, goes to the
   * caller); later, the queued notification fails with `gave_up`.
   */
  readonly maxRetryAfterMs?: number;
}

/** The resolved retry settings. */
export interface ResolvedNotifierRetry {
  /** See {@link NotifierRetryOptions.initialDelayMs}. */
  readonly initialDelayMs: number;
  /** See {@link NotifierRetryOptions.maxDelayMs}. */
  readonly maxDelayMs: number;
  /** See {@link NotifierRetryOptions.maxAttempts}. */
  readonly maxAttempts: number;
  /** See {@link NotifierRetryOptions.maxRetryAfterMs}. */
  readonly maxRetryAfterMs: number;
}

/**
 * Default retry settings: 1 s growing to at most 5 min, 10 attempts (about half an hour of
 * retrying on average), `Retry-After` up to 1 h. Longer than the spec's 30 s transient backoff
 * (§8.4) because a notification is worth delivering late (§11.3: "Notification retry, delayed
 * notifications").
 */
export const DEFAULT_NOTIFIER_RETRY: ResolvedNotifierRetry = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 300_000,
  maxAttempts: 10,
  maxRetryAfterMs: 3_600_000,
});

/** Default bound on a notifier's retry queue. */
export const DEFAULT_MAX_QUEUED_NOTIFICATIONS = 1000;
/** Largest `maxQueued` accepted. */
export const MAX_QUEUED_NOTIFICATIONS = 1_000_000;

/** Options of {@link ManagedNotifier.close}. */
export interface NotifierCloseOptions {
  /**
   * How long to keep retrying the queued notifications, on the notifier's clock, before
   * abandoning the rest; default 0: abandon at once. Retries keep their backoff schedule.
   */
  readonly drainTimeoutMs?: number;
}

/** What {@link ManagedNotifier.close} returns. */
export interface NotifierCloseResult {
  /**
   * The notifications still queued when the notifier stopped, so the host can persist them or
   * send them another way. Each also got an `onFailed` with reason `abandoned`.
   */
  readonly abandoned: readonly Notification[];
}

/** A {@link Notifier} with a name, counters and a lifecycle. Every notifier here is one. */
export interface ManagedNotifier extends Notifier {
  /** The channel named in its receipts, e.g. `messaging`, `webhook`, `log`. */
  readonly channel: string;
  /** Counters. */
  readonly stats: NotifierStats;
  /** Whether {@link ManagedNotifier.close} was called. */
  readonly closed: boolean;
  /**
   * Stops accepting notifications (`notify` then rejects with `PL-409`), optionally drains the
   * retry queue for `drainTimeoutMs`, then abandons what is left and cancels its timers.
   * Idempotent: later calls return the first call's promise. An attempt already in flight when
   * the queue is abandoned may still reach the recipient (delivery is at least once; recipients
   * drop duplicates by notification id).
   */
  close(options?: NotifierCloseOptions): Promise<NotifierCloseResult>;
}
