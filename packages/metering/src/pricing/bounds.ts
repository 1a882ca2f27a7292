import { Decimal, type DecimalLike, EnablementError } from '@creto/core';
import {
  MAX_PRICE_INTEGER_DIGITS,
  MAX_PRICE_SCALE,
  MAX_QUANTITY_INTEGER_DIGITS,
  MAX_QUANTITY_SCALE,
} from './limits.js';

// Internal helpers shared by plan validation and pricing; not part of the public face.

const PRICE_LIMIT = Decimal.fromParts(10n ** BigInt(MAX_PRICE_INTEGER_DIGITS), 0);
const QUANTITY_LIMIT = Decimal.fromParts(10n ** BigInt(MAX_QUANTITY_INTEGER_DIGITS), 0);

function invalid(field: string, message: string): EnablementError {
  return new EnablementError('MT-400', `${field}: ${message}`);
}

/** A `Decimal` from a `Decimal`, decimal string or bigint; anything else is `MT-400` naming `field`. */
export function toDecimal(value: unknown, field: string): Decimal {
  try {
    return Decimal.from(value as DecimalLike, field);
  } catch (error) {
    // Decimal reports PL-400 (platform); in a plan or usage the fault is the metering input.
    const message = EnablementError.is(error) ? error.message : `${field}: expected a decimal`;
    throw new EnablementError('MT-400', message, { cause: error });
  }
}

/**
 * A price, flat fee or base fee: non-negative, at most {@link MAX_PRICE_SCALE} fraction digits and
 * below 10^{@link MAX_PRICE_INTEGER_DIGITS}. The representation (trailing zeros) is kept.
 */
export function checkPrice(value: unknown, field: string): Decimal {
  const price = toDecimal(value, field);
  if (price.isNegative()) throw invalid(field, 'must not be negative');
  if (price.scale > MAX_PRICE_SCALE) throw invalid(field, `at most ${MAX_PRICE_SCALE} fraction digits`);
  if (price.gte(PRICE_LIMIT)) throw invalid(field, `must be below 10^${MAX_PRICE_INTEGER_DIGITS}`);
  return price;
}

/**
 * A quantity or tier bound: non-negative (positive when `positive`), at most
 * {@link MAX_QUANTITY_SCALE} significant fraction digits and below 10^{@link MAX_QUANTITY_INTEGER_DIGITS}.
 * Trailing fraction zeros are dropped first, so `"1.000"` and `"1"` are the same quantity.
 */
export function checkQuantity(value: unknown, field: string, positive = false): Decimal {
  const quantity = toDecimal(value, field).normalize();
  if (quantity.isNegative()) throw invalid(field, 'must not be negative');
  if (positive && quantity.isZero()) throw invalid(field, 'must be greater than zero');
  if (quantity.scale > MAX_QUANTITY_SCALE) {
    throw invalid(field, `at most ${MAX_QUANTITY_SCALE} fraction digits`);
  }
  if (quantity.gte(QUANTITY_LIMIT)) throw invalid(field, `must be below 10^${MAX_QUANTITY_INTEGER_DIGITS}`);
  return quantity;
}

/** A short, safe rendering of hostile input for an error message (never calls its methods). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null) return 'null';
  return `a ${typeof value}`;
}
