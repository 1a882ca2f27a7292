import { Decimal, type OversightState } from '@creto/core';
import type { OversightRequestRecord, TransitionRecord, VoteRecord } from '@creto/oversight';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { oversightFixtures, oversightStoreContract } from '@creto/testing/contracts';
import { describe, expect, it, vi } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import type { SqlClient } from '../sql/index.js';
import { createPostgresOversightStore, oversightChannel } from './store.js';

// Oversight's own record types, so the store is its `OversightStore` (types only: this package
// never imports a product at runtime; its tests run oversight's contract from @creto/testing).
const { record, created, voteOf } = oversightFixtures;

describeEachDriver('PostgresOversightStore', (db, driver) => {
  const storeOn = (client: SqlClient, schema: string, maxRequests?: number) =>
    createPostgresOversightStore<OversightRequestRecord, VoteRecord, TransitionRecord>({
      client,
      schema,
      ...(maxRequests === undefined ? {} : { maxRequests }),
    });
  const storeOf = () => storeOn(db().client, db().schema);

  // Tests that list or count across the store get a schema of their own; the others share the
  // suite's (request ids are fresh UUIDs).
  oversightStoreContract(driver.name, async ({ empty, maxRequests }) => {
    const { client } = db();
    let schema = db().schema;
    if (empty) {
      schema = db().newSchema();
      const { migrate } = await import('../migrations/index.js');
      await migrate(client, { schema });
    }
    return {
      store: storeOn(client, schema, maxRequests),
      openPeer: async () => storeOn((await db().openSecond()) ?? db().client, schema),
    };
  });

  it('hands records back equal: Decimals with their scale, bytes, -0', async () => {
    // Oversight's rules are opaque to the store: any value its document codec keeps.
    const store = createPostgresOversightStore({ client: db().client, schema: db().schema });
    const rules = { limit: Decimal.parse('10.50'), salt: new Uint8Array([1, 2, 3]), weights: [0.5, -0] };
    const base = record();
    const r = { ...base, rules };
    await store.create(r, created(base));
    const stored = await store.get(r.requestId);
    expect(stored?.record).toEqual(r);
    const back = (stored?.record as typeof r | undefined)?.rules;
    expect(back?.limit.toString()).toBe('10.50');
    expect(back?.salt).toBeInstanceOf(Uint8Array);
    expect(Object.is(back?.weights[1], -0)).toBe(true);
  });

  it('refuses what it cannot store (unknown states, NUL, dates, maps) and a bad bound, storing nothing', async () => {
    const store = storeOf();
    for (const bad of [
      record('LIMBO' as OversightState),
      record('PENDING', { reasoningContext: 'a\u0000b' }),
      record('PENDING', { notes: [new Date(0)] as never }),
      record('PENDING', { notes: [new Map()] as never }),
    ]) {
      await expectEnablementRejection(store.create(bad, created(bad)), 'PL-400');
      expect(await store.get(bad.requestId)).toBeUndefined();
    }
    await expectEnablementRejection(store.list({ state: 'LIMBO' as OversightState }), 'OV-400');
    expectEnablementError(
      () => createPostgresOversightStore({ client: db().client, maxRequests: 0 }),
      'PL-400',
      'maxRequests',
    );
  });

  it('watch: a commit through one client reaches a watcher on another, only once committed', async () => {
    const { client, schema } = db();
    // Another pool on the server (another process); PGlite has one session: the same client.
    const second = (await db().openSecond()) ?? client;
    const writer = storeOn(client, schema);
    const watcher = storeOn(second, schema);
    const seen: string[] = [];
    const stop = await watcher.watch?.((change) => seen.push(`${change.requestId}:${change.version}`));
    if (stop === undefined) throw new Error('both drivers can listen: the store must have watch');
    const r = record();
    await writer.create(r, created(r));
    await writer.commit({
      requestId: r.requestId,
      expectedVersion: 1,
      record: { ...r, version: 2, state: 'APPROVED', deadlineAt: undefined },
      votes: [voteOf(r)],
    });
    await vi.waitFor(() => expect(seen).toEqual([`${r.requestId}:1`, `${r.requestId}:2`]), {
      timeout: 10_000,
    });
    // A transaction that rolls back after the NOTIFY sends nothing.
    const channel = oversightChannel(schema);
    await expect(
      client.transaction(async (tx) => {
        await tx.query('SELECT pg_notify($1, $2)', [channel, 'rolled-back:1']);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    // Malformed payloads (anyone may NOTIFY) are ignored; a later commit still arrives.
    await client.query('SELECT pg_notify($1, $2)', [channel, 'no version']);
    const next = record();
    await writer.create(next, created(next));
    await vi.waitFor(() => expect(seen).toContain(`${next.requestId}:1`), { timeout: 10_000 });
    expect(seen).toEqual([`${r.requestId}:1`, `${r.requestId}:2`, `${next.requestId}:1`]);
    stop();
  });

  it('watch: the pg listener comes back after its connection is killed', async () => {
    const { client, schema, driver: name } = db();
    if (name !== 'postgres') return;
    const second = (await db().openSecond()) ?? client;
    const writer = storeOn(client, schema);
    const seen: string[] = [];
    const stop = await storeOn(second, schema).watch?.((change) => seen.push(change.requestId));
    if (stop === undefined) throw new Error('the store must have watch');
    const channel = oversightChannel(schema);
    const killed = await client.query<{ killed: boolean }>(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query = $1`,
      [`LISTEN "${channel}"`],
    );
    expect(killed.rows.map((row) => row.killed)).toEqual([true]);
    // Re-opened with backoff (100 ms first): commits keep being sent until one is heard.
    const r = record();
    await writer.create(r, created(r));
    await vi.waitFor(
      async () => {
        const probe = record();
        await writer.create(probe, created(probe));
        expect(seen).toContain(probe.requestId);
      },
      { timeout: 10_000, interval: 200 },
    );
    stop();
  });

  it('notification channels are identifiers of at most 63 characters, one per schema', () => {
    expect(oversightChannel('creto')).toBe('creto_oversight_creto');
    const long = 'a'.repeat(63);
    const other = `${'a'.repeat(62)}b`;
    expect(oversightChannel(long)).toMatch(/^[a-z_][a-z0-9_]{0,62}$/);
    expect(oversightChannel(long)).not.toBe(oversightChannel(other));
  });

  it('keeps requests, votes and transitions across a restart, open ones found again for recovery', async () => {
    const { reopen, schema } = db();
    if (reopen === undefined) return;
    const r = record();
    await storeOf().create(r, created(r));
    await storeOf().commit({
      requestId: r.requestId,
      expectedVersion: 1,
      record: { ...r, version: 2, state: 'ESCALATED', tier: 1, deadlineAt: 20n },
      votes: [voteOf(r)],
      transitions: [{ ...created(r), seq: 2, from: 'PENDING', to: 'ESCALATED', reason: 'escalated' }],
    });
    const client = await reopen();
    const after = storeOn(client, schema);
    const stored = await after.get(r.requestId);
    expect(stored?.record).toMatchObject({ state: 'ESCALATED', tier: 1, deadlineAt: 20n, version: 2 });
    expect(stored?.votes).toEqual([voteOf(r)]);
    expect(stored?.transitions.map((t) => t.to)).toEqual(['PENDING', 'ESCALATED']);
    const open: string[] = [];
    for (let cursor: string | undefined, pageNo = 0; pageNo < 100; pageNo++) {
      const page = await after.listOpen({ limit: 50, ...(cursor === undefined ? {} : { cursor }) });
      open.push(...page.records.map((x) => x.requestId));
      cursor = page.nextCursor;
      if (cursor === undefined) break;
    }
    expect(open).toContain(r.requestId);
  });
});

describe('createPostgresOversightStore options', () => {
  it('requires a client', () => {
    expectEnablementError(() => createPostgresOversightStore({} as never), 'PL-400', 'client');
  });
});
