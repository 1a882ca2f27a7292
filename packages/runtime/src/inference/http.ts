import { type Clock, clockSchema, EnablementError, NANOS_PER_MILLI } from '@creto/core';
import { z } from 'zod';
import { isModelId, isModelPattern, MAX_MODEL_PATTERNS } from './patterns.js';

/** Default bound on a provider's response body (4 MiB): a larger answer is refused, not buffered. */
export const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Largest `maxResponseBytes` an HTTP provider accepts (64 MiB). */
export const MAX_RESPONSE_BYTES_LIMIT = 64 * 1024 * 1024;
/** Most bytes of an error response read to find the upstream's message; the rest is discarded. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Longest upstream error message quoted in an `EnablementError`. */
export const MAX_UPSTREAM_MESSAGE_LENGTH = 300;

/** The subset of WHATWG `fetch` the HTTP providers use (inject one for tests or proxies). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

function isHttpUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  // Credentials in the URL would end up in logs and error messages; the key goes in a header.
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
  );
}

/** Options both HTTP providers share (zod shape, for `parseOptions`). */
export const httpProviderOptionsShape = {
  baseUrl: z
    .string()
    .max(2048, { abort: true })
    .refine(isHttpUrl, { error: 'expected an absolute http(s) URL without credentials' }),
  // Never echoed: zod's messages for these checks do not include the input.
  apiKey: z
    .string()
    .min(1)
    .max(8192, { abort: true })
    .regex(VISIBLE_ASCII, { error: 'expected visible ASCII characters (no spaces or line breaks)' }),
  models: z
    .array(
      z
        .string()
        .refine(isModelPattern, { error: 'expected a model id, a prefix pattern ending in `*`, or `*`' }),
    )
    .min(1)
    .max(MAX_MODEL_PATTERNS, { abort: true }),
  fetch: z
    .custom<FetchLike>((value) => typeof value === 'function', { error: 'expected a fetch function' })
    .optional(),
  name: z
    .string()
    .refine(isModelId, { error: 'expected a provider name: visible ASCII, no spaces, no `*`' })
    .optional(),
  maxResponseBytes: z.number().int().min(1024).max(MAX_RESPONSE_BYTES_LIMIT).optional(),
  clock: clockSchema.optional(),
};

/** What {@link postJson} needs to know about the provider making the call. */
export interface HttpCallContext {
  /** Provider name, for messages. */
  readonly provider: string;
  /** The secret to scrub from anything quoted from the upstream. */
  readonly apiKey: string;
  /** The fetch implementation. */
  readonly fetch: FetchLike;
  /** Clock for `Retry-After` HTTP dates. */
  readonly clock: Clock;
  /** Bound on a successful response body. */
  readonly maxResponseBytes: number;
}

/** `text` without the secret and control characters, cut to {@link MAX_UPSTREAM_MESSAGE_LENGTH}. */
export function scrubUpstreamText(text: string, secret: string): string {
  const withoutSecret = secret === '' ? text : text.split(secret).join('[REDACTED]');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = withoutSecret.replace(/[\u0000-\u001F\u007F\uD800-\uDFFF]/g, ' ').trim();
  return clean.length > MAX_UPSTREAM_MESSAGE_LENGTH
    ? `${clean.slice(0, MAX_UPSTREAM_MESSAGE_LENGTH)}…`
    : clean;
}

/**
 * Milliseconds to wait from `retry-after-ms` (a non-standard header some OpenAI-compatible
 * servers send) or `Retry-After` (RFC 9110 §10.2.3: delay-seconds or an HTTP-date, measured
 * against `clock`). `undefined` when absent or unreadable.
 */
export function parseRetryAfter(headers: Headers, clock: Clock): number | undefined {
  const ms = headers.get('retry-after-ms')?.trim();
  if (ms !== undefined && /^\d{1,12}(\.\d{1,6})?$/.test(ms)) return Number(ms);
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,10}$/.test(value)) return Number(value) * 1000;
  if (value.length > 64) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - Number(clock.now() / NANOS_PER_MILLI));
}

type BoundedRead = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false };

/**
 * Reads at most `max` bytes of a body: a declared `Content-Length` above the bound is refused
 * without reading, and a stream that goes past it is cancelled at once, so a hostile upstream
 * cannot make the host buffer more than `max` bytes.
 */
async function readBounded(response: Response, max: number): Promise<BoundedRead> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => {});
    return { ok: false };
  }
  const body = response.body;
  if (body === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return { ok: false };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The upstream's own error message, when its body is JSON with `error.message` or `message`. */
function upstreamMessage(bytes: Uint8Array): string | undefined {
  try {
    const json: unknown = JSON.parse(utf8.decode(bytes));
    if (typeof json !== 'object' || json === null) return undefined;
    const { error, message } = json as { error?: unknown; message?: unknown };
    if (typeof error === 'object' && error !== null) {
      const inner = (error as { message?: unknown }).message;
      if (typeof inner === 'string') return inner;
    }
    if (typeof error === 'string') return error;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** `fetch failed (ECONNREFUSED)`: the failure's name and system code, never its full text. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return 'request failed';
  const code = (error.cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  const suffix = typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
  return `${error.name === 'TypeError' ? 'request failed' : error.name}${suffix}`;
}

/** Maps a non-2xx response to the error the router understands (see {@link postJson}). */
function statusError(ctx: HttpCallContext, response: Response, detail: string | undefined): EnablementError {
  const { status } = response;
  const what = `${ctx.provider}: HTTP ${status}`;
  const quoted = detail === undefined ? '' : `: ${scrubUpstreamText(detail, ctx.apiKey)}`;
  if (status === 401 || status === 403) {
    // The upstream's text is not quoted: some echo (part of) the rejected key.
    return new EnablementError(
      'RT-500',
      `${what}: the provider rejected the credentials; check the configured API key`,
      { retryable: false },
    );
  }
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers, ctx.clock);
    return new EnablementError(
      'RT-503',
      `${what}: the provider is ${status === 429 ? 'rate limiting' : 'unavailable'}${quoted}`,
      { retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    );
  }
  if (status >= 300 && status < 400) {
    return new EnablementError(
      'RT-500',
      `${what}: the provider answered with a redirect, which is not followed (the key would travel with it); set baseUrl to the final URL`,
      { retryable: false },
    );
  }
  if (status >= 400)
    return new EnablementError('RT-400', `${what}: the provider rejected the request${quoted}`);
  return new EnablementError('RT-500', `${what}: unexpected status`, { retryable: false });
}

/**
 * POSTs `body` as JSON and returns the parsed JSON of a 2xx answer.
 *
 * Failures: the caller's abort → the signal's reason; network failure or a body cut short →
 * retryable `RT-503`; 408/425/429/5xx → retryable `RT-503` with `retryAfterMs` from the
 * response; 401/403 → `RT-500` (credentials; not retryable, upstream text not quoted); other 4xx →
 * `RT-400` quoting the upstream's message (scrubbed of the key, cut short); 3xx (redirects are not
 * followed) → `RT-500`; a 2xx body over `maxResponseBytes`, not UTF-8 or not JSON → `RT-500`
 * (not retried: the upstream may have billed the call). The URL, headers and key never appear in
 * an error.
 */
export async function postJson(
  ctx: HttpCallContext,
  url: string,
  headers: Record<string, string>,
  body: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (signal.aborted) throw signal.reason;
  let response: Response;
  try {
    response = await ctx.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      signal,
      redirect: 'manual',
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new EnablementError('RT-503', `${ctx.provider}: ${describeNetworkError(error)}`, {
      cause: error,
      retryable: true,
    });
  }
  const ok = response.status >= 200 && response.status < 300;
  let read: BoundedRead;
  try {
    read = await readBounded(response, ok ? ctx.maxResponseBytes : MAX_ERROR_BODY_BYTES);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (!ok) throw statusError(ctx, response, undefined);
    throw new EnablementError('RT-503', `${ctx.provider}: the connection failed while reading the response`, {
      cause: error,
      retryable: true,
    });
  }
  if (!ok) throw statusError(ctx, response, read.ok ? upstreamMessage(read.bytes) : undefined);
  if (!read.ok) {
    throw new EnablementError(
      'RT-500',
      `${ctx.provider}: the response body exceeds ${ctx.maxResponseBytes} bytes; refused`,
      { retryable: false },
    );
  }
  try {
    return JSON.parse(utf8.decode(read.bytes));
  } catch {
    // No `cause`: a JSON SyntaxError quotes the body, which is the upstream's text.
    throw new EnablementError('RT-500', `${ctx.provider}: the response is not valid UTF-8 JSON`, {
      retryable: false,
    });
  }
}

/** Base URL without trailing slashes, so `{baseUrl}/path` has exactly one. */
export function trimBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}
