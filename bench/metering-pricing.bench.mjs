// Metering pricing: pricing one charge under each model, building and encoding a 20-line
// invoice, and validating a plan. End-to-end invoice generation for many subscriptions is in
// metering.bench.mjs.

import { Decimal } from '@creto/core';
import {
  buildInvoice,
  decodeInvoice,
  encodeInvoice,
  formatInvoiceTable,
  priceCharge,
  validatePlan,
} from '@creto/metering';

const TIERS = [
  { upTo: '100000', unitPrice: '0', flatFee: '1.00' },
  { upTo: '1000000', unitPrice: '0.000015' },
  { upTo: '10000000', unitPrice: '0.000012' },
  { upTo: null, unitPrice: '0.00001', flatFee: '5.00' },
];

const planJson = {
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '49.00',
  charges: [
    { id: 'per-unit', meterId: 'api_calls', model: { type: 'per_unit', unitPrice: '0.0005' } },
    { id: 'graduated', meterId: 'input_tokens', model: { type: 'graduated', tiers: TIERS } },
    { id: 'volume', meterId: 'output_tokens', model: { type: 'volume', tiers: TIERS } },
    {
      id: 'package',
      meterId: 'egress_gb',
      model: { type: 'package', packageSize: '10', packagePrice: '0.90' },
    },
    {
      id: 'dimensional',
      meterId: 'inference_tokens',
      groupBy: ['model', 'provider'],
      model: { type: 'per_unit', unitPrice: '0.00001' },
      dimensionalPrices: [
        { dimensions: { model: 'claude-3' }, model: { type: 'per_unit', unitPrice: '0.000015' } },
        {
          dimensions: { model: 'gpt', provider: 'azure' },
          model: { type: 'per_unit', unitPrice: '0.00002' },
        },
        { dimensions: { provider: 'local' }, model: { type: 'graduated', tiers: TIERS } },
      ],
    },
  ],
};

const plan = validatePlan(planJson);
const charge = (id) => {
  const found = plan.charges.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no charge ${id}`);
  return found;
};
// 2 345 678 units: graduated crosses three tiers, volume lands in the third.
const quantity = Decimal.parse('2345678');
const usageOf = (chargeId, groups = {}) => ({ chargeId, groups, quantity });

const perUnit = charge('per-unit');
const graduated = charge('graduated');
const volume = charge('volume');
const packaged = charge('package');
const dimensional = charge('dimensional');
const perUnitUsage = usageOf('per-unit');
const graduatedUsage = usageOf('graduated');
const volumeUsage = usageOf('volume');
const packageUsage = usageOf('package');
const dimensionalUsage = usageOf('dimensional', { model: 'llama', provider: 'local' }); // third price matches

// 20 lines: the base fee, 4 ungrouped charges and 15 groups of the dimensional charge.
const models = ['claude-3', 'gpt', 'llama', 'mistral', 'gemini'];
const providers = ['anthropic', 'azure', 'local'];
const usage = [
  usageOf('per-unit'),
  usageOf('graduated'),
  usageOf('volume'),
  usageOf('package'),
  ...models.flatMap((model) => providers.map((provider) => usageOf('dimensional', { model, provider }))),
];
const invoiceInput = {
  invoiceId: 'inv_2025_01_0001',
  subscriptionId: 'sub_0001',
  organizationId: 'org_acme',
  plan,
  periodStart: 1_735_689_600_000_000_000n,
  periodEnd: 1_738_368_000_000_000_000n,
  issuedAt: 1_738_368_000_000_000_000n,
  usage,
};
const invoice = buildInvoice(invoiceInput);
if (invoice.lines.length !== 20) throw new Error(`expected 20 lines, got ${invoice.lines.length}`);
const wireText = JSON.stringify(encodeInvoice(invoice));

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'metering-pricing',
    title: 'Metering pricing and invoices',
    description: `
\`priceCharge\` for one usage group of 2 345 678 units under each charge model, exact (no rounding):
graduated crosses three of four tiers, volume selects the third, the dimensional charge scans three
dimensional prices and prices the match as graduated. Then a 20-line invoice (base fee, four
charges, fifteen groups of a dimensional charge): \`buildInvoice\` (validation, grouping, pricing,
one half-even rounding per line), \`encodeInvoice\` of a built invoice (direct mapping),
\`decodeInvoice\` of its JSON (full zod validation, balance check), \`formatInvoiceTable\`, and
\`validatePlan\` of the five-charge plan from JSON.`,
    cases: [
      { name: 'priceCharge, per_unit', fn: () => priceCharge(perUnit, perUnitUsage) },
      { name: 'priceCharge, graduated (4 tiers)', fn: () => priceCharge(graduated, graduatedUsage) },
      { name: 'priceCharge, volume (4 tiers)', fn: () => priceCharge(volume, volumeUsage) },
      { name: 'priceCharge, package', fn: () => priceCharge(packaged, packageUsage) },
      { name: 'priceCharge, dimensional (3 prices)', fn: () => priceCharge(dimensional, dimensionalUsage) },
      { name: 'buildInvoice, 20 lines', fn: () => buildInvoice(invoiceInput) },
      { name: 'encodeInvoice, 20 lines', fn: () => encodeInvoice(invoice) },
      { name: 'decodeInvoice, 20 lines (from JSON text)', fn: () => decodeInvoice(JSON.parse(wireText)) },
      { name: 'formatInvoiceTable, 20 lines', fn: () => formatInvoiceTable(invoice) },
      { name: 'validatePlan, 5 charges', fn: () => validatePlan(planJson) },
    ],
  },
];
