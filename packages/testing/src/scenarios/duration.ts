import { EnablementError } from '@creto/core';

const UNITS_MS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
});

/** Longest duration a scenario may name: 366 days. */
export const MAX_SCENARIO_DURATION_MS = 366 * 86_400_000;

/**
 * Milliseconds of a scenario duration: `500ms`, `5s`, `10m`, `2h`, `1d`, a decimal such as
 * `1.5s`, or a plain number of milliseconds. `PL-400` for anything else, negative or beyond
 * {@link MAX_SCENARIO_DURATION_MS}.
 *
 * @example
 * ```ts
 * parseDuration('5s'); // 5000
 * ```
 */
export function parseDuration(value: unknown, field = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0 || value > MAX_SCENARIO_DURATION_MS) {
      throw new EnablementError(
        'PL-400',
        `${field}: expected 0..${MAX_SCENARIO_DURATION_MS} ms, got ${value}`,
      );
    }
    return value;
  }
  if (typeof value !== 'string')
    throw new EnablementError('PL-400', `${field}: expected a duration such as "5s"`);
  const match = /^(\d{1,9}(?:\.\d{1,6})?)(ms|s|m|h|d)$/.exec(value.trim());
  const unit = match?.[2] === undefined ? undefined : UNITS_MS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new EnablementError(
      'PL-400',
      `${field}: "${value.slice(0, 40)}" is not a duration such as 500ms, 5s, 2h`,
    );
  }
  const ms = Number(match[1]) * unit;
  if (ms > MAX_SCENARIO_DURATION_MS) {
    throw new EnablementError('PL-400', `${field}: ${value} is longer than ${MAX_SCENARIO_DURATION_MS} ms`);
  }
  return Math.round(ms);
}
