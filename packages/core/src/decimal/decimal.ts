import { EnablementError } from '../errors/enablement-error.js';

/**
 * How a value that falls between two representable results is resolved.
 *
 * | mode        | rule                                         | 2.5 | -2.5 | 2.45→1dp |
 * |-------------|----------------------------------------------|-----|------|----------|
 * | `half_even` | nearest; ties to the even neighbour (banker's) | 2   | -2   | 2.4      |
 * | `half_up`   | nearest; ties away from zero                 | 3   | -3   | 2.5      |
 * | `down`      | toward zero (truncate)                       | 2   | -2   | 2.4      |
 * | `up`        | away from zero                               | 3   | -3   | 2.5      |
 * | `floor`     | toward negative infinity                     | 2   | -3   | 2.4      |
 * | `ceiling`   | toward positive infinity                     | 3   | -2   | 2.5      |
 */
export type RoundingMode = 'half_even' | 'half_up' | 'down' | 'up' | 'floor' | 'ceiling';

/** Every {@link RoundingMode}. */
export const ROUNDING_MODES: readonly RoundingMode[] = Object.freeze([
  'half_even',
  'half_up',
  'down',
  'up',
  'floor',
  'ceiling',
]);

/**
 * Largest scale (digits after the point) a {@link Decimal} may have. 36 covers every currency
 * (ISO 4217 uses at most 4) and 18-decimal crypto assets multiplied by 18-decimal prices.
 */
export const DECIMAL_MAX_SCALE = 36;

/**
 * Largest number of digits in a {@link Decimal}'s coefficient (its precision). The bound keeps
 * every operation cheap and the wire text short; results that would exceed it throw `PL-400`.
 */
export const DECIMAL_MAX_DIGITS = 72;

/** Longest text {@link Decimal.parse} reads: sign, point and {@link DECIMAL_MAX_DIGITS} digits. */
export const DECIMAL_MAX_TEXT_LENGTH = DECIMAL_MAX_DIGITS + 2;

/**
 * The shape of canonical decimal text: optional `-`, an integer part without leading zeros,
 * optionally a point and at least one fraction digit. No `+`, no exponent, no spaces, ASCII
 * digits only. {@link Decimal.parse} also enforces the length, scale and precision bounds and
 * refuses `-0`.
 */
export const DECIMAL_PATTERN = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** What {@link Decimal.from} and the arithmetic methods accept. `number` is deliberately absent. */
export type DecimalLike = Decimal | string | bigint;

const numberHint =
  ' is not accepted for money: binary floating point is inexact; pass a decimal string such as "19.99"';
const BRAND = Symbol.for('@creto/core.Decimal');
const MAX_COEFFICIENT = 10n ** BigInt(DECIMAL_MAX_DIGITS);
const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= 2 * DECIMAL_MAX_DIGITS + DECIMAL_MAX_SCALE; i++, p *= 10n) POW10.push(p);

function pow10(exponent: number): bigint {
  const value = POW10[exponent];
  // Callers bound exponents by the scale/digit limits; reaching here means a bug, not bad input.
  if (value === undefined) throw new RangeError(`pow10 exponent out of range: ${exponent}`);
  return value;
}

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', message);
}

/** Quotes at most 32 characters of hostile text for an error message. */
function preview(text: string): string {
  return JSON.stringify(text.length > 32 ? `${text.slice(0, 32)}…` : text);
}

function checkScale(scale: unknown, what: string): number {
  if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > DECIMAL_MAX_SCALE) {
    throw invalid(`${what}: scale must be an integer from 0 to ${DECIMAL_MAX_SCALE}`);
  }
  return scale;
}

function checkMode(mode: unknown, what: string): RoundingMode {
  if (typeof mode !== 'string' || !(ROUNDING_MODES as readonly string[]).includes(mode)) {
    throw invalid(`${what}: rounding mode must be one of ${ROUNDING_MODES.join(', ')}`);
  }
  return mode as RoundingMode;
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

/**
 * `n / d` rounded to an integer by `mode`, exactly. `d` must be non-zero. BigInt division
 * truncates toward zero, so the quotient is corrected by one step at most, in the direction of
 * the true result's sign.
 */
export function divideRounded(n: bigint, d: bigint, mode: RoundingMode): bigint {
  const q = n / d;
  const r = n % d;
  if (r === 0n) return q;
  const sign = n < 0n !== d < 0n ? -1n : 1n;
  const twiceRemainder = 2n * abs(r);
  const divisor = abs(d);
  switch (mode) {
    case 'down':
      return q;
    case 'up':
      return q + sign;
    case 'floor':
      return sign < 0n ? q - 1n : q;
    case 'ceiling':
      return sign > 0n ? q + 1n : q;
    case 'half_up':
      return twiceRemainder >= divisor ? q + sign : q;
    case 'half_even':
      if (twiceRemainder > divisor) return q + sign;
      if (twiceRemainder < divisor) return q;
      return q % 2n === 0n ? q : q + sign;
  }
}

/**
 * An exact decimal number for money: `coefficient × 10^-scale`, with a `bigint` coefficient.
 * Immutable; every operation returns a new value. Never use `number` arithmetic on money.
 *
 * **Scale is kept, trailing zeros included** (as Rust's `rust_decimal`, the spec's `Decimal`,
 * does): `Decimal.parse('1.50').toString() === '1.50'`. So the wire round-trips byte for byte,
 * which signatures over the wire form require. Equality is numeric (`eq`: 1.5 equals 1.50);
 * compare `toString()` when the representation matters, or call `normalize()` first.
 *
 * Bounds: scale ≤ {@link DECIMAL_MAX_SCALE}, coefficient ≤ {@link DECIMAL_MAX_DIGITS} digits.
 * Operations whose exact result would exceed them throw `PL-400` instead of losing precision.
 *
 * Conversion to a primitive number is refused (`+d`, `d * 2`, `d + e` throw a `TypeError`), so
 * money cannot silently fall into floating point or string concatenation.
 *
 * @example
 * ```ts
 * const price = Decimal.parse('0.000015'); // USD per token
 * const cost = price.mul(1234n);           // 0.018510
 * roundToMinorUnit(cost, 'USD').toString(); // '0.02'
 * ```
 */
export class Decimal {
  /** The unscaled integer: the value is `coefficient × 10^-scale`. */
  readonly coefficient: bigint;
  /** Digits after the decimal point, 0 to {@link DECIMAL_MAX_SCALE}. */
  readonly scale: number;

  private constructor(coefficient: bigint, scale: number) {
    this.coefficient = coefficient;
    this.scale = scale;
    Object.defineProperty(this, BRAND, { value: true });
    Object.freeze(this);
  }

  /** Zero with scale 0. */
  static readonly ZERO: Decimal = new Decimal(0n, 0);

  /** Builds a value, enforcing the precision and scale bounds. */
  static #make(coefficient: bigint, scale: number, what: string): Decimal {
    if (scale > DECIMAL_MAX_SCALE) {
      throw invalid(`${what}: result scale ${scale} exceeds ${DECIMAL_MAX_SCALE}; round an operand first`);
    }
    if (abs(coefficient) >= MAX_COEFFICIENT) {
      throw invalid(`${what}: result exceeds ${DECIMAL_MAX_DIGITS} significant digits`);
    }
    return new Decimal(coefficient, scale);
  }

  /** Brand check that works across copies of `@creto/core` (also used by `instanceof`). */
  static isDecimal(value: unknown): value is Decimal {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return Decimal.isDecimal(value);
  }

  /**
   * Parses canonical decimal text (see {@link DECIMAL_PATTERN}): `-?digits(.digits)?`, no leading
   * zeros, no `-0`, no exponent, at most {@link DECIMAL_MAX_TEXT_LENGTH} characters and
   * {@link DECIMAL_MAX_SCALE} fraction digits. Anything else throws `PL-400` naming `field`.
   * Accepting only the canonical form is what makes `parse(s).toString() === s` hold for every
   * accepted `s`.
   */
  static parse(text: string, field = 'value'): Decimal {
    if (typeof text !== 'string') {
      throw invalid(
        typeof text === 'number' ? `${field}: number${numberHint}` : `${field}: expected a decimal string`,
      );
    }
    // Length first, so a hostile megabyte string costs nothing more than this comparison.
    if (text.length === 0 || text.length > DECIMAL_MAX_TEXT_LENGTH) {
      throw invalid(`${field}: decimal string must have 1 to ${DECIMAL_MAX_TEXT_LENGTH} characters`);
    }
    if (!DECIMAL_PATTERN.test(text)) {
      throw invalid(
        `${field}: ${preview(text)} is not a plain decimal (expected -?digits(.digits)?, no exponent, no leading zeros)`,
      );
    }
    const point = text.indexOf('.');
    const scale = point < 0 ? 0 : text.length - point - 1;
    if (scale > DECIMAL_MAX_SCALE) {
      throw invalid(`${field}: more than ${DECIMAL_MAX_SCALE} fraction digits`);
    }
    const coefficient = BigInt(point < 0 ? text : text.slice(0, point) + text.slice(point + 1));
    if (coefficient === 0n && text.startsWith('-')) {
      throw invalid(`${field}: negative zero is not canonical; write ${preview(text.slice(1))}`);
    }
    return Decimal.#make(coefficient, scale, field);
  }

  /**
   * A `Decimal` from a string (parsed by {@link Decimal.parse}), a `bigint` (scale 0) or a
   * `Decimal` (returned as is). A `number` is refused with `PL-400`: binary floating point cannot
   * hold most decimal fractions (0.1 is 0.1000000000000000055…), so pass money as a string.
   */
  static from(value: DecimalLike, field = 'value'): Decimal {
    if (Decimal.isDecimal(value)) return value;
    if (typeof value === 'bigint') return Decimal.#make(value, 0, field);
    if (typeof value === 'string') return Decimal.parse(value, field);
    if (typeof value === 'number') throw invalid(`${field}: number${numberHint}`);
    throw invalid(`${field}: expected a Decimal, a decimal string or a bigint`);
  }

  /** `coefficient × 10^-scale`, e.g. `fromParts(1999n, 2)` is `19.99`. */
  static fromParts(coefficient: bigint, scale: number): Decimal {
    if (typeof coefficient !== 'bigint') throw invalid('Decimal.fromParts: coefficient must be a bigint');
    return Decimal.#make(coefficient, checkScale(scale, 'Decimal.fromParts'), 'Decimal.fromParts');
  }

  /** The exact sum of `values` (zero when empty); the result has the largest operand scale. */
  static sum(values: Iterable<DecimalLike>): Decimal {
    let total = Decimal.ZERO;
    for (const value of values) total = total.add(value);
    return total;
  }

  /** Coefficient of this value expressed at a larger or equal `scale` (exact). */
  #at(scale: number): bigint {
    return this.coefficient * pow10(scale - this.scale);
  }

  /** Exact `this + other`; the scale is the larger of the two. */
  add(other: DecimalLike): Decimal {
    const o = Decimal.from(other, 'add');
    const scale = Math.max(this.scale, o.scale);
    return Decimal.#make(this.#at(scale) + o.#at(scale), scale, 'add');
  }

  /** Exact `this - other`; the scale is the larger of the two. */
  sub(other: DecimalLike): Decimal {
    const o = Decimal.from(other, 'sub');
    const scale = Math.max(this.scale, o.scale);
    return Decimal.#make(this.#at(scale) - o.#at(scale), scale, 'sub');
  }

  /** Exact `this × other`; the scale is the sum of the two (throws if above the maximum). */
  mul(other: DecimalLike): Decimal {
    const o = Decimal.from(other, 'mul');
    return Decimal.#make(this.coefficient * o.coefficient, this.scale + o.scale, 'mul');
  }

  /**
   * `this ÷ other` rounded to `scale` digits by `mode` (division is rarely exact, so both are
   * required). Throws `PL-400` on division by zero and on a scale outside 0–{@link DECIMAL_MAX_SCALE}.
   */
  divide(other: DecimalLike, scale: number, mode: RoundingMode): Decimal {
    const o = Decimal.from(other, 'divide');
    checkScale(scale, 'divide');
    checkMode(mode, 'divide');
    if (o.coefficient === 0n) throw invalid('divide: division by zero');
    // (c1·10^-s1) / (c2·10^-s2) · 10^scale = c1·10^(s2+scale) / (c2·10^s1)
    const n = this.coefficient * pow10(o.scale + scale);
    const d = o.coefficient * pow10(this.scale);
    return Decimal.#make(divideRounded(n, d, mode), scale, 'divide');
  }

  /**
   * This value with exactly `scale` fraction digits: rounded by `mode` when `scale` is smaller
   * than the current one, padded with zeros (exact) when larger.
   */
  round(scale: number, mode: RoundingMode): Decimal {
    checkScale(scale, 'round');
    checkMode(mode, 'round');
    if (scale >= this.scale) return Decimal.#make(this.#at(scale), scale, 'round');
    return Decimal.#make(divideRounded(this.coefficient, pow10(this.scale - scale), mode), scale, 'round');
  }

  /** The same number with trailing fraction zeros removed (`1.500` → `1.5`, `2.00` → `2`). */
  normalize(): Decimal {
    let c = this.coefficient;
    let s = this.scale;
    while (s > 0 && c % 10n === 0n) {
      c /= 10n;
      s--;
    }
    return s === this.scale ? this : new Decimal(c, s);
  }

  /** `-this`, same scale. */
  neg(): Decimal {
    return new Decimal(-this.coefficient, this.scale);
  }

  /** `|this|`, same scale. */
  abs(): Decimal {
    return this.coefficient < 0n ? this.neg() : this;
  }

  /** -1, 0 or 1 as the value is negative, zero or positive. */
  sign(): -1 | 0 | 1 {
    return this.coefficient < 0n ? -1 : this.coefficient > 0n ? 1 : 0;
  }

  /** Numeric comparison, ignoring scale: -1, 0 or 1 as `this` is less than, equal to or greater than `other`. */
  cmp(other: DecimalLike): -1 | 0 | 1 {
    const o = Decimal.from(other, 'cmp');
    const scale = Math.max(this.scale, o.scale);
    const a = this.#at(scale);
    const b = o.#at(scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  /** Numeric equality (`1.5` equals `1.50`). */
  eq(other: DecimalLike): boolean {
    return this.cmp(other) === 0;
  }

  /** `this < other`. */
  lt(other: DecimalLike): boolean {
    return this.cmp(other) < 0;
  }

  /** `this <= other`. */
  lte(other: DecimalLike): boolean {
    return this.cmp(other) <= 0;
  }

  /** `this > other`. */
  gt(other: DecimalLike): boolean {
    return this.cmp(other) > 0;
  }

  /** `this >= other`. */
  gte(other: DecimalLike): boolean {
    return this.cmp(other) >= 0;
  }

  /** True for zero at any scale. */
  isZero(): boolean {
    return this.coefficient === 0n;
  }

  /** True below zero (zero is never negative: there is no `-0`). */
  isNegative(): boolean {
    return this.coefficient < 0n;
  }

  /**
   * Canonical text: `-?digits(.digits)?` with exactly `scale` fraction digits, no exponent, no
   * `-0`. This is the wire form, and {@link Decimal.parse} reads it back to an identical value.
   */
  toString(): string {
    const negative = this.coefficient < 0n;
    let digits = abs(this.coefficient).toString();
    if (this.scale > 0) {
      digits = digits.padStart(this.scale + 1, '0');
      digits = `${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`;
    }
    return negative ? `-${digits}` : digits;
  }

  /** Text with exactly `scale` fraction digits for display, rounded by `mode` (banker's by default). */
  toFixed(scale: number, mode: RoundingMode = 'half_even'): string {
    return this.round(scale, mode).toString();
  }

  /** The canonical string (see {@link Decimal.toString}), so `JSON.stringify` never emits a float. */
  toJSON(): string {
    return this.toString();
  }

  /** Allows template literals (`${d}`); refuses numeric and `+` coercion, which would lose exactness. */
  [Symbol.toPrimitive](hint: string): string {
    if (hint === 'string') return this.toString();
    throw new TypeError(
      'Decimal cannot be converted to a number or concatenated implicitly; use add/mul/cmp, or toString()',
    );
  }

  /** Node's `util.inspect` form, e.g. `Decimal(1.50)`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Decimal(${this.toString()})`;
  }
}
