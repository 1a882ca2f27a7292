import type { CryptoProvider, KeyPair } from '../crypto/provider.js';
import { zeroize } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';

/**
 * X25519 (RFC 7748) forms of Ed25519 (RFC 8032) identity keys.
 *
 * NHIs are Ed25519; key agreement (PQXDH) needs X25519. The public side is the birational map
 * between the twisted Edwards curve and Curve25519 (RFC 7748 §4.1: `u = (1 + y) / (1 − y)`), as
 * libsodium's `crypto_sign_ed25519_pk_to_curve25519` and `@noble/curves`' `toMontgomery` do; the
 * secret side is the clamped first half of `SHA-512(ed25519 secret)` (RFC 8032 §5.1.5), the very
 * scalar Ed25519 signs with. So a peer derives the X25519 key from the NHI alone.
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
 * The X25519 (Montgomery u-coordinate) form of an Ed25519 public key: `u = (1 + y) / (1 − y) mod p`
 * (RFC 7748 §4.1). Throws `PL-400` for a key that is not 32 bytes, has a non-canonical `y`, or is
 * the neutral element (`y = 1`). Public keys only: no secret is involved.
 */
export function ed25519PublicKeyToX25519(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new EnablementError('PL-400', 'publicKey: expected a 32-byte Ed25519 public key');
  }
  const raw = publicKey.slice();
  raw[31] = (raw[31] ?? 0) & 0x7f; // the top bit is the sign of x, not part of y (RFC 8032 §5.1.2)
  const y = bytesToBigIntLE(raw);
  if (y >= P) throw new EnablementError('PL-400', 'publicKey: non-canonical Ed25519 encoding');
  const denominator = (1n - y + P) % P;
  if (denominator === 0n) throw new EnablementError('PL-400', 'publicKey: Ed25519 neutral element');
  const u = ((1n + y) * modPow(denominator, P - 2n)) % P;
  return bigIntToBytesLE(u, 32);
}

/**
 * The X25519 key pair of a 32-byte Ed25519 secret key (RFC 8032 §5.1.5: the clamped first half of
 * `SHA-512(secret)`); its public key equals {@link ed25519PublicKeyToX25519} of the Ed25519 public
 * key. The caller owns both returned buffers. Internal: `AgentKeyPair.x25519KeyPair()` is the
 * public face, since secrets never leave an `AgentKeyPair`.
 * @internal
 */
export function ed25519SecretKeyToX25519(provider: CryptoProvider, secretKey: Uint8Array): KeyPair {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new EnablementError('PL-400', 'secretKey: expected a 32-byte Ed25519 secret key');
  }
  const digest = provider.sha512(secretKey);
  const scalar = digest.slice(0, 32);
  zeroize(digest);
  scalar[0] = (scalar[0] ?? 0) & 248;
  scalar[31] = ((scalar[31] ?? 0) & 127) | 64;
  return { publicKey: provider.x25519.publicKey(scalar), secretKey: scalar };
}
