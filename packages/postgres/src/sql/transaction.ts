import { type Clock, EnablementError, retry, systemClock } from '@creto/core';
import {
  beginStatement,
  isSerializationFailure,
  quoteChannel,
  type SqlClient,
  type SqlExecutor,
  type SqlNotificationHandler,
  type SqlResult,
  type SqlRow,
  type SqlTransactionOptions,
  type SqlUnlisten,
  type SqlValue,
  transactionAttempts,
} from './client.js';

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

/** What a driver supplies to {@link createSqlClient}: how it runs one query and one transaction. */
export interface SqlDriver {
  /** The driver's name, also the prefix of its "closed" error. */
  readonly name: 'pg' | 'pglite';
  /** Label used in the "client is closed" error (`postgres`, `pglite`). */
  readonly label: string;
  /** Runs one statement outside any transaction. */
  query<R extends SqlRow>(text: string, params?: readonly SqlValue[]): Promise<SqlResult<R>>;
  /** Runs `fn` once inside the transaction opened by `begin`; no retry. */
  transactionOnce<T>(fn: (tx: SqlExecutor) => Promise<T>, begin: string): Promise<T>;
  /**
   * `LISTEN` on `channel` (already checked and given double-quoted as `quoted`): resolves once it
   * is in force, to the function that ends the subscription.
   */
  listen?(channel: string, quoted: string, handler: SqlNotificationHandler): Promise<SqlUnlisten>;
  /**
   * Releases what the client opened itself (nothing when it was given a pool or instance) and
   * ends every `listen` subscription.
   */
  release(): Promise<void>;
  /** Clock for the serialization-retry waits. */
  readonly clock?: Clock | undefined;
}

/**
 * The {@link SqlClient} every driver returns: refuses work after `close` (`PL-500`), validates the
 * transaction options, and re-runs a whole transaction after a serialization failure
 * ({@link withSerializationRetry}). Drivers only say how to run one query and one transaction.
 */
export function createSqlClient(driver: SqlDriver): SqlClient {
  let closed = false;
  const driverListen = driver.listen;
  const closedError = () => new EnablementError('PL-500', `${driver.label}: the client is closed`);
  return Object.freeze({
    driver: driver.name,
    query<R extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]) {
      if (closed) return Promise.reject(closedError());
      return driver.query<R>(text, params);
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: SqlTransactionOptions) {
      if (closed) throw closedError();
      if (typeof fn !== 'function') throw new EnablementError('PL-400', 'transaction: fn must be a function');
      const begin = beginStatement(options);
      return withSerializationRetry(() => driver.transactionOnce(fn, begin), {
        maxAttempts: transactionAttempts(options),
        ...(driver.clock ? { clock: driver.clock } : {}),
      });
    },
    ...(driverListen === undefined
      ? {}
      : {
          async listen(channel: string, handler: SqlNotificationHandler): Promise<SqlUnlisten> {
            if (closed) throw closedError();
            const quoted = quoteChannel(channel);
            if (typeof handler !== 'function') {
              throw new EnablementError('PL-400', 'listen: handler must be a function');
            }
            return driverListen(channel, quoted, handler);
          },
        }),
    async close() {
      if (closed) return;
      closed = true;
      await driver.release();
    },
  });
}
