import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { EnablementError } from '../errors/enablement-error.js';

/** A SHA-256 function: `CryptoProvider.sha256` (bound) fits, as does `@noble/hashes`' `sha256`. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Length of every Merkle tree hash (SHA-256), in bytes. */
export const MERKLE_HASH_LENGTH = 32;

/**
 * The SHA-256 used by the standalone verifiers when the caller passes none. It is `@noble/hashes`
 * directly (not a whole `CryptoProvider`), so that a verifier-only bundle stays small.
 */
export const defaultSha256: Sha256 = (data) => nobleSha256(data);

/** RFC 6962 §2.1 / RFC 9162 §2.1.1 domain-separation prefix of a leaf hash. */
const LEAF_PREFIX = 0x00;
/** RFC 6962 §2.1 / RFC 9162 §2.1.1 domain-separation prefix of an interior node hash. */
const NODE_PREFIX = 0x01;

/**
 * The leaf hash of RFC 9162 §2.1.1: `SHA-256(0x00 ‖ d)`. The prefix keeps a leaf from ever
 * being read as an interior node (second-preimage resistance of the tree).
 */
export function hashLeaf(data: Uint8Array, sha256: Sha256 = defaultSha256): Uint8Array {
  const input = new Uint8Array(data.length + 1);
  input[0] = LEAF_PREFIX;
  input.set(data, 1);
  return sha256(input);
}

/** The interior node hash of RFC 9162 §2.1.1: `SHA-256(0x01 ‖ left ‖ right)`. */
export function hashChildren(
  left: Uint8Array,
  right: Uint8Array,
  sha256: Sha256 = defaultSha256,
): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input);
}

/**
 * The root of the empty tree, `MTH({}) = SHA-256()` (RFC 9162 §2.1.1):
 * `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`.
 */
export function emptyRootHash(sha256: Sha256 = defaultSha256): Uint8Array {
  return sha256(new Uint8Array(0));
}

/** True when `value` is a `Uint8Array` of {@link MERKLE_HASH_LENGTH} bytes. */
export function isMerkleHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === MERKLE_HASH_LENGTH;
}

/** Throws `PL-400` naming `field` unless `value` is a 32-byte hash. */
export function assertMerkleHash(value: unknown, field: string): asserts value is Uint8Array {
  if (!isMerkleHash(value)) {
    throw new EnablementError('PL-400', `${field}: expected a ${MERKLE_HASH_LENGTH}-byte hash`);
  }
}
