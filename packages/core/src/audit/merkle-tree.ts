import { EnablementError } from '../errors/enablement-error.js';
import { assertMerkleHash, defaultSha256, emptyRootHash, MERKLE_HASH_LENGTH, type Sha256 } from './hash.js';

/**
 * Largest number of leaves a {@link MerkleTree} holds: 2^32 - 1. Indexes stay exact in `number`
 * arithmetic (and in `Math.clz32`), and long before this bound memory runs out anyway (each
 * leaf costs about 64 bytes of stored hashes).
 */
export const MAX_MERKLE_TREE_SIZE = 0xffff_ffff;

const HASH = MERKLE_HASH_LENGTH;
const INITIAL_CAPACITY = 1024;

/**
 * A growable array of 32-byte hashes in one flat buffer (internal to the audit module): a million hashes cost one 32 MiB
 * allocation instead of a million small objects (which would cost several times that in object
 * headers and put the garbage collector under pressure).
 */
export class HashArray {
  #buffer = new Uint8Array(INITIAL_CAPACITY * HASH);
  #count = 0;

  /** Number of hashes held. */
  get length(): number {
    return this.#count;
  }

  /** Appends a copy of a 32-byte hash. */
  push(hash: Uint8Array): void {
    if ((this.#count + 1) * HASH > this.#buffer.length) {
      const grown = new Uint8Array(this.#buffer.length * 2);
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    this.#buffer.set(hash, this.#count * HASH);
    this.#count++;
  }

  /** A copy of the hash at `index` (one allocation, no intermediate view). */
  copy(index: number): Uint8Array {
    return this.#buffer.slice(index * HASH, (index + 1) * HASH);
  }

  /** A view into the buffer: for callers inside the audit module only, never handed out. */
  view(index: number): Uint8Array {
    return this.#buffer.subarray(index * HASH, (index + 1) * HASH);
  }
}

/** ⌊log2(n)⌋ for an integer 1 ≤ n < 2^32. */
function log2Floor(n: number): number {
  return 31 - Math.clz32(n);
}

/** True when n (< 2^32) is a power of two. */
function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** log2Floor(n) === n;
}

/** The largest power of two strictly less than n, for 2 ≤ n < 2^32 (the `k` of RFC 9162 §2.1.1). */
export function splitPoint(n: number): number {
  return 2 ** log2Floor(n - 1);
}

function checkSize(value: number, field: string, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new EnablementError('PL-400', `${field}: expected an integer in 0..${max}`);
  }
}

/** Options of {@link MerkleTree}. */
export interface MerkleTreeOptions {
  /** SHA-256 to use; `@noble/hashes` by default. Pass `provider.sha256` to use a `CryptoProvider`. */
  sha256?: Sha256;
  /** Most leaves accepted; {@link MAX_MERKLE_TREE_SIZE} by default (and at most). */
  maxSize?: number;
}

/**
 * An append-only RFC 9162 Merkle tree held in memory.
 *
 * Storage: for each level `h`, the hashes of every *complete* subtree of 2^h leaves aligned at a
 * multiple of 2^h (level 0 holds the leaf hashes). A complete subtree never changes once its last
 * leaf is appended, so an append hashes the leaf and then one node per level where it completes a
 * pair (amortized one node hash), and nothing is ever recomputed.
 *
 * Any `MTH(D[a:b])` the RFC's recursions ask for (roots of earlier sizes, proof siblings) splits
 * into at most ⌈log2 n⌉ complete subtrees, so it costs O(log n) hashes; an inclusion or consistency
 * proof costs O(log² n) hashes in the worst case and O(log n) lookups. Memory is about 64 bytes
 * per leaf (the leaf hash plus, on average, one interior hash).
 *
 * Sizes and indexes are `number`s (exact below {@link MAX_MERKLE_TREE_SIZE}); the `AuditLog` port
 * and the verifiers use `bigint`, as RFC 9162 sizes are 64-bit.
 */
export class MerkleTree {
  readonly #sha256: Sha256;
  readonly #maxSize: number;
  /** levels[h] holds the complete subtrees of 2^h leaves, left to right. */
  readonly #levels: HashArray[] = [new HashArray()];
  readonly #scratch = new Uint8Array(1 + 2 * HASH);
  #size = 0;

  constructor(options: MerkleTreeOptions = {}) {
    this.#sha256 = options.sha256 ?? defaultSha256;
    const maxSize = options.maxSize ?? MAX_MERKLE_TREE_SIZE;
    checkSize(maxSize, 'maxSize', MAX_MERKLE_TREE_SIZE);
    this.#maxSize = maxSize;
  }

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** Hashes `data` as a leaf (`SHA-256(0x00 ‖ data)`) and appends it; returns its index. */
  appendLeaf(data: Uint8Array): number {
    if (!(data instanceof Uint8Array)) throw new EnablementError('PL-400', 'leaf data: expected bytes');
    const input = new Uint8Array(data.length + 1);
    input.set(data, 1); // input[0] = 0x00, the leaf prefix
    return this.#push(this.#sha256(input));
  }

  /** Appends an already computed leaf hash (32 bytes); returns its index. */
  appendLeafHash(leafHash: Uint8Array): number {
    assertMerkleHash(leafHash, 'leafHash');
    return this.#push(leafHash);
  }

  #push(leafHash: Uint8Array): number {
    if (this.#size >= this.#maxSize) {
      throw new EnablementError('PL-503', `Merkle tree is full (${this.#maxSize} leaves)`, {
        retryable: false,
      });
    }
    const index = this.#size;
    (this.#levels[0] as HashArray).push(leafHash);
    // Walk up while the new node is a right child: it completes a pair whose parent is now a
    // complete subtree one level up.
    let node = index;
    for (let h = 0; node % 2 === 1; h++) {
      const level = this.#levels[h] as HashArray;
      const parent = this.#node(level.view(node - 1), level.view(node));
      if (this.#levels.length === h + 1) this.#levels.push(new HashArray());
      (this.#levels[h + 1] as HashArray).push(parent);
      node = (node - 1) / 2;
    }
    this.#size = index + 1;
    return index;
  }

  #node(left: Uint8Array, right: Uint8Array): Uint8Array {
    const input = this.#scratch;
    input[0] = 0x01;
    input.set(left, 1);
    input.set(right, 1 + HASH);
    return this.#sha256(input);
  }

  /** The leaf hash at `index` (a copy). */
  leafHash(index: number): Uint8Array {
    this.#checkIndex(index, this.#size);
    return (this.#levels[0] as HashArray).copy(index);
  }

  /** `MTH(D[0:size])` (RFC 9162 §2.1.1) for any `size` ≤ the current size; the current root by default. */
  root(size: number = this.#size): Uint8Array {
    checkSize(size, 'treeSize', this.#size);
    if (size === 0) return emptyRootHash(this.#sha256);
    return this.#range(0, size).slice();
  }

  /**
   * The inclusion proof `PATH(index, D[0:size])` of RFC 9162 §2.1.3.1: sibling hashes from the
   * leaf up to the root.
   */
  inclusionProof(index: number, size: number = this.#size): Uint8Array[] {
    checkSize(size, 'treeSize', this.#size);
    this.#checkIndex(index, size);
    const path: Uint8Array[] = [];
    if (index === size - 1) {
      // The last leaf (every receipt): its siblings are the complete subtrees that make up
      // D[0:index], smallest first, one per set bit of `index`; all stored, no hashing.
      for (let h = 0; 2 ** h <= index; h++) {
        if (Math.floor(index / 2 ** h) % 2 === 1) {
          path.push((this.#levels[h] as HashArray).copy(Math.floor(index / 2 ** (h + 1)) * 2));
        }
      }
      return path;
    }
    // Walk the RFC's recursion top-down, collecting the sibling at each split; the RFC lists
    // them bottom-up, hence the reversal.
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const k = splitPoint(hi - lo);
      if (index < lo + k) {
        path.push(this.#range(lo + k, hi).slice());
        hi = lo + k;
      } else {
        path.push(this.#range(lo, lo + k).slice());
        lo += k;
      }
    }
    return path.reverse();
  }

  /**
   * The consistency proof `PROOF(oldSize, D[0:newSize])` of RFC 9162 §2.1.4.1. Empty when
   * `oldSize` is 0 or equals `newSize` (every tree extends the empty tree and itself).
   */
  consistencyProof(oldSize: number, newSize: number = this.#size): Uint8Array[] {
    checkSize(newSize, 'treeSize', this.#size);
    checkSize(oldSize, 'fromSize', newSize);
    if (oldSize === 0 || oldSize === newSize) return [];
    // SUBPROOF(m, D[lo:hi], b), iteratively: `m` is relative to `lo`, `complete` is the RFC's b
    // (true while D[0:m] is itself a node of the new tree, whose hash the verifier has).
    const path: Uint8Array[] = [];
    let m = oldSize;
    let lo = 0;
    let hi = newSize;
    let complete = true;
    for (;;) {
      if (m === hi - lo) {
        if (!complete) path.push(this.#range(lo, hi).slice());
        break;
      }
      const k = splitPoint(hi - lo);
      if (m <= k) {
        path.push(this.#range(lo + k, hi).slice());
        hi = lo + k;
      } else {
        path.push(this.#range(lo, lo + k).slice());
        lo += k;
        m -= k;
        complete = false;
      }
    }
    return path.reverse();
  }

  /**
   * `MTH(D[lo:hi])` for 0 ≤ lo < hi ≤ size: a stored node when the range is a complete aligned
   * subtree, else the RFC split into a complete left part and the rest. May return a view into
   * storage: callers that hand the hash out must copy it.
   */
  #range(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (isPowerOfTwo(n) && lo % n === 0) {
      return (this.#levels[log2Floor(n)] as HashArray).view(lo / n);
    }
    const k = splitPoint(n);
    return this.#node(this.#range(lo, lo + k).slice(), this.#range(lo + k, hi));
  }

  #checkIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new EnablementError(
        'PL-400',
        `leafIndex: expected an integer in 0..${size - 1} (tree size ${size})`,
      );
    }
  }
}
