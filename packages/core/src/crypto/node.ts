/**
 * `nodeCryptoProvider`: the `CryptoProvider` on `node:crypto` (OpenSSL) for the classical
 * primitives. Imported from its own entry so that `@creto/core` itself stays free of Node built-ins:
 *
 * ```ts
 * import { nodeCryptoProvider } from '@creto/core/crypto/node';
 * ```
 * @module @creto/core/crypto/node
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  diffieHellman,
  hash,
  hkdfSync,
  randomFillSync,
  sign,
  verify,
} from 'node:crypto';
import { zeroize } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { assertBytes, assertLength } from './assert.js';
import { passesStrictEncodingRules } from './ed25519-strict.js';
import { nobleCryptoProvider } from './noble.js';
import { importPrivateKey, importPublicKey, rawPublicKey } from './node-keys.js';
import { type AeadAlgorithm, type CryptoProvider, type KeyPair, CRYPTO_SIZES as S } from './provider.js';

// Same limits as the noble provider, so both reject the same inputs.
const MAX_HKDF_LENGTH = 255 * 32;
const MAX_RANDOM_LENGTH = 1 << 16;
/** `hkdfSync` refuses `info` longer than this; longer ones take the HMAC path below. */
const NODE_HKDF_MAX_INFO = 1024;

const noble = nobleCryptoProvider;

/** A plain `Uint8Array` copy of a Node `Buffer`, so callers never see `Buffer` semantics or a pooled slab. */
function copyOut(buffer: Uint8Array): Uint8Array {
  return Uint8Array.from(buffer);
}

function randomSecret(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

/** RFC 5869 §2.2–2.3 on `createHmac`, for `info` beyond `hkdfSync`'s 1024-byte limit. */
function hkdfWithHmac(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  // §2.2: an absent salt is HashLen zeros (an empty HMAC key is padded to the same block).
  const prk = createHmac('sha256', salt.length > 0 ? salt : new Uint8Array(32))
    .update(ikm)
    .digest();
  const okm = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  try {
    for (let counter = 1, offset = 0; offset < length; counter++, offset += 32) {
      const block: Uint8Array = createHmac('sha256', prk)
        .update(previous)
        .update(info)
        .update(Uint8Array.of(counter))
        .digest();
      okm.set(block.subarray(0, Math.min(32, length - offset)), offset);
      zeroize(previous);
      previous = block;
    }
    return okm;
  } finally {
    zeroize(prk, previous);
  }
}

type NodeAead = 'chacha20-poly1305' | 'aes-256-gcm';

/** Validates the AEAD parameters in the noble provider's order, so both raise the same error first. */
function aeadAlgorithm(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  associatedData: Uint8Array | undefined,
): NodeAead {
  assertBytes(key, S.aeadKey, 'aead key');
  assertBytes(nonce, S.aeadNonce, 'aead nonce');
  if (associatedData !== undefined) assertBytes(associatedData, undefined, 'aead associated data');
  if (algorithm === 'chacha20-poly1305' || algorithm === 'aes-256-gcm') return algorithm;
  throw new EnablementError('PL-400', `unsupported AEAD algorithm: ${String(algorithm)}`);
}

function edPublicKey(secretKey: Uint8Array): Uint8Array {
  return rawPublicKey(importPrivateKey('Ed25519', secretKey));
}

function xPublicKey(secretKey: Uint8Array): Uint8Array {
  return rawPublicKey(importPrivateKey('X25519', secretKey));
}

/**
 * A {@link CryptoProvider} on `node:crypto` (OpenSSL) for the classical primitives: SHA-2, HMAC,
 * HKDF, Ed25519, X25519, ChaCha20-Poly1305 and AES-256-GCM. Every output is byte-identical to
 * {@link nobleCryptoProvider}'s, and every input rejected by one is rejected by the other with
 * the same `EnablementError` (tested).
 *
 * ML-DSA-65 and ML-KEM are the noble implementations: Node 20's OpenSSL 3.0 has neither.
 *
 * Ed25519 verification gives exactly the noble provider's RFC 8032 strict answer
 * (`zip215: false`). OpenSSL differs in two ways, handled here:
 * - it accepts small-order and non-canonical public keys (with a small-order key anyone can
 *   forge), which noble rejects: those encodings are refused before OpenSSL runs;
 * - it checks the cofactorless equation [S]B = R + [k]A, noble the cofactored one
 *   [8][S]B = [8]R + [8][k]A (both allowed by RFC 8032 §5.1.7). They disagree only when R or A
 *   carries a small-order component, which no honest signer produces; so when OpenSSL says no,
 *   noble decides. A valid signature costs one OpenSSL verification; an invalid one also costs
 *   a noble verification (about 2 ms on a slow core), no worse than the noble provider.
 *
 * Secret keys are turned into OpenSSL key objects on every call (no cache, so nothing secret
 * outlives the call on our side); see `node-keys.ts` for how that is kept fast.
 */
export const nodeCryptoProvider: CryptoProvider = Object.freeze({
  name: 'node',
  randomBytes(length: number): Uint8Array {
    assertLength(length, MAX_RANDOM_LENGTH, 'randomBytes length');
    return randomSecret(length);
  },
  sha256(data: Uint8Array): Uint8Array {
    assertBytes(data, undefined, 'sha256 input');
    return copyOut(hash('sha256', data, 'buffer'));
  },
  sha512(data: Uint8Array): Uint8Array {
    assertBytes(data, undefined, 'sha512 input');
    return copyOut(hash('sha512', data, 'buffer'));
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, undefined, 'hmac key');
    assertBytes(data, undefined, 'hmac input');
    return copyOut(createHmac('sha256', key).update(data).digest());
  },
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    assertBytes(ikm, undefined, 'hkdf ikm');
    assertBytes(salt, undefined, 'hkdf salt');
    assertBytes(info, undefined, 'hkdf info');
    assertLength(length, MAX_HKDF_LENGTH, 'hkdf length');
    if (info.length > NODE_HKDF_MAX_INFO) return hkdfWithHmac(ikm, salt, info, length);
    return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
  },
  ed25519: Object.freeze({
    generateKeyPair(seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.ed25519SecretKey, 'ed25519 seed');
      const secretKey = seed ? Uint8Array.from(seed) : randomSecret(S.ed25519SecretKey);
      return { publicKey: edPublicKey(secretKey), secretKey };
    },
    publicKey(secretKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.ed25519SecretKey, 'ed25519 secret key');
      return edPublicKey(secretKey);
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.ed25519SecretKey, 'ed25519 secret key');
      assertBytes(message, undefined, 'message');
      // Pure Ed25519 (RFC 8032 §5.1.6): no pre-hash, hence the null digest.
      return copyOut(sign(null, message, importPrivateKey('Ed25519', secretKey)));
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
      if (!(publicKey instanceof Uint8Array) || !(signature instanceof Uint8Array)) return false;
      if (!(message instanceof Uint8Array)) return false;
      // Encodings strict verification refuses whatever the message: decided without OpenSSL,
      // which would accept small-order and non-canonical public keys.
      if (!passesStrictEncodingRules(publicKey, signature)) return false;
      let accepted = false;
      try {
        accepted = verify(null, message, importPublicKey('Ed25519', publicKey), signature);
      } catch {
        accepted = false;
      }
      // Cofactorless acceptance implies cofactored acceptance, so `true` is final; a `false`
      // may be a signature with a small-order component that noble's cofactored check accepts.
      return accepted || noble.ed25519.verify(publicKey, message, signature);
    },
  }),
  x25519: Object.freeze({
    generateKeyPair(seed?: Uint8Array): KeyPair {
      if (seed !== undefined) assertBytes(seed, S.x25519Key, 'x25519 seed');
      const secretKey = seed ? Uint8Array.from(seed) : randomSecret(S.x25519Key);
      return { publicKey: xPublicKey(secretKey), secretKey };
    },
    publicKey(secretKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.x25519Key, 'x25519 secret key');
      return xPublicKey(secretKey);
    },
    sharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
      assertBytes(secretKey, S.x25519Key, 'x25519 secret key');
      assertBytes(peerPublicKey, S.x25519Key, 'x25519 public key');
      let secret: Uint8Array;
      try {
        secret = diffieHellman({
          privateKey: importPrivateKey('X25519', secretKey),
          publicKey: importPublicKey('X25519', peerPublicKey),
        });
      } catch {
        // OpenSSL refuses the all-zero output of a low-order peer key (RFC 7748 §6.1); let noble
        // decide, so the error (PL-400) and any accepted edge case are exactly the noble ones.
        return noble.x25519.sharedSecret(secretKey, peerPublicKey);
      }
      const out = copyOut(secret);
      zeroize(secret);
      // Defence in depth: RFC 7748 §6.1 all-zero check, in case OpenSSL ever stops doing it.
      if (out.every((byte) => byte === 0)) {
        throw new EnablementError('PL-400', 'x25519: invalid peer public key');
      }
      return out;
    },
  }),
  // Node 20 (OpenSSL 3.0) has no ML-DSA or ML-KEM: the noble implementations serve both providers.
  mlDsa65: noble.mlDsa65,
  mlKem: noble.mlKem,
  aead: Object.freeze({
    seal(
      algorithm: AeadAlgorithm,
      key: Uint8Array,
      nonce: Uint8Array,
      plaintext: Uint8Array,
      associatedData?: Uint8Array,
    ): Uint8Array {
      assertBytes(plaintext, undefined, 'aead plaintext');
      const name = aeadAlgorithm(algorithm, key, nonce, associatedData);
      // Two identical calls because @types/node overloads createCipheriv per algorithm literal.
      const cipher =
        name === 'aes-256-gcm'
          ? createCipheriv(name, key, nonce, { authTagLength: S.aeadTag })
          : createCipheriv(name, key, nonce, { authTagLength: S.aeadTag });
      if (associatedData !== undefined) {
        cipher.setAAD(associatedData, { plaintextLength: plaintext.length });
      }
      const body = cipher.update(plaintext);
      const tail = cipher.final(); // empty for both stream-like AEADs
      const tag = cipher.getAuthTag();
      const out = new Uint8Array(body.length + tail.length + tag.length);
      out.set(body);
      out.set(tail, body.length);
      out.set(tag, body.length + tail.length);
      return out;
    },
    open(
      algorithm: AeadAlgorithm,
      key: Uint8Array,
      nonce: Uint8Array,
      ciphertext: Uint8Array,
      associatedData?: Uint8Array,
    ): Uint8Array {
      assertBytes(ciphertext, undefined, 'aead ciphertext');
      const name = aeadAlgorithm(algorithm, key, nonce, associatedData);
      if (ciphertext.length < S.aeadTag) throw new EnablementError('PL-401', 'aead: ciphertext too short');
      const bodyLength = ciphertext.length - S.aeadTag;
      // Two identical calls because @types/node overloads createDecipheriv per algorithm literal.
      const decipher =
        name === 'aes-256-gcm'
          ? createDecipheriv(name, key, nonce, { authTagLength: S.aeadTag })
          : createDecipheriv(name, key, nonce, { authTagLength: S.aeadTag });
      decipher.setAuthTag(ciphertext.subarray(bodyLength));
      if (associatedData !== undefined) {
        decipher.setAAD(associatedData, { plaintextLength: bodyLength });
      }
      // OpenSSL decrypts before it checks the tag: hold the plaintext until `final()` has
      // verified it, and wipe it if it did not.
      const body = decipher.update(ciphertext.subarray(0, bodyLength));
      try {
        decipher.final();
      } catch {
        zeroize(body);
        throw new EnablementError('PL-401', 'aead: authentication failed');
      }
      const out = copyOut(body);
      zeroize(body);
      return out;
    },
  }),
});
