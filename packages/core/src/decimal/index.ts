/**
 * Exact decimal money: the `Decimal` type, rounding modes, and ISO 4217 currency minor units.
 * @module
 */
export {
  CURRENCIES,
  type Currency,
  type CurrencyCode,
  currency,
  fromMinorUnits,
  isCurrencyCode,
  roundToMinorUnit,
  toMinorUnits,
} from './currency.js';
export {
  DECIMAL_MAX_DIGITS,
  DECIMAL_MAX_SCALE,
  DECIMAL_MAX_TEXT_LENGTH,
  DECIMAL_PATTERN,
  Decimal,
  type DecimalLike,
  divideRounded,
  ROUNDING_MODES,
  type RoundingMode,
} from './decimal.js';
