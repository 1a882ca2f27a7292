import { type CancelTimer, EnablementError, type Scheduler } from '@creto/core';
import type { EgressRequest, EgressResponse } from '../driver/types.js';
import { normalizeHost } from './hosts.js';

/** The `fetch` function egress goes through (the global one by default; tests inject their own). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** Bounds of one egress request. */
export interface EgressLimits {
  /** Wall-clock limit of the whole request (connect, send, receive the body), ms. */
  readonly timeoutMs: number;
  /** Largest request body, bytes (`RT-413` beyond). */
  readonly maxRequestBodyBytes: number;
  /** Largest response body, bytes (`RT-413` beyond; the transfer is cut). */
  readonly maxResponseBodyBytes: number;
}

/** Default {@link EgressLimits}. */
export const DEFAULT_EGRESS_LIMITS: EgressLimits = Object.freeze({
  timeoutMs: 30_000,
  maxRequestBodyBytes: 1024 * 1024,
  maxResponseBodyBytes: 10 * 1024 * 1024,
});

/** Most request headers. */
export const MAX_EGRESS_HEADERS = 100;
/** Most bytes of request header names and values together. */
export const MAX_EGRESS_HEADER_BYTES = 64 * 1024;
/** Longest egress URL. */
export const MAX_EGRESS_URL_LENGTH = 8192;

/** A validated egress target. */
export interface EgressTarget {
  /** The URL as the WHATWG parser normalized it. */
  readonly url: string;
  /** Normalized host (lower case, punycode; IPv6 in brackets). */
  readonly host: string;
  /** Port, explicit or the scheme's default. */
  readonly port: number;
  /** Upper-case method. */
  readonly method: string;
}

// Connection-level and framing headers are the host's business, never the sandbox's (RFC 9110 §7.6.1).
const DROPPED_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

const METHOD = /^[A-Z]{1,16}$/;

function bad(field: string, why: string): EnablementError {
  return new EnablementError('RT-400', `egress ${field}: ${why}`);
}

/** Validates an egress request's URL and method; `RT-400` naming what is wrong. */
export function parseEgressTarget(request: EgressRequest): EgressTarget {
  if (typeof request !== 'object' || request === null) throw bad('request', 'expected an object');
  const { url, method } = request;
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_EGRESS_URL_LENGTH) {
    throw bad('url', `expected an absolute URL of at most ${MAX_EGRESS_URL_LENGTH} characters`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('url', 'not an absolute URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw bad('url', `scheme ${parsed.protocol} is not allowed (http: or https: only)`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw bad('url', 'credentials in the URL are not allowed (send an Authorization header)');
  }
  const host = normalizeHost(parsed.hostname);
  if (host === undefined) throw bad('url', 'the host is not a valid host name or IP address');
  const upper = typeof method === 'string' ? method.toUpperCase() : '';
  if (!METHOD.test(upper) || upper === 'CONNECT' || upper === 'TRACE') {
    throw bad('method', 'expected an HTTP method such as GET or POST (CONNECT and TRACE are refused)');
  }
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  return { url: parsed.href, host, port, method: upper };
}

function requestHeaders(headers: unknown): Headers {
  if (headers === undefined) return new Headers();
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw bad('headers', 'expected an object of header names to values');
  }
  const entries = Object.entries(headers);
  if (entries.length > MAX_EGRESS_HEADERS) throw bad('headers', `at most ${MAX_EGRESS_HEADERS} headers`);
  const out = new Headers();
  let bytes = 0;
  for (const [name, value] of entries) {
    if (typeof value !== 'string') throw bad(`headers.${name}`, 'expected a string value');
    bytes += name.length + value.length;
    if (bytes > MAX_EGRESS_HEADER_BYTES) throw bad('headers', `more than ${MAX_EGRESS_HEADER_BYTES} bytes`);
    if (DROPPED_HEADERS.has(name.toLowerCase())) continue;
    try {
      out.append(name, value);
    } catch {
      throw bad(`headers.${name}`, 'invalid header name or value');
    }
  }
  return out;
}

/** The request body's size, validated; `RT-413` when over the bound. */
export function egressRequestBodyBytes(request: EgressRequest, limits: EgressLimits): number {
  const { body } = request;
  if (body === undefined) return 0;
  if (!(body instanceof Uint8Array)) throw bad('body', 'expected bytes');
  if (body.length > limits.maxRequestBodyBytes) {
    throw new EnablementError(
      'RT-413',
      `egress request body of ${body.length} bytes exceeds the limit of ${limits.maxRequestBodyBytes}`,
    );
  }
  return body.length;
}

async function readBounded(response: Response, max: number, onTooLarge: () => void): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel().catch(() => undefined);
    onTooLarge();
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      onTooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Performs one already-authorized egress request with `fetchFn`: hop-by-hop headers dropped,
 * redirects NOT followed (a `3xx` is returned to the sandbox, whose next request to the
 * `Location` is checked again), bounded body sizes and a timeout on the engine's scheduler.
 * Rejects with `RT-413` (a body too large), `RT-503` (network failure or timeout, retryable) or
 * `RT-400` (malformed headers).
 */
export async function performEgress(
  fetchFn: FetchFunction,
  target: EgressTarget,
  request: EgressRequest,
  limits: EgressLimits,
  scheduler: Scheduler,
): Promise<EgressResponse> {
  const bodyBytes = egressRequestBodyBytes(request, limits);
  if (bodyBytes > 0 && (target.method === 'GET' || target.method === 'HEAD')) {
    throw bad('body', `a ${target.method} request cannot have a body`);
  }
  const headers = requestHeaders(request.headers);
  const controller = new AbortController();
  let timedOut = false;
  let cancel: CancelTimer | undefined = scheduler.scheduleAfter(limits.timeoutMs, () => {
    timedOut = true;
    controller.abort();
  });
  const tooLarge = (): never => {
    throw new EnablementError(
      'RT-413',
      `egress response from ${target.host} exceeds the limit of ${limits.maxResponseBodyBytes} bytes`,
    );
  };
  try {
    const init: RequestInit = {
      method: target.method,
      headers,
      redirect: 'manual',
      signal: controller.signal,
      ...(request.body === undefined || request.body.length === 0 ? {} : { body: request.body }),
    };
    const response = await fetchFn(target.url, init);
    const body = await readBounded(response, limits.maxResponseBodyBytes, tooLarge);
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      outHeaders[name.toLowerCase()] = value;
    });
    return { status: response.status, statusText: response.statusText, headers: outHeaders, body };
  } catch (error) {
    if (EnablementError.is(error)) throw error;
    if (timedOut) {
      throw new EnablementError('RT-503', `egress to ${target.host} timed out after ${limits.timeoutMs} ms`, {
        retryable: true,
      });
    }
    // The underlying error text may name internal addresses; keep only its kind.
    const kind = error instanceof Error ? error.name : 'error';
    throw new EnablementError('RT-503', `egress to ${target.host} failed (${kind})`, {
      retryable: true,
      cause: error,
    });
  } finally {
    cancel?.();
    cancel = undefined;
  }
}
