// Durable stores of @creto/postgres against their in-memory twins, on PGlite (in process, in
// memory) and on a PostgreSQL server when CRETO_POSTGRES_URL is set (skipped otherwise):
// - `postgres`: the idempotency store (a new key locked and completed; a completed key found
//   again) and metering's commitEvent (event + aggregates + deduplication key in one transaction);
// - `postgres-audit`: `openAuditLog` on the audit store (100 concurrent appends in one group
//   commit, one append, reopening a 5 000-leaf log) against `createMemoryAuditLogStore`;
// - `postgres-relay`: the relay queue store (`put`, `load` of a 1000-entry page, `remove` of 100
//   ids) against `createMemoryRelayQueueStore`, and `openMessagingRelay` queueing an envelope for
//   an offline recipient on each (issue #10: adapters measured against the in-process defaults).

import {
  AuditEvents,
  createAuditEvent,
  createMemoryAuditLogStore,
  createMemoryIdempotencyStore,
  Decimal,
  formatNhi,
  newUuid,
  nobleCryptoProvider,
  openAuditLog,
} from '@creto/core';
import {
  createMemoryRelayQueueStore,
  encodeEnvelope,
  openMessagingRelay,
  sealEnvelope,
} from '@creto/messaging';
import {
  createPGliteClient,
  createPgClient,
  createPostgresAuditLogStore,
  createPostgresIdempotencyStore,
  createPostgresMeteringStore,
  createPostgresRelayQueueStore,
  migrate,
} from '@creto/postgres';
import { QUICK_OPTIONS } from './harness.mjs';
import { pattern, relayOptions, relayParties, stillClock } from './relay-fixtures.mjs';

// Opening PGlite takes seconds and a server connection may not exist: do it only when a suite of
// this file will run (run.mjs imports every bench file, also to list suites or to run another
// one), and build each suite's fixtures only when that suite will run.
const args = process.argv.slice(2);
const filters = args.filter((arg) => !arg.startsWith('--'));
/** Whether run.mjs will run the suite `id` of this file (the same test as its `selected`). */
const wants = (id) =>
  !args.includes('--list') &&
  (filters.length === 0 || filters.some((f) => id.includes(f) || 'postgres.bench.mjs'.includes(f)));
const url = process.env.CRETO_POSTGRES_URL || undefined;
/** `--quick` caps samples at `QUICK_OPTIONS.maxSamples`: fewer inputs need building ahead. */
const quick = args.includes('--quick');

/** A clock that moves only when told, so expiry never interferes with the measurement. */
function manualClock(start = 1_767_225_600_000_000_000n) {
  let now = start;
  return {
    now: () => now,
    step: (ns) => {
      now += ns;
    },
    schedule: () => () => {},
  };
}

const MINUTE = 60_000_000_000n;
const P0 = 1_767_225_600_000_000_000n;
const DAY = 1440n * MINUTE;
const AGENT = 'agent:nhi:ed25519:bench-agent';
const METERS = [
  ['tokens', 'sum'],
  ['calls', 'count'],
  ['peak', 'max'],
  ['last', 'latest'],
  ['users', 'unique_count'],
];
const plan = { id: 'bench', name: 'Bench', currency: 'USD', interval: 'day', charges: [] };
const subscription = {
  id: '0192f3c4-7a1b-4c2d-8e3f-4a5b6c7d8e9f',
  organizationId: 'org',
  billingContact: 'billing@example.com',
  interval: 'day',
  anchor: P0,
  startsAt: P0,
  createdAt: P0,
  phases: [{ planId: 'bench', from: P0 }],
  agents: [AGENT],
  status: 'active',
  endsAt: null,
  invoicedThrough: P0,
};

/** One usage event with five meters (one of each aggregation), a new key each call. */
function commitOf(seq) {
  const at = P0 + MINUTE + BigInt(seq % 1000) * 1_000_000n;
  const value = Decimal.parse(`${(seq % 97) + 1}.25`);
  return {
    idempotencyScope: `host:${subscription.id}:bench-${seq}`,
    idempotencyExpiresAt: at + 7n * DAY,
    event: {
      eventId: newUuid(),
      source: 'host',
      eventType: 'inference',
      subscriptionId: subscription.id,
      agentNhi: AGENT,
      idempotencyKey: `bench-${seq}`,
      occurredAt: at,
      ingestedAt: at,
      billedAt: at,
      usagePeriodStart: P0,
      properties: { model: 'gpt-x', user: `u${seq % 10}` },
      value: value.toString(),
    },
    ingestPeriod: { start: P0, end: P0 + DAY },
    graceExpired: false,
    bucketStart: at - (at % MINUTE),
    measurements: METERS.map(([meterId, aggregation]) => {
      const groups = meterId === 'tokens' ? { model: 'gpt-x' } : {};
      return {
        meterId,
        aggregation,
        value: aggregation === 'count' || aggregation === 'unique_count' ? Decimal.parse('1') : value,
        distinct: aggregation === 'unique_count' ? `u${seq % 10}` : undefined,
        groups,
        groupKey: JSON.stringify(groups),
      };
    }),
  };
}

const RESULT = JSON.stringify({
  sandboxId: 'sb-0192f3c4-7a1b-7c2d-8e3f-4a5b6c7d8e9f',
  attestation: 'x'.repeat(88),
});
const FINGERPRINT = 'a'.repeat(64);

/** The cases of one backend: begin + complete a new key, begin on a completed key, commitEvent. */
async function casesFor(variant, idempotencyStore, meteringStore) {
  let seq = 0;
  const hitKey = `idem:runtime:spawn_sandbox:bench-hit-${variant}`;
  const begun = await idempotencyStore.begin(hitKey, FINGERPRINT, 30_000);
  if (begun.status === 'acquired') await idempotencyStore.complete(hitKey, begun.token, RESULT, 3_600_000);
  let commitSeq = 0;
  const runId = newUuid().slice(0, 8);
  return {
    miss: {
      name: 'idempotency: begin + complete, new key',
      variant,
      fn: async () => {
        seq += 1;
        const key = `idem:runtime:spawn_sandbox:bench-${variant}-${runId}-${seq}`;
        const b = await idempotencyStore.begin(key, FINGERPRINT, 30_000);
        return idempotencyStore.complete(key, b.token, RESULT, 3_600_000);
      },
    },
    hit: {
      name: 'idempotency: begin on a completed key',
      variant,
      fn: () => idempotencyStore.begin(hitKey, FINGERPRINT, 30_000),
    },
    commit:
      meteringStore === undefined
        ? undefined
        : {
            name: 'metering: commitEvent (5 meters), new key',
            variant,
            fn: () => {
              commitSeq += 1;
              const commit = commitOf(commitSeq);
              return meteringStore.commitEvent({
                ...commit,
                idempotencyScope: `${commit.idempotencyScope}-${runId}`,
              });
            },
          },
  };
}

let opened;

/**
 * PGlite (always) and the PostgreSQL server (when `CRETO_POSTGRES_URL` is set), migrated into one
 * schema of this run's own: opened once, for every suite of this file that runs.
 * @returns {Promise<{ schema: string, sql: [string, import('@creto/postgres').SqlClient][], notes: string[] }>}
 */
function openBackends() {
  opened ??= (async () => {
    const schema = `creto_bench_${newUuid().replaceAll('-', '').slice(0, 12)}`;
    const notes = [];
    const pglite = await createPGliteClient();
    await migrate(pglite, { schema });
    const sql = [['pglite', pglite]];
    if (url === undefined) {
      notes.push('PostgreSQL skipped: `CRETO_POSTGRES_URL` was not set');
    } else {
      const pg = createPgClient({ connectionString: url, maxConnections: 2 });
      await migrate(pg, { schema });
      // The schema is this run's alone; drop it when the process ends.
      process.once('beforeExit', () => {
        pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => pg.close());
      });
      sql.push(['postgres', pg]);
    }
    return { schema, sql, notes };
  })();
  return opened;
}

/** ` Notes: a; b.` for a description, or nothing. */
const notesText = (notes) => (notes.length === 0 ? '' : ` Notes: ${notes.join('; ')}.`);

async function setupStores() {
  const notes = [];
  const backends = [];
  const clock = manualClock();

  // Memory: core's idempotency store; metering's in-memory store when the built package has it.
  let memoryMetering;
  try {
    const metering = await import('@creto/metering');
    if (typeof metering.createMemoryMeteringStore === 'function') {
      memoryMetering = metering.createMemoryMeteringStore({
        maxIdempotencyKeys: 100_000_000,
        maxEvents: 10_000,
      });
    }
  } catch {}
  if (memoryMetering === undefined)
    notes.push(
      'metering’s in-memory store is not exported by the built `@creto/metering`: no memory row for commitEvent',
    );
  backends.push(['memory', createMemoryIdempotencyStore({ clock, maxKeys: 100_000_000 }), memoryMetering]);

  const { schema, sql, notes: backendNotes } = await openBackends();
  notes.push(...backendNotes);
  for (const [variant, client] of sql) {
    backends.push([
      variant,
      createPostgresIdempotencyStore({ client, schema, clock }),
      createPostgresMeteringStore({ client, schema }),
    ]);
  }
  for (const [, , metering] of backends) {
    if (metering === undefined) continue;
    await metering.putPlan(plan);
    await metering.createSubscription(subscription);
  }
  const all = await Promise.all(
    backends.map(([variant, idem, metering]) => casesFor(variant, idem, metering)),
  );
  const cases = [
    ...all.map((c) => c.miss),
    ...all.map((c) => c.hit),
    ...all.map((c) => c.commit).filter((c) => c !== undefined),
  ];
  return { cases, notes };
}

/**
 * Inputs built before the timed calls, because building one costs as much as the call measured
 * (an audit event: validation and a frozen copy). Every variant walks the same list with its own
 * cursor (each has its own log, so the same event ids do not collide). Past the end the list
 * grows inside a timed call; `grown` counts those and the suite reports them (sized so that a
 * normal run never gets there).
 */
function prebuilt(make, size) {
  const items = Array.from({ length: size }, (_, i) => make(i));
  const state = { items, grown: 0 };
  state.cursor = () => {
    let next = 0;
    return (n) => {
      while (items.length < next + n) {
        items.push(make(items.length));
        state.grown += 1;
      }
      next += n;
      return items.slice(next - n, next);
    };
  };
  return state;
}

// ---------------------------------------------------------------------------------------------
// postgres-audit: openAuditLog over each store
// ---------------------------------------------------------------------------------------------

const AUDIT_BATCH = 100;
const REOPEN_LEAVES = 5000;
/**
 * Events built ahead: the 5 000-leaf log, and the batches of the batch case, the most-called
 * (its 250 ms warm-up and the samples its time budget allows: about 230 batches of 100 on a
 * fast machine with PGlite alone; about 30 with `--quick`).
 */
const AUDIT_POOL = quick ? 8000 : 30_000;
const AUDIT_KEY = new Uint8Array(32).fill(0x5a);
/** The log's clock stands at the events' timestamp: always within the ±100 ms skew (spec §3.5). */
const auditClock = { now: () => P0, schedule: () => () => {} };
/** One origin (and store `log` name) per log, so the three logs stay apart in the shared tables. */
const ORIGINS = {
  batch: 'bench.creto.local/audit-batch',
  single: 'bench.creto.local/audit-single',
  reopen: 'bench.creto.local/audit-reopen',
};

/** Event `i`: an egress attempt, a message delivery or a custom tool call (with metadata), by one of `agents`. */
function auditEventOf(agents, i) {
  const agentNhi = agents[i % agents.length];
  const context = { timestamp: P0 };
  switch (i % 3) {
    case 0:
      return AuditEvents.egressAttempt(
        {
          sandboxId: `sb-${i}`,
          agentNhi,
          destination: `api${i % 50}.example.com:443`,
          decision: i % 7 ? 'allow' : 'deny',
        },
        context,
      );
    case 1:
      return AuditEvents.messageDelivered({ messageId: newUuid(), agentNhi, latencyMs: i % 500 }, context);
    default:
      return createAuditEvent({
        product: 'platform',
        agentNhi,
        action: `tool.call.${i % 5}`,
        resource: `tool:t${i % 20}`,
        outcome: i % 11 ? 'success' : 'failure',
        timestamp: P0,
        metadata: { args: { n: i, q: 'x'.repeat(i % 40) } },
      });
  }
}

/** `store` with its `appendLeaves` calls and leaves counted into `counter`. */
function countingAuditStore(store, counter) {
  return {
    size: () => store.size(),
    readLeaves: (from, limit) => store.readLeaves(from, limit),
    appendLeaves: (start, leaves) => {
      counter.calls += 1;
      counter.leaves += leaves.length;
      return store.appendLeaves(start, leaves);
    },
    saveCheckpoint: (checkpoint) => store.saveCheckpoint(checkpoint),
    latestCheckpoint: () => store.latestCheckpoint(),
  };
}

async function setupAudit() {
  const { schema, sql, notes } = await openBackends();
  const seed = new Uint8Array(32);
  const agents = Array.from({ length: 16 }, (_, i) => {
    seed.fill(i + 1);
    return formatNhi('agent', nobleCryptoProvider.ed25519.publicKey(seed));
  });
  const events = prebuilt((i) => auditEventOf(agents, i), AUDIT_POOL);
  const variants = [['memory', undefined], ...sql];
  const storeOf = (client, origin) =>
    client === undefined
      ? createMemoryAuditLogStore()
      : createPostgresAuditLogStore({ client, schema, log: origin });
  const open = (origin, store) => openAuditLog({ store, signingKey: AUDIT_KEY, origin, clock: auditClock });

  const counters = [];
  const byVariant = [];
  for (const [variant, client] of variants) {
    const counter = { variant, calls: 0, leaves: 0, batches: 0 };
    counters.push(counter);
    const batchLog = await open(ORIGINS.batch, countingAuditStore(storeOf(client, ORIGINS.batch), counter));
    const singleLog = await open(ORIGINS.single, storeOf(client, ORIGINS.single));

    // The log to reopen: 5 000 events in one group commit, and a signed checkpoint, which every
    // open verifies before it reads the leaves back.
    const reopenStore = storeOf(client, ORIGINS.reopen);
    const seeded = await open(ORIGINS.reopen, reopenStore);
    await Promise.all(events.items.slice(0, REOPEN_LEAVES).map((event) => seeded.append(event)));
    await seeded.checkpoint();
    if (seeded.size !== REOPEN_LEAVES)
      throw new Error(`${variant}: the log to reopen has ${seeded.size} leaves`);

    const nextBatch = events.cursor();
    const nextOne = events.cursor();
    byVariant.push({
      batch: {
        name: `${AUDIT_BATCH} concurrent appends (one group commit)`,
        variant,
        fn: () => {
          counter.batches += 1;
          return Promise.all(nextBatch(AUDIT_BATCH).map((event) => batchLog.append(event)));
        },
      },
      single: {
        name: 'one append (receipt after the store wrote it)',
        variant,
        fn: () => singleLog.append(nextOne(1)[0]),
      },
      reopen: {
        name: `reopen a ${REOPEN_LEAVES.toLocaleString('en')}-leaf log (verify, read, rebuild)`,
        variant,
        fn: () => open(ORIGINS.reopen, reopenStore),
      },
    });
  }
  const cases = [
    ...byVariant.map((c) => c.batch),
    ...byVariant.map((c) => c.single),
    ...byVariant.map((c) => c.reopen),
  ];
  return { cases, notes, counters, events };
}

// ---------------------------------------------------------------------------------------------
// postgres-relay: the relay queue store, and openMessagingRelay over it
// ---------------------------------------------------------------------------------------------

const REMOVE_IDS = 100;
const LOAD_PAGE = 1000;
/**
 * Most samples per case in this suite (the harness's `maxSamples`): 100, because every sample of
 * `remove` consumes 100 entries stored ahead, and a database stores about 5 000 rows a second.
 */
const RELAY_MAX_SAMPLES = quick ? QUICK_OPTIONS.maxSamples : 100;
/** The harness warm-up of this suite, ms: setup warms every case up instead (see below). */
const RELAY_HARNESS_WARMUP_MS = 0.1;
/** Untimed warm-up of every case at setup: for up to this long, ms … */
const RELAY_WARMUP_MS = 200;
/** … and at most this many calls of `remove` (each consumes 100 stored entries). */
const REMOVE_WARMUP_CALLS = 10;
/**
 * Calls of `remove` one variant can make: its warm-up, the harness's calibration (a first call,
 * then batches doubling until 0.1 ms: up to 100 calls of a 2 µs call in memory, 2 of a database
 * call) and the samples. The entries it removes are stored ahead, outside the timing.
 */
const removeCalls = (inMemory) => REMOVE_WARMUP_CALLS + (inMemory ? 100 : 10) + RELAY_MAX_SAMPLES;

/**
 * Stores `entries` in the relay queue tables with one statement per 1000 rows, outside any timed
 * call: through `put` (one transaction each, one to two milliseconds) the 12 000 entries the
 * remove case consumes would take 15 to 25 s per database. The rows are what `put` writes (the envelope as
 * its JSON text; `seq` from the identity column) and the relay's counter moves with them, so
 * `remove` finds the table as the store keeps it.
 */
async function bulkQueue(client, schema, relay, entries) {
  for (let at = 0; at < entries.length; at += 1000) {
    const chunk = entries.slice(at, at + 1000);
    const rows = chunk.map((entry) => ({
      message_id: entry.messageId,
      recipient_nhi: entry.recipientNhi,
      accepted_at: entry.acceptedAt.toString(),
      expires_at: entry.expiresAt.toString(),
      envelope: JSON.stringify(entry.envelope),
    }));
    await client.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO "${schema}".relay_queue (relay, message_id, recipient_nhi, accepted_at, expires_at, envelope)
         SELECT $1, r.message_id, r.recipient_nhi, r.accepted_at, r.expires_at, r.envelope
           FROM json_to_recordset($2::json)
             AS r(message_id text, recipient_nhi text, accepted_at bigint, expires_at bigint, envelope text)`,
        [relay, JSON.stringify(rows)],
      );
      await tx.query(
        `INSERT INTO "${schema}".relay_queue_counts AS c (relay, entries) VALUES ($1, $2)
         ON CONFLICT (relay) DO UPDATE SET entries = c.entries + $2`,
        [relay, chunk.length],
      );
    });
  }
}

/** Calls `fn` (untimed) until `ms` have passed or it ran `maxCalls` times. */
async function warmUp(fn, ms, maxCalls) {
  const end = process.hrtime.bigint() + BigInt(ms * 1e6);
  for (let i = 0; i < maxCalls && process.hrtime.bigint() < end; i++) await fn();
}

async function setupRelay() {
  const { schema, sql, notes } = await openBackends();
  const parties = await relayParties();
  const { alice, bob } = parties;
  const from = alice.identity.nhi;
  const recipientNhi = bob.identity.nhi;
  const at = stillClock.now();
  // Under handshake-only the relay checks no signature on a `message` once the pair has a signed
  // handshake: what a submit costs beyond that is the relay's own work and the store's write.
  const base = { sender: alice, recipientNhi, timestamp: at, ttlMs: 60_000, ciphertext: pattern(1024, 4) };
  const wire = encodeEnvelope(sealEnvelope({ ...base, sign: false }));
  const handshake = encodeEnvelope(sealEnvelope({ ...base, kind: 'handshake' }));
  const expiresAt = at + 60_000_000_000n;

  // Message ids, made ahead (a UUID costs microseconds, as much as a memory put); every case of
  // every variant has its own store, so they all walk the same list.
  const ids = Array.from({ length: removeCalls(true) * REMOVE_IDS }, () => newUuid());
  const idAt = (i) => {
    while (ids.length <= i) ids.push(newUuid()); // past the end: a run far longer than planned
    return ids[i];
  };
  /** Entry `i`: the 1 KiB-ciphertext envelope under id `i`, accepted in order. */
  const entryOf = (i) => {
    const messageId = idAt(i);
    return {
      messageId,
      recipientNhi,
      acceptedAt: at + BigInt(i),
      expiresAt,
      envelope: { ...wire, message_id: messageId },
    };
  };
  const storeOf = (client, relay) =>
    client === undefined
      ? createMemoryRelayQueueStore({ maxEntries: 1_000_000 })
      : createPostgresRelayQueueStore({ client, schema, relay, maxEntries: 1_000_000 });
  /** Stores entries `from` … `from + count - 1`: `put` in memory, `bulkQueue` in a database. */
  const fill = async (client, store, relay, from, count) => {
    const entries = Array.from({ length: count }, (_, k) => entryOf(from + k));
    if (client !== undefined) return bulkQueue(client, schema, relay, entries);
    for (const entry of entries) await store.put(entry);
  };

  const refills = { count: 0 };
  const removeFns = new Set();
  const variants = [['memory', undefined], ...sql];
  const byVariant = [];
  for (const [variant, client] of variants) {
    const putStore = storeOf(client, 'bench-put');
    let nextPut = 0;

    const loadStore = storeOf(client, 'bench-load');
    await fill(client, loadStore, 'bench-load', 0, LOAD_PAGE);
    const page = await loadStore.load(LOAD_PAGE);
    if (page.length !== LOAD_PAGE || page[0]?.envelope.message_id !== ids[0])
      throw new Error(`${variant}: the load fixture reads back ${page.length} entries`);

    // Each call removes the next 100 stored ids; past the pool, it is stored again (inside
    // that timed call, counted and reported: a normal run never gets there).
    const removeStore = storeOf(client, 'bench-remove');
    const pool = removeCalls(client === undefined) * REMOVE_IDS;
    await fill(client, removeStore, 'bench-remove', 0, pool);
    let nextRemove = 0;
    const removeNext = async () => {
      if (nextRemove + REMOVE_IDS > pool) {
        refills.count += 1;
        await fill(client, removeStore, 'bench-remove', 0, pool);
        nextRemove = 0;
      }
      nextRemove += REMOVE_IDS;
      return removeStore.remove(ids.slice(nextRemove - REMOVE_IDS, nextRemove));
    };
    removeFns.add(removeNext);

    // Bob never connects: every envelope is written to the store and stays queued.
    const relay = await openMessagingRelay({
      ...relayOptions(parties, { signaturePolicy: 'handshake-only', maxQueuePerRecipient: 100_000 }),
      queueStore: storeOf(client, 'bench-submit'),
    });
    const opened = await relay.submit(from, handshake);
    if (opened.status !== 'queued') throw new Error(`${variant}: the handshake was ${opened.status}`);
    let nextSubmit = 0;

    byVariant.push({
      put: {
        name: 'store: put one entry (1 KiB ciphertext)',
        variant,
        fn: () => putStore.put(entryOf(nextPut++)),
      },
      load: {
        name: `store: load a ${LOAD_PAGE}-entry page`,
        variant,
        fn: () => loadStore.load(LOAD_PAGE),
      },
      remove: { name: `store: remove ${REMOVE_IDS} ids`, variant, fn: removeNext },
      submit: {
        name: 'openMessagingRelay: submit to an offline recipient (queued)',
        variant,
        fn: () => relay.submit(from, { ...wire, message_id: idAt(nextSubmit++) }),
      },
    });
  }
  const cases = ['put', 'load', 'remove', 'submit'].flatMap((op) => byVariant.map((c) => c[op]));
  for (const benchCase of cases) {
    const consumes = removeFns.has(benchCase.fn);
    await warmUp(benchCase.fn, RELAY_WARMUP_MS, consumes ? REMOVE_WARMUP_CALLS : Number.POSITIVE_INFINITY);
  }
  return { cases, notes, refills };
}

const none = { cases: [], notes: [] };
const stores = wants('postgres') ? await setupStores() : none;
const audit = wants('postgres-audit') ? await setupAudit() : { ...none, counters: [], events: { grown: 0 } };
const relay = wants('postgres-relay') ? await setupRelay() : { ...none, refills: { count: 0 } };

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'postgres',
    title: 'Durable stores: PostgreSQL and PGlite vs memory',
    baseline: 'memory',
    description: `
The same port on three backends, one call at a time (no concurrency): the in-memory store, PGlite
(PostgreSQL in WebAssembly, in process, in memory) and a PostgreSQL server over a \`pg\` pool on
loopback. *Idempotency*: \`begin\` + \`complete\` of a new key (two statements), and \`begin\` on a
completed key (the duplicate path: one upsert that changes nothing, then one read). *Metering*:
\`commitEvent\` with five meters (sum, count, max, latest, unique count): one transaction that
records the deduplication key, stores the event and updates ten aggregate rows (per period and per
minute), as spec §4.1 requires.${notesText(stores.notes)}`,
    options: { maxTimeMs: 1500 },
    cases: stores.cases,
  },
  {
    id: 'postgres-audit',
    title: 'Durable audit log: PostgreSQL and PGlite vs memory',
    baseline: 'memory',
    // A getter: what the run saw (group commits, events built late) is known only after it.
    get description() {
      const commits = audit.counters
        .filter((c) => c.batches > 0)
        .map((c) => `${c.variant} ${c.calls} for ${c.batches} batches (${c.leaves} leaves)`);
      const seen = commits.length === 0 ? '' : ` \`appendLeaves\` calls in this run: ${commits.join('; ')}.`;
      const late =
        audit.events.grown === 0
          ? ''
          : ` ${audit.events.grown} events were built inside timed calls (the prebuilt pool ran out).`;
      return `
\`openAuditLog\` (core) over \`createMemoryAuditLogStore\`, and over \`createPostgresAuditLogStore\` on
PGlite (in process, in memory) and on a PostgreSQL server (\`pg\` pool on loopback). The events
(egress attempts, message deliveries, custom tool calls with metadata; 16 agents) are built before
the timing. *Concurrent appends*: ${AUDIT_BATCH} \`append\` calls at once, awaited together: the
log group-commits them in one \`appendLeaves\` (one transaction) and answers each once the store
wrote it, so events/s = ${AUDIT_BATCH} × ops/s. *One append*: a lone event, a group of one.
*Reopen*: \`openAuditLog\` on a store of ${REOPEN_LEAVES.toLocaleString('en')} leaves whose signed
checkpoint covers them all (the state a log that checkpoints leaves behind): verify the
checkpoint, read every leaf (one page), integrate them as \`openAuditLog\` documents, and compare
the root at the checkpoint. Every sample is one call, so p99 is per call.${seen}${late}${notesText(audit.notes)}`;
    },
    options: { targetSampleNs: 1 },
    cases: audit.cases,
  },
  {
    id: 'postgres-relay',
    title: 'Durable relay queues: PostgreSQL and PGlite vs memory',
    baseline: 'memory',
    get description() {
      const refilled =
        relay.refills.count === 0
          ? ''
          : ` The remove pool ran out ${relay.refills.count} time(s) and was stored again inside a timed call.`;
      return `
Messaging's \`RelayQueueStore\`: \`createMemoryRelayQueueStore\` against \`createPostgresRelayQueueStore\`
on PGlite and on a PostgreSQL server (\`pg\` pool on loopback). Entries hold a 1 KiB-ciphertext
envelope. *put*: one new entry (the row and the relay's counter in one transaction); *load*: the
first page of a 1,000-entry queue (what a relay reads at startup, per page); *remove*: 100 stored
ids in one call (what delivery and the expiry sweep do); the entries it removes are stored ahead,
outside the timing. *Submit*: \`openMessagingRelay\` (handshake-only policy, after the pair's
signed handshake; allow-all authz stub) queueing a 1 KiB envelope for a recipient that is not
connected: decode, checks, seen-id guard (in memory), the store's \`put\` before the answer
\`queued\`. Every sample is one call. Each case is warmed up untimed at setup (up to
${RELAY_WARMUP_MS} ms; ${REMOVE_WARMUP_CALLS} calls of remove), so the harness warm-up is cut to
${RELAY_HARNESS_WARMUP_MS} ms; at most ${RELAY_MAX_SAMPLES} samples per case, as each sample of remove
consumes ${REMOVE_IDS} entries stored ahead (p99 is then close to the maximum).${refilled}${notesText(relay.notes)}`;
    },
    options: {
      targetSampleNs: 1,
      warmupMs: RELAY_HARNESS_WARMUP_MS,
      ...(quick ? {} : { maxSamples: RELAY_MAX_SAMPLES }),
    },
    cases: relay.cases,
  },
];
