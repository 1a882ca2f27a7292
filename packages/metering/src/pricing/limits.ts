/**
 * Bounds of a plan and of the quantities priced against it. They keep every price computation
 * inside core `Decimal`'s exact range (scale ≤ 36, 72 digits), so pricing a valid plan never
 * fails on arithmetic, and they bound the work a hostile plan can cause.
 */

/** Most charges in one plan (Lago and Stripe plans rarely exceed a few dozen). */
export const MAX_PLAN_CHARGES = 100;

/** Most tiers in one `graduated` or `volume` model. */
export const MAX_PRICE_TIERS = 100;

/** Most dimensional prices on one charge. */
export const MAX_DIMENSIONAL_PRICES = 100;

/** Most group-by dimensions on one charge, and dimensions in one dimensional price. */
export const MAX_GROUP_BY_DIMENSIONS = 8;

/** Longest plan, charge or meter id (visible ASCII, no spaces). */
export const MAX_PLAN_ID_LENGTH = 128;

/** Longest plan name or charge description. */
export const MAX_PLAN_TEXT_LENGTH = 256;

/** Longest dimension name (`[A-Za-z0-9_.:-]`). */
export const MAX_DIMENSION_NAME_LENGTH = 64;

/** Longest dimension value (e.g. a model id). */
export const MAX_DIMENSION_VALUE_LENGTH = 256;

/**
 * Most fraction digits of a price, flat fee or base fee (18 covers sub-nano-dollar per-token
 * prices). With {@link MAX_QUANTITY_SCALE} a product never exceeds core's scale bound of 36.
 */
export const MAX_PRICE_SCALE = 18;

/** Prices, flat fees and base fees are below 10^12 (a trillion currency units). */
export const MAX_PRICE_INTEGER_DIGITS = 12;

/**
 * Most fraction digits of a quantity or tier bound (after trailing zeros are dropped): enough
 * for fractional GB-hours; round finer quantities before pricing.
 */
export const MAX_QUANTITY_SCALE = 18;

/** Quantities and tier bounds are below 10^18 (a quintillion units: tokens, bytes, calls). */
export const MAX_QUANTITY_INTEGER_DIGITS = 18;
