import { Decimal, newUuid, type Uuid } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
// Only the package's public API: this contract suite can move to @creto/testing as is.
import {
  buildInvoice,
  type EventCommit,
  type Measurement,
  type MeteringStore,
  measure,
  type Quota,
  type Subscription,
  type UsageRecord,
  validateMeter,
  validatePlan,
} from '../index.js';
import { createMemoryMeteringStore } from './memory.js';

const MINUTE = 60_000_000_000n;
const DAY = 1440n * MINUTE;
const P0 = 1_767_225_600_000_000_000n; // period 0 start (daily periods in these fixtures)
const P1 = P0 + DAY;
const P2 = P1 + DAY;
const AGENT = 'agent:nhi:ed25519:test-agent';

const plan = validatePlan({
  id: 'p',
  name: 'P',
  currency: 'USD',
  interval: 'day',
  charges: [{ id: 'c', meterId: 'tokens', model: { type: 'per_unit', unitPrice: '1' } }],
});

const meters = {
  tokens: validateMeter({
    id: 'tokens',
    eventType: 'use',
    aggregation: 'sum',
    valuePath: 'value',
    groupBy: { model: 'properties.model' },
  }),
  calls: validateMeter({ id: 'calls', eventType: 'use', aggregation: 'count' }),
  peak: validateMeter({ id: 'peak', eventType: 'use', aggregation: 'max', valuePath: 'value' }),
  last: validateMeter({ id: 'last', eventType: 'use', aggregation: 'latest', valuePath: 'value' }),
  users: validateMeter({
    id: 'users',
    eventType: 'use',
    aggregation: 'unique_count',
    valuePath: 'properties.user',
  }),
};

function subscription(id: string = newUuid(), agents: string[] = [AGENT]): Subscription {
  return Object.freeze({
    id: id as Uuid,
    organizationId: 'org',
    billingContact: 'billing@example.com',
    interval: 'day',
    anchor: P0,
    startsAt: P0,
    createdAt: P0,
    phases: [{ planId: 'p', from: P0 }],
    agents,
    status: 'active',
    endsAt: null,
    invoicedThrough: P0,
  });
}

function measurements(value: string, model = 'a', user = 'u1'): Measurement[] {
  const record: UsageRecord = {
    source: 'host',
    eventType: 'use',
    agentNhi: AGENT,
    value: Decimal.parse(value),
    properties: { model, user },
    derived: {},
  };
  return Object.values(meters).map((m) => measure(m, record));
}

let seq = 0;
function commit(
  subscriptionId: string,
  options: {
    scope?: string;
    at?: bigint;
    usage?: bigint;
    ingestPeriod?: bigint;
    grace?: boolean;
    value?: string;
    model?: string;
    user?: string;
  } = {},
): EventCommit {
  seq++;
  const at = options.at ?? P0 + MINUTE;
  const ingestStart = options.ingestPeriod ?? P0;
  return {
    idempotencyScope: options.scope ?? `host:${subscriptionId}:k${seq}`,
    idempotencyExpiresAt: at + 7n * DAY,
    event: {
      eventId: newUuid(),
      source: 'host',
      eventType: 'use',
      subscriptionId,
      agentNhi: AGENT,
      idempotencyKey: `k${seq}`,
      occurredAt: at,
      ingestedAt: at,
      billedAt: at,
      usagePeriodStart: options.usage ?? P0,
      properties: {},
      value: options.value ?? '1',
    },
    ingestPeriod: { start: ingestStart, end: ingestStart + DAY },
    graceExpired: options.grace ?? false,
    bucketStart: at - (at % MINUTE),
    measurements: measurements(options.value ?? '1', options.model, options.user),
  };
}

function invoiceFor(subscriptionId: string, periodStart: bigint) {
  return buildInvoice({
    invoiceId: newUuid(),
    subscriptionId,
    organizationId: 'org',
    plan,
    periodStart,
    periodEnd: periodStart + DAY,
    issuedAt: periodStart + DAY,
    usage: [{ chargeId: 'c', groups: {}, quantity: Decimal.parse('3') }],
  });
}

const aggregateValues = async (store: MeteringStore, subscriptionId: string, meterId: string) =>
  (await store.periodAggregates({ subscriptionId, meterId })).map((r) => r.state.value.toString());

/**
 * The `MeteringStore` contract: every implementation (memory here; PostgreSQL/PGlite later) must
 * pass it. Written against the public API only, so it can move to `@creto/testing/contracts`.
 */
export function meteringStoreContract(name: string, makeStore: () => MeteringStore): void {
  describe(`MeteringStore contract: ${name}`, () => {
    async function withSub() {
      const store = makeStore();
      await store.putPlan(plan);
      const sub = subscription();
      await store.createSubscription(sub);
      return { store, sub };
    }

    it('commits an event with its aggregates and key as one step; a duplicate changes nothing', async () => {
      const { store, sub } = await withSub();
      const first = commit(sub.id, { scope: 'same', value: '5' });
      expect(await store.commitEvent(first)).toEqual({
        status: 'stored',
        kind: 'regular',
        invoicePeriodStart: P0,
      });
      expect(await store.isDuplicate('same', P0 + MINUTE)).toBe(true);
      expect(await store.commitEvent(commit(sub.id, { scope: 'same', value: '7' }))).toEqual({
        status: 'duplicate',
      });
      expect(await aggregateValues(store, sub.id, 'tokens')).toEqual(['5']);
      expect(await store.listEvents({ subscriptionId: sub.id })).toHaveLength(1);
      const [event] = await store.listEvents({ subscriptionId: sub.id });
      expect(event).toMatchObject({ eventId: first.event.eventId, invoicePeriodStart: P0, value: '5' });
    });

    it('lets exactly one of two concurrent commits of one key through', async () => {
      const { store, sub } = await withSub();
      const results = await Promise.all([
        store.commitEvent(commit(sub.id, { scope: 'race', value: '1' })),
        store.commitEvent(commit(sub.id, { scope: 'race', value: '1' })),
        store.commitEvent(commit(sub.id, { scope: 'race', value: '1' })),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
      expect(await aggregateValues(store, sub.id, 'tokens')).toEqual(['1']);
    });

    it('forgets a key once it expires', async () => {
      const { store, sub } = await withSub();
      await store.commitEvent(commit(sub.id, { scope: 'k' }));
      const later = P0 + 8n * DAY;
      expect(await store.isDuplicate('k', later)).toBe(false);
      expect(
        (await store.commitEvent(commit(sub.id, { scope: 'k', at: later, ingestPeriod: later }))).status,
      ).toBe('stored');
    });

    it('aggregates sum, count, max, latest and unique count, per group, period and minute', async () => {
      const { store, sub } = await withSub();
      await store.commitEvent(commit(sub.id, { value: '5', model: 'a', user: 'u1' }));
      await store.commitEvent(commit(sub.id, { value: '2', model: 'b', user: 'u2', at: P0 + 3n * MINUTE }));
      await store.commitEvent(commit(sub.id, { value: '3', model: 'a', user: 'u1', at: P0 + 2n * MINUTE }));
      expect((await aggregateValues(store, sub.id, 'tokens')).sort()).toEqual(['2', '8']);
      expect(await aggregateValues(store, sub.id, 'calls')).toEqual(['3']);
      expect(await aggregateValues(store, sub.id, 'peak')).toEqual(['5']);
      expect(await aggregateValues(store, sub.id, 'last')).toEqual(['2']); // billed last (P0 + 3 min)
      const [users] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'users' });
      expect([users?.state.value.toString(), [...(users?.state.distinct ?? [])].sort()]).toEqual([
        '2',
        ['u1', 'u2'],
      ]);
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
    });

    it('decides regular or adjustment atomically with closing a period', async () => {
      const { store, sub } = await withSub();
      // Late for P0, ingested in P1, P0 still open and within grace: regular in P0.
      expect(
        await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
      ).toMatchObject({
        kind: 'regular',
        invoicePeriodStart: P0,
      });
      // The grace period has passed: an adjustment in the ingest period.
      expect(
        await store.commitEvent(
          commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE, grace: true }),
        ),
      ).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      await store.closePeriod(sub.id, P0);
      expect(
        await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
      ).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      // Ingested in a period that is itself closed: carried into the next one.
      expect(await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P0 }))).toMatchObject({
        kind: 'adjustment',
        invoicePeriodStart: P1,
      });
      await store.closePeriod(sub.id, P1);
      expect(
        await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
      ).toMatchObject({
        invoicePeriodStart: P2,
      });
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

    it('refuses a commit for an unknown subscription', async () => {
      const { store } = await withSub();
      await expectEnablementRejection(store.commitEvent(commit('nope')), 'MT-404');
    });

    it('stores plans by id: the same plan again is fine, a different one conflicts', async () => {
      const store = makeStore();
      expect(await store.putPlan(plan)).toBe(plan);
      expect(await store.putPlan(plan)).toBe(plan);
      const other = validatePlan({ ...JSON.parse(JSON.stringify(plan)), name: 'Other' });
      await expectEnablementRejection(store.putPlan(other), 'MT-409');
      expect(await store.getPlan('p')).toBe(plan);
      expect(await store.getPlan('q')).toBeUndefined();
      expect((await store.listPlans()).map((p) => p.id)).toEqual(['p']);
    });

    it('binds each agent to one subscription, pages subscriptions by id and deletes with everything', async () => {
      const { store, sub } = await withSub();
      await expectEnablementRejection(store.createSubscription(subscription()), 'MT-409', /already bound/);
      await expectEnablementRejection(store.createSubscription(sub), 'MT-409');
      await expectEnablementRejection(store.updateSubscription(subscription('nope' as Uuid)), 'MT-404');
      const b = subscription(newUuid(), []);
      await store.createSubscription(b);
      await expectEnablementRejection(store.updateSubscription({ ...b, agents: [AGENT] }), 'MT-409');
      expect(await store.subscriptionOfAgent(AGENT)).toBe(sub.id);
      const ids = [sub.id, b.id].sort();
      expect((await store.listSubscriptions({ limit: 1 })).map((s) => s.id)).toEqual([ids[0]]);
      expect((await store.listSubscriptions({ after: ids[0], limit: 10 })).map((s) => s.id)).toEqual([
        ids[1],
      ]);
      expect(await store.listSubscriptions({ after: ids[1], limit: 10 })).toEqual([]);

      await store.commitEvent(commit(sub.id));
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

    it('keeps quotas per subscription', async () => {
      const { store, sub } = await withSub();
      const quota: Quota = {
        id: 'q',
        subscriptionId: sub.id,
        meterId: 'calls',
        limit: Decimal.parse('1'),
        overflow: 'allow',
        thresholds: [],
        updatedAt: P0,
      };
      await store.putQuota(quota);
      await store.putQuota({ ...quota, limit: Decimal.parse('2') });
      expect((await store.getQuota('q'))?.limit.toString()).toBe('2');
      expect(await store.listQuotas(sub.id)).toHaveLength(1);
      expect(await store.listQuotas('other')).toEqual([]);
      await expectEnablementRejection(
        store.putQuota({ ...quota, id: 'x', subscriptionId: 'nope' }),
        'MT-404',
      );
      expect(await store.deleteQuota('q')).toBe(true);
      expect(await store.deleteQuota('q')).toBe(false);
    });

    it('marks once until the marker expires', async () => {
      const store = makeStore();
      expect(await store.markOnce('m', P1, P0)).toBe(true);
      expect(await store.markOnce('m', P1, P0 + MINUTE)).toBe(false);
      expect(await store.markOnce('m', P2, P1)).toBe(true);
    });

    it('stores one invoice per subscription and period, and closes the period', async () => {
      const { store, sub } = await withSub();
      const first = invoiceFor(sub.id, P0);
      expect(await store.putInvoice(sub.id, P0, first)).toEqual({ invoice: first, created: true });
      expect(await store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0))).toEqual({
        invoice: first,
        created: false,
      });
      await store.putInvoice(sub.id, P1, invoiceFor(sub.id, P1));
      expect((await store.listInvoices(sub.id)).map((i) => i.periodStart)).toEqual([P0, P1]);
      expect(await store.getInvoice(sub.id, P2)).toBeUndefined();
      expect((await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P2, at: P2 }))).status).toBe(
        'stored',
      );
      const [late] = await store.listEvents({ subscriptionId: sub.id });
      expect(late?.invoicePeriodStart).toBe(P2);
      await expectEnablementRejection(store.putInvoice('nope', P0, first), 'MT-404');
    });
  });
}

meteringStoreContract('memory', () => createMemoryMeteringStore());

describe('createMemoryMeteringStore: bounds', () => {
  async function small(options: Parameters<typeof createMemoryMeteringStore>[0]) {
    const store = createMemoryMeteringStore(options);
    await store.putPlan(plan);
    const sub = subscription();
    await store.createSubscription(sub);
    return { store, sub };
  }

  it('refuses new keys at the deduplication bound (MT-503, retryable) and keeps everything stored', async () => {
    const { store, sub } = await small({ maxIdempotencyKeys: 2 });
    await store.commitEvent(commit(sub.id, { value: '1' }));
    await store.commitEvent(commit(sub.id, { value: '1' }));
    const error = await expectEnablementRejection(
      store.commitEvent(commit(sub.id, { value: '1' })),
      'MT-503',
    );
    expect(error.retryable).toBe(true);
    expect(await aggregateValues(store, sub.id, 'tokens')).toEqual(['2']);
    // Once the first keys expire, there is room again.
    const later = P0 + 8n * DAY;
    expect((await store.commitEvent(commit(sub.id, { at: later, ingestPeriod: later }))).status).toBe(
      'stored',
    );
  });

  it('refuses a commit that needs new aggregate rows beyond the bound, atomically', async () => {
    const { store, sub } = await small({ maxPeriodRows: 5 });
    await store.commitEvent(commit(sub.id, { model: 'a' })); // 5 rows (one per meter)
    await expectEnablementRejection(store.commitEvent(commit(sub.id, { scope: 'x', model: 'b' })), 'MT-503');
    expect(await store.isDuplicate('x', P0 + MINUTE)).toBe(false);
    expect((await store.commitEvent(commit(sub.id, { model: 'a' }))).status).toBe('stored'); // existing rows
  });

  it('drops the oldest raw events and buckets, never the aggregates', async () => {
    const { store, sub } = await small({ maxEvents: 2, maxBuckets: 5 });
    for (let i = 0n; i < 4n; i++) await store.commitEvent(commit(sub.id, { at: P0 + i * MINUTE + 1n }));
    expect(await store.listEvents({ subscriptionId: sub.id })).toHaveLength(2);
    const buckets = await store.bucketAggregates({
      subscriptionId: sub.id,
      meterId: 'calls',
      from: P0,
      to: P1,
    });
    expect(buckets.length).toBeLessThanOrEqual(1);
    expect(await aggregateValues(store, sub.id, 'calls')).toEqual(['4']);
  });

  it('validates its options', () => {
    expectEnablementError(() => createMemoryMeteringStore({ maxEvents: 0 }), 'PL-400', /maxEvents/);
    expectEnablementError(() => createMemoryMeteringStore({ nope: 1 } as never), 'PL-400');
  });
});
