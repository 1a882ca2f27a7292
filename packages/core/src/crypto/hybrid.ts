import { concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { assertBytes } from './assert.js';
import { type CryptoProvider, CRYPTO_SIZES as S } from './provider.js';

/*
 * Hybrid signatures: Ed25519 ‖ ML-DSA-65 over the same bytes; a signature is valid only when
 * both halves are (ARCHITECTURE §4). It stays unforgeable while either algorithm holds: Ed25519
 * against a flaw in the young ML-DSA implementations, ML-DSA against a quantum adversary.
 *
 * **Binding (non-separability).** Both halves sign the framed message
 * `0xFF ‖ UTF-8(HYBRID_SIGNATURE_LABEL) ‖ 0x00 ‖ message`, never the bare message. So:
 * - a half stripped from a hybrid signature does not verify as a standalone Ed25519 or ML-DSA
 *   signature over `message` (the stripping attack), nor over anything the SDK signs on its
 *   own: standalone signatures cover RFC 8785 canonical JSON, which is UTF-8 text, and no UTF-8
 *   text contains the byte 0xFF;
 * - conversely, two standalone signatures over `message` cannot be glued into a hybrid one.
 *
 * The frame is a message prefix rather than ML-DSA's FIPS 204 context string because the
 * `CryptoProvider` port takes no context, and a prefix protects the Ed25519 half too.
 * The halves are not bound to each other's public key: a registry must make a principal prove
 * possession of both halves (e.g. sign a challenge with `signHybrid`) so nobody can pair
 * someone else's Ed25519 key with their own ML-DSA key.
 */

/**
 * Names the scheme inside the signed frame. Both halves sign
 * `0xFF ‖ UTF-8(HYBRID_SIGNATURE_LABEL) ‖ 0x00 ‖ message`, so neither half verifies as a standalone
 * signature over `message` (or over any UTF-8 text, which never contains 0xFF). Changing the label
 * makes a new, incompatible scheme version.
 */
export const HYBRID_SIGNATURE_LABEL = 'creto/hybrid-signature/v1/ed25519+ml-dsa-65';

/** Byte length of an encoded hybrid signature: 64 (Ed25519) + 3309 (ML-DSA-65) = 3373. */
export const HYBRID_SIGNATURE_LENGTH: number = S.ed25519Signature + S.mlDsa65Signature;

/** A hybrid public key: one key per algorithm. */
export interface HybridPublicKey {
  /** 32-byte Ed25519 public key. */
  readonly ed25519: Uint8Array;
  /** 1952-byte ML-DSA-65 public key. */
  readonly mlDsa65: Uint8Array;
}

/** A hybrid secret key. Callers own it and should `zeroize` both halves when done. */
export interface HybridSecretKey {
  /** 32-byte Ed25519 secret key (the RFC 8032 seed). */
  readonly ed25519: Uint8Array;
  /** 4032-byte ML-DSA-65 secret key. */
  readonly mlDsa65: Uint8Array;
}

/** A hybrid signature: both halves sign the same framed message. */
export interface HybridSignature {
  /** 64-byte Ed25519 signature. */
  readonly ed25519: Uint8Array;
  /** 3309-byte ML-DSA-65 signature. */
  readonly mlDsa65: Uint8Array;
}

/** A hybrid key pair. */
export interface HybridKeyPair {
  /** The public halves, safe to publish. */
  readonly publicKey: HybridPublicKey;
  /** The secret halves. */
  readonly secretKey: HybridSecretKey;
}

/** Optional seeds for deterministic hybrid key generation (tests, key derivation). */
export interface HybridSeeds {
  /** 32-byte Ed25519 seed. */
  readonly ed25519: Uint8Array;
  /** 32-byte ML-DSA-65 seed (FIPS 204 ξ). */
  readonly mlDsa65: Uint8Array;
}

const FRAME_PREFIX = concatBytes(
  Uint8Array.of(0xff),
  utf8ToBytes(HYBRID_SIGNATURE_LABEL),
  Uint8Array.of(0x00),
);

function framed(message: Uint8Array): Uint8Array {
  return concatBytes(FRAME_PREFIX, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** A hybrid key pair, random unless `seeds` are given. */
export function generateHybridKeyPair(provider: CryptoProvider, seeds?: HybridSeeds): HybridKeyPair {
  if (seeds !== undefined) {
    // Both or neither: a missing half must not silently fall back to a random key.
    if (!isRecord(seeds)) throw new EnablementError('PL-400', 'hybrid seeds: expected { ed25519, mlDsa65 }');
    assertBytes(seeds.ed25519, S.ed25519SecretKey, 'hybrid seeds ed25519');
    assertBytes(seeds.mlDsa65, S.mlDsa65Seed, 'hybrid seeds mlDsa65');
  }
  const ed = provider.ed25519.generateKeyPair(seeds?.ed25519);
  const ml = provider.mlDsa65.generateKeyPair(seeds?.mlDsa65);
  return {
    publicKey: { ed25519: ed.publicKey, mlDsa65: ml.publicKey },
    secretKey: { ed25519: ed.secretKey, mlDsa65: ml.secretKey },
  };
}

/**
 * Signs `message` with both halves of `secretKey`; each half signs the frame described at
 * {@link HYBRID_SIGNATURE_LABEL}. Throws `PL-400` for a malformed key or message.
 */
export function signHybrid(
  provider: CryptoProvider,
  secretKey: HybridSecretKey,
  message: Uint8Array,
): HybridSignature {
  if (!isRecord(secretKey))
    throw new EnablementError('PL-400', 'hybrid secret key: expected { ed25519, mlDsa65 }');
  const { ed25519, mlDsa65 } = secretKey; // read once: a getter may answer differently twice
  assertBytes(ed25519, S.ed25519SecretKey, 'hybrid secret key ed25519');
  assertBytes(mlDsa65, S.mlDsa65SecretKey, 'hybrid secret key mlDsa65');
  assertBytes(message, undefined, 'message');
  const bytes = framed(message);
  return { ed25519: provider.ed25519.sign(ed25519, bytes), mlDsa65: provider.mlDsa65.sign(mlDsa65, bytes) };
}

/**
 * True only when both halves verify over `message`. False, never a throw, for anything
 * malformed or hostile (wrong lengths, missing fields, throwing getters).
 */
export function verifyHybrid(
  provider: CryptoProvider,
  publicKey: HybridPublicKey,
  message: Uint8Array,
  signature: HybridSignature,
): boolean {
  try {
    if (!isRecord(publicKey) || !isRecord(signature) || !(message instanceof Uint8Array)) return false;
    const { ed25519: edKey, mlDsa65: mlKey } = publicKey;
    const { ed25519: edSig, mlDsa65: mlSig } = signature;
    if (!(edKey instanceof Uint8Array) || edKey.length !== S.ed25519PublicKey) return false;
    if (!(mlKey instanceof Uint8Array) || mlKey.length !== S.mlDsa65PublicKey) return false;
    if (!(edSig instanceof Uint8Array) || edSig.length !== S.ed25519Signature) return false;
    if (!(mlSig instanceof Uint8Array) || mlSig.length !== S.mlDsa65Signature) return false;
    const bytes = framed(message);
    // Ed25519 first: it is ~20x cheaper, so a forged signature rarely costs an ML-DSA check.
    return provider.ed25519.verify(edKey, bytes, edSig) && provider.mlDsa65.verify(mlKey, bytes, mlSig);
  } catch {
    return false;
  }
}

/** The wire form of a hybrid signature: Ed25519 (64 bytes) ‖ ML-DSA-65 (3309 bytes). */
export function encodeHybridSignature(signature: HybridSignature): Uint8Array {
  if (!isRecord(signature))
    throw new EnablementError('PL-400', 'hybrid signature: expected { ed25519, mlDsa65 }');
  const { ed25519, mlDsa65 } = signature;
  assertBytes(ed25519, S.ed25519Signature, 'hybrid signature ed25519');
  assertBytes(mlDsa65, S.mlDsa65Signature, 'hybrid signature mlDsa65');
  return concatBytes(ed25519, mlDsa65);
}

/** Splits the wire form back into its halves (copies); `PL-400` unless exactly 3373 bytes. */
export function decodeHybridSignature(bytes: Uint8Array): HybridSignature {
  assertBytes(bytes, HYBRID_SIGNATURE_LENGTH, 'hybrid signature');
  return {
    ed25519: bytes.slice(0, S.ed25519Signature),
    mlDsa65: bytes.slice(S.ed25519Signature),
  };
}
