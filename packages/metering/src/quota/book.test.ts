import { Decimal, type QuotaOverflowAction } from '@creto/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createQuotaBook } from './book.js';
import type { Quota } from './types.js';

const PERIOD = { start: 0n, end: 86_400_000_000_000n };
const NEXT = { start: PERIOD.end, end: 2n * PERIOD.end };
const counted: string[] = [];
const metrics = {
  meteringQuotaChecks: {
    add: (_n: number, labels?: { result: string }) => counted.push(labels?.result ?? ''),
  },
};

function quota(
  limit: string,
  overflow: QuotaOverflowAction,
  thresholds: string[] = [],
  agentNhi?: string,
): Quota {
  return {
    id: `q-${limit}-${overflow}-${agentNhi ?? ''}`,
    subscriptionId: 's',
    meterId: 'm',
    limit: Decimal.parse(limit),
    overflow,
    thresholds: thresholds.map((t) => Decimal.parse(t)),
    updatedAt: 0n,
    ...(agentNhi === undefined ? {} : { agentNhi }),
  };
}

function bookWith(q: Quota, usage = '0') {
  const book = createQuotaBook({ now: () => 1_000_000n, metrics: metrics as never });
  book.setAgents('s', ['a1', 'a2']);
  book.upsert(q, 'evt', 'day', PERIOD, Decimal.parse(usage));
  return book;
}

/** The decision by definition, computed with exact decimals only. */
function reference(q: Quota, usage: Decimal, amount: Decimal | undefined): string {
  const after = amount === undefined ? usage : usage.add(amount);
  const over = amount === undefined ? usage.gte(q.limit) : after.gt(q.limit);
  const first = q.thresholds[0];
  const warn = q.overflow !== 'allow' && first !== undefined && after.gte(q.limit.mul(first));
  if (over && q.overflow === 'block') return 'block';
  if (warn || (over && q.overflow === 'allow_with_notification')) return 'allow_with_notification';
  return 'allow';
}

describe('quota book', () => {
  it('answers from precomputed numbers, exactly as the decimal definition', () => {
    const decimal = (max: number) =>
      fc
        .tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max: 99 }))
        .map(([i, f]) => Decimal.parse(`${i}.${String(f).padStart(2, '0')}`));
    fc.assert(
      fc.property(
        decimal(1000).filter((d) => d.gt(Decimal.ZERO)),
        decimal(1500),
        fc.constantFrom<QuotaOverflowAction>('block', 'allow_with_notification', 'allow'),
        fc.subarray(['0.5', '0.8', '0.95', '1']),
        fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
        fc.boolean(),
        (limit, usage, overflow, thresholds, amount, asDecimal) => {
          const q = { ...quota('1', overflow, thresholds), limit };
          const book = bookWith(q, usage.toString());
          const a = amount === undefined ? undefined : asDecimal ? Decimal.from(BigInt(amount)) : amount;
          const expected = reference(
            q,
            usage,
            amount === undefined ? undefined : Decimal.from(BigInt(amount)),
          );
          expect(book.check('a1', 'evt', a).decision).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports threshold and limit crossings once, rolls periods, and skips usage of an old period', () => {
    const q = quota('10', 'allow_with_notification', ['0.5', '0.9']);
    const book = bookWith(q);
    const crossings = (value: string, period = PERIOD) =>
      book
        .add('s', 'a1', 'm', Decimal.parse(value), period)
        .map((c) => (c.exceeded ? 'exceeded' : c.threshold.toString()));
    expect(crossings('4')).toEqual([]);
    expect(crossings('5')).toEqual(['0.5', '0.9']);
    expect(crossings('1')).toEqual([]); // exactly at the limit: not exceeded
    expect(crossings('0.01')).toEqual(['exceeded']);
    expect(crossings('3', NEXT)).toEqual([]); // a new period starts from zero
    expect(book.status(q.id)?.usage.toString()).toBe('3');
    expect(crossings('100', PERIOD)).toEqual([]); // ingested in the previous period: not counted
    book.roll(q.id, { start: NEXT.end, end: NEXT.end + PERIOD.end });
    expect(book.status(q.id)?.usage.toString()).toBe('0');
  });

  it('applies agent quotas to their agent only and subscription quotas to every agent', () => {
    const book = bookWith(quota('1', 'block', [], 'a1'));
    book.upsert(quota('5', 'block'), 'evt', 'day', PERIOD, Decimal.ZERO);
    book.add('s', 'a1', 'm', Decimal.parse('1'), PERIOD);
    expect(book.check('a1', 'evt', 1).decision).toBe('block');
    expect(book.check('a2', 'evt', 4).decision).toBe('allow');
    expect(book.check('a2', 'evt', 5).decision).toBe('block');
    expect(book.check('a3', 'evt', 100).decision).toBe('allow'); // not an agent of the subscription
    book.setAgents('s', ['a3']);
    expect(book.check('a3', 'evt', 5).decision).toBe('block');
    expect(book.check('a2', 'evt', 5).decision).toBe('allow');
    book.removeSubscription('s');
    expect(book.check('a1', 'evt', 100).reason).toBe('no quota applies');
  });

  it('counts checks by result with the spec metric labels', () => {
    counted.length = 0;
    const book = bookWith(quota('2', 'block', ['0.5']));
    book.check('a1', 'evt', 0);
    book.check('a1', 'evt', 1);
    book.check('a1', 'evt', 3);
    book.check('nobody', 'evt');
    expect(counted).toEqual(['allowed', 'allowed_with_notification', 'blocked', 'allowed']);
  });
});
