import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { DECIMAL_MAX_DIGITS, DECIMAL_MAX_SCALE, Decimal } from '../decimal/decimal.js';
import { base64urlToBytes, bytesToBase64url } from '../encoding/bytes.js';
import { INT64_MAX, INT64_MIN, parseInt64, UINT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { formatNhi } from '../identity/nhi.js';
import { isUuid } from '../ids/uuid.js';
import { decodeWire, encodeWire, formatIssuePath } from './errors.js';
import { assertBoundedJson } from './json.js';
import {
  bytesCodec,
  DECIMAL_WIRE_PATTERN,
  decimalCodec,
  INT64_PATTERN,
  int64Codec,
  NON_NEGATIVE_DECIMAL_WIRE_PATTERN,
  nhiCodec,
  nonNegativeDecimalCodec,
  UINT64_PATTERN,
  uint64Codec,
  uuidCodec,
} from './leaf.js';
import { MAX_WIRE_DELEGATION_CHAIN } from './usage-event.js';

function accepts(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (error) {
    expect(EnablementError.is(error)).toBe(true);
    return false;
  }
}

const context = { contract: 'Leaf', code: 'PL-400' } as const;

describe('int64 / uint64', () => {
  // Strings near the interesting boundaries, plus noise.
  const arbIntText = fc.oneof(
    fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }).map(String),
    fc
      .constantFrom(INT64_MAX, INT64_MIN, UINT64_MAX, INT64_MAX + 1n, INT64_MIN - 1n, UINT64_MAX + 1n)
      .map(String),
    fc.stringMatching(/^-?0[0-9]{0,3}$/),
    fc.stringMatching(/^[-+ 0-9e.]{0,22}$/),
  );

  it('INT64_PATTERN and UINT64_PATTERN accept exactly what parseInt64 accepts', () => {
    fc.assert(
      fc.property(arbIntText, (text) => {
        expect(INT64_PATTERN.test(text)).toBe(accepts(() => parseInt64(text)));
        expect(UINT64_PATTERN.test(text)).toBe(accepts(() => parseInt64(text, 'v', true)));
      }),
      { numRuns: 500 },
    );
    expect(INT64_PATTERN.test('-0')).toBe(false);
    expect(INT64_PATTERN.test('9223372036854775807')).toBe(true);
    expect(INT64_PATTERN.test('9223372036854775808')).toBe(false);
    expect(INT64_PATTERN.test('-9223372036854775808')).toBe(true);
    expect(INT64_PATTERN.test('-9223372036854775809')).toBe(false);
    expect(UINT64_PATTERN.test('18446744073709551615')).toBe(true);
    expect(UINT64_PATTERN.test('18446744073709551616')).toBe(false);
  });

  it('codecs round-trip bigints and reject out-of-range values both ways', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (value) => {
        const wire = int64Codec.encode(value);
        expect(wire).toBe(value.toString());
        expect(int64Codec.decode(wire)).toBe(value);
      }),
      { numRuns: 200 },
    );
    expect(() => decodeWire(uint64Codec, '-1', context)).toThrow(/Leaf: \(root\)/);
    expect(() => decodeWire(uint64Codec, 12, context)).toThrow(EnablementError);
    expect(() => encodeWire(uint64Codec, -1n, context)).toThrow(/cannot encode Leaf/);
    expect(() => encodeWire(int64Codec, INT64_MAX + 1n, context)).toThrow(EnablementError);
  });
});

describe('decimal', () => {
  const arbDecimalText = fc.oneof(
    fc
      .tuple(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.integer({ min: 0, max: 40 }))
      .map(([c, s]) => {
        const digits = (c < 0n ? -c : c).toString().padStart(s + 1, '0');
        const text = s === 0 ? digits : `${digits.slice(0, -s)}.${digits.slice(-s)}`;
        return c < 0n ? `-${text}` : text;
      }),
    fc.stringMatching(/^-?[0-9]{0,3}(\.[0-9]{0,3})?(e[0-9])?$/),
    fc.constantFrom('-0', '-0.00', '9'.repeat(DECIMAL_MAX_DIGITS), '9'.repeat(DECIMAL_MAX_DIGITS + 1)),
    fc.constantFrom(`0.${'1'.repeat(DECIMAL_MAX_SCALE)}`, `0.${'1'.repeat(DECIMAL_MAX_SCALE + 1)}`),
    fc.constantFrom(`-${'9'.repeat(DECIMAL_MAX_DIGITS)}`, `1${'0'.repeat(DECIMAL_MAX_DIGITS - 3)}.55`),
  );

  it('DECIMAL_WIRE_PATTERN accepts exactly what Decimal.parse accepts', () => {
    fc.assert(
      fc.property(arbDecimalText, (text) => {
        expect(DECIMAL_WIRE_PATTERN.test(text)).toBe(accepts(() => Decimal.parse(text)));
        const nonNegative = accepts(() => Decimal.parse(text)) && !text.startsWith('-');
        expect(NON_NEGATIVE_DECIMAL_WIRE_PATTERN.test(text)).toBe(nonNegative);
      }),
      { numRuns: 500 },
    );
  });

  it('decimalCodec keeps the scale; nonNegativeDecimalCodec rejects negatives both ways', () => {
    const d = decimalCodec.decode('1.50');
    expect(d.toString()).toBe('1.50');
    expect(decimalCodec.encode(d)).toBe('1.50');
    expect(() => decodeWire(nonNegativeDecimalCodec, '-1.00', context)).toThrow(/non-negative/);
    expect(() => encodeWire(nonNegativeDecimalCodec, Decimal.parse('-1'), context)).toThrow(
      /must not be negative/,
    );
    expect(() => decodeWire(decimalCodec, 1.5, context)).toThrow(EnablementError);
    expect(() => encodeWire(decimalCodec, 1.5 as unknown as Decimal, context)).toThrow(/expected a Decimal/);
  });
});

describe('bytes', () => {
  it('the pattern accepts exactly the canonical base64url of the allowed lengths', () => {
    const codec = bytesCodec([1, 2, 3, 32]);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 34 }), (bytes) => {
        const text = bytesToBase64url(bytes);
        const ok = [1, 2, 3, 32].includes(bytes.length);
        expect(codec.safeDecode(text).success).toBe(ok);
        if (ok) expect(codec.decode(text)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
    // Non-canonical tails (unused bits set) are rejected, so each byte string has one spelling.
    expect(codec.safeDecode('AB').success).toBe(false);
    expect(base64urlToBytes('AA')).toEqual(new Uint8Array(1));
    expect(codec.safeDecode('AA').success).toBe(true);
    expect(codec.safeDecode('AA==').success).toBe(false);
    expect(codec.safeDecode('A+8').success).toBe(false);
    expect(codec.safeEncode(new Uint8Array(4)).success).toBe(false);
  });
});

describe('nhi and uuid', () => {
  const key = nobleCryptoProvider.ed25519.generateKeyPair(new Uint8Array(32).fill(7)).publicKey;
  const nhi = formatNhi('agent', key);

  it('nhiCodec validates the key, not only the shape', () => {
    expect(nhiCodec.decode(nhi)).toBe(nhi);
    // Right shape, but not a canonical Ed25519 point encoding (all ones ≥ p).
    const bogus = formatLike(new Uint8Array(32).fill(0xff));
    expect(bogus).toMatch(/^agent:nhi:ed25519:/);
    const result = nhiCodec.safeDecode(bogus);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).not.toContain('$value');
    expect(result.error?.issues[0]?.message).toMatch(/^not a valid Ed25519 public key/);
    expect(nhiCodec.safeEncode('agent:nhi:ed25519:xyz').success).toBe(false);
    expect(nhiCodec.safeDecode(`${nhi} `).success).toBe(false);
  });

  it('the uuid codec accepts exactly what isUuid accepts', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uuid(),
          fc.uuid().map((u) => u.toUpperCase()),
          fc.stringMatching(/^[0-9a-fA-F-]{36}$/),
        ),
        (text) => {
          expect(uuidCodec.safeDecode(text).success).toBe(isUuid(text));
        },
      ),
      { numRuns: 300 },
    );
  });
});

function formatLike(bytes: Uint8Array): string {
  // Bypasses formatNhi's validation to build a well-shaped but invalid NHI.
  const base58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let out = '';
  while (n > 0n) {
    out = (base58[Number(n % 58n)] as string) + out;
    n /= 58n;
  }
  return `agent:nhi:ed25519:${out}`;
}

describe('bounded JSON and error paths', () => {
  const bounds = { maxBytes: 100, maxDepth: 3, maxNodes: 20 };
  it('accepts small JSON, rejects deep, large, non-JSON and hostile values', () => {
    assertBoundedJson({ a: [1, 'x', null, true] }, bounds);
    expect(() => assertBoundedJson([[[[1]]]], bounds)).toThrow(/deeper than 3/);
    expect(() => assertBoundedJson('x'.repeat(200), bounds)).toThrow(/more than 100/);
    expect(() => assertBoundedJson(new Array(50).fill(0), bounds)).toThrow(/more than 20 JSON values/);
    expect(() => assertBoundedJson(Number.NaN, bounds)).toThrow(/finite/);
    expect(() => assertBoundedJson(1n, bounds)).toThrow(/bigint/);
    expect(() => assertBoundedJson(new Date(0), bounds)).toThrow(/plain objects/);
    expect(() => assertBoundedJson({ f: () => 1 }, bounds)).toThrow(/function/);
    // Depth is checked without recursion: a million-deep array costs one step per level at most.
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => assertBoundedJson(deep, bounds)).toThrow(/deeper than 3/);
  });

  it('formats paths with dots and indices', () => {
    expect(formatIssuePath([])).toBe('(root)');
    expect(formatIssuePath(['delegation_chain', 2])).toBe('delegation_chain[2]');
    expect(formatIssuePath(['properties', 'cost_usd'])).toBe('properties.cost_usd');
  });

  it('MAX_WIRE_DELEGATION_CHAIN matches the delegation module (64 links → 65 principals)', async () => {
    const { MAX_CHAIN_LINKS } = await import('../delegation/chain.js');
    expect(MAX_WIRE_DELEGATION_CHAIN).toBe(MAX_CHAIN_LINKS + 1);
  });
});
