import { Decimal, newUuid, type Uuid } from '@creto/core';
import {
  buildInvoice,
  type CommitResult,
  type EventCommit,
  type Invoice,
  type Measurement,
  type MeteringStore,
  measure,
  type Plan,
  type Quota,
  type Subscription,
  type UsageRecord,
  validateMeter,
  validatePlan,
} from '@creto/metering';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What a test needs from the store a {@link MeteringStoreFactory} returns. */
export interface MeteringStoreNeeds {
  /**
   * True when the test lists or counts across the whole store (plans, subscriptions, every
   * quota): the store must hold nothing yet. Otherwise it may be shared with other tests, whose
   * subscriptions, agents, deduplication keys and markers never collide with this one's.
   */
  readonly empty: boolean;
}

/** What a {@link MeteringStoreFactory} returns for one test. */
export interface MeteringStoreFixture {
  /** The store under test. */
  readonly store: MeteringStore;
  /**
   * Another store on the same data through another connection (another process's view), for
   * the concurrency tests; they race `store` against itself when absent.
   */
  openPeer?(): Promise<MeteringStore>;
  /** Frees what the fixture holds (connections, schemas), after each test. */
  close?(): Promise<void>;
}

/** Builds a store for one test. */
export type MeteringStoreFactory = (
  needs: MeteringStoreNeeds,
) => MeteringStoreFixture | Promise<MeteringStoreFixture>;

/** Options of {@link meteringStoreContract}. */
export interface MeteringStoreContractOptions {
  /** Commits raced at once by the concurrency tests (20 by default, at least 2). */
  readonly concurrency?: number;
}

/** Options of {@link MeteringFixtures.commit}. */
export interface MeteringCommitOptions {
  /** Deduplication scope (unique by default). */
  readonly scope?: string;
  /** When the usage was billed and ingested (`P0` + 1 minute by default). */
  readonly at?: bigint;
  /** Start of the usage period (`P0` by default). */
  readonly usage?: bigint;
  /** Start of the ingest period (`P0` by default). */
  readonly ingestPeriod?: bigint;
  /** The usage period's grace period has passed. */
  readonly grace?: boolean;
  /** The event's value, decimal text (`'1'` by default). */
  readonly value?: string;
  /** The `model` group of the `tokens` meter (`'a'` by default). */
  readonly model?: string;
  /** The value the `users` meter counts (`'u1'` by default). */
  readonly user?: string;
}

/**
 * The documents {@link meteringStoreContract} works with, for an implementation's own tests
 * beyond the contract. Periods are days; five meters read each event (`tokens` sum grouped by
 * model, `calls` count, `peak` max, `last` latest, `users` unique count).
 */
export interface MeteringFixtures {
  /** One minute in ns. */
  readonly MINUTE: bigint;
  /** One day (a billing period) in ns. */
  readonly DAY: bigint;
  /** Start of the first period (2026-01-01T00:00:00Z). */
  readonly P0: bigint;
  /** Start of the second period. */
  readonly P1: bigint;
  /** Start of the third period. */
  readonly P2: bigint;
  /** The agent every event is attributed to. */
  readonly AGENT: string;
  /** Plan `p`: a base fee of 10.00 USD and a per-unit charge on `tokens`. */
  readonly plan: Plan;
  /** An active daily subscription to `plan` from `P0`, binding `agents` (`[AGENT]` by default). */
  subscription(id?: string, agents?: readonly string[]): Subscription;
  /** An event of `AGENT` on the subscription, with its five measurements. */
  commit(subscriptionId: string, options?: MeteringCommitOptions): EventCommit;
  /** The invoice of one period (3 tokens). */
  invoiceFor(subscriptionId: string, periodStart: bigint): Invoice;
  /** The values of a meter's period aggregate rows, as text. */
  periodValues(store: MeteringStore, subscriptionId: string, meterId: string): Promise<string[]>;
}

const MINUTE = 60_000_000_000n;
const DAY = 1440n * MINUTE;
const P0 = 1_767_225_600_000_000_000n;
const P1 = P0 + DAY;
const P2 = P1 + DAY;
const AGENT = 'agent:nhi:ed25519:test-agent';

let cached: { plan: Plan; meters: ReturnType<typeof validateMeter>[] } | undefined;
// Built on first use, so that importing the contracts entry validates nothing.
const documents = () => {
  cached ??= {
    plan: validatePlan({
      id: 'p',
      name: 'P',
      currency: 'USD',
      interval: 'day',
      baseFee: '10.00',
      charges: [{ id: 'c', meterId: 'tokens', model: { type: 'per_unit', unitPrice: '0.000015' } }],
    }),
    meters: [
      validateMeter({
        id: 'tokens',
        eventType: 'use',
        aggregation: 'sum',
        valuePath: 'value',
        groupBy: { model: 'properties.model' },
      }),
      validateMeter({ id: 'calls', eventType: 'use', aggregation: 'count' }),
      validateMeter({ id: 'peak', eventType: 'use', aggregation: 'max', valuePath: 'value' }),
      validateMeter({ id: 'last', eventType: 'use', aggregation: 'latest', valuePath: 'value' }),
      validateMeter({
        id: 'users',
        eventType: 'use',
        aggregation: 'unique_count',
        valuePath: 'properties.user',
      }),
    ],
  };
  return cached;
};

let commitSeq = 0;

/** The fixtures of {@link meteringStoreContract}; see {@link MeteringFixtures}. */
export const meteringFixtures: MeteringFixtures = Object.freeze({
  MINUTE,
  DAY,
  P0,
  P1,
  P2,
  AGENT,
  get plan(): Plan {
    return documents().plan;
  },
  subscription(id: string = newUuid(), agents: readonly string[] = [AGENT]): Subscription {
    return Object.freeze({
      id: id as Uuid,
      organizationId: 'org',
      billingContact: 'billing@example.com',
      interval: 'day',
      anchor: P0,
      startsAt: P0,
      createdAt: P0,
      phases: [{ planId: 'p', from: P0 }],
      agents: [...agents],
      status: 'active',
      endsAt: null,
      invoicedThrough: P0,
    });
  },
  commit(subscriptionId: string, options: MeteringCommitOptions = {}): EventCommit {
    commitSeq++;
    const at = options.at ?? P0 + MINUTE;
    const ingestStart = options.ingestPeriod ?? P0;
    const value = options.value ?? '1';
    const model = options.model ?? 'a';
    const record: UsageRecord = {
      source: 'host',
      eventType: 'use',
      agentNhi: AGENT,
      value: Decimal.parse(value),
      properties: { model, user: options.user ?? 'u1' },
      derived: {},
    };
    const measurements: Measurement[] = documents().meters.map((m) => measure(m, record));
    return {
      idempotencyScope: options.scope ?? `host:${subscriptionId}:k${commitSeq}-${newUuid()}`,
      idempotencyExpiresAt: at + 7n * DAY,
      event: {
        eventId: newUuid(),
        source: 'host',
        eventType: 'use',
        subscriptionId,
        agentNhi: AGENT,
        idempotencyKey: `k${commitSeq}`,
        occurredAt: at,
        ingestedAt: at,
        billedAt: at,
        usagePeriodStart: options.usage ?? P0,
        properties: { model },
        value,
      },
      ingestPeriod: { start: ingestStart, end: ingestStart + DAY },
      graceExpired: options.grace ?? false,
      bucketStart: at - (at % MINUTE),
      measurements,
    };
  },
  invoiceFor(subscriptionId: string, periodStart: bigint): Invoice {
    return buildInvoice({
      invoiceId: newUuid(),
      subscriptionId,
      organizationId: 'org',
      plan: documents().plan,
      periodStart,
      periodEnd: periodStart + DAY,
      issuedAt: periodStart + DAY,
      usage: [{ chargeId: 'c', groups: {}, quantity: Decimal.parse('3') }],
    });
  },
  async periodValues(store: MeteringStore, subscriptionId: string, meterId: string): Promise<string[]> {
    return (await store.periodAggregates({ subscriptionId, meterId })).map((r) => r.state.value.toString());
  },
});

/**
 * The contract every {@link MeteringStore} must pass (spec §4.1, §7.3, §9.1, §9.2): an event,
 * its aggregates and its deduplication key committed as one step, exactly one of concurrent
 * commits of a key, no lost increment under concurrency, key expiry, the five aggregations per
 * group, period and minute with exact decimals, regular vs adjustment decided atomically with
 * closing a period (also racing an invoice), plans, subscriptions with agent bindings and
 * cascading deletion, quotas, fire-once markers and one invoice per period. Values are compared
 * with `toEqual` (a durable store returns copies). Call it at the top level of a test file (or
 * inside a `describe`); it registers one `describe` block.
 *
 * @example
 * ```ts
 * meteringStoreContract('memory', () => ({ store: createMemoryMeteringStore() }));
 * ```
 */
export function meteringStoreContract(
  name: string,
  factory: MeteringStoreFactory,
  options: MeteringStoreContractOptions = {},
): void {
  const concurrency = Math.max(2, Math.trunc(options.concurrency ?? 20));
  const { plan, subscription, commit, invoiceFor, periodValues: values } = meteringFixtures;

  describe(`MeteringStore contract: ${name}`, () => {
    const fixtures: MeteringStoreFixture[] = [];
    // Unique per test: a shared store never mixes two tests' agents, keys or markers.
    let tag: string;
    let agent: string;
    const scope = (suffix: string) => `${tag}:${suffix}`;

    beforeEach(() => {
      tag = globalThis.crypto.randomUUID();
      agent = `${AGENT}:${tag}`;
    });

    afterEach(async () => {
      for (const fixture of fixtures.splice(0)) await fixture.close?.();
    });

    async function open(empty = false): Promise<MeteringStoreFixture> {
      const fixture = await factory({ empty });
      fixtures.push(fixture);
      return fixture;
    }

    async function withSub(empty = false) {
      const fixture = await open(empty);
      const { store } = fixture;
      await store.putPlan(plan);
      const sub = subscription(newUuid(), [empty ? AGENT : agent]);
      await store.createSubscription(sub);
      return { fixture, store, sub };
    }

    /** `concurrency` stores taking turns between `store` and its peer. */
    async function racers(fixture: MeteringStoreFixture): Promise<MeteringStore[]> {
      const peer = (await fixture.openPeer?.()) ?? fixture.store;
      return Array.from({ length: concurrency }, (_, i) => (i % 2 === 0 ? fixture.store : peer));
    }

    it('commits an event with its aggregates and key as one step; a duplicate changes nothing', async () => {
      const { store, sub } = await withSub();
      const first = commit(sub.id, { scope: scope('same'), value: '5.50' });
      expect(await store.commitEvent(first)).toEqual({
        status: 'stored',
        kind: 'regular',
        invoicePeriodStart: P0,
      });
      expect(await store.isDuplicate(scope('same'), P0 + MINUTE)).toBe(true);
      expect(await store.commitEvent(commit(sub.id, { scope: scope('same'), value: '7' }))).toEqual({
        status: 'duplicate',
      });
      expect(await values(store, sub.id, 'tokens')).toEqual(['5.50']);
      expect(await store.listEvents({ subscriptionId: sub.id })).toEqual([
        { ...first.event, invoicePeriodStart: P0 },
      ]);
    });

    it('lets exactly one of concurrent commits of one key through, also from another connection', async () => {
      const { fixture, store, sub } = await withSub();
      const stores = await racers(fixture);
      const results = await Promise.all(
        stores.map((s) => s.commitEvent(commit(sub.id, { scope: scope('race') }))),
      );
      expect(results.filter((r) => r.status === 'stored')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'duplicate')).toHaveLength(concurrency - 1);
      expect(await values(store, sub.id, 'tokens')).toEqual(['1']);
      expect(await store.listEvents({ subscriptionId: sub.id })).toHaveLength(1);
    });

    it('keeps concurrent commits of different keys, losing no increment', async () => {
      const { fixture, store, sub } = await withSub();
      const stores = await racers(fixture);
      await Promise.all(stores.map((s) => s.commitEvent(commit(sub.id, { value: '0.25' }))));
      const total = stores.reduce((sum) => sum.add(Decimal.parse('0.25')), Decimal.ZERO);
      expect(await values(store, sub.id, 'tokens')).toEqual([total.toString()]); // '5.00' for 20
      expect(await values(store, sub.id, 'calls')).toEqual([String(concurrency)]);
    });

    it('forgets a key once it expires', async () => {
      const { store, sub } = await withSub();
      await store.commitEvent(commit(sub.id, { scope: scope('k') }));
      const later = P0 + 8n * DAY;
      expect(await store.isDuplicate(scope('k'), later)).toBe(false);
      expect(
        (await store.commitEvent(commit(sub.id, { scope: scope('k'), at: later, ingestPeriod: later })))
          .status,
      ).toBe('stored');
    });

    it('aggregates sum, count, max, latest and unique count, per group, period and minute, exactly', async () => {
      const { store, sub } = await withSub();
      await store.commitEvent(commit(sub.id, { value: '5', model: 'a', user: 'u1' }));
      await store.commitEvent(
        commit(sub.id, { value: '2.000000000000000001', model: 'b', user: 'u2', at: P0 + 3n * MINUTE }),
      );
      await store.commitEvent(commit(sub.id, { value: '3', model: 'a', user: 'u1', at: P0 + 2n * MINUTE }));
      expect((await values(store, sub.id, 'tokens')).sort()).toEqual(['2.000000000000000001', '8']);
      expect(await values(store, sub.id, 'calls')).toEqual(['3']);
      expect(await values(store, sub.id, 'peak')).toEqual(['5']);
      // `latest` keeps the value billed last (P0 + 3 min), not the one committed last.
      expect(await values(store, sub.id, 'last')).toEqual(['2.000000000000000001']);
      const [last] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'last' });
      expect(last?.state).toMatchObject({ aggregation: 'latest', events: 3n, latestAt: P0 + 3n * MINUTE });
      const [users] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'users' });
      // Distinct values in first-seen order.
      expect([users?.state.value.toString(), users?.state.distinct]).toEqual(['2', ['u1', 'u2']]);
      const buckets = await store.bucketAggregates({
        subscriptionId: sub.id,
        meterId: 'tokens',
        from: P0,
        to: P0 + 3n * MINUTE,
      });
      const sorted = [...buckets].sort((x, y) => Number(x.bucketStart - y.bucketStart));
      expect(sorted.map((b) => [b.bucketStart - P0, b.groups.model, b.state.value.toString()])).toEqual([
        [MINUTE, 'a', '5'],
        [2n * MINUTE, 'a', '3'],
      ]);
      expect(
        await store.bucketAggregates({
          subscriptionId: sub.id,
          meterId: 'tokens',
          from: P0,
          to: P1,
          agentNhi: 'other',
        }),
      ).toEqual([]);
      expect(await store.periodAggregates({ subscriptionId: sub.id, usagePeriodStart: P1 })).toEqual([]);
      const [row] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'peak' });
      expect(row).toMatchObject({
        subscriptionId: sub.id,
        agentNhi: AGENT,
        groupKey: '{}',
        usagePeriodStart: P0,
        invoicePeriodStart: P0,
        ingestPeriodStart: P0,
      });
      expect(Object.isFrozen(row)).toBe(true);
    });

    it('adds two measurements of one row in one event both', async () => {
      const { store, sub } = await withSub();
      const c = commit(sub.id, { value: '2' });
      const tokens = c.measurements.find((m) => m.meterId === 'tokens');
      if (tokens === undefined) throw new Error('no tokens measurement');
      await store.commitEvent({ ...c, measurements: [tokens, { ...tokens, value: Decimal.parse('3') }] });
      const [row] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'tokens' });
      expect([row?.state.value.toString(), row?.state.events]).toEqual(['5', 2n]);
    });

    it('keeps max on ties and at zero', async () => {
      const { store, sub } = await withSub();
      await store.commitEvent(commit(sub.id, { value: '0.00' }));
      expect(await values(store, sub.id, 'peak')).toEqual(['0']);
      await store.commitEvent(commit(sub.id, { value: '4.0' }));
      await store.commitEvent(commit(sub.id, { value: '4.000' }));
      expect(await values(store, sub.id, 'peak')).toEqual(['4.0']);
    });

    it('decides regular or adjustment atomically with closing a period', async () => {
      const { store, sub } = await withSub();
      const late = { usage: P0, ingestPeriod: P1, at: P1 + MINUTE };
      // Late for P0, ingested in P1, P0 still open and within grace: regular in P0.
      expect(await store.commitEvent(commit(sub.id, late))).toMatchObject({
        kind: 'regular',
        invoicePeriodStart: P0,
      });
      // The grace period has passed: an adjustment in the ingest period.
      expect(await store.commitEvent(commit(sub.id, { ...late, grace: true }))).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      await store.closePeriod(sub.id, P0);
      expect(await store.commitEvent(commit(sub.id, late))).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      // Ingested in a period that is itself closed: carried into the next one.
      expect(await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P0 }))).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      await store.closePeriod(sub.id, P1);
      expect(await store.commitEvent(commit(sub.id, late))).toMatchObject({ invoicePeriodStart: P2 });
      const rows = await store.periodAggregates({
        subscriptionId: sub.id,
        meterId: 'calls',
        invoicePeriodStart: P1,
      });
      expect(rows.reduce((n, r) => n + r.state.events, 0n)).toBe(3n);
      const quota = await store.periodAggregates({
        subscriptionId: sub.id,
        meterId: 'calls',
        ingestPeriodStart: P1,
      });
      expect(quota.reduce((n, r) => n + r.state.events, 0n)).toBe(4n);
    });

    it('never loses usage racing with the invoice: each event is regular in P0 or an adjustment in P1', async () => {
      const { store, sub } = await withSub();
      const late = Array.from({ length: 10 }, () =>
        commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE }),
      );
      const results = await Promise.all([
        ...late.slice(0, 5).map((c) => store.commitEvent(c)),
        store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0)).then(() => undefined),
        ...late.slice(5).map((c) => store.commitEvent(c)),
      ]);
      const commits = results.filter((r): r is CommitResult => r !== undefined);
      expect(commits.filter((r) => r.status === 'stored')).toHaveLength(10);
      const all = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'calls' });
      expect(all.reduce((n, r) => n + r.state.events, 0n)).toBe(10n);
      // Each event is either regular in P0 (committed before the invoice closed P0) or an
      // adjustment carried into P1 (after): never both, never neither.
      let regular = 0n;
      for (const r of commits) {
        if (r.status !== 'stored') continue;
        const where = `${r.kind}:${r.invoicePeriodStart === P0 ? 'P0' : r.invoicePeriodStart === P1 ? 'P1' : '?'}`;
        expect(['regular:P0', 'adjustment:P1']).toContain(where);
        if (r.kind === 'regular') regular += 1n;
      }
      const inP0 = await store.periodAggregates({
        subscriptionId: sub.id,
        meterId: 'calls',
        invoicePeriodStart: P0,
      });
      expect(inP0.reduce((n, r) => n + r.state.events, 0n)).toBe(regular);
    });

    it('refuses a commit for an unknown subscription', async () => {
      const { store } = await withSub();
      await expectEnablementRejection(store.commitEvent(commit('nope')), 'MT-404');
    });

    it('stores plans by id: the same plan again is fine, a different one conflicts', async () => {
      const { store } = await open(true);
      expect(await store.putPlan(plan)).toEqual(plan);
      expect(await store.putPlan(plan)).toEqual(plan);
      await expectEnablementRejection(store.putPlan({ ...plan, name: 'Other' }), 'MT-409');
      const stored = await store.getPlan('p');
      expect(stored).toEqual(plan);
      expect(stored?.baseFee?.toString()).toBe('10.00');
      expect(Object.isFrozen(stored?.charges[0])).toBe(true);
      expect(await store.getPlan('q')).toBeUndefined();
      await store.putPlan({ ...plan, id: 'B' });
      await store.putPlan({ ...plan, id: 'a' });
      // Code-point order, as JavaScript's sort.
      expect((await store.listPlans()).map((p) => p.id)).toEqual(['B', 'a', 'p']);
    });

    it('binds each agent to one subscription, pages subscriptions by id and deletes with everything', async () => {
      const { store, sub } = await withSub(true);
      await expectEnablementRejection(store.createSubscription(subscription()), 'MT-409', /already bound/);
      await expectEnablementRejection(store.createSubscription(sub), 'MT-409');
      await expectEnablementRejection(store.updateSubscription(subscription('nope')), 'MT-404');
      const b = subscription(newUuid(), []);
      await store.createSubscription(b);
      await expectEnablementRejection(store.updateSubscription({ ...b, agents: [AGENT] }), 'MT-409');
      expect(await store.getSubscription(b.id)).toEqual(b); // the failed update changed nothing
      expect(await store.subscriptionOfAgent(AGENT)).toBe(sub.id);
      const ids = [sub.id, b.id].sort();
      expect((await store.listSubscriptions({ limit: 1 })).map((s) => s.id)).toEqual([ids[0]]);
      expect((await store.listSubscriptions({ after: ids[0], limit: 10 })).map((s) => s.id)).toEqual([
        ids[1],
      ]);
      expect(await store.listSubscriptions({ after: ids[1], limit: 10 })).toEqual([]);

      await store.commitEvent(commit(sub.id, { user: 'u9' }));
      const quota: Quota = {
        id: 'q1',
        subscriptionId: sub.id,
        meterId: 'calls',
        limit: Decimal.parse('10'),
        overflow: 'block',
        thresholds: [],
        updatedAt: P0,
      };
      await store.putQuota(quota);
      await store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0));
      expect(await store.deleteSubscription(sub.id)).toBe(true);
      expect(await store.deleteSubscription(sub.id)).toBe(false);
      expect(await store.getSubscription(sub.id)).toBeUndefined();
      expect(await store.subscriptionOfAgent(AGENT)).toBeUndefined();
      expect(await store.periodAggregates({ subscriptionId: sub.id })).toEqual([]);
      expect(
        await store.bucketAggregates({ subscriptionId: sub.id, meterId: 'calls', from: 0n, to: P2 }),
      ).toEqual([]);
      expect(await store.listEvents({ subscriptionId: sub.id })).toEqual([]);
      expect(await store.getQuota('q1')).toBeUndefined();
      expect(await store.listInvoices(sub.id)).toEqual([]);
      await store.updateSubscription({ ...b, agents: [AGENT] }); // the agent is free again
      expect(await store.subscriptionOfAgent(AGENT)).toBe(b.id);
    });

    it('keeps quotas per subscription, with their Decimals', async () => {
      const { store, sub } = await withSub(true);
      const quota: Quota = {
        id: 'q',
        subscriptionId: sub.id,
        meterId: 'calls',
        limit: Decimal.parse('1'),
        overflow: 'allow',
        thresholds: [Decimal.parse('0.8')],
        updatedAt: P0,
      };
      await store.putQuota(quota);
      await store.putQuota({ ...quota, limit: Decimal.parse('2.50') });
      expect((await store.getQuota('q'))?.limit.toString()).toBe('2.50');
      expect(await store.getQuota('q')).toEqual({ ...quota, limit: Decimal.parse('2.50') });
      expect(await store.listQuotas(sub.id)).toHaveLength(1);
      expect(await store.listQuotas()).toHaveLength(1);
      expect(await store.listQuotas('other')).toEqual([]);
      await expectEnablementRejection(
        store.putQuota({ ...quota, id: 'x', subscriptionId: 'nope' }),
        'MT-404',
      );
      expect(await store.deleteQuota('q')).toBe(true);
      expect(await store.deleteQuota('q')).toBe(false);
    });

    it('marks once until the marker expires', async () => {
      const { store } = await open();
      expect(await store.markOnce(scope('m'), P1, P0)).toBe(true);
      expect(await store.markOnce(scope('m'), P1, P0 + MINUTE)).toBe(false);
      expect(await store.markOnce(scope('m'), P2, P1)).toBe(true);
    });

    it('stores one invoice per subscription and period, and closes the period', async () => {
      const { store, sub } = await withSub();
      const first = invoiceFor(sub.id, P0);
      expect(await store.putInvoice(sub.id, P0, first)).toEqual({ invoice: first, created: true });
      const again = await store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0));
      expect(again).toEqual({ invoice: first, created: false });
      expect(again.invoice.total.toString()).toBe(first.total.toString());
      await store.putInvoice(sub.id, P1, invoiceFor(sub.id, P1));
      expect((await store.listInvoices(sub.id)).map((i) => i.periodStart)).toEqual([P0, P1]);
      expect(await store.getInvoice(sub.id, P2)).toBeUndefined();
      const late = await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P2, at: P2 }));
      expect(late.status).toBe('stored');
      const [event] = await store.listEvents({ subscriptionId: sub.id });
      expect(event?.invoicePeriodStart).toBe(P2);
      await expectEnablementRejection(store.putInvoice('nope', P0, first), 'MT-404');
    });
  });
}
