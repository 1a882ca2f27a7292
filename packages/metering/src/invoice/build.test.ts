import { Decimal } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import type { ChargeUsage, Plan } from '../plans/types.js';
import { validatePlan } from '../pricing/index.js';
import { buildInvoice, type InvoiceInput, MAX_INVOICE_LINES, MAX_INVOICE_USAGE_ENTRIES } from './index.js';

const d = (text: string) => Decimal.parse(text);
const JAN = 1_735_689_600_000_000_000n; // 2025-01-01T00:00:00Z
const FEB = 1_738_368_000_000_000_000n; // 2025-02-01T00:00:00Z

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
      // First 100 000 tokens free, then 0.000015 per token.
      model: {
        type: 'graduated',
        tiers: [
          { upTo: '100000', unitPrice: '0' },
          { upTo: null, unitPrice: '0.000015' },
        ],
      },
      dimensionalPrices: [
        { dimensions: { model: 'claude-3' }, model: { type: 'per_unit', unitPrice: '0.00002' } },
      ],
    },
    {
      id: 'egress',
      meterId: 'egress_gb',
      description: 'Egress (per 10 GB)',
      model: { type: 'package', packageSize: '10', packagePrice: '0.90' },
    },
    {
      id: 'calls',
      meterId: 'api_calls',
      description: 'API calls',
      model: { type: 'per_unit', unitPrice: '0.0005' },
    },
  ],
});

const use = (chargeId: string, quantity: string, groups: Record<string, string> = {}): ChargeUsage => ({
  chargeId,
  groups,
  quantity: d(quantity),
});

function input(overrides: Partial<InvoiceInput> = {}): InvoiceInput {
  return {
    invoiceId: 'inv_2025_01',
    subscriptionId: 'sub_1',
    organizationId: 'org_acme',
    plan,
    periodStart: JAN,
    periodEnd: FEB,
    issuedAt: FEB,
    usage: [],
    ...overrides,
  };
}

const summary = (
  lines: readonly { description: string; quantity: Decimal; unitPrice: Decimal | null; amount: Decimal }[],
) =>
  lines.map((l) => [
    l.description,
    l.quantity.toString(),
    l.unitPrice?.toString() ?? null,
    l.amount.toString(),
  ]);

describe('buildInvoice', () => {
  it('prices a month of usage line by line, hand-computed', () => {
    const invoice = buildInvoice(
      input({
        usage: [
          use('tokens', '1500000', { model: 'gpt' }),
          use('tokens', '20000', { model: 'claude-3' }),
          use('egress', '25.5'),
          use('tokens', '5000', { model: 'claude-3' }), // summed with the other claude-3 entry
        ],
      }),
    );
    expect(summary(invoice.lines)).toEqual([
      ['Base fee: Pro', '1', '49', '49.00'],
      // 25 000 × 0.00002 = 0.50 (dimensional price)
      ['Input tokens (model: claude-3)', '25000', '0.00002', '0.50'],
      // 1 400 000 × 0.000015 = 21.00 (first 100 000 free)
      ['Input tokens (model: gpt)', '1500000', null, '21.00'],
      // ceil(25.5 / 10) = 3 packages × 0.90
      ['Egress (per 10 GB)', '25.5', null, '2.70'],
      // no usage: still listed, at zero
      ['API calls', '0', '0.0005', '0.00'],
    ]);
    expect(invoice.lines.map((l) => l.chargeId)).toEqual([null, 'tokens', 'tokens', 'egress', 'calls']);
    expect(invoice.lines[2]?.tiers?.map((t) => t.quantity.toString())).toEqual(['100000', '1400000']);
    expect(invoice.subtotal.toString()).toBe('73.20');
    expect(invoice.total.toString()).toBe('73.20');
    expect(invoice).toMatchObject({
      invoiceId: 'inv_2025_01',
      subscriptionId: 'sub_1',
      organizationId: 'org_acme',
      planId: 'pro',
      currency: 'USD',
      periodStart: JAN,
      periodEnd: FEB,
      issuedAt: FEB,
      status: 'issued',
    });
  });

  it('orders groups by their values, an absent dimension first, whatever the usage order', () => {
    const usage = [
      use('tokens', '1', { model: 'b' }),
      use('tokens', '1', { model: 'B' }),
      use('tokens', '1'),
      use('tokens', '1', { model: 'a' }),
      use('tokens', '1', { model: '' }),
    ];
    const groups = (u: ChargeUsage[]) =>
      buildInvoice(input({ usage: u }))
        .lines.filter((l) => l.chargeId === 'tokens')
        .map((l) => l.groups.model ?? null);
    expect(groups(usage)).toEqual([null, '', 'B', 'a', 'b']);
    expect(groups([...usage].reverse())).toEqual([null, '', 'B', 'a', 'b']);
  });

  it('rounds each line once, half to even, and sums the rounded lines', () => {
    const tiny = validatePlan({
      id: 'tiny',
      name: 'Tiny',
      currency: 'USD',
      interval: 'day',
      charges: [{ id: 'c', meterId: 'm', groupBy: ['k'], model: { type: 'per_unit', unitPrice: '0.005' } }],
    });
    const invoice = buildInvoice(
      input({
        plan: tiny,
        usage: ['a', 'b', 'c'].map((k) => use('c', '1', { k })).concat(use('c', '3', { k: 'd' })),
      }),
    );
    // 0.005 → 0.00 three times (tie to even), 0.015 → 0.02; the exact sum 0.030 is never rounded.
    expect(invoice.lines.map((l) => l.amount.toString())).toEqual(['0.00', '0.00', '0.00', '0.02']);
    expect(invoice.subtotal.toString()).toBe('0.02');
  });

  it('rounds to 0 minor units for JPY', () => {
    const yen = validatePlan({
      id: 'jp',
      name: 'JP',
      currency: 'JPY',
      interval: 'month',
      baseFee: '1000',
      charges: [
        { id: 'a', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.5' } },
        { id: 'b', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.5' } },
        { id: 'c', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.37' } },
      ],
    });
    const invoice = buildInvoice(input({ plan: yen, usage: [use('a', '3'), use('b', '5'), use('c', '10')] }));
    // 1.5 → 2, 2.5 → 2 (ties to even), 3.7 → 4
    expect(invoice.lines.map((l) => l.amount.toString())).toEqual(['1000', '2', '2', '4']);
    expect(invoice.subtotal.toString()).toBe('1008');
    expect(invoice.subtotal.scale).toBe(0);
  });

  it('rounds to 3 minor units for KWD', () => {
    const kwd = validatePlan({
      id: 'kw',
      name: 'KW',
      currency: 'KWD',
      interval: 'month',
      charges: [
        { id: 'a', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.0125' } },
        { id: 'b', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.0001' } },
        { id: 'c', meterId: 'm', model: { type: 'per_unit', unitPrice: '0.0001' } },
      ],
    });
    const invoice = buildInvoice(
      input({ plan: kwd, usage: [use('a', '100'), use('b', '5'), use('c', '15')] }),
    );
    // 1.25 → 1.250; 0.0005 → 0.000; 0.0015 → 0.002
    expect(invoice.lines.map((l) => l.amount.toString())).toEqual(['1.250', '0.000', '0.002']);
    expect(invoice.subtotal.toString()).toBe('1.252');
  });

  it('has no base fee line when the plan has no fee or a zero fee, and a zero total for an empty plan', () => {
    const free = (baseFee?: string) =>
      validatePlan({
        id: 'f',
        name: 'F',
        currency: 'EUR',
        interval: 'month',
        charges: [],
        ...(baseFee ? { baseFee } : {}),
      });
    expect(buildInvoice(input({ plan: free() })).lines).toEqual([]);
    const zero = buildInvoice(input({ plan: free('0.00') }));
    expect(zero.lines).toEqual([]);
    expect(zero.subtotal.toString()).toBe('0.00');
  });

  it('validates a plan that did not come from validatePlan', () => {
    const raw = {
      id: 'raw',
      name: 'Raw',
      currency: 'USD',
      interval: 'month',
      charges: [{ id: 'c', meterId: 'm', model: { type: 'per_unit', unitPrice: '2' } }],
    } as unknown as Plan;
    expect(buildInvoice(input({ plan: raw, usage: [use('c', '3')] })).total.toString()).toBe('6.00');
    const bad = { ...raw, currency: 'XXX' } as Plan;
    expectEnablementError(() => buildInvoice(input({ plan: bad })), 'MT-400', 'invalid Plan: currency');
  });

  it('returns a deeply frozen invoice', () => {
    const invoice = buildInvoice(input({ usage: [use('tokens', '200000', { model: 'gpt' })] }));
    expect(Object.isFrozen(invoice)).toBe(true);
    expect(Object.isFrozen(invoice.lines)).toBe(true);
    expect(invoice.lines.every((l) => Object.isFrozen(l) && Object.isFrozen(l.groups))).toBe(true);
    expect(Object.isFrozen(invoice.lines[1]?.tiers)).toBe(true);
  });
});

describe('buildInvoice: MT-400 naming the field', () => {
  it.each([
    [
      'usage of an unknown charge',
      { usage: [use('tokens', '1'), use('storage', '1')] },
      'usage[1].chargeId: "storage" is not a charge of plan "pro"',
    ],
    ['a negative quantity', { usage: [use('calls', '-1')] }, 'usage[0].quantity: must not be negative'],
    [
      'a quantity as a number',
      { usage: [{ chargeId: 'calls', groups: {}, quantity: 1 }] },
      'usage[0].quantity: number',
    ],
    [
      'a dimension outside groupBy',
      { usage: [use('tokens', '1', { provider: 'x' })] },
      'usage[0].groups: dimension "provider"',
    ],
    [
      'a grouped dimension on an ungrouped charge',
      { usage: [use('calls', '1', { model: 'x' })] },
      'usage[0].groups:',
    ],
    ['a usage entry that is not an object', { usage: [null] }, 'usage[0]: expected a ChargeUsage object'],
    ['usage that is not an array', { usage: 'lots' }, 'usage: expected an array'],
    ['an empty invoice id', { invoiceId: '' }, 'invoiceId:'],
    ['a subscription id with control characters', { subscriptionId: 'sub\u0007' }, 'subscriptionId:'],
    ['an organization id that is not a string', { organizationId: 42 }, 'organizationId:'],
    ['a period start as a number', { periodStart: 1 }, 'periodStart: expected int64 Unix nanoseconds'],
    ['an issue time beyond int64', { issuedAt: 2n ** 63n }, 'issuedAt:'],
    ['an empty period', { periodEnd: JAN }, 'periodEnd: must be after periodStart'],
  ])('refuses %s', (_label, overrides, message) => {
    expectEnablementError(() => buildInvoice(input(overrides as Partial<InvoiceInput>)), 'MT-400', message);
  });

  it('refuses no input at all', () => {
    expectEnablementError(() => buildInvoice(null as unknown as InvoiceInput), 'MT-400', 'input:');
  });

  it('refuses a summed quantity that leaves the bounds, naming the charge', () => {
    const big = use('calls', '999999999999999999');
    expectEnablementError(
      () => buildInvoice(input({ usage: [big, big] })),
      'MT-400',
      'usage of charge "calls"',
    );
  });

  it('bounds the usage entries and the distinct lines', () => {
    const tooMany = Array.from({ length: MAX_INVOICE_USAGE_ENTRIES + 1 }, () => use('calls', '1'));
    expectEnablementError(
      () => buildInvoice(input({ usage: tooMany })),
      'MT-400',
      `usage: at most ${MAX_INVOICE_USAGE_ENTRIES}`,
    );
    const groups = Array.from({ length: MAX_INVOICE_LINES + 1 }, (_, i) =>
      use('tokens', '1', { model: `m${i}` }),
    );
    expectEnablementError(() => buildInvoice(input({ usage: groups })), 'MT-400', 'distinct charge groups');
  });
});
