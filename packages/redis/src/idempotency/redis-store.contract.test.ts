import { sleep, systemClock } from '@creto/core';
// The contract lives in @creto/testing; imported by path until the package index exports it.
import { idempotencyStoreContract } from '@creto/testing/contracts';
import { afterAll, describe, it } from 'vitest';
import { deleteKeys, redisUrl, SKIP_REDIS, testClient, uniquePrefix } from '../../test/redis-server.js';
import { createRedisIdempotencyStore } from './redis-store.js';

const url = redisUrl();

if (url === undefined) {
  describe.skip('IdempotencyStore contract: Redis', () => {
    it(SKIP_REDIS, () => {});
  });
} else {
  // One connection for the file; each test gets its own key prefix, removed after it.
  const client = testClient(url);
  afterAll(() => client.quit());

  idempotencyStoreContract('Redis', () => {
    const keyPrefix = uniquePrefix();
    return {
      store: createRedisIdempotencyStore({ client, keyPrefix }),
      // Redis expires keys on its own clock: real time.
      advance: (ms: number) => sleep(systemClock, ms),
      close: () => deleteKeys(client, keyPrefix),
    };
  });
}
