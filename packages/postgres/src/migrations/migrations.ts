import { EnablementError, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { SqlClient, SqlExecutor } from '../sql/client.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { AUDIT_RELAY_MIGRATION } from './audit-relay.js';
import { METERING_MIGRATION } from './metering.js';
import { OVERSIGHT_MIGRATION } from './oversight.js';
import type { Migration } from './types.js';

export type { Migration } from './types.js';

const CORE_MIGRATION: Migration = {
  version: 1,
  name: 'idempotency keys, saga log, session entries',
  statements: (s) => [
    // Spec §9.2: one row per idempotency key. A lock has a token and no result; a completed key
    // has a result and no token. `expires_at` is an instant of the store's Clock (Unix ns), never
    // the database's `now()`, so FakeClock drives expiry in tests and every host agrees on it.
    `CREATE TABLE ${qualified(s, 'idempotency_keys')} (
      key text PRIMARY KEY,
      fingerprint text NOT NULL,
      token text,
      result text,
      expires_at bigint NOT NULL,
      CHECK ((token IS NULL) <> (result IS NULL))
    )`,
    `CREATE INDEX idempotency_keys_expires_at ON ${qualified(s, 'idempotency_keys')} (expires_at)`,
    // Spec §9.1: unfinished saga runs and their records, in append order. A finished run is deleted.
    `CREATE TABLE ${qualified(s, 'saga_runs')} (
      saga_id text PRIMARY KEY,
      run_seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      saga_name text NOT NULL,
      record_count integer NOT NULL
    )`,
    `CREATE INDEX saga_runs_name ON ${qualified(s, 'saga_runs')} (saga_name, run_seq)`,
    `CREATE TABLE ${qualified(s, 'saga_records')} (
      saga_id text NOT NULL REFERENCES ${qualified(s, 'saga_runs')} (saga_id) ON DELETE CASCADE,
      seq integer NOT NULL,
      record text NOT NULL,
      PRIMARY KEY (saga_id, seq)
    )`,
    // Messaging session state: opaque bytes per (owner NHI, key).
    `CREATE TABLE ${qualified(s, 'session_entries')} (
      owner text NOT NULL,
      key text NOT NULL,
      value bytea NOT NULL,
      PRIMARY KEY (owner, key)
    )`,
  ],
};

/** Every migration this version of the package knows, in order. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  CORE_MIGRATION,
  OVERSIGHT_MIGRATION,
  METERING_MIGRATION,
  AUDIT_RELAY_MIGRATION,
]);

/** The schema version this code expects: the last migration's number. */
export const LATEST_SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The schema holding the tables ({@link DEFAULT_SCHEMA} by default); created when missing. */
  readonly schema?: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** The versions applied by this call, in order (empty when the schema was up to date). */
  readonly applied: readonly number[];
  /** The schema version afterwards. */
  readonly version: number;
}

const optionsSchema = z.strictObject({ schema: schemaNameSchema.optional() });

// Advisory lock keys: a fixed class for "creto migrations" and the schema name's hash, so that
// migrations of different schemas in one database do not wait for each other.
const LOCK_CLASS = 'creto.migrate';

async function lockAndEnsureTable(tx: SqlExecutor, schema: string, rawName: string): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [LOCK_CLASS, rawName]);
  await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await tx.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(schema, 'schema_migrations')} (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`,
  );
  const { rows } = await tx.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${qualified(schema, 'schema_migrations')}`,
  );
  return rows[0]?.version ?? 0;
}

function checkMigrations(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const migration of migrations) {
    if (!Number.isSafeInteger(migration.version) || migration.version <= previous) {
      throw new EnablementError('PL-500', 'migrations must have ascending positive integer versions');
    }
    previous = migration.version;
  }
}

/**
 * Applies `migrations` (ascending) to `schema`; the engine of {@link migrate}, open to tests.
 * @internal
 */
export async function applyMigrations(
  client: SqlClient,
  rawSchema: string,
  migrations: readonly Migration[],
): Promise<MigrateResult> {
  checkMigrations(migrations);
  const schema = quoteSchema(rawSchema);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const applied: number[] = [];
  // One transaction per migration, each under the advisory lock and re-reading the version: a
  // process that waited for the lock sees what the other one applied and skips it.
  for (;;) {
    const step = await client.transaction(
      async (tx) => {
        const current = await lockAndEnsureTable(tx, schema, rawSchema);
        if (current > latest) {
          throw new EnablementError(
            'PL-409',
            `postgres: schema "${rawSchema}" is at version ${current}, newer than this code knows (${latest}); upgrade @creto/postgres`,
          );
        }
        const next = migrations.find((m) => m.version > current);
        if (next === undefined) return { current, appliedVersion: undefined };
        for (const statement of next.statements(schema)) await tx.query(statement);
        await tx.query(
          `INSERT INTO ${qualified(schema, 'schema_migrations')} (version, name) VALUES ($1, $2)`,
          [next.version, next.name],
        );
        return { current: next.version, appliedVersion: next.version };
      },
      { maxAttempts: 1 },
    );
    if (step.appliedVersion === undefined) return { applied, version: step.current };
    applied.push(step.appliedVersion);
  }
}

/**
 * Brings `schema` up to {@link LATEST_SCHEMA_VERSION}: creates the schema and its
 * `schema_migrations` table when missing, then applies each missing migration in order, each in
 * its own transaction that also records it. A transaction-scoped advisory lock
 * (`pg_advisory_xact_lock`) serialises concurrent callers, so two processes migrating at once are
 * safe; calling it again is a no-op. Refuses with `PL-409`, changing nothing, when the database
 * has a migration newer than this code knows (an older deployment must not write to a newer
 * schema).
 *
 * @example
 * ```ts
 * const { applied, version } = await migrate(client, { schema: 'creto' });
 * ```
 */
export async function migrate(client: SqlClient, options: MigrateOptions = {}): Promise<MigrateResult> {
  const parsed = parseOptions(optionsSchema, options, 'migrate');
  return applyMigrations(client, parsed.schema ?? DEFAULT_SCHEMA, MIGRATIONS);
}

/** The version `schema` is at: the highest recorded migration, `0` when none (or no table yet). */
export async function schemaVersion(client: SqlClient, options: MigrateOptions = {}): Promise<number> {
  const parsed = parseOptions(optionsSchema, options, 'schemaVersion');
  const raw = parsed.schema ?? DEFAULT_SCHEMA;
  const { rows: exists } = await client.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_migrations') AS found`,
    [raw],
  );
  if (exists[0]?.found !== true) return 0;
  const { rows } = await client.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${qualified(quoteSchema(raw), 'schema_migrations')}`,
  );
  return rows[0]?.version ?? 0;
}
