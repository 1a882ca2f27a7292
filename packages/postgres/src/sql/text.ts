import { EnablementError, type ErrorCode } from '@creto/core';

// A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `value` cannot be stored byte for byte in a PostgreSQL `text` column, or `undefined` when
 * it can: `text` refuses U+0000, and UTF-8 encoding would silently replace a lone surrogate with
 * U+FFFD (the value read back would differ from the one written).
 */
export function unstorableTextReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains U+0000, which PostgreSQL text cannot hold';
  if (LONE_SURROGATE.test(value)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/**
 * Throws `code` unless `value` is a string of `min`..`max` UTF-16 code units that PostgreSQL
 * `text` stores exactly (see {@link unstorableTextReason}). `what` prefixes the message.
 */
export function assertStorableText(
  value: unknown,
  field: string,
  options: { readonly max: number; readonly min?: number; readonly code: ErrorCode; readonly what: string },
): asserts value is string {
  const min = options.min ?? 1;
  if (typeof value !== 'string') {
    throw new EnablementError(options.code, `${options.what}: ${field} must be a string`);
  }
  if (value.length < min) {
    throw new EnablementError(options.code, `${options.what}: ${field} must be a non-empty string`);
  }
  if (value.length > options.max) {
    throw new EnablementError(
      options.code,
      `${options.what}: ${field} is longer than ${options.max} characters`,
    );
  }
  const reason = unstorableTextReason(value);
  if (reason !== undefined) throw new EnablementError(options.code, `${options.what}: ${field} ${reason}`);
}
