import { expectEnablementRejection } from '@creto/testing';
import { auditLogStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { createMemoryAuditLogStore } from './store.js';

auditLogStoreContract('memory', () => ({ store: createMemoryAuditLogStore() }));

describe('createMemoryAuditLogStore', () => {
  it('is bounded: a batch beyond maxLeaves is a non-retryable PL-503 and writes nothing', async () => {
    const store = createMemoryAuditLogStore({ maxLeaves: 3 });
    expect(await store.appendLeaves(0, ['a', 'b'])).toBe(true);
    const error = await expectEnablementRejection(store.appendLeaves(2, ['c', 'd']), 'PL-503');
    expect(error.retryable).toBe(false);
    expect(store.leaves()).toEqual(['a', 'b']);
    expect(await store.appendLeaves(2, ['c'])).toBe(true);
  });

  it('keeps only the latest checkpoint', async () => {
    const store = createMemoryAuditLogStore();
    await store.saveCheckpoint({ treeSize: 1, note: 'one\n' });
    await store.saveCheckpoint({ treeSize: 2, note: 'two\n' });
    expect(await store.latestCheckpoint()).toEqual({ treeSize: 2, note: 'two\n' });
  });

  it('validates maxLeaves with PL-400', () => {
    for (const maxLeaves of [-1, 1.5, 2 ** 32]) {
      expect(() => createMemoryAuditLogStore({ maxLeaves })).toThrow(
        expect.objectContaining({ code: 'PL-400' }),
      );
    }
  });
});
