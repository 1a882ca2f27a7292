import { type ConsensusTimestamp, EnablementError, isNhi, parseOptions, type Uuid } from '@creto/core';
import { z } from 'zod';
import type { SqlClient } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { unstorableTextReason } from '../sql/text.js';
import { withUnavailableAs } from '../sql/unavailable.js';

// Messaging's `RelayQueueStore` port, declared here structurally (this package imports only
// `@creto/core`). The store reads the envelope's id and recipient and keeps the rest as JSON
// text. Instantiate with messaging's `MessageEnvelopeWire` (or let a `RelayQueueStore`-typed
// target infer it) and the result is assignable to its `RelayQueueStore`.

/** What the store reads from an envelope (its wire shape): the id and recipient it must match. */
export interface RelayEnvelopeLike {
  /** The message id (equal to the entry's `messageId`). */
  readonly message_id: string;
  /** The recipient NHI (equal to the entry's `recipientNhi`). */
  readonly recipient_nhi: string;
}

/** An envelope the relay accepted and has not yet delivered or expired (messaging's `RelayQueueEntry`). */
export interface RelayQueueEntryLike<E extends RelayEnvelopeLike = RelayEnvelopeLike> {
  /** The envelope's message id (unique per relay). */
  readonly messageId: Uuid;
  /** Whose queue it is in. */
  readonly recipientNhi: string;
  /** Consensus time of acceptance (Unix ns): the load order, insertion breaking ties. */
  readonly acceptedAt: ConsensusTimestamp;
  /** When its TTL runs out (Unix ns). */
  readonly expiresAt: ConsensusTimestamp;
  /** The envelope's wire shape, exactly as accepted (plain JSON). */
  readonly envelope: E;
}

/** Messaging's `RelayQueueStore` port: a relay's offline queues, reloaded when it restarts. */
export interface RelayQueueStoreLike<E extends RelayEnvelopeLike = RelayEnvelopeLike> {
  /**
   * Up to `limit` entries (1 to {@link MAX_POSTGRES_RELAY_LOAD}) in `acceptedAt` order, insertion
   * breaking ties, after the entry `afterMessageId` (from the first when absent; `MS-400` when it
   * is not held).
   */
  load(limit: number, afterMessageId?: Uuid): Promise<readonly RelayQueueEntryLike<E>[]>;
  /** Keeps `entry`, durably once it resolves; an id already held is `MS-003`, changing nothing. */
  put(entry: RelayQueueEntryLike<E>): Promise<void>;
  /** Removes these ids (up to {@link MAX_POSTGRES_RELAY_REMOVE}); unknown ids are ignored. */
  remove(messageIds: readonly Uuid[]): Promise<void>;
}

/** Largest `load` page, as messaging's `MAX_RELAY_QUEUE_LOAD`. */
export const MAX_POSTGRES_RELAY_LOAD = 1000;
/** Most ids one `remove` may name, as messaging's `MAX_RELAY_QUEUE_REMOVE`. */
export const MAX_POSTGRES_RELAY_REMOVE = 1000;
/** Default {@link PostgresRelayQueueStoreOptions.maxEntries}: the relay's own total bound. */
export const DEFAULT_POSTGRES_RELAY_MAX_ENTRIES = 100_000;
/** Default {@link PostgresRelayQueueStoreOptions.relay}. */
export const DEFAULT_POSTGRES_RELAY_NAME = 'default';
/** Longest relay name accepted. */
export const MAX_POSTGRES_RELAY_NAME_LENGTH = 255;
/**
 * Longest envelope accepted, as JSON text: 1 Mi characters (`MS-413` beyond). A valid envelope
 * (256 KiB of ciphertext in base64url plus a hybrid signature) is about 355 000.
 */
export const MAX_POSTGRES_RELAY_ENVELOPE_LENGTH = 1_048_576;

/** Options of {@link createPostgresRelayQueueStore}. */
export interface PostgresRelayQueueStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Which relay's queues these are ({@link DEFAULT_POSTGRES_RELAY_NAME} by default). Rows are keyed by it,
   * so several relays share the tables without seeing each other's entries; one relay process
   * owns a name at a time (it keeps the queues' index in memory).
   */
  readonly relay?: string;
  /**
   * Most entries held for this relay; a `put` beyond it is `MS-413`, enforced exactly across
   * processes. {@link DEFAULT_POSTGRES_RELAY_MAX_ENTRIES} by default.
   */
  readonly maxEntries?: number;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  relay: z
    .string()
    .min(1)
    .max(MAX_POSTGRES_RELAY_NAME_LENGTH)
    .refine((relay) => unstorableTextReason(relay) === undefined, { error: 'not storable as text' })
    .optional(),
  maxEntries: z.number().int().min(1).max(1_000_000_000).optional(),
});

const WHAT = 'relay queue store';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const MAX_ENVELOPE_DEPTH = 32;

const isUuid = (value: unknown): value is Uuid => typeof value === 'string' && UUID.test(value);
const isTimestamp = (value: unknown): value is bigint =>
  typeof value === 'bigint' && value >= 0n && value <= INT64_MAX;

/**
 * Why `value` would not come back from JSON text exactly, or `undefined`: only plain objects,
 * arrays, strings, finite numbers (not -0), booleans and null do. `undefined` members are
 * dropped, as a copy would drop them.
 */
function inexactJson(value: unknown, depth: number): string | undefined {
  if (depth > MAX_ENVELOPE_DEPTH) return `nested deeper than ${MAX_ENVELOPE_DEPTH} levels`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) && !Object.is(value, -0) ? undefined : `holds the number ${value}`;
  }
  if (typeof value !== 'object') return `holds a ${typeof value}`;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item === undefined) return 'holds undefined in an array';
      const why = inexactJson(item, depth + 1);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return 'holds an object that is not plain JSON';
  for (const item of Object.values(value)) {
    if (item === undefined) continue;
    const why = inexactJson(item, depth + 1);
    if (why !== undefined) return why;
  }
  return undefined;
}

/**
 * Checks an entry as messaging's `assertRelayQueueEntry` does (`MS-400`) and returns the
 * envelope's JSON text. JSON text escapes U+0000 and lone surrogates, so any string in the
 * envelope is stored and read back exactly.
 */
function entryText(value: unknown): string {
  const bad = (why: string) => new EnablementError('MS-400', `relay queue entry: ${why}`);
  if (typeof value !== 'object' || value === null) throw bad('expected an object');
  const entry = value as Partial<RelayQueueEntryLike>;
  if (!isUuid(entry.messageId)) throw bad('messageId: expected a lower-case UUID');
  if (typeof entry.recipientNhi !== 'string' || !isNhi(entry.recipientNhi))
    throw bad('recipientNhi: expected an NHI');
  if (!isTimestamp(entry.acceptedAt)) throw bad('acceptedAt: expected a Unix ns bigint');
  if (!isTimestamp(entry.expiresAt)) throw bad('expiresAt: expected a Unix ns bigint');
  const envelope = entry.envelope as Partial<RelayEnvelopeLike> | undefined;
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope))
    throw bad('envelope: expected the envelope wire object');
  if (envelope.message_id !== entry.messageId) throw bad('envelope.message_id is not messageId');
  if (envelope.recipient_nhi !== entry.recipientNhi) throw bad('envelope.recipient_nhi is not recipientNhi');
  const why = inexactJson(envelope, 0);
  if (why !== undefined) throw bad(`envelope ${why}`);
  const text = JSON.stringify(envelope);
  if (text.length > MAX_POSTGRES_RELAY_ENVELOPE_LENGTH) {
    throw new EnablementError(
      'MS-413',
      `${WHAT}: envelope is longer than ${MAX_POSTGRES_RELAY_ENVELOPE_LENGTH} characters`,
    );
  }
  return text;
}

function assertLoad(limit: unknown, afterMessageId: unknown): void {
  if (
    typeof limit !== 'number' ||
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    limit > MAX_POSTGRES_RELAY_LOAD
  ) {
    throw new EnablementError('MS-400', `load: limit must be an integer in 1..${MAX_POSTGRES_RELAY_LOAD}`);
  }
  if (afterMessageId !== undefined && !isUuid(afterMessageId)) {
    throw new EnablementError('MS-400', 'load: afterMessageId must be a lower-case UUID');
  }
}

function assertRemove(messageIds: unknown): asserts messageIds is readonly Uuid[] {
  if (
    !Array.isArray(messageIds) ||
    messageIds.length > MAX_POSTGRES_RELAY_REMOVE ||
    !messageIds.every(isUuid)
  ) {
    throw new EnablementError(
      'MS-400',
      `remove: expected up to ${MAX_POSTGRES_RELAY_REMOVE} lower-case UUIDs`,
    );
  }
}

/** Re-raises an unavailable database as `MS-503` (retryable). */
const guarded = <T>(operation: () => Promise<T>): Promise<T> => withUnavailableAs('MS-503', WHAT, operation);

type EntryRow = {
  message_id: string;
  recipient_nhi: string;
  accepted_at: bigint;
  expires_at: bigint;
  envelope: string;
};

/**
 * Messaging's `RelayQueueStore` in PostgreSQL or PGlite: a relay's offline queues survive its
 * restart. One row per (relay, message id) in `<schema>.relay_queue`, the envelope as its JSON
 * text (read back equal, every string exact), instants as `bigint` (exact to the nanosecond).
 *
 * `put` is one transaction: an `INSERT … ON CONFLICT DO NOTHING` (a held id is `MS-003`, without
 * relying on a caught error) and an increment of the relay's counter in
 * `<schema>.relay_queue_counts` that refuses past `maxEntries` (`MS-413`, the insert rolled back);
 * the counter's row lock makes the bound exact across processes, in O(1). `remove` deletes and
 * decrements in one statement. `load` pages in (`accepted_at`, insertion) order after a cursor
 * row, on an index. Bad input is `MS-400`, an unavailable database `MS-503` (retryable).
 *
 * @example
 * ```ts
 * const queueStore = createPostgresRelayQueueStore({ client, relay: 'relay-eu-1' });
 * const relay = await openMessagingRelay({ ...relayOptions, queueStore });
 * ```
 */
export function createPostgresRelayQueueStore<E extends RelayEnvelopeLike = RelayEnvelopeLike>(
  options: PostgresRelayQueueStoreOptions,
): RelayQueueStoreLike<E> {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresRelayQueueStore');
  const { client } = parsed;
  const relay = parsed.relay ?? DEFAULT_POSTGRES_RELAY_NAME;
  const maxEntries = parsed.maxEntries ?? DEFAULT_POSTGRES_RELAY_MAX_ENTRIES;
  const schema = quoteSchema(parsed.schema ?? DEFAULT_SCHEMA);
  const queue = qualified(schema, 'relay_queue');
  const counts = qualified(schema, 'relay_queue_counts');
  const columns = 'message_id, recipient_nhi, accepted_at, expires_at, envelope';

  function toEntry(row: EntryRow): RelayQueueEntryLike<E> {
    let envelope: E;
    try {
      envelope = JSON.parse(row.envelope) as E;
    } catch (cause) {
      throw new EnablementError('PL-500', `${WHAT}: the stored envelope of ${row.message_id} is not JSON`, {
        cause,
      });
    }
    return {
      messageId: row.message_id as Uuid,
      recipientNhi: row.recipient_nhi,
      acceptedAt: row.accepted_at,
      expiresAt: row.expires_at,
      envelope,
    };
  }

  async function load(limit: number, afterMessageId?: Uuid): Promise<readonly RelayQueueEntryLike<E>[]> {
    assertLoad(limit, afterMessageId);
    if (afterMessageId === undefined) {
      const { rows } = await client.query<EntryRow>(
        `SELECT ${columns} FROM ${queue} WHERE relay = $1 ORDER BY accepted_at, seq LIMIT $2`,
        [relay, limit],
      );
      return rows.map(toEntry);
    }
    const cursor = await client.query<{ accepted_at: bigint; seq: bigint }>(
      `SELECT accepted_at, seq FROM ${queue} WHERE relay = $1 AND message_id = $2`,
      [relay, afterMessageId],
    );
    const at = cursor.rows[0];
    // A cursor no longer held cannot place the page: refuse rather than return a wrong one.
    if (at === undefined) throw new EnablementError('MS-400', 'load: afterMessageId is not in the store');
    const { rows } = await client.query<EntryRow>(
      `SELECT ${columns} FROM ${queue}
        WHERE relay = $1 AND (relay, accepted_at, seq) > ($1, $2::bigint, $3::bigint)
        ORDER BY accepted_at, seq LIMIT $4`,
      [relay, at.accepted_at, at.seq, limit],
    );
    return rows.map(toEntry);
  }

  async function put(entry: RelayQueueEntryLike<E>): Promise<void> {
    const envelope = entryText(entry);
    const { messageId, recipientNhi, acceptedAt, expiresAt } = entry;
    await client.transaction(async (tx) => {
      const inserted = await tx.query(
        `INSERT INTO ${queue} (relay, message_id, recipient_nhi, accepted_at, expires_at, envelope)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (relay, message_id) DO NOTHING`,
        [relay, messageId, recipientNhi, acceptedAt, expiresAt, envelope],
      );
      if (inserted.rowCount !== 1) {
        throw new EnablementError('MS-003', `relay queue: message ${messageId} is already queued`);
      }
      // Taken after the insert: concurrent puts serialise on this row only, and a full relay
      // rolls the insert back with the refusal.
      const counted = await tx.query(
        `INSERT INTO ${counts} AS c (relay, entries) VALUES ($1, 1)
         ON CONFLICT (relay) DO UPDATE SET entries = c.entries + 1 WHERE c.entries < $2
         RETURNING entries`,
        [relay, maxEntries],
      );
      if (counted.rowCount !== 1) {
        throw new EnablementError('MS-413', `${WHAT} is full (${maxEntries} entries)`);
      }
    });
  }

  async function remove(messageIds: readonly Uuid[]): Promise<void> {
    assertRemove(messageIds);
    if (messageIds.length === 0) return;
    const ids = JSON.stringify([...new Set(messageIds)]);
    // One statement deletes and keeps the counter equal to the rows; run as a transaction so a
    // deadlock between two overlapping removes is retried.
    await client.transaction(async (tx) => {
      await tx.query(
        `WITH gone AS (
           DELETE FROM ${queue}
            WHERE relay = $1 AND message_id = ANY (ARRAY(SELECT json_array_elements_text($2::json)))
           RETURNING 1
         )
         UPDATE ${counts} SET entries = entries - (SELECT count(*) FROM gone)
          WHERE relay = $1 AND EXISTS (SELECT 1 FROM gone)`,
        [relay, ids],
      );
    });
  }

  return Object.freeze({
    load: (limit: number, afterMessageId?: Uuid) => guarded(() => load(limit, afterMessageId)),
    put: (entry: RelayQueueEntryLike<E>) => guarded(() => put(entry)),
    remove: (messageIds: readonly Uuid[]) => guarded(() => remove(messageIds)),
  });
}
