import { Decimal, type OversightState } from '@creto/core';
import type { OversightRequestRecord, TransitionRecord, VoteRecord } from '@creto/oversight';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { oversightFixtures, oversightStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import type { SqlClient } from '../sql/index.js';
import { createPostgresOversightStore } from './store.js';

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
