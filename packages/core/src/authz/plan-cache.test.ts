import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecisionCache, type DecisionMap, PlanCache } from './plan-cache.js';

describe('PlanCache', () => {
  it('files values under four keys and keeps them apart', () => {
    const cache = new PlanCache<string>(10);
    cache.set('', 'p', 'a', 'r', 'v1');
    cache.set('chain', 'p', 'a', 'r', 'v2');
    cache.set('', 'p', 'a', 'r2', 'v3');
    expect(cache.get('', 'p', 'a', 'r')).toBe('v1');
    expect(cache.get('chain', 'p', 'a', 'r')).toBe('v2');
    expect(cache.get('', 'p', 'a', 'r2')).toBe('v3');
    expect(cache.get('', 'p', 'b', 'r')).toBeUndefined();
    expect(cache.get('', 'p\na', '', 'r')).toBeUndefined();
    cache.set('', 'p', 'a', 'r', 'v4'); // replaces
    expect(cache.get('', 'p', 'a', 'r')).toBe('v4');
    expect(cache.size).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('', 'p', 'a', 'r2')).toBeUndefined();
  });

  it('evicts old entries, from the maps too, and keeps hot ones', () => {
    const cache = new PlanCache<number>(2);
    cache.set('', 'p', 'a', 'r1', 1);
    cache.set('', 'p', 'a', 'r2', 2);
    expect(cache.get('', 'p', 'a', 'r1')).toBe(1); // r1 is aged (half the capacity since): refreshed
    cache.set('', 'p', 'a', 'r3', 3);
    expect(cache.get('', 'p', 'a', 'r2')).toBeUndefined();
    expect(cache.get('', 'p', 'a', 'r1')).toBe(1);
    expect(cache.get('', 'p', 'a', 'r3')).toBe(3);
    expect(cache.size).toBe(2);

    const big = new PlanCache<number>(100);
    big.set('', 'hot', 'a', 'r', -1);
    for (let i = 0; i < 10_000; i++) {
      big.set('', 'cold', 'a', `r${i}`, i);
      expect(big.get('', 'hot', 'a', 'r')).toBe(-1); // hit often enough: never evicted
      expect(big.size).toBeLessThanOrEqual(100);
    }
    expect(big.get('', 'cold', 'a', 'r0')).toBeUndefined();
    expect(big.get('', 'cold', 'a', 'r9999')).toBe(9999);
  });

  it('never returns a stale or foreign value, and stays bounded (property)', () => {
    const key = fc.tuple(
      fc.constantFrom('', 'c'),
      fc.constantFrom('p1', 'p2'),
      fc.constantFrom('a1', 'a2'),
      fc.constantFrom('r1', 'r2', 'r3'),
    );
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.nat() }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 80 }), (max, ops) => {
        const cache = new PlanCache<number>(max);
        const latest = new Map<string, number>();
        let last: string | undefined;
        for (const step of ops) {
          if (step.kind === 'clear') {
            cache.clear();
            latest.clear();
            last = undefined;
            continue;
          }
          const [c, p, a, r] = step.key;
          const k = step.key.join('|');
          if (step.kind === 'set') {
            cache.set(c, p, a, r, step.value);
            latest.set(k, step.value);
            last = k;
          } else {
            const got = cache.get(c, p, a, r);
            if (got !== undefined) expect(got).toBe(latest.get(k));
            if (k === last) expect(got).toBe(latest.get(k)); // the newest entry is never evicted
          }
          expect(cache.size).toBeLessThanOrEqual(max);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('DecisionCache', () => {
  it('files decisions in their owner map and unlinks what it evicts', () => {
    const cache = new DecisionCache<string>(2);
    const a: DecisionMap<string> = new Map();
    const b: DecisionMap<string> = new Map();
    cache.set(a, 1, 'a1');
    cache.set(b, 1, 'b1');
    expect(cache.get(a, 1)).toBe('a1');
    expect(cache.get(b, 1)).toBe('b1');
    cache.set(a, 'x', 'ax'); // evicts the oldest (a/1 was refreshed: b/1 goes)
    expect(cache.size).toBe(2);
    expect(a.size + b.size).toBe(2);
    cache.set(a, 'x', 'ax2');
    expect(cache.get(a, 'x')).toBe('ax2');
    cache.clear();
    expect(a.size + b.size).toBe(0);
  });
});
