import { type ConsensusTimestamp, EnablementError, INT64_MAX, isNhi, isUuid, type Uuid } from '@creto/core';
import type { MessageEnvelopeWire } from '../envelope/index.js';

/**
 * An envelope the relay accepted and has not yet delivered or expired, as a
 * {@link RelayQueueStore} keeps it.
 */
export interface RelayQueueEntry {
  /** The envelope's message id (unique in the store). */
  readonly messageId: Uuid;
  /** Whose queue it is in. */
  readonly recipientNhi: string;
  /** Consensus time of acceptance: the queue order (HLC readings are unique per relay). */
  readonly acceptedAt: ConsensusTimestamp;
  /** When its TTL runs out (`timestamp + ttl_ms`, Unix ns). */
  readonly expiresAt: ConsensusTimestamp;
  /** The envelope exactly as accepted (ciphertext and metadata only: the relay never sees plaintext). */
  readonly envelope: MessageEnvelopeWire;
}

/**
 * Where a relay keeps its offline queues (the storage port behind `openMessagingRelay`). The relay
 * writes an envelope here before it tells the sender `queued`, removes it once the recipient took
 * it or its TTL ran out, and loads everything back when it starts, so an accepted envelope
 * survives a relay restart.
 *
 * One relay owns a store at a time (it keeps the queues' index in memory); name stores apart to
 * run several relays on one database. Every implementation must pass `relayQueueStoreContract`
 * from `@creto/testing/contracts`.
 */
export interface RelayQueueStore {
  /**
   * Every entry held, ordered by `acceptedAt` (then by insertion), at most `limit` of them
   * (1 to {@link MAX_RELAY_QUEUE_LOAD}) starting after the entry with `afterMessageId` (from the
   * first when absent; `MS-400` when that id is not held). The relay pages through it once at
   * startup.
   */
  load(limit: number, afterMessageId?: Uuid): Promise<readonly RelayQueueEntry[]>;
  /**
   * Keeps `entry`; durable when it resolves. A message id already held is `MS-003` and changes
   * nothing (the relay's replay guard refuses those before this point; the store holds the line).
   */
  put(entry: RelayQueueEntry): Promise<void>;
  /** Removes the entries with these ids (delivered or expired); unknown ids are ignored. */
  remove(messageIds: readonly Uuid[]): Promise<void>;
}

/** Most entries one {@link RelayQueueStore.load} page may ask for. */
export const MAX_RELAY_QUEUE_LOAD = 1000;
/** Most ids one {@link RelayQueueStore.remove} call may name. */
export const MAX_RELAY_QUEUE_REMOVE = 1000;

const isTimestamp = (value: unknown): value is bigint =>
  typeof value === 'bigint' && value >= 0n && value <= INT64_MAX;

/**
 * Asserts a {@link RelayQueueEntry}'s shape (`MS-400`): a lower-case UUID, NHIs, non-negative
 * int64 instants and an envelope object whose id and recipient match. The envelope's own content
 * was validated by the relay when it accepted it; this keeps a store from being handed nonsense.
 */
export function assertRelayQueueEntry(value: unknown): asserts value is RelayQueueEntry {
  const bad = (why: string) => new EnablementError('MS-400', `relay queue entry: ${why}`);
  if (typeof value !== 'object' || value === null) throw bad('expected an object');
  const entry = value as Partial<RelayQueueEntry>;
  if (!isUuid(entry.messageId)) throw bad('messageId: expected a lower-case UUID');
  if (typeof entry.recipientNhi !== 'string' || !isNhi(entry.recipientNhi))
    throw bad('recipientNhi: expected an NHI');
  if (!isTimestamp(entry.acceptedAt)) throw bad('acceptedAt: expected a Unix ns bigint');
  if (!isTimestamp(entry.expiresAt)) throw bad('expiresAt: expected a Unix ns bigint');
  const envelope = entry.envelope as Partial<MessageEnvelopeWire> | undefined;
  if (typeof envelope !== 'object' || envelope === null)
    throw bad('envelope: expected the envelope wire object');
  if (envelope.message_id !== entry.messageId) throw bad('envelope.message_id is not messageId');
  if (envelope.recipient_nhi !== entry.recipientNhi) throw bad('envelope.recipient_nhi is not recipientNhi');
}

/** Asserts the arguments of {@link RelayQueueStore.load} (`MS-400`). */
export function assertRelayQueueLoad(limit: unknown, afterMessageId: unknown): void {
  if (
    typeof limit !== 'number' ||
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    limit > MAX_RELAY_QUEUE_LOAD
  ) {
    throw new EnablementError('MS-400', `load: limit must be an integer in 1..${MAX_RELAY_QUEUE_LOAD}`);
  }
  if (afterMessageId !== undefined && !isUuid(afterMessageId)) {
    throw new EnablementError('MS-400', 'load: afterMessageId must be a lower-case UUID');
  }
}

/** Asserts the argument of {@link RelayQueueStore.remove} (`MS-400`). */
export function assertRelayQueueRemove(messageIds: unknown): asserts messageIds is readonly Uuid[] {
  if (!Array.isArray(messageIds) || messageIds.length > MAX_RELAY_QUEUE_REMOVE || !messageIds.every(isUuid)) {
    throw new EnablementError('MS-400', `remove: expected up to ${MAX_RELAY_QUEUE_REMOVE} lower-case UUIDs`);
  }
}

/** Options of {@link createMemoryRelayQueueStore}. */
export interface MemoryRelayQueueStoreOptions {
  /** Most entries held; a `put` beyond it is `MS-413`. 100 000 by default (the relay's own total bound). */
  readonly maxEntries?: number;
}

/** The in-memory {@link RelayQueueStore}, with its size for tests. */
export interface MemoryRelayQueueStore extends RelayQueueStore {
  /** Entries held. */
  readonly size: number;
}

/**
 * A {@link RelayQueueStore} in memory: for tests (a relay "restarted" on the same store gets its
 * queues back) and as the reference the contract suite is checked against. Entries are copied in
 * and out. Durable stores: `@creto/postgres` (`createPostgresRelayQueueStore`).
 */
export function createMemoryRelayQueueStore(
  options: MemoryRelayQueueStoreOptions = {},
): MemoryRelayQueueStore {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new EnablementError('MS-400', 'createMemoryRelayQueueStore: maxEntries must be a positive integer');
  }
  // Insertion order is kept by the Map; `load` sorts by acceptedAt (stable: insertion breaks ties).
  const entries = new Map<Uuid, RelayQueueEntry>();
  // The load order, rebuilt on the first load after a change (a startup pages through it once).
  let ordered: RelayQueueEntry[] | undefined;
  return Object.freeze({
    get size() {
      return entries.size;
    },
    async load(limit: number, afterMessageId?: Uuid) {
      assertRelayQueueLoad(limit, afterMessageId);
      ordered ??= [...entries.values()].sort((a, b) =>
        a.acceptedAt < b.acceptedAt ? -1 : a.acceptedAt > b.acceptedAt ? 1 : 0,
      );
      const from =
        afterMessageId === undefined ? 0 : ordered.findIndex((e) => e.messageId === afterMessageId) + 1;
      // A cursor no longer held cannot place the page: refuse rather than return a wrong one.
      if (afterMessageId !== undefined && from === 0) {
        throw new EnablementError('MS-400', 'load: afterMessageId is not in the store');
      }
      return ordered.slice(from, from + limit).map((e) => structuredClone(e));
    },
    async put(entry: RelayQueueEntry) {
      assertRelayQueueEntry(entry);
      if (entries.has(entry.messageId)) {
        throw new EnablementError('MS-003', `relay queue: message ${entry.messageId} is already queued`);
      }
      if (entries.size >= maxEntries) {
        throw new EnablementError('MS-413', `relay queue store is full (${maxEntries} entries)`);
      }
      entries.set(entry.messageId, structuredClone(entry));
      ordered = undefined;
    },
    async remove(messageIds: readonly Uuid[]) {
      assertRelayQueueRemove(messageIds);
      for (const id of messageIds) if (entries.delete(id)) ordered = undefined;
    },
  });
}
