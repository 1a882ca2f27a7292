import { type Clock, clockSchema, EnablementError, parseOptions } from '@creto/core';
import { PGlite, type QueryOptions, type Transaction, TransactionAbortedError } from '@electric-sql/pglite';
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
import { createSqlClient } from './transaction.js';

/** Options of {@link createPGliteClient}. */
export interface PGliteClientOptions {
  /**
   * Directory of the database files, for the embedded durable mode (one process at a time may
   * open it). Absent: an in-memory database, lost on `close()`. Ignored when `pglite` is given.
   */
  readonly dataDir?: string;
  /** An open PGlite instance to use instead; `close()` leaves it open. */
  readonly pglite?: PGlite;
  /** Clock the waits between transaction retries run on; the system clock by default. */
  readonly clock?: Clock;
}

const optionsSchema = z
  .strictObject({
    dataDir: z.string().min(1).max(4096).optional(),
    pglite: z.instanceof(PGlite, { error: 'expected a PGlite instance' }).optional(),
    clock: clockSchema.optional(),
  })
  .refine((o) => o.dataDir === undefined || o.pglite === undefined, {
    error: 'give dataDir or pglite, not both',
  });

const identity = (text: string): string => text;

// The same normalisation as the pg client: int8 → bigint, JSON stays text (PGlite already gives
// bytea as a fresh Uint8Array and numeric as text).
const QUERY_OPTIONS: QueryOptions = Object.freeze({
  parsers: { 20: (text: string) => BigInt(text), 114: identity, 3802: identity },
});

interface PGliteQueryTarget {
  query<T>(
    query: string,
    params?: unknown[],
    options?: QueryOptions,
  ): Promise<{
    rows: T[];
    rowCount?: number;
    affectedRows?: number;
  }>;
}

async function runQuery<R extends SqlRow>(
  target: PGliteQueryTarget,
  text: string,
  params: readonly SqlValue[] | undefined,
): Promise<SqlResult<R>> {
  assertStatement(text);
  const values = normaliseParams(params);
  try {
    const result = await target.query<R>(text, values, QUERY_OPTIONS);
    return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
  } catch (error) {
    throw toSqlError(error, 'query');
  }
}

/**
 * A {@link SqlClient} on PGlite: PostgreSQL compiled to WebAssembly, in process. One connection,
 * so statements and transactions run one at a time (PGlite queues them) and serialization
 * failures cannot happen; the same SQL and the same stores run on it as on a server. With
 * `dataDir` it is the embedded durable mode: data survives `close()` and a process restart, for
 * a single process.
 *
 * @example
 * ```ts
 * const client = await createPGliteClient({ dataDir: './data/creto' });
 * await migrate(client, { schema: 'creto' });
 * ```
 */
export async function createPGliteClient(options: PGliteClientOptions = {}): Promise<SqlClient> {
  const parsed = parseOptions(optionsSchema, options, 'createPGliteClient');
  const owned = parsed.pglite === undefined;
  let db: PGlite;
  if (parsed.pglite !== undefined) {
    db = parsed.pglite;
  } else {
    try {
      db = await PGlite.create(parsed.dataDir === undefined ? {} : { dataDir: parsed.dataDir });
    } catch (error) {
      throw new EnablementError('PL-503', 'pglite: could not open the database', { cause: error });
    }
  }

  // Subscriptions still open, ended at `close()` when the PGlite instance was given (and stays open).
  const subscriptions = new Set<() => Promise<void>>();

  async function transactionOnce<T>(fn: (tx: SqlExecutor) => Promise<T>, begin: string): Promise<T> {
    // Whatever `fn` throws goes out unchanged; only PGlite's own BEGIN/COMMIT failures are mapped.
    let thrownByFn: { readonly error: unknown } | undefined;
    try {
      return await db.transaction(async (handle: Transaction) => {
        let finished = false;
        const tx: SqlExecutor = {
          query<R extends SqlRow = SqlRow>(text: string, params?: readonly SqlValue[]) {
            if (finished) {
              return Promise.reject(
                new EnablementError('PL-500', 'pglite: the transaction has already ended'),
              );
            }
            return runQuery<R>(handle, text, params);
          },
        };
        // PGlite has already sent BEGIN; the isolation level is set as the first statement.
        if (begin !== 'BEGIN')
          await runQuery(handle, `SET TRANSACTION${begin.slice('BEGIN'.length)}`, undefined);
        try {
          return await fn(tx);
        } catch (error) {
          thrownByFn = { error };
          throw error;
        } finally {
          finished = true;
        }
      });
    } catch (error) {
      if (thrownByFn !== undefined && thrownByFn.error === error) throw error;
      // COMMIT of a transaction in which a statement failed (and `fn` swallowed the failure).
      if (error instanceof TransactionAbortedError) throw abortedError();
      throw toSqlError(error, 'transaction');
    }
  }

  return createSqlClient({
    name: 'pglite',
    label: 'pglite',
    query: (text, params) => runQuery(db, text, params),
    transactionOnce,
    async listen(_channel, quoted, handler) {
      // PGlite has one session: LISTEN on it hears NOTIFYs committed by this client too.
      const safe = (payload: string) => {
        try {
          handler(payload);
        } catch {
          // A failing handler must not disturb PGlite's notification loop.
        }
      };
      let stop: (tx?: Transaction) => Promise<void>;
      try {
        stop = await db.listen(quoted, safe);
      } catch (error) {
        throw toSqlError(error, 'listen');
      }
      let done = false;
      const unlisten = async () => {
        if (done) return;
        done = true;
        subscriptions.delete(unlisten);
        await stop().catch(() => undefined);
      };
      subscriptions.add(unlisten);
      return unlisten;
    },
    async release() {
      if (!owned) await Promise.all([...subscriptions].map((unlisten) => unlisten()));
      if (owned) await db.close();
    },
    clock: parsed.clock,
  });
}
