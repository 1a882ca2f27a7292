/**
 * Notifiers: implementations of the core `Notifier` port for Oversight (spec §4.4, §8.3
 * `OV-202`, §11.3): end-to-end messaging, signed webhooks, logs, fan-out routing, and the
 * approval message formatter.
 * @module
 */
export {
  createFanoutNotifier,
  FANOUT_CHANNEL,
  type FanoutNotificationReceipt,
  type FanoutNotifierOptions,
  type FanoutRouteResult,
  MAX_FANOUT_ROUTES,
  type NotifierRoute,
} from './fanout.js';
export {
  APPROVAL_SUBJECT_PREFIX,
  type ApprovalFormatOptions,
  type FormattedNotification,
  formatApprovalNotification,
  MAX_ACTION_NAME_LENGTH,
} from './format.js';
export { createLogNotifier, LOG_CHANNEL, type LogNotificationLine, type LogNotifierOptions } from './log.js';
export {
  createMessagingNotifier,
  DEFAULT_MESSAGING_TIMEOUT_MS,
  MESSAGING_CHANNEL,
  type MessagingNotificationReceipt,
  type MessagingNotifierOptions,
} from './messaging.js';
export {
  DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES,
  type DecodeNotificationPayloadOptions,
  decodeNotificationPayload,
  describeRecipient,
  encodeNotificationPayload,
  MAX_NOTIFICATION_BODY_LENGTH,
  MAX_NOTIFICATION_ID_LENGTH,
  MAX_NOTIFICATION_KIND_LENGTH,
  MAX_NOTIFICATION_PAYLOAD_BYTES,
  MAX_NOTIFICATION_RECIPIENT_LENGTH,
  MAX_NOTIFICATION_SUBJECT_LENGTH,
  NOTIFICATION_DATA_BOUNDS,
  NOTIFICATION_PAYLOAD_TYPE,
  NOTIFICATION_PAYLOAD_VERSION,
  type NotificationPayloadEnvelope,
  parseNotification,
} from './notification.js';
export {
  DEFAULT_MAX_QUEUED_NOTIFICATIONS,
  DEFAULT_NOTIFIER_RETRY,
  MAX_QUEUED_NOTIFICATIONS,
  type ManagedNotifier,
  type NotificationDeliveredEvent,
  type NotificationFailedEvent,
  type NotificationFailureReason,
  type NotifierCloseOptions,
  type NotifierCloseResult,
  type NotifierHooks,
  type NotifierRetryOptions,
  type NotifierStats,
  type ResolvedNotifierRetry,
} from './types.js';
export {
  createWebhookNotifier,
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  MAX_WEBHOOK_URL_LENGTH,
  parseRetryAfter,
  WEBHOOK_CHANNEL,
  type WebhookFetch,
  type WebhookNotifierOptions,
  type WebhookRequestInit,
  type WebhookResponse,
  type WebhookUrlResolver,
} from './webhook.js';
export {
  DEFAULT_WEBHOOK_TOLERANCE_MS,
  MAX_WEBHOOK_SECRET_BYTES,
  MAX_WEBHOOK_TOLERANCE_MS,
  MIN_WEBHOOK_SECRET_BYTES,
  parseWebhookSecret,
  type SignWebhookPayloadInput,
  signWebhookPayload,
  type VerifiedWebhook,
  type VerifyWebhookSignatureOptions,
  verifyWebhookSignature,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SECRET_PREFIX,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookHeaders,
  type WebhookSecret,
} from './webhook-signature.js';
