import { constantTimeEqual } from '../encoding/bytes.js';
import { UINT64_MAX } from '../encoding/int64.js';
import { defaultSha256, emptyRootHash, hashChildren, isMerkleHash, type Sha256 } from './hash.js';

/**
 * Longest proof a verifier will look at: a tree of at most 2^64 - 1 leaves has height 64, and
 * no RFC 9162 proof has more elements than that (a consistency proof at most one more, for the
 * prepended first hash, which the verifier adds itself). Longer input is rejected before any
 * hashing, so a hostile megabyte proof costs one comparison.
 */
export const MAX_PROOF_LENGTH = 64;

function isTreeSize(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= 0n && value <= UINT64_MAX;
}

function isProof(proof: unknown): proof is readonly Uint8Array[] {
  return Array.isArray(proof) && proof.length <= MAX_PROOF_LENGTH && proof.every(isMerkleHash);
}

/**
 * Recomputes the root from an inclusion proof, following RFC 9162 §2.1.3.2 step by step;
 * `undefined` when the proof cannot belong to a tree of `treeSize` (index out of range, too few
 * or too many elements, malformed hashes). Needs nothing but hashes and sizes.
 */
export function rootFromInclusionProof(
  leafIndex: bigint,
  treeSize: bigint,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  sha256: Sha256 = defaultSha256,
): Uint8Array | undefined {
  if (!isTreeSize(leafIndex) || !isTreeSize(treeSize) || !isMerkleHash(leafHash) || !isProof(proof)) {
    return undefined;
  }
  // 1. leaf_index must be < tree_size.
  if (leafIndex >= treeSize) return undefined;
  // 2.–3.
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r = leafHash;
  // 4.
  for (const p of proof) {
    // a. More elements than the path from this leaf has (an extra element).
    if (sn === 0n) return undefined;
    // b.
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r, sha256);
      // The right edge of a non-complete tree: skip the levels where this node has no sibling.
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = hashChildren(r, p, sha256);
    }
    // c.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. sn must have reached 0 (a truncated proof leaves it positive).
  return sn === 0n ? r : undefined;
}

/**
 * Verifies an RFC 9162 §2.1.3.2 inclusion proof: that the leaf with hash `leafHash` is at
 * `leafIndex` in the tree of `treeSize` leaves whose root is `rootHash`. False (never a throw) for
 * any input that does not verify, including index ≥ size, truncated or extended proofs, swapped
 * siblings and hashes of the wrong length.
 *
 * @example
 * ```ts
 * const ok = verifyInclusion(receipt.leafIndex, receipt.treeSize, receipt.leafHash,
 *   receipt.inclusionPath, receipt.rootHash);
 * ```
 */
export function verifyInclusion(
  leafIndex: bigint,
  treeSize: bigint,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  rootHash: Uint8Array,
  sha256: Sha256 = defaultSha256,
): boolean {
  if (!isMerkleHash(rootHash)) return false;
  const root = rootFromInclusionProof(leafIndex, treeSize, leafHash, proof, sha256);
  return root !== undefined && constantTimeEqual(root, rootHash);
}

/**
 * Verifies an RFC 9162 §2.1.4.2 consistency proof: that the tree of `secondSize` leaves with root
 * `secondRoot` is an append-only extension of the tree of `firstSize` leaves with root
 * `firstRoot`. Needs nothing but hashes and sizes. False (never a throw) for anything that does
 * not verify.
 *
 * Edge cases the RFC's procedure leaves to the caller:
 * - `firstSize === secondSize`: the proof must be empty and the roots equal;
 * - `firstSize === 0`: the proof must be empty and `firstRoot` the empty-tree root (every tree
 *   extends the empty tree);
 * - `firstSize > secondSize`: never consistent.
 */
export function verifyConsistency(
  firstSize: bigint,
  secondSize: bigint,
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
  proof: readonly Uint8Array[],
  sha256: Sha256 = defaultSha256,
): boolean {
  if (!isTreeSize(firstSize) || !isTreeSize(secondSize) || !isProof(proof)) return false;
  if (!isMerkleHash(firstRoot) || !isMerkleHash(secondRoot)) return false;
  if (firstSize > secondSize) return false;
  if (firstSize === secondSize) return proof.length === 0 && constantTimeEqual(firstRoot, secondRoot);
  if (firstSize === 0n) return proof.length === 0 && constantTimeEqual(firstRoot, emptyRootHash(sha256));
  // 1. An empty proof cannot link two different sizes.
  if (proof.length === 0) return false;
  // 2. When the first tree is complete (a power of two) its root is a node of the second tree,
  //    and the proof omits it.
  const path = (firstSize & (firstSize - 1n)) === 0n ? [firstRoot, ...proof] : [...proof];
  // 3.–4.
  let fn = firstSize - 1n;
  let sn = secondSize - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i] as Uint8Array;
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr, sha256);
      sr = hashChildren(c, sr, sha256);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = hashChildren(sr, c, sha256);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7.
  return sn === 0n && constantTimeEqual(fr, firstRoot) && constantTimeEqual(sr, secondRoot);
}
