import {
  asciiToken,
  boundedJson,
  boundedText,
  canonicalBytes,
  decodeWire,
  EnablementError,
  type JsonBounds,
  type JsonValue,
  MAX_WIRE_TRACE_ID_LENGTH,
  type Notification,
} from '@creto/core';
import { z } from 'zod';

/** Longest notification id (visible ASCII, no spaces: it travels as the `webhook-id` header). */
export const MAX_NOTIFICATION_ID_LENGTH = 128;
/** Longest notification kind (visible ASCII, e.g. `approval_required`). */
export const MAX_NOTIFICATION_KIND_LENGTH = 64;
/** Longest recipient (an NHI, a mailbox, a URL). */
export const MAX_NOTIFICATION_RECIPIENT_LENGTH = 2048;
/** Longest subject (one line). */
export const MAX_NOTIFICATION_SUBJECT_LENGTH = 512;
/** Longest body. */
export const MAX_NOTIFICATION_BODY_LENGTH = 32_768;

/**
 * Limits of `Notification.data`: 192 KiB, depth 16, 16 384 values; room for the largest
 * `OversightNotification` wire JSON (spec §5.2: 32 risk factors of 4 KiB, 16 KiB of reasoning).
 */
export const NOTIFICATION_DATA_BOUNDS: JsonBounds = Object.freeze({
  maxBytes: 196_608,
  maxDepth: 16,
  maxNodes: 16_384,
});

/**
 * Default bound on an encoded notification payload: 224 KiB, under the messaging envelope's
 * 256 KiB ciphertext limit.
 */
export const DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES = 229_376;
/** Largest `maxPayloadBytes` accepted (1 MiB). */
export const MAX_NOTIFICATION_PAYLOAD_BYTES = 1_048_576;

/** The `type` of a notification payload envelope. */
export const NOTIFICATION_PAYLOAD_TYPE = 'creto.notification';
/** The envelope version this package writes and reads. */
export const NOTIFICATION_PAYLOAD_VERSION = 1;

/**
 * The JSON envelope a notification travels in, through messaging (end-to-end encrypted) and as
 * a webhook body. Members are snake_case like every wire contract (ARCHITECTURE §3); `data`
 * and `trace_id` are omitted when absent. Encoded as RFC 8785 canonical JSON, UTF-8.
 */
export interface NotificationPayloadEnvelope {
  /** Always {@link NOTIFICATION_PAYLOAD_TYPE}. */
  type: typeof NOTIFICATION_PAYLOAD_TYPE;
  /** Always {@link NOTIFICATION_PAYLOAD_VERSION}; a reader rejects versions it does not know. */
  v: typeof NOTIFICATION_PAYLOAD_VERSION;
  /** Notification id; the same on every retry, so receivers drop duplicates by it. */
  id: string;
  /** What it is about, e.g. `approval_required`. */
  kind: string;
  /** Who it is for. */
  recipient: string;
  /** One line for people. */
  subject: string;
  /** Text for people. */
  body: string;
  /** Structured content for programs (e.g. the `OversightNotification` wire JSON). */
  data?: JsonValue;
  /** Trace id carried across products (spec §10.1). */
  trace_id?: string;
}

const textFields = {
  id: asciiToken(MAX_NOTIFICATION_ID_LENGTH),
  kind: asciiToken(MAX_NOTIFICATION_KIND_LENGTH),
  recipient: boundedText(MAX_NOTIFICATION_RECIPIENT_LENGTH),
  subject: boundedText(MAX_NOTIFICATION_SUBJECT_LENGTH).regex(/^[^\r\n]*$/, {
    error: 'must be one line',
  }),
  body: boundedText(MAX_NOTIFICATION_BODY_LENGTH, 0),
  data: boundedJson(NOTIFICATION_DATA_BOUNDS).optional(),
};

// `z.object` (not strict): a caller's object may carry members of a later core `Notification`;
// they are dropped from the copy rather than refused.
const notificationSchema = z.object({
  ...textFields,
  traceId: asciiToken(MAX_WIRE_TRACE_ID_LENGTH).optional(),
});

const envelopeSchema = z.strictObject({
  type: z.literal(NOTIFICATION_PAYLOAD_TYPE),
  v: z.literal(NOTIFICATION_PAYLOAD_VERSION),
  ...textFields,
  trace_id: asciiToken(MAX_WIRE_TRACE_ID_LENGTH).optional(),
});

/** Copies only the members that are present, so optional ones never appear as `undefined`. */
function toNotification(value: z.infer<typeof notificationSchema>): Notification {
  return {
    id: value.id,
    kind: value.kind,
    recipient: value.recipient,
    subject: value.subject,
    body: value.body,
    ...(value.data === undefined ? {} : { data: value.data }),
    ...(value.traceId === undefined ? {} : { traceId: value.traceId }),
  };
}

/**
 * Validates a notification handed to a notifier and returns a private copy (so a caller that
 * mutates its object later cannot change what is retried). `OV-400` naming the failing field
 * otherwise, e.g. `invalid Notification: subject: must be one line`.
 */
export function parseNotification(value: unknown): Notification {
  return toNotification(decodeWire(notificationSchema, value, { contract: 'Notification', code: 'OV-400' }));
}

/** The envelope of a validated notification. */
export function notificationEnvelope(notification: Notification): NotificationPayloadEnvelope {
  return {
    type: NOTIFICATION_PAYLOAD_TYPE,
    v: NOTIFICATION_PAYLOAD_VERSION,
    id: notification.id,
    kind: notification.kind,
    recipient: notification.recipient,
    subject: notification.subject,
    body: notification.body,
    ...(notification.data === undefined ? {} : { data: notification.data }),
    ...(notification.traceId === undefined ? {} : { trace_id: notification.traceId }),
  };
}

/**
 * Encodes a notification as its payload: the {@link NotificationPayloadEnvelope} in RFC 8785
 * canonical JSON, UTF-8. Validates first (`OV-400`), and refuses a payload larger than
 * `maxBytes` (default {@link DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES}) with `OV-400`.
 *
 * @example
 * ```ts
 * const bytes = encodeNotificationPayload(notification);
 * await sender.send(notification.recipient, bytes);
 * ```
 */
export function encodeNotificationPayload(
  notification: Notification,
  maxBytes = DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES,
): Uint8Array {
  const valid = parseNotification(notification);
  const bytes = canonicalBytes(notificationEnvelope(valid));
  if (bytes.length > maxBytes) {
    throw new EnablementError(
      'OV-400',
      `notification ${valid.id}: payload is ${bytes.length} bytes, more than ${maxBytes}`,
    );
  }
  return bytes;
}

/** Options of {@link decodeNotificationPayload}. */
export interface DecodeNotificationPayloadOptions {
  /** Largest payload accepted, checked before anything is parsed; default {@link DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES}. */
  readonly maxBytes?: number;
}

const invalidPayload = (why: string, cause?: unknown): EnablementError =>
  new EnablementError('OV-400', `invalid notification payload: ${why}`, cause === undefined ? {} : { cause });

/**
 * Decodes a notification payload on the receiving side (a bot agent reading its messages, a
 * webhook receiver after `verifyWebhookSignature`). Treats the bytes as hostile: checks the
 * size before parsing, requires strict UTF-8, JSON, `type` `creto.notification`, version 1, no
 * unknown members, and every field within the limits the sender enforces. Any failure is
 * `OV-400` naming the problem; nothing is partially returned.
 *
 * @example
 * ```ts
 * const notification = decodeNotificationPayload(message.payload);
 * if (notification.kind === 'approval_required') render(notification);
 * ```
 */
export function decodeNotificationPayload(
  bytes: Uint8Array,
  options: DecodeNotificationPayloadOptions = {},
): Notification {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > MAX_NOTIFICATION_PAYLOAD_BYTES) {
    throw new EnablementError(
      'PL-400',
      `maxBytes: expected an integer from 1 to ${MAX_NOTIFICATION_PAYLOAD_BYTES}`,
    );
  }
  if (!(bytes instanceof Uint8Array)) throw invalidPayload('expected a Uint8Array');
  if (bytes.length > maxBytes) throw invalidPayload(`${bytes.length} bytes, more than ${maxBytes}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw invalidPayload('not UTF-8', error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalidPayload('not JSON', error);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalidPayload('expected a JSON object');
  }
  const record = json as Record<string, unknown>;
  if (record.type !== NOTIFICATION_PAYLOAD_TYPE) {
    throw invalidPayload(`type: expected '${NOTIFICATION_PAYLOAD_TYPE}'`);
  }
  if (record.v !== NOTIFICATION_PAYLOAD_VERSION) {
    throw invalidPayload(`v: unsupported version (this reader knows ${NOTIFICATION_PAYLOAD_VERSION})`);
  }
  const envelope = decodeWire(envelopeSchema, json, { contract: 'notification payload', code: 'OV-400' });
  return toNotification({ ...envelope, traceId: envelope.trace_id });
}

/**
 * A short, safe description of a recipient for error messages and logs: for an `http(s)` URL
 * only its origin (webhook URLs often carry a secret in their path, e.g. Slack's), otherwise the
 * recipient cut to 128 characters.
 */
export function describeRecipient(recipient: string): string {
  if (/^https?:\/\//i.test(recipient)) {
    try {
      return `${new URL(recipient).origin}/…`;
    } catch {
      return '(an invalid URL)';
    }
  }
  if (recipient.length <= 128) return recipient;
  // Never cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(recipient.charAt(126)) ? 126 : 127;
  return `${recipient.slice(0, end)}…`;
}
