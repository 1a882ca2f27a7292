/**
 * Pricing: plan validation, exact charge pricing for every model (per-unit, graduated, volume,
 * package) with dimensional prices, and the invoice rounding rule (spec §4.1).
 * @module
 */
export {
  MAX_DIMENSION_NAME_LENGTH,
  MAX_DIMENSION_VALUE_LENGTH,
  MAX_DIMENSIONAL_PRICES,
  MAX_GROUP_BY_DIMENSIONS,
  MAX_PLAN_CHARGES,
  MAX_PLAN_ID_LENGTH,
  MAX_PLAN_TEXT_LENGTH,
  MAX_PRICE_INTEGER_DIGITS,
  MAX_PRICE_SCALE,
  MAX_PRICE_TIERS,
  MAX_QUANTITY_INTEGER_DIGITS,
  MAX_QUANTITY_SCALE,
} from './limits.js';
export {
  type ChargePrice,
  priceCharge,
  roundingRule,
  roundLineAmount,
  selectChargeModel,
  type TierUsage,
} from './price.js';
export {
  chargeModelSchema,
  DIMENSION_NAME_PATTERN,
  isValidatedPlan,
  planSchema,
  validateCharge,
  validatePlan,
} from './validate.js';
