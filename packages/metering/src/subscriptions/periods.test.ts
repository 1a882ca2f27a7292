import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY_NS, defaultAnchor, formatUtcDate, nextPeriod, periodContaining } from './periods.js';

const MS = 1_000_000n;
/** Unix ns of a UTC date, through the platform calendar (an independent reference). */
const utc = (y: number, m: number, d: number, h = 0) => BigInt(Date.UTC(y, m - 1, d, h)) * MS;

describe('billing periods', () => {
  it('runs monthly from the anchor day, clamped to short months without drifting', () => {
    const anchor = utc(2026, 1, 31, 9);
    const starts = [];
    let period = periodContaining(anchor, 'month', anchor);
    for (let i = 0; i < 5; i++) {
      starts.push(formatUtcDate(period.start));
      period = nextPeriod(anchor, 'month', period);
    }
    expect(starts).toEqual(['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31']);
    expect(periodContaining(anchor, 'month', utc(2028, 2, 29, 10))).toEqual({
      start: utc(2028, 2, 29, 9),
      end: utc(2028, 3, 31, 9),
    });
    // Before the anchor too.
    expect(periodContaining(anchor, 'month', utc(2025, 12, 31, 8))).toEqual({
      start: utc(2025, 11, 30, 9),
      end: utc(2025, 12, 31, 9),
    });
  });

  it('runs daily from the anchor time', () => {
    const anchor = utc(2026, 3, 1, 6);
    expect(periodContaining(anchor, 'day', utc(2026, 3, 10, 5))).toEqual({
      start: utc(2026, 3, 9, 6),
      end: utc(2026, 3, 10, 6),
    });
    expect(periodContaining(anchor, 'day', anchor - 1n)).toEqual({ start: anchor - DAY_NS, end: anchor });
  });

  it('defaults the anchor to the UTC day or month of creation', () => {
    const now = utc(2026, 7, 15, 13) + 123n;
    expect(defaultAnchor('day', now)).toBe(utc(2026, 7, 15));
    expect(defaultAnchor('month', now)).toBe(utc(2026, 7, 1));
  });

  it('property: the period contains the instant, and periods tile time', () => {
    const instant = fc.bigInt({ min: utc(1990, 1, 1), max: utc(2090, 1, 1) });
    fc.assert(
      fc.property(
        instant,
        instant,
        fc.constantFrom('day' as const, 'month' as const),
        (anchor, at, interval) => {
          const p = periodContaining(anchor, interval, at);
          expect(p.start <= at && at < p.end).toBe(true);
          const next = nextPeriod(anchor, interval, p);
          expect(next.start).toBe(p.end);
          expect(periodContaining(anchor, interval, p.end - 1n)).toEqual(p);
          const days = Number((p.end - p.start) / DAY_NS);
          expect(interval === 'day' ? days === 1 : days >= 28 && days <= 31).toBe(true);
          // The anchor's time of day is kept.
          expect((p.start - anchor) % DAY_NS).toBe(0n);
        },
      ),
      { numRuns: 300 },
    );
  });
});
