import {
  type CryptoProvider,
  concatBytes,
  EnablementError,
  KEY_DERIVATION_LABELS,
  type KeyPair,
  utf8ToBytes,
  zeroize,
} from '@creto/core';

/**
 * X25519 identity keys from Ed25519 NHI keys.
 *
 * NHIs are Ed25519 (RFC 8032), PQXDH needs X25519 identity Diffie-Hellman (RFC 7748). We use the
 * birational map between the twisted Edwards curve and Curve25519 (RFC 7748 §4.1:
 * `u = (1 + y) / (1 − y)`), as libsodium's `crypto_sign_ed25519_pk_to_curve25519` and the
 * `@noble/curves` `edwardsToMontgomeryPub` utility do, so the initiator derives the responder's
 * identity DH key from the registered NHI itself and nothing extra has to be published or trusted.
 * The secret side is the clamped first half of `SHA-512(ed25519 secret)` (RFC 8032 §5.1.5), the
 * very scalar Ed25519 signs with.
 */

/** 2^255 − 19, the field prime of Curve25519 (RFC 7748 §4.1). */
const P = (1n << 255n) - 19n;

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function bytesToBigIntLE(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

function bigIntToBytesLE(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * The X25519 (Montgomery u-coordinate) form of an Ed25519 public key: `u = (1 + y) / (1 − y) mod p`.
 * Throws `MS-400` for a key that is not 32 bytes, has a non-canonical `y`, or maps to no usable
 * point (`y = 1`, the neutral element). Public keys only: no secret is involved.
 */
export function ed25519PublicKeyToX25519(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new EnablementError('MS-400', 'publicKey: expected a 32-byte Ed25519 public key');
  }
  const raw = publicKey.slice();
  raw[31] = (raw[31] ?? 0) & 0x7f; // the top bit is the sign of x, not part of y (RFC 8032 §5.1.2)
  const y = bytesToBigIntLE(raw);
  if (y >= P) throw new EnablementError('MS-400', 'publicKey: non-canonical Ed25519 encoding');
  const denominator = (1n - y + P) % P;
  if (denominator === 0n) throw new EnablementError('MS-400', 'publicKey: Ed25519 neutral element');
  const u = ((1n + y) * modPow(denominator, P - 2n)) % P;
  return bigIntToBytesLE(u, 32);
}

/**
 * The X25519 identity key pair of a 32-byte Ed25519 secret key (RFC 8032 §5.1.5: the clamped
 * first half of `SHA-512(secret)`). Its public key equals {@link ed25519PublicKeyToX25519} of the
 * Ed25519 public key. The caller owns both returned buffers and should `zeroize` the secret.
 */
export function ed25519SecretKeyToX25519(provider: CryptoProvider, secretKey: Uint8Array): KeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new EnablementError('MS-400', 'secretKey: expected a 32-byte Ed25519 secret key');
  }
  const digest = provider.sha512(secretKey);
  const scalar = digest.slice(0, 32);
  zeroize(digest);
  scalar[0] = (scalar[0] ?? 0) & 248;
  scalar[31] = ((scalar[31] ?? 0) & 127) | 64;
  return { publicKey: provider.x25519.publicKey(scalar), secretKey: scalar };
}

/**
 * The X25519 identity key pair of an `AgentKeyPair.fromSeed(seed)` identity: derives the Ed25519
 * secret key exactly as `@creto/core` does (HKDF-SHA-256, empty salt, the `ed25519` label of
 * `KEY_DERIVATION_LABELS`) and maps it with {@link ed25519SecretKeyToX25519}. `AgentKeyPair` keeps
 * its secret key private (no accessor), so a messaging client is given the seed (or the secret
 * key) once, at construction; see the package README.
 */
export function x25519IdentityFromAgentSeed(provider: CryptoProvider, seed: Uint8Array): KeyPair {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new EnablementError('MS-400', 'identitySeed: expected the 32-byte AgentKeyPair master seed');
  }
  const edSecret = provider.hkdfSha256(
    seed,
    new Uint8Array(0),
    utf8ToBytes(KEY_DERIVATION_LABELS.ed25519),
    32,
  );
  try {
    return ed25519SecretKeyToX25519(provider, edSecret);
  } finally {
    zeroize(edSecret);
  }
}

/** Internal: constant prefix helper kept here so callers do not rebuild it. @internal */
export const IDENTITY_KEY_TYPE_BYTE = Uint8Array.of(0x05);

/** `0x05 ‖ key`: Signal's `EncodeEC` for a Curve25519 public key (PQXDH §2.5). @internal */
export function encodeEc(publicKey: Uint8Array): Uint8Array {
  return concatBytes(IDENTITY_KEY_TYPE_BYTE, publicKey);
}
