import { Decimal } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validatePlan } from '../pricing/index.js';
import { buildInvoice, decodeInvoice, encodeInvoice, type Invoice, type InvoiceWire } from './index.js';

const plan = validatePlan({
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '49',
  charges: [
    {
      id: 'tokens',
      meterId: 'input_tokens',
      description: 'Input tokens',
      groupBy: ['model'],
      model: {
        type: 'volume',
        tiers: [
          { upTo: '1000', unitPrice: '0.01' },
          { upTo: null, unitPrice: '0.005', flatFee: '2' },
        ],
      },
    },
    { id: 'calls', meterId: 'api_calls', model: { type: 'per_unit', unitPrice: '0.0005' } },
  ],
});

const invoice = buildInvoice({
  invoiceId: 'inv_1',
  subscriptionId: 'sub_1',
  organizationId: 'org_1',
  plan,
  periodStart: 1_735_689_600_000_000_000n,
  periodEnd: 1_738_368_000_000_000_000n,
  issuedAt: 1_738_368_000_123_456_789n,
  usage: [{ chargeId: 'tokens', groups: { model: 'claude-3' }, quantity: Decimal.parse('2600') }],
});

const wire = (): InvoiceWire => JSON.parse(JSON.stringify(encodeInvoice(invoice)));

describe('encodeInvoice', () => {
  it('writes snake_case JSON with money as decimal strings and Unix ns as int64 strings', () => {
    expect(encodeInvoice(invoice)).toEqual({
      invoice_id: 'inv_1',
      subscription_id: 'sub_1',
      organization_id: 'org_1',
      plan_id: 'pro',
      currency: 'USD',
      period_start: '1735689600000000000',
      period_end: '1738368000000000000',
      issued_at: '1738368000123456789',
      lines: [
        {
          charge_id: null,
          description: 'Base fee: Pro',
          groups: {},
          quantity: '1',
          unit_price: '49',
          amount: '49.00',
        },
        {
          charge_id: 'tokens',
          description: 'Input tokens (model: claude-3)',
          groups: { model: 'claude-3' },
          quantity: '2600',
          unit_price: null,
          amount: '15.00',
          tiers: [{ up_to: null, quantity: '2600', unit_price: '0.005', flat_fee: '2', amount: '15.000' }],
        },
        {
          charge_id: 'calls',
          description: 'calls',
          groups: {},
          quantity: '0',
          unit_price: '0.0005',
          amount: '0.00',
        },
      ],
      subtotal: '64.00',
      total: '64.00',
      status: 'issued',
    });
  });

  it('carries signed lines appended by the engine (late-usage adjustments, credits) when they balance', () => {
    const credit = {
      chargeId: 'tokens',
      description: 'Adjustment (late usage): Input tokens',
      groups: { model: 'claude-3' },
      quantity: Decimal.parse('-100'),
      unitPrice: null,
      amount: Decimal.parse('-70.00'),
    };
    const adjusted: Invoice = {
      ...invoice,
      lines: [...invoice.lines, credit],
      subtotal: Decimal.parse('-6.00'),
      total: Decimal.parse('-6.00'),
    };
    const json = encodeInvoice(adjusted);
    expect(json.lines.at(-1)).toMatchObject({ quantity: '-100', amount: '-70.00', unit_price: null });
    expect(json.total).toBe('-6.00');
    expect(decodeInvoice(JSON.parse(JSON.stringify(json)))).toEqual(adjusted);
  });

  it('refuses what is not an invoice with MT-400', () => {
    expectEnablementError(() => encodeInvoice(null as unknown as Invoice), 'MT-400', 'cannot encode Invoice');
    expectEnablementError(
      () => encodeInvoice({ ...invoice, subtotal: Decimal.parse('1.00') }),
      'MT-400',
      'subtotal: must be the sum of the line amounts',
    );
    expectEnablementError(
      () => encodeInvoice({ ...invoice, periodStart: 1 as unknown as bigint }),
      'MT-400',
      'periodStart',
    );
  });
});

describe('decodeInvoice', () => {
  it('round-trips through JSON text to an equal, frozen invoice', () => {
    const decoded = decodeInvoice(wire());
    expect(decoded).toEqual(invoice);
    expect(encodeInvoice(decoded)).toEqual(encodeInvoice(invoice));
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(Object.isFrozen(decoded.lines[1]?.tiers?.[0])).toBe(true);
  });

  type Tamper = (w: InvoiceWire & Record<string, unknown>) => void;
  const line = (w: InvoiceWire, i: number) => w.lines[i] as unknown as Record<string, unknown>;

  it.each<[string, Tamper, string]>([
    [
      'a changed subtotal',
      (w) => (w.subtotal = '63.99'),
      'subtotal: must be the sum of the line amounts (64.00)',
    ],
    ['a changed line amount', (w) => (line(w, 0).amount = '48.00'), 'subtotal: must be the sum'],
    ['a dropped line', (w) => w.lines.splice(1, 1), 'subtotal: must be the sum'],
    ['a total other than the subtotal', (w) => (w.total = '0.00'), 'total: must equal subtotal'],
    [
      'an amount with extra digits',
      (w) => (line(w, 0).amount = '49.000'),
      'lines[0].amount: must have exactly 2 fraction digits',
    ],
    ['an amount as a number', (w) => (line(w, 0).amount = 49), 'lines[0].amount:'],
    ['an amount in exponent form', (w) => (line(w, 0).amount = '4.9e1'), 'lines[0].amount:'],
    ['an unknown currency', (w) => (w.currency = 'XBT'), 'currency: unknown currency'],
    [
      'a period that ends before it starts',
      (w) => (w.period_end = '1'),
      'period_end: must be after period_start',
    ],
    ['a timestamp as a number', (w) => (w.issued_at = 1 as unknown as string), 'issued_at:'],
    ['a timestamp beyond int64', (w) => (w.issued_at = '9223372036854775808'), 'issued_at:'],
    ['another status', (w) => (w.status = 'draft' as 'issued'), 'status:'],
    ['an unknown member', (w) => (w.tax = '1.00'), 'tax'],
    ['a camelCase member', (w) => (line(w, 0).chargeId = null), 'chargeId'],
    ['a negative unit price', (w) => (line(w, 2).unit_price = '-0.0005'), 'lines[2].unit_price:'],
    [
      'a negative tier quantity',
      (w) =>
        ((line(w, 1).tiers as Record<string, unknown>[])[0] = {
          up_to: null,
          quantity: '-1',
          unit_price: '0',
          flat_fee: '0',
          amount: '0',
        }),
      'lines[1].tiers[0].quantity:',
    ],
    ['a charge id with spaces', (w) => (line(w, 1).charge_id = 'input tokens'), 'lines[1].charge_id:'],
    [
      'a description with control characters',
      (w) => (line(w, 0).description = 'a\u0000b'),
      'lines[0].description:',
    ],
    ['a __proto__ group', (w) => (line(w, 0).groups = JSON.parse('{"__proto__":"x"}')), 'lines[0].groups:'],
    [
      'too many groups',
      (w) => (line(w, 0).groups = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v']))),
      'lines[0].groups:',
    ],
    [
      'a million lines',
      (w) => (w.lines = Array.from({ length: 1_000_000 }, () => w.lines[0] as InvoiceWire['lines'][number])),
      'lines:',
    ],
  ])('refuses %s', (_label, tamper, message) => {
    const w = wire() as InvoiceWire & Record<string, unknown>;
    tamper(w);
    expectEnablementError(() => decodeInvoice(w), 'MT-400', message);
  });

  it('fails only with MT-400 for any value at all', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withNullPrototype: true }), (value) => {
        expectEnablementError(() => decodeInvoice(value), 'MT-400', 'invalid Invoice');
      }),
      { numRuns: 300 },
    );
  });

  it('fails only with MT-400, or decodes, when any member of a valid wire invoice is replaced', () => {
    const paths: (string | number)[][] = [];
    const walk = (value: unknown, path: (string | number)[]) => {
      if (path.length > 0) paths.push(path);
      if (typeof value === 'object' && value !== null) {
        for (const [key, child] of Object.entries(value))
          walk(child, [...path, Array.isArray(value) ? Number(key) : key]);
      }
    };
    walk(wire(), []);
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.anything({ withBigInt: true }), (path, replacement) => {
        const w = wire() as unknown as Record<string | number, unknown>;
        let target = w;
        for (const key of path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
        target[path.at(-1) as string | number] = replacement;
        try {
          decodeInvoice(w);
        } catch (error) {
          expect((error as { code?: unknown }).code).toBe('MT-400');
        }
      }),
      { numRuns: 400 },
    );
  });
});
