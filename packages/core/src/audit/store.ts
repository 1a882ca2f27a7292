import { EnablementError } from '../errors/enablement-error.js';
import { MAX_MERKLE_TREE_SIZE } from './merkle-tree.js';

/**
 * A signed checkpoint as an {@link AuditLogStore} keeps it: the tree size it covers and the C2SP
 * signed note (which carries the origin, size and root, and the log's signature).
 */
export interface StoredAuditCheckpoint {
  /** Number of leaves the checkpoint covers. */
  readonly treeSize: number;
  /** The signed note text, exactly as `AuditLog.checkpoint()` returned it. */
  readonly note: string;
}

/** Most leaves one {@link AuditLogStore.readLeaves} call may ask for. */
export const MAX_AUDIT_STORE_READ = 10_000;
/** Most leaves one {@link AuditLogStore.appendLeaves} call may write. */
export const MAX_AUDIT_STORE_BATCH = 10_000;

/**
 * Where a durable audit log keeps its leaves and checkpoints (the storage port behind
 * `openAuditLog`). A leaf is stored as its *leaf text*: the canonical JSON the Merkle leaf hash
 * was computed over (RFC 9162 §2.1.1 `MTH({d})` with `d` = its UTF-8 bytes), so a reopened log
 * recomputes exactly the same tree.
 *
 * The store is append-only and positional: leaf `i` is written once and never changed.
 * {@link AuditLogStore.appendLeaves} is a compare-and-append on the store's size, which is what
 * keeps two writers (or a write whose answer was lost) from forking the log.
 *
 * Every implementation must pass `auditLogStoreContract` from `@creto/testing/contracts`.
 */
export interface AuditLogStore {
  /** Number of leaves stored. */
  size(): Promise<number>;
  /**
   * The leaf texts at indexes `from`, `from + 1`, … (at most `limit`, 1 to
   * {@link MAX_AUDIT_STORE_READ}), in index order; fewer (or none) at the end of the log.
   */
  readLeaves(from: number, limit: number): Promise<readonly string[]>;
  /**
   * Writes `leaves` at indexes `start`, `start + 1`, … in one atomic step, if and only if the
   * store holds exactly `start` leaves. Resolves `true` when written; `false`, writing nothing,
   * when the size is not `start` (another writer got there first, or an earlier call was written
   * though its answer was lost). A rejection means nothing was written — or, if the connection
   * failed after the commit, that a later call will see the size moved.
   */
  appendLeaves(start: number, leaves: readonly string[]): Promise<boolean>;
  /**
   * Keeps a signed checkpoint. Saving one whose `treeSize` is not larger than the latest kept is
   * a no-op (a log's checkpoints only grow), so concurrent savers cannot move it backwards.
   */
  saveCheckpoint(checkpoint: StoredAuditCheckpoint): Promise<void>;
  /** The kept checkpoint with the largest tree size, or `undefined` before the first. */
  latestCheckpoint(): Promise<StoredAuditCheckpoint | undefined>;
}

/** Asserts a leaf index or count argument of an {@link AuditLogStore} call (`PL-400`). */
export function assertAuditStoreIndex(value: unknown, field: string, max = MAX_MERKLE_TREE_SIZE): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new EnablementError('PL-400', `${field}: expected an integer in 0..${max}`);
  }
  return value;
}

/**
 * Asserts the arguments of {@link AuditLogStore.appendLeaves}: a start index, and 1 to
 * {@link MAX_AUDIT_STORE_BATCH} non-empty strings (`PL-400`). Shared by every implementation, so
 * they refuse the same inputs.
 */
export function assertAuditLeaves(start: unknown, leaves: unknown): asserts leaves is readonly string[] {
  assertAuditStoreIndex(start, 'start');
  if (!Array.isArray(leaves) || leaves.length < 1 || leaves.length > MAX_AUDIT_STORE_BATCH) {
    throw new EnablementError('PL-400', `leaves: expected 1 to ${MAX_AUDIT_STORE_BATCH} leaf texts`);
  }
  for (const leaf of leaves) {
    if (typeof leaf !== 'string' || leaf.length === 0) {
      throw new EnablementError('PL-400', 'leaves: expected non-empty strings');
    }
  }
  if ((start as number) + leaves.length > MAX_MERKLE_TREE_SIZE) {
    throw new EnablementError('PL-400', `leaves: the log cannot grow beyond ${MAX_MERKLE_TREE_SIZE} leaves`);
  }
}

/** Asserts a {@link StoredAuditCheckpoint} (`PL-400`). */
export function assertStoredAuditCheckpoint(value: unknown): asserts value is StoredAuditCheckpoint {
  if (typeof value !== 'object' || value === null) {
    throw new EnablementError('PL-400', 'checkpoint: expected { treeSize, note }');
  }
  const { treeSize, note } = value as Partial<StoredAuditCheckpoint>;
  assertAuditStoreIndex(treeSize, 'checkpoint.treeSize');
  if (typeof note !== 'string' || note.length === 0) {
    throw new EnablementError('PL-400', 'checkpoint.note: expected the signed note text');
  }
}

/** Options of {@link createMemoryAuditLogStore}. */
export interface MemoryAuditLogStoreOptions {
  /**
   * Most leaves held; an `appendLeaves` beyond it is `PL-503` (not retryable: a full in-memory
   * store stays full). {@link MAX_MERKLE_TREE_SIZE} by default.
   */
  readonly maxLeaves?: number;
}

/** The in-memory {@link AuditLogStore}, with its contents for tests. */
export interface MemoryAuditLogStore extends AuditLogStore {
  /** The leaf texts held, in order (a copy). */
  leaves(): readonly string[];
}

/**
 * An {@link AuditLogStore} in memory: for tests (a log "restarted" on the same store reopens it),
 * and as the reference the contract suite is checked against. It keeps the latest checkpoint
 * only. Durable stores: `@creto/postgres` (`createPostgresAuditLogStore`).
 *
 * @example
 * ```ts
 * const store = createMemoryAuditLogStore();
 * const log = await openAuditLog({ store, signingKey });
 * ```
 */
export function createMemoryAuditLogStore(options: MemoryAuditLogStoreOptions = {}): MemoryAuditLogStore {
  const maxLeaves = assertAuditStoreIndex(
    options.maxLeaves ?? MAX_MERKLE_TREE_SIZE,
    'maxLeaves',
    MAX_MERKLE_TREE_SIZE,
  );
  const leaves: string[] = [];
  let latest: StoredAuditCheckpoint | undefined;
  return Object.freeze({
    size: async () => leaves.length,
    async readLeaves(from: number, limit: number) {
      assertAuditStoreIndex(from, 'from');
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_STORE_READ) {
        throw new EnablementError('PL-400', `limit: expected an integer in 1..${MAX_AUDIT_STORE_READ}`);
      }
      return leaves.slice(from, from + limit);
    },
    async appendLeaves(start: number, batch: readonly string[]) {
      assertAuditLeaves(start, batch);
      if (start !== leaves.length) return false;
      if (leaves.length + batch.length > maxLeaves) {
        throw new EnablementError('PL-503', `audit store is full (${maxLeaves} leaves)`, {
          retryable: false,
        });
      }
      leaves.push(...batch);
      return true;
    },
    async saveCheckpoint(checkpoint: StoredAuditCheckpoint) {
      assertStoredAuditCheckpoint(checkpoint);
      if (latest !== undefined && checkpoint.treeSize <= latest.treeSize) return;
      latest = Object.freeze({ treeSize: checkpoint.treeSize, note: checkpoint.note });
    },
    latestCheckpoint: async () => latest,
    leaves: () => [...leaves],
  });
}
