import type { IdempotencyStore } from '@creto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What an {@link IdempotencyStoreFactory} returns for one test. */
export interface IdempotencyStoreFixture {
  /** A store whose keys are independent of every other fixture's (fresh, or with unique keys). */
  readonly store: IdempotencyStore;
  /**
   * Moves the store's time forward by `ms`: `FakeClock.advance` for an in-process store, a real
   * wait for a server (Redis expires keys on its own clock).
   */
  advance(ms: number): Promise<void>;
  /** Frees what the fixture holds (connections, keys), after each test. */
  close?(): Promise<void>;
}

/** Builds a fresh fixture for each test. */
export type IdempotencyStoreFactory = () => IdempotencyStoreFixture | Promise<IdempotencyStoreFixture>;

/** Options of {@link idempotencyStoreContract}. */
export interface IdempotencyStoreContractOptions {
  /**
   * The time unit of the suite, ms (100 by default): locks last 3 units and results 10. A store
   * on a real server needs a unit well above its expiry resolution and network latency; a
   * `FakeClock`-driven store runs at any unit without waiting.
   */
  readonly unitMs?: number;
}

let fixtureSeq = 0;

/**
 * The contract every {@link IdempotencyStore} must pass (spec §9.2, ARCHITECTURE §5): acquire,
 * in-flight, complete, mismatch, release, lock and result expiry, token fencing, atomic `begin`
 * under concurrency, byte-exact results and input validation. Call it at the top level of a
 * test file; it registers one `describe` block.
 *
 * @example
 * ```ts
 * idempotencyStoreContract('memory', () => {
 *   const clock = new FakeClock();
 *   return { store: createMemoryIdempotencyStore({ clock }), advance: async (ms) => void clock.advance(ms) };
 * });
 * ```
 */
export function idempotencyStoreContract(
  name: string,
  factory: IdempotencyStoreFactory,
  options: IdempotencyStoreContractOptions = {},
): void {
  const unit = options.unitMs ?? 100;
  const lockTtl = 3 * unit;
  const resultTtl = 10 * unit;

  describe(`IdempotencyStore contract: ${name}`, () => {
    let fixture: IdempotencyStoreFixture;
    let store: IdempotencyStore;
    let prefix: string;
    const key = (suffix = 'k') => `${prefix}:${suffix}`;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      fixtureSeq += 1;
      // Unique per test, so that a shared server never mixes the keys of two tests.
      prefix = `idem:platform:contract_test:${globalThis.crypto.randomUUID()}-${fixtureSeq}`;
    });

    afterEach(async () => {
      await fixture.close?.();
    });

    async function acquire(k: string, fingerprint = 'fp-a'): Promise<string> {
      const begun = await store.begin(k, fingerprint, lockTtl);
      if (begun.status !== 'acquired') throw new Error(`expected acquired, got ${begun.status}`);
      expect(typeof begun.token).toBe('string');
      expect(begun.token.length).toBeGreaterThan(0);
      return begun.token;
    }

    it('reports an unknown key as free', async () => {
      expect(await store.get(key())).toBeUndefined();
    });

    it('acquires a free key and reports it in flight, with the time left on the lock', async () => {
      await acquire(key());
      const entry = await store.get(key());
      expect(entry?.status).toBe('in_flight');
      expect(entry?.fingerprint).toBe('fp-a');
      expect(entry?.expiresInMs).toBeGreaterThan(0);
      expect(entry?.expiresInMs).toBeLessThanOrEqual(lockTtl);
    });

    it('answers a second begin with the same fingerprint in_flight, with a retry hint', async () => {
      await acquire(key());
      const again = await store.begin(key(), 'fp-a', lockTtl);
      expect(again.status).toBe('in_flight');
      if (again.status !== 'in_flight') return;
      expect(again.retryAfterMs).toBeGreaterThan(0);
      expect(again.retryAfterMs).toBeLessThanOrEqual(lockTtl);
    });

    it('answers mismatch for another fingerprint, while locked and once completed', async () => {
      const token = await acquire(key());
      expect(await store.begin(key(), 'fp-b', lockTtl)).toEqual({ status: 'mismatch' });
      expect(await store.complete(key(), token, '{"v":1}', resultTtl)).toBe(true);
      expect(await store.begin(key(), 'fp-b', lockTtl)).toEqual({ status: 'mismatch' });
      // A mismatch changes nothing.
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result: '{"v":1}' });
    });

    it('stores a completed result and returns it byte for byte to later begins and get', async () => {
      const result = '{"emoji":"🦀","nested":{"q":"\\"quoted\\"","nl":"a\\nb"},"n":-0.5,"s":"é"}';
      const token = await acquire(key());
      expect(await store.complete(key(), token, result, resultTtl)).toBe(true);
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result });
      const entry = await store.get(key());
      expect(entry).toMatchObject({ status: 'completed', fingerprint: 'fp-a', result });
      expect(entry?.expiresInMs).toBeGreaterThan(0);
      expect(entry?.expiresInMs).toBeLessThanOrEqual(resultTtl);
    });

    it('completes once: a second complete with the same token stores nothing', async () => {
      const token = await acquire(key());
      expect(await store.complete(key(), token, '"first"', resultTtl)).toBe(true);
      expect(await store.complete(key(), token, '"second"', resultTtl)).toBe(false);
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result: '"first"' });
    });

    it('release frees the key for a new executor, whose token differs', async () => {
      const first = await acquire(key());
      expect(await store.release(key(), first)).toBe(true);
      expect(await store.get(key())).toBeUndefined();
      // Released means free: even other parameters may use the key now.
      const second = await acquire(key(), 'fp-b');
      expect(second).not.toBe(first);
      // The first executor's token is dead: it can neither complete nor release.
      expect(await store.complete(key(), first, '"stale"', resultTtl)).toBe(false);
      expect(await store.release(key(), first)).toBe(false);
      expect((await store.get(key()))?.status).toBe('in_flight');
      expect(await store.complete(key(), second, '"fresh"', resultTtl)).toBe(true);
      expect(await store.begin(key(), 'fp-b', lockTtl)).toEqual({ status: 'completed', result: '"fresh"' });
    });

    it('ignores release and complete with a wrong token', async () => {
      await acquire(key());
      expect(await store.release(key(), 'not-the-token')).toBe(false);
      expect(await store.complete(key(), 'not-the-token', '"x"', resultTtl)).toBe(false);
      expect((await store.get(key()))?.status).toBe('in_flight');
    });

    it('never releases a stored result', async () => {
      const token = await acquire(key());
      await store.complete(key(), token, '"kept"', resultTtl);
      expect(await store.release(key(), token)).toBe(false);
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result: '"kept"' });
    });

    it('lets a new executor in once a crashed executor’s lock expires, and fences the old one', async () => {
      const crashed = await acquire(key());
      await fixture.advance(unit);
      expect((await store.begin(key(), 'fp-a', lockTtl)).status).toBe('in_flight');
      await fixture.advance(lockTtl);
      expect(await store.get(key())).toBeUndefined();
      const next = await acquire(key());
      expect(next).not.toBe(crashed);
      // The crashed executor comes back late: it must not overwrite or free the new lock.
      expect(await store.complete(key(), crashed, '"late"', resultTtl)).toBe(false);
      expect(await store.release(key(), crashed)).toBe(false);
      expect(await store.complete(key(), next, '"on time"', resultTtl)).toBe(true);
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result: '"on time"' });
    });

    it('refuses to complete after the lock expired, even when nobody took the key', async () => {
      const token = await acquire(key());
      await fixture.advance(lockTtl + unit);
      expect(await store.complete(key(), token, '"too late"', resultTtl)).toBe(false);
      expect(await store.get(key())).toBeUndefined();
    });

    it('forgets a result when its window ends, and the key is reusable', async () => {
      const token = await acquire(key());
      expect(await store.complete(key(), token, '"r"', resultTtl)).toBe(true);
      // The window runs from completion and is not shortened by the lock TTL.
      await fixture.advance(resultTtl - 2 * unit);
      expect(await store.begin(key(), 'fp-a', lockTtl)).toEqual({ status: 'completed', result: '"r"' });
      await fixture.advance(3 * unit);
      expect(await store.get(key())).toBeUndefined();
      await acquire(key(), 'fp-b');
    });

    it('lets exactly one of many concurrent begins acquire a key', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => store.begin(key(), 'fp-a', lockTtl)),
      );
      expect(results.filter((r) => r.status === 'acquired')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'in_flight')).toHaveLength(49);
    });

    it('lets concurrent begins with different fingerprints race: one acquires, the rest mismatch', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.begin(key(), `fp-${i}`, lockTtl)),
      );
      expect(results.filter((r) => r.status === 'acquired')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'mismatch')).toHaveLength(19);
    });

    it('keeps keys independent', async () => {
      const a = await acquire(key('a'));
      await acquire(key('b'));
      expect(await store.complete(key('a'), a, '"a"', resultTtl)).toBe(true);
      expect((await store.get(key('b')))?.status).toBe('in_flight');
      expect(await store.get(key('c'))).toBeUndefined();
      const many = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.begin(key(`m${i}`), 'fp', lockTtl)),
      );
      expect(many.every((r) => r.status === 'acquired')).toBe(true);
    });

    it('rejects bad input with PL-400 and changes nothing', async () => {
      await expectEnablementRejection(store.begin('', 'fp', lockTtl), 'PL-400');
      await expectEnablementRejection(store.begin(key(), '', lockTtl), 'PL-400');
      for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
        await expectEnablementRejection(store.begin(key(), 'fp', ttl), 'PL-400');
      }
      expect(await store.get(key())).toBeUndefined();
      const token = await acquire(key());
      for (const ttl of [0, -5, 2.5, Number.NaN]) {
        await expectEnablementRejection(store.complete(key(), token, '"x"', ttl), 'PL-400');
      }
      await expectEnablementRejection(
        store.complete(key(), token, 42 as unknown as string, resultTtl),
        'PL-400',
      );
      await expectEnablementRejection(store.release(key(), ''), 'PL-400');
      expect((await store.get(key()))?.status).toBe('in_flight');
    });
  });
}
