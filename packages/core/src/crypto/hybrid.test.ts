import { errorCodeOf } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import {
  decodeHybridSignature,
  encodeHybridSignature,
  generateHybridKeyPair,
  HYBRID_SIGNATURE_LABEL,
  HYBRID_SIGNATURE_LENGTH,
  type HybridPublicKey,
  type HybridSecretKey,
  type HybridSignature,
  signHybrid,
  verifyHybrid,
} from './hybrid.js';
import { nobleCryptoProvider } from './noble.js';
import { nodeCryptoProvider } from './node.js';

const providers = [
  { name: 'noble', provider: nobleCryptoProvider },
  { name: 'node', provider: nodeCryptoProvider },
] as const;

const seeds = (n: number) => ({
  ed25519: new Uint8Array(32).fill(n),
  mlDsa65: new Uint8Array(32).fill(n + 100),
});
const message = utf8ToBytes('{"action":"transfer","amount":"10.00"}');

function flipBit(bytes: Uint8Array, position: number): Uint8Array {
  const out = bytes.slice();
  const index = Math.floor(position / 8) % out.length;
  out[index] = (out[index] as number) ^ (1 << (position % 8));
  return out;
}

/** What the halves sign, as documented in hybrid.ts. */
const frame = (m: Uint8Array) =>
  concatBytes(Uint8Array.of(0xff), utf8ToBytes(HYBRID_SIGNATURE_LABEL), Uint8Array.of(0x00), m);

describe.each(providers)('hybrid signatures: $name provider', ({ provider }) => {
  const alice = generateHybridKeyPair(provider, seeds(1));
  const signature = signHybrid(provider, alice.secretKey, message);

  it('round trip; the encoding is 64 ‖ 3309 = 3373 bytes', () => {
    expect(HYBRID_SIGNATURE_LENGTH).toBe(3373);
    expect(signature.ed25519).toHaveLength(64);
    expect(signature.mlDsa65).toHaveLength(3309);
    expect(verifyHybrid(provider, alice.publicKey, message, signature)).toBe(true);
    const wire = encodeHybridSignature(signature);
    expect(wire).toHaveLength(HYBRID_SIGNATURE_LENGTH);
    expect(wire.subarray(0, 64)).toEqual(signature.ed25519);
    const decoded = decodeHybridSignature(wire);
    expect(decoded).toEqual(signature);
    expect(verifyHybrid(provider, alice.publicKey, message, decoded)).toBe(true);
  });

  it('decode copies: changing the wire bytes afterwards does not change the signature', () => {
    const wire = encodeHybridSignature(signature);
    const decoded = decodeHybridSignature(wire);
    wire.fill(0);
    expect(verifyHybrid(provider, alice.publicKey, message, decoded)).toBe(true);
  });

  it('key generation is deterministic in the seeds, random without them', () => {
    expect(generateHybridKeyPair(provider, seeds(1))).toEqual(alice);
    expect(generateHybridKeyPair(provider, seeds(2)).publicKey.ed25519).not.toEqual(alice.publicKey.ed25519);
    const random = generateHybridKeyPair(provider);
    expect(
      verifyHybrid(provider, random.publicKey, message, signHybrid(provider, random.secretKey, message)),
    ).toBe(true);
    expect(random.publicKey.mlDsa65).not.toEqual(generateHybridKeyPair(provider).publicKey.mlDsa65);
  });

  it('key generation refuses partial or malformed seeds with PL-400', () => {
    const half = { ed25519: new Uint8Array(32) } as unknown as Parameters<typeof generateHybridKeyPair>[1];
    expect(errorCodeOf(() => generateHybridKeyPair(provider, half))).toBe('PL-400');
    expect(
      errorCodeOf(() => generateHybridKeyPair(provider, { ...seeds(1), mlDsa65: new Uint8Array(31) })),
    ).toBe('PL-400');
    expect(
      errorCodeOf(() =>
        generateHybridKeyPair(provider, 'seed' as unknown as Parameters<typeof generateHybridKeyPair>[1]),
      ),
    ).toBe('PL-400');
  });

  it('a flipped bit anywhere (message, either half, either public key) fails', () => {
    const targets = [
      'message',
      'ed25519 signature',
      'ml-dsa signature',
      'ed25519 key',
      'ml-dsa key',
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...targets), fc.nat(), (target, position) => {
        let m = message;
        let pk: HybridPublicKey = alice.publicKey;
        let sig: HybridSignature = signature;
        if (target === 'message') m = flipBit(message, position);
        if (target === 'ed25519 signature')
          sig = { ...signature, ed25519: flipBit(signature.ed25519, position) };
        if (target === 'ml-dsa signature')
          sig = { ...signature, mlDsa65: flipBit(signature.mlDsa65, position) };
        if (target === 'ed25519 key') pk = { ...pk, ed25519: flipBit(pk.ed25519, position) };
        if (target === 'ml-dsa key') pk = { ...pk, mlDsa65: flipBit(pk.mlDsa65, position) };
        expect(verifyHybrid(provider, pk, m, sig)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('another signer’s key, or another message, fails', () => {
    const bob = generateHybridKeyPair(provider, seeds(3));
    expect(verifyHybrid(provider, bob.publicKey, message, signature)).toBe(false);
    expect(verifyHybrid(provider, alice.publicKey, utf8ToBytes('{}'), signature)).toBe(false);
  });

  it('needs both halves: one valid half next to a half from another message fails', () => {
    const other = signHybrid(provider, alice.secretKey, utf8ToBytes('other'));
    expect(verifyHybrid(provider, alice.publicKey, message, { ...signature, mlDsa65: other.mlDsa65 })).toBe(
      false,
    );
    expect(verifyHybrid(provider, alice.publicKey, message, { ...signature, ed25519: other.ed25519 })).toBe(
      false,
    );
  });

  describe('binding of the halves (stripping)', () => {
    it('a stripped half does not verify as a standalone signature over the message', () => {
      expect(provider.ed25519.verify(alice.publicKey.ed25519, message, signature.ed25519)).toBe(false);
      expect(provider.mlDsa65.verify(alice.publicKey.mlDsa65, message, signature.mlDsa65)).toBe(false);
      // ...because each half signs the framed message, which the test rebuilds from the docs:
      expect(provider.ed25519.verify(alice.publicKey.ed25519, frame(message), signature.ed25519)).toBe(true);
      expect(provider.mlDsa65.verify(alice.publicKey.mlDsa65, frame(message), signature.mlDsa65)).toBe(true);
    });

    it('two standalone signatures over the message cannot be glued into a hybrid one', () => {
      const glued: HybridSignature = {
        ed25519: provider.ed25519.sign(alice.secretKey.ed25519, message),
        mlDsa65: provider.mlDsa65.sign(alice.secretKey.mlDsa65, message),
      };
      expect(verifyHybrid(provider, alice.publicKey, message, glued)).toBe(false);
    });

    it('the frame cannot be produced by UTF-8 text (what standalone signatures cover)', () => {
      expect(() => new TextDecoder('utf-8', { fatal: true }).decode(frame(message))).toThrow();
    });
  });

  describe('hostile input', () => {
    it('verifyHybrid returns false, never throws', () => {
      const throwing = Object.defineProperty({}, 'ed25519', {
        get() {
          throw new Error('boom');
        },
      });
      const bad: [unknown, unknown, unknown][] = [
        [null, message, signature],
        [alice.publicKey, message, null],
        [alice.publicKey, 'text', signature],
        [throwing, message, signature],
        [alice.publicKey, message, throwing],
        [{ ed25519: alice.publicKey.ed25519 }, message, signature],
        [alice.publicKey, message, { ed25519: signature.ed25519 }],
        [alice.publicKey, message, { ...signature, ed25519: signature.ed25519.subarray(1) }],
        [
          alice.publicKey,
          message,
          { ...signature, mlDsa65: concatBytes(signature.mlDsa65, Uint8Array.of(0)) },
        ],
        [{ ...alice.publicKey, mlDsa65: 'x'.repeat(1952) }, message, signature],
        [{ ...alice.publicKey, ed25519: alice.publicKey.ed25519.subarray(1) }, message, signature],
      ];
      for (const [pk, m, sig] of bad) {
        expect(verifyHybrid(provider, pk as HybridPublicKey, m as Uint8Array, sig as HybridSignature)).toBe(
          false,
        );
      }
    });

    it('signHybrid rejects malformed keys and messages with PL-400', () => {
      const sk = alice.secretKey;
      const bad: [unknown, unknown][] = [
        [null, message],
        [{ ed25519: sk.ed25519 }, message],
        [{ ...sk, ed25519: sk.ed25519.subarray(1) }, message],
        [{ ...sk, mlDsa65: sk.mlDsa65.subarray(1) }, message],
        [sk, 'text'],
      ];
      for (const [key, m] of bad) {
        expect(errorCodeOf(() => signHybrid(provider, key as HybridSecretKey, m as Uint8Array))).toBe(
          'PL-400',
        );
      }
    });
  });
});

describe('hybrid signatures across providers', () => {
  it('each provider verifies the other’s signatures; keys from the same seeds are identical', () => {
    const viaNode = generateHybridKeyPair(nodeCryptoProvider, seeds(4));
    expect(viaNode).toEqual(generateHybridKeyPair(nobleCryptoProvider, seeds(4)));
    const byNode = signHybrid(nodeCryptoProvider, viaNode.secretKey, message);
    const byNoble = signHybrid(nobleCryptoProvider, viaNode.secretKey, message);
    expect(byNode.ed25519).toEqual(byNoble.ed25519); // Ed25519 is deterministic
    expect(verifyHybrid(nobleCryptoProvider, viaNode.publicKey, message, byNode)).toBe(true);
    expect(verifyHybrid(nodeCryptoProvider, viaNode.publicKey, message, byNoble)).toBe(true);
  });
});

describe('hybrid wire encoding', () => {
  const { secretKey } = generateHybridKeyPair(nobleCryptoProvider, seeds(5));
  const signature = signHybrid(nobleCryptoProvider, secretKey, message);

  it.each([0, 64, 3309, HYBRID_SIGNATURE_LENGTH - 1, HYBRID_SIGNATURE_LENGTH + 1])(
    'decode rejects %i bytes with PL-400',
    (length) => {
      expect(errorCodeOf(() => decodeHybridSignature(new Uint8Array(length)))).toBe('PL-400');
    },
  );

  it('decode rejects non-bytes with PL-400', () => {
    expect(errorCodeOf(() => decodeHybridSignature('x'.repeat(3373) as unknown as Uint8Array))).toBe(
      'PL-400',
    );
  });

  it('encode rejects halves of the wrong length with PL-400', () => {
    expect(errorCodeOf(() => encodeHybridSignature({ ...signature, ed25519: new Uint8Array(63) }))).toBe(
      'PL-400',
    );
    expect(errorCodeOf(() => encodeHybridSignature({ ...signature, mlDsa65: new Uint8Array(3310) }))).toBe(
      'PL-400',
    );
    expect(errorCodeOf(() => encodeHybridSignature(null as unknown as HybridSignature))).toBe('PL-400');
  });

  it('a swapped encoding (ML-DSA first) does not decode into a valid signature', () => {
    const publicKey = generateHybridKeyPair(nobleCryptoProvider, seeds(5)).publicKey;
    const swapped = concatBytes(signature.mlDsa65, signature.ed25519);
    expect(verifyHybrid(nobleCryptoProvider, publicKey, message, decodeHybridSignature(swapped))).toBe(false);
  });
});
