import { type Clock, clockSchema, EnablementError, parseOptions, systemClock } from '@creto/core';
import pg from 'pg';
import { z } from 'zod';
import {
  transactionAbortedError as abortedError,
  assertStatement,
  type SqlClient,
  type SqlExecutor,
  type SqlResult,
  type SqlRow,
  type SqlValue,
  toSqlError,
} from './client.js';
import { normaliseParams } from './params.js';
import { createPgListener, type PgListenConnection } from './pg-listener.js';
import { createSqlClient } from './transaction.js';

/** The part of a `pg.Pool` the client uses (a real `Pool` satisfies it). */
export interface PgPoolLike {
  /** Runs one statement on any idle connection. */
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
  /** Checks out one connection, for a transaction. */
  connect(): Promise<pg.PoolClient>;
  /** Closes every connection. */
  end(): Promise<void>;
}

/** Options of {@link createPgClient}: exactly one of `connectionString` or `pool`. */
export interface PgClientOptions {
  /**
   * A `postgres://` URL; the client then owns a `pg.Pool` on it and ends it on `close()`.
   * Credentials in it are never repeated in errors.
   */
  readonly connectionString?: string;
  /** An existing pool, shared with the host; `close()` leaves it open. */
  readonly pool?: PgPoolLike;
  /** Most connections of the pool the client creates (default 10, as `pg`'s). */
  readonly maxConnections?: number;
  /** Clock the waits between transaction retries run on; the system clock by default. */
  readonly clock?: Clock;
}

const poolSchema = z.custom<PgPoolLike>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof (value as PgPoolLike).query === 'function' &&
    typeof (value as PgPoolLike).connect === 'function' &&
    typeof (value as PgPoolLike).end === 'function',
  { error: 'expected a pg Pool' },
);

const optionsSchema = z
  .strictObject({
    connectionString: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' })
      .optional(),
    pool: poolSchema.optional(),
    maxConnections: z.number().int().min(1).max(1000).optional(),
    clock: clockSchema.optional(),
  })
  .refine((o) => (o.connectionString === undefined) !== (o.pool === undefined), {
    error: 'give exactly one of connectionString or pool',
  });

const INT8_OID = 20;
const BYTEA_OID = 17;
const JSON_OID = 114;
const JSONB_OID = 3802;

const parseBytea = pg.types.getTypeParser(BYTEA_OID, 'text') as (text: string) => Uint8Array;
const identity = (text: string): string => text;

// Per-query parsers, so the host's global `pg.types` settings are neither needed nor changed:
// int8 → bigint (exact), bytea → a plain Uint8Array copy (a Buffer from pg's pool of memory would
// alias other data), JSON stays text (stores parse it themselves, byte for byte).
const PG_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (text: string) => BigInt(text);
    if (oid === BYTEA_OID) return (text: string) => new Uint8Array(parseBytea(text));
    if (oid === JSON_OID || oid === JSONB_OID) return identity;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as unknown as pg.CustomTypesConfig;

interface PgQueryTarget {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

async function runQuery<R extends SqlRow>(
  target: PgQueryTarget,
  text: string,
  params: readonly SqlValue[] | undefined,
): Promise<SqlResult<R>> {
  assertStatement(text);
  const values = normaliseParams(params);
  let result: pg.QueryResult;
  try {
    result = await target.query({ text, values, types: PG_TYPES });
  } catch (error) {
    throw toSqlError(error, 'query');
  }
  return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
}

/**
 * A {@link SqlClient} on a `pg` connection pool, for a PostgreSQL server (≥ 13). Queries run on
 * any idle connection; a transaction checks one out for its whole duration and returns it, or
 * destroys it when `ROLLBACK` itself failed (the connection is then in an unknown state).
 * `listen` holds one more connection while anything listens: a `pg.Client` of its own on
 * `connectionString`, or one checked out of a given `pool` (counting against its size); lost, it
 * is re-opened with backoff.
 *
 * @example
 * ```ts
 * const client = createPgClient({ connectionString: process.env.DATABASE_URL });
 * await migrate(client, { schema: 'creto' });
 * ```
 */
export function createPgClient(options: PgClientOptions): SqlClient {
  const parsed = parseOptions(optionsSchema, options, 'createPgClient');
  const owned = parsed.pool === undefined;
  const pool: PgPoolLike =
    parsed.pool ??
    new pg.Pool({
      connectionString: parsed.connectionString,
      max: parsed.maxConnections ?? 10,
    });
  if (owned) {
    // An idle connection that dies (server restart) emits 'error' on the pool; without a
    // listener Node would crash the process. The next query gets a fresh connection.
    (pool as pg.Pool).on('error', () => {});
  }

  // LISTEN needs a session of its own, kept while anything listens.
  const openListenConnection = async (): Promise<PgListenConnection> => {
    const onError = () => {};
    if (parsed.connectionString !== undefined) {
      const client = new pg.Client({ connectionString: parsed.connectionString });
      // Until the listener attaches its own: a connection that dies must not crash the process.
      client.on('error', onError);
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(() => undefined);
        throw error;
      }
      return {
        client,
        close: () => {
          client.end().catch(() => undefined);
        },
      };
    }
    const client = await pool.connect();
    client.on('error', onError);
    let released = false;
    return {
      client,
      close: () => {
        if (released) return;
        released = true;
        // Destroyed, not returned: it still LISTENs (or is broken).
        client.release(true);
      },
    };
  };
  const listener = createPgListener(openListenConnection, parsed.clock ?? systemClock);

  async function transactionOnce<T>(fn: (tx: SqlExecutor) => Promise<T>, begin: string): Promise<T> {
    let connection: pg.PoolClient;
    try {
      connection = await pool.connect();
    } catch (error) {
      throw toSqlError(error, 'connect');
    }
    let finished = false;
    let broken = false;
    // A checked-out connection that dies (server restart, pg_terminate_backend) emits 'error';
    // with no listener Node would crash the process. The failing query rejects on its own.
    const onError = () => {
      broken = true;
    };
    connection.on('error', onError);
    const tx: SqlExecutor = {
      query<R extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]) {
        if (finished) {
          return Promise.reject(new EnablementError('PL-500', 'postgres: the transaction has already ended'));
        }
        return runQuery<R>(connection, text, params);
      },
    };
    try {
      await runQuery(connection, begin, undefined);
      const result = await fn(tx);
      finished = true;
      let commit: pg.QueryResult;
      try {
        commit = await connection.query('COMMIT');
      } catch (error) {
        throw toSqlError(error, 'commit');
      }
      // PostgreSQL answers COMMIT of a transaction in which a statement failed with ROLLBACK, and
      // no error: `fn` swallowed that failure, and nothing it did was kept.
      if (commit.command === 'ROLLBACK') throw abortedError();
      return result;
    } catch (error) {
      finished = true;
      try {
        await connection.query('ROLLBACK');
      } catch {
        broken = true;
      }
      // Statement failures are already EnablementErrors; whatever `fn` threw goes out unchanged.
      throw error;
    } finally {
      connection.off('error', onError);
      connection.release(broken ? true : undefined);
    }
  }

  return createSqlClient({
    name: 'pg',
    label: 'postgres',
    query: (text, params) => runQuery(pool, text, params),
    transactionOnce,
    listen: (channel, quoted, handler) => listener.listen(channel, quoted, handler),
    async release() {
      listener.close();
      if (owned) await pool.end();
    },
    clock: parsed.clock,
  });
}
