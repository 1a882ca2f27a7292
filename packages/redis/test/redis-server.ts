// Test support (not published): where the Redis server is, and cleanup of a test's keys.
import { Redis } from 'ioredis';

/**
 * The Redis URL the tests use (`CRETO_REDIS_URL`), or `undefined` to skip them. In CI (`CI` set)
 * a missing URL is an error: the suites must run there, never skip.
 */
export function redisUrl(): string | undefined {
  const url = process.env.CRETO_REDIS_URL;
  if (url !== undefined && url !== '') return url;
  if (process.env.CI) {
    throw new Error('CRETO_REDIS_URL is not set; CI must run the @creto/redis tests against redis-server');
  }
  return undefined;
}

/** Why the Redis suites were skipped, as a test title. */
export const SKIP_REDIS =
  'skipped: set CRETO_REDIS_URL (e.g. redis://127.0.0.1:16379) to run the Redis adapter tests against redis-server';

/** A key prefix unique to this run, so tests on a shared server never see each other's keys. */
export const uniquePrefix = (): string => `creto-test:${globalThis.crypto.randomUUID()}:`;

/** A client for tests (fails fast when the server is down). */
export const testClient = (url: string): Redis => {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
};

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
