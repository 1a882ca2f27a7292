import {
  asciiToken,
  boundedText,
  Decimal,
  decodeWire,
  EnablementError,
  guarded,
  isCurrencyCode,
  type WireFailureContext,
} from '@creto/core';
import { z } from 'zod';
import type { Charge, ChargeModel, DimensionalPrice, Plan, PriceTier } from '../plans/types.js';
import { checkPrice, checkQuantity } from './bounds.js';
import {
  MAX_DIMENSION_NAME_LENGTH,
  MAX_DIMENSION_VALUE_LENGTH,
  MAX_DIMENSIONAL_PRICES,
  MAX_GROUP_BY_DIMENSIONS,
  MAX_PLAN_CHARGES,
  MAX_PLAN_ID_LENGTH,
  MAX_PLAN_TEXT_LENGTH,
  MAX_PRICE_TIERS,
} from './limits.js';

/**
 * The shape of a dimension name (a group-by key such as `model` or `provider`): 1 to
 * {@link MAX_DIMENSION_NAME_LENGTH} characters of `[A-Za-z0-9_.:-]`. Validation also refuses
 * `__proto__`, which cannot be an ordinary object key.
 */
export const DIMENSION_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

const PLAN_CONTEXT: WireFailureContext = { contract: 'Plan', code: 'MT-400' };
const CHARGE_CONTEXT: WireFailureContext = { contract: 'Charge', code: 'MT-400' };

/** Plans and charges that came out of {@link validatePlan}: frozen, so they are trusted as they are. */
const validatedPlans = new WeakSet<Plan>();
const validatedCharges = new WeakSet<Charge>();

const idSchema = asciiToken(MAX_PLAN_ID_LENGTH);
const textSchema = boundedText(MAX_PLAN_TEXT_LENGTH);

/** A dimension name (zod). */
export const dimensionNameSchema = z
  .string()
  .max(MAX_DIMENSION_NAME_LENGTH, { abort: true })
  .regex(DIMENSION_NAME_PATTERN, { error: 'expected 1-64 characters of [A-Za-z0-9_.:-]' })
  // As an object key it would be dropped or reach a prototype instead of naming a dimension.
  .refine((name) => name !== '__proto__', { error: '"__proto__" cannot name a dimension' });

/**
 * The shape of a dimension value: up to {@link MAX_DIMENSION_VALUE_LENGTH} characters, no C0
 * control characters other than tab, LF and CR, no lone surrogates (as core `boundedText`).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
export const DIMENSION_VALUE_PATTERN = /^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF]*$/u;

/** A dimension value (zod): free text without control characters. */
export const dimensionValueSchema = boundedText(MAX_DIMENSION_VALUE_LENGTH, 0);

const price = z.unknown().transform(guarded((value: unknown, field) => checkPrice(value, field)));
const positiveQuantity = z
  .unknown()
  .transform(guarded((value: unknown, field) => checkQuantity(value, field, true)));
const upTo = z.unknown().transform(
  guarded((value: unknown, field) => {
    if (value === null) return null;
    if (value === undefined) {
      throw new EnablementError(
        'MT-400',
        `${field}: required: a positive quantity, or null for the last tier`,
      );
    }
    return checkQuantity(value, field, true);
  }),
);

/**
 * A record of dimension values with `minKeys` to `maxKeys` members. Own keys are counted before
 * zod walks them, so a hostile object with a million keys costs one pass.
 */
export function boundedRecord(maxKeys: number, minKeys: number) {
  return z
    .custom<Record<string, string>>(
      (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
      { error: 'expected an object', abort: true },
    )
    .check((payload) => {
      const count = Object.keys(payload.value).length;
      if (count > maxKeys || count < minKeys) {
        payload.issues.push({
          code: 'custom',
          message: `expected ${minKeys} to ${maxKeys} members`,
          input: payload.value,
          abort: true,
        });
      } else if (Object.hasOwn(payload.value, '__proto__')) {
        // zod's record silently drops this key; refuse it rather than lose a dimension.
        payload.issues.push({
          code: 'custom',
          message: '"__proto__" cannot name a dimension',
          input: payload.value,
          abort: true,
        });
      }
    })
    .pipe(z.record(dimensionNameSchema, dimensionValueSchema));
}

/** Checks a tier list: strictly ascending bounds, unbounded last tier, only the last unbounded. */
function checkTiers(payload: z.core.ParsePayload<{ upTo: unknown }[]>): void {
  const tiers = payload.value;
  let previous: { upTo: unknown } | undefined;
  for (const [index, tier] of tiers.entries()) {
    const last = index === tiers.length - 1;
    if (tier.upTo === null && !last) {
      payload.issues.push({
        code: 'custom',
        message: 'only the last tier may be unbounded (upTo: null)',
        input: tier.upTo,
        path: [index, 'upTo'],
      });
      return;
    }
    if (last && tier.upTo !== null) {
      payload.issues.push({
        code: 'custom',
        message: 'the last tier must be unbounded (upTo: null)',
        input: tier.upTo,
        path: [index, 'upTo'],
      });
      return;
    }
    const before = previous?.upTo;
    if (Decimal.isDecimal(before) && Decimal.isDecimal(tier.upTo) && !tier.upTo.gt(before)) {
      payload.issues.push({
        code: 'custom',
        message: `tiers must be strictly ascending: ${tier.upTo.toString()} is not above ${before.toString()}`,
        input: tier.upTo.toString(),
        path: [index, 'upTo'],
      });
      return;
    }
    previous = tier;
  }
}

const tierSchema = z.strictObject({
  upTo,
  unitPrice: price,
  flatFee: price.optional(),
});

const tiersSchema = z
  .array(tierSchema)
  .min(1, { abort: true })
  .max(MAX_PRICE_TIERS, { abort: true })
  .check(checkTiers);

/** zod schema of a {@link ChargeModel}; decimals may be `Decimal`s or decimal strings. */
export const chargeModelSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('per_unit'), unitPrice: price }),
  z.strictObject({ type: z.literal('graduated'), tiers: tiersSchema }),
  z.strictObject({ type: z.literal('volume'), tiers: tiersSchema }),
  z.strictObject({ type: z.literal('package'), packageSize: positiveQuantity, packagePrice: price }),
]);

const dimensionalPriceSchema = z.strictObject({
  dimensions: boundedRecord(MAX_GROUP_BY_DIMENSIONS, 1),
  model: chargeModelSchema,
});

type ParsedCharge = {
  id: string;
  groupBy?: string[] | undefined;
  dimensionalPrices?: { dimensions: Record<string, string> }[] | undefined;
};

/** Checks groupBy uniqueness and that dimensional prices only name grouped dimensions, once each. */
function checkCharge(payload: z.core.ParsePayload<ParsedCharge>): void {
  const charge = payload.value;
  const groupBy = charge.groupBy ?? [];
  const seen = new Set<string>();
  for (const [index, name] of groupBy.entries()) {
    if (seen.has(name)) {
      payload.issues.push({
        code: 'custom',
        message: `duplicate dimension ${JSON.stringify(name)}`,
        input: name,
        path: ['groupBy', index],
      });
      return;
    }
    seen.add(name);
  }
  const signatures = new Set<string>();
  for (const [index, price] of (charge.dimensionalPrices ?? []).entries()) {
    const keys = Object.keys(price.dimensions).sort();
    for (const key of keys) {
      if (!seen.has(key)) {
        payload.issues.push({
          code: 'custom',
          message: `dimension ${JSON.stringify(key)} is not in the charge's groupBy, so usage never carries it`,
          input: key,
          path: ['dimensionalPrices', index, 'dimensions', key],
        });
        return;
      }
    }
    const signature = JSON.stringify(keys.map((key) => [key, price.dimensions[key]]));
    if (signatures.has(signature)) {
      payload.issues.push({
        code: 'custom',
        message: 'duplicates an earlier dimensional price (first match wins, so this one would never apply)',
        input: price.dimensions,
        path: ['dimensionalPrices', index, 'dimensions'],
      });
      return;
    }
    signatures.add(signature);
  }
}

const chargeSchema = z
  .strictObject({
    id: idSchema,
    meterId: idSchema,
    description: textSchema.optional(),
    model: chargeModelSchema,
    dimensionalPrices: z
      .array(dimensionalPriceSchema)
      .max(MAX_DIMENSIONAL_PRICES, { abort: true })
      .optional(),
    groupBy: z.array(dimensionNameSchema).max(MAX_GROUP_BY_DIMENSIONS, { abort: true }).optional(),
  })
  .check(checkCharge);

/** Checks that charge ids are unique within the plan. */
function checkPlan(payload: z.core.ParsePayload<{ charges: { id: string }[] }>): void {
  const seen = new Map<string, number>();
  for (const [index, charge] of payload.value.charges.entries()) {
    const first = seen.get(charge.id);
    if (first !== undefined) {
      payload.issues.push({
        code: 'custom',
        message: `duplicate charge id ${JSON.stringify(charge.id)} (also charges[${first}])`,
        input: charge.id,
        path: ['charges', index, 'id'],
      });
      return;
    }
    seen.set(charge.id, index);
  }
}

/**
 * zod schema of a {@link Plan}, with every rule of {@link validatePlan}. Decimals are accepted as
 * `Decimal`s, canonical decimal strings or bigints and come out as `Decimal`s; JS numbers are
 * refused (binary floating point is not money). Objects are strict: an unknown member (a typo
 * such as `unit_price`) is an error, not silently ignored.
 */
export const planSchema = z
  .strictObject({
    id: idSchema,
    name: textSchema,
    currency: z
      .string()
      .max(8, { abort: true })
      .refine(isCurrencyCode, { error: 'unknown currency: expected an ISO 4217 code of core CURRENCIES' }),
    interval: z.enum(['day', 'month']),
    baseFee: price.optional(),
    charges: z.array(chargeSchema).max(MAX_PLAN_CHARGES, { abort: true }),
  })
  .check(checkPlan);

type ParsedModel = z.output<typeof chargeModelSchema>;
type ParsedChargeFull = z.output<typeof chargeSchema>;

function freezeTier(tier: {
  upTo: PriceTier['upTo'];
  unitPrice: PriceTier['unitPrice'];
  flatFee?: PriceTier['flatFee'];
}): PriceTier {
  return Object.freeze(
    tier.flatFee === undefined
      ? { upTo: tier.upTo, unitPrice: tier.unitPrice }
      : { upTo: tier.upTo, unitPrice: tier.unitPrice, flatFee: tier.flatFee },
  );
}

function freezeModel(model: ParsedModel): ChargeModel {
  switch (model.type) {
    case 'per_unit':
      return Object.freeze({ type: model.type, unitPrice: model.unitPrice });
    case 'graduated':
    case 'volume':
      return Object.freeze({ type: model.type, tiers: Object.freeze(model.tiers.map(freezeTier)) });
    case 'package':
      return Object.freeze({
        type: model.type,
        packageSize: model.packageSize,
        packagePrice: model.packagePrice,
      });
  }
}

function freezeCharge(charge: ParsedChargeFull): Charge {
  const out: {
    id: string;
    meterId: string;
    description?: string;
    model: ChargeModel;
    dimensionalPrices?: readonly DimensionalPrice[];
    groupBy?: readonly string[];
  } = { id: charge.id, meterId: charge.meterId, model: freezeModel(charge.model) };
  if (charge.description !== undefined) out.description = charge.description;
  if (charge.dimensionalPrices !== undefined) {
    out.dimensionalPrices = Object.freeze(
      charge.dimensionalPrices.map((price) =>
        Object.freeze({
          // fromEntries defines own properties, so a `__proto__` key cannot reach a prototype.
          dimensions: Object.freeze(Object.fromEntries(Object.entries(price.dimensions))),
          model: freezeModel(price.model),
        }),
      ),
    );
  }
  if (charge.groupBy !== undefined) out.groupBy = Object.freeze([...charge.groupBy]);
  const frozen = Object.freeze(out);
  validatedCharges.add(frozen);
  return frozen;
}

/**
 * Validates a plan and returns it normalized and deeply frozen: decimals as `Decimal`s (tier
 * bounds and package sizes without trailing zeros), optional members present only when given.
 *
 * Rules (spec §4.1 plans; each failure is `MT-400` naming the field, e.g.
 * `invalid Plan: charges[1].model.tiers[2].upTo: tiers must be strictly ascending …`):
 * - `currency` is a code of core `CURRENCIES`; `interval` is `day` or `month`;
 * - prices, flat fees and the base fee are non-negative, ≤ 18 fraction digits, below 10^12;
 * - tier bounds and package sizes are positive, ≤ 18 fraction digits, below 10^18;
 * - tiers: 1 to {@link MAX_PRICE_TIERS}, `upTo` strictly ascending, the last (and only the last)
 *   `upTo: null`;
 * - charge ids unique; at most {@link MAX_PLAN_CHARGES} charges, {@link MAX_DIMENSIONAL_PRICES}
 *   dimensional prices and {@link MAX_GROUP_BY_DIMENSIONS} group-by dimensions per charge;
 *   dimensional prices name only `groupBy` dimensions and never repeat an earlier one;
 * - no unknown members, no JS numbers for money.
 *
 * A plan returned by `validatePlan` is returned as is when validated again, and pricing and
 * invoicing trust it without re-checking; any other object is validated where it is used.
 */
export function validatePlan(plan: unknown): Plan {
  if (isValidatedPlan(plan)) return plan;
  const parsed = decodeWire(planSchema, plan, PLAN_CONTEXT);
  const out: {
    id: string;
    name: string;
    currency: string;
    interval: Plan['interval'];
    baseFee?: Plan['baseFee'];
    charges: readonly Charge[];
  } = {
    id: parsed.id,
    name: parsed.name,
    currency: parsed.currency,
    interval: parsed.interval,
    charges: Object.freeze(parsed.charges.map(freezeCharge)),
  };
  if (parsed.baseFee !== undefined) out.baseFee = parsed.baseFee;
  const frozen: Plan = Object.freeze(out);
  validatedPlans.add(frozen);
  return frozen;
}

/** True for a plan returned by {@link validatePlan} (frozen, so still valid). */
export function isValidatedPlan(plan: unknown): plan is Plan {
  return typeof plan === 'object' && plan !== null && validatedPlans.has(plan as Plan);
}

/**
 * The charge itself when it came from {@link validatePlan}; otherwise it is validated alone
 * (`MT-400` naming the field, contract `Charge`) and a frozen copy returned.
 */
export function validateCharge(charge: unknown): Charge {
  if (typeof charge === 'object' && charge !== null && validatedCharges.has(charge as Charge)) {
    return charge as Charge;
  }
  return freezeCharge(decodeWire(chargeSchema, charge, CHARGE_CONTEXT));
}
