import { z } from 'zod';
import { constantTimeEqual } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { parseOptions } from '../options/options.js';
import { openCheckpoint } from './checkpoint.js';
import type { AuditReceipt, UnifiedAuditEvent } from './event.js';
import {
  type AuditLogCore,
  type AuditLogOptions,
  auditLogOptionsSchema,
  createAuditLogCore,
  type InProcessAuditLog,
  type PreparedAuditLeaf,
  signingKeySchema,
} from './log.js';
import type { NoteVerifier } from './note.js';
import {
  type AuditLogStore,
  assertStoredAuditCheckpoint,
  MAX_AUDIT_STORE_BATCH,
  MAX_AUDIT_STORE_READ,
} from './store.js';

/** Default of {@link DurableAuditLogOptions.maxPendingAppends}. */
export const DEFAULT_MAX_PENDING_AUDIT_APPENDS = 10_000;

/** Most keys {@link DurableAuditLogOptions.checkpointVerifiers} may list. */
export const MAX_AUDIT_CHECKPOINT_VERIFIERS = 16;

/**
 * Rounds of compare-and-append a batch gets: after the third `false` from the store (other
 * writers kept moving the size), the rest of the batch is rejected with a retryable `PL-503`.
 */
const MAX_COMMIT_ROUNDS = 3;

/** Retry hint of a `PL-503` for a full append queue: the initial `PL-503` backoff of spec §8.4. */
const QUEUE_FULL_RETRY_AFTER_MS = 100;

/** Options of {@link openAuditLog}: those of `createAuditLog`, a store, and a required key. */
export interface DurableAuditLogOptions extends AuditLogOptions {
  /** Where the leaves and checkpoints live (`createMemoryAuditLogStore`, `@creto/postgres`, …). */
  store: AuditLogStore;
  /**
   * The 32-byte Ed25519 secret key (RFC 8032 seed) that signs checkpoints. Required: a durable
   * log's checkpoints must verify after a restart, so its key must be stable. Copied; never
   * exposed.
   */
  signingKey: Uint8Array;
  /**
   * Verifiers of earlier checkpoint keys of this log (key rotation): the stored checkpoint is
   * trusted when this log's own key or one of these signed it. At most
   * {@link MAX_AUDIT_CHECKPOINT_VERIFIERS}; each must carry the log's origin as its key name.
   */
  checkpointVerifiers?: readonly NoteVerifier[];
  /**
   * Most appends waiting for the store (queued or being written). Beyond it, `append` fails
   * with a retryable `PL-503` carrying `retryAfterMs`. {@link DEFAULT_MAX_PENDING_AUDIT_APPENDS}
   * by default.
   */
  maxPendingAppends?: number;
}

const isFunction = (value: unknown) => typeof value === 'function';

const isAuditLogStore = (value: unknown): value is AuditLogStore => {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<keyof AuditLogStore, unknown>;
  return (
    isFunction(store.size) &&
    isFunction(store.readLeaves) &&
    isFunction(store.appendLeaves) &&
    isFunction(store.saveCheckpoint) &&
    isFunction(store.latestCheckpoint)
  );
};

const isNoteVerifier = (value: unknown): value is NoteVerifier => {
  if (typeof value !== 'object' || value === null) return false;
  const verifier = value as Record<keyof NoteVerifier, unknown>;
  return (
    typeof verifier.name === 'string' && verifier.keyId instanceof Uint8Array && isFunction(verifier.verify)
  );
};

const durableOptionsSchema = auditLogOptionsSchema.extend({
  store: z.custom<AuditLogStore>(isAuditLogStore, {
    error: 'expected an AuditLogStore (size, readLeaves, appendLeaves, saveCheckpoint, latestCheckpoint)',
  }),
  signingKey: signingKeySchema,
  checkpointVerifiers: z
    .array(z.custom<NoteVerifier>(isNoteVerifier, { error: 'expected a NoteVerifier' }))
    .max(MAX_AUDIT_CHECKPOINT_VERIFIERS)
    .optional(),
  maxPendingAppends: z.number().int().min(1).max(1_000_000).optional(),
});

/** A store failure: retryable, with the store's error as the cause. */
function unavailable(what: string, cause: unknown): EnablementError {
  return new EnablementError('PL-503', `audit store failed ${what}`, { cause, retryable: true });
}

/** A stored checkpoint that fails a tamper check (`PL-401`). */
function untrusted(why: string, cause?: unknown): EnablementError {
  return new EnablementError('PL-401', `audit store checkpoint rejected: ${why}`, { cause });
}

/**
 * Reads the store's leaves from the core's size to the end and integrates each after
 * validating it (`parseStoredLeaf`: `PL-500` naming the index of a corrupt leaf). Leaves below
 * `covered` (the size of a verified checkpoint) are parsed structurally only: the caller must
 * compare the root at `covered` with the signed one before anything built from them is used.
 * `PL-503` (retryable) when the store fails, not retryable when the leaves exceed `maxEvents`.
 */
async function catchUp(core: AuditLogCore, store: AuditLogStore, covered = 0): Promise<void> {
  for (;;) {
    const from = core.size;
    let page: unknown;
    try {
      page = await store.readLeaves(from, MAX_AUDIT_STORE_READ);
    } catch (cause) {
      throw unavailable('reading leaves', cause);
    }
    if (!Array.isArray(page) || page.length > MAX_AUDIT_STORE_READ) {
      throw new EnablementError('PL-500', `audit store answered readLeaves(${from}) with no leaf list`);
    }
    if (from + page.length > core.maxEvents) {
      throw new EnablementError(
        'PL-503',
        `audit store holds more than limits.maxEvents (${core.maxEvents})`,
        {
          retryable: false,
        },
      );
    }
    for (const [k, text] of page.entries()) {
      const at = from + k;
      core.integrate(core.parseStoredLeaf(text, at, at < covered));
    }
    if (page.length < MAX_AUDIT_STORE_READ) return;
  }
}

/**
 * After a checkpoint failed to match the covered leaves: reads the first `count` leaves again
 * and validates each in full, so that a leaf no writer of this log could have written is
 * reported as such (`PL-500` naming its index), as when it is not covered, rather than as
 * tampering. `undefined` when every leaf passes (the leaves are well-formed but not the signed
 * ones: tampering) or the store fails now (the checkpoint failure stands on its own).
 */
async function corruptCoveredLeaf(
  core: AuditLogCore,
  store: AuditLogStore,
  count: number,
): Promise<EnablementError | undefined> {
  for (let from = 0; from < count; ) {
    let page: unknown;
    try {
      page = await store.readLeaves(from, Math.min(MAX_AUDIT_STORE_READ, count - from));
    } catch {
      return undefined;
    }
    if (!Array.isArray(page) || page.length === 0) return undefined;
    for (const [k, text] of page.slice(0, count - from).entries()) {
      try {
        core.checkStoredLeaf(text, from + k);
      } catch (error) {
        return error instanceof EnablementError ? error : undefined;
      }
    }
    from += page.length;
  }
  return undefined;
}

/** One caller's append waiting for the store. */
interface PendingAppend {
  readonly leaf: PreparedAuditLeaf;
  readonly receipt: Promise<AuditReceipt>;
  resolve(receipt: AuditReceipt): void;
  reject(error: unknown): void;
}

/**
 * Opens the durable {@link InProcessAuditLog} kept in `store`: the same log as `createAuditLog`
 * (same validation, tree, receipts, proofs, queries and checkpoints), whose leaves and
 * checkpoints survive a restart.
 *
 * **At open** the stored checkpoint's signature is checked first (this log's key or one of
 * `checkpointVerifiers`, this log's origin), then every leaf is read (pages of
 * `MAX_AUDIT_STORE_READ`) and integrated. Leaves after the checkpoint are validated in full: a
 * leaf that does not parse, does not decode as an audit event, is not byte-identical to its
 * canonical form or repeats an event id is corrupt (`PL-500` naming its index). Leaves the
 * checkpoint covers are only parsed structurally (a leaf that is not a JSON object with the
 * eight leaf fields, or repeats an event id, is `PL-500` at once): the root comparison that
 * follows authenticates them. More leaves than `limits.maxEvents` is a non-retryable `PL-503`.
 * Then the checkpoint must cover no more leaves than were read (else the store lost leaves) and
 * its root must equal the rebuilt root at its size (else leaves were altered): `PL-401` for
 * either, and for a checkpoint that does not verify; when one fails, the covered leaves are read
 * again and validated in full, and one that could not have been written by this log turns the
 * error into its `PL-500`, as if it had not been covered.
 *
 * **Appends** are validated, skew-checked and de-duplicated at once (errors reject at once,
 * nothing is queued), then group-committed: one write at a time takes every queued leaf (up to
 * `MAX_AUDIT_STORE_BATCH`) to `store.appendLeaves(size, texts)`, and a receipt is given only
 * after the store said it wrote them. An event waiting with the same id and content shares the
 * waiting receipt; other content under that id is `PL-409`. When the store answers `false`
 * (another writer, or a write whose answer was lost), the log reads and integrates the new
 * leaves, settles the events that are now in the log (same content: their receipt; other
 * content: `PL-409`) and retries the rest, up to three rounds (then `PL-503`, retryable). A
 * store failure rejects that batch with a retryable `PL-503` and integrates nothing; retrying
 * the same event is safe (it gets its receipt if the write did commit).
 *
 * **Bounds**: `maxPendingAppends` appends waiting (then `PL-503` with `retryAfterMs`), and
 * `limits.maxEvents` counting waiting appends. Queries, proofs and checkpoints see committed
 * leaves only. `checkpoint()` saves the signed checkpoint in the store before resolving (`PL-503`
 * when that fails), once per tree size.
 *
 * @example
 * ```ts
 * const store = createMemoryAuditLogStore(); // or createPostgresAuditLogStore(…)
 * const log = await openAuditLog({ store, signingKey, origin: 'audit.example.com/prod', clock });
 * const receipt = await log.append(AuditEvents.sandboxSpawned(fields, { timestamp: clock.now() }));
 * await log.checkpoint();
 * ```
 */
export async function openAuditLog(options: DurableAuditLogOptions): Promise<InProcessAuditLog> {
  const { store, checkpointVerifiers, maxPendingAppends, ...base } = parseOptions(
    durableOptionsSchema,
    options,
    'openAuditLog',
  );
  const maxPending = maxPendingAppends ?? DEFAULT_MAX_PENDING_AUDIT_APPENDS;
  const core = createAuditLogCore(base, 'openAuditLog options');

  // The checkpoint is read before the leaves: both only grow, so a checkpoint another writer
  // saves while we read cannot cover leaves we have not read.
  let latest: unknown;
  try {
    latest = await store.latestCheckpoint();
  } catch (cause) {
    throw unavailable('reading the checkpoint', cause);
  }
  let trusted: { treeSize: number; rootHash: Uint8Array } | undefined;
  if (latest !== undefined) {
    try {
      assertStoredAuditCheckpoint(latest);
    } catch (cause) {
      throw untrusted('malformed', cause);
    }
    let opened: ReturnType<typeof openCheckpoint>;
    try {
      opened = openCheckpoint(latest.note, [core.checkpointVerifier, ...(checkpointVerifiers ?? [])], {
        origin: core.origin,
      });
    } catch (cause) {
      throw untrusted("it does not verify with this log's keys and origin", cause);
    }
    if (opened.checkpoint.treeSize !== BigInt(latest.treeSize)) {
      throw untrusted('its treeSize differs from the signed one');
    }
    trusted = { treeSize: latest.treeSize, rootHash: opened.checkpoint.rootHash };
  }

  // Leaves the verified checkpoint covers skip the event codec and the canonical check. Why
  // that weakens nothing: the checkpoint's root commits to every byte of every covered leaf
  // (RFC 9162 §2.1.1: leaf hashes over the exact text, SHA-256 collision resistance), and this
  // log's key (or a rotated key of it) signs only heads of trees whose leaves were all validated
  // when they entered a log (in full by `prepare` on append, or by this same rule on an earlier
  // open, by induction). So when the rebuilt root at `trusted.treeSize` equals the signed root,
  // each covered leaf is byte for byte one that passed full validation; when it differs, the
  // open fails below and the core, the only holder of what was built from those leaves, is
  // dropped unseen. The structural parse keeps the events well-typed until then, and a repeated
  // id is still refused at once (a map lookup; the id index must stay one-to-one). (Whoever
  // holds the signing key can sign anything, valid or not; full validation would not make such
  // a log trustworthy either.)
  const covered = trusted?.treeSize ?? 0;
  await catchUp(core, store, covered);

  if (trusted !== undefined) {
    let failure: EnablementError | undefined;
    if (trusted.treeSize > core.size) {
      failure = untrusted(
        `it covers ${trusted.treeSize} leaves but the store holds ${core.size} (leaves were lost)`,
      );
    } else if (!constantTimeEqual(core.rootAt(trusted.treeSize), trusted.rootHash)) {
      failure = untrusted(`the root at size ${trusted.treeSize} differs (leaves were altered)`);
    }
    if (failure !== undefined) {
      throw (await corruptCoveredLeaf(core, store, Math.min(covered, core.size))) ?? failure;
    }
  }
  let savedSize = trusted?.treeSize ?? -1;

  // Appends admitted but not committed, by event id: the queue and the batch being written.
  const waiting = new Map<string, PendingAppend>();
  let queue: PendingAppend[] = [];
  let flushing = false;

  const resolve = (entry: PendingAppend, receipt: AuditReceipt) => {
    waiting.delete(entry.leaf.id);
    entry.resolve(receipt);
  };
  const reject = (entry: PendingAppend, error: unknown) => {
    waiting.delete(entry.leaf.id);
    entry.reject(error);
  };

  /** Settles the entries whose event is now committed; returns the others. */
  const settleCommitted = (entries: readonly PendingAppend[]): PendingAppend[] =>
    entries.filter((entry) => {
      let index: number | undefined;
      try {
        index = core.committed(entry.leaf);
      } catch (error) {
        reject(entry, error);
        return false;
      }
      if (index === undefined) return true;
      resolve(entry, core.receipt(index));
      return false;
    });

  /** Writes one batch; settles every entry of it, never throws. */
  const commit = async (batch: readonly PendingAppend[]): Promise<void> => {
    let open = batch;
    const failAll = (error: unknown) => {
      for (const entry of open) reject(entry, error);
    };
    for (let round = 0; ; round++) {
      open = settleCommitted(open);
      if (open.length === 0) return;
      if (round === MAX_COMMIT_ROUNDS) {
        failAll(unavailable(`to take the batch after ${MAX_COMMIT_ROUNDS} rounds of contention`, undefined));
        return;
      }
      // Leaves other writers added may have used the room these were admitted into.
      const room = core.maxEvents - core.size;
      if (open.length > room) {
        const full = core.full();
        for (const entry of open.slice(room)) reject(entry, full);
        open = open.slice(0, room);
        if (open.length === 0) return;
      }
      let written: unknown;
      try {
        written = await store.appendLeaves(
          core.size,
          open.map((entry) => entry.leaf.text),
        );
      } catch (cause) {
        failAll(unavailable('appending leaves', cause));
        return;
      }
      if (written === true) {
        for (const entry of open) resolve(entry, core.receipt(core.integrate(entry.leaf)));
        return;
      }
      if (written !== false) {
        failAll(
          new EnablementError('PL-500', 'audit store answered appendLeaves with neither true nor false'),
        );
        return;
      }
      try {
        await catchUp(core, store);
      } catch (error) {
        failAll(error);
        return;
      }
    }
  };

  const flush = async () => {
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_AUDIT_STORE_BATCH);
        queue = queue.slice(batch.length);
        try {
          await commit(batch);
        } catch (error) {
          // Not expected (commit settles every entry itself); never leave a caller waiting.
          const failure = new EnablementError('PL-500', 'audit log failed to commit a batch', {
            cause: error,
          });
          for (const entry of batch) if (waiting.get(entry.leaf.id) === entry) reject(entry, failure);
        }
      }
    } finally {
      flushing = false;
    }
  };

  const append = async (event: UnifiedAuditEvent): Promise<AuditReceipt> => {
    const leaf = core.prepare(event);
    const existing = core.committed(leaf);
    if (existing !== undefined) return core.receipt(existing);
    const same = waiting.get(leaf.id);
    if (same !== undefined) {
      if (same.leaf.text === leaf.text) return same.receipt;
      throw core.conflict(leaf.id);
    }
    if (waiting.size >= maxPending) {
      throw new EnablementError('PL-503', `audit log has ${maxPending} appends waiting for the store`, {
        retryable: true,
        retryAfterMs: QUEUE_FULL_RETRY_AFTER_MS,
      });
    }
    core.admit(leaf, waiting.size);
    let resolveReceipt: (receipt: AuditReceipt) => void = () => {};
    let rejectReceipt: (error: unknown) => void = () => {};
    const receipt = new Promise<AuditReceipt>((res, rej) => {
      resolveReceipt = res;
      rejectReceipt = rej;
    });
    const entry: PendingAppend = { leaf, receipt, resolve: resolveReceipt, reject: rejectReceipt };
    waiting.set(leaf.id, entry);
    queue.push(entry);
    if (!flushing) {
      flushing = true;
      // After a microtask: every append of the current synchronous run joins the first batch.
      queueMicrotask(() => void flush());
    }
    return receipt;
  };

  const checkpoint = async () => {
    const signed = core.signHead();
    const treeSize = Number(signed.checkpoint.treeSize);
    if (treeSize > savedSize) {
      try {
        await store.saveCheckpoint({ treeSize, note: signed.note });
      } catch (cause) {
        throw unavailable('saving the checkpoint', cause);
      }
      savedSize = Math.max(savedSize, treeSize);
    }
    return signed;
  };

  return core.toLog({ append, checkpoint });
}
