import { EnablementError, newUuid } from '@creto/core';
import type { Invoice, Plan, Quota, Subscription } from '@creto/metering';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { meteringFixtures, meteringStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import type { SqlClient } from '../sql/index.js';
import { createPostgresMeteringStore } from './store.js';
import type { MeasurementLike } from './types.js';

// Metering's own document types, so the store is its `MeteringStore` (types only: this package
// never imports a product at runtime; its tests run metering's contract from @creto/testing).
type Docs = { plan: Plan; subscription: Subscription; quota: Quota; invoice: Invoice };
const {
  DAY,
  MINUTE,
  P0,
  P1,
  commit,
  invoiceFor,
  periodValues: values,
  plan,
  subscription,
} = meteringFixtures;

describeEachDriver('PostgresMeteringStore', (db, driver) => {
  const storeOn = (client: SqlClient, schema: string) =>
    createPostgresMeteringStore<Docs>({ client, schema });
  // A schema of its own: plans, marks and agent bindings are global to a store.
  const fresh = async (client: SqlClient = db().client) => {
    const schema = db().newSchema();
    const { migrate } = await import('../migrations/index.js');
    await migrate(client, { schema });
    return { schema, store: storeOn(client, schema) };
  };
  // On the suite's schema: the subscription binds no agent, so it collides with nothing.
  const withSub = async () => {
    const schema = db().schema;
    const store = storeOn(db().client, schema);
    await store.putPlan(plan);
    const sub = subscription(newUuid(), []);
    await store.createSubscription(sub);
    return { store, sub, schema };
  };

  // Tests that list or count across the store get a fresh schema; the others share the suite's
  // (the contract keeps their subscriptions, agents and keys apart).
  meteringStoreContract(driver.name, async ({ empty }) => {
    const { client } = db();
    const schema = empty ? (await fresh(client)).schema : db().schema;
    return {
      store: storeOn(client, schema),
      openPeer: async () => storeOn((await db().openSecond()) ?? db().client, schema),
    };
  });

  it('refuses a malformed commit, storing nothing', async () => {
    const { store, sub } = await withSub();
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

  it('purges expired deduplication keys and markers', async () => {
    const { store } = await fresh();
    await store.putPlan(plan);
    const sub = subscription(newUuid(), []);
    await store.createSubscription(sub);
    expect(await store.markOnce('m', P1, P0)).toBe(true);
    await store.commitEvent(commit(sub.id, { scope: 'old' }));
    expect(await store.purgeExpired(P0)).toBe(0);
    expect(await store.purgeExpired(P0 + 30n * DAY)).toBe(2);
    expect(await store.isDuplicate('old', P0)).toBe(false);
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
    const invoice = invoiceFor(sub.id, P0);
    await store.putInvoice(sub.id, P0, invoice);
    const client = await reopen();
    const after = createPostgresMeteringStore<Docs>({ client, schema });
    expect(await after.isDuplicate('durable', P0 + MINUTE)).toBe(true);
    expect(await values(after, sub.id, 'tokens')).toEqual(['1.25']);
    expect(await after.getSubscription(sub.id)).toEqual(sub);
    expect((await after.getInvoice(sub.id, P0))?.subtotal.toString()).toBe(invoice.subtotal.toString());
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
