import {
  type Clock,
  type CryptoProvider,
  clockSchema,
  cryptoProviderSchema,
  EnablementError,
  type Logger,
  millisToNanos,
  NANOS_PER_MILLI,
  NANOS_PER_SECOND,
  type Notification,
  type NotificationReceipt,
  nobleCryptoProvider,
  parseOptions,
  systemClock,
} from '@creto/core';
import { z } from 'zod';
import { type AttemptContext, createDeliveryQueue } from './delivery-queue.js';
import {
  DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES,
  describeRecipient,
  encodeNotificationPayload,
  MAX_NOTIFICATION_PAYLOAD_BYTES,
  parseNotification,
} from './notification.js';
import {
  functionSchema,
  queueOptionsShape,
  resolveLogger,
  resolveMaxQueued,
  resolveRetry,
} from './options.js';
import type { ManagedNotifier, NotifierHooks, NotifierRetryOptions } from './types.js';
import {
  parseWebhookSecret,
  signWithKey,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type WebhookSecret,
} from './webhook-signature.js';

/** The channel name of {@link createWebhookNotifier} receipts. */
export const WEBHOOK_CHANNEL = 'webhook';
/** Default time limit of one webhook request, ms. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Longest webhook URL accepted. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** The request the notifier makes: what {@link WebhookFetch} receives. */
export interface WebhookRequestInit {
  /** Always `POST`. */
  readonly method: 'POST';
  /** `content-type`, `webhook-id`, `webhook-timestamp`, `webhook-signature`. */
  readonly headers: Record<string, string>;
  /** The JSON body (the notification payload envelope). */
  readonly body: Uint8Array;
  /** Aborted on timeout, or when the notifier abandons its queue. */
  readonly signal: AbortSignal;
  /** Always `manual`: a redirect is not followed (it is a failure, not retried). */
  readonly redirect: 'manual';
}

/** The part of a fetch `Response` the notifier reads. */
export interface WebhookResponse {
  /** HTTP status. */
  readonly status: number;
  /** Response headers (`Retry-After` is read). */
  readonly headers: { get(name: string): string | null };
  /** The body stream; cancelled unread. */
  readonly body?: { cancel(reason?: unknown): Promise<void> } | null;
}

/** The HTTP client port: `globalThis.fetch` fits; tests may pass their own. */
export type WebhookFetch = (url: string, init: WebhookRequestInit) => Promise<WebhookResponse>;

/** Resolves the endpoint of a recipient; `undefined` means it has none (`notify` rejects `OV-400`). */
export type WebhookUrlResolver = (
  recipient: string,
  notification: Notification,
) => string | undefined | Promise<string | undefined>;

/** Options of {@link createWebhookNotifier}. Give exactly one of `url` and `resolveUrl`. */
export interface WebhookNotifierOptions extends NotifierHooks {
  /** The one endpoint every notification goes to. Treated as secret: errors and logs show its origin only. */
  readonly url?: string;
  /**
   * The endpoint per recipient, looked up once per notification before the first attempt. An
   * `EnablementError` it throws is passed on; anything else becomes `PL-500`.
   */
  readonly resolveUrl?: WebhookUrlResolver;
  /** The signing secret (`whsec_…` or raw bytes). Never appears in errors or logs. */
  readonly secret: WebhookSecret;
  /** HTTP client; default `globalThis.fetch`. */
  readonly fetch?: WebhookFetch;
  /** Clock for timestamps, timeouts and backoff; default `systemClock`. Tests pass `FakeClock`. */
  readonly clock?: Clock;
  /** HMAC provider; default `nobleCryptoProvider`. */
  readonly crypto?: CryptoProvider;
  /** Time limit of one request, ms (on the clock); default {@link DEFAULT_WEBHOOK_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Allow `http:` endpoints (default false: `https:` only, the body is not encrypted otherwise). */
  readonly allowHttp?: boolean;
  /** Largest body; default 224 KiB. */
  readonly maxPayloadBytes?: number;
  /** Bound on the retry queue; default 1000. At the bound `notify` rejects with retryable `PL-503`. */
  readonly maxQueued?: number;
  /** Backoff of the retry queue; see `DEFAULT_NOTIFIER_RETRY`. */
  readonly retry?: NotifierRetryOptions;
  /** Jitter source in `[0, 1)`; default `Math.random`. Tests pass a constant. */
  readonly random?: () => number;
  /** Where queueing and failures are logged (ids, origins, codes; never the secret, URL path, body or data). */
  readonly logger?: Logger;
}

const optionsSchema = z.strictObject({
  url: z.string().optional(),
  resolveUrl: functionSchema<WebhookUrlResolver>().optional(),
  // Checked by `parseWebhookSecret`, whose message never echoes the value.
  secret: z.unknown(),
  fetch: functionSchema<WebhookFetch>().optional(),
  clock: clockSchema.optional(),
  crypto: cryptoProviderSchema.optional(),
  timeoutMs: z.number().int().min(1).max(300_000).optional(),
  allowHttp: z.boolean().optional(),
  maxPayloadBytes: z.number().int().min(256).max(MAX_NOTIFICATION_PAYLOAD_BYTES).optional(),
  ...queueOptionsShape,
});

interface Endpoint {
  /** The full URL (secret: never in errors or logs). */
  readonly url: string;
  /** Its origin, for messages. */
  readonly origin: string;
}

interface Prepared {
  readonly endpoint: Endpoint;
  readonly body: Uint8Array;
}

/** The URL as an endpoint, or `undefined` when it is not an acceptable webhook URL. */
function toEndpoint(value: unknown, allowHttp: boolean): Endpoint | undefined {
  if (typeof value !== 'string' || value.length > MAX_WEBHOOK_URL_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) return undefined;
  // Credentials in a URL would travel in clear in logs of every proxy; fetch refuses them anyway.
  if (url.username !== '' || url.password !== '') return undefined;
  return Object.freeze({ url: url.href, origin: url.origin });
}

/**
 * The wait a `Retry-After` value asks for, ms: delta-seconds or an HTTP-date (RFC 9110
 * §10.2.3, IMF-fixdate) measured against the clock; `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowNs: bigint): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^[0-9]{1,9}$/.test(text)) return Number(text) * 1000;
  // Only the IMF-fixdate form senders must generate (RFC 9110 §5.6.7); `Date.parse` alone
  // would read `-5` as a year.
  if (!/^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/.test(text))
    return undefined;
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - Number(nowNs / NANOS_PER_MILLI));
}

/** Names only a network failure's kind (`ECONNREFUSED`, `TypeError`): its text may hold the URL. */
function networkFailureKind(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(cause.code)) return cause.code;
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'error';
}

/** The transient error of one attempt (retried). */
function transient(message: string, retryAfterMs?: number): EnablementError {
  return new EnablementError('PL-503', message, {
    retryable: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** A marker for a permanent HTTP refusal, mapped to `OV-400` by the queue. */
class PermanentWebhookFailure extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'PermanentWebhookFailure';
  }
}

/**
 * A {@link ManagedNotifier} that POSTs each notification as JSON to an HTTPS endpoint, signed
 * the Standard Webhooks way: `webhook-id` (the notification id, the same on every retry),
 * `webhook-timestamp` (Unix seconds of the attempt, from the clock) and `webhook-signature:
 * v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`, re-signed per attempt. Receivers check
 * it with `verifyWebhookSignature` and read the body with `decodeNotificationPayload` (it is the
 * notification payload envelope).
 *
 * - The first attempt runs inline: a 2xx answer gives a `delivered` receipt.
 * - A network error, a timeout (`timeoutMs` on the clock, through an `AbortSignal`), HTTP 408,
 *   429 or 5xx → receipt `queued` with `OV-202`; the notification waits in a bounded queue and is
 *   retried with exponential backoff and jitter on the clock, never sooner than the endpoint's
 *   `Retry-After`. `onDelivered` / `onFailed` report how it ends.
 * - Any other status (3xx, 4xx) is permanent: `notify` rejects with `OV-400` (or `onFailed`
 *   with `rejected` for a queued one); it is not retried.
 *
 * The secret, the URL's path and query, the body and the data never appear in errors or logs.
 *
 * @example
 * ```ts
 * const notifier = createWebhookNotifier({ url: 'https://hooks.example.com/creto', secret: process.env.WEBHOOK_SECRET });
 * await notifier.notify({ id, kind: 'approval_required', recipient: approverNhi, subject, body });
 * ```
 */
export function createWebhookNotifier(options: WebhookNotifierOptions): ManagedNotifier {
  const parsed = parseOptions(optionsSchema, options, 'createWebhookNotifier');
  const key = parseWebhookSecret(parsed.secret, 'invalid createWebhookNotifier options: secret');
  const allowHttp = parsed.allowHttp ?? false;
  if ((parsed.url === undefined) === (parsed.resolveUrl === undefined)) {
    throw new EnablementError(
      'PL-400',
      'invalid createWebhookNotifier options: give exactly one of url and resolveUrl',
    );
  }
  const scheme = allowHttp ? 'an absolute http(s) URL' : 'an absolute https URL';
  const fixed = parsed.url === undefined ? undefined : toEndpoint(parsed.url, allowHttp);
  if (parsed.url !== undefined && fixed === undefined) {
    throw new EnablementError(
      'PL-400',
      `invalid createWebhookNotifier options: url: expected ${scheme} without credentials, at most ${MAX_WEBHOOK_URL_LENGTH} characters`,
    );
  }
  const resolveUrl = parsed.resolveUrl;
  const fetchFn: WebhookFetch | undefined = parsed.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') {
    throw new EnablementError(
      'PL-400',
      'invalid createWebhookNotifier options: fetch: no global fetch; pass one',
    );
  }
  const clock = parsed.clock ?? systemClock;
  const crypto = parsed.crypto ?? nobleCryptoProvider;
  const timeoutMs = parsed.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const maxPayloadBytes = parsed.maxPayloadBytes ?? DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES;

  const attempt = async (
    notification: Notification,
    prepared: Prepared,
    context: AttemptContext,
  ): Promise<NotificationReceipt> => {
    const { endpoint, body } = prepared;
    if (context.signal.aborted) throw context.signal.reason;
    const timestamp = Number(clock.now() / NANOS_PER_SECOND);
    const headers = {
      'content-type': 'application/json',
      [WEBHOOK_ID_HEADER]: notification.id,
      [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
      [WEBHOOK_SIGNATURE_HEADER]: signWithKey(crypto, key, notification.id, timestamp, body),
    };
    const controller = new AbortController();
    const onAbandon = (): void => controller.abort(context.signal.reason);
    context.signal.addEventListener('abort', onAbandon, { once: true });
    let timedOut = false;
    const cancelTimeout = clock.schedule(clock.now() + millisToNanos(timeoutMs), () => {
      timedOut = true;
      controller.abort(transient(`webhook request to ${endpoint.origin} timed out after ${timeoutMs} ms`));
    });
    try {
      let response: WebhookResponse;
      try {
        response = await fetchFn(endpoint.url, {
          method: 'POST',
          headers,
          body: body.slice(),
          signal: controller.signal,
          redirect: 'manual',
        });
      } catch (error) {
        if (context.signal.aborted) throw context.signal.reason;
        if (timedOut)
          throw transient(`webhook request to ${endpoint.origin} timed out after ${timeoutMs} ms`);
        throw transient(`webhook request to ${endpoint.origin} failed: ${networkFailureKind(error)}`);
      }
      // The answer's body is not needed; release the connection without reading it.
      response.body?.cancel().catch(() => undefined);
      const status = response.status;
      if (status >= 200 && status < 300) {
        return { notificationId: notification.id, status: 'delivered', channel: WEBHOOK_CHANNEL };
      }
      if (status === 408 || status === 429 || (status >= 500 && status < 600)) {
        throw transient(
          `webhook endpoint ${endpoint.origin} answered HTTP ${status}`,
          parseRetryAfter(response.headers.get('retry-after'), clock.now()),
        );
      }
      throw new PermanentWebhookFailure(status);
    } finally {
      cancelTimeout();
      context.signal.removeEventListener('abort', onAbandon);
    }
  };

  const queue = createDeliveryQueue<Prepared>({
    channel: WEBHOOK_CHANNEL,
    clock,
    maxQueued: resolveMaxQueued(parsed.maxQueued),
    retry: resolveRetry(parsed.retry),
    random: parsed.random,
    logger: resolveLogger(parsed.logger),
    hooks: { onDelivered: parsed.onDelivered, onFailed: parsed.onFailed },
    attempt,
    isTransient: (error) => EnablementError.is(error) && error.code === 'PL-503' && error.retryable,
    permanentError: (error, notification) => {
      if (error instanceof PermanentWebhookFailure) {
        return new EnablementError(
          'OV-400',
          `webhook endpoint for ${describeRecipient(notification.recipient)} refused notification ${notification.id} with HTTP ${error.status}`,
        );
      }
      return EnablementError.is(error)
        ? error
        : new EnablementError('PL-500', `notification ${notification.id}: webhook delivery failed`, {
            cause: error,
          });
    },
  });

  const resolveEndpoint = async (notification: Notification): Promise<Endpoint> => {
    if (fixed !== undefined) return fixed;
    let raw: string | undefined;
    try {
      raw = await resolveUrl?.(notification.recipient, notification);
    } catch (error) {
      if (EnablementError.is(error)) throw error;
      throw new EnablementError('PL-500', `notification ${notification.id}: resolveUrl threw`, {
        cause: error,
      });
    }
    const target = describeRecipient(notification.recipient);
    if (raw === undefined) {
      throw new EnablementError(
        'OV-400',
        `notification ${notification.id}: no webhook URL for recipient ${target}`,
      );
    }
    const endpoint = toEndpoint(raw, allowHttp);
    if (endpoint === undefined) {
      throw new EnablementError(
        'OV-400',
        `notification ${notification.id}: resolveUrl gave recipient ${target} an invalid URL (expected ${scheme} without credentials)`,
      );
    }
    return endpoint;
  };

  return Object.freeze({
    channel: WEBHOOK_CHANNEL,
    async notify(input: Notification): Promise<NotificationReceipt> {
      queue.assertOpen();
      let notification: Notification;
      let prepared: Prepared;
      try {
        notification = parseNotification(input);
        const body = encodeNotificationPayload(notification, maxPayloadBytes);
        prepared = { endpoint: await resolveEndpoint(notification), body };
      } catch (error) {
        throw queue.refuse(
          EnablementError.is(error)
            ? error
            : new EnablementError('OV-400', 'invalid notification', { cause: error }),
        );
      }
      return queue.deliver(notification, prepared);
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
