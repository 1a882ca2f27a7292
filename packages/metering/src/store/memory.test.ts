import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { meteringFixtures, meteringStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { createMemoryMeteringStore } from './memory.js';

const { DAY, MINUTE, P0, P1, commit, periodValues, plan, subscription } = meteringFixtures;

// The MeteringStore contract lives in @creto/testing/contracts; PostgreSQL/PGlite run it too.
meteringStoreContract('memory', () => ({ store: createMemoryMeteringStore() }));

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
    expect(await periodValues(store, sub.id, 'tokens')).toEqual(['2']);
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
    expect(await periodValues(store, sub.id, 'calls')).toEqual(['4']);
  });

  it('validates its options', () => {
    expectEnablementError(() => createMemoryMeteringStore({ maxEvents: 0 }), 'PL-400', /maxEvents/);
    expectEnablementError(() => createMemoryMeteringStore({ nope: 1 } as never), 'PL-400');
  });
});
