import { errorCodeOf } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, utf8ToBytes } from '../encoding/bytes.js';
import { nobleCryptoProvider } from './noble.js';
import { nodeCryptoProvider } from './node.js';
import { CRYPTO_SIZES as S } from './provider.js';

// ML-DSA-65 (FIPS 204) and ML-KEM-768/1024 (FIPS 203) behaviour through the provider port.
// The node provider delegates both to noble; running the suite on both proves the wiring.

const providers = [
  { name: 'noble', provider: nobleCryptoProvider },
  { name: 'node', provider: nodeCryptoProvider },
] as const;

const seed = (length: number, fill: number) => new Uint8Array(length).fill(fill);
const flip = (bytes: Uint8Array, index: number, bit = 0) => {
  const out = bytes.slice();
  out[index % out.length] = (out[index % out.length] as number) ^ (1 << bit);
  return out;
};

describe.each(providers)('ML-DSA-65: $name provider', ({ provider }) => {
  const message = utf8ToBytes('post-quantum hello');
  const keys = provider.mlDsa65.generateKeyPair(seed(32, 1));
  const signature = provider.mlDsa65.sign(keys.secretKey, message);

  it('round trip with FIPS 204 sizes', () => {
    expect(keys.publicKey).toHaveLength(S.mlDsa65PublicKey);
    expect(keys.secretKey).toHaveLength(S.mlDsa65SecretKey);
    expect(signature).toHaveLength(S.mlDsa65Signature);
    expect(provider.mlDsa65.verify(keys.publicKey, message, signature)).toBe(true);
  });

  it('keygen is deterministic in the seed, and random without one', () => {
    const again = provider.mlDsa65.generateKeyPair(seed(32, 1));
    expect(bytesToHex(again.publicKey)).toBe(bytesToHex(keys.publicKey));
    expect(bytesToHex(again.secretKey)).toBe(bytesToHex(keys.secretKey));
    expect(bytesToHex(provider.mlDsa65.generateKeyPair(seed(32, 2)).publicKey)).not.toBe(
      bytesToHex(keys.publicKey),
    );
    const random = provider.mlDsa65.generateKeyPair();
    expect(bytesToHex(random.publicKey)).not.toBe(bytesToHex(provider.mlDsa65.generateKeyPair().publicKey));
  });

  it('signing is hedged: two signatures differ, both verify', () => {
    const second = provider.mlDsa65.sign(keys.secretKey, message);
    expect(bytesToHex(second)).not.toBe(bytesToHex(signature));
    expect(provider.mlDsa65.verify(keys.publicKey, message, second)).toBe(true);
  });

  it('a flipped bit in the signature, message or public key fails verification', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (index, bit) => {
        expect(provider.mlDsa65.verify(keys.publicKey, message, flip(signature, index, bit))).toBe(false);
        expect(provider.mlDsa65.verify(keys.publicKey, flip(message, index, bit), signature)).toBe(false);
        expect(provider.mlDsa65.verify(flip(keys.publicKey, index, bit), message, signature)).toBe(false);
      }),
      { numRuns: 15 },
    );
  });

  it('another key pair’s public key fails verification', () => {
    const other = provider.mlDsa65.generateKeyPair(seed(32, 3));
    expect(provider.mlDsa65.verify(other.publicKey, message, signature)).toBe(false);
  });

  it('wrong-length inputs: PL-400 for keygen and sign, false for verify', () => {
    expect(errorCodeOf(() => provider.mlDsa65.generateKeyPair(seed(31, 1)))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlDsa65.generateKeyPair(seed(64, 1)))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlDsa65.sign(keys.secretKey.subarray(1), message))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlDsa65.sign(keys.secretKey, 'text' as unknown as Uint8Array))).toBe(
      'PL-400',
    );
    expect(provider.mlDsa65.verify(keys.publicKey.subarray(1), message, signature)).toBe(false);
    expect(provider.mlDsa65.verify(keys.publicKey, message, signature.subarray(1))).toBe(false);
    expect(provider.mlDsa65.verify(keys.publicKey, message, new Uint8Array(S.mlDsa65Signature))).toBe(false);
    expect(provider.mlDsa65.verify(keys.publicKey, null as unknown as Uint8Array, signature)).toBe(false);
  });
});

describe.each(providers)('ML-KEM: $name provider', ({ provider }) => {
  const cases = [
    { algorithm: 'ML-KEM-768' as const, publicKey: S.mlKem768PublicKey, cipherText: S.mlKem768CipherText },
    { algorithm: 'ML-KEM-1024' as const, publicKey: S.mlKem1024PublicKey, cipherText: S.mlKem1024CipherText },
  ];

  it.each(cases)('$algorithm: round trip with FIPS 203 sizes', ({ algorithm, publicKey, cipherText }) => {
    const keys = provider.mlKem.generateKeyPair(algorithm);
    expect(keys.publicKey).toHaveLength(publicKey);
    const { cipherText: ct, sharedSecret } = provider.mlKem.encapsulate(keys.publicKey, algorithm);
    expect(ct).toHaveLength(cipherText);
    expect(sharedSecret).toHaveLength(S.sharedSecret);
    expect(provider.mlKem.decapsulate(ct, keys.secretKey, algorithm)).toEqual(sharedSecret);
  });

  it('ML-KEM-768 is the default algorithm', () => {
    const keys = provider.mlKem.generateKeyPair(undefined, seed(64, 4));
    expect(keys.publicKey).toHaveLength(S.mlKem768PublicKey);
    expect(keys).toEqual(provider.mlKem.generateKeyPair('ML-KEM-768', seed(64, 4)));
    const { cipherText, sharedSecret } = provider.mlKem.encapsulate(keys.publicKey);
    expect(provider.mlKem.decapsulate(cipherText, keys.secretKey)).toEqual(sharedSecret);
  });

  it.each(cases)('$algorithm: keygen is deterministic in the 64-byte seed', ({ algorithm }) => {
    const a = provider.mlKem.generateKeyPair(algorithm, seed(64, 5));
    const b = provider.mlKem.generateKeyPair(algorithm, seed(64, 5));
    expect(bytesToHex(a.publicKey)).toBe(bytesToHex(b.publicKey));
    expect(bytesToHex(a.secretKey)).toBe(bytesToHex(b.secretKey));
    expect(bytesToHex(provider.mlKem.generateKeyPair(algorithm, seed(64, 6)).publicKey)).not.toBe(
      bytesToHex(a.publicKey),
    );
  });

  it.each(cases)(
    '$algorithm: a tampered cipher text yields a different secret, not an error',
    ({ algorithm }) => {
      const keys = provider.mlKem.generateKeyPair(algorithm, seed(64, 7));
      const { cipherText, sharedSecret } = provider.mlKem.encapsulate(keys.publicKey, algorithm);
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (index, bit) => {
          const rejected = provider.mlKem.decapsulate(
            flip(cipherText, index, bit),
            keys.secretKey,
            algorithm,
          );
          expect(rejected).toHaveLength(S.sharedSecret);
          expect(bytesToHex(rejected)).not.toBe(bytesToHex(sharedSecret));
        }),
        { numRuns: 15 },
      );
      // Another recipient's secret key also gives an unrelated secret (implicit rejection).
      const other = provider.mlKem.generateKeyPair(algorithm, seed(64, 8));
      expect(bytesToHex(provider.mlKem.decapsulate(cipherText, other.secretKey, algorithm))).not.toBe(
        bytesToHex(sharedSecret),
      );
    },
  );

  it('wrong-length or malformed inputs are PL-400', () => {
    const k768 = provider.mlKem.generateKeyPair('ML-KEM-768', seed(64, 9));
    const { cipherText } = provider.mlKem.encapsulate(k768.publicKey);
    expect(errorCodeOf(() => provider.mlKem.generateKeyPair('ML-KEM-768', seed(63, 1)))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlKem.generateKeyPair('ML-KEM-512' as 'ML-KEM-768'))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlKem.encapsulate(k768.publicKey.subarray(1)))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlKem.encapsulate(k768.publicKey, 'ML-KEM-1024'))).toBe('PL-400');
    expect(errorCodeOf(() => provider.mlKem.decapsulate(cipherText.subarray(1), k768.secretKey))).toBe(
      'PL-400',
    );
    expect(errorCodeOf(() => provider.mlKem.decapsulate(cipherText, k768.secretKey, 'ML-KEM-1024'))).toBe(
      'PL-400',
    );
    expect(errorCodeOf(() => provider.mlKem.decapsulate(cipherText, k768.secretKey.subarray(1)))).toBe(
      'PL-400',
    );
    expect(errorCodeOf(() => provider.mlKem.decapsulate(cipherText, 'key' as unknown as Uint8Array))).toBe(
      'PL-400',
    );
  });

  it('an encapsulation key with a coefficient >= q fails the FIPS 203 §7.2 modulus check (PL-400)', () => {
    const { publicKey } = provider.mlKem.generateKeyPair('ML-KEM-768', seed(64, 10));
    const bad = publicKey.slice();
    // ByteDecode12: the first coefficient is byte 0 plus the low nibble of byte 1; make it
    // 0xfff = 4095, which is not reduced modulo q = 3329.
    bad[0] = 0xff;
    bad[1] = (bad[1] as number) | 0x0f;
    expect(errorCodeOf(() => provider.mlKem.encapsulate(bad))).toBe('PL-400');
  });
});
