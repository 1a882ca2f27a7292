import { EnablementError } from '../errors/enablement-error.js';

/** Throws `PL-400` unless `value` is a `Uint8Array` of exactly `length` bytes (when given). */
export function assertBytes(
  value: unknown,
  length: number | undefined,
  field: string,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new EnablementError('PL-400', `${field}: expected bytes`);
  }
  if (length !== undefined && value.length !== length) {
    throw new EnablementError('PL-400', `${field}: expected ${length} bytes, got ${value.length}`);
  }
}

/** Throws `PL-400` unless `length` is a safe non-negative integer no larger than `max`. */
export function assertLength(length: unknown, max: number, field: string): asserts length is number {
  if (!Number.isSafeInteger(length) || (length as number) < 0 || (length as number) > max) {
    throw new EnablementError('PL-400', `${field}: expected an integer in [0, ${max}]`);
  }
}
