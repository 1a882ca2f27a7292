import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CancelTimer, Clock } from '../time/clock.js';
import {
  createHybridLogicalClock,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  HLC_MAX_COUNTER,
  hlcParts,
  hlcTimestamp,
} from './hlc.js';

const MS = 1_000_000n;
const START = 1_767_225_600_123_456_789n;

/** A physical clock the test can move in both directions (FakeClock never goes backwards). */
class ManualClock implements Clock {
  constructor(public time: bigint) {}
  now(): bigint {
    return this.time;
  }
  schedule(): CancelTimer {
    return () => undefined;
  }
}

describe('HLC layout', () => {
  it('truncates physical time to the microsecond and counts in the last three digits', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const first = hlc.now();
    expect(first).toBe(1_767_225_600_123_456_000n);
    expect(hlcParts(first)).toEqual({ physical: 1_767_225_600_123_456_000n, counter: 0 });
    const second = hlc.now();
    expect(second).toBe(first + 1n);
    expect(hlcParts(second).counter).toBe(1);
    // Physical time moves to the next microsecond: the counter resets.
    clock.time += 1_000n;
    expect(hlc.now()).toBe(1_767_225_600_123_457_000n);
  });

  it('spills counter overflow into the microsecond digits and recovers when time catches up', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const stamps = Array.from({ length: HLC_MAX_COUNTER + 2 }, () => hlc.now());
    expect(hlcParts(stamps[HLC_MAX_COUNTER] as bigint)).toEqual({
      physical: 1_767_225_600_123_456_000n,
      counter: 999,
    });
    // The 1001st event in the same microsecond carries into the next microsecond.
    expect(hlcParts(stamps[HLC_MAX_COUNTER + 1] as bigint)).toEqual({
      physical: 1_767_225_600_123_457_000n,
      counter: 0,
    });
    clock.time += 5_000n;
    expect(hlcParts(hlc.now())).toEqual({ physical: 1_767_225_600_123_461_000n, counter: 0 });
  });

  it('packs and unpacks parts', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.integer({ min: 0, max: 999 }), (pt, c) => {
        const ts = hlcTimestamp(pt, c);
        const parts = hlcParts(ts);
        expect(parts.counter).toBe(c);
        expect(parts.physical).toBe(pt - (pt % 1000n));
      }),
      { numRuns: 200 },
    );
    expectEnablementError(() => hlcTimestamp(0n, 1000), 'PL-400');
    expectEnablementError(() => hlcTimestamp(0n, -1), 'PL-400');
    expectEnablementError(() => hlcTimestamp(0n, 1.5), 'PL-400');
    expectEnablementError(() => hlcTimestamp(-1n, 0), 'PL-400');
    expectEnablementError(() => hlcParts(2n ** 63n), 'PL-400');
  });
});

describe('createHybridLogicalClock', () => {
  it('stays strictly increasing when the physical clock jumps backwards', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const a = hlc.now();
    clock.time -= 10_000n * MS; // 10 s back
    const b = hlc.now();
    const c = hlc.now();
    expect(b).toBe(a + 1n);
    expect(c).toBe(b + 1n);
  });

  it('merges a remote timestamp ahead of the local clock', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const local = hlc.now();
    const remote = START + 50n * MS + 7n;
    const merged = hlc.merge(remote);
    expect(merged).toBe(remote + 1n);
    expect(merged > local).toBe(true);
    expect(hlc.now()).toBe(remote + 2n);
    expect(hlc.last).toBe(remote + 2n);
  });

  it('merges a remote timestamp behind the local clock without moving backwards', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const local = hlc.now();
    expect(hlc.merge(START - 50n * MS)).toBe(local + 1n);
  });

  it('rejects remote timestamps skewed beyond ±100 ms with PL-425 and keeps its state', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const before = hlc.now();
    const limit = BigInt(DEFAULT_MAX_CLOCK_SKEW_MS) * MS;
    expectEnablementError(() => hlc.merge(START + limit + 1n), 'PL-425');
    expectEnablementError(() => hlc.merge(START - limit - 1n), 'PL-425');
    expectEnablementError(() => hlc.checkSkew(START + limit + 1n), 'PL-425');
    expect(hlc.last).toBe(before);
    // Exactly at the tolerance is accepted.
    expect(hlc.merge(START + limit)).toBe(START + limit + 1n);
    expect(() => hlc.checkSkew(START - limit)).not.toThrow();
  });

  it('takes a configurable tolerance', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock, maxSkewMs: 5 });
    expect(hlc.maxSkewNs).toBe(5n * MS);
    expectEnablementError(() => hlc.merge(START + 6n * MS), 'PL-425');
    expect(() => hlc.merge(START + 4n * MS)).not.toThrow();
  });

  it('rejects malformed remote timestamps with PL-400', () => {
    const hlc = createHybridLogicalClock({ clock: new ManualClock(START) });
    expectEnablementError(() => hlc.merge(-1n), 'PL-400');
    expectEnablementError(() => hlc.merge(2n ** 63n), 'PL-400');
    expectEnablementError(() => hlc.merge(Number(START) as unknown as bigint), 'PL-400');
    expectEnablementError(() => hlc.merge('1' as unknown as bigint), 'PL-400');
  });

  it('resumes after an initial timestamp even if the physical clock reads earlier', () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock, initial: START + 3_600_000n * MS });
    expect(hlc.now()).toBe(START + 3_600_000n * MS + 1n);
  });

  it('validates its options, naming the option', () => {
    expect(() => createHybridLogicalClock({ maxSkewMs: -1 })).toThrow(/maxSkewMs/);
    expect(() => createHybridLogicalClock({ maxSkewMs: Number.NaN })).toThrow(/maxSkewMs/);
    expect(() => createHybridLogicalClock({ clock: {} as Clock })).toThrow(/clock: expected a Clock/);
    expect(() => createHybridLogicalClock({ initial: -1n })).toThrow(/initial/);
    expect(() => createHybridLogicalClock({ skew: 1 } as never)).toThrow(/skew/);
    expectEnablementError(() => createHybridLogicalClock({ maxSkewMs: -1 }), 'PL-400');
  });

  it('fails with PL-500 when the physical clock returns garbage', () => {
    const clock = { now: () => 5 as unknown as bigint, schedule: () => () => undefined };
    const hlc = createHybridLogicalClock({ clock });
    expectEnablementError(() => hlc.now(), 'PL-500');
  });

  it('fails with PL-500 rather than wrapping past int64', () => {
    const max = 2n ** 63n - 1n;
    const hlc = createHybridLogicalClock({ clock: new ManualClock(START), initial: max });
    expectEnablementError(() => hlc.now(), 'PL-500');
    expect(hlc.last).toBe(max);
  });

  it('answers through the async port', async () => {
    const clock = new ManualClock(START);
    const hlc = createHybridLogicalClock({ clock });
    const a = await hlc.getTimestamp();
    const b = await hlc.receive(START + 10n * MS);
    expect(b).toBe(START + 10n * MS + 1n);
    expect(b > a).toBe(true);
    await expect(hlc.receive(START + 200n * MS)).rejects.toMatchObject({ code: 'PL-425' });
  });

  it('is monotonic under arbitrary local events, merges and physical clock jumps', () => {
    const limitNs = 100n * MS;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('local' as const) }),
      fc.record({
        kind: fc.constant('jump' as const),
        deltaNs: fc.bigInt({ min: -2_000n * MS, max: 2_000n * MS }),
      }),
      fc.record({ kind: fc.constant('tick' as const), deltaNs: fc.bigInt({ min: 0n, max: 3_000n }) }),
      fc.record({
        kind: fc.constant('merge' as const),
        offsetNs: fc.bigInt({ min: -150n * MS, max: 150n * MS }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const clock = new ManualClock(START);
        const hlc = createHybridLogicalClock({ clock });
        let previous = -1n;
        for (const o of ops) {
          if (o.kind === 'jump' || o.kind === 'tick') {
            clock.time += o.deltaNs;
            continue;
          }
          const pt = clock.time;
          let ts: bigint;
          if (o.kind === 'local') {
            ts = hlc.now();
          } else {
            const remote = pt + o.offsetNs;
            const abs = o.offsetNs < 0n ? -o.offsetNs : o.offsetNs;
            if (abs > limitNs) {
              const last = hlc.last;
              expectEnablementError(() => hlc.merge(remote), 'PL-425');
              expect(hlc.last).toBe(last);
              continue;
            }
            ts = hlc.merge(remote);
            expect(ts > remote).toBe(true);
          }
          expect(ts > previous).toBe(true);
          // Never behind the physical clock (to the microsecond).
          expect(ts >= pt - (pt % 1000n)).toBe(true);
          expect(hlc.last).toBe(ts);
          previous = ts;
        }
      }),
      { numRuns: 200 },
    );
  });
});
