// Inference proxy: what the router adds around a provider call (validation, routing, the price
// check, the metric, the span, the retry wrapper, the deadline timer, exact pricing), and the
// price-table lookups and exact cost arithmetic on their own.

import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  DETERMINISTIC_PRICE_ENTRIES,
} from '@creto/runtime';

const signal = new AbortController().signal;

const request = {
  model: 'deterministic-chat',
  messages: [
    { role: 'system', content: 'You are a concise assistant for a billing agent.' },
    { role: 'user', content: 'Summarise the last invoice in one sentence, please.' },
  ],
  maxTokens: 128,
};

// A provider that answers at once with a fixed completion: with it, the router's own cost is
// what remains after subtracting the direct call.
const constant = {
  name: 'constant',
  models: ['constant-*'],
  complete: async (req) => ({
    provider: 'constant',
    model: req.model,
    content: 'ok',
    inputTokens: 1234n,
    outputTokens: 56n,
    finishReason: 'stop',
  }),
};
const constantRequest = { ...request, model: 'constant-1' };

const deterministic = createDeterministicProvider();
const prices = createPriceTable([
  ...DETERMINISTIC_PRICE_ENTRIES,
  { provider: 'constant', model: 'constant-*', inputPerMillion: '3', outputPerMillion: '15' },
]);
const router = createInferenceRouter({ providers: [deterministic, constant], prices });

// A larger table: 200 providers' worth of exact ids and prefixes, the shape of a gateway's list.
const bigEntries = [];
for (let i = 0; i < 200; i++) {
  bigEntries.push({
    provider: 'gw',
    model: `family-${i}-*`,
    inputPerMillion: '0.15',
    outputPerMillion: '0.60',
  });
  bigEntries.push({
    provider: 'gw',
    model: `model-${i}`,
    inputPerMillion: '2.50',
    outputPerMillion: '10.00',
  });
}
bigEntries.push({ provider: '*', model: '*', inputPerMillion: '1', outputPerMillion: '1' });
const bigTable = createPriceTable(bigEntries);

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'runtime-inference',
    title: 'Inference proxy: router overhead and price table',
    baseline: 'direct',
    description: `
\`router.complete\` against two local providers, each also called directly (the baseline of its
pair): a *constant* provider that resolves a fixed completion at once, so the difference is the
router's own cost (request validation with zod, routing, the up-front price check, the
\`runtime_inference_requests_total\` counter and the \`runtime.inference\` span, both no-ops without
an OpenTelemetry SDK, the \`retry\` wrapper, one deadline timer on the system clock, the
completion check and the exact cost); and the *deterministic* provider (it validates the request,
hashes the RFC 8785 form of the conversation with SHA-256 and builds a reply). Then the price
table alone: lookups in a 401-entry table (exact id, longest prefix, catch-all) and the exact
cost of a call.`,
    cases: [
      {
        name: 'constant provider',
        variant: 'direct',
        fn: () => constant.complete(constantRequest, { signal }),
      },
      { name: 'constant provider', variant: 'router', fn: () => router.complete(constantRequest) },
      {
        name: 'deterministic provider',
        variant: 'direct',
        fn: () => deterministic.complete(request, { signal }),
      },
      { name: 'deterministic provider', variant: 'router', fn: () => router.complete(request) },
      { name: 'router.route (prefix)', fn: () => router.route('deterministic-chat') },
      { name: 'price lookup, exact id (401 entries)', fn: () => bigTable.price('gw', 'model-150') },
      {
        name: 'price lookup, longest prefix (401 entries)',
        fn: () => bigTable.price('gw', 'family-150-mini'),
      },
      { name: 'price lookup, catch-all (401 entries)', fn: () => bigTable.price('other', 'unknown-model') },
      { name: 'cost (exact decimal)', fn: () => prices.cost('constant', 'constant-1', 123_456n, 7_890n) },
    ],
  },
];
