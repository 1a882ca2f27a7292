// Durable stores of @creto/postgres against their in-memory twins: the idempotency store (a new
// key locked and completed; a completed key found again) and metering's commitEvent (event +
// aggregates + deduplication key in one transaction), on PGlite (in process, in memory) and on a
// PostgreSQL server when CRETO_POSTGRES_URL is set (skipped otherwise).

import { createMemoryIdempotencyStore, Decimal, newUuid } from '@creto/core';
import {
  createPGliteClient,
  createPgClient,
  createPostgresIdempotencyStore,
  createPostgresMeteringStore,
  migrate,
} from '@creto/postgres';

// Opening PGlite takes seconds and a server connection may not exist: do it only when this suite
// will run (run.mjs imports every bench file, also to list suites or to run another one).
const args = process.argv.slice(2);
const filters = args.filter((arg) => !arg.startsWith('--'));
const wanted =
  !args.includes('--list') &&
  (filters.length === 0 || filters.some((f) => 'postgres'.includes(f) || 'postgres.bench.mjs'.includes(f)));
const url = process.env.CRETO_POSTGRES_URL || undefined;

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

async function setup() {
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

  const schema = `creto_bench_${newUuid().replaceAll('-', '').slice(0, 12)}`;
  const pglite = await createPGliteClient();
  await migrate(pglite, { schema });
  backends.push([
    'pglite',
    createPostgresIdempotencyStore({ client: pglite, schema, clock }),
    createPostgresMeteringStore({ client: pglite, schema }),
  ]);

  if (url === undefined) {
    notes.push('PostgreSQL skipped: `CRETO_POSTGRES_URL` was not set');
  } else {
    const pg = createPgClient({ connectionString: url, maxConnections: 2 });
    await migrate(pg, { schema });
    // The schema is this run's alone; drop it when the process ends.
    process.once('beforeExit', () => {
      pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => pg.close());
    });
    backends.push([
      'postgres',
      createPostgresIdempotencyStore({ client: pg, schema, clock }),
      createPostgresMeteringStore({ client: pg, schema }),
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

const { cases, notes } = wanted ? await setup() : { cases: [], notes: [] };

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
minute), as spec §4.1 requires.${notes.length === 0 ? '' : ` Notes: ${notes.join('; ')}.`}`,
    options: { maxTimeMs: 1500 },
    cases,
  },
];
