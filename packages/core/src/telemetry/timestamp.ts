import { INT64_MAX, INT64_MIN } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { type ConsensusTimestamp, NANOS_PER_SECOND } from '../time/clock.js';

// int64 nanoseconds span 1677-09-21 … 2262-04-11, so every year has four digits.
const SECONDS_PER_DAY = 86_400n;

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** Floor division for bigint (`/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/**
 * Unix nanoseconds as an RFC 3339 (§5.6) UTC timestamp with exactly six fractional digits, the
 * shape of spec §10.3 logs: `2025-12-26T10:30:00.123456Z`. Sub-microsecond digits are truncated
 * (not rounded), so a timestamp never moves into the next second.
 *
 * Computed from the integer, not through `Date`, so it is exact across the whole int64 range and
 * never reads the wall clock. Throws `PL-400` for a value that is not an int64 `bigint`.
 *
 * @example
 * ```ts
 * formatRfc3339Micros(1_766_745_000_123_456_789n); // '2025-12-26T10:30:00.123456Z'
 * ```
 */
export function formatRfc3339Micros(ns: ConsensusTimestamp): string {
  if (typeof ns !== 'bigint' || ns < INT64_MIN || ns > INT64_MAX) {
    throw new EnablementError('PL-400', 'timestamp must be int64 Unix nanoseconds (bigint)');
  }
  const seconds = floorDiv(ns, NANOS_PER_SECOND);
  const micros = Number((ns - seconds * NANOS_PER_SECOND) / 1_000n);
  const days = Number(floorDiv(seconds, SECONDS_PER_DAY));
  const secondOfDay = Number(seconds - BigInt(days) * SECONDS_PER_DAY);
  // Days since 1970-01-01 to a proleptic Gregorian civil date (H. Hinnant, "chrono-Compatible
  // Low-Level Date Algorithms", civil_from_days).
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
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hh = Math.floor(secondOfDay / 3600);
  const mm = Math.floor((secondOfDay % 3600) / 60);
  const ss = secondOfDay % 60;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(micros, 6)}Z`;
}
