import {
  type Clock,
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  EnablementError,
  NANOS_PER_MILLI,
  nobleCryptoProvider,
  systemClock,
  utf8ToBytes,
} from '@creto/core';

/** Header carrying the message id, the same on every retry (Standard Webhooks). */
export const WEBHOOK_ID_HEADER = 'webhook-id';
/** Header carrying the attempt's Unix time in whole seconds. */
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
/** Header carrying space-separated `v1,<base64 HMAC-SHA256>` signatures. */
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

/** Default tolerance of {@link verifyWebhookSignature}: 5 minutes, as Standard Webhooks recommends. */
export const DEFAULT_WEBHOOK_TOLERANCE_MS = 300_000;
/** Largest tolerance accepted: one day. */
export const MAX_WEBHOOK_TOLERANCE_MS = 86_400_000;

/** Prefix of a Standard Webhooks secret string: `whsec_` followed by the key in base64. */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Shortest HMAC key accepted, in bytes (128 bits). */
export const MIN_WEBHOOK_SECRET_BYTES = 16;
/** Longest HMAC key accepted, in bytes. */
export const MAX_WEBHOOK_SECRET_BYTES = 1024;

/** Longest `webhook-id` accepted by the verifier. */
const MAX_ID_LENGTH = 256;
/** Longest `webhook-signature` header accepted, and most entries in it. */
const MAX_SIGNATURE_HEADER_LENGTH = 8192;
const MAX_SIGNATURE_ENTRIES = 32;
const HMAC_SHA256_LENGTH = 32;
/** A header-safe id: visible ASCII, no spaces (Standard Webhooks ids are opaque). */
const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

/**
 * A webhook signing secret: a Standard Webhooks string (`whsec_` + base64 of the key, e.g.
 * `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`) or the raw key bytes.
 */
export type WebhookSecret = string | Uint8Array;

/**
 * HTTP headers as a receiver has them: a fetch `Headers`, or a plain record such as Node's
 * `IncomingHttpHeaders` (names matched case-insensitively; a repeated header is refused).
 */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard (RFC 4648 §4, padded) base64 of `bytes`. */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Strict padded base64 → bytes, or `undefined` when `text` is not exactly that. */
function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * The HMAC key of a {@link WebhookSecret} (a private copy). `PL-400` naming `field` otherwise;
 * the message never contains the secret.
 */
export function parseWebhookSecret(secret: unknown, field = 'secret'): Uint8Array {
  const expected = `${field}: expected '${WEBHOOK_SECRET_PREFIX}' followed by base64, or a Uint8Array, of ${MIN_WEBHOOK_SECRET_BYTES} to ${MAX_WEBHOOK_SECRET_BYTES} bytes`;
  let key: Uint8Array | undefined;
  if (secret instanceof Uint8Array) key = secret.slice();
  else if (
    typeof secret === 'string' &&
    secret.startsWith(WEBHOOK_SECRET_PREFIX) &&
    secret.length <= WEBHOOK_SECRET_PREFIX.length + Math.ceil(MAX_WEBHOOK_SECRET_BYTES / 3) * 4
  ) {
    key = fromBase64(secret.slice(WEBHOOK_SECRET_PREFIX.length));
  }
  if (key === undefined || key.length < MIN_WEBHOOK_SECRET_BYTES || key.length > MAX_WEBHOOK_SECRET_BYTES) {
    throw new EnablementError('PL-400', expected);
  }
  return key;
}

function signedContent(id: string, timestamp: number, body: Uint8Array): Uint8Array {
  return concatBytes(utf8ToBytes(`${id}.${timestamp}.`), body);
}

function bodyBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return utf8ToBytes(body);
  throw new EnablementError('PL-400', 'body: expected the raw body as a Uint8Array or a string');
}

/** Input of {@link signWebhookPayload}. */
export interface SignWebhookPayloadInput {
  /** The signing secret. */
  readonly secret: WebhookSecret;
  /** The `webhook-id`. */
  readonly id: string;
  /** The `webhook-timestamp`: Unix time in whole seconds. */
  readonly timestamp: number;
  /** The exact body bytes (a string is signed as its UTF-8). */
  readonly body: Uint8Array | string;
  /** HMAC provider; default `nobleCryptoProvider`. */
  readonly crypto?: CryptoProvider;
}

/**
 * The `webhook-signature` value for one message: `v1,` + base64 of
 * HMAC-SHA256(key, `<id>.<timestamp>.<body>`) (Standard Webhooks). The webhook notifier signs
 * every attempt with it; tests and custom senders can too.
 *
 * @example
 * ```ts
 * signWebhookPayload({ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
 *   timestamp: 1614265330, body: '{"test": 2432232314}' });
 * // 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
 * ```
 */
export function signWebhookPayload(input: SignWebhookPayloadInput): string {
  const key = parseWebhookSecret(input.secret);
  return signWithKey(
    input.crypto ?? nobleCryptoProvider,
    key,
    input.id,
    input.timestamp,
    bodyBytes(input.body),
  );
}

/** {@link signWebhookPayload} with an already parsed key (the notifier's hot path). */
export function signWithKey(
  crypto: CryptoProvider,
  key: Uint8Array,
  id: string,
  timestamp: number,
  body: Uint8Array,
): string {
  if (typeof id !== 'string' || !VISIBLE_ASCII.test(id) || id.length > MAX_ID_LENGTH) {
    throw new EnablementError('PL-400', `id: expected 1 to ${MAX_ID_LENGTH} visible ASCII characters`);
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new EnablementError('PL-400', 'timestamp: expected whole Unix seconds');
  }
  return `v1,${toBase64(crypto.hmacSha256(key, signedContent(id, timestamp, body)))}`;
}

/** Options of {@link verifyWebhookSignature}. */
export interface VerifyWebhookSignatureOptions {
  /** The endpoint's signing secret. */
  readonly secret: WebhookSecret;
  /** The request headers. */
  readonly headers: WebhookHeaders;
  /** The raw body, exactly as received (verify before parsing: re-serialized JSON differs). */
  readonly body: Uint8Array | string;
  /** Clock for the freshness check; default `systemClock`. */
  readonly clock?: Clock;
  /** How far `webhook-timestamp` may be from now, either way; default 5 minutes. */
  readonly toleranceMs?: number;
  /** HMAC provider; default `nobleCryptoProvider`. */
  readonly crypto?: CryptoProvider;
}

/** What a verified webhook says about itself. */
export interface VerifiedWebhook {
  /** The `webhook-id` (the notification id): drop a second delivery with the same id. */
  readonly id: string;
  /** The `webhook-timestamp`, Unix seconds. */
  readonly timestamp: number;
}

function readHeader(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return typeof value === 'string' ? value : undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let found: string | undefined;
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() !== name) continue;
    const value = record[key];
    const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    for (const v of values) {
      if (typeof v !== 'string') continue;
      if (found !== undefined) throw unauthenticated(`more than one ${name} header`);
      found = v;
    }
  }
  return found;
}

const unauthenticated = (why: string): EnablementError =>
  new EnablementError('PL-401', `webhook signature invalid: ${why}`);

/**
 * Verifies a Standard Webhooks request on the receiving side (the counterpart of
 * `createWebhookNotifier`): the `webhook-timestamp` must be within `toleranceMs` of the
 * clock (stale and future timestamps are refused: replay protection), and one `v1` entry of
 * `webhook-signature` must equal HMAC-SHA256(secret, `<id>.<timestamp>.<body>`), compared in
 * constant time. Entries of other versions are ignored; several `v1` entries (key rotation) are
 * allowed. Throws `PL-401` when the request is not authentic (missing or malformed headers,
 * stale timestamp, no matching signature) and `PL-400` for bad arguments; messages never
 * contain the secret. Deduplicate by the returned `id`: a retry carries the same one.
 *
 * @example
 * ```ts
 * const { id } = verifyWebhookSignature({ secret, headers: req.headers, body: rawBody });
 * const notification = decodeNotificationPayload(rawBody);
 * ```
 */
export function verifyWebhookSignature(options: VerifyWebhookSignatureOptions): VerifiedWebhook {
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('PL-400', 'verifyWebhookSignature: expected an options object');
  }
  const key = parseWebhookSecret(options.secret);
  const body = bodyBytes(options.body);
  const clock = options.clock ?? systemClock;
  const crypto = options.crypto ?? nobleCryptoProvider;
  const toleranceMs = options.toleranceMs ?? DEFAULT_WEBHOOK_TOLERANCE_MS;
  if (
    typeof toleranceMs !== 'number' ||
    !Number.isFinite(toleranceMs) ||
    toleranceMs < 0 ||
    toleranceMs > MAX_WEBHOOK_TOLERANCE_MS
  ) {
    throw new EnablementError(
      'PL-400',
      `toleranceMs: expected a number from 0 to ${MAX_WEBHOOK_TOLERANCE_MS}`,
    );
  }
  const headers = options.headers;
  if (typeof headers !== 'object' || headers === null) {
    throw new EnablementError('PL-400', 'headers: expected Headers or a record of header values');
  }

  const id = readHeader(headers, WEBHOOK_ID_HEADER);
  if (id === undefined) throw unauthenticated(`missing ${WEBHOOK_ID_HEADER} header`);
  if (id.length > MAX_ID_LENGTH || !VISIBLE_ASCII.test(id)) {
    throw unauthenticated(`malformed ${WEBHOOK_ID_HEADER} header`);
  }
  const timestampText = readHeader(headers, WEBHOOK_TIMESTAMP_HEADER);
  if (timestampText === undefined) throw unauthenticated(`missing ${WEBHOOK_TIMESTAMP_HEADER} header`);
  if (!/^[0-9]{1,12}$/.test(timestampText))
    throw unauthenticated(`malformed ${WEBHOOK_TIMESTAMP_HEADER} header`);
  const timestamp = Number(timestampText);
  const nowMs = Number(clock.now() / NANOS_PER_MILLI);
  if (Math.abs(nowMs - timestamp * 1000) > toleranceMs) {
    throw unauthenticated(
      `${WEBHOOK_TIMESTAMP_HEADER} is outside the ${toleranceMs} ms tolerance (stale or in the future)`,
    );
  }
  const signatures = readHeader(headers, WEBHOOK_SIGNATURE_HEADER);
  if (signatures === undefined) throw unauthenticated(`missing ${WEBHOOK_SIGNATURE_HEADER} header`);
  if (signatures.length > MAX_SIGNATURE_HEADER_LENGTH) {
    throw unauthenticated(`${WEBHOOK_SIGNATURE_HEADER} header longer than ${MAX_SIGNATURE_HEADER_LENGTH}`);
  }
  const entries = signatures.split(' ').filter((entry) => entry.length > 0);
  if (entries.length > MAX_SIGNATURE_ENTRIES) {
    throw unauthenticated(`more than ${MAX_SIGNATURE_ENTRIES} entries in ${WEBHOOK_SIGNATURE_HEADER}`);
  }
  const expected = crypto.hmacSha256(key, signedContent(id, timestamp, body));
  let matched = false;
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const candidate = fromBase64(entry.slice(comma + 1));
    // Every candidate is compared, so the time taken does not reveal which one matched.
    if (
      candidate !== undefined &&
      candidate.length === HMAC_SHA256_LENGTH &&
      constantTimeEqual(candidate, expected)
    ) {
      matched = true;
    }
  }
  if (!matched) throw unauthenticated(`no ${WEBHOOK_SIGNATURE_HEADER} entry matches the body`);
  return Object.freeze({ id, timestamp });
}
