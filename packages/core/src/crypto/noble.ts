import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import * as ed from '@noble/ed25519';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { EnablementError } from '../errors/enablement-error.js';
import { assertBytes, assertLength } from './assert.js';
import {
  type AeadAlgorithm,
  type CryptoProvider,
  type KemAlgorithm,
  type KeyPair,
  CRYPTO_SIZES as S,
} from './provider.js';

// @noble/ed25519 leaves SHA-512 pluggable; wiring it enables the synchronous API.
ed.hashes.sha512 = sha512;

const STRICT = { zip215: false } as const; // RFC 8032 §5.1.7 strict: rejects malleable encodings

const MAX_HKDF_LENGTH = 255 * 32;
const MAX_RANDOM_LENGTH = 1 << 16;

function kem(algorithm: KemAlgorithm = 'ML-KEM-768') {
  if (algorithm === 'ML-KEM-768') return ml_kem768;
  if (algorithm === 'ML-KEM-1024') return ml_kem1024;
  throw new EnablementError('PL-400', `unsupported KEM algorithm: ${String(algorithm)}`);
}

function kemPublicKeyLength(algorithm: KemAlgorithm = 'ML-KEM-768'): number {
  return algorithm === 'ML-KEM-1024' ? S.mlKem1024PublicKey : S.mlKem768PublicKey;
}

function kemCipherTextLength(algorithm: KemAlgorithm = 'ML-KEM-768'): number {
  return algorithm === 'ML-KEM-1024' ? S.mlKem1024CipherText : S.mlKem768CipherText;
}

function aeadCipher(algorithm: AeadAlgorithm, key: Uint8Array, nonce: Uint8Array, aad?: Uint8Array) {
  assertBytes(key, S.aeadKey, 'aead key');
  assertBytes(nonce, S.aeadNonce, 'aead nonce');
  if (aad !== undefined) assertBytes(aad, undefined, 'aead associated data');
  if (algorithm === 'chacha20-poly1305') return chacha20poly1305(key, nonce, aad);
  if (algorithm === 'aes-256-gcm') return gcm(key, nonce, aad);
  throw new EnablementError('PL-400', `unsupported AEAD algorithm: ${String(algorithm)}`);
}

/** Returns false instead of throwing: verification must never leak why it failed. */
function safeVerify(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    return false;
  }
}

/**
 * The default {@link CryptoProvider}: pure-JavaScript, audited `@noble` libraries
 * (`@noble/ed25519`, `@noble/curves` for X25519, `@noble/hashes`, `@noble/ciphers`,
 * `@noble/post-quantum`). Portable to every JavaScript runtime.
 */
export const nobleCryptoProvider: CryptoProvider = Object.freeze({
  name: 'noble',
  randomBytes(length: number): Uint8Array {
    assertLength(length, MAX_RANDOM_LENGTH, 'randomBytes length');
    return randomBytes(length);
  },
  sha256(data: Uint8Array): Uint8Array {
    assertBytes(data, undefined, 'sha256 input');
    return sha256(data);
  },
  sha512(data: Uint8Array): Uint8Array {
    assertBytes(data, undefined, 'sha512 input');
    return sha512(data);
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, undefined, 'hmac key');
    assertBytes(data, undefined, 'hmac input');
    return hmac(sha256, key, data);
  },
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    assertBytes(ikm, undefined, 'hkdf ikm');
    assertBytes(salt, undefined, 'hkdf salt');
    assertBytes(info, undefined, 'hkdf info');
    assertLength(length, MAX_HKDF_LENGTH, 'hkdf length');
    return hkdf(sha256, ikm, salt, info, length);
  },
  ed25519: Object.freeze({
    generateKeyPair(seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.ed25519SecretKey, 'ed25519 seed');
      const secretKey = seed ? Uint8Array.from(seed) : ed.utils.randomSecretKey();
      return { publicKey: ed.getPublicKey(secretKey), secretKey };
    },
    publicKey(secretKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.ed25519SecretKey, 'ed25519 secret key');
      return ed.getPublicKey(secretKey);
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.ed25519SecretKey, 'ed25519 secret key');
      assertBytes(message, undefined, 'message');
      return ed.sign(message, secretKey);
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      return safeVerify(() => ed.verify(signature, message, publicKey, STRICT));
    },
  }),
  x25519: Object.freeze({
    generateKeyPair(seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.x25519Key, 'x25519 seed');
      const secretKey = seed ? Uint8Array.from(seed) : x25519.utils.randomSecretKey();
      return { publicKey: x25519.getPublicKey(secretKey), secretKey };
    },
    publicKey(secretKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.x25519Key, 'x25519 secret key');
      return x25519.getPublicKey(secretKey);
    },
    sharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.x25519Key, 'x25519 secret key');
      assertBytes(peerPublicKey, S.x25519Key, 'x25519 public key');
      try {
        // noble rejects the all-zero output of low-order points (RFC 7748 §6.1).
        return x25519.getSharedSecret(secretKey, peerPublicKey);
      } catch (cause) {
        throw new EnablementError('PL-400', 'x25519: invalid peer public key', { cause });
      }
    },
  }),
  mlDsa65: Object.freeze({
    generateKeyPair(seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.mlDsa65Seed, 'ml-dsa-65 seed');
      return ml_dsa65.keygen(seed ?? randomBytes(S.mlDsa65Seed));
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.mlDsa65SecretKey, 'ml-dsa-65 secret key');
      assertBytes(message, undefined, 'message');
      return ml_dsa65.sign(message, secretKey);
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      return safeVerify(
        () =>
          publicKey instanceof Uint8Array &&
          publicKey.length === S.mlDsa65PublicKey &&
          signature instanceof Uint8Array &&
          signature.length === S.mlDsa65Signature &&
          ml_dsa65.verify(signature, message, publicKey),
      );
    },
  }),
  mlKem: Object.freeze({
    generateKeyPair(algorithm?: KemAlgorithm, seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.mlKemSeed, 'ml-kem seed');
      return kem(algorithm).keygen(seed ?? randomBytes(S.mlKemSeed));
    },
    encapsulate(publicKey: Uint8Array, algorithm?: KemAlgorithm) {
      assertBytes(publicKey, kemPublicKeyLength(algorithm), 'ml-kem public key');
      try {
        return kem(algorithm).encapsulate(publicKey);
      } catch (cause) {
        // FIPS 203 §7.2 modulus check: a malformed encapsulation key is rejected.
        throw new EnablementError('PL-400', 'ml-kem: invalid public key', { cause });
      }
    },
    decapsulate(cipherText: Uint8Array, secretKey: Uint8Array, algorithm?: KemAlgorithm): Uint8Array {
      assertBytes(cipherText, kemCipherTextLength(algorithm), 'ml-kem cipher text');
      assertBytes(secretKey, undefined, 'ml-kem secret key');
      try {
        return kem(algorithm).decapsulate(cipherText, secretKey);
      } catch (cause) {
        throw new EnablementError('PL-400', 'ml-kem: invalid secret key', { cause });
      }
    },
  }),
  aead: Object.freeze({
    seal(
      algorithm: AeadAlgorithm,
      key: Uint8Array,
      nonce: Uint8Array,
      plaintext: Uint8Array,
      associatedData?: Uint8Array,
    ): Uint8Array {
      assertBytes(plaintext, undefined, 'aead plaintext');
      return aeadCipher(algorithm, key, nonce, associatedData).encrypt(plaintext);
    },
    open(
      algorithm: AeadAlgorithm,
      key: Uint8Array,
      nonce: Uint8Array,
      ciphertext: Uint8Array,
      associatedData?: Uint8Array,
    ): Uint8Array {
      assertBytes(ciphertext, undefined, 'aead ciphertext');
      const cipher = aeadCipher(algorithm, key, nonce, associatedData);
      if (ciphertext.length < S.aeadTag) throw new EnablementError('PL-401', 'aead: ciphertext too short');
      try {
        return cipher.decrypt(ciphertext);
      } catch {
        throw new EnablementError('PL-401', 'aead: authentication failed');
      }
    },
  }),
});
