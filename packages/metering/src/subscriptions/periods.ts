import { EnablementError } from '@creto/core';
import type { BillingInterval } from '../plans/types.js';

/** A billing period `[start, end)`, Unix nanoseconds. */
export interface BillingPeriod {
  /** First instant of the period (inclusive). */
  readonly start: bigint;
  /** First instant after the period (exclusive). */
  readonly end: bigint;
}

/** Nanoseconds per millisecond. */
const NS_PER_MS = 1_000_000n;
/** Nanoseconds in a UTC day (UTC has no leap seconds in Unix time). */
export const DAY_NS = 86_400_000_000_000n;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible low-level
// date algorithms"): calendar arithmetic without `Date`, exact for any int64 instant.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function daysInMonth(year: number, month: number): number {
  return (
    daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1) -
    daysFromCivil(year, month, 1)
  );
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

interface Civil {
  readonly monthIndex: number; // year × 12 + (month − 1)
  readonly day: number;
  readonly timeOfDayNs: bigint;
}

function civilOf(at: bigint): Civil {
  const days = floorDiv(at, DAY_NS);
  const { year, month, day } = civilFromDays(Number(days));
  return { monthIndex: year * 12 + month - 1, day, timeOfDayNs: at - days * DAY_NS };
}

/** Start of the `k`-th monthly period after `anchor` (the day of month clamped to the month's length). */
function monthlyStart(anchor: Civil, k: number): bigint {
  const index = anchor.monthIndex + k;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  const day = Math.min(anchor.day, daysInMonth(year, month));
  return BigInt(daysFromCivil(year, month, day)) * DAY_NS + anchor.timeOfDayNs;
}

/**
 * The billing period that contains `at`, for periods of `interval` anchored at `anchor` (Unix ns):
 * - `day`: `[anchor + k·24 h, anchor + (k+1)·24 h)`;
 * - `month`: from the anchor's day of month and time of day to the same in the next month, UTC,
 *   the day clamped to the month's length (anchored on the 31st: 28/29 February, 30 April), each
 *   period computed from the anchor itself so the clamping never drifts.
 */
export function periodContaining(anchor: bigint, interval: BillingInterval, at: bigint): BillingPeriod {
  if (interval === 'day') {
    const k = floorDiv(at - anchor, DAY_NS);
    const start = anchor + k * DAY_NS;
    return { start, end: start + DAY_NS };
  }
  const a = civilOf(anchor);
  let k = civilOf(at).monthIndex - a.monthIndex;
  // The estimate is off by at most one either way (day of month and time of day).
  if (monthlyStart(a, k) > at) k--;
  else if (monthlyStart(a, k + 1) <= at) k++;
  return { start: monthlyStart(a, k), end: monthlyStart(a, k + 1) };
}

/** The period right after `period`. */
export function nextPeriod(anchor: bigint, interval: BillingInterval, period: BillingPeriod): BillingPeriod {
  return periodContaining(anchor, interval, period.end);
}

/**
 * The default anchor of a new subscription: the start of the UTC day (`day`) or of the UTC month
 * (`month`) that contains `now`, so periods follow calendar days and months.
 */
export function defaultAnchor(interval: BillingInterval, now: bigint): bigint {
  const days = floorDiv(now, DAY_NS);
  if (interval === 'day') return days * DAY_NS;
  const { year, month } = civilFromDays(Number(days));
  return BigInt(daysFromCivil(year, month, 1)) * DAY_NS;
}

/** `YYYY-MM-DD` (UTC) of an instant, for invoice texts. */
export function formatUtcDate(at: bigint): string {
  const { year, month, day } = civilFromDays(Number(floorDiv(at, DAY_NS)));
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

/** Throws `MT-400` unless `value` is a bigint of Unix nanoseconds in `[0, 2^63)`. */
export function assertInstant(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= 2n ** 63n) {
    throw new EnablementError('MT-400', `${field}: expected a bigint of Unix nanoseconds`);
  }
}

/** Milliseconds → nanoseconds. */
export function msToNs(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * NS_PER_MS;
}
