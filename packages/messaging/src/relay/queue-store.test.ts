import { relayQueueStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { createMemoryRelayQueueStore } from './queue-store.js';

relayQueueStoreContract('memory', ({ maxEntries }) => ({
  store: createMemoryRelayQueueStore(maxEntries === undefined ? {} : { maxEntries }),
}));

describe('createMemoryRelayQueueStore', () => {
  it('validates maxEntries with MS-400', () => {
    for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
      expect(() => createMemoryRelayQueueStore({ maxEntries })).toThrow(
        expect.objectContaining({ code: 'MS-400' }),
      );
    }
  });
});
