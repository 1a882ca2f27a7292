import { CURRENCIES, type CurrencyCode, Decimal } from '@creto/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChargeUsage, Plan } from '../plans/types.js';
import { priceCharge, validatePlan } from '../pricing/index.js';
import { buildInvoice, decodeInvoice, encodeInvoice, type Invoice } from './index.js';

const CODES: CurrencyCode[] = ['USD', 'JPY', 'KWD', 'EUR', 'CLF']; // 2, 0, 3, 2, 4 minor units
const MODELS = ['a', 'b', 'c'];

const priceArb = fc
  .bigInt({ min: 0n, max: 10n ** 9n })
  .chain((c) => fc.integer({ min: 0, max: 9 }).map((s) => Decimal.fromParts(c, s).toString()));
const quantityArb = fc
  .bigInt({ min: 0n, max: 10n ** 10n })
  .chain((c) => fc.integer({ min: 0, max: 6 }).map((s) => Decimal.fromParts(c, s)));

const tiersArb = fc
  .tuple(
    fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { maxLength: 4 }),
    fc.array(fc.tuple(priceArb, fc.option(priceArb)), { minLength: 5, maxLength: 5 }),
  )
  .map(([bounds, prices]) =>
    [...[...bounds].sort((x, y) => x - y), null].map((upTo, i) => {
      const [unitPrice, flatFee] = prices[i] ?? ['0', null];
      return {
        upTo: upTo === null ? null : String(upTo),
        unitPrice,
        ...(flatFee === null ? {} : { flatFee }),
      };
    }),
  );

const modelArb = fc.oneof(
  priceArb.map((unitPrice) => ({ type: 'per_unit', unitPrice })),
  tiersArb.map((tiers) => ({ type: 'graduated', tiers })),
  tiersArb.map((tiers) => ({ type: 'volume', tiers })),
  fc
    .tuple(
      quantityArb.filter((q) => !q.isZero()),
      priceArb,
    )
    .map(([size, packagePrice]) => ({
      type: 'package',
      packageSize: size.toString(),
      packagePrice,
    })),
);

const planArb: fc.Arbitrary<Plan> = fc
  .record({
    currency: fc.constantFrom(...CODES),
    baseFee: fc.option(priceArb),
    charges: fc.array(fc.tuple(modelArb, fc.boolean(), fc.option(modelArb)), { minLength: 1, maxLength: 4 }),
  })
  .map(({ currency, baseFee, charges }) =>
    validatePlan({
      id: 'plan',
      name: 'Plan',
      currency,
      interval: 'month',
      ...(baseFee === null ? {} : { baseFee }),
      charges: charges.map(([model, grouped, special], i) => ({
        id: `c${i}`,
        meterId: `m${i}`,
        model,
        ...(grouped ? { groupBy: ['model'] } : {}),
        ...(grouped && special !== null
          ? { dimensionalPrices: [{ dimensions: { model: 'a' }, model: special }] }
          : {}),
      })),
    }),
  );

const caseArb = planArb.chain((plan) =>
  fc.tuple(
    fc.constant(plan),
    fc.array(
      fc
        .tuple(
          fc.integer({ min: 0, max: plan.charges.length - 1 }),
          fc.option(fc.constantFrom(...MODELS)),
          quantityArb,
        )
        .map(([index, model, quantity]): ChargeUsage => {
          const charge = plan.charges[index];
          const grouped = charge?.groupBy !== undefined && model !== null;
          return { chargeId: charge?.id ?? 'c0', groups: grouped ? { model } : {}, quantity };
        }),
      { maxLength: 12 },
    ),
  ),
);

function build(plan: Plan, usage: readonly ChargeUsage[]): Invoice {
  return buildInvoice({
    invoiceId: 'inv',
    subscriptionId: 'sub',
    organizationId: 'org',
    plan,
    periodStart: 0n,
    periodEnd: 86_400_000_000_000n,
    issuedAt: 86_400_000_000_000n,
    usage,
  });
}

describe('invoice properties', () => {
  it('balances: the subtotal is the exact sum of the lines, every amount has the minor-unit digits', () => {
    fc.assert(
      fc.property(caseArb, ([plan, usage]) => {
        const invoice = build(plan, usage);
        const { minorUnits } = CURRENCIES[plan.currency as CurrencyCode];
        let sum = 0n;
        for (const line of invoice.lines) {
          expect(line.amount.scale).toBe(minorUnits);
          sum += line.amount.coefficient;
        }
        expect(invoice.subtotal.scale).toBe(minorUnits);
        expect(invoice.subtotal.coefficient).toBe(sum);
        expect(invoice.total).toEqual(invoice.subtotal);
      }),
      { numRuns: 150 },
    );
  });

  it('rounds each line once: within half a minor unit of the exact price, ties to even', () => {
    fc.assert(
      fc.property(caseArb, ([plan, usage]) => {
        const invoice = build(plan, usage);
        const { minorUnits } = CURRENCIES[plan.currency as CurrencyCode];
        for (const line of invoice.lines) {
          if (line.chargeId === null) continue;
          const charge = plan.charges.find((c) => c.id === line.chargeId);
          if (charge === undefined) throw new Error('unknown charge on a line');
          const exact = priceCharge(charge, {
            chargeId: charge.id,
            groups: line.groups,
            quantity: line.quantity,
          }).amount;
          // |amount - exact| * 2 <= 10^-minorUnits, with equality only when amount is even.
          const twiceError = line.amount.sub(exact).abs().mul(2n);
          const unit = Decimal.fromParts(1n, minorUnits);
          expect(twiceError.lte(unit)).toBe(true);
          if (twiceError.eq(unit)) expect(line.amount.coefficient % 2n).toBe(0n);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('has one line per charge and group, the base fee first and charges in plan order', () => {
    fc.assert(
      fc.property(caseArb, ([plan, usage]) => {
        const invoice = build(plan, usage);
        const lines = [...invoice.lines];
        if (plan.baseFee !== undefined && !plan.baseFee.isZero()) expect(lines.shift()?.chargeId).toBeNull();
        const order = lines.map((l) => plan.charges.findIndex((c) => c.id === l.chargeId));
        expect(order).toEqual([...order].sort((x, y) => x - y));
        for (const charge of plan.charges) {
          const expected = new Set(
            usage.filter((u) => u.chargeId === charge.id).map((u) => u.groups.model ?? null),
          );
          const got = lines.filter((l) => l.chargeId === charge.id).map((l) => l.groups.model ?? null);
          expect(new Set(got).size).toBe(got.length);
          expect(new Set(got)).toEqual(expected.size === 0 ? new Set([null]) : expected);
        }
        // Usage order does not matter.
        expect(build(plan, [...usage].reverse())).toEqual(invoice);
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips through the wire codec and JSON text', () => {
    fc.assert(
      fc.property(caseArb, ([plan, usage]) => {
        const invoice = build(plan, usage);
        const text = JSON.stringify(encodeInvoice(invoice));
        // The direct mapping of trusted invoices and the checked codec path agree.
        expect(JSON.stringify(encodeInvoice({ ...invoice }))).toBe(text);
        const decoded = decodeInvoice(JSON.parse(text));
        expect(decoded).toEqual(invoice);
        expect(JSON.stringify(encodeInvoice(decoded))).toBe(text);
      }),
      { numRuns: 150 },
    );
  });
});
