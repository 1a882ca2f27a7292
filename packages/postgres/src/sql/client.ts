import { EnablementError } from '@creto/core';

/**
 * A value a query parameter may hold. `bigint` travels as its decimal text (int8 columns take it
 * exactly), `Uint8Array` as `bytea`, `null` as SQL `NULL`.
 */
export type SqlValue = string | number | boolean | bigint | Uint8Array | null;

/** One row of a result, by column name. */
export type SqlRow = Record<string, unknown>;

/**
 * The rows of a query, with values normalised the same way on every driver: `int8` → `bigint`,
 * `int4`/`int2` → `number`, `numeric` → `string` (exact), `bytea` → a fresh `Uint8Array` (never a
 * Node `Buffer` sharing memory), `json`/`jsonb` → the JSON text, `bool` → `boolean`.
 */
export interface SqlResult<R extends SqlRow = SqlRow> {
  /** The rows returned (empty for a statement without `RETURNING`). */
  readonly rows: R[];
  /** Rows returned, inserted, updated or deleted, as the command tag reports them. */
  readonly rowCount: number;
}

/** Runs one parameterised statement (a `SqlClient`, or the handle inside a transaction). */
export interface SqlExecutor {
  /**
   * Runs `text` (one statement, placeholders `$1`, `$2`, …) with `params`. Values are always
   * sent as parameters, never spliced into the text. Rejects with an `EnablementError`
   * (see {@link toSqlError}).
   */
  query<R extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]): Promise<SqlResult<R>>;
}

/** Transaction isolation levels PostgreSQL offers. */
export type SqlIsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** Options of {@link SqlClient.transaction}. */
export interface SqlTransactionOptions {
  /** Isolation level; `read committed` (PostgreSQL's default) when absent. */
  readonly isolation?: SqlIsolationLevel;
  /**
   * Attempts when the transaction fails with a serialization failure or a deadlock (SQLSTATE
   * `40001`, `40P01`): the whole transaction, `fn` included, runs again. Default
   * {@link DEFAULT_TRANSACTION_ATTEMPTS}; `1` disables retrying.
   */
  readonly maxAttempts?: number;
}

/** Default {@link SqlTransactionOptions.maxAttempts}. */
export const DEFAULT_TRANSACTION_ATTEMPTS = 5;
/** Upper bound on {@link SqlTransactionOptions.maxAttempts}. */
export const MAX_TRANSACTION_ATTEMPTS = 50;

/**
 * The one SQL port every store is written against, implemented on a `pg` pool
 * (`createPgClient`) and on PGlite (`createPGliteClient`), so each store runs on both.
 */
export interface SqlClient extends SqlExecutor {
  /** Which driver runs the queries. */
  readonly driver: 'pg' | 'pglite';
  /**
   * Runs `fn` inside `BEGIN` … `COMMIT` on one connection; `ROLLBACK` when `fn` or `COMMIT`
   * throws, then rethrows. A serialization failure or deadlock re-runs the whole transaction (up
   * to `maxAttempts`), so `fn` must have no effect outside the transaction it is given. Use only
   * `tx` inside `fn`: a query on the client itself would run outside the transaction (and, on
   * PGlite, wait for it to end: a deadlock).
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: SqlTransactionOptions): Promise<T>;
  /**
   * Subscribes `handler` to PostgreSQL notifications (`LISTEN`) on `channel` (a lowercase
   * identifier, `[a-z_][a-z0-9_]{0,62}`); resolves once the `LISTEN` is in force, so every
   * `NOTIFY` committed after that reaches the handler, with the payload text. Best effort: on
   * `pg` the notifications arrive on one dedicated connection, re-opened (and every channel
   * listened again) after it is lost; what is committed while it is down is not delivered.
   * Resolves to the function that ends this subscription. Optional: a host's own `SqlClient` may
   * lack it (stores then offer no change notifications); both drivers of this package have it.
   */
  listen?(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /** Releases the connections this client opened (not a pool or PGlite instance it was given). */
  close(): Promise<void>;
}

/** Receives the payload of one notification; what it throws is ignored. */
export type SqlNotificationHandler = (payload: string) => void;

/** Ends one {@link SqlClient.listen} subscription (`UNLISTEN` once nobody listens on the channel). */
export type SqlUnlisten = () => Promise<void>;

/**
 * What a notification channel name may look like: a lowercase letter or `_`, then lowercase
 * letters, digits or `_`, 63 characters at most (PostgreSQL truncates longer identifiers).
 */
export const SQL_CHANNEL_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws `PL-400` unless `channel` matches {@link SQL_CHANNEL_PATTERN}; returns it double-quoted. */
export function quoteChannel(channel: unknown): string {
  if (typeof channel !== 'string' || !SQL_CHANNEL_PATTERN.test(channel)) {
    throw new EnablementError(
      'PL-400',
      'listen: channel must be a lowercase SQL identifier ([a-z_][a-z0-9_]{0,62})',
    );
  }
  return `"${channel}"`;
}

/** SQLSTATEs after which retrying the same transaction may succeed. */
const RETRYABLE_TRANSACTION_STATES = new Set(['40001', '40P01']);

/**
 * The SQLSTATE of a driver error, looked up along the `cause` chain (so it is found on the
 * `EnablementError` that wraps it), or `undefined`.
 */
export function sqlStateOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `error` is a serialization failure or a deadlock: the transaction may be re-run. */
export function isSerializationFailure(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && RETRYABLE_TRANSACTION_STATES.has(state);
}

/**
 * Whether a failure of this SQLSTATE class is transient: connection loss (`08`), resources
 * (`53`), operator intervention such as a server shutdown (`57`), lock timeouts (`55P03`) and
 * transaction rollbacks (`40`).
 */
function isTransientState(state: string): boolean {
  return (
    state.startsWith('08') ||
    state.startsWith('53') ||
    state.startsWith('57') ||
    state.startsWith('40') ||
    state === '55P03'
  );
}

/**
 * Turns a driver failure into an `EnablementError` (an `EnablementError` passes through):
 * transient failures (lost connection, server shutdown, serialization failure, a failure without
 * SQLSTATE such as a refused connection) are `PL-503` and retryable; a missing table
 * (`42P01`: the schema was not migrated) and anything else is `PL-500`. The message names the
 * operation and the SQLSTATE only: driver text can quote parameter values, so it stays on the
 * non-serialized `cause`.
 */
export function toSqlError(error: unknown, operation: string): EnablementError {
  if (error instanceof EnablementError) return error;
  const state = sqlStateOf(error);
  if (state === undefined) {
    return new EnablementError('PL-503', `postgres: ${operation} failed: database unreachable`, {
      cause: error,
    });
  }
  if (isTransientState(state)) {
    return new EnablementError('PL-503', `postgres: ${operation} failed (SQLSTATE ${state})`, {
      cause: error,
    });
  }
  if (state === '42P01' || state === '3F000') {
    return new EnablementError(
      'PL-500',
      `postgres: ${operation} failed (SQLSTATE ${state}): a table or schema is missing; run migrate() first`,
      { cause: error },
    );
  }
  return new EnablementError('PL-500', `postgres: ${operation} failed (SQLSTATE ${state})`, { cause: error });
}

/**
 * `PL-500` for a transaction whose COMMIT turned into a rollback because a statement inside it
 * had failed and the callback went on regardless: nothing of it was kept.
 */
export function transactionAbortedError(): EnablementError {
  return new EnablementError(
    'PL-500',
    'postgres: the transaction was rolled back because a statement inside it failed; nothing was committed',
  );
}

/** Reads the `maxAttempts` of transaction options, `PL-400` when it is not an integer in range. */
export function transactionAttempts(options: SqlTransactionOptions | undefined): number {
  const value = options?.maxAttempts;
  if (value === undefined) return DEFAULT_TRANSACTION_ATTEMPTS;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_TRANSACTION_ATTEMPTS) {
    throw new EnablementError(
      'PL-400',
      `transaction: maxAttempts must be an integer from 1 to ${MAX_TRANSACTION_ATTEMPTS}`,
    );
  }
  return value;
}

const ISOLATION_LEVELS: readonly SqlIsolationLevel[] = ['read committed', 'repeatable read', 'serializable'];

/** The `BEGIN` statement for `options`, `PL-400` on an unknown isolation level. */
export function beginStatement(options: SqlTransactionOptions | undefined): string {
  const isolation = options?.isolation;
  if (isolation === undefined) return 'BEGIN';
  if (!ISOLATION_LEVELS.includes(isolation)) {
    throw new EnablementError(
      'PL-400',
      `transaction: isolation must be one of ${ISOLATION_LEVELS.join(', ')}`,
    );
  }
  return `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`;
}

/** Throws `PL-400` unless `text` is a non-empty string (a statement). */
export function assertStatement(text: unknown): asserts text is string {
  if (typeof text !== 'string' || text.trim().length === 0) {
    throw new EnablementError('PL-400', 'query: text must be a non-empty SQL statement');
  }
}
