import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import { nobleCryptoProvider as noble } from './noble.js';
import { nodeCryptoProvider as node } from './node.js';
import type { AeadAlgorithm } from './provider.js';

// Interoperability: for random inputs both providers produce the same bytes, and each one
// accepts what the other produced. Runs are modest: the machine has two cores.

const RUNS = { numRuns: 100 };
const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const message = fc.uint8Array({ maxLength: 2048 });

/** The value a call returns, or the `{ code, message }` of the EnablementError it throws. */
function result<T>(call: () => T): T | { code: string; message: string } {
  try {
    return call();
  } catch (error) {
    if (!EnablementError.is(error)) throw error;
    return { code: error.code, message: error.message };
  }
}

describe('noble ⇄ node interoperability', () => {
  it('SHA-256, SHA-512 and HMAC-SHA-256 agree', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), message, (key, data) => {
        expect(node.sha256(data)).toEqual(noble.sha256(data));
        expect(node.sha512(data)).toEqual(noble.sha512(data));
        expect(node.hmacSha256(key, data)).toEqual(noble.hmacSha256(key, data));
      }),
      RUNS,
    );
  });

  it('HKDF-SHA-256 agrees, including empty salt/info and long info', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 1500 }),
        fc.integer({ min: 0, max: 8160 }),
        (ikm, salt, info, length) => {
          expect(node.hkdfSha256(ikm, salt, info, length)).toEqual(noble.hkdfSha256(ikm, salt, info, length));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('Ed25519: same public keys and signatures; each verifies the other', () => {
    fc.assert(
      fc.property(key32, message, (seed, data) => {
        const publicKey = noble.ed25519.publicKey(seed);
        expect(node.ed25519.publicKey(seed)).toEqual(publicKey);
        expect(node.ed25519.generateKeyPair(seed).publicKey).toEqual(publicKey);
        const signature = node.ed25519.sign(seed, data);
        expect(signature).toEqual(noble.ed25519.sign(seed, data));
        expect(noble.ed25519.verify(publicKey, data, signature)).toBe(true);
        expect(node.ed25519.verify(publicKey, data, signature)).toBe(true);
      }),
      RUNS,
    );
  });

  it('Ed25519: random keys made by one provider sign for the other', () => {
    for (const [maker, checker] of [
      [node, noble],
      [noble, node],
    ] as const) {
      const { publicKey, secretKey } = maker.ed25519.generateKeyPair();
      expect(checker.ed25519.publicKey(secretKey)).toEqual(publicKey);
      expect(
        checker.ed25519.verify(publicKey, Uint8Array.of(1), maker.ed25519.sign(secretKey, Uint8Array.of(1))),
      ).toBe(true);
    }
  });

  it('X25519: same public keys and shared secrets, for any peer bytes (top bit and non-canonical u included)', () => {
    fc.assert(
      fc.property(key32, key32, key32, (a, b, arbitraryPeer) => {
        expect(node.x25519.publicKey(a)).toEqual(noble.x25519.publicKey(a));
        const bPublic = node.x25519.generateKeyPair(b).publicKey;
        expect(bPublic).toEqual(noble.x25519.publicKey(b));
        const shared = node.x25519.sharedSecret(a, bPublic);
        expect(shared).toEqual(noble.x25519.sharedSecret(a, bPublic));
        expect(node.x25519.sharedSecret(b, node.x25519.publicKey(a))).toEqual(shared);
        // Arbitrary 32 bytes as a peer key: same secret or the same PL-400.
        expect(result(() => node.x25519.sharedSecret(a, arbitraryPeer))).toEqual(
          result(() => noble.x25519.sharedSecret(a, arbitraryPeer)),
        );
      }),
      RUNS,
    );
  });

  it.each<AeadAlgorithm>(['chacha20-poly1305', 'aes-256-gcm'])(
    '%s: same ciphertext; each opens the other’s',
    (algorithm) => {
      fc.assert(
        fc.property(
          key32,
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          message,
          fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          (key, nonce, plaintext, aad) => {
            const byNode = node.aead.seal(algorithm, key, nonce, plaintext, aad);
            const byNoble = noble.aead.seal(algorithm, key, nonce, plaintext, aad);
            expect(byNode).toEqual(byNoble);
            expect(noble.aead.open(algorithm, key, nonce, byNode, aad)).toEqual(plaintext);
            expect(node.aead.open(algorithm, key, nonce, byNoble, aad)).toEqual(plaintext);
          },
        ),
        RUNS,
      );
    },
  );

  it('ML-DSA-65 and ML-KEM: node delegates to the very same noble implementation', () => {
    expect(node.mlDsa65).toBe(noble.mlDsa65);
    expect(node.mlKem).toBe(noble.mlKem);
  });
});
