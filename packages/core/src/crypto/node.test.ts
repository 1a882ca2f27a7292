import { sign as opensslSign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { nobleCryptoProvider } from './noble.js';
import { nodeCryptoProvider } from './node.js';
import { importPrivateKeyDer, importPrivateKeyJwk, rawPublicKey } from './node-keys.js';
import type { AeadAlgorithm, CryptoProvider } from './provider.js';

const bytes = (length: number, fill = 7) => new Uint8Array(length).fill(fill);
const anyBytes = (value: unknown) => value as Uint8Array;
const anyNumber = (value: unknown) => value as number;
const anyAlgorithm = (value: unknown) => value as AeadAlgorithm;

/** The error a call throws, as `{ code, message }`, or `'returned'`. */
function outcome(call: () => unknown): { code: string; message: string } | 'returned' {
  try {
    call();
    return 'returned';
  } catch (error) {
    if (!EnablementError.is(error)) throw error;
    return { code: error.code, message: error.message };
  }
}

/** RFC 7748 low-order u-coordinates (and non-canonical twins) whose X25519 output is all zeros. */
const LOW_ORDER_U = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (≡ 0)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1 (≡ 1)
];

const key = bytes(32, 1);
const nonce = bytes(12, 2);

/** Each hostile call, run on both providers: both must fail the same way. */
const HOSTILE_CALLS: [string, (p: CryptoProvider) => unknown][] = [
  ['randomBytes(-1)', (p) => p.randomBytes(-1)],
  ['randomBytes(1.5)', (p) => p.randomBytes(1.5)],
  ['randomBytes(65537)', (p) => p.randomBytes(65537)],
  ['randomBytes("8")', (p) => p.randomBytes(anyNumber('8'))],
  ['sha256(string)', (p) => p.sha256(anyBytes('abc'))],
  ['sha512(null)', (p) => p.sha512(anyBytes(null))],
  ['hmacSha256(string key)', (p) => p.hmacSha256(anyBytes('k'), bytes(1))],
  ['hmacSha256(array data)', (p) => p.hmacSha256(bytes(1), anyBytes([1, 2]))],
  ['hkdfSha256(ikm undefined)', (p) => p.hkdfSha256(anyBytes(undefined), bytes(1), bytes(1), 32)],
  ['hkdfSha256(salt string)', (p) => p.hkdfSha256(bytes(1), anyBytes(''), bytes(1), 32)],
  ['hkdfSha256(info number)', (p) => p.hkdfSha256(bytes(1), bytes(1), anyBytes(3), 32)],
  ['hkdfSha256(length 8161)', (p) => p.hkdfSha256(bytes(1), bytes(1), bytes(1), 8161)],
  ['hkdfSha256(length -1)', (p) => p.hkdfSha256(bytes(1), bytes(1), bytes(1), -1)],
  ['hkdfSha256(length NaN)', (p) => p.hkdfSha256(bytes(1), bytes(1), bytes(1), Number.NaN)],
  ['ed25519.generateKeyPair(31-byte seed)', (p) => p.ed25519.generateKeyPair(bytes(31))],
  ['ed25519.generateKeyPair(string seed)', (p) => p.ed25519.generateKeyPair(anyBytes('x'.repeat(32)))],
  ['ed25519.publicKey(33 bytes)', (p) => p.ed25519.publicKey(bytes(33))],
  ['ed25519.sign(31-byte key)', (p) => p.ed25519.sign(bytes(31), bytes(3))],
  ['ed25519.sign(string message)', (p) => p.ed25519.sign(bytes(32), anyBytes('hello'))],
  ['x25519.generateKeyPair(33-byte seed)', (p) => p.x25519.generateKeyPair(bytes(33))],
  ['x25519.publicKey(null)', (p) => p.x25519.publicKey(anyBytes(null))],
  ['x25519.sharedSecret(31-byte secret)', (p) => p.x25519.sharedSecret(bytes(31), bytes(32, 9))],
  ['x25519.sharedSecret(33-byte public)', (p) => p.x25519.sharedSecret(bytes(32), bytes(33, 9))],
  ...LOW_ORDER_U.map((u): [string, (p: CryptoProvider) => unknown] => [
    `x25519.sharedSecret(low-order ${u.slice(0, 8)}…)`,
    (p) => p.x25519.sharedSecret(bytes(32, 5), hexToBytes(u)),
  ]),
  ['aead.seal(unknown algorithm)', (p) => p.aead.seal(anyAlgorithm('aes-128-gcm'), key, nonce, bytes(1))],
  ['aead.seal(31-byte key)', (p) => p.aead.seal('aes-256-gcm', bytes(31), nonce, bytes(1))],
  ['aead.seal(24-byte nonce)', (p) => p.aead.seal('chacha20-poly1305', key, bytes(24), bytes(1))],
  ['aead.seal(string plaintext)', (p) => p.aead.seal('chacha20-poly1305', key, nonce, anyBytes('x'))],
  ['aead.seal(string aad)', (p) => p.aead.seal('chacha20-poly1305', key, nonce, bytes(1), anyBytes('x'))],
  ['aead.open(unknown algorithm)', (p) => p.aead.open(anyAlgorithm('rot13'), key, nonce, bytes(20))],
  ['aead.open(15-byte ciphertext)', (p) => p.aead.open('aes-256-gcm', key, nonce, bytes(15))],
  ['aead.open(garbage, chacha)', (p) => p.aead.open('chacha20-poly1305', key, nonce, bytes(40))],
  ['aead.open(garbage, gcm)', (p) => p.aead.open('aes-256-gcm', key, nonce, bytes(16))],
  ['aead.open(null ciphertext)', (p) => p.aead.open('aes-256-gcm', key, nonce, anyBytes(null))],
];

describe('node provider: input validation identical to the noble provider', () => {
  it.each(HOSTILE_CALLS)('%s', (_name, call) => {
    const noble = outcome(() => call(nobleCryptoProvider));
    const node = outcome(() => call(nodeCryptoProvider));
    expect(noble).not.toBe('returned');
    expect(node).toEqual(noble);
    expect(['PL-400', 'PL-401']).toContain(noble === 'returned' ? '' : noble.code);
  });
});

describe('node provider: outputs', () => {
  it('returns plain Uint8Arrays, never Buffers', () => {
    const kp = nodeCryptoProvider.ed25519.generateKeyPair();
    const outputs = [
      nodeCryptoProvider.randomBytes(16),
      nodeCryptoProvider.sha256(bytes(3)),
      nodeCryptoProvider.sha512(bytes(3)),
      nodeCryptoProvider.hmacSha256(bytes(3), bytes(3)),
      nodeCryptoProvider.hkdfSha256(bytes(3), bytes(3), bytes(3), 40),
      nodeCryptoProvider.hkdfSha256(bytes(3), bytes(3), bytes(2000), 40),
      kp.publicKey,
      kp.secretKey,
      nodeCryptoProvider.ed25519.sign(kp.secretKey, bytes(3)),
      nodeCryptoProvider.x25519.sharedSecret(bytes(32, 1), nodeCryptoProvider.x25519.publicKey(bytes(32, 2))),
      nodeCryptoProvider.aead.seal('aes-256-gcm', key, nonce, bytes(3)),
      nodeCryptoProvider.aead.open(
        'aes-256-gcm',
        key,
        nonce,
        nodeCryptoProvider.aead.seal('aes-256-gcm', key, nonce, bytes(3)),
      ),
    ];
    for (const output of outputs) {
      expect(output.constructor).toBe(Uint8Array);
      expect(Buffer.isBuffer(output)).toBe(false);
    }
  });

  it('randomBytes gives fresh, distinct output of the requested length', () => {
    expect(nodeCryptoProvider.randomBytes(0)).toHaveLength(0);
    const a = nodeCryptoProvider.randomBytes(32);
    const b = nodeCryptoProvider.randomBytes(32);
    expect(a).toHaveLength(32);
    expect(bytesToHex(a)).not.toBe(bytesToHex(b));
    expect(nodeCryptoProvider.randomBytes(65536)).toHaveLength(65536);
  });

  it('copies the seed it is given: the caller may zeroize its own', () => {
    const seed = bytes(32, 4);
    const kp = nodeCryptoProvider.ed25519.generateKeyPair(seed);
    seed.fill(0);
    expect(kp.secretKey).toEqual(bytes(32, 4));
  });

  it('HKDF with info beyond hkdfSync’s 1024-byte limit matches noble, at every output length boundary', () => {
    for (const infoLength of [1024, 1025, 4096]) {
      for (const length of [0, 1, 31, 32, 33, 64, 8160]) {
        const args = [bytes(20, 1), bytes(13, 2), bytes(infoLength, 3), length] as const;
        expect(bytesToHex(nodeCryptoProvider.hkdfSha256(...args))).toBe(
          bytesToHex(nobleCryptoProvider.hkdfSha256(...args)),
        );
      }
    }
  });
});

describe('node provider: AEAD never releases unverified plaintext', () => {
  const algorithms: AeadAlgorithm[] = ['chacha20-poly1305', 'aes-256-gcm'];

  it.each(algorithms)('%s: any flipped bit, or a different key, nonce or AAD, is PL-401', (algorithm) => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (plaintext, aad, position, bit) => {
          const sealed = nodeCryptoProvider.aead.seal(algorithm, key, nonce, plaintext, aad);
          const tampered = sealed.slice();
          const index = position % tampered.length;
          tampered[index] = (tampered[index] as number) ^ (1 << bit);
          const attempts: (() => unknown)[] = [
            () => nodeCryptoProvider.aead.open(algorithm, key, nonce, tampered, aad),
            () => nodeCryptoProvider.aead.open(algorithm, bytes(32, 9), nonce, sealed, aad),
            () => nodeCryptoProvider.aead.open(algorithm, key, bytes(12, 9), sealed, aad),
            () => nodeCryptoProvider.aead.open(algorithm, key, nonce, sealed, Uint8Array.of(...aad, 0)),
            () =>
              nodeCryptoProvider.aead.open(algorithm, key, nonce, sealed.subarray(0, sealed.length - 1), aad),
          ];
          for (const attempt of attempts) {
            expect(outcome(attempt)).toEqual(expect.objectContaining({ code: 'PL-401' }));
          }
          expect(nodeCryptoProvider.aead.open(algorithm, key, nonce, sealed, aad)).toEqual(plaintext);
        },
      ),
      { numRuns: 50 },
    );
  });

  it.each(algorithms)('%s: an absent and an empty AAD are the same AAD', (algorithm) => {
    const sealed = nodeCryptoProvider.aead.seal(algorithm, key, nonce, bytes(5));
    expect(nodeCryptoProvider.aead.open(algorithm, key, nonce, sealed, new Uint8Array(0))).toEqual(bytes(5));
    expect(
      bytesToHex(nobleCryptoProvider.aead.seal(algorithm, key, nonce, bytes(5), new Uint8Array(0))),
    ).toBe(bytesToHex(sealed));
  });
});

describe('node provider: raw key import paths', () => {
  it('PKCS#8 and JWK imports give the same key, for both curves', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const viaDer = importPrivateKeyDer('Ed25519', seed);
        const viaJwk = importPrivateKeyJwk('Ed25519', seed);
        expect(rawPublicKey(viaJwk)).toEqual(rawPublicKey(viaDer));
        expect(rawPublicKey(viaJwk)).toEqual(nobleCryptoProvider.ed25519.publicKey(seed));
        // Deterministic signatures: same key, same bytes.
        expect(opensslSign(null, seed, viaJwk)).toEqual(opensslSign(null, seed, viaDer));
        expect(rawPublicKey(importPrivateKeyJwk('X25519', seed))).toEqual(
          rawPublicKey(importPrivateKeyDer('X25519', seed)),
        );
      }),
      { numRuns: 25 },
    );
  });
});
