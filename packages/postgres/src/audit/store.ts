import {
  type AuditLogStore,
  assertAuditLeaves,
  assertAuditStoreIndex,
  assertStoredAuditCheckpoint,
  DEFAULT_AUDIT_ORIGIN,
  EnablementError,
  MAX_AUDIT_STORE_READ,
  MAX_NOTE_BYTES,
  parseOptions,
  type StoredAuditCheckpoint,
} from '@creto/core';
import { z } from 'zod';
import type { SqlClient, SqlExecutor } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText, unstorableTextReason } from '../sql/text.js';

/** Longest log name accepted (the `log` option). */
export const MAX_POSTGRES_AUDIT_LOG_NAME_LENGTH = 255;
/**
 * Longest leaf text accepted, in UTF-16 code units: 1 Mi. An audit event's leaf is its canonical
 * JSON, a few KiB (its metadata alone is bounded at 16 KiB), so this only stops nonsense.
 */
export const MAX_POSTGRES_AUDIT_LEAF_LENGTH = 1_048_576;

// Leaves go to the database as a JSON array per statement; a batch whose text exceeds this is
// split into several statements of the same transaction, so a batch of 10 000 large leaves never
// becomes one parameter of hundreds of MiB.
const STATEMENT_BUDGET = 4_194_304;

/** Options of {@link createPostgresAuditLogStore}. */
export interface PostgresAuditLogStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Which log this store holds: its origin (`AuditLogOptions.origin`), by default core's
   * `DEFAULT_AUDIT_ORIGIN`. Rows are keyed by it, so several logs share the tables without
   * seeing each other. 1 to {@link MAX_POSTGRES_AUDIT_LOG_NAME_LENGTH} characters of storable text.
   */
  readonly log?: string;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  log: z
    .string()
    .min(1)
    .max(MAX_POSTGRES_AUDIT_LOG_NAME_LENGTH)
    .refine((log) => unstorableTextReason(log) === undefined, { error: 'not storable as text' })
    .optional(),
});

const WHAT = 'audit store';

/** Thrown inside the append transaction to roll it back when another writer holds an index. */
class IndexTaken extends Error {}

/** Splits `leaves` into runs whose total length stays within the statement budget (≥ 1 each). */
function chunks(leaves: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const leaf of leaves) {
    if (current.length > 0 && length + leaf.length > STATEMENT_BUDGET) {
      out.push(current);
      current = [];
      length = 0;
    }
    current.push(leaf);
    length += leaf.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Core's `AuditLogStore` in PostgreSQL or PGlite: the durable storage behind `openAuditLog`, so a
 * restarted process reopens its Merkle log (RFC 9162) exactly, and signed checkpoints survive.
 *
 * Leaves live in `<schema>.audit_leaves` (one row per index, keyed by the log name), checkpoints in
 * `<schema>.audit_checkpoints`. `appendLeaves` is a compare-and-append in **one transaction**:
 * it takes a per-log advisory lock (`pg_advisory_xact_lock`), reads the size
 * (`max(leaf_index) + 1`, one step down the primary key) and writes the whole batch only when
 * the size is `start`. Of any number of writers on any number of processes appending at the same
 * `start`, exactly one succeeds; the others get `false` and nothing is written, so the log never
 * forks nor has a gap. `saveCheckpoint` is one statement that inserts only when no checkpoint of
 * that log is as large, so the latest never moves backwards; older checkpoints are kept (at most
 * one per tree size) as the log's history.
 *
 * Bad input is `PL-400` (core's assertions, plus text PostgreSQL cannot hold exactly: U+0000 or a
 * lone surrogate, and leaves longer than {@link MAX_POSTGRES_AUDIT_LEAF_LENGTH}); an unavailable
 * database is `PL-503` (retryable). Leaves are bounded by the Merkle tree's own bound
 * (`MAX_MERKLE_TREE_SIZE`) and the disk.
 *
 * @example
 * ```ts
 * const store = createPostgresAuditLogStore({ client, log: 'audit.example.com/prod' });
 * const log = await openAuditLog({ store, origin: 'audit.example.com/prod', signingKey });
 * ```
 */
export function createPostgresAuditLogStore(options: PostgresAuditLogStoreOptions): AuditLogStore {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresAuditLogStore');
  const { client } = parsed;
  const log = parsed.log ?? DEFAULT_AUDIT_ORIGIN;
  const schema = quoteSchema(parsed.schema ?? DEFAULT_SCHEMA);
  const leavesTable = qualified(schema, 'audit_leaves');
  const checkpoints = qualified(schema, 'audit_checkpoints');

  async function sizeOn(executor: SqlExecutor): Promise<number> {
    const { rows } = await executor.query<{ last: bigint | null }>(
      `SELECT max(leaf_index) AS last FROM ${leavesTable} WHERE log = $1`,
      [log],
    );
    const last = rows[0]?.last;
    return last === null || last === undefined ? 0 : Number(last) + 1;
  }

  async function append(start: number, batch: readonly string[]): Promise<boolean> {
    try {
      return await client.transaction(async (tx) => {
        // Serialises appends to this log across connections and processes: the size read next
        // (a new snapshot under read committed) includes every append that committed before.
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [leavesTable, log]);
        if ((await sizeOn(tx)) !== start) return false;
        let index = start;
        for (const chunk of chunks(batch)) {
          const inserted = await tx.query(
            `INSERT INTO ${leavesTable} (log, leaf_index, leaf)
             SELECT $1::text, $2::bigint + e.ordinality - 1, e.value
               FROM json_array_elements_text($3::json) WITH ORDINALITY AS e (value, ordinality)
             ON CONFLICT (log, leaf_index) DO NOTHING`,
            [log, index, JSON.stringify(chunk)],
          );
          // Only a writer that bypasses the lock (not this store) can hold one of these indexes:
          // its leaves stand, this batch is rolled back and reported as not written.
          if (inserted.rowCount !== chunk.length) throw new IndexTaken();
          index += chunk.length;
        }
        return true;
      });
    } catch (error) {
      if (error instanceof IndexTaken) return false;
      throw error;
    }
  }

  return Object.freeze({
    size: (): Promise<number> => sizeOn(client),

    async readLeaves(from: number, limit: number): Promise<readonly string[]> {
      assertAuditStoreIndex(from, 'from');
      if (
        typeof limit !== 'number' ||
        !Number.isSafeInteger(limit) ||
        limit < 1 ||
        limit > MAX_AUDIT_STORE_READ
      ) {
        throw new EnablementError('PL-400', `limit: expected an integer in 1..${MAX_AUDIT_STORE_READ}`);
      }
      const { rows } = await client.query<{ leaf: string }>(
        `SELECT leaf FROM ${leavesTable}
          WHERE log = $1 AND leaf_index >= $2 AND leaf_index < $3
          ORDER BY leaf_index`,
        [log, from, from + limit],
      );
      return rows.map((row) => row.leaf);
    },

    async appendLeaves(start: number, leaves: readonly string[]): Promise<boolean> {
      assertAuditLeaves(start, leaves);
      // A copy, checked: the caller cannot change the batch while it is being written.
      const batch = [...leaves];
      batch.forEach((leaf, i) => {
        assertStorableText(leaf, `leaves[${i}]`, {
          max: MAX_POSTGRES_AUDIT_LEAF_LENGTH,
          code: 'PL-400',
          what: WHAT,
        });
      });
      return append(start, batch);
    },

    async saveCheckpoint(checkpoint: StoredAuditCheckpoint): Promise<void> {
      assertStoredAuditCheckpoint(checkpoint);
      const { treeSize, note } = checkpoint;
      assertStorableText(note, 'checkpoint.note', { max: MAX_NOTE_BYTES, code: 'PL-400', what: WHAT });
      // One statement: inserts only when no checkpoint of this log is as large. Savers racing
      // with different sizes may both insert, but the latest is the largest row and rows are never
      // removed, so it only ever grows; equal sizes meet on the primary key.
      await client.query(
        `INSERT INTO ${checkpoints} (log, tree_size, note)
         SELECT $1::text, $2::bigint, $3::text
          WHERE NOT EXISTS (SELECT 1 FROM ${checkpoints} WHERE log = $1::text AND tree_size >= $2::bigint)
         ON CONFLICT (log, tree_size) DO NOTHING`,
        [log, treeSize, note],
      );
    },

    async latestCheckpoint(): Promise<StoredAuditCheckpoint | undefined> {
      const { rows } = await client.query<{ tree_size: bigint; note: string }>(
        `SELECT tree_size, note FROM ${checkpoints} WHERE log = $1 ORDER BY tree_size DESC LIMIT 1`,
        [log],
      );
      const row = rows[0];
      return row === undefined
        ? undefined
        : Object.freeze({ treeSize: Number(row.tree_size), note: row.note });
    },
  });
}
