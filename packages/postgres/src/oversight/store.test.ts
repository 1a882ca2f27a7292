import { AgentKeyPair, Decimal, newUuid, type OversightState } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import { createPostgresOversightStore } from './store.js';

const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(1)).identity.nhi;
const approver = AgentKeyPair.fromSeed(new Uint8Array(32).fill(2), { kind: 'human' }).identity.nhi;

/** A record shaped as oversight's `OversightRequestRecord`, with every kind of value the codec keeps. */
function record(state: OversightState = 'PENDING', overrides: Record<string, unknown> = {}) {
  return {
    requestId: newUuid(),
    version: 1,
    state,
    tier: 0,
    deadlineAt: 10n as bigint | undefined,
    notifiedTier: -1,
    createdAt: 1n,
    updatedAt: 1n,
    request: {
      agentNhi: agent,
      delegationChain: [],
      action: { name: 'funds.transfer', parameters: { amount: 1, $ref: 'not a tag' } },
      resource: { resourceType: 'payments', resourceId: 'a' },
      policyId: 'p',
      requirement: { tiers: [{ approvers: [approver], quorum: 1, timeoutMs: 1 }], finalAction: 'auto_deny' },
      actionDescription: 'x',
      riskFactors: [],
      sandboxId: undefined,
    },
    resourceUri: 'payments:a',
    blocking: true,
    rules: { limit: Decimal.parse('10.50'), salt: new Uint8Array([1, 2, 3]), weights: [0.5, -0] },
    reasoningContext: '',
    notes: [],
    ...overrides,
  };
}
type Rec = ReturnType<typeof record>;

const created = (r: Rec) => ({
  requestId: r.requestId,
  seq: 1,
  from: null as OversightState | null,
  to: r.state,
  tier: 0,
  at: 1n,
  actor: agent,
  reason: 'created',
});
type Tr = ReturnType<typeof created>;

const voteOf = (r: Rec) => ({
  requestId: r.requestId,
  approver,
  decision: 'APPROVE' as const,
  respondedAt: 2n,
  receivedAt: 2n,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  signature: 'sig',
  tiers: [0],
});
type Vote = ReturnType<typeof voteOf>;

describeEachDriver('PostgresOversightStore', (db) => {
  const storeOf = (options: { maxRequests?: number; schema?: string } = {}) =>
    createPostgresOversightStore<Rec, Vote, Tr>({ client: db().client, schema: db().schema, ...options });

  it('creates, reads and commits with optimistic concurrency', async () => {
    const store = storeOf();
    const r = record();
    await store.create(r, created(r));
    await expectEnablementRejection(store.create(r, created(r)), 'PL-409', 'already exists');
    const approved = { ...r, version: 2, state: 'APPROVED' as const, deadlineAt: undefined };
    await store.commit({
      requestId: r.requestId,
      expectedVersion: 1,
      record: approved,
      votes: [voteOf(r)],
      transitions: [{ ...created(r), seq: 2, from: 'PENDING', to: 'APPROVED', reason: 'approved' }],
    });
    const stored = await store.get(r.requestId);
    expect(stored?.record.state).toBe('APPROVED');
    expect(stored?.votes).toEqual([voteOf(r)]);
    expect(stored?.transitions.map((t) => t.seq)).toEqual([1, 2]);
    // A stale writer (another engine) gets a retryable conflict and changes nothing.
    const stale = store.commit({ requestId: r.requestId, expectedVersion: 1, record: { ...r, version: 2 } });
    const error = await expectEnablementRejection(stale, 'PL-409', 'changed');
    expect(error.retryable).toBe(true);
    expect((await store.get(r.requestId))?.record.state).toBe('APPROVED');
    await expectEnablementRejection(
      store.commit({ requestId: newUuid(), expectedVersion: 1, record: r }),
      'OV-404',
    );
    expect(await store.get(newUuid())).toBeUndefined();
  });

  it('hands records back equal: bigints, Decimals with their scale, bytes, undefined, -0, "$" keys', async () => {
    const store = storeOf();
    const r = record();
    await store.create(r, created(r));
    const stored = await store.get(r.requestId);
    expect(stored?.record).toEqual(r);
    expect(stored?.record.rules.limit.toString()).toBe('10.50');
    expect(Object.is(stored?.record.rules.weights[1], -0)).toBe(true);
    expect('sandboxId' in (stored?.record.request ?? {})).toBe(true);
    expect(stored?.transitions).toEqual([created(r)]);
  });

  it('lets exactly one of two engines racing on one version commit (two clients on a server)', async () => {
    const second = (await db().openSecond()) ?? db().client;
    const a = storeOf();
    const b = createPostgresOversightStore<Rec, Vote, Tr>({ client: second, schema: db().schema });
    const r = record();
    await a.create(r, created(r));
    const attempt = (store: typeof a, state: 'APPROVED' | 'DENIED') =>
      store.commit({
        requestId: r.requestId,
        expectedVersion: 1,
        record: { ...r, version: 2, state, deadlineAt: undefined },
        transitions: [{ ...created(r), seq: 2, from: 'PENDING', to: state, reason: state.toLowerCase() }],
      });
    const results = await Promise.allSettled([attempt(a, 'APPROVED'), attempt(b, 'DENIED')]);
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(loser.reason).toMatchObject({ code: 'PL-409', retryable: true });
    const stored = await a.get(r.requestId);
    expect(stored?.transitions).toHaveLength(2);
    expect(stored?.record.version).toBe(2);
  });

  it('refuses malformed changes: wrong version, foreign rows, a second vote, gaps in transitions; nothing half-applied', async () => {
    const store = storeOf();
    const r = record();
    await store.create(r, created(r));
    const next = { ...r, version: 2 };
    await expectEnablementRejection(
      store.commit({ requestId: r.requestId, expectedVersion: 1, record: { ...r, version: 3 } }),
      'PL-400',
    );
    await expectEnablementRejection(
      store.commit({
        requestId: r.requestId,
        expectedVersion: 1,
        record: next,
        votes: [{ ...voteOf(r), requestId: newUuid() }],
      }),
      'PL-400',
    );
    await expectEnablementRejection(
      store.commit({
        requestId: r.requestId,
        expectedVersion: 1,
        record: next,
        transitions: [{ ...created(r), seq: 5 }],
      }),
      'PL-400',
      'seq',
    );
    await store.commit({ requestId: r.requestId, expectedVersion: 1, record: next, votes: [voteOf(r)] });
    await expectEnablementRejection(
      store.commit({
        requestId: r.requestId,
        expectedVersion: 2,
        record: { ...r, version: 3 },
        votes: [voteOf(r)],
      }),
      'PL-400',
      'second vote',
    );
    await expectEnablementRejection(store.create({ ...record(), version: 2 }, created(record())), 'PL-400');
    for (const bad of [
      record('LIMBO' as never),
      record('PENDING', { reasoningContext: 'a\u0000b' }),
      record('PENDING', { notes: [new Date(0)] }),
      record('PENDING', { notes: [new Map()] }),
    ]) {
      await expectEnablementRejection(store.create(bad, created(bad)), 'PL-400');
      expect(await store.get(bad.requestId)).toBeUndefined();
    }
    const stored = await store.get(r.requestId);
    expect(stored?.record.version).toBe(2);
    expect(stored?.votes).toHaveLength(1);
    expect(stored?.transitions).toHaveLength(1);
  });

  it('bounds votes and transitions per request (PL-409), atomically', async () => {
    const store = storeOf();
    const r = record();
    await store.create(r, created(r));
    const many = Array.from({ length: 32 }, (_, i) => ({ ...created(r), seq: i + 2, reason: 'escalated' }));
    await expectEnablementRejection(
      store.commit({
        requestId: r.requestId,
        expectedVersion: 1,
        record: { ...r, version: 2 },
        transitions: many,
      }),
      'PL-409',
    );
    expect((await store.get(r.requestId))?.record.version).toBe(1);
  });

  it('returns frozen copies that callers cannot change', async () => {
    const store = storeOf();
    const r = record();
    const mutable = JSON.parse(JSON.stringify(r.request));
    await store.create({ ...r, request: mutable }, created(r));
    mutable.action.parameters.amount = 999;
    const stored = await store.get(r.requestId);
    expect(stored?.record.request.action.parameters).toEqual({ amount: 1, $ref: 'not a tag' });
    expect(Object.isFrozen(stored?.record.request.action)).toBe(true);
  });

  it('at the bound forgets the request that became final longest ago; full of open ones it refuses', async () => {
    // A schema of its own, so the count is this test's alone.
    const schema = db().newSchema();
    const { migrate } = await import('../migrations/index.js');
    await migrate(db().client, { schema });
    const store = storeOf({ maxRequests: 2, schema });
    const first = record();
    const second = record();
    await store.create(first, created(first));
    await store.create(second, created(second));
    const third = record();
    const error = await expectEnablementRejection(store.create(third, created(third)), 'PL-503', 'full');
    expect(error.retryable).toBe(true);
    await store.commit({
      requestId: second.requestId,
      expectedVersion: 1,
      record: { ...second, version: 2, state: 'CANCELLED', deadlineAt: undefined },
    });
    await store.create(third, created(third));
    expect(await store.get(second.requestId)).toBeUndefined();
    expect((await store.get(first.requestId))?.record.state).toBe('PENDING');
    expect((await store.listOpen({})).records.map((x) => x.requestId)).toEqual([
      first.requestId,
      third.requestId,
    ]);
  });

  it('lists by state, agent and approver in pages; listOpen pages open requests only', async () => {
    const schema = db().newSchema();
    const { migrate } = await import('../migrations/index.js');
    await migrate(db().client, { schema });
    const store = storeOf({ schema });
    const records = [record(), record('APPROVED'), record(), record('DENIED'), record()];
    for (const r of records) await store.create(r, created(r));
    const ids = records.map((r) => r.requestId);
    const page1 = await store.list({ limit: 2 });
    expect(page1.records.map((r) => r.requestId)).toEqual(ids.slice(0, 2));
    const page2 = await store.list({ limit: 2, cursor: page1.nextCursor as string });
    expect(page2.records.map((r) => r.requestId)).toEqual(ids.slice(2, 4));
    const page3 = await store.list({ limit: 2, cursor: page2.nextCursor as string });
    expect(page3).toEqual({ records: [records[4]] });
    expect((await store.list({ state: 'APPROVED' })).records.map((r) => r.requestId)).toEqual([ids[1]]);
    expect((await store.list({ agent: approver })).records).toEqual([]);
    expect((await store.list({ agent })).records).toHaveLength(5);
    expect((await store.list({ approver })).records).toHaveLength(5);
    expect((await store.list({ approver: 'role:x' })).records).toHaveLength(0);
    // An approver that voted counts even when no tier names it literally.
    const voter = 'role:finance-oncall';
    const r0 = records[0] as Rec;
    await store.commit({
      requestId: r0.requestId,
      expectedVersion: 1,
      record: { ...r0, version: 2 },
      votes: [{ ...voteOf(r0), approver: voter }],
    });
    expect((await store.list({ approver: voter })).records.map((r) => r.requestId)).toEqual([ids[0]]);
    const open1 = await store.listOpen({ limit: 2 });
    expect(open1.records.map((r) => r.requestId)).toEqual([ids[0], ids[2]]);
    const open2 = await store.listOpen({ limit: 2, cursor: open1.nextCursor as string });
    expect(open2).toEqual({ records: [records[4]] });
    await expectEnablementRejection(store.list({ limit: 0 }), 'OV-400', 'limit');
    await expectEnablementRejection(store.listOpen({ cursor: '-1' }), 'OV-400', 'cursor');
    await expectEnablementRejection(store.list({ state: 'LIMBO' as never }), 'OV-400');
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
      transitions: [{ ...created(r), seq: 2, from: 'PENDING', to: 'ESCALATED', reason: 'escalated' }],
    });
    const client = await reopen();
    const after = createPostgresOversightStore<Rec, Vote, Tr>({ client, schema });
    const stored = await after.get(r.requestId);
    expect(stored?.record).toMatchObject({ state: 'ESCALATED', tier: 1, deadlineAt: 20n, version: 2 });
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
