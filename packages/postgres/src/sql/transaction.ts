import { type Clock, EnablementError, retry, systemClock } from '@creto/core';
import { isSerializationFailure, type SqlTransactionOptions, transactionAttempts } from './client.js';

/** First wait before re-running a transaction that hit a serialization failure, ms. */
const FIRST_RETRY_DELAY_MS = 2;
/** Longest wait between two runs of such a transaction, ms. */
const MAX_RETRY_DELAY_MS = 100;

/**
 * Runs `attempt` (one whole transaction) and re-runs it after a serialization failure or a
 * deadlock, with decorrelated jitter between 2 and 100 ms on `clock` (PostgreSQL's advice: a
 * transaction aborted that way is retried from the start). Any other failure ends it at once.
 * Giving up after several attempts throws core's `RetryError`, which keeps the last error's code.
 *
 * @example
 * ```ts
 * const total = await withSerializationRetry(() => client.transaction(transfer, { maxAttempts: 1 }), { maxAttempts: 5 });
 * ```
 */
export function withSerializationRetry<T>(
  attempt: () => Promise<T>,
  options: SqlTransactionOptions & { readonly clock?: Clock } = {},
): Promise<T> {
  if (typeof attempt !== 'function') {
    return Promise.reject(
      new EnablementError('PL-400', 'withSerializationRetry: attempt must be a function'),
    );
  }
  let maxAttempts: number;
  try {
    maxAttempts = transactionAttempts(options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (maxAttempts === 1) return attempt();
  return retry(() => attempt(), {
    clock: options.clock ?? systemClock,
    maxAttempts,
    strategy: (error) =>
      isSerializationFailure(error)
        ? {
            kind: 'exponential_backoff',
            initialDelayMs: FIRST_RETRY_DELAY_MS,
            maxDelayMs: MAX_RETRY_DELAY_MS,
            maxAttempts,
          }
        : { kind: 'never' },
  });
}
