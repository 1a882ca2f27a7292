import { Decimal, EnablementError, newUuid } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import type { SqlClient } from '../sql/index.js';
import { createPostgresMeteringStore } from './store.js';
import type { EventCommitLike, MeasurementLike, MeterAggregationLike } from './types.js';

// Fixtures shaped as metering's types (built by hand: this package never imports a product).
const MINUTE = 60_000_000_000n;
const DAY = 1440n * MINUTE;
const P0 = 1_767_225_600_000_000_000n;
const P1 = P0 + DAY;
const P2 = P1 + DAY;
const AGENT = 'agent:nhi:ed25519:test-agent';

type Plan = {
  readonly id: string;
  readonly name: string;
  readonly currency: string;
  readonly interval: string;
  readonly baseFee: Decimal;
  readonly charges: readonly { readonly id: string; readonly meterId: string; readonly model: unknown }[];
};
const plan: Plan = Object.freeze({
  id: 'p',
  name: 'P',
  currency: 'USD',
  interval: 'day',
  baseFee: Decimal.parse('10.00'),
  charges: Object.freeze([
    { id: 'c', meterId: 'tokens', model: { type: 'per_unit', unitPrice: Decimal.parse('0.000015') } },
  ]),
});

function subscription(id: string = newUuid(), agents: string[] = [AGENT]) {
  return Object.freeze({
    id,
    organizationId: 'org',
    billingContact: 'billing@example.com',
    interval: 'day',
    anchor: P0,
    startsAt: P0,
    createdAt: P0,
    phases: [{ planId: 'p', from: P0 }],
    agents,
    status: 'active',
    endsAt: null as bigint | null,
    invoicedThrough: P0,
  });
}
type Subscription = ReturnType<typeof subscription>;

type Quota = {
  id: string;
  subscriptionId: string;
  meterId: string;
  limit: Decimal;
  overflow: string;
  thresholds: readonly Decimal[];
  updatedAt: bigint;
  agentNhi?: string;
};

function invoiceFor(subscriptionId: string, periodStart: bigint) {
  return Object.freeze({
    invoiceId: newUuid(),
    subscriptionId,
    organizationId: 'org',
    planId: 'p',
    currency: 'USD',
    periodStart,
    periodEnd: periodStart + DAY,
    issuedAt: periodStart + DAY,
    lines: [
      {
        chargeId: null,
        description: 'Base fee',
        groups: {},
        quantity: Decimal.parse('1'),
        unitPrice: Decimal.parse('10.00'),
        amount: Decimal.parse('10.00'),
      },
    ],
    subtotal: Decimal.parse('10.00'),
    total: Decimal.parse('10.00'),
    status: 'issued',
  });
}
type Invoice = ReturnType<typeof invoiceFor>;
type Docs = { plan: Plan; subscription: Subscription; quota: Quota; invoice: Invoice };

const METERS: [string, MeterAggregationLike][] = [
  ['tokens', 'sum'],
  ['calls', 'count'],
  ['peak', 'max'],
  ['last', 'latest'],
  ['users', 'unique_count'],
];

function measurements(value: string, model = 'a', user = 'u1'): MeasurementLike[] {
  return METERS.map(([meterId, aggregation]) => {
    const groups: Record<string, string> = meterId === 'tokens' ? { model } : {};
    return {
      meterId,
      aggregation,
      value:
        aggregation === 'count' || aggregation === 'unique_count' ? Decimal.parse('1') : Decimal.parse(value),
      distinct: aggregation === 'unique_count' ? user : undefined,
      groups,
      groupKey: JSON.stringify(groups),
    };
  });
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
): EventCommitLike {
  seq++;
  const at = options.at ?? P0 + MINUTE;
  const ingestStart = options.ingestPeriod ?? P0;
  return {
    idempotencyScope: options.scope ?? `host:${subscriptionId}:k${seq}-${newUuid()}`,
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
      properties: { model: options.model ?? 'a' },
      value: options.value ?? '1',
    },
    ingestPeriod: { start: ingestStart, end: ingestStart + DAY },
    graceExpired: options.grace ?? false,
    bucketStart: at - (at % MINUTE),
    measurements: measurements(options.value ?? '1', options.model, options.user),
  };
}

describeEachDriver('PostgresMeteringStore', (db) => {
  // Each test gets a schema of its own: plans, marks and agent bindings are global to a store.
  const fresh = async (client: SqlClient = db().client) => {
    const schema = db().newSchema();
    const { migrate } = await import('../migrations/index.js');
    await migrate(client, { schema });
    return { schema, store: createPostgresMeteringStore<Docs>({ client, schema }) };
  };
  // Most tests share the suite's schema (their subscriptions, agents and keys are unique);
  // `isolated` ones count or list across a whole store, so they get a schema of their own.
  const withSub = async (isolated = false) => {
    const { store, schema } = isolated
      ? await fresh()
      : {
          store: createPostgresMeteringStore<Docs>({ client: db().client, schema: db().schema }),
          schema: db().schema,
        };
    await store.putPlan(plan);
    const sub = subscription(newUuid(), isolated ? [AGENT] : [`${AGENT}:${newUuid()}`]);
    await store.createSubscription(sub);
    return { store, sub, schema };
  };
  const values = async (store: Awaited<ReturnType<typeof fresh>>['store'], sub: string, meterId: string) =>
    (await store.periodAggregates({ subscriptionId: sub, meterId })).map((r) => r.state.value.toString());

  it('commits an event with its aggregates and key as one step; a duplicate changes nothing', async () => {
    const { store, sub } = await withSub();
    const first = commit(sub.id, { scope: 'same', value: '5.50' });
    expect(await store.commitEvent(first)).toEqual({
      status: 'stored',
      kind: 'regular',
      invoicePeriodStart: P0,
    });
    expect(await store.isDuplicate('same', P0 + MINUTE)).toBe(true);
    expect(await store.commitEvent(commit(sub.id, { scope: 'same', value: '7' }))).toEqual({
      status: 'duplicate',
    });
    expect(await values(store, sub.id, 'tokens')).toEqual(['5.50']);
    const events = await store.listEvents({ subscriptionId: sub.id });
    expect(events).toEqual([{ ...first.event, invoicePeriodStart: P0 }]);
  });

  it('lets exactly one of concurrent commits of one key through, from two clients', async () => {
    const { store, sub, schema } = await withSub();
    const second = (await db().openSecond()) ?? db().client;
    const other = createPostgresMeteringStore<Docs>({ client: second, schema });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 === 0 ? store : other).commitEvent(commit(sub.id, { scope: 'race' })),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'stored',
    ]);
    expect(await values(store, sub.id, 'tokens')).toEqual(['1']);
    expect(await store.listEvents({ subscriptionId: sub.id })).toHaveLength(1);
  });

  it('keeps concurrent commits of different keys, losing no increment', async () => {
    const { store, sub, schema } = await withSub();
    const second = (await db().openSecond()) ?? db().client;
    const other = createPostgresMeteringStore<Docs>({ client: second, schema });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : other).commitEvent(commit(sub.id, { value: '0.25' })),
      ),
    );
    expect(await values(store, sub.id, 'tokens')).toEqual(['5.00']);
    expect(await values(store, sub.id, 'calls')).toEqual(['20']);
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
    expect(await values(store, sub.id, 'last')).toEqual(['2.000000000000000001']); // billed last (P0 + 3 min)
    const [users] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'users' });
    expect([users?.state.value.toString(), users?.state.distinct]).toEqual(['2', ['u1', 'u2']]);
    const [last] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'last' });
    expect(last?.state).toMatchObject({ aggregation: 'latest', events: 3n, latestAt: P0 + 3n * MINUTE });
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

  it('adds two measurements of one row in one event both, as the in-memory store', async () => {
    const { store, sub } = await withSub();
    const c = commit(sub.id, { value: '2' });
    const tokens = c.measurements[0] as MeasurementLike;
    await store.commitEvent({ ...c, measurements: [tokens, { ...tokens, value: Decimal.parse('3') }] });
    const [row] = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'tokens' });
    expect([row?.state.value.toString(), row?.state.events]).toEqual(['5', 2n]);
  });

  it('keeps max on ties and at zero, as the in-memory accumulator', async () => {
    const { store, sub } = await withSub();
    await store.commitEvent(commit(sub.id, { value: '0.00' }));
    expect(await values(store, sub.id, 'peak')).toEqual(['0']);
    await store.commitEvent(commit(sub.id, { value: '4.0' }));
    await store.commitEvent(commit(sub.id, { value: '4.000' }));
    expect(await values(store, sub.id, 'peak')).toEqual(['4.0']);
  });

  it('decides regular or adjustment atomically with closing a period', async () => {
    const { store, sub } = await withSub();
    expect(
      await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
    ).toMatchObject({ kind: 'regular', invoicePeriodStart: P0 });
    expect(
      await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE, grace: true })),
    ).toMatchObject({ kind: 'adjustment', invoicePeriodStart: P1 });
    await store.closePeriod(sub.id, P0);
    expect(
      await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
    ).toMatchObject({ kind: 'adjustment', invoicePeriodStart: P1 });
    expect(await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P0 }))).toMatchObject({
      kind: 'adjustment',
      invoicePeriodStart: P1,
    });
    await store.closePeriod(sub.id, P1);
    expect(
      await store.commitEvent(commit(sub.id, { usage: P0, ingestPeriod: P1, at: P1 + MINUTE })),
    ).toMatchObject({ invoicePeriodStart: P2 });
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
      store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0)),
      ...late.slice(5).map((c) => store.commitEvent(c)),
    ]);
    const commits = results.filter(
      (r): r is { status: 'stored'; kind: 'regular' | 'adjustment'; invoicePeriodStart: bigint } =>
        'status' in r && r.status === 'stored',
    );
    expect(commits).toHaveLength(10);
    const all = await store.periodAggregates({ subscriptionId: sub.id, meterId: 'calls' });
    expect(all.reduce((n, r) => n + r.state.events, 0n)).toBe(10n);
    // Each event is either regular in P0 (committed before the invoice closed P0) or an
    // adjustment carried into P1 (after): never both, never neither.
    for (const r of commits) {
      expect([
        `${r.kind}:${r.invoicePeriodStart === P0 ? 'P0' : r.invoicePeriodStart === P1 ? 'P1' : '?'}`,
      ]).toSatisfy(([x]: string[]) => x === 'regular:P0' || x === 'adjustment:P1');
    }
    const regular = commits.filter((r) => r.kind === 'regular').length;
    const inP0 = await store.periodAggregates({
      subscriptionId: sub.id,
      meterId: 'calls',
      invoicePeriodStart: P0,
    });
    expect(inP0.reduce((n, r) => n + r.state.events, 0n)).toBe(BigInt(regular));
  });

  it('refuses a commit for an unknown subscription, and a malformed one, storing nothing', async () => {
    const { store, sub } = await withSub();
    await expectEnablementRejection(store.commitEvent(commit('nope')), 'MT-404');
    const bad = commit(sub.id, { scope: 'bad' });
    await expectEnablementRejection(
      store.commitEvent({
        ...bad,
        measurements: [{ ...(bad.measurements[0] as MeasurementLike), value: 5 as never }],
      }),
      'MT-400',
    );
    await expectEnablementRejection(store.commitEvent({ ...bad, bucketStart: 1 as never }), 'MT-400');
    await expectEnablementRejection(store.commitEvent({ ...bad, idempotencyScope: 'a\u0000' }), 'MT-400');
    expect(await store.isDuplicate('bad', P0 + MINUTE)).toBe(false);
    expect(await store.listEvents({ subscriptionId: sub.id })).toEqual([]);
  });

  it('rolls the whole commit back when a statement fails midway: no key, no event, no aggregate', async () => {
    const { sub, schema } = await withSub();
    const inner = db().client;
    let n = 0;
    const failing: SqlClient = {
      driver: inner.driver,
      query: (text, params) => inner.query(text, params),
      transaction: (fn, options) =>
        inner.transaction(
          (tx) =>
            fn({
              query: (text, params) => {
                n += 1;
                // Statement 6: after the key, the event and the first aggregate rows were written.
                return n === 6 ? Promise.reject(new Error('process died')) : tx.query(text, params);
              },
            }),
          options,
        ),
      close: () => inner.close(),
    };
    const dying = createPostgresMeteringStore<Docs>({ client: failing, schema });
    await expect(dying.commitEvent(commit(sub.id, { scope: 'half' }))).rejects.toThrow('process died');
    const store = createPostgresMeteringStore<Docs>({ client: inner, schema });
    expect(await store.isDuplicate('half', P0 + MINUTE)).toBe(false);
    expect(await store.listEvents({ subscriptionId: sub.id })).toEqual([]);
    expect(await store.periodAggregates({ subscriptionId: sub.id })).toEqual([]);
    expect((await store.commitEvent(commit(sub.id, { scope: 'half' }))).status).toBe('stored');
  });

  it('stores plans by id: the same plan again is fine, a different one conflicts', async () => {
    const { store } = await fresh();
    expect(await store.putPlan(plan)).toBe(plan);
    expect(await store.putPlan(plan)).toEqual(plan);
    await expectEnablementRejection(store.putPlan({ ...plan, name: 'Other' }), 'MT-409');
    const stored = await store.getPlan('p');
    expect(stored).toEqual(plan);
    expect(stored?.baseFee.toString()).toBe('10.00');
    expect(Object.isFrozen(stored?.charges[0])).toBe(true);
    expect(await store.getPlan('q')).toBeUndefined();
    await store.putPlan({ ...plan, id: 'B' });
    await store.putPlan({ ...plan, id: 'a' });
    expect((await store.listPlans()).map((p) => p.id)).toEqual(['B', 'a', 'p']); // code-point order, as JS sort
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
    expect((await store.listSubscriptions({ after: ids[0], limit: 10 })).map((s) => s.id)).toEqual([ids[1]]);
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
    await expectEnablementRejection(store.putQuota({ ...quota, id: 'x', subscriptionId: 'nope' }), 'MT-404');
    expect(await store.deleteQuota('q')).toBe(true);
    expect(await store.deleteQuota('q')).toBe(false);
  });

  it('marks once until the marker expires, and purges expired keys and markers', async () => {
    const { store, sub } = await withSub(true);
    expect(await store.markOnce('m', P1, P0)).toBe(true);
    expect(await store.markOnce('m', P1, P0 + MINUTE)).toBe(false);
    expect(await store.markOnce('m', P2, P1)).toBe(true);
    await store.commitEvent(commit(sub.id, { scope: 'old' }));
    expect(await store.purgeExpired(P0)).toBe(0);
    expect(await store.purgeExpired(P0 + 30n * DAY)).toBe(2);
    expect(await store.isDuplicate('old', P0)).toBe(false);
  });

  it('stores one invoice per subscription and period, and closes the period', async () => {
    const { store, sub } = await withSub();
    const first = invoiceFor(sub.id, P0);
    expect(await store.putInvoice(sub.id, P0, first)).toEqual({ invoice: first, created: true });
    const again = await store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0));
    expect(again).toEqual({ invoice: first, created: false });
    expect(again.invoice.total.toString()).toBe('10.00');
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

  it('drops raw events and buckets past their retention, never the aggregates', async () => {
    const { schema } = await fresh();
    const store = createPostgresMeteringStore<Docs>({
      client: db().client,
      schema,
      eventRetentionMs: 90_000,
      bucketRetentionMs: 120_000,
    });
    await store.putPlan(plan);
    const sub = subscription(newUuid(), []);
    await store.createSubscription(sub);
    for (let i = 0n; i < 4n; i++) await store.commitEvent(commit(sub.id, { at: P0 + i * MINUTE + 1n }));
    expect((await store.listEvents({ subscriptionId: sub.id })).map((e) => e.billedAt)).toEqual([
      P0 + 2n * MINUTE + 1n,
      P0 + 3n * MINUTE + 1n,
    ]);
    const buckets = await store.bucketAggregates({
      subscriptionId: sub.id,
      meterId: 'calls',
      from: P0,
      to: P1,
    });
    expect(buckets.map((b) => b.bucketStart)).toEqual([P0 + 2n * MINUTE, P0 + 3n * MINUTE]);
    expect(await values(store, sub.id, 'calls')).toEqual(['4']);
    expect(await store.listEvents({ subscriptionId: sub.id, limit: 1 })).toHaveLength(1);
    expect(await store.listEvents({ subscriptionId: sub.id, from: P0 + 3n * MINUTE })).toHaveLength(1);
  });

  it('keeps everything across a restart (durable drivers)', async () => {
    const { reopen } = db();
    if (reopen === undefined) return;
    const { store, sub, schema } = await withSub();
    await store.commitEvent(commit(sub.id, { scope: 'durable', value: '1.25' }));
    await store.putInvoice(sub.id, P0, invoiceFor(sub.id, P0));
    const client = await reopen();
    const after = createPostgresMeteringStore<Docs>({ client, schema });
    expect(await after.isDuplicate('durable', P0 + MINUTE)).toBe(true);
    expect(await values(after, sub.id, 'tokens')).toEqual(['1.25']);
    expect(await after.getSubscription(sub.id)).toEqual(sub);
    expect((await after.getInvoice(sub.id, P0))?.subtotal.toString()).toBe('10.00');
    expect(await after.commitEvent(commit(sub.id, { scope: 'durable' }))).toEqual({ status: 'duplicate' });
  });
});

describe('createPostgresMeteringStore on an unavailable database', () => {
  it('reports MT-503 (retryable), as the port says', async () => {
    const down = () => Promise.reject(new EnablementError('PL-503', 'down', { retryAfterMs: 50 }));
    const client = {
      driver: 'pg',
      query: down,
      transaction: down,
      close: async () => {},
    } as unknown as SqlClient;
    const store = createPostgresMeteringStore<Docs>({ client });
    await expect(store.commitEvent(commit('s'))).rejects.toMatchObject({
      code: 'MT-503',
      retryable: true,
      retryAfterMs: 50,
    });
    await expect(store.getPlan('p')).rejects.toMatchObject({ code: 'MT-503' });
    await expect(store.markOnce('m', P1, P0)).rejects.toMatchObject({ code: 'MT-503' });
  });
});

describe('createPostgresMeteringStore options', () => {
  it('validates its options with PL-400', () => {
    expectEnablementError(() => createPostgresMeteringStore({} as never), 'PL-400', 'client');
  });
});
