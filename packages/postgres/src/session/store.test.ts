import { EnablementError } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import { createPostgresSessionStore } from './store.js';

/** A unique owner NHI-like string, so tests sharing a schema never see each other's keys. */
const owner = () => `agent:nhi:ed25519:${globalThis.crypto.randomUUID().replaceAll('-', '')}`;

describeEachDriver('PostgresSessionStore', (db) => {
  const store = (who = owner(), options: { maxEntries?: number; maxValueBytes?: number } = {}) =>
    createPostgresSessionStore({ client: db().client, schema: db().schema, owner: who, ...options });

  describe('the SessionStore behaviour (as messaging’s in-memory store)', () => {
    it('gets, replaces and deletes values; delete is idempotent; unknown keys are undefined', async () => {
      const s = store();
      expect(await s.get('prekeys')).toBeUndefined();
      await s.set('prekeys', new Uint8Array([1, 2, 3]));
      expect(await s.get('prekeys')).toEqual(new Uint8Array([1, 2, 3]));
      await s.set('prekeys', new Uint8Array([4]));
      expect(await s.get('prekeys')).toEqual(new Uint8Array([4]));
      await s.delete('prekeys');
      await s.delete('prekeys');
      expect(await s.get('prekeys')).toBeUndefined();
    });

    it('stores every byte value exactly, including empty values and a view into a larger buffer', async () => {
      const s = store();
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await s.set('session:all', all);
      expect(await s.get('session:all')).toEqual(all);
      await s.set('session:empty', new Uint8Array());
      expect(await s.get('session:empty')).toEqual(new Uint8Array());
      const backing = new Uint8Array([7, 7, 1, 2, 7]);
      await s.set('session:view', backing.subarray(2, 4));
      expect(await s.get('session:view')).toEqual(new Uint8Array([1, 2]));
    });

    it('copies in and out: callers never share buffers with the store', async () => {
      const s = store();
      const value = new Uint8Array([1, 2, 3]);
      await s.set('k', value);
      value[0] = 99;
      const read = await s.get('k');
      expect(read).toEqual(new Uint8Array([1, 2, 3]));
      if (read) read[1] = 42;
      expect(await s.get('k')).toEqual(new Uint8Array([1, 2, 3]));
      expect(Object.getPrototypeOf(read)).toBe(Uint8Array.prototype);
    });

    it('namespaces keys by owner: agents sharing a database never see each other’s sessions', async () => {
      const alice = store();
      const bob = store();
      await alice.set('session:peer', new Uint8Array([1]));
      expect(await bob.get('session:peer')).toBeUndefined();
      await bob.set('session:peer', new Uint8Array([2]));
      await bob.delete('session:peer');
      expect(await alice.get('session:peer')).toEqual(new Uint8Array([1]));
    });

    it('rejects bad keys and values with MS-400, storing nothing', async () => {
      const s = store();
      for (const key of ['', 'k'.repeat(513), 42, 'a\u0000b', 'lone\uD800'] as unknown[]) {
        await expectEnablementRejection(s.get(key as string), 'MS-400');
        await expectEnablementRejection(s.set(key as string, new Uint8Array([1])), 'MS-400');
        await expectEnablementRejection(s.delete(key as string), 'MS-400');
      }
      for (const value of ['bytes', [1, 2], null, new ArrayBuffer(2)] as unknown[]) {
        await expectEnablementRejection(s.set('k', value as Uint8Array), 'MS-400');
      }
      expect(await s.get('k')).toBeUndefined();
    });

    it('is bounded per owner: a new key beyond maxEntries is MS-413, replacing one is fine', async () => {
      const who = owner();
      const s = store(who, { maxEntries: 2, maxValueBytes: 4 });
      await s.set('a', new Uint8Array([1]));
      await s.set('b', new Uint8Array([1]));
      await expectEnablementRejection(s.set('c', new Uint8Array([1])), 'MS-413');
      await s.set('a', new Uint8Array([2]));
      await expectEnablementRejection(s.set('a', new Uint8Array(5)), 'MS-413');
      expect(await s.get('a')).toEqual(new Uint8Array([2]));
      // Other owners have their own bound.
      await store(owner(), { maxEntries: 2 }).set('c', new Uint8Array([1]));
      await s.delete('b');
      await s.set('c', new Uint8Array([3]));
      expect(await s.get('c')).toEqual(new Uint8Array([3]));
    });

    it('holds the bound under concurrent new keys from two clients', async () => {
      const who = owner();
      const second = (await db().openSecond()) ?? db().client;
      const s1 = store(who, { maxEntries: 5 });
      const s2 = createPostgresSessionStore({
        client: second,
        schema: db().schema,
        owner: who,
        maxEntries: 5,
      });
      const settled = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? s1 : s2).set(`k${i}`, new Uint8Array([i]))),
      );
      expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      const { rows } = await db().client.query<{ n: bigint }>(
        `SELECT count(*) AS n FROM "${db().schema}".session_entries WHERE owner = $1`,
        [who],
      );
      expect(rows[0]?.n).toBe(5n);
    });
  });

  it('keeps sessions across a restart (durable drivers)', async () => {
    const { reopen, schema } = db();
    if (reopen === undefined) return;
    const who = owner();
    await store(who).set('session:peer', new Uint8Array([1, 2, 3]));
    const client = await reopen();
    const after = createPostgresSessionStore({ client, schema, owner: who });
    expect(await after.get('session:peer')).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('reports an unavailable database as retryable MS-503', async () => {
    const down = Promise.reject(new EnablementError('PL-503', 'down'));
    down.catch(() => {});
    const broken = createPostgresSessionStore({
      client: { ...db().client, query: () => down, transaction: () => down },
      schema: db().schema,
      owner: owner(),
    });
    for (const call of [broken.get('k'), broken.set('k', new Uint8Array([1])), broken.delete('k')]) {
      await expect(call).rejects.toMatchObject({ code: 'MS-503', retryable: true });
    }
  });

  it('validates its options with PL-400 naming the option', () => {
    const { client, schema } = db();
    for (const [options, field] of [
      [{ client, schema }, 'owner'],
      [{ client, schema, owner: '' }, 'owner'],
      [{ client, schema, owner: 'x\u0000' }, 'owner'],
      [{ client, schema, owner: 'x', maxEntries: 0 }, 'maxEntries'],
      [{ client, schema: 'no way', owner: 'x' }, 'schema'],
    ] as const) {
      expect(() => createPostgresSessionStore(options as never)).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining(field) }),
      );
    }
  });
});
