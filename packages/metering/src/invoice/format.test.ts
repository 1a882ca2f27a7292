import { Decimal } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { validatePlan } from '../pricing/index.js';
import { buildInvoice, formatInvoiceTable } from './index.js';

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
        type: 'graduated',
        tiers: [
          { upTo: '100000', unitPrice: '0', flatFee: '1' },
          { upTo: null, unitPrice: '0.000015' },
        ],
      },
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

const invoice = buildInvoice({
  invoiceId: 'inv_2025_01',
  subscriptionId: 'sub_1',
  organizationId: 'org_acme',
  plan,
  periodStart: 1_735_689_600_000_000_000n,
  periodEnd: 1_738_368_000_000_000_000n,
  issuedAt: 1_738_368_000_000_000_000n,
  usage: [
    { chargeId: 'tokens', groups: { model: 'gpt' }, quantity: Decimal.parse('1500000') },
    { chargeId: 'egress', groups: {}, quantity: Decimal.parse('25.5') },
  ],
});

describe('formatInvoiceTable', () => {
  it('renders an aligned plain-text table with tiers, subtotal and total', () => {
    expect(formatInvoiceTable(invoice).split('\n')).toEqual([
      'Invoice inv_2025_01',
      'Plan pro · subscription sub_1 · organization org_acme',
      'Period 2025-01-01T00:00:00.000000Z to 2025-02-01T00:00:00.000000Z · issued 2025-02-01T00:00:00.000000Z',
      'Currency USD',
      '',
      'Description                      Quantity  Unit price  Amount',
      '-------------------------------  --------  ----------  ------',
      'Base fee: Pro                           1       49.00   49.00',
      'Input tokens (model: gpt)         1500000      tiered   22.00',
      '  tier up to 100000 + flat 1.00    100000        0.00',
      '  tier above 100000               1400000    0.000015',
      'Egress (per 10 GB)                   25.5           -    2.70',
      'API calls                               0      0.0005    0.00',
      '                                                       ------',
      '                                             Subtotal   73.70',
      '                                          Total (USD)   73.70',
      '',
    ]);
  });

  it('shows amounts with the currency digits, and clips long descriptions', () => {
    const yen = validatePlan({
      id: 'jp',
      name: 'JP',
      currency: 'JPY',
      interval: 'month',
      charges: [
        {
          id: 'c',
          meterId: 'm',
          description: 'x'.repeat(100),
          model: { type: 'per_unit', unitPrice: '1.5' },
        },
      ],
    });
    const table = formatInvoiceTable(
      buildInvoice({
        invoiceId: 'i',
        subscriptionId: 's',
        organizationId: 'o',
        plan: yen,
        periodStart: 0n,
        periodEnd: 1n,
        issuedAt: 1n,
        usage: [{ chargeId: 'c', groups: {}, quantity: Decimal.parse('3') }],
      }),
    );
    const lines = table.split('\n');
    expect(lines[7]).toBe(`${'x'.repeat(59)}…         3         1.5       4`);
    expect(lines.at(-2)).toMatch(/Total \(JPY\)\s+4$/);
    // Every table row has the same width up to the amount column.
    const rows = lines.slice(5, 8);
    expect(new Set(rows.map((row) => row.length)).size).toBe(1);
  });
});
