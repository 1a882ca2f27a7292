import { EnablementError, type ErrorCode } from '@creto/core';

/**
 * Runs `operation`, re-raising an unavailable database (`PL-503` from the `SqlClient`) as the
 * port's own retryable unavailable code (`MT-503`, `MS-503`, …), with `retryAfterMs` kept and the
 * original as cause. Every other error passes through unchanged. One mapping for every store.
 */
export async function withUnavailableAs<T>(
  code: ErrorCode,
  what: string,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (EnablementError.is(error) && error.code === 'PL-503') {
      throw new EnablementError(code, `${what}: the database is unavailable`, {
        cause: error,
        retryable: true,
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
      });
    }
    throw error;
  }
}
