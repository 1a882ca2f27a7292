/**
 * The agreed metering data model (spec §4.1): meters' aggregations, billing intervals, charge models,
 * charges and plans, and the per-period usage quantities priced against them.
 * @module
 */
import type { Decimal } from '@creto/core';

/** Aggregations (meters). */
export type MeterAggregation = 'sum' | 'count' | 'max' | 'unique_count' | 'latest';

/** A billing period unit; periods are aligned to UTC calendar boundaries from the subscription's anchor. */
export type BillingInterval = 'day' | 'month';

/**
 * How one charge turns a quantity into money.
 * - `per_unit`: quantity × `unitPrice`.
 * - `graduated`: each unit priced in its own tier (plus each entered tier's flat fee).
 * - `volume`: all units at the price of the tier the total falls in (plus that tier's flat fee).
 * - `package`: quantity rounded up to whole packages of `packageSize`, each costing `packagePrice`.
 */
export type ChargeModel =
  | { readonly type: 'per_unit'; readonly unitPrice: Decimal }
  | { readonly type: 'graduated'; readonly tiers: readonly PriceTier[] }
  | { readonly type: 'volume'; readonly tiers: readonly PriceTier[] }
  | { readonly type: 'package'; readonly packageSize: Decimal; readonly packagePrice: Decimal };

/** One tier of a `graduated` or `volume` model. */
export interface PriceTier {
  /** Inclusive upper bound of the tier; `null` means unbounded (only the last tier). */
  readonly upTo: Decimal | null;
  /** Price of one unit in this tier. */
  readonly unitPrice: Decimal;
  /** Flat fee charged once when the tier is reached (graduated) or selected (volume). */
  readonly flatFee?: Decimal;
}

/** A dimensional price: when a usage group matches every listed dimension value, `model` applies. */
export interface DimensionalPrice {
  /** Group-by dimension values that must all match, e.g. `{ model: 'claude-3' }`. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** The model used for matching groups. */
  readonly model: ChargeModel;
}

/** One priced component of a plan, bound to a meter. */
export interface Charge {
  /** Unique within the plan. */
  readonly id: string;
  /** The meter whose aggregate is the charge's quantity. */
  readonly meterId: string;
  /** Human label for invoice lines; defaults to the charge id. */
  readonly description?: string;
  /** Default price. */
  readonly model: ChargeModel;
  /** Dimensional prices: group-by dimension values → model. First match wins; else `model`. */
  readonly dimensionalPrices?: readonly DimensionalPrice[];
  /** Group-by dimensions that split this charge into invoice lines (subset of the meter's groupBy). */
  readonly groupBy?: readonly string[];
}

/** A price plan: currency, interval, optional base fee and its charges. */
export interface Plan {
  /** Plan id. */
  readonly id: string;
  /** Human name. */
  readonly name: string;
  /** ISO 4217 code; must be in core `CURRENCIES`. */
  readonly currency: string;
  /** Billing period unit. */
  readonly interval: BillingInterval;
  /** Flat fee per period. */
  readonly baseFee?: Decimal;
  /** Charges, in invoice order. */
  readonly charges: readonly Charge[];
}

/** Quantity of one charge for one group of dimension values in one period (what M2 computes from aggregates). */
export interface ChargeUsage {
  /** The charge this quantity is for. */
  readonly chargeId: string;
  /** Dimension values of the group (keys from the charge's `groupBy`); `{}` when ungrouped. */
  readonly groups: Readonly<Record<string, string>>;
  /** Non-negative quantity; may be fractional. */
  readonly quantity: Decimal;
}
