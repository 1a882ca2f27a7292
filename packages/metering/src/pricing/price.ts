import {
  type Currency,
  type CurrencyCode,
  Decimal,
  EnablementError,
  type RoundingMode,
  roundToMinorUnit,
} from '@creto/core';
import type { Charge, ChargeModel, ChargeUsage, PriceTier } from '../plans/types.js';
import { checkQuantity, describeValue } from './bounds.js';
import { MAX_DIMENSION_VALUE_LENGTH } from './limits.js';
import { DIMENSION_VALUE_PATTERN, validateCharge } from './validate.js';

/** How much of one tier a quantity used, and what it cost (exact, unrounded). */
export interface TierUsage {
  /** The tier's inclusive upper bound; `null` for the unbounded last tier. */
  readonly upTo: Decimal | null;
  /** Units priced in this tier (graduated), or every unit (volume). */
  readonly quantity: Decimal;
  /** The tier's unit price. */
  readonly unitPrice: Decimal;
  /** The tier's flat fee as charged: zero when the tier has none. */
  readonly flatFee: Decimal;
  /** `quantity × unitPrice + flatFee`, exact. */
  readonly amount: Decimal;
}

/** The price of one charge for one usage group: exact, before the invoice line's one rounding. */
export interface ChargePrice {
  /** Exact amount, unrounded (scale up to 36). */
  readonly amount: Decimal;
  /**
   * The one price every unit paid, set exactly when `amount = quantity × unitPrice` (per-unit;
   * volume without a flat fee; graduated within one fee-less tier); `null` when tiered or varied
   * (tiers with flat fees, several graduated tiers, packages). A zero quantity of a tiered model
   * shows the first tier's unit price.
   */
  readonly unitPrice: Decimal | null;
  /** Tier breakdown of `graduated` (every entered tier) and `volume` (the selected tier) models. */
  readonly tiers?: readonly TierUsage[];
}

/**
 * The rounding rule of invoices (ARCHITECTURE §3 "Money"): every invoice line's exact amount is
 * rounded **once**, to the currency's minor unit (core `CURRENCIES`: USD 2, JPY 0, KWD 3), with
 * **banker's rounding** (`half_even`: ties go to the even neighbour, so 0.125 → 0.12 and
 * 0.135 → 0.14). Half-even is core's default and is unbiased: over many lines and invoices the
 * ties round up as often as down, so rounding neither systematically over- nor under-bills
 * (half-up would add about half a minor unit per hundred tied lines, always in the seller's
 * favour). Subtotals and totals are sums of the rounded lines and are never rounded again, so an
 * invoice always balances to the minor unit. Prices, tier amounts and quantities are never rounded.
 */
export const roundingRule: Readonly<{ mode: RoundingMode; level: 'invoice_line' }> = Object.freeze({
  mode: 'half_even',
  level: 'invoice_line',
});

/** Rounds an exact line amount to the currency's minor unit by {@link roundingRule}. */
export function roundLineAmount(amount: Decimal, currency: CurrencyCode | Currency | string): Decimal {
  return roundToMinorUnit(amount, currency, roundingRule.mode);
}

/**
 * The model that prices a usage group: the first dimensional price whose every dimension value
 * equals the group's (absent dimensions never match), else the charge's default `model`.
 */
export function selectChargeModel(charge: Charge, groups: Readonly<Record<string, string>>): ChargeModel {
  for (const price of charge.dimensionalPrices ?? []) {
    let matches = true;
    for (const key in price.dimensions) {
      if (!Object.hasOwn(groups, key) || groups[key] !== price.dimensions[key]) {
        matches = false;
        break;
      }
    }
    if (matches) return price.model;
  }
  return charge.model;
}

const ZERO = Decimal.ZERO;
const NO_TIERS: readonly TierUsage[] = Object.freeze([]);

function tierUsage(tier: PriceTier, quantity: Decimal, flatFee: Decimal): TierUsage {
  return Object.freeze({
    upTo: tier.upTo,
    quantity,
    unitPrice: tier.unitPrice,
    flatFee,
    amount: quantity.mul(tier.unitPrice).add(flatFee),
  });
}

function firstTier(tiers: readonly PriceTier[]): PriceTier {
  const tier = tiers[0];
  // validatePlan guarantees at least one tier; reaching here means an unvalidated model.
  if (tier === undefined)
    throw new EnablementError('MT-400', 'charge.model.tiers: at least one tier is required');
  return tier;
}

/**
 * Graduated (spec §4.1, "each unit priced in its tier"): tier `i` holds the units in
 * `(upTo[i-1], upTo[i]]`; a tier's flat fee is charged once when at least part of a unit enters
 * it. Zero quantity enters no tier, so it costs nothing — not even the first tier's flat fee.
 */
function priceGraduated(tiers: readonly PriceTier[], quantity: Decimal): ChargePrice {
  if (quantity.isZero())
    return Object.freeze({ amount: ZERO, unitPrice: firstTier(tiers).unitPrice, tiers: NO_TIERS });
  const used: TierUsage[] = [];
  let amount = ZERO;
  let lower = ZERO;
  for (const tier of tiers) {
    if (quantity.lte(lower)) break;
    const top = tier.upTo === null || quantity.lt(tier.upTo) ? quantity : tier.upTo;
    const usage = tierUsage(tier, top.sub(lower), tier.flatFee ?? ZERO);
    used.push(usage);
    amount = amount.add(usage.amount);
    if (tier.upTo === null) break;
    lower = tier.upTo;
  }
  const only = used.length === 1 ? used[0] : undefined;
  const unitPrice = only?.flatFee.isZero() ? only.unitPrice : null;
  return Object.freeze({ amount, unitPrice, tiers: Object.freeze(used) });
}

/**
 * Volume (spec §4.1, "all units at the tier the total falls in"): the tier is the first whose
 * inclusive `upTo` is at least the quantity (so a quantity exactly at a bound stays in the lower
 * tier), and its flat fee is added once. Zero quantity costs nothing, flat fee included.
 */
function priceVolume(tiers: readonly PriceTier[], quantity: Decimal): ChargePrice {
  if (quantity.isZero())
    return Object.freeze({ amount: ZERO, unitPrice: firstTier(tiers).unitPrice, tiers: NO_TIERS });
  let selected: PriceTier | undefined;
  for (const tier of tiers) {
    if (tier.upTo === null || quantity.lte(tier.upTo)) {
      selected = tier;
      break;
    }
  }
  if (selected === undefined) {
    throw new EnablementError('MT-400', 'charge.model.tiers: the last tier must be unbounded (upTo: null)');
  }
  const usage = tierUsage(selected, quantity, selected.flatFee ?? ZERO);
  return Object.freeze({
    amount: usage.amount,
    unitPrice: usage.flatFee.isZero() ? selected.unitPrice : null,
    tiers: Object.freeze([usage]),
  });
}

/** The exact price of `quantity` under `model` (the quantity must already be checked). */
export function priceModel(model: ChargeModel, quantity: Decimal): ChargePrice {
  switch (model.type) {
    case 'per_unit':
      return Object.freeze({ amount: quantity.mul(model.unitPrice), unitPrice: model.unitPrice });
    case 'graduated':
      return priceGraduated(model.tiers, quantity);
    case 'volume':
      return priceVolume(model.tiers, quantity);
    case 'package': {
      // ceil(quantity / packageSize) whole packages; exact, since the quotient is rounded to
      // scale 0 toward +∞ (and quantity, packageSize ≥ 0).
      const packages = quantity.isZero() ? ZERO : quantity.divide(model.packageSize, 0, 'ceiling');
      return Object.freeze({ amount: packages.mul(model.packagePrice), unitPrice: null });
    }
  }
}

/**
 * Prices one charge for one usage group, exactly (no rounding: the invoice line rounds once,
 * see {@link roundingRule}). The model is chosen by {@link selectChargeModel}.
 *
 * - `per_unit`: quantity × unitPrice.
 * - `graduated`: each unit at the price of its tier, plus each entered tier's flat fee.
 * - `volume`: every unit at the price of the tier holding the total, plus that tier's flat fee.
 * - `package`: ceil(quantity ÷ packageSize) × packagePrice.
 *
 * Zero quantity always prices to zero: no tier is entered, so no flat fee is due. Quantities
 * may be fractional (GB-hours); they are checked (non-negative, ≤ 18 fraction digits after
 * trailing zeros are dropped, below 10^18) and anything else is `MT-400` naming
 * `usage.quantity`. A usage for another charge id is `MT-400` too. A charge that did not come
 * from `validatePlan` is validated first.
 */
export function priceCharge(charge: Charge, usage: ChargeUsage): ChargePrice {
  const valid = validateCharge(charge);
  if (typeof usage !== 'object' || usage === null) {
    throw new EnablementError('MT-400', 'usage: expected a ChargeUsage object');
  }
  if (usage.chargeId !== valid.id) {
    throw new EnablementError(
      'MT-400',
      `usage.chargeId: ${describeValue(usage.chargeId)} is not the priced charge ${JSON.stringify(valid.id)}`,
    );
  }
  const groups = checkGroups(valid, usage.groups, 'usage.groups');
  const quantity = checkQuantity(usage.quantity, 'usage.quantity');
  return priceModel(selectChargeModel(valid, groups), quantity);
}

/**
 * Checks a usage group against its charge: a plain object whose keys are among the charge's
 * `groupBy` (absent keys are allowed: the event lacked that dimension) and whose values are
 * strings. Returns the groups as given.
 */
export function checkGroups(
  charge: Charge,
  groups: unknown,
  field: string,
): Readonly<Record<string, string>> {
  if (typeof groups !== 'object' || groups === null || Array.isArray(groups)) {
    throw new EnablementError('MT-400', `${field}: expected an object of dimension values`);
  }
  const allowed = charge.groupBy ?? [];
  let count = 0;
  for (const key in groups) {
    if (!Object.hasOwn(groups, key)) continue;
    if (++count > allowed.length || !allowed.includes(key)) {
      throw new EnablementError(
        'MT-400',
        `${field}: dimension ${JSON.stringify(key.slice(0, 64))} is not in charge ${JSON.stringify(charge.id)}'s groupBy`,
      );
    }
    const value = (groups as Record<string, unknown>)[key];
    if (
      typeof value !== 'string' ||
      value.length > MAX_DIMENSION_VALUE_LENGTH ||
      !DIMENSION_VALUE_PATTERN.test(value)
    ) {
      throw new EnablementError(
        'MT-400',
        `${field}.${key}: expected a string of at most ${MAX_DIMENSION_VALUE_LENGTH} characters without control characters`,
      );
    }
  }
  return groups as Readonly<Record<string, string>>;
}
