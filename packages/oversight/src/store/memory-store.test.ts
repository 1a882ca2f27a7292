import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { oversightFixtures, oversightStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { createMemoryOversightStore } from './memory-store.js';

// The OversightStore contract lives in @creto/testing/contracts; PostgreSQL/PGlite run it too.
oversightStoreContract('memory', ({ maxRequests }) => ({
  store: createMemoryOversightStore(maxRequests === undefined ? {} : { maxRequests }),
}));

describe('createMemoryOversightStore', () => {
  const { record, created } = oversightFixtures;

  it('counts what it holds, open and final, within its bound', async () => {
    const store = createMemoryOversightStore({ maxRequests: 2 });
    const first = record();
    const second = record();
    const third = record();
    for (const r of [first, second]) await store.create(r, created(r));
    expect([store.size, store.openCount]).toEqual([2, 2]);
    await expectEnablementRejection(store.create(third, created(third)), 'PL-503', 'full');
    await store.commit({
      requestId: second.requestId,
      expectedVersion: 1,
      record: { ...second, version: 2, state: 'CANCELLED', deadlineAt: undefined },
    });
    expect([store.size, store.openCount]).toEqual([2, 1]);
    await store.create(third, created(third));
    expect([store.size, store.openCount]).toEqual([2, 2]);
  });

  it('validates its options', () => {
    expectEnablementError(() => createMemoryOversightStore({ maxRequests: 0 }), 'PL-400', 'maxRequests');
    expectEnablementError(() => createMemoryOversightStore({ nope: 1 } as never), 'PL-400');
  });
});
