import { DECIMAL_MAX_TEXT_LENGTH, DECIMAL_PATTERN, Decimal } from '../decimal/decimal.js';

/**
 * Exact comparison of attribute values (docs/authz.md "Comparisons").
 *
 * Numeric values are JavaScript numbers (finite), `bigint`, `Decimal` and decimal strings
 * (`-?digits(.digits)?`, the form money takes on the wire). Two numbers compare as IEEE doubles,
 * which is exact; anything else is compared as a `Decimal`, a number being taken as its shortest
 * round-trip decimal text (`0.1` is 0.1, the JSON text it came from, not 0.1000000000000000055…).
 * Values that cannot be compared give `undefined`, which every condition treats as false.
 */

/** A numeric literal of a policy, prepared once at compile time. */
export interface NumericLiteral {
  /** The literal as a JS number, when it was written as one (fast path). */
  readonly number: number | undefined;
  /** The literal as an exact decimal; `undefined` for a number outside `Decimal`'s range (e.g. 1e-300). */
  readonly decimal: Decimal | undefined;
}

/** Prepares a policy literal (a finite number or a canonical decimal string; validated by the schema). */
export function numericLiteral(value: number | string): NumericLiteral {
  if (typeof value === 'number') return { number: value, decimal: numberToDecimal(value) };
  return { number: undefined, decimal: Decimal.parse(value, 'value') };
}

const EXPONENT = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

/**
 * The exact decimal of a JS number's shortest round-trip text (`String(n)`), or `undefined` when
 * it is not finite or falls outside `Decimal`'s scale (36) and precision (72 digits).
 */
export function numberToDecimal(value: number): Decimal | undefined {
  if (!Number.isFinite(value)) return undefined;
  if (Number.isSafeInteger(value)) return Decimal.fromParts(BigInt(value), 0);
  const match = EXPONENT.exec(String(value));
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  let coefficient = BigInt(`${sign}${whole}${fraction}`);
  let scale = fraction.length - Number(exponentText);
  if (scale < 0) {
    coefficient *= 10n ** BigInt(-scale);
    scale = 0;
  }
  try {
    return Decimal.fromParts(coefficient, scale);
  } catch {
    return undefined;
  }
}

/** The exact decimal of a numeric value, or `undefined` for anything else. */
export function toDecimal(value: unknown): Decimal | undefined {
  switch (typeof value) {
    case 'number':
      return numberToDecimal(value);
    case 'bigint':
      try {
        return Decimal.fromParts(value, 0);
      } catch {
        return undefined;
      }
    case 'string':
      if (value.length > DECIMAL_MAX_TEXT_LENGTH || !DECIMAL_PATTERN.test(value)) return undefined;
      try {
        return Decimal.parse(value);
      } catch {
        return undefined;
      }
    case 'object':
      return Decimal.isDecimal(value) ? value : undefined;
    default:
      return undefined;
  }
}

/** `value` compared with a literal: -1, 0, 1, or `undefined` when `value` is not numeric. */
export function compareToLiteral(value: unknown, literal: NumericLiteral): -1 | 0 | 1 | undefined {
  if (typeof value === 'number' && literal.number !== undefined) {
    if (value < literal.number) return -1;
    if (value > literal.number) return 1;
    return value === literal.number ? 0 : undefined; // NaN
  }
  if (literal.decimal === undefined) return undefined;
  const decimal = toDecimal(value);
  return decimal === undefined ? undefined : decimal.cmp(literal.decimal);
}

/** True for the types that compare numerically even against a string: number, bigint, `Decimal`. */
export function isNumberLike(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint' || Decimal.isDecimal(value);
}

/** Two attribute values compared numerically: -1, 0, 1, or `undefined` unless both are numeric. */
export function compareNumeric(a: unknown, b: unknown): -1 | 0 | 1 | undefined {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    return a === b ? 0 : undefined;
  }
  const x = toDecimal(a);
  if (x === undefined) return undefined;
  const y = toDecimal(b);
  return y === undefined ? undefined : x.cmp(y);
}

/**
 * Equality of two attribute values: `true`, `false`, or `undefined` when they cannot be compared
 * (either missing, different kinds, arrays or objects). Two strings compare as text; a number-like
 * value (number, bigint, Decimal) against a number-like value or a decimal string compares
 * numerically; booleans and `null` compare with themselves.
 */
export function equalValues(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  if (isNumberLike(a) || isNumberLike(b)) {
    const c = compareNumeric(a, b);
    return c === undefined ? undefined : c === 0;
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b;
  if (a === null && b === null) return true;
  return undefined;
}
