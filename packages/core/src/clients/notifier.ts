import type { EnablementError } from '../errors/enablement-error.js';
import type { JsonValue } from '../wire/json.js';

/**
 * One notification to one recipient: an approval request to an approver (spec §4.4), a quota
 * warning to an agent (§7.3), an invoice to a billing contact (§7.4).
 */
export interface Notification {
  /** Unique id; a notifier that retries reuses it so the recipient can drop duplicates. */
  readonly id: string;
  /** What it is about, e.g. `approval_required`, `quota_warning`, `invoice`. */
  readonly kind: string;
  /** Who receives it: an NHI, a mailbox, a channel name — whatever the notifier routes on. */
  readonly recipient: string;
  /** One line for people, e.g. `Approval Required: delete_database`. */
  readonly subject: string;
  /** The text for people. */
  readonly body: string;
  /** Structured content for programs (e.g. the `OversightNotification` wire JSON, an invoice). */
  readonly data?: JsonValue;
  /** Trace id carried across products (spec §10.1). */
  readonly traceId?: string;
}

/** What a {@link Notifier} did with a notification. */
export interface NotificationReceipt {
  /** The notification's id. */
  readonly notificationId: string;
  /**
   * `delivered`: handed to the recipient (or its channel). `queued`: the recipient is offline or
   * the channel failed transiently; the notifier keeps it and retries (spec §8.3 `OV-202`).
   */
  readonly status: 'delivered' | 'queued';
  /** The channel that took it, e.g. `messaging`, `webhook`, `console`. */
  readonly channel: string;
  /** For `queued`: why (an `OV-202`, or the transient error behind it). */
  readonly error?: EnablementError;
}

/**
 * The notification port (ARCHITECTURE §2): Oversight notifies approvers through it, Metering warns
 * agents and sends invoices through it. Implementations: end-to-end messaging, webhooks, logs.
 * `notify` rejects only when the notification cannot be accepted at all (invalid input, or a
 * full retry queue); a recipient that is offline is a `queued` receipt, not an error.
 */
export interface Notifier {
  /** Sends, or queues for retry, one notification. */
  notify(notification: Notification): Promise<NotificationReceipt>;
}

/** What {@link MessageSender.send} returns. */
export interface MessageSendResult {
  /** The message id (UUID). */
  readonly messageId: string;
  /** `delivered` to a connected recipient, or `queued` on the relay for an offline one. */
  readonly status: 'delivered' | 'queued';
}

/**
 * The slice of Messaging other products send through (spec §4.3, §4.4, §9.1): an end-to-end
 * encrypted message from this host's agent to a recipient NHI. `@creto/messaging`'s client
 * satisfies it through `@creto/enablement`; tests pass a recording fake.
 */
export interface MessageSender {
  /** The sender's NHI. */
  readonly nhi: string;
  /** Encrypts and sends `payload` to `recipient`; rejects with an `MS-` error when it cannot. */
  send(
    recipient: string,
    payload: Uint8Array,
    options?: { readonly ttlMs?: number },
  ): Promise<MessageSendResult>;
}
