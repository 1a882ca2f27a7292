import { EnablementError, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { SqlClient } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText, unstorableTextReason } from '../sql/text.js';
import { withUnavailableAs } from '../sql/unavailable.js';

/**
 * Messaging's `SessionStore` port, declared here structurally (this package imports only
 * `@creto/core`): opaque bytes under string keys, each write replacing the whole value atomically.
 */
export interface SessionStoreLike {
  /** The value under `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Replaces the value under `key`. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** Removes `key`; idempotent. */
  delete(key: string): Promise<void>;
}

/** Default {@link PostgresSessionStoreOptions.maxEntries}, as messaging's in-memory store. */
export const DEFAULT_POSTGRES_SESSION_MAX_ENTRIES = 10_000;
/** Default {@link PostgresSessionStoreOptions.maxValueBytes}: 1 MiB. */
export const DEFAULT_POSTGRES_SESSION_MAX_VALUE_BYTES = 1_048_576;
/** Longest key accepted, as messaging's in-memory store. */
export const MAX_SESSION_KEY_LENGTH = 512;
/** Longest owner accepted. */
export const MAX_SESSION_OWNER_LENGTH = 512;

/** Options of {@link createPostgresSessionStore}. */
export interface PostgresSessionStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Whose sessions these are: the owning agent's NHI. Keys are namespaced by it, so the agents of
   * one database never see each other's entries.
   */
  readonly owner: string;
  /** Most keys held for this owner; a new key beyond it is refused with `MS-413`. Default 10 000. */
  readonly maxEntries?: number;
  /** Largest value accepted, bytes; larger is refused with `MS-413`. Default 1 MiB. */
  readonly maxValueBytes?: number;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  owner: z
    .string()
    .min(1)
    .max(MAX_SESSION_OWNER_LENGTH)
    .refine((owner) => unstorableTextReason(owner) === undefined, { error: 'not storable as text' }),
  maxEntries: z.number().int().min(1).optional(),
  maxValueBytes: z.number().int().min(1).max(268_435_456).optional(),
});

const WHAT = 'session store';

/** Re-raises an unavailable database as `MS-503` (retryable). */
const guarded = <T>(operation: () => Promise<T>): Promise<T> => withUnavailableAs('MS-503', WHAT, operation);

function checkKey(key: unknown): asserts key is string {
  assertStorableText(key, 'key', { max: MAX_SESSION_KEY_LENGTH, code: 'MS-400', what: WHAT });
}

/**
 * Messaging's `SessionStore` in PostgreSQL or PGlite: one row per (owner, key) in
 * `<schema>.session_entries`, the value as `bytea`. Each `set` is one atomic statement (a crash
 * leaves the old or the new value, never a mix) and is durable once it resolves, so ratchet
 * state survives a restart without forking. Values are copied in and out.
 *
 * The values hold secret keys: give the database the protection of the identity's own secrets
 * (encryption at rest, restricted roles, TLS to the server). Bounded per owner by `maxEntries`
 * keys and `maxValueBytes` per value (`MS-413`); bad keys are `MS-400`; an unavailable database is
 * `MS-503` (retryable).
 *
 * @example
 * ```ts
 * const sessionStore = createPostgresSessionStore({ client, owner: identity.nhi });
 * const messaging = await createMessagingClient({ identity, nhi, transport, sessionStore, clock });
 * ```
 */
export function createPostgresSessionStore(options: PostgresSessionStoreOptions): SessionStoreLike {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresSessionStore');
  const { client, owner } = parsed;
  const maxEntries = parsed.maxEntries ?? DEFAULT_POSTGRES_SESSION_MAX_ENTRIES;
  const maxValueBytes = parsed.maxValueBytes ?? DEFAULT_POSTGRES_SESSION_MAX_VALUE_BYTES;
  const table = qualified(quoteSchema(parsed.schema ?? DEFAULT_SCHEMA), 'session_entries');

  return Object.freeze({
    get: (key: string): Promise<Uint8Array | undefined> => guarded(() => get(key)),
    set: (key: string, value: Uint8Array): Promise<void> => guarded(() => set(key, value)),
    delete: (key: string): Promise<void> => guarded(() => remove(key)),
  });

  async function get(key: string): Promise<Uint8Array | undefined> {
    checkKey(key);
    const { rows } = await client.query<{ value: Uint8Array }>(
      `SELECT value FROM ${table} WHERE owner = $1 AND key = $2`,
      [owner, key],
    );
    const value = rows[0]?.value;
    // Both drivers hand out a fresh array; copying again keeps that a property of this store.
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  async function set(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    if (!(value instanceof Uint8Array)) throw new EnablementError('MS-400', 'value: expected a Uint8Array');
    if (value.byteLength > maxValueBytes) {
      throw new EnablementError('MS-413', `session store: value is larger than ${maxValueBytes} bytes`);
    }
    const copy = Uint8Array.from(value);
    // Replacing an existing key never changes the count: one statement, no bound check.
    const replaced = await client.query(`UPDATE ${table} SET value = $3 WHERE owner = $1 AND key = $2`, [
      owner,
      key,
      copy,
    ]);
    if (replaced.rowCount === 1) return;
    await client.transaction(async (tx) => {
      // Serialises new keys of one owner across processes, so the bound holds exactly.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [table, owner]);
      const { rows } = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${table} WHERE owner = $1`, [
        owner,
      ]);
      const exists = await tx.query(`SELECT 1 FROM ${table} WHERE owner = $1 AND key = $2`, [owner, key]);
      if (exists.rowCount === 0 && (rows[0]?.n ?? 0n) >= BigInt(maxEntries)) {
        throw new EnablementError('MS-413', `session store is full (${maxEntries} entries)`);
      }
      await tx.query(
        `INSERT INTO ${table} (owner, key, value) VALUES ($1, $2, $3)
           ON CONFLICT (owner, key) DO UPDATE SET value = EXCLUDED.value`,
        [owner, key, copy],
      );
    });
  }

  async function remove(key: string): Promise<void> {
    checkKey(key);
    await client.query(`DELETE FROM ${table} WHERE owner = $1 AND key = $2`, [owner, key]);
  }
}
