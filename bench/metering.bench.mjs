// Metering engine: usage events ingested per second (trusted producer, ML-DSA-65-signed,
// hybrid-signed), the synchronous quota check, and invoice generation for 10 000 subscriptions.
//
// Every fixture is built lazily on a case's first call (inside the harness warm-up), because
// run.mjs imports every bench file even when it runs only one suite.

import {
  AgentKeyPair,
  createNhiRegistry,
  nobleCryptoProvider as crypto,
  Decimal,
  encodeHybridSignature,
  encodeRuntimeUsageEvent,
  KEY_DERIVATION_LABELS,
  newSandboxId,
  newUuid,
  registrationProof,
  usageEventSigningBytes,
  utf8ToBytes,
} from '@creto/core';
import { createMemoryMeteringStore, createMetering } from '@creto/metering';

const JAN_1 = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
const FEB_1 = JAN_1 + 31n * 86_400_000_000_000n;

/** A clock that moves only when told; nothing in these paths needs a timer to fire. */
function manualClock(start = JAN_1) {
  let now = start;
  return {
    now: () => now,
    set: (ns) => {
      now = ns;
    },
    schedule: () => () => {},
  };
}

const PLAN = {
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '10.00',
  charges: [
    { id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '0.50' } },
    {
      id: 'tokens',
      meterId: 'inference_input_tokens',
      groupBy: ['model'],
      model: {
        type: 'graduated',
        tiers: [
          { upTo: '100000', unitPrice: '0.000015' },
          { upTo: null, unitPrice: '0.00001' },
        ],
      },
    },
  ],
};

const SEED = new Uint8Array(32).fill(42);
let agentPair;
const agent = () => {
  agentPair ??= AgentKeyPair.fromSeed(SEED, { postQuantum: true });
  return agentPair;
};

/** The wire JSON of an inference event, as it arrives from the bus (signature filled in later). */
function unsignedInference(key) {
  return {
    eventId: newUuid(),
    agentNhi: agent().identity.nhi,
    delegationChain: [],
    eventType: 'inference_call',
    consensusTimestamp: JAN_1,
    idempotencyKey: key,
    properties: {
      type: 'InferenceCall',
      sandboxId: newSandboxId(),
      modelId: 'claude-3',
      provider: 'anthropic',
      inputTokens: 1234n,
      outputTokens: 567n,
      costUsd: Decimal.parse('0.018510'),
    },
  };
}

const toWire = (event) => JSON.parse(JSON.stringify(encodeRuntimeUsageEvent(event)));

async function engine(options = {}) {
  const clock = manualClock();
  const nhi = createNhiRegistry({ clock });
  await nhi.register({ identity: agent().identity, proof: registrationProof(agent()) });
  const metering = createMetering({ nhi, clock, ...options });
  await metering.registerPlan(PLAN);
  const sub = await metering.createSubscription({
    organizationId: 'acme',
    planId: 'pro',
    billingContact: 'billing@acme.example',
    agents: [agent().identity.nhi],
  });
  return { clock, metering, sub };
}

// --- Ingestion ------------------------------------------------------------------------------

/**
 * A stream of distinct signed events for one scheme: a pool signed once, cycled through fresh
 * engines (a pool replayed into the same engine would only measure the duplicate path). The
 * engine swap happens once per pool and is amortized over it.
 */
function signedStream(sign, poolSize = 128) {
  let pool;
  let env;
  let next = 0;
  return async () => {
    pool ??= Array.from({ length: poolSize }, (_, i) => {
      const unsigned = unsignedInference(`signed-${i}`);
      return toWire({ ...unsigned, signature: sign(usageEventSigningBytes(unsigned)) });
    });
    if (env === undefined || next === pool.length) {
      env = await engine();
      next = 0;
    }
    const [result] = await env.metering.ingest([pool[next++]]);
    return result;
  };
}

const hybridSign = (bytes) => encodeHybridSignature(agent().signHybrid(bytes));
let mlDsaSecret;
const mlDsaSign = (bytes) => {
  mlDsaSecret ??= crypto.mlDsa65.generateKeyPair(
    crypto.hkdfSha256(SEED, new Uint8Array(0), utf8ToBytes(KEY_DERIVATION_LABELS.mlDsa65), 32),
  ).secretKey;
  return crypto.mlDsa65.sign(mlDsaSecret, bytes);
};

let trusted;
let trustedSeq = 0;
let trustedTemplate;
async function ingestTrusted() {
  trusted ??= await engine({
    verifySignatures: false,
    store: createMemoryMeteringStore({ maxEvents: 1000 }),
  });
  trustedTemplate ??= toWire({ ...unsignedInference('t'), signature: new Uint8Array(3373) });
  trustedSeq += 1;
  const [result] = await trusted.metering.ingest([
    { ...trustedTemplate, idempotency_key: `trusted-${trustedSeq}` },
  ]);
  return result;
}

// --- Quota checks ---------------------------------------------------------------------------

// Built at module load (cheap: no post-quantum key), so the measured calls stay synchronous: a
// case whose first call returned a promise would be awaited on every call.
const quotaClock = manualClock();
const quotaAgent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(43)).identity.nhi;
const quotaMetering = createMetering({ nhi: createNhiRegistry({ clock: quotaClock }), clock: quotaClock });
await quotaMetering.registerPlan(PLAN);
const quotaSub = await quotaMetering.createSubscription({
  organizationId: 'acme',
  planId: 'pro',
  billingContact: 'billing@acme.example',
  agents: [quotaAgent],
});
await quotaMetering.setQuota({
  subscriptionId: quotaSub.id,
  meterId: 'sandbox_allocations',
  limit: '100',
  overflow: 'block',
});
await quotaMetering.setQuota({
  subscriptionId: quotaSub.id,
  agentNhi: quotaAgent,
  meterId: 'sandbox_allocations',
  limit: '50',
  overflow: 'allow_with_notification',
});
const ONE = Decimal.from(1n);

// --- Invoices -------------------------------------------------------------------------------

const SUBSCRIPTIONS = 10_000;
/** The invoice fixture's plan, on host-side meters (usage recorded with `recordUsage`). */
const HOST_PLAN = {
  ...PLAN,
  id: 'host',
  charges: [
    { id: 'jobs', meterId: 'jobs', model: { type: 'per_unit', unitPrice: '0.50' } },
    { ...PLAN.charges[1], meterId: 'tokens' },
  ],
};
let invoiceEnv;
async function invoiceEngine() {
  if (invoiceEnv !== undefined) return invoiceEnv;
  const clock = manualClock();
  const base = createMemoryMeteringStore();
  // Invoice writes are discarded so that every run generates the same 10 000 invoices again.
  const store = {
    ...base,
    async getInvoice() {
      return undefined;
    },
    async putInvoice(_subscriptionId, _periodStart, invoice) {
      return { invoice, created: true };
    },
    async updateSubscription() {},
    async closePeriod() {},
  };
  const metering = createMetering({
    nhi: createNhiRegistry({ clock }),
    clock,
    store,
    meters: [
      { id: 'jobs', eventType: 'job', aggregation: 'count' },
      {
        id: 'tokens',
        eventType: 'tokens',
        aggregation: 'sum',
        valuePath: 'value',
        groupBy: { model: 'properties.model' },
      },
    ],
  });
  await metering.registerPlan(HOST_PLAN);
  const record = async (input) => {
    const result = await metering.recordUsage(input);
    if (result.status !== 'accepted') throw new Error(`fixture usage refused: ${result.error?.message}`);
  };
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const sub = await metering.createSubscription({
      organizationId: `org-${i}`,
      planId: 'host',
      billingContact: `billing-${i}@example.com`,
    });
    await record({ subscriptionId: sub.id, eventType: 'job', idempotencyKey: 'job' });
    for (const [model, tokens] of [
      ['claude-3', '120000'],
      ['gpt-4', '3000'],
    ]) {
      await record({
        subscriptionId: sub.id,
        eventType: 'tokens',
        value: tokens,
        properties: { model },
        idempotencyKey: model,
      });
    }
  }
  clock.set(FEB_1 + 3_600_000_000_000n);
  invoiceEnv = metering;
  return metering;
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'metering-ingest',
    title: 'Metering: usage events ingested',
    description: `
One \`RuntimeUsageEvent\` (wire JSON, as the bus delivers it) through \`Metering.ingest\` on the
in-memory store, the whole spec §4.1 path: decode, verify the signature against the agent's NHI,
deduplicate, stamp consensus time, attribute, store and aggregate (10 default meters read the
event's type: 5 of them), update quotas. Ops/s is events per second on one core. *Trusted
producer* skips verification (\`verifySignatures: false\`, for an in-process producer only; the
default verifies). An Ed25519-only signature is not offered: the spec types the field ML-DSA-65,
and the codec rejects 64-byte signatures.`,
    cases: [
      { name: 'ingest one event', variant: 'trusted producer (no verification)', fn: ingestTrusted },
      { name: 'ingest one event', variant: 'ML-DSA-65 signed', fn: signedStream(mlDsaSign) },
      {
        name: 'ingest one event',
        variant: 'hybrid signed (Ed25519 ‖ ML-DSA-65)',
        fn: signedStream(hybridSign),
      },
    ],
  },
  {
    id: 'metering-quota',
    title: 'Metering: quota checks',
    description: `
\`checkQuotaSync(agent, eventType, amount)\` with two quotas on the agent's event type (a
subscription-wide \`block\` and an agent \`allow_with_notification\`): a few map lookups and
comparisons of numbers precomputed at ingestion, no promise and no allocation on the allow path.
The block path builds its \`MT-429\` error (with \`retryAfterMs\`); the async \`checkQuota\` port adds
a span and a promise.`,
    cases: [
      {
        name: 'checkQuotaSync, allow',
        fn: () => quotaMetering.checkQuotaSync(quotaAgent, 'sandbox_allocated', 1),
      },
      {
        name: 'checkQuotaSync, no quota for the event type',
        fn: () => quotaMetering.checkQuotaSync(quotaAgent, 'network_egress', 1),
      },
      {
        name: 'checkQuotaSync, block (builds MT-429)',
        fn: () => quotaMetering.checkQuotaSync(quotaAgent, 'sandbox_allocated', 1000),
      },
      {
        name: 'checkQuota (async port), allow',
        fn: () =>
          quotaMetering.checkQuota({ agent: quotaAgent, eventType: 'sandbox_allocated', amount: ONE }),
      },
    ],
  },
  {
    id: 'metering-invoices',
    title: 'Metering: invoice generation for 10 000 subscriptions',
    description: `
\`generateInvoices(periodEnd)\` for 10 000 monthly subscriptions with three usage groups each (a
per-unit charge and a graduated charge split by model, plus a base fee): per subscription, the
period's aggregates are read, priced by \`buildInvoice\` (exact decimals, one rounding per line) and
the invoice stored and counted. Invoice writes are discarded by a store wrapper so the run can
repeat; building the fixture (10 000 subscriptions, 30 000 usage events) is not timed.`,
    options: { warmupMs: 0, minSamples: 3, maxTimeMs: 0 },
    cases: [
      {
        name: 'generateInvoices, 10 000 subscriptions',
        fn: async () => {
          const metering = await invoiceEngine();
          const { invoices, failed } = await metering.generateInvoices(FEB_1);
          if (invoices.length !== SUBSCRIPTIONS || failed.length > 0) throw new Error('invoice run failed');
          return invoices.length;
        },
      },
    ],
  },
];
