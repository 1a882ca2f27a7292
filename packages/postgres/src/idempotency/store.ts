import {
  type Clock,
  type ConsensusTimestamp,
  clockSchema,
  EnablementError,
  type IdempotencyBeginResult,
  type IdempotencyEntry,
  type IdempotencyStore,
  MAX_IDEMPOTENCY_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_STORE_KEY_LENGTH,
  millisToNanos,
  NANOS_PER_MILLI,
  newUuid,
  parseOptions,
  systemClock,
} from '@creto/core';
import { z } from 'zod';
import type { SqlClient } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText } from '../sql/text.js';

/** Default {@link PostgresIdempotencyStoreOptions.maxResultLength}: 64 Ki characters, as the memory store. */
export const DEFAULT_POSTGRES_IDEMPOTENCY_MAX_RESULT_LENGTH = 65_536;
/** Default `limit` of {@link PostgresIdempotencyStore.purgeExpired}. */
export const DEFAULT_IDEMPOTENCY_PURGE_LIMIT = 10_000;

/** Options of {@link createPostgresIdempotencyStore}. */
export interface PostgresIdempotencyStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Source of time for lock and result expiry (the system clock by default). Expiry instants
   * are stored and compared with this clock, never with the database's `now()`: processes that
   * share a database must therefore keep their clocks in sync (NTP), as for any lease.
   */
  readonly clock?: Clock;
  /** Longest result `complete` accepts, in UTF-16 code units; longer ones throw `PL-400`. */
  readonly maxResultLength?: number;
}

/** The PostgreSQL {@link IdempotencyStore}, plus housekeeping. */
export interface PostgresIdempotencyStore extends IdempotencyStore {
  /**
   * Deletes up to `limit` expired keys ({@link DEFAULT_IDEMPOTENCY_PURGE_LIMIT} by default) and
   * returns how many. Expired rows are harmless (they count as free and `begin` reuses them in
   * place); purging only reclaims space, so a host runs it from a periodic job.
   */
  purgeExpired(limit?: number): Promise<number>;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  clock: clockSchema.optional(),
  maxResultLength: z.number().int().min(1).max(16_777_216).optional(),
});

const WHAT = 'idempotency store';

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `${WHAT}: ${message}`);
}

function assertTtl(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${field} must be a positive integer number of milliseconds`);
  }
}

const assertKey = (key: unknown) =>
  assertStorableText(key, 'key', { max: MAX_IDEMPOTENCY_STORE_KEY_LENGTH, code: 'PL-400', what: WHAT });
const assertToken = (token: unknown) =>
  assertStorableText(token, 'token', { max: MAX_IDEMPOTENCY_STORE_KEY_LENGTH, code: 'PL-400', what: WHAT });

/** Remaining time in whole milliseconds, rounded up so that a live record never reports 0. */
function remainingMs(expiresAt: ConsensusTimestamp, now: ConsensusTimestamp): number {
  return Number((expiresAt - now + NANOS_PER_MILLI - 1n) / NANOS_PER_MILLI);
}

type BeginRow = {
  acquired: boolean;
  fingerprint: string;
  result: string | null;
  expires_at: bigint;
};

type KeyRow = {
  fingerprint: string;
  token: string | null;
  result: string | null;
  expires_at: bigint;
};

// `begin` is an upsert that only overwrites an expired row, then (when it did not acquire) a read
// of the live row. Between the two another executor may release the key or its lock may expire:
// the read then finds nothing and `begin` starts over. Each pass needs a concurrent state change
// to fail, so a handful of passes is plenty.
const MAX_BEGIN_PASSES = 8;

/**
 * An {@link IdempotencyStore} (spec §9.2) in PostgreSQL or PGlite, passing core's
 * `idempotencyStoreContract`. One row per key in `<schema>.idempotency_keys`:
 *
 * - `begin` is a single `INSERT … ON CONFLICT (key) DO UPDATE … WHERE expires_at <= now`: the
 *   primary key makes it atomic across processes, so of many concurrent callers on any number of
 *   connections exactly one acquires a free key;
 * - `complete` and `release` are compare-and-set statements on the lock's random token;
 * - expiry instants are the store clock's Unix nanoseconds (see
 *   {@link PostgresIdempotencyStoreOptions.clock}).
 *
 * Values must be storable in `text` exactly: a key, fingerprint or result with U+0000 or a lone
 * surrogate is refused with `PL-400` (the guard's keys, SHA-256 fingerprints and canonical JSON
 * results never contain either). Size is bounded per result (`maxResultLength`); the number of
 * keys is bounded by the disk, and expired keys are reclaimed by reuse and by `purgeExpired`.
 *
 * @example
 * ```ts
 * const store = createPostgresIdempotencyStore({ client, schema: 'creto' });
 * const guard = createIdempotencyGuard({ store });
 * ```
 */
export function createPostgresIdempotencyStore(
  options: PostgresIdempotencyStoreOptions,
): PostgresIdempotencyStore {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresIdempotencyStore');
  const { client } = parsed;
  const clock = parsed.clock ?? systemClock;
  const maxResultLength = parsed.maxResultLength ?? DEFAULT_POSTGRES_IDEMPOTENCY_MAX_RESULT_LENGTH;
  const table = qualified(quoteSchema(parsed.schema ?? DEFAULT_SCHEMA), 'idempotency_keys');

  // One round trip: the upsert only takes an expired (or absent) key; when it does not, the same
  // statement reads the live row. That read sees the snapshot taken when the statement began, so
  // a row committed by a racing executor while the upsert waited for it can be invisible: `begin`
  // then finds neither and starts over (see MAX_BEGIN_PASSES).
  const beginSql = `WITH acquired AS (
      INSERT INTO ${table} AS t (key, fingerprint, token, result, expires_at)
      VALUES ($1, $2, $3, NULL, $4)
      ON CONFLICT (key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, token = EXCLUDED.token, result = NULL, expires_at = EXCLUDED.expires_at
        WHERE t.expires_at <= $5
      RETURNING token)
    SELECT true AS acquired, NULL AS fingerprint, NULL AS result, NULL::bigint AS expires_at FROM acquired
    UNION ALL
    SELECT false, k.fingerprint, k.result, k.expires_at FROM ${table} k
     WHERE k.key = $1 AND k.expires_at > $5 AND NOT EXISTS (SELECT 1 FROM acquired)`;
  const liveSql = `SELECT fingerprint, token, result, expires_at FROM ${table} WHERE key = $1 AND expires_at > $2`;
  const completeSql = `UPDATE ${table} SET result = $3, token = NULL, expires_at = $4
    WHERE key = $1 AND token = $2 AND expires_at > $5`;
  const releaseSql = `DELETE FROM ${table} WHERE key = $1 AND token = $2 AND expires_at > $3`;
  const purgeSql = `DELETE FROM ${table} WHERE key IN (
    SELECT key FROM ${table} WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`;

  return Object.freeze({
    async begin(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyBeginResult> {
      assertKey(key);
      assertStorableText(fingerprint, 'fingerprint', {
        max: MAX_IDEMPOTENCY_FINGERPRINT_LENGTH,
        code: 'PL-400',
        what: WHAT,
      });
      assertTtl(lockTtlMs, 'lockTtlMs');
      for (let pass = 0; pass < MAX_BEGIN_PASSES; pass++) {
        const now = clock.now();
        const token = newUuid();
        const { rows } = await client.query<BeginRow>(beginSql, [
          key,
          fingerprint,
          token,
          now + millisToNanos(lockTtlMs),
          now,
        ]);
        const row = rows[0];
        if (row === undefined) continue; // released, expired or just committed by a racer: again
        if (row.acquired) return { status: 'acquired', token };
        if (row.fingerprint !== fingerprint) return { status: 'mismatch' };
        if (row.result !== null) return { status: 'completed', result: row.result };
        return { status: 'in_flight', retryAfterMs: remainingMs(row.expires_at, now) };
      }
      throw new EnablementError('PL-503', `${WHAT}: key kept changing under concurrent begin; retry`, {
        retryAfterMs: 10,
      });
    },

    async complete(key: string, token: string, result: string, ttlMs: number): Promise<boolean> {
      assertKey(key);
      assertToken(token);
      if (typeof result !== 'string') throw invalid('result must be a string');
      assertStorableText(result, 'result', { min: 0, max: maxResultLength, code: 'PL-400', what: WHAT });
      assertTtl(ttlMs, 'ttlMs');
      const now = clock.now();
      const updated = await client.query(completeSql, [key, token, result, now + millisToNanos(ttlMs), now]);
      return updated.rowCount === 1;
    },

    async release(key: string, token: string): Promise<boolean> {
      assertKey(key);
      assertToken(token);
      const deleted = await client.query(releaseSql, [key, token, clock.now()]);
      return deleted.rowCount === 1;
    },

    async get(key: string): Promise<IdempotencyEntry | undefined> {
      assertKey(key);
      const now = clock.now();
      const { rows } = await client.query<KeyRow>(liveSql, [key, now]);
      const row = rows[0];
      if (row === undefined) return undefined;
      const expiresInMs = remainingMs(row.expires_at, now);
      return row.result === null
        ? { status: 'in_flight', fingerprint: row.fingerprint, expiresInMs }
        : { status: 'completed', fingerprint: row.fingerprint, result: row.result, expiresInMs };
    },

    async purgeExpired(limit: number = DEFAULT_IDEMPOTENCY_PURGE_LIMIT): Promise<number> {
      if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
      const deleted = await client.query(purgeSql, [clock.now(), limit]);
      return deleted.rowCount;
    },
  });
}
