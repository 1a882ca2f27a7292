// The layer's distributed backends, in one run: Metering ingestion (`ingest` of pre-signed usage
// events, signature verification off as for a trusted producer) on the memory, PGlite and
// PostgreSQL stores, and bus publish → consume on NATS vs the in-process bus. PostgreSQL rows are
// skipped without CRETO_POSTGRES_URL, NATS rows without a server at CRETO_NATS_URL.

import { createConnection } from 'node:net';
import {
  AgentKeyPair,
  createInProcessEventBus,
  createPlatform,
  Decimal,
  encodeHybridSignature,
  encodeRuntimeUsageEvent,
  newSandboxId,
  newUuid,
  registrationProof,
  systemClock,
  usageEventSigningBytes,
} from '@creto/core';
import { createMemoryMeteringStore, createMetering } from '@creto/metering';
import { createNatsEventBus } from '@creto/nats';
import { createPGliteClient, createPgClient, createPostgresMeteringStore, migrate } from '@creto/postgres';

const NATS_URL = process.env.CRETO_NATS_URL || 'nats://127.0.0.1:4222';
const POSTGRES_URL = process.env.CRETO_POSTGRES_URL;
const RUN = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 8);
const BATCH = 50;
const PAYLOAD = new Uint8Array(512).map((_, i) => (i * 31) & 0xff);
// Resources are opened on first use and released after this long without a call, so the process
// can exit when the harness is done.
const IDLE_CLOSE_MS = 2000;

function reachable(text, defaultPort) {
  const url = new URL(text);
  return new Promise((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || defaultPort) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function lazy(create, dispose) {
  let state;
  let timer;
  return async () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const current = state;
      state = undefined;
      if (current !== undefined) await dispose(await current);
    }, IDLE_CLOSE_MS);
    timer.unref?.();
    state ??= create();
    return state;
  };
}

// One agent, one real hybrid signature reused: with `verifySignatures: false` it is not checked,
// so each event differs only by its ids (what deduplication and storage see).
const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(7), { postQuantum: true });
const template = {
  agentNhi: agent.identity.nhi,
  delegationChain: [],
  eventType: 'inference_call',
  consensusTimestamp: systemClock.now(),
  properties: {
    type: 'InferenceCall',
    sandboxId: newSandboxId(),
    modelId: 'claude-3',
    provider: 'anthropic',
    inputTokens: 100n,
    outputTokens: 200n,
    costUsd: Decimal.parse('0.0033'),
  },
};
const signature = encodeHybridSignature(
  agent.signHybrid(usageEventSigningBytes({ ...template, eventId: newUuid(), idempotencyKey: 'x' })),
);
let seq = 0;
const nextEvent = () =>
  JSON.parse(
    JSON.stringify(
      encodeRuntimeUsageEvent({
        ...template,
        eventId: newUuid(),
        idempotencyKey: `b-${RUN}-${++seq}`,
        signature,
      }),
    ),
  );

async function meteringOn(store) {
  const platform = createPlatform();
  await platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
  const metering = createMetering({
    nhi: platform.nhi,
    consensus: platform.consensus,
    scheduler: platform.scheduler,
    store,
    verifySignatures: false,
  });
  await metering.registerPlan({
    id: 'bench',
    name: 'Bench',
    currency: 'USD',
    interval: 'month',
    baseFee: '0',
    charges: [
      { id: 't', meterId: 'inference_input_tokens', model: { type: 'per_unit', unitPrice: '0.000001' } },
    ],
  });
  await metering.createSubscription({
    organizationId: 'bench',
    planId: 'bench',
    billingContact: 'billing@bench.example',
    agents: [agent.identity.nhi],
  });
  return { metering, platform };
}

async function sqlMetering(client) {
  const schema = `creto_bench_${RUN}_${++seq}`;
  await migrate(client, { schema });
  return { ...(await meteringOn(createPostgresMeteringStore({ client, schema }))), client, schema };
}

const disposeMetering = async ({ metering, platform, client, schema }) => {
  await metering.close();
  platform.dispose?.();
  if (client !== undefined) {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []).catch(() => undefined);
    await client.close();
  }
};

const ingestOne = async (get) => {
  const { metering } = await get();
  const [result] = await metering.ingest([nextEvent()]);
  if (result.status !== 'accepted') throw new Error(`bench: event ${result.status}`);
  return result;
};
const ingestBatch = async (get) => {
  const { metering } = await get();
  return metering.ingest(Array.from({ length: BATCH }, nextEvent));
};

const stores = [
  ['memory', lazy(() => meteringOn(createMemoryMeteringStore()), disposeMetering)],
  ['PGlite (in memory)', lazy(async () => sqlMetering(await createPGliteClient()), disposeMetering)],
];
if (POSTGRES_URL && (await reachable(POSTGRES_URL, 5432))) {
  stores.push([
    'PostgreSQL',
    lazy(() => sqlMetering(createPgClient({ connectionString: POSTGRES_URL })), disposeMetering),
  ]);
} else {
  console.warn('distributed bench: PostgreSQL rows skipped (set CRETO_POSTGRES_URL to a reachable server)');
}

// Bus: a stream with one consumer whose handler acks and wakes the waiter.
async function pipeline(bus, tag) {
  const name = `DIST${tag}${RUN}`;
  const subject = `distbench.${tag}.${RUN}.usage`;
  await bus.addStream({ name, subjects: [subject], retention: 'workqueue' });
  await bus.addConsumer(name, { name: 'worker', maxAckPending: 1000 });
  let acked = 0;
  let waiting;
  await bus.subscribe(name, 'worker', (m) => {
    m.ack();
    acked += 1;
    if (waiting !== undefined && acked >= waiting.target) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve();
    }
  });
  const untilAcked = (target) =>
    acked >= target ? Promise.resolve() : new Promise((resolve) => (waiting = { target, resolve }));
  return { bus, name, subject, acked: () => acked, untilAcked };
}
const disposeBus = async (p) => {
  await p.bus.deleteStream(p.name).catch(() => undefined);
  await p.bus.close();
};
const roundTrip = async (get) => {
  const p = await get();
  const target = p.acked() + 1;
  await p.bus.publish(p.subject, PAYLOAD);
  await p.untilAcked(target);
};
const buses = [
  ['in-process', lazy(() => pipeline(createInProcessEventBus({ clock: systemClock }), 'mem'), disposeBus)],
];
if (await reachable(NATS_URL, 4222)) {
  buses.push([
    'NATS (file)',
    lazy(async () => pipeline(await createNatsEventBus({ servers: NATS_URL }), 'nats'), disposeBus),
  ]);
} else {
  console.warn(`distributed bench: NATS rows skipped (no server at ${NATS_URL}; set CRETO_NATS_URL)`);
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'distributed',
    title: 'Distributed backends: Metering ingestion per store, bus round trip per bus',
    description: `
Metering \`ingest\` of inference usage events that arrive pre-signed (\`verifySignatures: false\`,
the trusted-producer setting, so the numbers are the store's: deduplication key, event row,
per-period and per-minute aggregates in one transaction), on the in-memory store, PGlite in memory
and PostgreSQL at \`CRETO_POSTGRES_URL\` (loopback in the reference run); one event per call, and a
batch of ${BATCH} (divide by ${BATCH}). Bus: one 512-byte publish, delivered to a durable consumer and
acked, awaited before the next, on the in-process bus and on NATS JetStream (file storage) at
\`CRETO_NATS_URL\`. Rows whose server is not configured are skipped.`,
    baseline: 'memory',
    cases: [
      ...stores.map(([variant, get]) => ({ name: 'ingest 1 event', variant, fn: () => ingestOne(get) })),
      ...stores.map(([variant, get]) => ({
        name: `ingest ${BATCH} events`,
        variant,
        fn: () => ingestBatch(get),
      })),
      ...buses.map(([variant, get]) => ({
        name: 'bus: publish → deliver → ack',
        variant,
        fn: () => roundTrip(get),
      })),
    ],
  },
];
