// Audit log hot paths against the spec §3.3 SLAs: event append < 5 ms (p99), Merkle proof
// generation < 10 ms, event query < 50 ms (p99).
//
// Fixtures are built lazily, on the first call of the first case that needs them (the harness's
// untimed calibration call), because run.mjs imports every bench file even for a filtered run:
// a 1,000,000-leaf tree must not be built when someone benchmarks crypto.
//
// The `audit-durable` suite reopens a 10,000-leaf store with `openAuditLog` (with and without a
// checkpoint covering it) and compares 100 group-committed durable appends with the in-process log.
//
// Every case here runs with batch size 1 (`targetSampleNs: 1`), so each sample is one call and
// the p99 column is a real per-call p99, not a p99 of batch averages.

import {
  AuditEvents,
  auditLeafData,
  bytesToUtf8,
  createAuditEvent,
  createAuditLog,
  createMemoryAuditLogStore,
  formatNhi,
  MerkleTree,
  nobleCryptoProvider,
  openAuditLog,
  verifyConsistency,
  verifyInclusion,
} from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';

const TREE_LEAVES = 1_000_000;
const POPULATION = 100_000;
const AGENT_COUNT = 1_000;
const APPEND_POOL = 20_000;
const NS_PER_SECOND = 1_000_000_000n;
const DAY_NS = 86_400n * NS_PER_SECOND;

const PER_CALL = { targetSampleNs: 1, maxSamples: 2000, maxTimeMs: 1500 };

/** A fixed clock: the population spans the day before it, so no event is "in the future". */
const T0 = 1_767_225_600_000_000_000n;
const clock = { now: () => T0 + DAY_NS, schedule: () => () => {} };

/** A distinct 32-byte seed per integer. */
function seedOf(n) {
  const seed = new Uint8Array(32).fill(0x3c);
  new DataView(seed.buffer).setUint32(0, n);
  return seed;
}

/** Deterministic pseudo-random integers (xorshift32), so every run measures the same inputs. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const STORE_LEAVES = 10_000;
const GROUP_SIZE = 100;
const GROUP_POOL = 20_000;

const timings = {};
const elapsed = (start) => Number(process.hrtime.bigint() - start) / 1e9;

// ---------------------------------------------------------------------------------------------
// Fixture 1: a bare Merkle tree of 1,000,000 leaves (node:crypto SHA-256 for the build)
// ---------------------------------------------------------------------------------------------

let bigTree;
function tree() {
  if (bigTree) return bigTree;
  const start = process.hrtime.bigint();
  const sha256 = (data) => nodeCryptoProvider.sha256(data);
  bigTree = new MerkleTree({ sha256 });
  const leaf = new Uint8Array(64);
  const view = new DataView(leaf.buffer);
  for (let i = 0; i < TREE_LEAVES; i++) {
    view.setUint32(0, i);
    bigTree.appendLeaf(leaf);
  }
  timings.tree = elapsed(start);
  timings.treeHeapMiB = Math.round(process.memoryUsage().arrayBuffers / 2 ** 20);
  return bigTree;
}

// ---------------------------------------------------------------------------------------------
// Fixture 2: an audit log holding a realistic population
// ---------------------------------------------------------------------------------------------

const PRODUCT_KINDS = [
  (agent, i, next) =>
    AuditEvents.sandboxSpawned(
      { sandboxId: `sb-${i}`, agentNhi: agent, attestationHash: seedOf(i) },
      { timestamp: next() },
    ),
  (agent, i, next) =>
    AuditEvents.egressAttempt(
      {
        sandboxId: `sb-${i}`,
        agentNhi: agent,
        destination: `api${i % 50}.example.com:443`,
        decision: i % 7 ? 'allow' : 'deny',
      },
      { timestamp: next() },
    ),
  (agent, i, next) =>
    AuditEvents.quotaExceeded(
      {
        agentNhi: agent,
        eventType: 'inference_call',
        limit: 1000n,
        overflowAction: i % 3 ? 'allow' : 'block',
      },
      { timestamp: next() },
    ),
  (agent, i, next) =>
    AuditEvents.stateTransition(
      {
        requestId: '0b6e4f1e-8a3c-4d2b-9f10-2c3d4e5f6a7b',
        agentNhi: agent,
        oldState: 'PENDING',
        newState: i % 2 ? 'APPROVED' : 'ESCALATED',
      },
      { timestamp: next() },
    ),
  (agent, i, next) =>
    AuditEvents.messageDelivered(
      { messageId: '1c7f5a2f-9b4d-4e3c-8a21-3d4e5f6a7b8c', agentNhi: agent, latencyMs: i % 500 },
      { timestamp: next() },
    ),
  (agent, i, next) =>
    createAuditEvent({
      product: 'platform',
      agentNhi: agent,
      action: `tool.call.${i % 5}`,
      resource: `tool:t${i % 20}`,
      outcome: i % 11 ? 'success' : 'failure',
      timestamp: next(),
      metadata: { args: { n: i, q: 'x'.repeat(i % 40) } },
    }),
];

let fixture;
async function population() {
  if (fixture) return fixture;
  const start = process.hrtime.bigint();
  const agents = Array.from({ length: AGENT_COUNT }, (_, i) =>
    formatNhi('agent', nobleCryptoProvider.ed25519.publicKey(seedOf(i))),
  );
  const log = createAuditLog({
    clock,
    crypto: nobleCryptoProvider,
    origin: 'audit.bench.local/log',
    signingKey: seedOf(999_999),
  });
  const pick = rng(42);
  // Timestamps march through the day before T0 + 1 day, with producers slightly out of order.
  let t = T0;
  const step = DAY_NS / BigInt(POPULATION + APPEND_POOL);
  const next = () => {
    t += step;
    return t - BigInt(pick(1000)) * 1_000_000n;
  };
  const make = (i) => PRODUCT_KINDS[i % PRODUCT_KINDS.length](agents[pick(AGENT_COUNT)], i, next);
  for (let i = 0; i < POPULATION; i++) await log.append(make(i));
  timings.population = elapsed(start);
  // Events for the append case, built ahead so that the case measures only `append`.
  const pool = Array.from({ length: APPEND_POOL }, (_, k) => make(POPULATION + k));
  fixture = { log, agents, pool, cursor: 0, pick: rng(7) };
  return fixture;
}

// Cases call the fixture through these, which build it on first use.
const withTree = (fn) => () => fn(tree());
const withLog = (fn) => async () => fn(await population());

const treeRandom = rng(99);
const sizes = {};

// ---------------------------------------------------------------------------------------------
// Fixture 3: memory stores of 10,000 leaves (one with a checkpoint covering them all), and a
// pool of events for group-committed appends
// ---------------------------------------------------------------------------------------------

const DURABLE_ORIGIN = 'audit.bench.local/durable';
const DURABLE_KEY = seedOf(888_888);

let durableFixture;
async function durable() {
  if (durableFixture) return durableFixture;
  const agents = Array.from({ length: AGENT_COUNT }, (_, i) =>
    formatNhi('agent', nobleCryptoProvider.ed25519.publicKey(seedOf(i))),
  );
  const pick = rng(1234);
  let t = T0;
  const next = () => {
    t += 1_000_000n;
    return t;
  };
  const make = (i) => PRODUCT_KINDS[i % PRODUCT_KINDS.length](agents[pick(AGENT_COUNT)], i, next);
  const texts = Array.from({ length: STORE_LEAVES }, (_, i) => bytesToUtf8(auditLeafData(make(i))));
  timings.leafBytes = Math.round(texts.reduce((sum, text) => sum + text.length, 0) / texts.length);
  const bare = createMemoryAuditLogStore();
  const covered = createMemoryAuditLogStore();
  for (const store of [bare, covered]) {
    for (let i = 0; i < texts.length; i += 10_000) await store.appendLeaves(i, texts.slice(i, i + 10_000));
  }
  const open = (store, crypto = nobleCryptoProvider) =>
    openAuditLog({ store, signingKey: DURABLE_KEY, origin: DURABLE_ORIGIN, clock, crypto });
  await (await open(covered)).checkpoint();
  // Both group-commit logs start empty and take the same events, 100 per call.
  const pool = Array.from({ length: GROUP_POOL }, (_, i) => make(STORE_LEAVES + i));
  const logs = {
    inProcess: createAuditLog({
      clock,
      crypto: nobleCryptoProvider,
      origin: DURABLE_ORIGIN,
      signingKey: DURABLE_KEY,
    }),
    durable: await open(createMemoryAuditLogStore()),
  };
  durableFixture = { bare, covered, open, pool, logs, cursors: { inProcess: 0, durable: 0 } };
  return durableFixture;
}

/** 100 concurrent appends of fresh events (the pool wraps around only past 200 calls). */
async function appendGroup(f, which) {
  const start = f.cursors[which];
  f.cursors[which] += GROUP_SIZE;
  const log = f.logs[which];
  const appends = [];
  for (let k = 0; k < GROUP_SIZE; k++) appends.push(log.append(f.pool[(start + k) % GROUP_POOL]));
  return Promise.all(appends);
}

const withDurable = (fn) => async () => fn(await durable());

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'audit',
    title: 'Audit log (Merkle tree, proofs, queries)',
    // A getter: the build times are known only after the fixtures are built.
    get description() {
      const built =
        timings.tree === undefined
          ? ''
          : ` Building the 1,000,000-leaf tree took ${timings.tree.toFixed(1)} s (node:crypto SHA-256, ` +
            `about ${timings.treeHeapMiB} MiB of hash buffers); the ${POPULATION.toLocaleString('en')}-event ` +
            `log took ${timings.population?.toFixed(1)} s to populate (validation, canonical JSON, noble SHA-256).`;
      return (
        'Spec §3.3 SLAs: event append < 5 ms (p99), Merkle proof generation < 10 ms, event query < 50 ms (p99). ' +
        'Every sample is one call (batch 1), so p99 is per call. Proofs at 1,000,000 leaves use a bare ' +
        '`MerkleTree`; appends, log proofs and queries use an in-process `createAuditLog` holding ' +
        `${POPULATION.toLocaleString('en')} events from ${AGENT_COUNT} agents across 6 event kinds over one day ` +
        '(receipts included in every returned event).' +
        built
      );
    },
    options: PER_CALL,
    cases: [
      {
        name: 'inclusion proof, 1,000,000 leaves',
        fn: withTree((t) => t.inclusionProof(treeRandom(TREE_LEAVES))),
      },
      {
        name: 'consistency proof, random size → 1,000,000',
        fn: withTree((t) => t.consistencyProof(1 + treeRandom(TREE_LEAVES - 1))),
      },
      {
        name: 'root of an earlier size, 1,000,000 leaves',
        fn: withTree((t) => t.root(1 + treeRandom(TREE_LEAVES))),
      },
      {
        name: 'verifyInclusion, 1,000,000 leaves',
        fn: withTree((t) => {
          const i = treeRandom(TREE_LEAVES);
          sizes.root ??= t.root();
          return verifyInclusion(
            BigInt(i),
            BigInt(TREE_LEAVES),
            t.leafHash(i),
            t.inclusionProof(i),
            sizes.root,
          );
        }),
      },
      {
        name: 'verifyConsistency, 1,000,000 leaves',
        fn: withTree((t) => {
          const m = 1 + treeRandom(TREE_LEAVES - 1);
          sizes.root ??= t.root();
          return verifyConsistency(
            BigInt(m),
            BigInt(TREE_LEAVES),
            t.root(m),
            sizes.root,
            t.consistencyProof(m),
          );
        }),
      },
      {
        name: 'append (prebuilt typed event)',
        fn: withLog((f) => {
          const event = f.pool[f.cursor++ % f.pool.length];
          return f.log.append(event);
        }),
      },
      {
        name: 'AuditEvents.egressAttempt + append',
        fn: withLog((f) => {
          const i = f.cursor++;
          return f.log.append(
            AuditEvents.egressAttempt(
              {
                sandboxId: `sb-x${i}`,
                agentNhi: f.agents[i % AGENT_COUNT],
                destination: 'api.example.com',
                decision: 'allow',
              },
              { timestamp: T0 + DAY_NS },
            ),
          );
        }),
      },
      {
        name: 'log.inclusionProof (current size)',
        fn: withLog((f) => f.log.inclusionProof(BigInt(f.pick(POPULATION)))),
      },
      {
        name: 'log.consistencyProof (random size → current)',
        fn: withLog((f) => f.log.consistencyProof(BigInt(1 + f.pick(POPULATION)))),
      },
      {
        name: 'log.checkpoint (sign)',
        fn: withLog((f) => f.log.checkpoint()),
      },
      {
        name: 'query by agent (page 100)',
        fn: withLog((f) => f.log.query({ agentNhi: f.agents[f.pick(AGENT_COUNT)], limit: 100 })),
      },
      {
        name: 'query by agent + product + 6 h window',
        fn: withLog((f) => {
          const from = T0 + BigInt(f.pick(18)) * 3600n * NS_PER_SECOND;
          return f.log.query({
            agentNhi: f.agents[f.pick(AGENT_COUNT)],
            product: 'runtime',
            from,
            to: from + 6n * 3600n * NS_PER_SECOND,
            limit: 100,
          });
        }),
      },
      {
        name: 'query by time only, 5 min window (page 100)',
        fn: withLog((f) => {
          const from = T0 + BigInt(f.pick(24 * 60 - 5)) * 60n * NS_PER_SECOND;
          return f.log.query({ from, to: from + 300n * NS_PER_SECOND, limit: 100 });
        }),
      },
      {
        name: 'query by action + outcome (page 1000)',
        fn: withLog((f) => f.log.query({ action: 'network.egress', outcome: 'denied', limit: 1000 })),
      },
      {
        // No event matches: the smallest index list (~16,700 quota events) is walked to the end.
        name: 'query, conjunction with no match (full scan of one index)',
        fn: withLog((f) => f.log.query({ action: 'quota.exceeded', product: 'runtime', limit: 100 })),
      },
    ],
  },
  {
    id: 'audit-durable',
    title: 'Durable audit log (openAuditLog over the memory store)',
    // A getter: the leaf size is known only after the fixture is built.
    get description() {
      const size = timings.leafBytes === undefined ? '' : `, ${timings.leafBytes} bytes per leaf on average`;
      return (
        `Reopening a store of ${STORE_LEAVES.toLocaleString('en')} leaves (6 event kinds, ${AGENT_COUNT} agents${size}) ` +
        'with `openAuditLog`: *no checkpoint* validates every leaf in full (parse, event codec, canonical ' +
        'form); *covering checkpoint* has a signed checkpoint over all of them, so they are only parsed ' +
        'structurally and authenticated by the root comparison; *covering checkpoint, node:crypto* is the ' +
        'same with `nodeCryptoProvider` for SHA-256. Divide by 10,000 for the cost per leaf. Group commit: ' +
        `${GROUP_SIZE} concurrent appends of prebuilt typed events (one \`Promise.all\`) to the in-process ` +
        '`createAuditLog` and to a durable log on the memory store (one `appendLeaves` call per group); ' +
        'both logs grow during the run. One call per sample.'
      );
    },
    baseline: 'in-process',
    options: { targetSampleNs: 1, maxSamples: 60, maxTimeMs: 1500 },
    cases: [
      {
        name: `openAuditLog, ${STORE_LEAVES.toLocaleString('en')} leaves`,
        variant: 'no checkpoint',
        fn: withDurable((f) => f.open(f.bare)),
      },
      {
        name: `openAuditLog, ${STORE_LEAVES.toLocaleString('en')} leaves`,
        variant: 'covering checkpoint',
        fn: withDurable((f) => f.open(f.covered)),
      },
      {
        name: `openAuditLog, ${STORE_LEAVES.toLocaleString('en')} leaves`,
        variant: 'covering checkpoint, node:crypto',
        fn: withDurable((f) => f.open(f.covered, nodeCryptoProvider)),
      },
      {
        name: `${GROUP_SIZE} concurrent appends`,
        variant: 'in-process',
        fn: withDurable((f) => appendGroup(f, 'inProcess')),
      },
      {
        name: `${GROUP_SIZE} concurrent appends`,
        variant: 'durable, memory store',
        fn: withDurable((f) => appendGroup(f, 'durable')),
      },
    ],
  },
];
