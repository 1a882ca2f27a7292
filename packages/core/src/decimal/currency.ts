import { EnablementError } from '../errors/enablement-error.js';
import { DECIMAL_MAX_SCALE, Decimal, type RoundingMode } from './decimal.js';

/** A currency and the number of digits of its minor unit (ISO 4217 "minor unit"). */
export interface Currency {
  /** Currency code, e.g. `USD`; ISO 4217 alphabetic code for the built-in table. */
  readonly code: string;
  /** Digits after the decimal point of the smallest unit: USD 2 (cents), JPY 0, KWD 3 (fils). */
  readonly minorUnits: number;
}

function c(code: string, minorUnits: number): Currency {
  return Object.freeze({ code, minorUnits });
}

/**
 * ISO 4217 minor units of common currencies (source: ISO 4217 list one, as published by SIX).
 * Not exhaustive: pass a {@link Currency} object for anything else (including internal units
 * such as credits).
 */
export const CURRENCIES = Object.freeze({
  AED: c('AED', 2),
  ARS: c('ARS', 2),
  AUD: c('AUD', 2),
  BGN: c('BGN', 2),
  BHD: c('BHD', 3),
  BRL: c('BRL', 2),
  CAD: c('CAD', 2),
  CHF: c('CHF', 2),
  CLF: c('CLF', 4),
  CLP: c('CLP', 0),
  CNY: c('CNY', 2),
  COP: c('COP', 2),
  CZK: c('CZK', 2),
  DKK: c('DKK', 2),
  EGP: c('EGP', 2),
  EUR: c('EUR', 2),
  GBP: c('GBP', 2),
  HKD: c('HKD', 2),
  HUF: c('HUF', 2),
  IDR: c('IDR', 2),
  ILS: c('ILS', 2),
  INR: c('INR', 2),
  IQD: c('IQD', 3),
  ISK: c('ISK', 0),
  JOD: c('JOD', 3),
  JPY: c('JPY', 0),
  KES: c('KES', 2),
  KRW: c('KRW', 0),
  KWD: c('KWD', 3),
  LYD: c('LYD', 3),
  MXN: c('MXN', 2),
  MYR: c('MYR', 2),
  NGN: c('NGN', 2),
  NOK: c('NOK', 2),
  NZD: c('NZD', 2),
  OMR: c('OMR', 3),
  PHP: c('PHP', 2),
  PKR: c('PKR', 2),
  PLN: c('PLN', 2),
  PYG: c('PYG', 0),
  RON: c('RON', 2),
  SAR: c('SAR', 2),
  SEK: c('SEK', 2),
  SGD: c('SGD', 2),
  THB: c('THB', 2),
  TND: c('TND', 3),
  TRY: c('TRY', 2),
  TWD: c('TWD', 2),
  UAH: c('UAH', 2),
  UGX: c('UGX', 0),
  USD: c('USD', 2),
  UYW: c('UYW', 4),
  VND: c('VND', 0),
  XAF: c('XAF', 0),
  XOF: c('XOF', 0),
  ZAR: c('ZAR', 2),
} as const satisfies Record<string, Currency>);

/** A code of the built-in {@link CURRENCIES} table. */
export type CurrencyCode = keyof typeof CURRENCIES;

/** True when `code` is in the built-in {@link CURRENCIES} table. */
export function isCurrencyCode(code: unknown): code is CurrencyCode {
  return typeof code === 'string' && Object.hasOwn(CURRENCIES, code);
}

/**
 * Resolves a currency: a built-in code, or a custom {@link Currency} (checked: `minorUnits` must
 * be an integer from 0 to {@link DECIMAL_MAX_SCALE}). Unknown codes throw `PL-400`.
 */
export function currency(value: CurrencyCode | Currency | string): Currency {
  if (typeof value === 'string') {
    if (isCurrencyCode(value)) return CURRENCIES[value];
    throw new EnablementError(
      'PL-400',
      `unknown currency ${JSON.stringify(value.slice(0, 16))}; pass a { code, minorUnits } object`,
    );
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof value.code !== 'string' ||
    !Number.isInteger(value.minorUnits) ||
    value.minorUnits < 0 ||
    value.minorUnits > DECIMAL_MAX_SCALE
  ) {
    throw new EnablementError(
      'PL-400',
      `currency: expected a code or { code, minorUnits } with minorUnits 0–${DECIMAL_MAX_SCALE}`,
    );
  }
  return value;
}

/**
 * Rounds an amount to the currency's minor unit — the one rounding step of an invoice line
 * (ARCHITECTURE §3 "Money"). Banker's rounding (`half_even`) by default, because it is unbiased
 * over many lines; the result always has exactly `minorUnits` fraction digits (`2.5` USD → `2.50`).
 */
export function roundToMinorUnit(
  amount: Decimal,
  currencyOrCode: CurrencyCode | Currency | string,
  mode: RoundingMode = 'half_even',
): Decimal {
  return Decimal.from(amount, 'amount').round(currency(currencyOrCode).minorUnits, mode);
}

/**
 * The amount as an integer count of minor units (`12.34` USD → `1234n`), as payment providers
 * expect. Throws `PL-400` when the amount has more precision than the currency: round first.
 */
export function toMinorUnits(amount: Decimal, currencyOrCode: CurrencyCode | Currency | string): bigint {
  const { code, minorUnits } = currency(currencyOrCode);
  const value = Decimal.from(amount, 'amount');
  const rounded = value.round(minorUnits, 'down');
  if (!rounded.eq(value)) {
    throw new EnablementError(
      'PL-400',
      `amount ${value.toString()} has more than ${minorUnits} fraction digits for ${code}; round it first`,
    );
  }
  return rounded.coefficient;
}

/** An amount from an integer count of minor units (`1234n` USD → `12.34`). */
export function fromMinorUnits(units: bigint, currencyOrCode: CurrencyCode | Currency | string): Decimal {
  return Decimal.fromParts(units, currency(currencyOrCode).minorUnits);
}
