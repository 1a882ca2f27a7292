import { expectEnablementError } from '@creto/testing';
import { Point } from '@noble/ed25519';
import { base58 } from '@scure/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { EnablementError } from '../errors/enablement-error.js';
import {
  assertEd25519PublicKey,
  formatNhi,
  isNhi,
  NHI_MAX_LENGTH,
  PRINCIPAL_KINDS,
  parseNhi,
} from './nhi.js';

const ed = nobleCryptoProvider.ed25519;

function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed.publicKey(seed);
}

const VALID_KEY = publicKeyOf(new Uint8Array(32).fill(7));
const VALID_NHI = formatNhi('agent', VALID_KEY);

/** Strict RFC 8032 decoding outside the torsion subgroup: the independent oracle. */
function isUsableEd25519Key(bytes: Uint8Array): boolean {
  try {
    return !Point.fromBytes(bytes, false).isSmallOrder();
  } catch {
    return false;
  }
}

const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });
const kindArb = fc.constantFrom(...PRINCIPAL_KINDS);

describe('formatNhi / parseNhi', () => {
  it('formats the documented shape', () => {
    expect(VALID_NHI).toMatch(/^agent:nhi:ed25519:[1-9A-HJ-NP-Za-km-z]{43,44}$/);
    expect(VALID_NHI.endsWith(base58.encode(VALID_KEY))).toBe(true);
  });

  it('round-trips kind and key for random keys', () => {
    fc.assert(
      fc.property(seedArb, kindArb, (seed, kind) => {
        const key = publicKeyOf(seed);
        const nhi = formatNhi(kind, key);
        expect(nhi.length).toBeLessThanOrEqual(NHI_MAX_LENGTH);
        const parsed = parseNhi(nhi);
        expect(parsed.kind).toBe(kind);
        expect(parsed.publicKey).toEqual(key);
        expect(isNhi(nhi)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('accepts exactly the 32-byte strings that are usable Ed25519 points', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const text = `human:nhi:ed25519:${base58.encode(bytes)}`;
        expect(isNhi(text)).toBe(isUsableEd25519Key(bytes));
        if (isUsableEd25519Key(bytes)) expect(formatNhi('human', bytes)).toBe(text);
        else expectEnablementError(() => formatNhi('human', bytes), 'PL-400', /Ed25519/);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps leading zero bytes (base58 "1" digits) of a key', () => {
    // Search deterministically for a valid key whose first byte is zero.
    let key: Uint8Array | undefined;
    for (let i = 0; i < 2000 && key === undefined; i++) {
      const candidate = new Uint8Array(32);
      candidate[31] = i & 0xff;
      candidate[30] = i >> 8;
      candidate[1] = 9;
      if (isUsableEd25519Key(candidate)) key = candidate;
    }
    if (key === undefined) throw new Error('no candidate key found');
    const nhi = formatNhi('service', key);
    expect(nhi.startsWith('service:nhi:ed25519:1')).toBe(true);
    expect(parseNhi(nhi).publicKey).toEqual(key);
  });

  it('rejects every single-character substitution, deletion and insertion (or yields another key)', () => {
    const alphabet = [...'123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0OIl:- \u0000é💥'];
    const original = parseNhi(VALID_NHI);
    const check = (mutated: string) => {
      if (mutated === VALID_NHI) return;
      let parsed: ReturnType<typeof parseNhi>;
      try {
        parsed = parseNhi(mutated);
      } catch (error) {
        expect((error as EnablementError).code).toBe('PL-400');
        return;
      }
      const same = parsed.kind === original.kind && Buffer.from(parsed.publicKey).equals(original.publicKey);
      expect(same).toBe(false);
    };
    for (let i = 0; i <= VALID_NHI.length; i++) {
      if (i < VALID_NHI.length) check(VALID_NHI.slice(0, i) + VALID_NHI.slice(i + 1));
      for (const c of alphabet) {
        if (i < VALID_NHI.length) check(VALID_NHI.slice(0, i) + c + VALID_NHI.slice(i + 1));
        check(VALID_NHI.slice(0, i) + c + VALID_NHI.slice(i));
      }
    }
  });

  it('rejects random single-character mutations of random NHIs', () => {
    fc.assert(
      fc.property(
        seedArb,
        kindArb,
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }),
        (seed, kind, pos, c) => {
          const nhi = formatNhi(kind, publicKeyOf(seed));
          const i = pos % nhi.length;
          const mutated = nhi.slice(0, i) + c + nhi.slice(i + 1);
          fc.pre(mutated !== nhi);
          if (!isNhi(mutated)) return;
          const parsed = parseNhi(mutated);
          expect(parsed.kind === kind && base58.encode(parsed.publicKey) === nhi.split(':')[3]).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('parseNhi hostile input', () => {
  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { toString: () => VALID_NHI }],
    ['a String object', new String(VALID_NHI)],
    ['an array', [VALID_NHI]],
    ['a bigint', 1n],
    ['a symbol', Symbol('nhi')],
    ['bytes', new TextEncoder().encode(VALID_NHI)],
  ])('rejects %s', (_label, value) => {
    expectEnablementError(() => parseNhi(value), 'PL-400', /expected an NHI string/);
    expect(isNhi(value)).toBe(false);
  });

  it('rejects huge strings on length before decoding', () => {
    const huge = `agent:nhi:ed25519:${'z'.repeat(1_000_000)}`;
    const started = performance.now();
    expectEnablementError(() => parseNhi(huge), 'PL-400', /too long/);
    expect(performance.now() - started).toBeLessThan(50);
    expectEnablementError(
      () => parseNhi(`${VALID_NHI}1`.padEnd(NHI_MAX_LENGTH + 1, '1')),
      'PL-400',
      /too long/,
    );
  });

  it.each([
    ['empty', '', /expected '<kind>:nhi:ed25519/],
    ['only a kind', 'agent', /expected '<kind>:nhi:ed25519/],
    ['wrong scheme', VALID_NHI.replace(':nhi:', ':did:'), /expected '<kind>:nhi:ed25519/],
    ['upper-case scheme', VALID_NHI.replace(':nhi:', ':NHI:'), /expected '<kind>:nhi:ed25519/],
    ['wrong algorithm', VALID_NHI.replace('ed25519', 'x25519'), /expected '<kind>:nhi:ed25519/],
    ['an extra segment', `${VALID_NHI}:x`, /expected '<kind>:nhi:ed25519/],
    ['unknown kind', VALID_NHI.replace('agent', 'robot'), /unknown principal kind/],
    ['upper-case kind', VALID_NHI.replace('agent', 'AGENT'), /unknown principal kind/],
    ['empty kind', VALID_NHI.replace('agent', ''), /unknown principal kind/],
    ['leading space', ` ${VALID_NHI}`, /unknown principal kind/],
    ['trailing space', `${VALID_NHI} `, /not base58/],
    ['empty key', 'agent:nhi:ed25519:', /not base58/],
    ['base58 look-alike 0', `${VALID_NHI.slice(0, -1)}0`, /not base58/],
    ['base58 look-alike l', `${VALID_NHI.slice(0, -1)}l`, /not base58/],
    ['unicode digit', `${VALID_NHI.slice(0, -1)}٣`, /not base58/],
    ['NUL byte', `${VALID_NHI.slice(0, -1)}\u0000`, /not base58/],
    ['base64 instead of base58', `agent:nhi:ed25519:${Buffer.from(VALID_KEY).toString('base64url')}`, /./],
  ])('rejects %s', (_label, text, message) => {
    expectEnablementError(() => parseNhi(text), 'PL-400', message);
    expect(isNhi(text)).toBe(false);
  });

  it('rejects keys of the wrong length', () => {
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:${base58.encode(VALID_KEY.subarray(0, 31))}`),
      'PL-400',
      /got 31/,
    );
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:1${base58.encode(VALID_KEY)}`),
      'PL-400',
      /got 33/,
    );
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:${base58.encode(new Uint8Array(20).fill(255))}`),
      'PL-400',
      /got 20/,
    );
  });

  it('rejects small-order and non-canonical points', () => {
    const identity = Point.ZERO.toBytes(); // y = 1, order 1
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:${base58.encode(identity)}`),
      'PL-400',
      /small-order/,
    );
    const order2 = new Uint8Array(32); // y = -1 (p - 1), x = 0: order 2
    const pMinus1 = 2n ** 255n - 20n;
    for (let i = 0; i < 32; i++) order2[i] = Number((pMinus1 >> BigInt(8 * i)) & 0xffn);
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:${base58.encode(order2)}`),
      'PL-400',
      /small-order/,
    );
    // y = p + 1 is the non-canonical encoding of y = 1; lax (ZIP-215) decoders accept it.
    const nonCanonical = new Uint8Array(32);
    const pPlus1 = 2n ** 255n - 18n;
    for (let i = 0; i < 32; i++) nonCanonical[i] = Number((pPlus1 >> BigInt(8 * i)) & 0xffn);
    expect(() => Point.fromBytes(nonCanonical, true)).not.toThrow();
    expectEnablementError(
      () => parseNhi(`agent:nhi:ed25519:${base58.encode(nonCanonical)}`),
      'PL-400',
      /RFC 8032/,
    );
  });

  it('names the field in error messages', () => {
    expectEnablementError(() => parseNhi('nope', 'link.issuer'), 'PL-400', /^link\.issuer: /);
  });
});

describe('formatNhi input validation', () => {
  it('rejects unknown kinds and bad keys', () => {
    expectEnablementError(() => formatNhi('robot' as 'agent', VALID_KEY), 'PL-400', /unknown principal kind/);
    expectEnablementError(() => formatNhi('agent', VALID_KEY.subarray(0, 31)), 'PL-400', /got 31/);
    expectEnablementError(
      () => formatNhi('agent', Array.from(VALID_KEY) as unknown as Uint8Array),
      'PL-400',
      /Uint8Array/,
    );
    expectEnablementError(() => assertEd25519PublicKey('key'), 'PL-400', /Uint8Array/);
  });
});
