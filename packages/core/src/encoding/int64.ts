import { EnablementError } from '../errors/enablement-error.js';

/** Smallest signed 64-bit integer. */
export const INT64_MIN = -(2n ** 63n);
/** Largest signed 64-bit integer. */
export const INT64_MAX = 2n ** 63n - 1n;
/** Largest unsigned 64-bit integer. */
export const UINT64_MAX = 2n ** 64n - 1n;

const DECIMAL = /^-?(0|[1-9][0-9]*)$/;

/**
 * Parses the wire form of a 64-bit integer: a canonical decimal string (no sign on zero, no
 * leading zeros, no spaces). JSON numbers lose precision above 2^53, so int64 travels as text.
 *
 * @param field - named in the error message
 * @param unsigned - reject negatives and allow up to 2^64-1
 */
export function parseInt64(text: string, field = 'value', unsigned = false): bigint {
  if (typeof text !== 'string' || text.length > 21 || !DECIMAL.test(text) || text === '-0') {
    throw new EnablementError('PL-400', `${field}: expected a decimal integer string`);
  }
  const value = BigInt(text);
  assertInt64(value, field, unsigned);
  return value;
}

/** Throws `PL-400` unless `value` fits in (u)int64. */
export function assertInt64(value: bigint, field = 'value', unsigned = false): void {
  const min = unsigned ? 0n : INT64_MIN;
  const max = unsigned ? UINT64_MAX : INT64_MAX;
  if (typeof value !== 'bigint' || value < min || value > max) {
    throw new EnablementError('PL-400', `${field}: out of ${unsigned ? 'uint64' : 'int64'} range`);
  }
}
