import { z } from 'zod';
import { canonicalize } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { utf8ToBytes } from '../encoding/bytes.js';
import { INT64_MAX, INT64_MIN } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { PRODUCT_IDS, type ProductId } from '../errors/product.js';
import { NHI_MAX_LENGTH } from '../identity/nhi.js';
import { type Clock, type ConsensusTimestamp, millisToNanos, systemClock } from '../time/clock.js';
import { decodeWire } from '../wire/errors.js';
import { type LogCheckpoint, signCheckpoint } from './checkpoint.js';
import {
  AUDIT_OUTCOMES,
  type AuditOutcome,
  type AuditReceipt,
  decodeAuditEvent,
  encodeAuditEvent,
  fromValidatedWire,
  isValidatedEvent,
  leafWireOf,
  MAX_AUDIT_ACTION_LENGTH,
  type UnifiedAuditEvent,
  type UnifiedAuditEventWire,
  withMerkleProof,
} from './event.js';
import { emptyRootHash, MERKLE_HASH_LENGTH } from './hash.js';
import { MAX_MERKLE_TREE_SIZE, MerkleTree } from './merkle-tree.js';
import { createEd25519NoteSigner, isNoteKeyName, type NoteVerifier } from './note.js';

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

/** Filters and paging of {@link AuditLog.query}. Every filter given must match (AND). */
export interface AuditQuery {
  /** Only events attributed to this NHI. */
  agentNhi?: string;
  /** Only events of this product. */
  product?: ProductId;
  /** Only events with this action. */
  action?: string;
  /** Only events with this outcome. */
  outcome?: AuditOutcome;
  /** Only events with `timestamp >= from` (Unix ns, inclusive). */
  from?: ConsensusTimestamp;
  /** Only events with `timestamp < to` (Unix ns, exclusive). */
  to?: ConsensusTimestamp;
  /** Page size: 1 to the log's `maxPageSize`; its `defaultPageSize` when absent. */
  limit?: number;
  /** The `nextCursor` of the previous page; absent for the first page. */
  cursor?: string;
}

/** One page of query results, in log (append) order. */
export interface AuditPage {
  /** Matching events, each with its receipt (`merkleProof`). */
  readonly events: readonly UnifiedAuditEvent[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** An RFC 9162 §2.1.3 inclusion proof with the tree head it proves against. */
export interface InclusionProof {
  /** Index of the leaf. */
  readonly leafIndex: bigint;
  /** Size of the tree the proof is for. */
  readonly treeSize: bigint;
  /** The leaf's hash. */
  readonly leafHash: Uint8Array;
  /** Root of the tree of `treeSize` leaves. */
  readonly rootHash: Uint8Array;
  /** Sibling hashes, leaf to root. */
  readonly path: readonly Uint8Array[];
}

/** An RFC 9162 §2.1.4 consistency proof with both tree heads. */
export interface ConsistencyProof {
  /** The earlier tree size. */
  readonly fromSize: bigint;
  /** The later tree size. */
  readonly toSize: bigint;
  /** Root at `fromSize`. */
  readonly fromRoot: Uint8Array;
  /** Root at `toSize`. */
  readonly toRoot: Uint8Array;
  /** The proof hashes. */
  readonly path: readonly Uint8Array[];
}

/** A checkpoint and its C2SP signed note. */
export interface SignedCheckpoint {
  /** The checkpoint (origin, size, root). */
  readonly checkpoint: LogCheckpoint;
  /** The signed note text to publish or hand to a verifier (`openCheckpoint`). */
  readonly note: string;
}

/**
 * The audit log port (ARCHITECTURE §4 audit): an append-only Merkle log with proofs and signed
 * checkpoints. Async so that the log can be remote; `createAuditLog` is the in-process one.
 */
export interface AuditLog {
  /**
   * Validates and appends an event; resolves to its receipt. Appending the identical event again
   * (same id, same content) returns the original receipt; a different event under a used id is
   * `PL-409`.
   */
  append(event: UnifiedAuditEvent): Promise<AuditReceipt>;
  /** A page of the events matching `query`, in log order. */
  query(query: AuditQuery): Promise<AuditPage>;
  /** Inclusion proof of `leafIndex` in the tree of `treeSize` leaves (the current size by default). */
  inclusionProof(leafIndex: bigint, treeSize?: bigint): Promise<InclusionProof>;
  /** Consistency proof from `fromSize` to `toSize` (the current size by default). */
  consistencyProof(fromSize: bigint, toSize?: bigint): Promise<ConsistencyProof>;
  /** A signed checkpoint of the current tree head. */
  checkpoint(): Promise<SignedCheckpoint>;
}

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Origin (and checkpoint key name) used when none is configured. */
export const DEFAULT_AUDIT_ORIGIN = 'audit.creto.local/log';

/** Default limits of {@link createAuditLog}. */
export const DEFAULT_AUDIT_LIMITS = Object.freeze({
  /** Most events the in-process log holds (memory: a few hundred bytes per event plus ~96 bytes of hashes). */
  maxEvents: 1_000_000,
  /** Largest page a query may ask for. */
  maxPageSize: 1000,
  /** Page size when a query gives none. */
  defaultPageSize: 100,
  /** How far an event's timestamp may be ahead of the log's clock (spec §3.5: ±100 ms skew). */
  maxFutureSkewMs: 100,
});

/** Limits of the in-process log; see {@link DEFAULT_AUDIT_LIMITS}. */
export interface AuditLogLimits {
  /** Most events held; appends beyond it fail with a non-retryable `PL-503`. At most 2^32 - 1. */
  maxEvents?: number;
  /** Largest query page (1–10 000). */
  maxPageSize?: number;
  /** Page size when a query gives none (at most `maxPageSize`). */
  defaultPageSize?: number;
  /** Future timestamps beyond `clock.now()` + this are rejected with `PL-425`. */
  maxFutureSkewMs?: number;
}

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  /** Source of time for the skew check; the system clock by default. */
  clock?: Clock;
  /** Hashing and Ed25519; `nobleCryptoProvider` by default. */
  crypto?: CryptoProvider;
  /**
   * The log's identity: the first line of its checkpoints and the key name of their signature
   * (a note key name: no spaces, no `+`). {@link DEFAULT_AUDIT_ORIGIN} by default.
   */
  origin?: string;
  /**
   * The 32-byte Ed25519 secret key (RFC 8032 seed) that signs checkpoints. Copied; never
   * exposed. When absent, a fresh random key is made, which is fine for an in-memory log whose
   * checkpoints only need to verify while it lives (publish `checkpointVerifier`).
   */
  signingKey?: Uint8Array;
  /** Limits; see {@link DEFAULT_AUDIT_LIMITS}. */
  limits?: AuditLogLimits;
}

/** The in-process {@link AuditLog}, with a few synchronous extras. */
export interface InProcessAuditLog extends AuditLog {
  /** Number of events (= tree size). */
  readonly size: number;
  /** The log's origin. */
  readonly origin: string;
  /** The verifier of this log's checkpoint signatures (give it to `openCheckpoint`). */
  readonly checkpointVerifier: NoteVerifier & { readonly publicKey: Uint8Array };
}

const isClock = (value: unknown): value is Clock =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Clock).now === 'function' &&
  typeof (value as Clock).schedule === 'function';

const isCryptoProvider = (value: unknown): value is CryptoProvider =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as CryptoProvider).sha256 === 'function' &&
  typeof (value as CryptoProvider).ed25519?.sign === 'function';

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/** The 32-byte checkpoint key option (internal to the audit module; `openAuditLog` requires it). */
export const signingKeySchema = z
  .custom<Uint8Array>((v) => v instanceof Uint8Array, { error: 'expected a Uint8Array' })
  .refine((v) => v.length === 32, { error: 'expected 32 bytes' });

/** zod schema of {@link AuditLogOptions} (internal to the audit module; `openAuditLog` extends it). */
export const auditLogOptionsSchema = z.strictObject({
  clock: z.custom<Clock>(isClock, { error: 'expected a Clock' }).optional(),
  crypto: z.custom<CryptoProvider>(isCryptoProvider, { error: 'expected a CryptoProvider' }).optional(),
  origin: z
    .string()
    .refine(isNoteKeyName, { error: "expected a note key name (no spaces, no '+')" })
    .optional(),
  signingKey: signingKeySchema.optional(),
  limits: z
    .strictObject({
      maxEvents: positiveInt(MAX_MERKLE_TREE_SIZE).optional(),
      maxPageSize: positiveInt(10_000).optional(),
      defaultPageSize: positiveInt(10_000).optional(),
      maxFutureSkewMs: z.number().min(0).max(86_400_000).optional(),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Query validation
// ---------------------------------------------------------------------------------------------

const timestampSchema = z.bigint().min(INT64_MIN).max(INT64_MAX);
const querySchema = z.strictObject({
  agentNhi: z.string().max(NHI_MAX_LENGTH).optional(),
  product: z.enum(PRODUCT_IDS as [ProductId, ...ProductId[]]).optional(),
  action: z.string().max(MAX_AUDIT_ACTION_LENGTH).optional(),
  outcome: z.enum(AUDIT_OUTCOMES as [AuditOutcome, ...AuditOutcome[]]).optional(),
  from: timestampSchema.optional(),
  to: timestampSchema.optional(),
  limit: z.number().int().min(1).optional(),
  cursor: z
    .string()
    .regex(/^(0|[1-9][0-9]{0,9})$/, { error: 'not a cursor of this log' })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** First position in the ascending `list` whose value is greater than `value`. */
function upperBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A max-heap of at most `capacity` numbers: keeps the smallest ones seen. */
class SmallestKeeper {
  readonly #heap: number[] = [];
  constructor(readonly capacity: number) {}

  offer(value: number): void {
    const heap = this.#heap;
    if (heap.length < this.capacity) {
      heap.push(value);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >>> 1;
        if ((heap[parent] as number) >= value) break;
        heap[i] = heap[parent] as number;
        i = parent;
      }
      heap[i] = value;
      return;
    }
    if (value >= (heap[0] as number)) return;
    // Replace the largest and sift down.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let largest = i;
      let largestValue = value;
      if (left < heap.length && (heap[left] as number) > largestValue) {
        largest = left;
        largestValue = heap[left] as number;
      }
      if (right < heap.length && (heap[right] as number) > largestValue) largest = right;
      if (largest === i) break;
      heap[i] = heap[largest] as number;
      i = largest;
    }
    heap[i] = value;
  }

  sorted(): number[] {
    return [...this.#heap].sort((a, b) => a - b);
  }
}

function toIndex(value: unknown, field: string, max: number): number {
  if (typeof value !== 'bigint' || value < 0n || value > BigInt(max)) {
    throw new EnablementError('PL-400', `${field}: expected a bigint in 0..${max}`);
  }
  return Number(value);
}

/**
 * The root of every tree size, computed the first time it is asked for and then kept (one flat
 * buffer of 32-byte roots and a flag per size, like `HashArray`).
 *
 * A receipt carries the root right after its leaf, `MTH(D[0:i+1])`, which costs
 * popcount(i + 1) - 1 node hashes (the complete subtrees of the tree fold right to left, and
 * appending a leaf changes the innermost of them, so no root follows from the previous one in
 * O(1)). An append asks for its receipt at once, so appended leaves pay that as before; leaves
 * loaded by `openAuditLog` pay it only if a query or receipt asks for their root, instead of
 * about ten node hashes per leaf at a million leaves on every reopen.
 */
class RootCache {
  readonly #tree: MerkleTree;
  readonly #maxSize: number;
  #roots = new Uint8Array(0);
  #known = new Uint8Array(0);

  constructor(tree: MerkleTree, maxSize: number) {
    this.#tree = tree;
    this.#maxSize = maxSize;
  }

  /** A copy of `MTH(D[0:size])` for 1 ≤ `size` ≤ the tree's size. */
  copy(size: number): Uint8Array {
    const i = size - 1;
    if (i >= this.#known.length) this.#grow(size);
    const at = i * MERKLE_HASH_LENGTH;
    if (this.#known[i] !== 1) {
      const root = this.#tree.root(size);
      this.#roots.set(root, at);
      this.#known[i] = 1;
      return root;
    }
    return this.#roots.slice(at, at + MERKLE_HASH_LENGTH);
  }

  /** Room for at least `count` roots: doubling, at most the log's `maxEvents`. */
  #grow(count: number): void {
    const capacity = Math.min(this.#maxSize, Math.max(count, 1024, this.#known.length * 2));
    const roots = new Uint8Array(capacity * MERKLE_HASH_LENGTH);
    roots.set(this.#roots);
    const known = new Uint8Array(capacity);
    known.set(this.#known);
    this.#roots = roots;
    this.#known = known;
  }
}

const PRODUCTS: ReadonlySet<unknown> = new Set(PRODUCT_IDS);
const OUTCOMES: ReadonlySet<unknown> = new Set(AUDIT_OUTCOMES);
/** An int64 in decimal without leading zeros (the wire form of a timestamp). */
const INT64_TEXT = /^-?(0|[1-9][0-9]{0,18})$/;
/** The eight fields of a leaf (the wire form without `merkle_proof`). */
const LEAF_FIELD_COUNT = 8;

/**
 * A cheap structural check of a parsed leaf: the eight fields with the types the stored event
 * form needs (strings, known product and outcome, an integer timestamp). It is not validation
 * (no NHI, UUID, length or metadata bounds, no canonical form): it only makes sure that the
 * event built from the leaf is well-typed until the root comparison authenticates it.
 */
function hasLeafShape(json: Record<string, unknown>): json is Omit<UnifiedAuditEventWire, 'merkle_proof'> {
  return (
    typeof json.event_id === 'string' &&
    PRODUCTS.has(json.product) &&
    typeof json.agent_nhi === 'string' &&
    typeof json.action === 'string' &&
    typeof json.resource === 'string' &&
    OUTCOMES.has(json.outcome) &&
    typeof json.timestamp === 'string' &&
    INT64_TEXT.test(json.timestamp) &&
    Object.hasOwn(json, 'metadata') &&
    Object.keys(json).length === LEAF_FIELD_COUNT
  );
}

// ---------------------------------------------------------------------------------------------
// The log core, shared by the in-memory log and the durable one (`openAuditLog`)
// ---------------------------------------------------------------------------------------------

/**
 * An event ready to become a leaf (internal to the audit module): validated, with its leaf text.
 */
export interface PreparedAuditLeaf {
  /** The event id. */
  readonly id: string;
  /** The leaf text: canonical JSON of the wire form without `merkle_proof` (what is hashed and stored). */
  readonly text: string;
  /** The event's timestamp (Unix ns), for the skew check. */
  readonly timestamp: bigint;
  /**
   * The frozen event to store: the caller's when it was already a validated one, the one built
   * from a stored leaf's parsed text; otherwise `undefined`, and a frozen copy is built from
   * `text` when the leaf is integrated.
   */
  readonly event: UnifiedAuditEvent | undefined;
}

/**
 * The one implementation of an in-process audit log (internal to the audit module): the
 * committed events, their Merkle tree, the roots after every leaf, the query indexes, and the
 * operations on them. It holds committed leaves only; who decides when a leaf is committed
 * (at once in memory, after the store said so for a durable log) is the caller's business.
 */
export interface AuditLogCore {
  /** The log's origin. */
  readonly origin: string;
  /** Most events the log holds. */
  readonly maxEvents: number;
  /** The verifier of this log's checkpoint signatures. */
  readonly checkpointVerifier: NoteVerifier & { readonly publicKey: Uint8Array };
  /** Number of committed leaves. */
  readonly size: number;
  /** Validates an event and computes its leaf text (`PL-400`). */
  prepare(event: UnifiedAuditEvent): PreparedAuditLeaf;
  /**
   * Index of the committed event with the leaf's id when it has the same content; `undefined`
   * when the id is unused; `PL-409` when the id holds other content.
   */
  committed(leaf: PreparedAuditLeaf): number | undefined;
  /** The `PL-409` of a second, different event under a used id. */
  conflict(id: string): EnablementError;
  /** The `PL-503` (not retryable) of a log holding `maxEvents` events. */
  full(): EnablementError;
  /**
   * Checks that a new leaf may be admitted: its timestamp within the skew tolerance (`PL-425`),
   * and room for it after the `pending` leaves already admitted but not committed (`PL-503`,
   * not retryable).
   */
  admit(leaf: PreparedAuditLeaf, pending: number): void;
  /**
   * Reads a leaf text from a store as the leaf at `index`, parsing it once. In full (`covered`
   * false): it must parse, decode with the event codec, be byte-identical to its canonical form,
   * and not repeat an event id. A leaf a verified checkpoint covers (`covered` true) is only
   * parsed structurally and checked for a repeated id: the caller must then compare the root at
   * the checkpoint's size with the signed one and discard the core if they differ (see
   * `openAuditLog`). `PL-500` naming the index otherwise (the store is corrupt).
   */
  parseStoredLeaf(text: unknown, index: number, covered?: boolean): PreparedAuditLeaf;
  /**
   * The full validation of `parseStoredLeaf` without the repeated-id check and without building
   * anything: `PL-500` naming the index when the text could not have been written by this log.
   * For diagnosing a checkpoint that does not match the covered leaves.
   */
  checkStoredLeaf(text: unknown, index: number): void;
  /** Appends a leaf to the tree, roots and indexes; returns its index. */
  integrate(leaf: PreparedAuditLeaf): number;
  /** The receipt of leaf `index`: the tree head right after it. */
  receipt(index: number): AuditReceipt;
  /** The root of the tree of `size` leaves (a copy). */
  rootAt(size: number): Uint8Array;
  /** Signs a checkpoint of the committed head. */
  signHead(): SignedCheckpoint;
  /** The {@link InProcessAuditLog} over this core with the given append and checkpoint. */
  toLog(parts: Pick<AuditLog, 'append' | 'checkpoint'>): InProcessAuditLog;
}

/**
 * Builds the core from parsed options (internal to the audit module). `contract` names the
 * options in errors (`AuditLogOptions`, `openAuditLog options`).
 */
export function createAuditLogCore(
  opts: z.output<typeof auditLogOptionsSchema>,
  contract: string,
): AuditLogCore {
  const clock = opts.clock ?? systemClock;
  const crypto = opts.crypto ?? nobleCryptoProvider;
  const origin = opts.origin ?? DEFAULT_AUDIT_ORIGIN;
  const maxEvents = opts.limits?.maxEvents ?? DEFAULT_AUDIT_LIMITS.maxEvents;
  const maxPageSize = opts.limits?.maxPageSize ?? DEFAULT_AUDIT_LIMITS.maxPageSize;
  const defaultPageSize =
    opts.limits?.defaultPageSize ?? Math.min(DEFAULT_AUDIT_LIMITS.defaultPageSize, maxPageSize);
  if (defaultPageSize > maxPageSize) {
    throw new EnablementError(
      'PL-400',
      `invalid ${contract}: limits.defaultPageSize exceeds limits.maxPageSize`,
    );
  }
  const maxFutureSkewNs = millisToNanos(opts.limits?.maxFutureSkewMs ?? DEFAULT_AUDIT_LIMITS.maxFutureSkewMs);

  const secret = opts.signingKey ?? crypto.randomBytes(32);
  const signer = createEd25519NoteSigner(origin, secret, crypto);
  // The signer copied the key; the generated one is not needed any more.
  if (opts.signingKey === undefined) secret.fill(0);
  const checkpointVerifier = signer.verifier() as NoteVerifier & { readonly publicKey: Uint8Array };

  const sha256 = (data: Uint8Array) => crypto.sha256(data);
  const tree = new MerkleTree({ sha256, maxSize: maxEvents });
  const roots = new RootCache(tree, maxEvents);
  const emptyRoot = emptyRootHash(sha256);
  const events: UnifiedAuditEvent[] = [];
  const byId = new Map<string, number>();
  const byAgent = new Map<string, number[]>();
  const byProduct = new Map<string, number[]>();
  const byAction = new Map<string, number[]>();
  const byOutcome = new Map<string, number[]>();
  // Event indexes ordered by (timestamp, index). Appends arrive almost in time order, so the
  // insertion point is found from the end and the splice moves few elements.
  const timeOrder: number[] = [];

  const index = (map: Map<string, number[]>, key: string, i: number) => {
    const list = map.get(key);
    if (list) list.push(i);
    else map.set(key, [i]);
  };

  const timestampAt = (i: number) => (events[i] as UnifiedAuditEvent).timestamp;

  const insertByTime = (i: number) => {
    const ts = timestampAt(i);
    let pos = timeOrder.length;
    // Linear from the end for the common in-order case, binary search otherwise.
    if (pos > 0 && timestampAt(timeOrder[pos - 1] as number) > ts) {
      let lo = 0;
      let hi = pos;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (timestampAt(timeOrder[mid] as number) <= ts) lo = mid + 1;
        else hi = mid;
      }
      pos = lo;
    }
    if (pos === timeOrder.length) timeOrder.push(i);
    else timeOrder.splice(pos, 0, i);
  };

  /** First position in `timeOrder` whose timestamp is ≥ `ts`. */
  const timeLowerBound = (ts: bigint) => {
    let lo = 0;
    let hi = timeOrder.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (timestampAt(timeOrder[mid] as number) < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const receiptOf = (i: number): AuditReceipt => ({
    leafIndex: BigInt(i),
    treeSize: BigInt(i + 1),
    leafHash: tree.leafHash(i),
    rootHash: roots.copy(i + 1),
    // For the last leaf of a tree every sibling is a complete left subtree: stored, no hashing.
    inclusionPath: tree.inclusionProof(i, i + 1),
  });

  const withReceipt = (i: number): UnifiedAuditEvent =>
    withMerkleProof(events[i] as UnifiedAuditEvent, receiptOf(i));

  const rootAt = (size: number) => (size === 0 ? emptyRoot.slice() : roots.copy(size));

  const conflict = (id: string) =>
    new EnablementError('PL-409', `audit event ${id} was already appended with other content`);

  const prepare = (event: UnifiedAuditEvent): PreparedAuditLeaf => {
    if (typeof event !== 'object' || event === null)
      throw new EnablementError('PL-400', 'event: expected an object');
    // An event built by the audit constructors is validated and deep-frozen: it is hashed and
    // stored as it is. Anything else is validated here, and a frozen copy of exactly what was
    // hashed is kept (built when the leaf is integrated).
    if (isValidatedEvent(event) && event.merkleProof === undefined) {
      const text = canonicalize(leafWireOf(event));
      return { id: event.eventId, text, timestamp: event.timestamp, event };
    }
    const { merkleProof: _ignored, ...unreceipted } = event;
    const { merkle_proof: _none, ...wire } = encodeAuditEvent(unreceipted);
    return {
      id: wire.event_id,
      text: canonicalize(wire),
      timestamp: BigInt(wire.timestamp),
      event: undefined,
    };
  };

  const committed = (leaf: PreparedAuditLeaf): number | undefined => {
    const existing = byId.get(leaf.id);
    if (existing === undefined) return undefined;
    if (canonicalize(leafWireOf(events[existing] as UnifiedAuditEvent)) === leaf.text) return existing;
    throw conflict(leaf.id);
  };

  const full = () =>
    new EnablementError('PL-503', `audit log is full (${maxEvents} events)`, { retryable: false });

  const admit = (leaf: PreparedAuditLeaf, pending: number): void => {
    if (leaf.timestamp > clock.now() + maxFutureSkewNs) {
      throw new EnablementError('PL-425', 'audit event timestamp is ahead of the log clock beyond tolerance');
    }
    if (tree.size + pending >= maxEvents) throw full();
  };

  const corrupt = (at: number, why: string, cause?: unknown) =>
    new EnablementError('PL-500', `audit store leaf ${at} is corrupt: ${why}`, { cause });

  /** The leaf text parsed as a JSON object without `merkle_proof`; `PL-500` otherwise. */
  const parseLeafObject = (text: string, at: number): Record<string, unknown> => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw corrupt(at, 'not JSON');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json) || 'merkle_proof' in json) {
      throw corrupt(at, 'not an audit leaf object');
    }
    return json as Record<string, unknown>;
  };

  /** Full validation of a parsed leaf against its text: the event codec, then the canonical form. */
  const validateLeaf = (json: Record<string, unknown>, text: string, at: number): void => {
    let event: UnifiedAuditEvent;
    try {
      event = decodeAuditEvent({ ...json, merkle_proof: null });
    } catch (cause) {
      throw corrupt(at, 'not an audit event', cause);
    }
    // Byte-identical to its canonical form: otherwise the stored text is not what any writer of
    // this log hashed, and the reopened tree would differ from the one that was signed.
    if (canonicalize(leafWireOf(event)) !== text) throw corrupt(at, 'not in canonical form');
  };

  const parseStoredLeaf = (text: unknown, at: number, covered = false): PreparedAuditLeaf => {
    if (typeof text !== 'string') throw corrupt(at, 'not a string');
    const json = parseLeafObject(text, at);
    if (covered) {
      if (!hasLeafShape(json)) throw corrupt(at, 'not an audit leaf');
    } else {
      validateLeaf(json, text, at);
    }
    // Either fully validated, or structurally a leaf: in both cases the parsed JSON is the
    // stored event's wire form (a private copy, frozen by `fromValidatedWire`). Not parsed again.
    let event: UnifiedAuditEvent;
    try {
      event = fromValidatedWire(json as Omit<UnifiedAuditEventWire, 'merkle_proof'>);
    } catch (cause) {
      throw corrupt(at, 'not an audit leaf', cause);
    }
    if (byId.has(event.eventId)) throw corrupt(at, `event ${event.eventId} appears twice`);
    return { id: event.eventId, text, timestamp: event.timestamp, event };
  };

  const checkStoredLeaf = (text: unknown, at: number): void => {
    if (typeof text !== 'string') throw corrupt(at, 'not a string');
    validateLeaf(parseLeafObject(text, at), text, at);
  };

  const integrate = (leaf: PreparedAuditLeaf): number => {
    const stored = leaf.event ?? fromValidatedWire(JSON.parse(leaf.text));
    // The root after this leaf is computed when a receipt or proof first asks for it (RootCache).
    const i = tree.appendLeaf(utf8ToBytes(leaf.text));
    events.push(stored);
    byId.set(stored.eventId, i);
    index(byAgent, stored.agentNhi, i);
    index(byProduct, stored.product, i);
    index(byAction, stored.action, i);
    index(byOutcome, stored.outcome, i);
    insertByTime(i);
    return i;
  };

  const signHead = (): SignedCheckpoint => {
    const size = tree.size;
    const checkpoint: LogCheckpoint = Object.freeze({
      origin,
      treeSize: BigInt(size),
      rootHash: rootAt(size),
      extensions: Object.freeze([]),
    });
    return { checkpoint, note: signCheckpoint(checkpoint, signer) };
  };

  const querySync = (query: AuditQuery): AuditPage => {
    const q = decodeWire(querySchema, query, { contract: 'AuditQuery', code: 'PL-400' });
    const limit = q.limit ?? defaultPageSize;
    if (limit > maxPageSize)
      throw new EnablementError('PL-400', `invalid AuditQuery: limit: at most ${maxPageSize}`);
    if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
      throw new EnablementError('PL-400', 'invalid AuditQuery: from is after to');
    }
    const after = q.cursor === undefined ? -1 : Number(q.cursor);
    if (after >= events.length)
      throw new EnablementError('PL-400', 'invalid AuditQuery: cursor: not a cursor of this log');

    const matches = (i: number): boolean => {
      const e = events[i] as UnifiedAuditEvent;
      return (
        (q.agentNhi === undefined || e.agentNhi === q.agentNhi) &&
        (q.product === undefined || e.product === q.product) &&
        (q.action === undefined || e.action === q.action) &&
        (q.outcome === undefined || e.outcome === q.outcome) &&
        (q.from === undefined || e.timestamp >= q.from) &&
        (q.to === undefined || e.timestamp < q.to)
      );
    };

    // The candidate sources: one ascending index list per equality filter, the time range.
    const lists: number[][] = [];
    const filters: [Map<string, number[]>, string | undefined][] = [
      [byAgent, q.agentNhi],
      [byProduct, q.product],
      [byAction, q.action],
      [byOutcome, q.outcome],
    ];
    for (const [map, key] of filters) {
      if (key === undefined) continue;
      const list = map.get(key);
      if (list === undefined) return { events: [] };
      lists.push(list);
    }
    const smallest = lists.reduce<number[] | undefined>(
      (best, list) => (best === undefined || list.length < best.length ? list : best),
      undefined,
    );
    const smallestSize = smallest?.length ?? events.length;
    const timed = q.from !== undefined || q.to !== undefined;
    const timeLo = q.from === undefined ? 0 : timeLowerBound(q.from);
    const timeHi = q.to === undefined ? timeOrder.length : timeLowerBound(q.to);

    let picked: number[];
    if (timed && timeHi - timeLo < smallestSize) {
      // Walk the time range; keep the smallest matching indexes after the cursor.
      const keeper = new SmallestKeeper(limit + 1);
      for (let p = timeLo; p < timeHi; p++) {
        const i = timeOrder[p] as number;
        if (i > after && matches(i)) keeper.offer(i);
      }
      picked = keeper.sorted();
    } else {
      picked = [];
      if (smallest === undefined) {
        for (let i = after + 1; i < events.length && picked.length <= limit; i++)
          if (matches(i)) picked.push(i);
      } else {
        for (let p = upperBound(smallest, after); p < smallest.length && picked.length <= limit; p++) {
          const i = smallest[p] as number;
          if (matches(i)) picked.push(i);
        }
      }
    }
    const more = picked.length > limit;
    const page = more ? picked.slice(0, limit) : picked;
    const last = page.at(-1);
    return {
      events: page.map(withReceipt),
      ...(more && last !== undefined ? { nextCursor: String(last) } : {}),
    };
  };

  const toLog = (parts: Pick<AuditLog, 'append' | 'checkpoint'>): InProcessAuditLog =>
    Object.freeze({
      get size() {
        return tree.size;
      },
      origin,
      checkpointVerifier,
      append: parts.append,
      query: async (query: AuditQuery) => querySync(query),
      inclusionProof: async (leafIndex: bigint, treeSize?: bigint) => {
        const size = treeSize === undefined ? tree.size : toIndex(treeSize, 'treeSize', tree.size);
        if (size === 0) throw new EnablementError('PL-400', 'leafIndex: the tree is empty');
        const i = toIndex(leafIndex, 'leafIndex', size - 1);
        return {
          leafIndex: BigInt(i),
          treeSize: BigInt(size),
          leafHash: tree.leafHash(i),
          rootHash: rootAt(size),
          path: tree.inclusionProof(i, size),
        };
      },
      consistencyProof: async (fromSize: bigint, toSize?: bigint) => {
        const to = toSize === undefined ? tree.size : toIndex(toSize, 'toSize', tree.size);
        const from = toIndex(fromSize, 'fromSize', to);
        return {
          fromSize: BigInt(from),
          toSize: BigInt(to),
          fromRoot: rootAt(from),
          toRoot: rootAt(to),
          path: tree.consistencyProof(from, to),
        };
      },
      checkpoint: parts.checkpoint,
    });

  return {
    origin,
    maxEvents,
    checkpointVerifier,
    get size() {
      return tree.size;
    },
    prepare,
    committed,
    conflict,
    full,
    admit,
    parseStoredLeaf,
    checkStoredLeaf,
    integrate,
    receipt: receiptOf,
    rootAt,
    signHead,
    toLog,
  };
}

// ---------------------------------------------------------------------------------------------
// The in-process log
// ---------------------------------------------------------------------------------------------

/**
 * The in-process {@link AuditLog}: events, Merkle tree and query indexes in memory. For a log
 * whose leaves and checkpoints survive a restart, see `openAuditLog` (same log, over an
 * `AuditLogStore`).
 *
 * - Every event is validated (wire codec) and its timestamp checked against the clock; the leaf
 *   is `SHA-256(0x00 ‖ auditLeafData(event))`, and the stored event is a frozen deep copy of
 *   exactly what was hashed.
 * - Tree: complete subtree hashes per level (see `MerkleTree`), plus the root at each size,
 *   computed the first time a receipt or proof needs it and then kept (an append needs its own at
 *   once), so a receipt (root and inclusion proof at the size right after the append) costs no
 *   hashing after that.
 * - Queries use per-field indexes (agent, product, action, outcome: ascending index lists) and a
 *   time-ordered index; each query walks the smallest candidate set.
 * - Bounds: `maxEvents` events (then `PL-503`, not retryable: an in-memory log that is full stays
 *   full); every index grows by one entry per event, so all are bounded by `maxEvents`.
 *
 * @example
 * ```ts
 * const log = createAuditLog({ origin: 'audit.example.com/prod', signingKey, clock });
 * const receipt = await log.append(AuditEvents.sandboxSpawned(fields, { timestamp: clock.now() }));
 * const { note } = await log.checkpoint();
 * ```
 */
export function createAuditLog(options: AuditLogOptions = {}): InProcessAuditLog {
  const opts = decodeWire(auditLogOptionsSchema, options, { contract: 'AuditLogOptions', code: 'PL-400' });
  const core = createAuditLogCore(opts, 'AuditLogOptions');
  // Synchronous inside: committed the moment it is validated.
  const appendSync = (event: UnifiedAuditEvent): AuditReceipt => {
    const leaf = core.prepare(event);
    const existing = core.committed(leaf);
    if (existing !== undefined) return core.receipt(existing);
    core.admit(leaf, 0);
    return core.receipt(core.integrate(leaf));
  };
  return core.toLog({
    append: async (event) => appendSync(event),
    checkpoint: async () => core.signHead(),
  });
}
