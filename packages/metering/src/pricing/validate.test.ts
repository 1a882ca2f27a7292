import { Decimal, EnablementError } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isValidatedPlan,
  MAX_DIMENSIONAL_PRICES,
  MAX_GROUP_BY_DIMENSIONS,
  MAX_PLAN_CHARGES,
  MAX_PRICE_TIERS,
  validateCharge,
  validatePlan,
} from './index.js';

const tiers = [
  { upTo: '1000', unitPrice: '0', flatFee: '1.50' },
  { upTo: '10000', unitPrice: '0.002' },
  { upTo: null, unitPrice: '0.001' },
];

/** A plan as it would arrive from JSON: decimals as strings. */
function planJson(): Record<string, unknown> {
  return {
    id: 'pro',
    name: 'Pro',
    currency: 'USD',
    interval: 'month',
    baseFee: '49.00',
    charges: [
      {
        id: 'tokens',
        meterId: 'input_tokens',
        description: 'Input tokens',
        groupBy: ['model', 'provider'],
        model: { type: 'graduated', tiers },
        dimensionalPrices: [
          { dimensions: { model: 'claude-3' }, model: { type: 'volume', tiers } },
          {
            dimensions: { model: 'gpt', provider: 'azure' },
            model: { type: 'per_unit', unitPrice: '0.0001' },
          },
        ],
      },
      {
        id: 'egress',
        meterId: 'egress_gb',
        model: { type: 'package', packageSize: '1.0', packagePrice: '0.09' },
      },
      { id: 'calls', meterId: 'api_calls', model: { type: 'per_unit', unitPrice: '0.0005' } },
    ],
  };
}

type Json = Record<string, unknown>;
const charges = (plan: Json) => plan.charges as Json[];
const charge = (plan: Json, index: number) => charges(plan)[index] as Json;

/** A copy of the plan with `mutate` applied to it. */
function withPlan(mutate: (plan: Json) => void): Json {
  const plan = structuredClone(planJson());
  mutate(plan);
  return plan;
}

function expectInvalid(plan: unknown, message: string | RegExp): EnablementError {
  return expectEnablementError(() => validatePlan(plan), 'MT-400', message);
}

describe('validatePlan: accepted plans', () => {
  it('normalizes decimals given as strings to Decimals and keeps the prices as written', () => {
    const plan = validatePlan(planJson());
    expect(plan.baseFee?.toString()).toBe('49.00');
    const [tokens, egress] = plan.charges;
    expect(tokens?.model.type).toBe('graduated');
    if (tokens?.model.type !== 'graduated') throw new Error('unreachable');
    expect(tokens.model.tiers[0]?.upTo).toBeInstanceOf(Decimal);
    expect(tokens.model.tiers[0]?.flatFee?.toString()).toBe('1.50');
    expect(tokens.model.tiers[1]?.flatFee).toBeUndefined();
    expect(tokens.model.tiers[2]?.upTo).toBeNull();
    // Quantities (tier bounds, package sizes) drop trailing zeros: 1.0 and 1 are one quantity.
    expect(egress?.model.type === 'package' && egress.model.packageSize.toString()).toBe('1');
    expect(tokens.dimensionalPrices?.[1]?.dimensions).toEqual({ model: 'gpt', provider: 'azure' });
  });

  it('accepts Decimals and bigints as well as strings', () => {
    const plan = validatePlan({
      id: 'p',
      name: 'P',
      currency: 'JPY',
      interval: 'day',
      baseFee: Decimal.parse('100'),
      charges: [{ id: 'c', meterId: 'm', model: { type: 'per_unit', unitPrice: 3n } }],
    });
    expect(plan.baseFee?.toString()).toBe('100');
    expect(plan.charges[0]?.model).toEqual({ type: 'per_unit', unitPrice: Decimal.parse('3') });
  });

  it('accepts a plan with only a base fee and one with no optional members', () => {
    expect(
      validatePlan({ id: 'p', name: 'P', currency: 'EUR', interval: 'month', charges: [] }).charges,
    ).toEqual([]);
    const plan = validatePlan({
      id: 'p',
      name: 'P',
      currency: 'EUR',
      interval: 'month',
      baseFee: '5',
      charges: [],
    });
    expect(Object.keys(plan)).toEqual(['id', 'name', 'currency', 'interval', 'charges', 'baseFee']);
  });

  it('returns a deeply frozen plan, returned as is when validated again', () => {
    const plan = validatePlan(planJson());
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.charges)).toBe(true);
    expect(Object.isFrozen(plan.charges[0]?.model)).toBe(true);
    expect(Object.isFrozen(plan.charges[0]?.dimensionalPrices?.[0]?.dimensions)).toBe(true);
    expect(validatePlan(plan)).toBe(plan);
    expect(isValidatedPlan(plan)).toBe(true);
    expect(isValidatedPlan(planJson())).toBe(false);
    expect(validateCharge(plan.charges[0])).toBe(plan.charges[0]);
  });

  it('does not alias the input: later changes to it do not reach the plan', () => {
    const input = planJson();
    const plan = validatePlan(input);
    charge(input, 0).groupBy = ['other'];
    (input as { charges: unknown[] }).charges.length = 0;
    expect(plan.charges).toHaveLength(3);
    expect(plan.charges[0]?.groupBy).toEqual(['model', 'provider']);
  });
});

describe('validatePlan: MT-400 naming the field', () => {
  it.each([
    ['unknown currency', withPlan((p) => (p.currency = 'XXX')), 'currency: unknown currency'],
    ['lowercase currency', withPlan((p) => (p.currency = 'usd')), 'currency: unknown currency'],
    ['unknown interval', withPlan((p) => (p.interval = 'week')), 'interval:'],
    ['negative base fee', withPlan((p) => (p.baseFee = '-1')), 'baseFee: must not be negative'],
    [
      'negative unit price',
      withPlan((p) => (charge(p, 2).model = { type: 'per_unit', unitPrice: '-0.01' })),
      'charges[2].model.unitPrice: must not be negative',
    ],
    [
      'negative flat fee',
      withPlan(
        (p) =>
          ((charge(p, 0).model as { tiers: Json[] }).tiers[1] = {
            upTo: '10000',
            unitPrice: '1',
            flatFee: '-2',
          }),
      ),
      'charges[0].model.tiers[1].flatFee: must not be negative',
    ],
    [
      'tiers not ascending',
      withPlan(
        (p) => ((charge(p, 0).model as { tiers: Json[] }).tiers[1] = { upTo: '1000', unitPrice: '1' }),
      ),
      'charges[0].model.tiers[1].upTo: tiers must be strictly ascending: 1000 is not above 1000',
    ],
    [
      'last tier bounded',
      withPlan((p) => (charge(p, 0).model = { type: 'volume', tiers: [{ upTo: '5', unitPrice: '1' }] })),
      'charges[0].model.tiers[0].upTo: the last tier must be unbounded',
    ],
    [
      'unbounded tier before the last',
      withPlan(
        (p) =>
          (charge(p, 0).model = {
            type: 'volume',
            tiers: [
              { upTo: null, unitPrice: '1' },
              { upTo: null, unitPrice: '1' },
            ],
          }),
      ),
      'charges[0].model.tiers[0].upTo: only the last tier may be unbounded',
    ],
    [
      'no tiers',
      withPlan((p) => (charge(p, 0).model = { type: 'graduated', tiers: [] })),
      'charges[0].model.tiers:',
    ],
    [
      'tier bound of zero',
      withPlan((p) => ((charge(p, 0).model as { tiers: Json[] }).tiers[0] = { upTo: '0', unitPrice: '1' })),
      'charges[0].model.tiers[0].upTo: must be greater than zero',
    ],
    [
      'missing tier bound',
      withPlan((p) => ((charge(p, 0).model as { tiers: Json[] }).tiers[0] = { unitPrice: '1' })),
      'charges[0].model.tiers[0].upTo: required',
    ],
    [
      'duplicate charge ids',
      withPlan((p) => (charge(p, 2).id = 'tokens')),
      'charges[2].id: duplicate charge id "tokens" (also charges[0])',
    ],
    [
      'package size zero',
      withPlan((p) => (charge(p, 1).model = { type: 'package', packageSize: '0', packagePrice: '1' })),
      'charges[1].model.packageSize: must be greater than zero',
    ],
    [
      'package size negative',
      withPlan((p) => (charge(p, 1).model = { type: 'package', packageSize: '-5', packagePrice: '1' })),
      'charges[1].model.packageSize: must not be negative',
    ],
    [
      'unknown model type',
      withPlan((p) => (charge(p, 2).model = { type: 'tiered', unitPrice: '1' })),
      'charges[2].model.type:',
    ],
    [
      'money as a JS number',
      withPlan((p) => (p.baseFee = 49.99)),
      'baseFee: number is not accepted for money',
    ],
    ['exponent notation', withPlan((p) => (p.baseFee = '1e3')), 'baseFee: "1e3" is not a plain decimal'],
    [
      'too many fraction digits',
      withPlan((p) => (p.baseFee = `0.${'1'.repeat(19)}`)),
      'baseFee: at most 18 fraction digits',
    ],
    ['price too large', withPlan((p) => (p.baseFee = '1000000000000')), 'baseFee: must be below 10^12'],
    [
      'quantity bound too large',
      withPlan(
        (p) =>
          ((charge(p, 0).model as { tiers: Json[] }).tiers[0] = {
            upTo: '1'.padEnd(19, '0'),
            unitPrice: '1',
          }),
      ),
      'charges[0].model.tiers[0].upTo: must be below 10^18',
    ],
    [
      'a typo in a member name',
      withPlan((p) => (charge(p, 2).model = { type: 'per_unit', unit_price: '1' })),
      'unit_price',
    ],
    ['unknown top-level member', withPlan((p) => (p.taxRate = '0.2')), 'taxRate'],
    ['empty id', withPlan((p) => (p.id = '')), 'id:'],
    ['id with spaces', withPlan((p) => (charge(p, 0).id = 'input tokens')), 'charges[0].id:'],
    ['name with control characters', withPlan((p) => (p.name = 'Pro\u0000')), 'name:'],
    [
      'groupBy repeats a dimension',
      withPlan((p) => (charge(p, 0).groupBy = ['model', 'model'])),
      'charges[0].groupBy[1]: duplicate',
    ],
    [
      'bad dimension name',
      withPlan((p) => (charge(p, 0).groupBy = ['model name'])),
      'charges[0].groupBy[0]:',
    ],
    [
      'dimensional price on an ungrouped dimension',
      withPlan((p) => (charge(p, 0).groupBy = ['model'])),
      'charges[0].dimensionalPrices[1].dimensions.provider: dimension "provider" is not in the charge\'s groupBy',
    ],
    [
      'dimensional price repeated',
      withPlan((p) => {
        const prices = charge(p, 0).dimensionalPrices as Json[];
        prices.push(structuredClone(prices[0] as Json));
      }),
      'charges[0].dimensionalPrices[2].dimensions: duplicates an earlier dimensional price',
    ],
    [
      'dimensional price without dimensions',
      withPlan(
        (p) =>
          ((charge(p, 0).dimensionalPrices as Json[])[0] = {
            dimensions: {},
            model: { type: 'per_unit', unitPrice: '1' },
          }),
      ),
      'charges[0].dimensionalPrices[0].dimensions:',
    ],
  ])('%s', (_label, plan, message) => {
    expectInvalid(plan, message);
  });

  it('says "invalid Plan" and keeps the zod error as the cause', () => {
    const error = expectInvalid(
      withPlan((p) => (p.currency = 'XXX')),
      /^invalid Plan: /,
    );
    expect(error.cause).toBeDefined();
    expect(error.retryable).toBe(false);
  });

  it('bounds charges, tiers, dimensional prices and group-by dimensions', () => {
    const perUnit = (i: number) => ({
      id: `c${i}`,
      meterId: 'm',
      model: { type: 'per_unit', unitPrice: '1' },
    });
    const base = { id: 'p', name: 'P', currency: 'USD', interval: 'month' };
    expect(
      validatePlan({ ...base, charges: Array.from({ length: MAX_PLAN_CHARGES }, (_, i) => perUnit(i)) })
        .charges,
    ).toHaveLength(MAX_PLAN_CHARGES);
    expectInvalid(
      { ...base, charges: Array.from({ length: MAX_PLAN_CHARGES + 1 }, (_, i) => perUnit(i)) },
      'charges:',
    );
    const ascending = (n: number) => [
      ...Array.from({ length: n - 1 }, (_, i) => ({ upTo: String(i + 1), unitPrice: '1' })),
      { upTo: null, unitPrice: '1' },
    ];
    const tiered = (n: number) => ({
      ...base,
      charges: [{ id: 'c', meterId: 'm', model: { type: 'volume', tiers: ascending(n) } }],
    });
    expect(() => validatePlan(tiered(MAX_PRICE_TIERS))).not.toThrow();
    expectInvalid(tiered(MAX_PRICE_TIERS + 1), 'charges[0].model.tiers:');
    const dims = (n: number) => ({
      ...base,
      charges: [
        {
          id: 'c',
          meterId: 'm',
          groupBy: ['model'],
          model: { type: 'per_unit', unitPrice: '1' },
          dimensionalPrices: Array.from({ length: n }, (_, i) => ({
            dimensions: { model: `m${i}` },
            model: { type: 'per_unit', unitPrice: '2' },
          })),
        },
      ],
    });
    expect(() => validatePlan(dims(MAX_DIMENSIONAL_PRICES))).not.toThrow();
    expectInvalid(dims(MAX_DIMENSIONAL_PRICES + 1), 'charges[0].dimensionalPrices:');
    const groupBy = Array.from({ length: MAX_GROUP_BY_DIMENSIONS + 1 }, (_, i) => `d${i}`);
    expectInvalid({ ...base, charges: [{ ...perUnit(0), groupBy }] }, 'charges[0].groupBy:');
  });
});

describe('validatePlan: hostile input', () => {
  it('refuses a million tiers, charges or dimensions quickly with MT-400', () => {
    const million = Array.from({ length: 1_000_000 }, () => ({ upTo: null, unitPrice: '1' }));
    expectInvalid(
      withPlan((p) => (charge(p, 0).model = { type: 'graduated', tiers: million })),
      'charges[0].model.tiers:',
    );
    expectInvalid(
      withPlan((p) => (p.charges = million)),
      'charges:',
    );
    const manyKeys = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v']));
    expectInvalid(
      withPlan(
        (p) =>
          ((charge(p, 0).dimensionalPrices as Json[])[0] = {
            dimensions: manyKeys,
            model: { type: 'per_unit', unitPrice: '1' },
          }),
      ),
      'charges[0].dimensionalPrices[0].dimensions: expected 1 to 8 members',
    );
  });

  it.each([
    'NaN',
    'Infinity',
    '-Infinity',
    '1e999999999',
    '0x10',
    ' 1',
    '1 ',
    '+1',
    '.5',
    '1.',
    '-0',
    '01',
    '１', // full-width digit
    '',
    '9'.repeat(100_000),
  ])('refuses the decimal text %j', (text) => {
    expectInvalid(
      withPlan((p) => (p.baseFee = text)),
      'baseFee:',
    );
  });

  it.each([
    ['null', null],
    ['a number', 1],
    ['a string', 'plan'],
    ['an array', []],
    ['a function', () => undefined],
    ['a symbol', Symbol('plan')],
  ])('refuses %s as a plan', (_label, value) => {
    expectInvalid(value, 'invalid Plan: (root):');
  });

  it.each([
    ['boolean price', true],
    ['object price', { toString: () => '1' }],
    ['array price', ['1']],
    ['NaN number', Number.NaN],
    ['Infinity number', Number.POSITIVE_INFINITY],
  ])('refuses a %s', (_label, value) => {
    expectInvalid(
      withPlan((p) => (charge(p, 2).model = { type: 'per_unit', unitPrice: value })),
      'charges[2].model.unitPrice:',
    );
  });

  it('refuses __proto__ as a dimension name, in groupBy and in dimensional prices', () => {
    const json = (groupBy: string, dimensions: string) =>
      JSON.parse(
        `{"id":"p","name":"P","currency":"USD","interval":"month","charges":[{"id":"c","meterId":"m","groupBy":["${groupBy}"],"model":{"type":"per_unit","unitPrice":"1"},"dimensionalPrices":[{"dimensions":{"${dimensions}":"x"},"model":{"type":"per_unit","unitPrice":"2"}}]}]}`,
      );
    expect(() => validatePlan(json('model', 'model'))).not.toThrow();
    expectInvalid(json('__proto__', 'model'), 'charges[0].groupBy[0]: "__proto__" cannot name a dimension');
    // zod drops a __proto__ member, which would leave a dimensional price matching every group.
    expectInvalid(json('model', '__proto__'), 'charges[0].dimensionalPrices[0].dimensions');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('fails only with MT-400 for any value at all', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true }),
        (value) => {
          expectEnablementError(() => validatePlan(value), 'MT-400');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails only with MT-400, or succeeds, when any member of a valid plan is replaced', () => {
    const paths: (string | number)[][] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      if (path.length > 0) paths.push(path);
      if (typeof value === 'object' && value !== null) {
        for (const [key, child] of Object.entries(value))
          walk(child, [...path, Array.isArray(value) ? Number(key) : key]);
      }
    };
    walk(planJson(), []);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.anything({ withBigInt: true }), (path, replacement) => {
        const plan = structuredClone(planJson());
        let target: Record<string | number, unknown> = plan;
        for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
        target[path.at(-1) as string | number] = replacement;
        try {
          validatePlan(plan);
        } catch (error) {
          expect(EnablementError.is(error) && error.code).toBe('MT-400');
        }
      }),
      { numRuns: 400 },
    );
  });
});
