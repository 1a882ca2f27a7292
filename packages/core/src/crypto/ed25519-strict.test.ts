import { verify as opensslVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '../encoding/bytes.js';
import {
  isCanonicalPointEncoding,
  isCanonicalScalar,
  isSmallOrderEncoding,
  passesStrictEncodingRules,
} from './ed25519-strict.js';
import { nobleCryptoProvider } from './noble.js';
import { nodeCryptoProvider } from './node.js';
import { importPublicKey } from './node-keys.js';

// Crafted Ed25519 edge cases: the node provider must give noble's RFC 8032 strict
// (`zip215: false`) answer on every one, although raw OpenSSL answers differently on several.

const { Point } = ed;
type EdPoint = InstanceType<typeof Point>;

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function fromLe(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

const modL = (n: bigint) => ((n % L) + L) % L;

/** k = SHA-512(R ‖ A ‖ M) mod L (RFC 8032 §5.1.6 step 4). */
function challenge(r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint {
  return modL(fromLe(sha512(concatBytes(r, a, m))));
}

/** Signs with scalar `a` under the public-key bytes `aBytes`, nonce `r`, R optionally shifted by `torsion`. */
function craft(a: bigint, aBytes: Uint8Array, r: bigint, m: Uint8Array, torsion?: EdPoint): Uint8Array {
  let point = r === 0n ? Point.ZERO : Point.BASE.multiply(r);
  if (torsion) point = point.add(torsion);
  const rBytes = point.toBytes();
  return concatBytes(rBytes, le32(modL(r + challenge(rBytes, aBytes, m) * a)));
}

/** A signature with an explicit R encoding (possibly non-canonical) and S = r + k·a. */
function craftWithR(a: bigint, aBytes: Uint8Array, r: bigint, rBytes: Uint8Array, m: Uint8Array): Uint8Array {
  return concatBytes(rBytes, le32(modL(r + challenge(rBytes, aBytes, m) * a)));
}

function raw(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return opensslVerify(null, message, importPublicKey('Ed25519', publicKey), signature);
  } catch {
    return false;
  }
}

/** For a small-order key A, finds R = [s]B, S = s with [k]A = 0, which cofactorless verification accepts. */
function smallOrderForgery(aBytes: Uint8Array, m: Uint8Array): Uint8Array {
  for (let s = 1n; s < 1000n; s++) {
    const sig = concatBytes(Point.BASE.multiply(s).toBytes(), le32(s));
    if (raw(aBytes, m, sig)) return sig;
  }
  throw new Error('no forgery found');
}

const SMALL_ORDER_HEX = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
];

const message = utf8ToBytes('crafted edge cases');
const a = 0x0123456789abcdef0123456789abcdefn; // a secret scalar we control
const A = Point.BASE.multiply(a);
const aBytes = A.toBytes();
const T8 = Point.fromBytes(hexToBytes(SMALL_ORDER_HEX[4] as string), true); // a point of order 8
const honest = craft(a, aBytes, 1234n, message);

interface Case {
  name: string;
  publicKey: Uint8Array;
  signature: Uint8Array;
  /** RFC 8032 strict verdict (what noble says). */
  expected: boolean;
  /** Whether raw OpenSSL disagrees: the cases the node provider's pre-checks and fallback exist for. */
  opensslDiffers: boolean;
}

function withS(signature: Uint8Array, s: bigint): Uint8Array {
  return concatBytes(signature.subarray(0, 32), le32(s));
}

const cases: Case[] = [
  { name: 'honest signature', publicKey: aBytes, signature: honest, expected: true, opensslDiffers: false },
  {
    name: 'non-canonical S = S + L',
    publicKey: aBytes,
    signature: withS(honest, fromLe(honest.subarray(32)) + L),
    expected: false,
    opensslDiffers: false,
  },
  {
    name: 'non-canonical S with high bits set (S + 8L)',
    publicKey: aBytes,
    signature: withS(honest, fromLe(honest.subarray(32)) + 8n * L),
    expected: false,
    opensslDiffers: false,
  },
  ...SMALL_ORDER_HEX.map((hex) => ({
    name: `small-order public key ${hex.slice(0, 8)}…${hex.slice(-2)} with a cofactorless forgery`,
    publicKey: hexToBytes(hex),
    signature: smallOrderForgery(hexToBytes(hex), message),
    expected: false,
    opensslDiffers: true,
  })),
  {
    name: 'non-canonical identity public key (y = p + 1) with a forgery',
    publicKey: le32(P + 1n),
    signature: smallOrderForgery(le32(P + 1n), message),
    expected: false,
    opensslDiffers: true,
  },
  {
    name: 'identity public key with x = 0 and the sign bit set, with a forgery',
    publicKey: le32(1n | (1n << 255n)),
    signature: smallOrderForgery(le32(1n | (1n << 255n)), message),
    expected: false,
    opensslDiffers: true,
  },
  {
    name: 'public key not on the curve (y = 2)',
    publicKey: le32(2n),
    signature: honest,
    expected: false,
    opensslDiffers: false,
  },
  {
    name: 'non-canonical R: the identity encoded as y = p + 1',
    publicKey: aBytes,
    signature: craftWithR(a, aBytes, 0n, le32(P + 1n), message),
    expected: false,
    opensslDiffers: false,
  },
  {
    name: 'non-canonical R: the identity with x = 0 and the sign bit set',
    publicKey: aBytes,
    signature: craftWithR(a, aBytes, 0n, le32(1n | (1n << 255n)), message),
    expected: false,
    opensslDiffers: false,
  },
  {
    name: 'R = identity, canonical (S = k·a)',
    publicKey: aBytes,
    signature: craftWithR(a, aBytes, 0n, le32(1n), message),
    expected: true,
    opensslDiffers: false,
  },
  ...[1n, 2n, 3n].map((r) => ({
    name: `R with a small-order component (R = [${r}]B + T8), accepted only by the cofactored equation`,
    publicKey: aBytes,
    signature: craft(a, aBytes, 1000n + r, message, T8),
    expected: true,
    opensslDiffers: true,
  })),
  {
    name: 'R of small order (R = T8, S = k·a)',
    publicKey: aBytes,
    signature: craft(a, aBytes, 0n, message, T8),
    expected: true,
    opensslDiffers: true,
  },
  ...[1n, 2n, 3n].map((r) => {
    const mixed = A.add(T8).toBytes();
    const signature = craft(a, mixed, 2000n + r, message);
    return {
      name: `mixed-order public key A = aB + T8 (#${r})`,
      publicKey: mixed,
      signature,
      expected: true,
      // Cofactorless verification passes only when [k]T8 = 0, i.e. 8 | k.
      opensslDiffers: !raw(mixed, message, signature),
    };
  }),
];

describe('RFC 8032 strict encoding rules (byte level)', () => {
  it('knows the eight small-order points', () => {
    for (const hex of SMALL_ORDER_HEX) {
      const point = Point.fromBytes(hexToBytes(hex), true);
      expect(point.isSmallOrder()).toBe(true);
      expect(bytesToHex(point.toBytes())).toBe(hex);
      expect(isSmallOrderEncoding(hexToBytes(hex))).toBe(true);
    }
    expect(new Set(SMALL_ORDER_HEX).size).toBe(8);
    expect(isSmallOrderEncoding(aBytes)).toBe(false);
    expect(isSmallOrderEncoding(A.add(T8).toBytes())).toBe(false); // mixed order is not small order
  });

  it('accepts y < p and rejects y >= p', () => {
    expect(isCanonicalPointEncoding(le32(P - 1n))).toBe(true);
    for (const y of [P, P + 1n, P + 3n, P + 18n]) {
      expect(isCanonicalPointEncoding(le32(y))).toBe(false);
      expect(isCanonicalPointEncoding(le32(y | (1n << 255n)))).toBe(false);
    }
    expect(isCanonicalPointEncoding(le32(2n ** 255n - 1n))).toBe(false);
  });

  it('rejects x = 0 with the sign bit set (y = 1 and y = p - 1), and only those', () => {
    expect(isCanonicalPointEncoding(le32(1n | (1n << 255n)))).toBe(false);
    expect(isCanonicalPointEncoding(le32(P - 1n + (1n << 255n)))).toBe(false);
    expect(isCanonicalPointEncoding(le32(1n))).toBe(true);
    expect(isCanonicalPointEncoding(le32(2n | (1n << 255n)))).toBe(true);
  });

  it('checks 0 <= S < L', () => {
    expect(isCanonicalScalar(le32(0n))).toBe(true);
    expect(isCanonicalScalar(le32(L - 1n))).toBe(true);
    expect(isCanonicalScalar(le32(L))).toBe(false);
    expect(isCanonicalScalar(le32(2n ** 256n - 1n))).toBe(false);
  });

  it('agrees with noble point decoding on random encodings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        let strict = true;
        try {
          Point.fromBytes(bytes, false);
        } catch {
          strict = false;
        }
        // Canonical is necessary for strict decoding; strict decoding also needs a curve point.
        if (strict) expect(isCanonicalPointEncoding(bytes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('passesStrictEncodingRules rejects wrong lengths', () => {
    expect(passesStrictEncodingRules(aBytes, honest)).toBe(true);
    expect(passesStrictEncodingRules(aBytes.subarray(1), honest)).toBe(false);
    expect(passesStrictEncodingRules(aBytes, honest.subarray(1))).toBe(false);
  });
});

describe('crafted Ed25519 signatures', () => {
  it.each(cases)('$name', ({ publicKey, signature, expected, opensslDiffers }) => {
    // The reference verdict, straight from @noble/ed25519 strict mode.
    expect(ed.verify(signature, message, publicKey, { zip215: false })).toBe(expected);
    expect(nobleCryptoProvider.ed25519.verify(publicKey, message, signature)).toBe(expected);
    expect(nodeCryptoProvider.ed25519.verify(publicKey, message, signature)).toBe(expected);
    // Documents why node.ts has pre-checks and a fallback: raw OpenSSL says otherwise here.
    expect(raw(publicKey, message, signature) !== expected).toBe(opensslDiffers);
  });

  it('covers both directions of disagreement with raw OpenSSL', () => {
    expect(cases.some((c) => c.opensslDiffers && c.expected)).toBe(true); // OpenSSL too strict
    expect(cases.some((c) => c.opensslDiffers && !c.expected)).toBe(true); // OpenSSL too lax
  });

  it.each([
    ['a 63-byte signature', aBytes, honest.subarray(0, 63)],
    ['a 65-byte signature', aBytes, concatBytes(honest, Uint8Array.of(0))],
    ['a 31-byte public key', aBytes.subarray(0, 31), honest],
    ['a 33-byte public key', concatBytes(aBytes, Uint8Array.of(0)), honest],
  ])('both providers return false (not throw) for %s', (_name, publicKey, signature) => {
    expect(nobleCryptoProvider.ed25519.verify(publicKey, message, signature)).toBe(false);
    expect(nodeCryptoProvider.ed25519.verify(publicKey, message, signature)).toBe(false);
  });

  it('both providers return false for values that are not bytes', () => {
    const hostile: unknown[] = [undefined, null, 'abc', 42, [1, 2, 3], { length: 32 }, new Uint16Array(32)];
    for (const value of hostile) {
      const v = value as Uint8Array;
      for (const provider of [nobleCryptoProvider, nodeCryptoProvider]) {
        expect(provider.ed25519.verify(v, message, honest)).toBe(false);
        expect(provider.ed25519.verify(aBytes, v, honest)).toBe(false);
        expect(provider.ed25519.verify(aBytes, message, v)).toBe(false);
      }
    }
  });

  it('both providers agree on random and mutated signatures', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (random, index, xor, useRandom) => {
          const signature = useRandom ? random : honest.slice();
          if (!useRandom) signature[index] = (signature[index] as number) ^ xor;
          const expected = ed.verify(signature, message, aBytes, { zip215: false });
          expect(nobleCryptoProvider.ed25519.verify(aBytes, message, signature)).toBe(expected);
          expect(nodeCryptoProvider.ed25519.verify(aBytes, message, signature)).toBe(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
