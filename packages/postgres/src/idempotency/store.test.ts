import { createIdempotencyGuard } from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { idempotencyStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import { createPostgresIdempotencyStore } from './store.js';

describeEachDriver('PostgresIdempotencyStore', (db, driver) => {
  // The store's expiry runs on its Clock, so a FakeClock drives it on a real server too.
  idempotencyStoreContract(driver.name, () => {
    const { client, schema } = db();
    const clock = new FakeClock();
    return {
      store: createPostgresIdempotencyStore({ client, schema, clock }),
      advance: async (ms) => void clock.advance(ms),
    };
  });

  describe('beyond the contract', () => {
    const clock = new FakeClock();
    const store = () => createPostgresIdempotencyStore({ client: db().client, schema: db().schema, clock });
    const key = (suffix: string) => `idem:platform:test:${globalThis.crypto.randomUUID()}:${suffix}`;

    it('lets exactly one of two clients racing on one key win (two pools on a server)', async () => {
      const second = (await db().openSecond()) ?? db().client;
      const a = store();
      const b = createPostgresIdempotencyStore({ client: second, schema: db().schema, clock });
      for (let round = 0; round < 5; round++) {
        const k = key(`race-${round}`);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).begin(k, 'fp', 1000)),
        );
        expect(results.filter((r) => r.status === 'acquired')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'in_flight')).toHaveLength(9);
      }
    });

    it('runs the idempotency guard end to end: one execution, the stored result for the duplicate', async () => {
      const guard = createIdempotencyGuard({ store: store(), clock });
      let runs = 0;
      const request = {
        product: 'metering',
        operation: 'ingest_event',
        key: key('guard'),
        parameters: { a: 1 },
      } as const;
      const first = await guard.run(request, async () => {
        runs += 1;
        return { total: '12.50' };
      });
      const second = await guard.run(request, async () => {
        runs += 1;
        return { total: 'never' };
      });
      expect(runs).toBe(1);
      expect(second).toEqual(first);
    });

    it('refuses text PostgreSQL cannot store exactly, and stores nothing', async () => {
      const s = store();
      const k = key('text');
      await expectEnablementRejection(s.begin(`${k}\u0000`, 'fp', 100), 'PL-400');
      await expectEnablementRejection(s.begin(k, 'fp\uD800', 100), 'PL-400');
      const begun = await s.begin(k, 'fp', 100);
      if (begun.status !== 'acquired') throw new Error(begun.status);
      await expectEnablementRejection(s.complete(k, begun.token, '"\uDC00"', 100), 'PL-400');
      await expectEnablementRejection(s.complete(k, begun.token, 'a\u0000b', 100), 'PL-400');
      expect((await s.get(k))?.status).toBe('in_flight');
      // A well-formed astral character is fine.
      expect(await s.complete(k, begun.token, '"\uD83E\uDD80"', 100)).toBe(true);
      expect(await s.get(k)).toMatchObject({ status: 'completed', result: '"🦀"' });
    });

    it('bounds results by maxResultLength, and accepts an empty result', async () => {
      const s = createPostgresIdempotencyStore({
        client: db().client,
        schema: db().schema,
        clock,
        maxResultLength: 8,
      });
      const k = key('bound');
      const begun = await s.begin(k, 'fp', 100);
      if (begun.status !== 'acquired') throw new Error(begun.status);
      await expectEnablementRejection(s.complete(k, begun.token, '"123456789"', 100), 'PL-400');
      expect(await s.complete(k, begun.token, '', 100)).toBe(true);
      expect(await s.begin(k, 'fp', 100)).toEqual({ status: 'completed', result: '' });
    });

    it('purges expired keys only, in bounded batches', async () => {
      const s = store();
      const live = key('live');
      const expired = [key('old-1'), key('old-2'), key('old-3')];
      for (const k of expired) await s.begin(k, 'fp', 10);
      clock.advance(20);
      await s.begin(live, 'fp', 10_000);
      let batches = 0;
      for (let n = await s.purgeExpired(2); n > 0; n = await s.purgeExpired(2)) {
        expect(n).toBeLessThanOrEqual(2);
        batches += 1;
      }
      expect(batches).toBeGreaterThanOrEqual(2);
      const { rows } = await db().client.query<{ key: string }>(
        `SELECT key FROM "${db().schema}".idempotency_keys WHERE key = ANY(string_to_array($1, ','))`,
        [[...expired, live].join(',')],
      );
      expect(rows.map((r) => r.key)).toEqual([live]);
      await expectEnablementRejection(s.purgeExpired(0), 'PL-400');
    });

    it('keeps what it stored across a restart (durable drivers)', async () => {
      const { reopen } = db();
      if (reopen === undefined) return; // in memory: nothing survives by design
      const k = key('durable');
      const before = store();
      const begun = await before.begin(k, 'fp', 10_000);
      if (begun.status !== 'acquired') throw new Error(begun.status);
      expect(await before.complete(k, begun.token, '{"ok":true}', 60_000)).toBe(true);
      await reopen();
      expect(await store().begin(k, 'fp', 1000)).toEqual({ status: 'completed', result: '{"ok":true}' });
    });

    it('fails with PL-500 telling the host to run migrate() on an unmigrated schema', async () => {
      const unmigrated = createPostgresIdempotencyStore({ client: db().client, schema: 'never_migrated' });
      await expect(unmigrated.get('k')).rejects.toMatchObject({
        code: 'PL-500',
        message: expect.stringContaining('migrate()'),
      });
    });

    it('validates its options with PL-400 naming the option', () => {
      const { client, schema } = db();
      expect(() => createPostgresIdempotencyStore({ client, schema: 'Bad-Name' })).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('schema') }),
      );
      expect(() => createPostgresIdempotencyStore({ client: {} as never, schema })).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('client') }),
      );
      expect(() => createPostgresIdempotencyStore({ client, maxResultLength: 0 })).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('maxResultLength') }),
      );
    });
  });
});
