/**
 * Plans: the metering data model (spec §4.1).
 * @module
 */
export type {
  BillingInterval,
  Charge,
  ChargeModel,
  ChargeUsage,
  DimensionalPrice,
  MeterAggregation,
  Plan,
  PriceTier,
} from './types.js';
