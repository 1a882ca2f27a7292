import { Decimal } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Charge, ChargeUsage } from '../plans/types.js';
import { priceCharge, roundingRule, roundLineAmount, selectChargeModel, validatePlan } from './index.js';

const d = (text: string) => Decimal.parse(text);

/** One validated charge with the given model (and optional groupBy / dimensional prices). */
function chargeOf(model: unknown, extra: Record<string, unknown> = {}): Charge {
  const plan = validatePlan({
    id: 'p',
    name: 'P',
    currency: 'USD',
    interval: 'month',
    charges: [{ id: 'c', meterId: 'm', model, ...extra }],
  });
  const charge = plan.charges[0];
  if (charge === undefined) throw new Error('unreachable');
  return charge;
}

const usage = (quantity: string, groups: Record<string, string> = {}): ChargeUsage => ({
  chargeId: 'c',
  groups,
  quantity: d(quantity),
});

/** 0–100 at 0.10 (+1.00 flat), 100–1000 at 0.05, above 1000 at 0.01 (+5.00 flat). */
const TIERS = [
  { upTo: '100', unitPrice: '0.10', flatFee: '1.00' },
  { upTo: '1000', unitPrice: '0.05' },
  { upTo: null, unitPrice: '0.01', flatFee: '5.00' },
];

describe('priceCharge: per_unit', () => {
  const charge = chargeOf({ type: 'per_unit', unitPrice: '0.000015' });

  it.each([
    ['0', '0'],
    ['1', '0.000015'],
    ['1234', '0.018510'],
    ['2.5', '0.0000375'],
  ])('%s units cost %s', (quantity, amount) => {
    const price = priceCharge(charge, usage(quantity));
    expect(price.amount.eq(d(amount))).toBe(true);
    expect(price.unitPrice?.toString()).toBe('0.000015');
    expect(price.tiers).toBeUndefined();
  });
});

describe('priceCharge: graduated (each unit in its tier, flat fee once per entered tier)', () => {
  const charge = chargeOf({ type: 'graduated', tiers: TIERS });

  it.each([
    ['0', '0', 0], // no tier entered: not even the first tier's flat fee
    ['0.25', '1.025', 1], // 0.25 × 0.10 + 1.00
    ['50', '6.00', 1], // 50 × 0.10 + 1.00
    ['100', '11.00', 1], // exactly at upTo: still all in tier 1
    ['100.5', '11.025', 2], // 11.00 + 0.5 × 0.05
    ['101', '11.05', 2], // 11.00 + 1 × 0.05
    ['1000', '56.00', 2], // 11.00 + 900 × 0.05
    ['1001', '61.01', 3], // 56.00 + 1 × 0.01 + 5.00
    ['10000', '151.00', 3], // 56.00 + 9000 × 0.01 + 5.00
  ])('%s units cost %s over %i tiers', (quantity, amount, tierCount) => {
    const price = priceCharge(charge, usage(quantity));
    expect(price.amount.eq(d(amount))).toBe(true);
    expect(price.tiers).toHaveLength(tierCount);
    // Zero quantity shows the first tier's price; otherwise the flat fee makes the price vary.
    expect(price.unitPrice?.toString() ?? null).toBe(quantity === '0' ? '0.10' : null);
    expect(Decimal.sum(price.tiers?.map((t) => t.amount) ?? []).eq(price.amount)).toBe(true);
  });

  it('breaks a quantity down by tier', () => {
    const price = priceCharge(charge, usage('1001'));
    expect(
      price.tiers?.map((t) => [
        t.upTo?.toString() ?? null,
        t.quantity.toString(),
        t.flatFee.toString(),
        t.amount.toString(),
      ]),
    ).toEqual([
      ['100', '100', '1.00', '11.00'],
      ['1000', '900', '0', '45.00'],
      [null, '1', '5.00', '5.01'],
    ]);
  });

  it('gives a unit price only when one fee-less tier holds every unit', () => {
    const plain = chargeOf({
      type: 'graduated',
      tiers: [
        { upTo: '10', unitPrice: '2' },
        { upTo: null, unitPrice: '1' },
      ],
    });
    expect(priceCharge(plain, usage('10')).unitPrice?.toString()).toBe('2');
    expect(priceCharge(plain, usage('11')).unitPrice).toBeNull();
    expect(priceCharge(plain, usage('0')).unitPrice?.toString()).toBe('2');
    expect(priceCharge(plain, usage('0')).tiers).toEqual([]);
  });
});

describe('priceCharge: volume (every unit at the tier holding the total)', () => {
  const charge = chargeOf({ type: 'volume', tiers: TIERS });

  it.each([
    ['0', '0', null], // zero enters no tier: no flat fee
    ['0.5', '1.05', null], // 0.5 × 0.10 + 1.00
    ['100', '11.00', null], // exactly at upTo: tier 1
    ['101', '5.05', '0.05'], // one more unit drops every unit to tier 2: the volume jump
    ['1000', '50.00', '0.05'],
    ['1001', '15.01', null], // 1001 × 0.01 + 5.00
  ])('%s units cost %s', (quantity, amount, unitPrice) => {
    const price = priceCharge(charge, usage(quantity));
    expect(price.amount.eq(d(amount))).toBe(true);
    expect(price.unitPrice?.toString() ?? null).toBe(quantity === '0' ? '0.10' : unitPrice);
    expect(price.tiers).toHaveLength(quantity === '0' ? 0 : 1);
  });

  it('reports the selected tier', () => {
    const [tier] = priceCharge(charge, usage('101')).tiers ?? [];
    expect(tier?.upTo?.toString()).toBe('1000');
    expect(tier?.quantity.toString()).toBe('101');
    expect(tier?.flatFee.isZero()).toBe(true);
  });
});

describe('priceCharge: package (round up to whole packages)', () => {
  const charge = chargeOf({ type: 'package', packageSize: '100', packagePrice: '2.50' });

  it.each([
    ['0', '0'],
    ['0.001', '2.50'],
    ['1', '2.50'],
    ['100', '2.50'],
    ['101', '5.00'],
    ['250', '7.50'],
    ['300', '7.50'],
  ])('%s units cost %s', (quantity, amount) => {
    const price = priceCharge(charge, usage(quantity));
    expect(price.amount.eq(d(amount))).toBe(true);
    expect(price.unitPrice).toBeNull();
  });

  it('rounds fractional package counts up', () => {
    const half = chargeOf({ type: 'package', packageSize: '0.5', packagePrice: '1' });
    expect(priceCharge(half, usage('1.2')).amount.toString()).toBe('3');
    expect(priceCharge(half, usage('1.5')).amount.toString()).toBe('3');
    expect(priceCharge(half, usage('1.5000001')).amount.toString()).toBe('4');
  });
});

describe('selectChargeModel and dimensional prices', () => {
  const charge = chargeOf(
    { type: 'per_unit', unitPrice: '0.01' },
    {
      groupBy: ['model', 'provider'],
      dimensionalPrices: [
        { dimensions: { model: 'claude-3' }, model: { type: 'per_unit', unitPrice: '0.02' } },
        { dimensions: { model: 'gpt', provider: 'azure' }, model: { type: 'per_unit', unitPrice: '0.03' } },
        { dimensions: { provider: 'azure' }, model: { type: 'per_unit', unitPrice: '0.04' } },
      ],
    },
  );
  const unitPrice = (groups: Record<string, string>) =>
    priceCharge(charge, usage('1', groups)).unitPrice?.toString();

  it('uses the first dimensional price whose every dimension matches', () => {
    expect(unitPrice({ model: 'claude-3', provider: 'anthropic' })).toBe('0.02');
    expect(unitPrice({ model: 'gpt', provider: 'azure' })).toBe('0.03');
    expect(unitPrice({ model: 'claude-3', provider: 'azure' })).toBe('0.02'); // first match wins
    expect(unitPrice({ model: 'mistral', provider: 'azure' })).toBe('0.04');
  });

  it('falls back to the default model when no dimensional price matches', () => {
    expect(unitPrice({ model: 'gpt', provider: 'openai' })).toBe('0.01');
    expect(unitPrice({ model: 'gpt' })).toBe('0.01'); // an absent dimension never matches
    expect(unitPrice({})).toBe('0.01');
    expect(unitPrice({ model: 'Claude-3' })).toBe('0.01'); // exact, case-sensitive match
    expect(selectChargeModel(charge, {})).toBe(charge.model);
  });
});

describe('priceCharge: bad input is MT-400 naming the field', () => {
  const charge = chargeOf({ type: 'per_unit', unitPrice: '1' }, { groupBy: ['model'] });

  it.each([
    [
      'a negative quantity',
      { chargeId: 'c', groups: {}, quantity: d('-1') },
      'usage.quantity: must not be negative',
    ],
    [
      'a quantity as a number',
      { chargeId: 'c', groups: {}, quantity: 5 },
      'usage.quantity: number is not accepted',
    ],
    ['a quantity as NaN text', { chargeId: 'c', groups: {}, quantity: 'NaN' }, 'usage.quantity:'],
    ['a missing quantity', { chargeId: 'c', groups: {} }, 'usage.quantity:'],
    [
      'a quantity of 10^18',
      { chargeId: 'c', groups: {}, quantity: d('1000000000000000000') },
      'must be below 10^18',
    ],
    [
      '19 fraction digits',
      { chargeId: 'c', groups: {}, quantity: d(`0.${'1'.repeat(19)}`) },
      'at most 18 fraction digits',
    ],
    [
      'usage of another charge',
      { chargeId: 'other', groups: {}, quantity: d('1') },
      'usage.chargeId: "other" is not',
    ],
    [
      'an ungrouped dimension',
      { chargeId: 'c', groups: { provider: 'x' }, quantity: d('1') },
      'usage.groups: dimension "provider"',
    ],
    [
      'a non-string dimension value',
      { chargeId: 'c', groups: { model: 1 }, quantity: d('1') },
      'usage.groups.model:',
    ],
    ['groups as an array', { chargeId: 'c', groups: ['model'], quantity: d('1') }, 'usage.groups:'],
    ['no usage at all', null, 'usage:'],
  ])('refuses %s', (_label, bad, message) => {
    expectEnablementError(() => priceCharge(charge, bad as unknown as ChargeUsage), 'MT-400', message);
  });

  it('accepts trailing zeros beyond 18 digits, which are not significant', () => {
    expect(priceCharge(charge, usage(`2.${'0'.repeat(30)}`)).amount.toString()).toBe('2');
  });

  it('validates a charge that did not come from validatePlan', () => {
    const raw = { id: 'c', meterId: 'm', model: { type: 'per_unit', unitPrice: d('0.5') } } as Charge;
    expect(priceCharge(raw, usage('3')).amount.toString()).toBe('1.5');
    const broken = { id: 'c', meterId: 'm', model: { type: 'volume', tiers: [] } } as unknown as Charge;
    expectEnablementError(() => priceCharge(broken, usage('3')), 'MT-400', 'invalid Charge: model.tiers');
  });
});

describe('roundingRule', () => {
  it('rounds half to even, once, to the minor unit', () => {
    expect(roundingRule).toEqual({ mode: 'half_even', level: 'invoice_line' });
    expect(roundLineAmount(d('0.125'), 'USD').toString()).toBe('0.12');
    expect(roundLineAmount(d('0.135'), 'USD').toString()).toBe('0.14');
    expect(roundLineAmount(d('0.1251'), 'USD').toString()).toBe('0.13');
    expect(roundLineAmount(d('2.5'), 'JPY').toString()).toBe('2');
    expect(roundLineAmount(d('3.5'), 'JPY').toString()).toBe('4');
    expect(roundLineAmount(d('1.0005'), 'KWD').toString()).toBe('1.000');
    expect(roundLineAmount(d('1.0015'), 'KWD').toString()).toBe('1.002');
    expect(roundLineAmount(d('7'), 'USD').toString()).toBe('7.00');
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests against an independent reference written with BigInt minor units.
// ---------------------------------------------------------------------------------------------

/** Prices have 4 fraction digits, flat fees 2: both held here as integers. */
interface RefTier {
  readonly upTo: number | null;
  readonly price: bigint; // × 10^-4
  readonly flat: bigint; // × 10^-2
}

const refTiersArb: fc.Arbitrary<RefTier[]> = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 1, max: 3000 }), { maxLength: 6 }),
    fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 200_000n }), fc.bigInt({ min: 0n, max: 5_000n })), {
      minLength: 7,
      maxLength: 7,
    }),
  )
  .map(([bounds, prices]) => {
    const sorted = [...bounds].sort((a, b) => a - b);
    return [...sorted, null].map((upTo, i) => {
      const [price, flat] = prices[i] ?? [0n, 0n];
      return { upTo, price, flat };
    });
  });

const tiersJson = (tiers: readonly RefTier[]) =>
  tiers.map((t) => ({
    upTo: t.upTo === null ? null : String(t.upTo),
    unitPrice: Decimal.fromParts(t.price, 4).toString(),
    ...(t.flat === 0n ? {} : { flatFee: Decimal.fromParts(t.flat, 2).toString() }),
  }));

/** Graduated, unit by unit over an integer quantity: the tier of unit `u` is the first with `u <= upTo`. */
function referenceGraduatedByUnit(tiers: readonly RefTier[], quantity: number): Decimal {
  let total = 0n; // × 10^-4
  const entered = new Set<number>();
  for (let unit = 1; unit <= quantity; unit++) {
    const index = tiers.findIndex((t) => t.upTo === null || unit <= t.upTo);
    const tier = tiers[index] as RefTier;
    total += tier.price;
    if (!entered.has(index)) {
      entered.add(index);
      total += tier.flat * 100n;
    }
  }
  return Decimal.fromParts(total, 4);
}

/** Graduated over a quantity in thousandths, clamping the quantity to each tier's span. */
function referenceGraduatedClamped(tiers: readonly RefTier[], milli: bigint): Decimal {
  let total = 0n; // × 10^-7 (quantity 10^-3 × price 10^-4)
  let lower = 0n;
  for (const tier of tiers) {
    const upper = tier.upTo === null ? milli : BigInt(tier.upTo) * 1000n;
    const top = milli < upper ? milli : upper;
    if (top > lower) total += (top - lower) * tier.price + tier.flat * 100_000n;
    if (tier.upTo === null) break;
    lower = upper;
  }
  return Decimal.fromParts(total, 7);
}

/** Volume over thousandths: the tier index is the number of bounds strictly below the quantity. */
function referenceVolume(tiers: readonly RefTier[], milli: bigint): Decimal {
  if (milli === 0n) return Decimal.ZERO;
  const index = tiers.filter((t) => t.upTo !== null && BigInt(t.upTo) * 1000n < milli).length;
  const tier = tiers[index] as RefTier;
  return Decimal.fromParts(milli * tier.price + tier.flat * 100_000n, 7);
}

const milliArb = fc.oneof(
  fc.bigInt({ min: 0n, max: 3_500_000n }),
  fc.integer({ min: 0, max: 3500 }).map((units) => BigInt(units) * 1000n),
);

/** Tiers and a quantity (in thousandths) that is often exactly at a tier bound or just above it. */
const tiersAndMilliArb: fc.Arbitrary<[RefTier[], bigint]> = refTiersArb.chain((tiers) => {
  const bounds = tiers.flatMap((t) => (t.upTo === null ? [] : [BigInt(t.upTo) * 1000n]));
  const nearBound =
    bounds.length === 0
      ? milliArb
      : fc
          .tuple(fc.constantFrom(...bounds), fc.constantFrom(-1n, 0n, 1n, 1000n))
          .map(([b, delta]) => b + delta);
  return fc.tuple(fc.constant(tiers), fc.oneof(milliArb, nearBound));
});

describe('priceCharge matches an independent reference', () => {
  it('graduated, unit by unit, for integer quantities', () => {
    fc.assert(
      fc.property(refTiersArb, fc.integer({ min: 0, max: 3500 }), (tiers, quantity) => {
        const charge = chargeOf({ type: 'graduated', tiers: tiersJson(tiers) });
        const price = priceCharge(charge, usage(String(quantity)));
        expect(price.amount.eq(referenceGraduatedByUnit(tiers, quantity))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('graduated, by clamping, for fractional quantities', () => {
    fc.assert(
      fc.property(tiersAndMilliArb, ([tiers, milli]) => {
        const charge = chargeOf({ type: 'graduated', tiers: tiersJson(tiers) });
        const price = priceCharge(charge, {
          chargeId: 'c',
          groups: {},
          quantity: Decimal.fromParts(milli, 3),
        });
        expect(price.amount.eq(referenceGraduatedClamped(tiers, milli))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('volume, by counting the bounds below the quantity', () => {
    fc.assert(
      fc.property(tiersAndMilliArb, ([tiers, milli]) => {
        const charge = chargeOf({ type: 'volume', tiers: tiersJson(tiers) });
        const price = priceCharge(charge, {
          chargeId: 'c',
          groups: {},
          quantity: Decimal.fromParts(milli, 3),
        });
        expect(price.amount.eq(referenceVolume(tiers, milli))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('package, with integer ceiling division', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10_000_000n }),
        fc.bigInt({ min: 0n, max: 1_000_000n }),
        fc.bigInt({ min: 0n, max: 100_000_000n }),
        (sizeMilli, priceCents, milli) => {
          const charge = chargeOf({
            type: 'package',
            packageSize: Decimal.fromParts(sizeMilli, 3).toString(),
            packagePrice: Decimal.fromParts(priceCents, 2).toString(),
          });
          const packages = (milli + sizeMilli - 1n) / sizeMilli;
          const price = priceCharge(charge, {
            chargeId: 'c',
            groups: {},
            quantity: Decimal.fromParts(milli, 3),
          });
          expect(price.amount.eq(Decimal.fromParts(packages * priceCents, 2))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('per_unit, as an integer product', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        (milli, price) => {
          const charge = chargeOf({ type: 'per_unit', unitPrice: Decimal.fromParts(price, 9).toString() });
          const result = priceCharge(charge, {
            chargeId: 'c',
            groups: {},
            quantity: Decimal.fromParts(milli, 3),
          });
          expect(result.amount.eq(Decimal.fromParts(milli * price, 12))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never decreases with the quantity for graduated and package models', () => {
    fc.assert(
      fc.property(refTiersArb, milliArb, milliArb, (tiers, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const charge = chargeOf({ type: 'graduated', tiers: tiersJson(tiers) });
        const at = (milli: bigint) =>
          priceCharge(charge, { chargeId: 'c', groups: {}, quantity: Decimal.fromParts(milli, 3) }).amount;
        expect(at(low).lte(at(high))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('sets a unit price only when amount = quantity × unit price', () => {
    fc.assert(
      fc.property(tiersAndMilliArb, fc.constantFrom('graduated', 'volume'), ([tiers, milli], type) => {
        const charge = chargeOf({ type, tiers: tiersJson(tiers) });
        const quantity = Decimal.fromParts(milli, 3);
        const price = priceCharge(charge, { chargeId: 'c', groups: {}, quantity });
        if (price.unitPrice !== null) expect(price.amount.eq(quantity.mul(price.unitPrice))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
