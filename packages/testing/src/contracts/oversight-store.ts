import { AgentKeyPair, newUuid, type OversightState, policyId } from '@creto/core';
import {
  DEFAULT_OVERSIGHT_RULES,
  type OversightRequestRecord,
  type OversightStore,
  type TransitionRecord,
  type VoteRecord,
} from '@creto/oversight';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What a test needs from the store an {@link OversightStoreFactory} returns. */
export interface OversightStoreNeeds {
  /**
   * True when the test lists or counts across the whole store: the store must hold nothing yet.
   * Otherwise it may be shared with other tests (request ids are fresh UUIDs).
   */
  readonly empty: boolean;
  /**
   * The bound on requests held, when the test checks it (then `empty` is true): at the bound,
   * `create` forgets the request that became final longest ago, or refuses with a retryable
   * `PL-503` when every request held is open. `undefined`: the store's default.
   */
  readonly maxRequests?: number;
}

/** What an {@link OversightStoreFactory} returns for one test. */
export interface OversightStoreFixture {
  /** The store under test. */
  readonly store: OversightStore;
  /**
   * Another store on the same data through another connection (another engine's view), for the
   * concurrency test; it races `store` against itself when absent.
   */
  openPeer?(): Promise<OversightStore>;
  /** Frees what the fixture holds (connections, schemas), after each test. */
  close?(): Promise<void>;
}

/** Builds a store for one test. */
export type OversightStoreFactory = (
  needs: OversightStoreNeeds,
) => OversightStoreFixture | Promise<OversightStoreFixture>;

/**
 * The documents {@link oversightStoreContract} works with, for an implementation's own tests
 * beyond the contract: requests of one agent to transfer funds, approved by one human.
 */
export interface OversightFixtures {
  /** The agent asking (an Ed25519 NHI from a fixed seed). */
  readonly agent: string;
  /** The one approver its requirement names (a human NHI from a fixed seed). */
  readonly approver: string;
  /** A fresh request record (new id, version 1, deadline 10 ns) in `state`, with `overrides`. */
  record(state?: OversightState, overrides?: Partial<OversightRequestRecord>): OversightRequestRecord;
  /** The creation transition of `record` (seq 1). */
  created(record: OversightRequestRecord): TransitionRecord;
  /** An approval of `record` by the approver. */
  voteOf(record: OversightRequestRecord): VoteRecord;
}

let identities: { agent: string; approver: string } | undefined;
// Derived on first use, so that importing the contracts entry derives no key.
const parties = () => {
  identities ??= {
    agent: AgentKeyPair.fromSeed(new Uint8Array(32).fill(1)).identity.nhi,
    approver: AgentKeyPair.fromSeed(new Uint8Array(32).fill(2), { kind: 'human' }).identity.nhi,
  };
  return identities;
};

/** The fixtures of {@link oversightStoreContract}; see {@link OversightFixtures}. */
export const oversightFixtures: OversightFixtures = Object.freeze({
  get agent(): string {
    return parties().agent;
  },
  get approver(): string {
    return parties().approver;
  },
  record(
    state: OversightState = 'PENDING',
    overrides: Partial<OversightRequestRecord> = {},
  ): OversightRequestRecord {
    const { agent, approver } = parties();
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
        // A `$`-key: a store with a tagged encoding must not take it for a tag.
        action: { name: 'funds.transfer', parameters: { amount: 1, $ref: 'not a tag' } },
        resource: { resourceType: 'payments', resourceId: 'a' },
        policyId: policyId('p'),
        requirement: {
          tiers: [{ approvers: [approver], quorum: 1, timeoutMs: 1 }],
          finalAction: 'auto_deny',
        },
        // Present but undefined: handed back as such.
        sandboxId: undefined,
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
  },
  created(record: OversightRequestRecord): TransitionRecord {
    return {
      requestId: record.requestId,
      seq: 1,
      from: null,
      to: record.state,
      tier: 0,
      at: 1n,
      actor: parties().agent,
      reason: 'created',
    };
  },
  voteOf(record: OversightRequestRecord): VoteRecord {
    return {
      requestId: record.requestId,
      approver: parties().approver,
      decision: 'APPROVE',
      respondedAt: 2n,
      receivedAt: 2n,
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
      signature: 'sig',
      tiers: [0],
    };
  },
});

/**
 * The contract every {@link OversightStore} must pass (spec §4.2, §8.3; ARCHITECTURE §5): create
 * and read back equal, optimistic concurrency (exactly one of two engines racing on a version
 * wins, the other gets a retryable `PL-409`), malformed changes refused with nothing half-applied,
 * bounds on transitions, private frozen copies, the bound on requests held (evicting the request
 * final longest ago), and paging by state, agent and approver (named or voting) and of open
 * requests, and — for a store that has `watch` — change notices for committed creates and commits
 * only, from any peer. Values are compared with `toEqual` (a durable store returns copies). Call it at the
 * top level of a test file (or inside a `describe`); it registers one `describe` block.
 *
 * @example
 * ```ts
 * oversightStoreContract('memory', ({ maxRequests }) => ({
 *   store: createMemoryOversightStore(maxRequests === undefined ? {} : { maxRequests }),
 * }));
 * ```
 */
export function oversightStoreContract(name: string, factory: OversightStoreFactory): void {
  const { record, created, voteOf } = oversightFixtures;

  describe(`OversightStore contract: ${name}`, () => {
    const fixtures: OversightStoreFixture[] = [];

    afterEach(async () => {
      for (const fixture of fixtures.splice(0)) await fixture.close?.();
    });

    async function open(needs: OversightStoreNeeds = { empty: false }): Promise<OversightStoreFixture> {
      const fixture = await factory(needs);
      fixtures.push(fixture);
      return fixture;
    }

    it('creates, reads and commits with optimistic concurrency', async () => {
      const { store } = await open();
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
      expect(stored?.record).toEqual(approved);
      expect(stored?.votes).toEqual([voteOf(r)]);
      expect(stored?.transitions.map((t) => t.seq)).toEqual([1, 2]);
      // A stale writer (another engine) gets a retryable conflict and changes nothing.
      const stale = store.commit({
        requestId: r.requestId,
        expectedVersion: 1,
        record: { ...r, version: 2 },
      });
      const error = await expectEnablementRejection(stale, 'PL-409', 'changed');
      expect(error.retryable).toBe(true);
      expect((await store.get(r.requestId))?.record.state).toBe('APPROVED');
      await expectEnablementRejection(
        store.commit({ requestId: newUuid(), expectedVersion: 1, record: r }),
        'OV-404',
      );
      expect(await store.get(newUuid())).toBeUndefined();
    });

    it('hands a record and its creation back equal, undefined members included', async () => {
      const { store } = await open();
      const r = record();
      await store.create(r, created(r));
      const stored = await store.get(r.requestId);
      expect(stored?.record).toEqual(r);
      expect('sandboxId' in (stored?.record.request ?? {})).toBe(true);
      expect(stored?.transitions).toEqual([created(r)]);
      expect(stored?.votes).toEqual([]);
    });

    it('lets exactly one of two engines racing on one version commit', async () => {
      const { store, openPeer } = await open();
      const peer = (await openPeer?.()) ?? store;
      const r = record();
      await store.create(r, created(r));
      const attempt = (engine: OversightStore, state: 'APPROVED' | 'DENIED') =>
        engine.commit({
          requestId: r.requestId,
          expectedVersion: 1,
          record: { ...r, version: 2, state, deadlineAt: undefined },
          transitions: [
            {
              ...created(r),
              seq: 2,
              from: 'PENDING',
              to: state,
              reason: state === 'APPROVED' ? 'approved' : 'denied',
            },
          ],
        });
      const results = await Promise.allSettled([attempt(store, 'APPROVED'), attempt(peer, 'DENIED')]);
      expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((x) => x.status === 'rejected');
      expect(loser?.reason).toMatchObject({ code: 'PL-409', retryable: true });
      const stored = await store.get(r.requestId);
      expect(stored?.transitions).toHaveLength(2);
      expect(stored?.record.version).toBe(2);
      expect(stored?.record.state).toBe(stored?.transitions[1]?.to);
    });

    it('refuses malformed changes: wrong version, foreign rows, a second vote, gaps in transitions; nothing half-applied', async () => {
      const { store } = await open();
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
      const other = record();
      await expectEnablementRejection(store.create({ ...other, version: 2 }, created(other)), 'PL-400');
      expect(await store.get(other.requestId)).toBeUndefined();
      const stored = await store.get(r.requestId);
      expect(stored?.record.version).toBe(2);
      expect(stored?.votes).toHaveLength(1);
      expect(stored?.transitions).toHaveLength(1);
    });

    it('bounds votes and transitions per request (PL-409), atomically', async () => {
      const { store } = await open();
      const r = record();
      await store.create(r, created(r));
      const many = Array.from({ length: 32 }, (_, i) => ({
        ...created(r),
        seq: i + 2,
        reason: 'escalated' as const,
      }));
      await expectEnablementRejection(
        store.commit({
          requestId: r.requestId,
          expectedVersion: 1,
          record: { ...r, version: 2 },
          transitions: many,
        }),
        'PL-409',
      );
      const stored = await store.get(r.requestId);
      expect(stored?.record.version).toBe(1);
      expect(stored?.transitions).toHaveLength(1);
    });

    it('keeps private frozen copies that callers cannot change', async () => {
      const { store } = await open();
      const r = record();
      const mutable = JSON.parse(JSON.stringify(r.request));
      await store.create({ ...r, request: mutable }, created(r));
      mutable.action.parameters.amount = 999;
      const stored = await store.get(r.requestId);
      expect(stored?.record.request.action.parameters).toEqual({ amount: 1, $ref: 'not a tag' });
      expect(Object.isFrozen(stored?.record.request.action)).toBe(true);
    });

    it('at the bound forgets the request that became final longest ago; full of open ones it refuses', async () => {
      const { store } = await open({ empty: true, maxRequests: 2 });
      const first = record();
      const second = record();
      await store.create(first, created(first));
      await store.create(second, created(second));
      const third = record();
      const error = await expectEnablementRejection(store.create(third, created(third)), 'PL-503', 'full');
      expect(error.retryable).toBe(true);
      expect(await store.get(third.requestId)).toBeUndefined();
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

    it('watch (when the store has it): told of every committed create and commit, by any peer, and only those', async (context) => {
      const { store, openPeer } = await open();
      const peer = (await openPeer?.()) ?? store;
      if (peer.watch === undefined || store.watch === undefined) {
        context.skip('this store has no watch');
        return;
      }
      const seen: string[] = [];
      const stop = await peer.watch((change) => seen.push(`${change.requestId}:${change.version}`));
      const sawAll = (...expected: string[]) =>
        vi.waitFor(() => expect(seen).toEqual(expect.arrayContaining(expected)), { timeout: 10_000 });
      const r = record();
      await store.create(r, created(r));
      await sawAll(`${r.requestId}:1`);
      await store.commit({ requestId: r.requestId, expectedVersion: 1, record: { ...r, version: 2 } });
      await sawAll(`${r.requestId}:2`);
      // Refused changes tell nobody: a stale version, an unknown id, a duplicate create.
      await expectEnablementRejection(
        store.commit({ requestId: r.requestId, expectedVersion: 1, record: { ...r, version: 2 } }),
        'PL-409',
      );
      const ghost = newUuid();
      await expectEnablementRejection(
        store.commit({
          requestId: ghost,
          expectedVersion: 3,
          record: { ...r, requestId: ghost, version: 4 },
        }),
        'OV-404',
      );
      await expectEnablementRejection(store.create(r, created(r)), 'PL-409');
      // A marker committed after them: once it is seen, anything sent before it has been too.
      const marker = record();
      await store.create(marker, created(marker));
      await sawAll(`${marker.requestId}:1`);
      expect(seen.filter((x) => x.startsWith(ghost))).toEqual([]);
      expect(seen.filter((x) => x === `${r.requestId}:1`)).toHaveLength(1);
      expect(seen.filter((x) => x === `${r.requestId}:2`)).toHaveLength(1);
      // After stop, nothing more reaches it (another watcher proves the change was announced).
      stop();
      const other: string[] = [];
      const stopOther = await peer.watch((change) => other.push(change.requestId));
      const late = record();
      await store.create(late, created(late));
      await vi.waitFor(() => expect(other).toContain(late.requestId), { timeout: 10_000 });
      expect(seen.filter((x) => x.startsWith(late.requestId))).toEqual([]);
      stopOther();
      // A throwing watcher does not keep the change from the others.
      const calm: string[] = [];
      const stopThrowing = await peer.watch(() => {
        throw new Error('watcher failure');
      });
      const stopCalm = await peer.watch((change) => calm.push(change.requestId));
      const last = record();
      await store.create(last, created(last));
      await vi.waitFor(() => expect(calm).toContain(last.requestId), { timeout: 10_000 });
      stopThrowing();
      stopCalm();
    });

    it('lists by state, agent and approver in pages; listOpen pages open requests only', async () => {
      const { store } = await open({ empty: true });
      const { agent, approver } = oversightFixtures;
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
      const r0 = records[0] as OversightRequestRecord;
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
    });
  });
}
