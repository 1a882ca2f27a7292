import { expectEnablementError } from '@creto/testing';
import { base64urlnopad } from '@scure/base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  assertInt64,
  base58ToBytes,
  base64urlToBytes,
  bytesToBase58,
  bytesToBase64url,
  bytesToHex,
  bytesToUtf8,
  concatBytes,
  constantTimeEqual,
  hexToBytes,
  INT64_MAX,
  INT64_MIN,
  isBytes,
  parseInt64,
  UINT64_MAX,
  utf8ToBytes,
  zeroize,
} from './index.js';

const bytes = fc.uint8Array({ maxLength: 200 });
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('base64url (RFC 4648 §5, unpadded)', () => {
  it('property: round trips and matches Node’s encoder', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const text = bytesToBase64url(b);
        expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(text).toBe(Buffer.from(b).toString('base64url'));
        expect(base64urlToBytes(text)).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes the RFC 4648 §10 vectors (without padding)', () => {
    const vectors: [string, string][] = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(bytesToBase64url(utf8ToBytes(plain))).toBe(encoded);
      expect(bytesToUtf8(base64urlToBytes(encoded))).toBe(plain);
    }
    expect(bytesToBase64url(Uint8Array.of(0xfb, 0xff))).toBe('-_8');
  });

  it('rejects padding, the standard alphabet, whitespace and impossible lengths', () => {
    for (const bad of [
      'Zg==',
      'Zm8=',
      '=',
      'Zm9v====',
      '+/8',
      'Zm9v+A',
      'Zm9v/w',
      'Zm 9v',
      'Zm9v\n',
      'Z',
      'Zm9vY',
      'Zg.',
    ]) {
      expectEnablementError(() => base64urlToBytes(bad), 'PL-400', 'invalid base64url string');
    }
  });

  it('rejects non-canonical tails (non-zero unused bits)', () => {
    expectEnablementError(() => base64urlToBytes('Zh'), 'PL-400'); // 'Zg' with a low bit set
    expectEnablementError(() => base64urlToBytes('Zm9'), 'PL-400');
    expect(base64urlToBytes('Zm8')).toEqual(utf8ToBytes('fo'));
  });

  it('property: every string over the alphabet is rejected or is the one canonical encoding of its bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...B64URL), maxLength: 40 }), (text) => {
        let decoded: Uint8Array;
        try {
          decoded = base64urlToBytes(text);
        } catch (error) {
          expect(EnablementError.is(error) && error.code).toBe('PL-400');
          return;
        }
        expect(bytesToBase64url(decoded)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('property: accepts exactly what @scure/base accepts, with the same bytes (native decoder path)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...B64URL, '=', '+', '/', ' '), maxLength: 24 }),
        (text) => {
          let expected: Uint8Array | undefined;
          try {
            expected = base64urlnopad.decode(text);
          } catch {
            expected = undefined;
          }
          if (expected === undefined) expectEnablementError(() => base64urlToBytes(text), 'PL-400');
          else expect(base64urlToBytes(text)).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('hands out arrays of their own, never a view into a shared pool', () => {
    const bytes = base64urlToBytes('Zm9vYmFy');
    expect(bytes.byteOffset).toBe(0);
    expect(bytes.buffer.byteLength).toBe(bytes.length);
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  });
});

describe('hex', () => {
  it('property: round trips as lowercase and matches Node’s encoder', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const text = bytesToHex(b);
        expect(text).toBe(Buffer.from(b).toString('hex'));
        expect(hexToBytes(text)).toEqual(b);
        expect(hexToBytes(text.toUpperCase())).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects odd length, non-hex characters, prefixes and non-strings', () => {
    for (const bad of ['0', 'abc', 'zz', '0x00', ' 00', '00 ', 'g0', '-1']) {
      expectEnablementError(() => hexToBytes(bad), 'PL-400', 'invalid hex string');
    }
    expectEnablementError(() => hexToBytes(42 as unknown as string), 'PL-400', 'invalid hex string');
    expect(hexToBytes('')).toEqual(new Uint8Array(0));
  });
});

describe('base58 (bitcoin alphabet)', () => {
  it('property: round trips, preserving leading zero bytes', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const text = bytesToBase58(b);
        expect(text).toMatch(/^[1-9A-HJ-NP-Za-km-z]*$/);
        expect(base58ToBytes(text)).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes known vectors', () => {
    expect(bytesToBase58(utf8ToBytes('Hello World!'))).toBe('2NEpo7TZRRrLZSi2U');
    expect(bytesToBase58(Uint8Array.of(0, 0, 1))).toBe('112');
    expect(base58ToBytes('11')).toEqual(Uint8Array.of(0, 0));
  });

  it('rejects characters outside the alphabet', () => {
    for (const bad of ['0', 'O', 'I', 'l', '2NEpo7TZRRrLZSi2U+', ' 2N', '2N\n']) {
      expectEnablementError(() => base58ToBytes(bad), 'PL-400', 'invalid base58 string');
    }
  });
});

describe('utf8', () => {
  it('property: well-formed strings round trip', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        const encoded = utf8ToBytes(text);
        expect(encoded).toEqual(new Uint8Array(Buffer.from(text, 'utf8')));
        expect(bytesToUtf8(encoded)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a leading byte order mark', () => {
    const text = '\uFEFFsigned text';
    expect(bytesToUtf8(utf8ToBytes(text))).toBe(text);
    expect(bytesToUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41))).toBe('\uFEFFA');
  });

  it('rejects invalid UTF-8', () => {
    const invalid = [
      [0xff],
      [0x80], // continuation byte first
      [0xc0, 0x80], // overlong NUL
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // encoded surrogate U+D800
      [0xe2, 0x82], // truncated
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0x41, 0xc3], // truncated at the end
    ];
    for (const b of invalid) {
      expectEnablementError(() => bytesToUtf8(Uint8Array.from(b)), 'PL-400', 'not valid UTF-8');
    }
  });

  it('property: any bytes are rejected or decode to a string that re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        let text: string;
        try {
          text = bytesToUtf8(b);
        } catch (error) {
          expect(EnablementError.is(error) && error.code).toBe('PL-400');
          return;
        }
        expect(utf8ToBytes(text)).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });
});

describe('byte helpers', () => {
  it('concatBytes joins in order into a new array', () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes(a, new Uint8Array(0), Uint8Array.of(3));
    expect(out).toEqual(Uint8Array.of(1, 2, 3));
    out[0] = 9;
    expect(a[0]).toBe(1);
    expect(concatBytes()).toEqual(new Uint8Array(0));
  });

  it('zeroize wipes every buffer given and skips undefined', () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = Uint8Array.of(4);
    zeroize(a, undefined, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0]);
  });

  it('isBytes accepts Uint8Array and Buffer only', () => {
    expect(isBytes(new Uint8Array(1))).toBe(true);
    expect(isBytes(Buffer.from('x'))).toBe(true);
    for (const v of [[1], new Uint16Array(1), new ArrayBuffer(1), 'x', null]) expect(isBytes(v)).toBe(false);
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal contents and false for any difference in content or length', () => {
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    const a = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(constantTimeEqual(a, Uint8Array.from(a))).toBe(true);
    for (let i = 0; i < a.length; i++) {
      const b = Uint8Array.from(a);
      b[i] = (b[i] as number) ^ 0x80;
      expect(constantTimeEqual(a, b)).toBe(false);
    }
    expect(constantTimeEqual(a, a.subarray(0, 31))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(0), new Uint8Array(0))).toBe(false);
  });

  it('property: agrees with a naive comparison', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        const naive = a.length === b.length && a.every((x, i) => x === b[i]);
        expect(constantTimeEqual(a, b)).toBe(naive);
        expect(constantTimeEqual(a, Uint8Array.from(a))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseInt64', () => {
  it('property: accepts the canonical decimal form of every int64', () => {
    fc.assert(
      fc.property(fc.bigInt(INT64_MIN, INT64_MAX), (value) => {
        expect(parseInt64(value.toString())).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('property: unsigned mode accepts every uint64', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, UINT64_MAX), (value) => {
        expect(parseInt64(value.toString(), 'n', true)).toBe(value);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts the bounds and rejects one beyond them', () => {
    expect(parseInt64('9223372036854775807')).toBe(INT64_MAX);
    expect(parseInt64('-9223372036854775808')).toBe(INT64_MIN);
    expect(parseInt64('18446744073709551615', 'n', true)).toBe(UINT64_MAX);
    expect(parseInt64('0')).toBe(0n);
    expectEnablementError(
      () => parseInt64('9223372036854775808', 'amount'),
      'PL-400',
      'amount: out of int64 range',
    );
    expectEnablementError(() => parseInt64('-9223372036854775809'), 'PL-400', 'out of int64 range');
    expectEnablementError(
      () => parseInt64('18446744073709551616', 'n', true),
      'PL-400',
      'out of uint64 range',
    );
    expectEnablementError(() => parseInt64('-1', 'n', true), 'PL-400', 'out of uint64 range');
    expectEnablementError(() => parseInt64('1'.repeat(100)), 'PL-400', 'decimal integer string');
  });

  it('rejects non-canonical spellings', () => {
    for (const bad of [
      '-0',
      '00',
      '01',
      '-01',
      '+1',
      ' 1',
      '1 ',
      '1\n',
      '',
      '-',
      '1e3',
      '0x10',
      '1.0',
      '1_000',
      '١',
      '٣',
    ]) {
      expectEnablementError(
        () => parseInt64(bad, 'quantity'),
        'PL-400',
        'quantity: expected a decimal integer string',
      );
    }
    expectEnablementError(() => parseInt64(5 as unknown as string), 'PL-400');
    expectEnablementError(() => parseInt64(5n as unknown as string), 'PL-400');
  });

  it('property: accepts a string exactly when it is the canonical decimal of an in-range integer', () => {
    const candidates = fc.oneof(
      fc.stringMatching(/^[-+ 0-9]{0,21}$/),
      fc.bigInt(INT64_MIN * 2n, INT64_MAX * 2n).map(String),
      fc.string({ maxLength: 22 }),
    );
    fc.assert(
      fc.property(candidates, (text) => {
        const canonical = /^-?[0-9]+$/.test(text) && BigInt(text).toString() === text;
        const inRange = canonical && BigInt(text) >= INT64_MIN && BigInt(text) <= INT64_MAX;
        if (inRange) expect(parseInt64(text)).toBe(BigInt(text));
        else expectEnablementError(() => parseInt64(text), 'PL-400');
      }),
      { numRuns: 300 },
    );
  });

  it('assertInt64 checks type and range', () => {
    expect(() => assertInt64(INT64_MAX)).not.toThrow();
    expectEnablementError(() => assertInt64(INT64_MAX + 1n, 'ts'), 'PL-400', 'ts: out of int64 range');
    expectEnablementError(() => assertInt64(1 as unknown as bigint), 'PL-400');
    expectEnablementError(() => assertInt64(-1n, 'n', true), 'PL-400', 'uint64');
  });
});
