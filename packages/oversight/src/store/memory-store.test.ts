import { AgentKeyPair, newUuid, type OversightState } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OVERSIGHT_RULES } from '../policy/index.js';
import { createMemoryOversightStore } from './memory-store.js';
import type { OversightRequestRecord, TransitionRecord, VoteRecord } from './types.js';

const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(1)).identity.nhi;
const approver = AgentKeyPair.fromSeed(new Uint8Array(32).fill(2), { kind: 'human' }).identity.nhi;

function record(
  state: OversightState = 'PENDING',
  overrides: Partial<OversightRequestRecord> = {},
): OversightRequestRecord {
  return {
    requestId: newUuid(),
    version: 1,
    state,
    tier: 0,
    deadlineAt: 10n,
    notifiedTier: -1,
    createdAt: 1n,
    updatedAt: 1n,
    request: {
      agentNhi: agent,
      delegationChain: [],
      action: { name: 'funds.transfer', parameters: { amount: 1 } },
      resource: { resourceType: 'payments', resourceId: 'a' },
      policyId: 'p' as never,
      requirement: { tiers: [{ approvers: [approver], quorum: 1, timeoutMs: 1 }], finalAction: 'auto_deny' },
      actionDescription: 'x',
      riskFactors: [],
    },
    resourceUri: 'payments:a',
    blocking: true,
    rules: DEFAULT_OVERSIGHT_RULES,
    reasoningContext: '',
    notes: [],
    ...overrides,
  };
}

const created = (r: OversightRequestRecord): TransitionRecord => ({
  requestId: r.requestId,
  seq: 1,
  from: null,
  to: r.state,
  tier: 0,
  at: 1n,
  actor: agent,
  reason: 'created',
});

const voteOf = (r: OversightRequestRecord): VoteRecord => ({
  requestId: r.requestId,
  approver,
  decision: 'APPROVE',
  respondedAt: 2n,
  receivedAt: 2n,
  nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
  signature: 'sig',
  tiers: [0],
});

describe('createMemoryOversightStore', () => {
  it('creates, reads and commits with optimistic concurrency', async () => {
    const store = createMemoryOversightStore();
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
    expect(stored?.votes).toHaveLength(1);
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
  });

  it('refuses malformed changes: wrong version, foreign rows, a second vote, gaps in transitions', async () => {
    const store = createMemoryOversightStore();
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
  });

  it('keeps private frozen copies', async () => {
    const store = createMemoryOversightStore();
    const r = record();
    const mutable = JSON.parse(JSON.stringify(r.request));
    await store.create({ ...r, request: mutable }, created(r));
    mutable.action.parameters.amount = 999;
    const stored = await store.get(r.requestId);
    expect(stored?.record.request.action.parameters).toEqual({ amount: 1 });
    expect(Object.isFrozen(stored?.record.request.action)).toBe(true);
  });

  it('at the bound forgets the request that became final longest ago; full of open ones it refuses', async () => {
    const store = createMemoryOversightStore({ maxRequests: 2 });
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
    expect(store.size).toBe(2);
    expect(store.openCount).toBe(2);
  });

  it('lists by state, agent and approver in pages; listOpen pages open requests only', async () => {
    const store = createMemoryOversightStore();
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
    expect((await store.list({ approver })).records).toHaveLength(5);
    expect((await store.list({ approver: 'role:x' })).records).toHaveLength(0);
    const open1 = await store.listOpen({ limit: 2 });
    expect(open1.records.map((r) => r.requestId)).toEqual([ids[0], ids[2]]);
    const open2 = await store.listOpen({ limit: 2, cursor: open1.nextCursor as string });
    expect(open2).toEqual({ records: [records[4]] });
    await expectEnablementRejection(store.list({ limit: 0 }), 'OV-400', 'limit');
    await expectEnablementRejection(store.listOpen({ cursor: '-1' }), 'OV-400', 'cursor');
    expectEnablementError(() => createMemoryOversightStore({ maxRequests: 0 }), 'PL-400', 'maxRequests');
  });
});
