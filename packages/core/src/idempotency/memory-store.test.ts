import { expectEnablementRejection, FakeClock } from '@creto/testing';
// The contract lives in @creto/testing; imported by path until the package index exports it.
import { idempotencyStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import { createMemoryIdempotencyStore } from './memory-store.js';

idempotencyStoreContract('memory', () => {
  const clock = new FakeClock();
  return {
    store: createMemoryIdempotencyStore({ clock }),
    advance: async (ms: number) => {
      clock.advance(ms);
    },
  };
});

describe('memory idempotency store bounds', () => {
  it('refuses a new key with PL-503 when full of live records, hinting when the first expires', async () => {
    const clock = new FakeClock();
    const store = createMemoryIdempotencyStore({ clock, maxKeys: 3 });
    await store.begin('a', 'fp', 1_000);
    clock.advance(100);
    await store.begin('b', 'fp', 5_000);
    await store.begin('c', 'fp', 5_000);
    const error = await expectEnablementRejection(store.begin('d', 'fp', 1_000), 'PL-503');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(900);
    expect(error.message).toContain('full');
    // Existing keys still answer: a full store never evicts a live record.
    expect((await store.begin('a', 'fp', 1_000)).status).toBe('in_flight');
    expect(store.size).toBe(3);
    clock.advance(900);
    expect((await store.begin('d', 'fp', 1_000)).status).toBe('acquired');
    expect(store.size).toBe(3);
  });

  it('sweeps again as soon as a shorter-lived record than the remembered one expires', async () => {
    const clock = new FakeClock();
    const store = createMemoryIdempotencyStore({ clock, maxKeys: 2 });
    await store.begin('long', 'fp', 10_000);
    const short = await store.begin('short', 'fp', 10_000);
    await expectEnablementRejection(store.begin('x', 'fp', 10), 'PL-503'); // sweeps: nothing expires before 10 s
    if (short.status !== 'acquired') throw new Error('expected acquired');
    await store.release('short', short.token);
    await store.begin('brief', 'fp', 50); // a record that expires well before the mark
    clock.advance(50);
    expect((await store.begin('y', 'fp', 10)).status).toBe('acquired');
  });

  it('bounds result sizes, one by one and in total', async () => {
    const clock = new FakeClock();
    const store = createMemoryIdempotencyStore({ clock, maxResultLength: 10, maxTotalResultLength: 15 });
    const begin = async (key: string) => {
      const r = await store.begin(key, 'fp', 1_000);
      if (r.status !== 'acquired') throw new Error('expected acquired');
      return r.token;
    };
    const a = await begin('a');
    await expectEnablementRejection(store.complete('a', a, 'x'.repeat(11), 1_000), 'PL-400');
    expect(await store.complete('a', a, 'x'.repeat(10), 1_000)).toBe(true);
    const b = await begin('b');
    await expectEnablementRejection(store.complete('b', b, 'y'.repeat(6), 5_000), 'PL-503');
    expect((await store.get('b'))?.status).toBe('in_flight');
    expect(await store.complete('b', b, 'y'.repeat(5), 5_000)).toBe(true);
    // Once a's result expires its characters are freed.
    clock.advance(1_000);
    const c = await begin('c');
    expect(await store.complete('c', c, 'z'.repeat(10), 1_000)).toBe(true);
  });

  it('sweep() drops expired records', async () => {
    const clock = new FakeClock();
    const store = createMemoryIdempotencyStore({ clock });
    await store.begin('a', 'fp', 10);
    await store.begin('b', 'fp', 1_000);
    expect(store.size).toBe(2);
    clock.advance(10);
    store.sweep();
    expect(store.size).toBe(1);
  });

  it('rejects bad options with PL-400 naming the option', () => {
    for (const [options, field] of [
      [{ maxKeys: 0 }, 'maxKeys'],
      [{ maxKeys: 1.5 }, 'maxKeys'],
      [{ maxResultLength: -1 }, 'maxResultLength'],
      [{ maxTotalResultLength: Number.NaN }, 'maxTotalResultLength'],
      [{ clock: {} as FakeClock }, 'clock'],
    ] as const) {
      let thrown: unknown;
      try {
        createMemoryIdempotencyStore(options);
      } catch (error) {
        thrown = error;
      }
      expect(EnablementError.is(thrown) && thrown.code).toBe('PL-400');
      expect(String((thrown as Error).message)).toContain(field);
    }
  });
});
