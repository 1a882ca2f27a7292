import { EnablementError } from '@creto/core';
import type { SqlValue } from './client.js';

/** Most parameters one statement may carry (PostgreSQL's protocol limit is 65 535). */
export const MAX_SQL_PARAMS = 65_535;

/**
 * Checks the parameters of a statement and returns them as an array the drivers accept:
 * `bigint` becomes its decimal text (both drivers then cast it to the column's type exactly).
 * Anything that is not a {@link SqlValue} is `PL-400`: a driver would otherwise serialize an
 * object as JSON or a `Date` in local time, silently.
 */
export function normaliseParams(
  params: readonly SqlValue[] | undefined,
): (string | number | boolean | Uint8Array | null)[] {
  if (params === undefined) return [];
  if (!Array.isArray(params)) throw new EnablementError('PL-400', 'query: params must be an array');
  if (params.length > MAX_SQL_PARAMS) {
    throw new EnablementError('PL-400', `query: at most ${MAX_SQL_PARAMS} params`);
  }
  return params.map((value: unknown, index) => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number') {
      if (!Number.isFinite(value))
        throw new EnablementError('PL-400', `query: param $${index + 1} is not finite`);
      return value;
    }
    if (value instanceof Uint8Array) return value;
    throw new EnablementError(
      'PL-400',
      `query: param $${index + 1} must be a string, number, boolean, bigint, Uint8Array or null`,
    );
  });
}
