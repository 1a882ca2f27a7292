import {
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  EnablementError,
  idempotencyStoreKey,
  sleep,
  systemClock,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { ReplyError } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteKeys, redisUrl, SKIP_REDIS, testClient, uniquePrefix } from '../../test/redis-server.js';
import { fromRedisError } from './errors.js';
import { createRedisIdempotencyStore, type RedisIdempotencyStore } from './redis-store.js';

const url = redisUrl();

describe('createRedisIdempotencyStore options', () => {
  it('needs exactly one of client and url, and checks the rest (PL-400 naming the option)', () => {
    expectEnablementError(() => createRedisIdempotencyStore({}), 'PL-400', 'url');
    expectEnablementError(() => createRedisIdempotencyStore({ url: 'http://x' }), 'PL-400', 'url');
    expectEnablementError(
      () => createRedisIdempotencyStore({ url: 'redis://127.0.0.1:1', keyPrefix: 'has space' }),
      'PL-400',
      'keyPrefix',
    );
    expectEnablementError(
      () => createRedisIdempotencyStore({ url: 'redis://127.0.0.1:1', maxResultLength: 0 }),
      'PL-400',
      'maxResultLength',
    );
    expectEnablementError(() => createRedisIdempotencyStore({ client: {} as never }), 'PL-400', 'client');
  });

  it('fails fast with retryable PL-503 when Redis is unreachable, and validates before sending', async () => {
    const store = createRedisIdempotencyStore({
      url: 'redis://127.0.0.1:1',
      redisOptions: { retryStrategy: () => 20, connectTimeout: 200 },
    });
    try {
      const error = await expectEnablementRejection(
        store.begin('idem:runtime:spawn_sandbox:k', 'fp', 1000),
        'PL-503',
      );
      expect(error.retryable).toBe(true);
      await expectEnablementRejection(store.begin('', 'fp', 1000), 'PL-400', 'key');
    } finally {
      await store.close();
    }
    await expectEnablementRejection(store.get('k'), 'PL-503', 'closed');
  });
});

describe('fromRedisError', () => {
  const reply = (message: string) => new ReplyError(message);

  it('maps Redis error codes and connection failures', () => {
    expect(fromRedisError(reply('WRONGTYPE Operation against a key'), 'x').code).toBe('PL-409');
    expect(fromRedisError(reply('CRETOFOREIGN the key holds a string'), 'x').code).toBe('PL-409');
    for (const code of ['OOM', 'BUSY', 'LOADING', 'READONLY', 'TRYAGAIN']) {
      expect(fromRedisError(reply(`${code} try later`), 'x')).toMatchObject({
        code: 'PL-503',
        retryable: true,
      });
    }
    expect(fromRedisError(reply('NOPERM this user has no permissions'), 'x').code).toBe('PL-403');
    expect(fromRedisError(reply('ERR something'), 'x').code).toBe('PL-500');
    expect(fromRedisError(new Error('Command timed out'), 'x')).toMatchObject({
      code: 'PL-503',
      retryable: true,
    });
    expect(fromRedisError(new Error('Connection is closed.'), 'x').code).toBe('PL-503');
    expect(fromRedisError(new Error('boom'), 'x').code).toBe('PL-500');
  });

  it('keeps only the error code of a reply, never its text', () => {
    const mapped = fromRedisError(
      reply('WRONGPASS invalid username-password pair user=admin pass=hunter2'),
      'x',
    );
    expect(mapped.code).toBe('PL-403');
    expect(mapped.message).not.toContain('hunter2');
    expect(fromRedisError(reply('ERR hunter2'), 'x').message).not.toContain('hunter2');
  });
});

if (url === undefined) {
  describe.skip('Redis idempotency store on a server', () => {
    it(SKIP_REDIS, () => {});
  });
} else {
  describe('Redis idempotency store on a server', () => {
    const client = testClient(url);
    let prefix: string;
    let store: RedisIdempotencyStore;
    const key = idempotencyStoreKey('runtime', 'spawn_sandbox', 'agent-1');

    beforeEach(() => {
      prefix = uniquePrefix();
      store = createRedisIdempotencyStore({ client, keyPrefix: prefix });
    });
    afterEach(async () => {
      await store.close();
      await deleteKeys(client, prefix);
    });
    afterAll(() => client.quit());

    it('keeps one hash per key, under the prefix, expiring with the lock and then the window', async () => {
      const begun = await store.begin(key, 'fp-a', 5000);
      if (begun.status !== 'acquired') throw new Error('expected acquired');
      const redisKey = `${prefix}idem:runtime:spawn_sandbox:agent-1`;
      expect(await client.hgetall(redisKey)).toEqual({ k: 'lock', f: 'fp-a', t: begun.token });
      expect(await client.pttl(redisKey)).toBeGreaterThan(4000);
      expect(await store.complete(key, begun.token, '{"sandbox":"sb-1"}', 60_000)).toBe(true);
      // The token is gone with the lock: a result cannot be released or completed again.
      expect(await client.hgetall(redisKey)).toEqual({ k: 'result', f: 'fp-a', r: '{"sandbox":"sb-1"}' });
      expect(await client.pttl(redisKey)).toBeGreaterThan(55_000);
      expect(store.keyPrefix).toBe(prefix);
    });

    it('never overwrites a key that holds something else, and says so with PL-409', async () => {
      await client.set(`${prefix}${key}`, 'someone else');
      await client.hset(`${prefix}other`, 'name', 'x');
      await expectEnablementRejection(store.begin(key, 'fp', 1000), 'PL-409');
      await expectEnablementRejection(store.get(key), 'PL-409');
      await expectEnablementRejection(store.begin('other', 'fp', 1000), 'PL-409');
      expect(await store.complete(key, 'token', '"x"', 1000)).toBe(false);
      expect(await store.release('other', 'token')).toBe(false);
      expect(await client.get(`${prefix}${key}`)).toBe('someone else');
      expect(await client.hgetall(`${prefix}other`)).toEqual({ name: 'x' });
    });

    it('refuses what Redis could not give back byte for byte, and oversized results', async () => {
      await expectEnablementRejection(store.begin('k\uD800', 'fp', 1000), 'PL-400', 'well-formed');
      await expectEnablementRejection(store.begin('k', 'fp\uDC00', 1000), 'PL-400', 'well-formed');
      const begun = await store.begin('k', 'fp', 1000);
      if (begun.status !== 'acquired') throw new Error('expected acquired');
      await expectEnablementRejection(
        store.complete('k', begun.token, '"\uD800"', 1000),
        'PL-400',
        'well-formed',
      );
      const small = createRedisIdempotencyStore({ client, keyPrefix: prefix, maxResultLength: 8 });
      await expectEnablementRejection(
        small.complete('k', begun.token, '"123456789"', 1000),
        'PL-400',
        'longer',
      );
      // Nothing was stored by the refusals; NUL and astral characters round-trip.
      const result = '{"a":"\u0000 🦀"}';
      expect(await store.complete('k', begun.token, result, 1000)).toBe(true);
      expect(await store.begin('k', 'fp', 1000)).toEqual({ status: 'completed', result });
    });

    it('reloads its scripts when Redis forgot them (SCRIPT FLUSH, failover)', async () => {
      expect((await store.begin('a', 'fp', 1000)).status).toBe('acquired');
      await client.script('FLUSH');
      expect((await store.begin('b', 'fp', 1000)).status).toBe('acquired');
      expect((await store.get('a'))?.status).toBe('in_flight');
    });

    it('serves a guard: one execution across two processes, the stored result for the duplicate', async () => {
      // Two guards over two clients: two processes sharing one Redis.
      const other = testClient(url);
      try {
        const second = createRedisIdempotencyStore({ client: other, keyPrefix: prefix });
        const a = createIdempotencyGuard({ store, inFlightWaitMs: 2000, inFlightRetryAfterMs: 20 });
        const b = createIdempotencyGuard({ store: second, inFlightWaitMs: 2000, inFlightRetryAfterMs: 20 });
        let runs = 0;
        const spawn = async () => {
          runs++;
          await sleep(systemClock, 100);
          return { sandboxId: 'sb-1' };
        };
        const request = {
          product: 'runtime',
          operation: 'spawn_sandbox',
          key: 'agent-1',
          parameters: { image: 'x' },
        } as const;
        const [r1, r2] = await Promise.all([a.run(request, spawn), b.run(request, spawn)]);
        expect(runs).toBe(1);
        expect(r1).toEqual({ sandboxId: 'sb-1' });
        expect(r2).toEqual({ sandboxId: 'sb-1' });
        // Same key, other parameters: refused.
        const mismatch = await b
          .run({ ...request, parameters: { image: 'y' } }, spawn)
          .catch((e: unknown) => e);
        expect(EnablementError.is(mismatch) && mismatch.code).toBe('PL-409');
      } finally {
        await other.quit();
      }
    });

    it('answers like the memory store for the same sequence of calls', async () => {
      const memory = createMemoryIdempotencyStore();
      const trace = async (s: typeof store | typeof memory) => {
        const out: unknown[] = [];
        const first = await s.begin('t', 'fp', 5000);
        out.push(first.status);
        out.push(await s.begin('t', 'fp', 5000).then((r) => r.status));
        out.push(await s.begin('t', 'other', 5000));
        const token = first.status === 'acquired' ? first.token : '';
        out.push(await s.release('t', 'wrong'));
        out.push(await s.complete('t', token, '[1,2]', 5000));
        out.push(await s.complete('t', token, '[3]', 5000));
        out.push(await s.release('t', token));
        out.push(await s.begin('t', 'fp', 5000));
        out.push(await s.get('t').then((e) => e && { ...e, expiresInMs: e.expiresInMs > 0 }));
        out.push(await s.get('never'));
        return out;
      };
      expect(await trace(store)).toEqual(await trace(memory));
    });

    it('leaves a borrowed client open on close, then refuses calls', async () => {
      await store.close();
      await store.close();
      await expectEnablementRejection(store.begin('k', 'fp', 1000), 'PL-503', 'closed');
      expect(await client.ping()).toBe('PONG');
    });
  });
}
