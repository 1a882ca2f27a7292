import {
  type Clock,
  clockSchema,
  EnablementError,
  isNhi,
  type Logger,
  type MessageSender,
  type MessageSendResult,
  millisToNanos,
  type Notification,
  type NotificationReceipt,
  parseOptions,
  retryStrategyFor,
  systemClock,
} from '@creto/core';
import { z } from 'zod';
import { createDeliveryQueue } from './delivery-queue.js';
import {
  DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES,
  describeRecipient,
  encodeNotificationPayload,
  MAX_NOTIFICATION_PAYLOAD_BYTES,
  parseNotification,
} from './notification.js';
import { queueOptionsShape, resolveLogger, resolveMaxQueued, resolveRetry } from './options.js';
import type { ManagedNotifier, NotifierHooks, NotifierRetryOptions } from './types.js';

/** The channel name of {@link createMessagingNotifier} receipts. */
export const MESSAGING_CHANNEL = 'messaging';

/** Default time limit of one `MessageSender.send`, ms. */
export const DEFAULT_MESSAGING_TIMEOUT_MS = 30_000;

/** Longest message TTL accepted (30 days, the messaging envelope's limit). */
const MAX_TTL_MS = 30 * 86_400_000;

/** Options of {@link createMessagingNotifier}. */
export interface MessagingNotifierOptions extends NotifierHooks {
  /** The messaging port (spec §4.4): `@creto/messaging`'s client through `@creto/enablement`, or a fake. */
  readonly sender: MessageSender;
  /** Clock the retry backoff runs on; default `systemClock`. Tests pass `FakeClock`. */
  readonly clock?: Clock;
  /** TTL of each message, passed to `sender.send` (the relay drops it after); default: the sender's. */
  readonly ttlMs?: number;
  /**
   * How long one `sender.send` may take, ms (on the clock); default
   * {@link DEFAULT_MESSAGING_TIMEOUT_MS}. A send that takes longer counts as a transient failure
   * (`PL-503`) and is retried; since the port cannot cancel it, the slow send may still land, so
   * the recipient can see the notification twice (same id: drop duplicates).
   */
  readonly timeoutMs?: number;
  /** Largest encoded payload; default {@link DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES} (224 KiB). */
  readonly maxPayloadBytes?: number;
  /**
   * Refuse (`OV-400`) a recipient that is not an NHI before sending; default true. Turn off only
   * for a sender that routes other names (a test double using `test:agent:approver`).
   */
  readonly requireNhiRecipient?: boolean;
  /** Bound on the retry queue; default 1000. At the bound `notify` rejects with retryable `PL-503`. */
  readonly maxQueued?: number;
  /** Backoff of the retry queue; see `DEFAULT_NOTIFIER_RETRY`. */
  readonly retry?: NotifierRetryOptions;
  /** Jitter source in `[0, 1)`; default `Math.random`. Tests pass a constant. */
  readonly random?: () => number;
  /** Where queueing and failures are logged (ids, codes; never subject, body or data). */
  readonly logger?: Logger;
}

/** A messaging receipt: the core receipt plus the id of the message that carried the notification. */
export interface MessagingNotificationReceipt extends NotificationReceipt {
  /** The messaging message id (UUID), to match `messaging.delivery_receipts` (spec §5.2). */
  readonly messageId: string;
}

const optionsSchema = z.strictObject({
  sender: z.custom<MessageSender>(
    (value) =>
      typeof value === 'object' && value !== null && typeof (value as MessageSender).send === 'function',
    { error: 'expected a MessageSender (an object with a send method)' },
  ),
  clock: clockSchema.optional(),
  ttlMs: z.number().int().min(1).max(MAX_TTL_MS).optional(),
  timeoutMs: z.number().int().min(1).max(300_000).optional(),
  maxPayloadBytes: z.number().int().min(256).max(MAX_NOTIFICATION_PAYLOAD_BYTES).optional(),
  requireNhiRecipient: z.boolean().optional(),
  ...queueOptionsShape,
});

/**
 * Transient per spec §8.4 (`retryStrategyFor`): `MS-503`, `PL-503` and every other `*-503` or
 * unavailable code, and the `*-429` quota codes. `MS-403`, `MS-404`, `MS-400`, … are permanent.
 */
function isTransient(error: unknown): boolean {
  return retryStrategyFor(error).kind !== 'never';
}

/**
 * A {@link ManagedNotifier} that delivers end to end through Messaging (spec §4.4: Oversight →
 * Messaging, encrypted for the recipient agent, e.g. the Slack bot).
 *
 * - The notification travels as a UTF-8 JSON payload, the versioned envelope
 *   `{ type: 'creto.notification', v: 1, id, kind, recipient, subject, body, data?, trace_id? }`
 *   (see `encodeNotificationPayload`; the receiving agent reads it with `decodeNotificationPayload`),
 *   sent to `notification.recipient`, an NHI.
 * - `status: 'delivered'` from the sender → receipt `delivered`. `status: 'queued'` (the recipient
 *   is offline and the relay holds the message) → receipt `queued` with `OV-202` (spec §8.3:
 *   continue, the relay delivers when the recipient connects); counted as `deferred`.
 * - A transient failure (`MS-503`, `PL-503`: messaging down, spec §11.3) → receipt `queued` with
 *   `OV-202` wrapping it; the notification waits in a bounded queue and is retried with backoff
 *   on the clock; `onDelivered` / `onFailed` tell the owner how it ends.
 * - A permanent failure (`MS-403` not permitted, `MS-404` unknown recipient, …) → `notify`
 *   rejects with `OV-400` whose `causedBy` is the messaging error. A sender that throws something
 *   other than an `EnablementError` → `PL-500` (its text is not copied).
 *
 * Each attempt sends a fresh copy of the payload, so a sender that wipes its input cannot corrupt
 * a retry.
 *
 * @example
 * ```ts
 * const notifier = createMessagingNotifier({ sender: messagingClient, clock, onDelivered: (e) => log(e) });
 * const receipt = await notifier.notify({
 *   id: newUuid(), kind: 'approval_required', recipient: approverNhi,
 *   subject: 'Approval Required: delete_database', body,
 * });
 * if (receipt.status === 'queued') console.warn(receipt.error?.code); // OV-202
 * ```
 */
export function createMessagingNotifier(options: MessagingNotifierOptions): ManagedNotifier {
  const parsed = parseOptions(optionsSchema, options, 'createMessagingNotifier');
  const { sender, ttlMs } = parsed;
  const clock = parsed.clock ?? systemClock;
  const maxPayloadBytes = parsed.maxPayloadBytes ?? DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES;
  const requireNhi = parsed.requireNhiRecipient ?? true;
  const sendOptions = ttlMs === undefined ? undefined : Object.freeze({ ttlMs });
  const timeoutMs = parsed.timeoutMs ?? DEFAULT_MESSAGING_TIMEOUT_MS;

  /** `sender.send`, failing with a transient `PL-503` when it outlasts `timeoutMs` on the clock. */
  const send = (recipient: string, payload: Uint8Array): Promise<MessageSendResult> => {
    let cancel: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      cancel = clock.schedule(clock.now() + millisToNanos(timeoutMs), () =>
        reject(
          new EnablementError('PL-503', `message send timed out after ${timeoutMs} ms`, { retryable: true }),
        ),
      );
    });
    let sending: Promise<MessageSendResult>;
    try {
      sending = Promise.resolve(sender.send(recipient, payload, sendOptions));
    } catch (error) {
      sending = Promise.reject(error);
    }
    return Promise.race([sending, timeout]).finally(() => cancel?.());
  };

  const queue = createDeliveryQueue<Uint8Array>({
    channel: MESSAGING_CHANNEL,
    clock,
    maxQueued: resolveMaxQueued(parsed.maxQueued),
    retry: resolveRetry(parsed.retry),
    random: parsed.random,
    logger: resolveLogger(parsed.logger),
    hooks: { onDelivered: parsed.onDelivered, onFailed: parsed.onFailed },
    isTransient,
    permanentError: (error, notification) => {
      const target = describeRecipient(notification.recipient);
      if (!EnablementError.is(error)) {
        return new EnablementError('PL-500', `notification ${notification.id}: the message sender failed`, {
          cause: error,
        });
      }
      // An internal failure stays one: it says nothing about the notification or its recipient.
      if (error.code === 'PL-500') return error;
      return new EnablementError(
        'OV-400',
        `notification ${notification.id} cannot be delivered to ${target} by messaging: ${error.code} ${error.message}`,
        { cause: error },
      );
    },
    attempt: async (notification, payload): Promise<MessagingNotificationReceipt> => {
      const result = await send(notification.recipient, payload.slice());
      const status = (result as { status?: unknown } | undefined)?.status;
      const messageId = (result as { messageId?: unknown } | undefined)?.messageId;
      if ((status !== 'delivered' && status !== 'queued') || typeof messageId !== 'string') {
        throw new EnablementError('PL-500', 'MessageSender.send resolved an invalid result');
      }
      if (status === 'delivered') {
        return { notificationId: notification.id, status, channel: MESSAGING_CHANNEL, messageId };
      }
      return {
        notificationId: notification.id,
        status,
        channel: MESSAGING_CHANNEL,
        messageId,
        error: new EnablementError(
          'OV-202',
          `notification ${notification.id} queued: recipient offline, the messaging relay holds message ${messageId}`,
          notification.traceId === undefined ? {} : { traceId: notification.traceId },
        ),
      };
    },
  });

  const prepare = (input: Notification): { notification: Notification; payload: Uint8Array } => {
    const notification = parseNotification(input);
    if (requireNhi && !isNhi(notification.recipient)) {
      throw new EnablementError(
        'OV-400',
        `notification ${notification.id}: recipient: expected an NHI ('<agent|human|service>:nhi:ed25519:<key>') for messaging`,
      );
    }
    return { notification, payload: encodeNotificationPayload(notification, maxPayloadBytes) };
  };

  return Object.freeze({
    channel: MESSAGING_CHANNEL,
    async notify(input: Notification): Promise<NotificationReceipt> {
      queue.assertOpen();
      let prepared: { notification: Notification; payload: Uint8Array };
      try {
        prepared = prepare(input);
      } catch (error) {
        throw queue.refuse(
          EnablementError.is(error)
            ? error
            : new EnablementError('OV-400', 'invalid notification', { cause: error }),
        );
      }
      return queue.deliver(prepared.notification, prepared.payload);
    },
    get stats() {
      return queue.stats;
    },
    get closed() {
      return queue.closed;
    },
    close: queue.close,
  });
}
