import { ERROR_CATALOGUE, type ErrorCode, isErrorCode } from './catalogue.js';
import { PRODUCT_IDS, type ProductId } from './product.js';

const BRAND = Symbol.for('@creto/core.EnablementError');
const MAX_CAUSE_DEPTH = 16;
const MAX_MESSAGE_LENGTH = 4096;
const MAX_TRACE_ID_LENGTH = 256;
// Largest retry hint kept: beyond it, milliseconds (and the wire's whole seconds) stop being exact.
const MAX_RETRY_AFTER_MS = Number.MAX_SAFE_INTEGER;

/** A duration in the shape serde gives Rust's `std::time::Duration` (spec §8.2 `retry_after`). */
export interface WireDuration {
  secs: number;
  nanos: number;
}

/** The spec §8.2 wire shape of an {@link EnablementError}. */
export interface EnablementErrorJson {
  code: string;
  message: string;
  product: ProductId;
  caused_by: EnablementErrorJson | null;
  retryable: boolean;
  retry_after: WireDuration | null;
  trace_id: string | null;
}

/** Options of the {@link EnablementError} constructor. */
export interface EnablementErrorOptions {
  /**
   * The upstream failure. An `EnablementError` becomes `causedBy` (and appears in `toJSON()`);
   * anything else is kept only as the standard `cause`, never serialized, so that foreign error
   * text (which may hold secrets) does not cross a boundary.
   */
  cause?: unknown;
  /** Overrides the catalogue's retryability for this instance. */
  retryable?: boolean;
  /**
   * When the caller may retry, in milliseconds. Only a finite number in
   * `[0, Number.MAX_SAFE_INTEGER]` counts as a hint; anything else is ignored (the cause's hint,
   * if any, applies) rather than thrown, so that a bad hint never masks the error being raised.
   */
  retryAfterMs?: number;
  /** Trace id; inherited from `cause` when that is an `EnablementError` with one. */
  traceId?: string;
  /** Overrides the product derived from the code's prefix (rarely needed). */
  product?: ProductId;
}

/**
 * The one error type that crosses package boundaries (spec §8.2): a catalogued `code`, the
 * originating `product`, a `causedBy` chain, retry hints and a trace id.
 *
 * `instanceof` works across copies of `@creto/core` (the class brands instances with a
 * registered symbol), so a host with two installed versions still recognises every error.
 *
 * @example
 * ```ts
 * const quota = new EnablementError('MT-429', 'Monthly sandbox quota exceeded (100/100)', {
 *   retryAfterMs: 86_400_000,
 * });
 * throw new EnablementError('RT-429', 'Cannot spawn sandbox: quota exceeded', { cause: quota });
 * ```
 */
export class EnablementError extends Error {
  /** Catalogued code, e.g. `RT-429`. */
  readonly code: ErrorCode;
  /** Product that raised the error. */
  readonly product: ProductId;
  /** The upstream `EnablementError`, if this one was caused by another product's failure. */
  readonly causedBy: EnablementError | undefined;
  /** Whether retrying the same call may succeed. */
  readonly retryable: boolean;
  /** Suggested delay before a retry, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** Trace id for correlation across products. */
  readonly traceId: string | undefined;

  constructor(code: ErrorCode, message: string, options: EnablementErrorOptions = {}) {
    super(truncate(message), options.cause === undefined ? undefined : { cause: options.cause });
    if (!isErrorCode(code)) throw new TypeError(`unknown error code: ${String(code)}`);
    const info = ERROR_CATALOGUE[code];
    const causedBy = EnablementError.is(options.cause) ? options.cause : undefined;
    this.name = 'EnablementError';
    this.code = code;
    this.product = options.product ?? info.product;
    this.causedBy = causedBy;
    this.retryable = options.retryable ?? info.retryable;
    this.retryAfterMs = validRetryAfter(options.retryAfterMs) ?? causedBy?.retryAfterMs;
    this.traceId = options.traceId ?? causedBy?.traceId;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** Brand check that works across package copies (also used by `instanceof`). */
  static is(value: unknown): value is EnablementError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return EnablementError.is(value);
  }

  /** The chain from this error down to the root cause. */
  chain(): EnablementError[] {
    const out: EnablementError[] = [];
    for (let e: EnablementError | undefined = this; e && out.length < MAX_CAUSE_DEPTH; e = e.causedBy) {
      out.push(e);
    }
    return out;
  }

  /** Spec §8.2 wire shape (snake_case; `retry_after` as serde's `{secs, nanos}`). */
  toJSON(): EnablementErrorJson {
    return toJsonBounded(this, MAX_CAUSE_DEPTH);
  }

  /**
   * Rebuilds an error from its wire shape. Unknown codes, bad types and over-deep chains are
   * rejected with `PL-400` rather than trusted.
   */
  static fromJSON(json: unknown): EnablementError {
    return fromJsonBounded(json, MAX_CAUSE_DEPTH);
  }
}

function truncate(message: string): string {
  const text = typeof message === 'string' ? message : String(message);
  if (text.length <= MAX_MESSAGE_LENGTH) return text;
  // Never cut a surrogate pair in half: a lone surrogate cannot be encoded as UTF-8.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(MAX_MESSAGE_LENGTH - 1))
    ? MAX_MESSAGE_LENGTH - 1
    : MAX_MESSAGE_LENGTH;
  return `${text.slice(0, end)}…`;
}

function validRetryAfter(ms: number | undefined): number | undefined {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 && ms <= MAX_RETRY_AFTER_MS
    ? ms
    : undefined;
}

function msToDuration(ms: number): WireDuration {
  // Whole milliseconds in bigint, so that large integer hints convert exactly (ms * 1e6 in
  // floating point would round above 2^53 ns, about 104 days).
  const whole = Math.trunc(ms);
  const totalNanos = BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
  return { secs: Number(totalNanos / 1_000_000_000n), nanos: Number(totalNanos % 1_000_000_000n) };
}

function toJsonBounded(error: EnablementError, depth: number): EnablementErrorJson {
  return {
    code: error.code,
    message: error.message,
    product: error.product,
    caused_by: error.causedBy && depth > 1 ? toJsonBounded(error.causedBy, depth - 1) : null,
    retryable: error.retryable,
    retry_after: error.retryAfterMs === undefined ? null : msToDuration(error.retryAfterMs),
    trace_id: error.traceId ?? null,
  };
}

function fromJsonBounded(json: unknown, depth: number): EnablementError {
  const bad = (why: string) => new EnablementError('PL-400', `invalid EnablementError JSON: ${why}`);
  if (depth <= 0) throw bad('caused_by chain too deep');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not an object');
  const o = json as Record<string, unknown>;
  if (!isErrorCode(o.code)) throw bad('unknown code');
  if (typeof o.message !== 'string') throw bad('message must be a string');
  if (typeof o.product !== 'string' || !(PRODUCT_IDS as readonly string[]).includes(o.product)) {
    throw bad('unknown product');
  }
  if (typeof o.retryable !== 'boolean') throw bad('retryable must be a boolean');
  let retryAfterMs: number | undefined;
  if (o.retry_after !== null && o.retry_after !== undefined) {
    const d = o.retry_after as Record<string, unknown>;
    if (
      typeof d !== 'object' ||
      !Number.isSafeInteger(d.secs) ||
      !Number.isSafeInteger(d.nanos) ||
      (d.secs as number) < 0 ||
      (d.nanos as number) < 0 ||
      (d.nanos as number) >= 1e9
    ) {
      throw bad('retry_after must be {secs, nanos}');
    }
    retryAfterMs = (d.secs as number) * 1000 + (d.nanos as number) / 1e6;
    if (retryAfterMs > MAX_RETRY_AFTER_MS) throw bad('retry_after out of range');
  }
  if (o.trace_id !== null && o.trace_id !== undefined) {
    if (typeof o.trace_id !== 'string') throw bad('trace_id must be a string or null');
    if (o.trace_id.length > MAX_TRACE_ID_LENGTH) throw bad(`trace_id longer than ${MAX_TRACE_ID_LENGTH}`);
  }
  const cause =
    o.caused_by === null || o.caused_by === undefined ? undefined : fromJsonBounded(o.caused_by, depth - 1);
  const options: EnablementErrorOptions = {
    product: o.product as ProductId,
    retryable: o.retryable,
  };
  if (cause) options.cause = cause;
  if (retryAfterMs !== undefined) options.retryAfterMs = retryAfterMs;
  if (typeof o.trace_id === 'string') options.traceId = o.trace_id;
  const error = new EnablementError(o.code, o.message, options);
  // The wire is authoritative: don't inherit hints from the cause that the sender left empty.
  if (retryAfterMs === undefined && error.retryAfterMs !== undefined) {
    Object.defineProperty(error, 'retryAfterMs', { value: undefined });
  }
  if (o.trace_id == null && error.traceId !== undefined) {
    Object.defineProperty(error, 'traceId', { value: undefined });
  }
  return error;
}
