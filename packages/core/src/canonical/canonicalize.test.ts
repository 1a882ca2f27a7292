import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalize } from './index.js';

/** The IEEE 754 double with the given big-endian bit pattern. */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

/** Nested arrays `depth` levels deep: `[[[…]]]`. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** JSON has no -0: the value JSON.parse gives back after serialization. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      Object.defineProperty(out, k, {
        value: withoutNegativeZero(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

describe('canonicalize: RFC 8785 examples', () => {
  // RFC 8785 §3.2.2 input, as JSON text, and its canonical form (§3.2.3).
  const SAMPLE = String.raw`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`;
  const SAMPLE_CANONICAL = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;

  it('canonicalizes the §3.2.2 sample exactly', () => {
    expect(canonicalize(JSON.parse(SAMPLE))).toBe(SAMPLE_CANONICAL);
  });

  it('gives the §3.2.4 UTF-8 bytes of the sample', () => {
    const expected =
      '7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72 75 65 2c 66 61 6c 73 65 5d 2c ' +
      '22 6e 75 6d 62 65 72 73 22 3a 5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31 ' +
      '65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37 5d 2c 22 73 74 72 69 6e 67 22 ' +
      '3a 22 e2 82 ac 24 5c 75 30 30 30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d';
    const hex = Buffer.from(canonicalBytes(JSON.parse(SAMPLE)))
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ');
    expect(hex).toBe(expected);
  });

  it('sorts the §3.2.3 keys by UTF-16 code units (the emoji key sorts by its high surrogate)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalize(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  it('orders non-BMP keys by code unit, not by code point', () => {
    // U+10000 is D800 DC00 in UTF-16, so it sorts before U+E000 and U+FFFF though its code point is larger.
    const input = { '\uffff': 3, '\ue000': 2, '\u{10000}': 1, '\u{1F600}': 0 };
    expect(canonicalize(input)).toBe('{"\u{10000}":1,"\u{1F600}":0,"\ue000":2,"\uffff":3}');
  });

  it('does not sort by locale (peach, péché, pêche, sin)', () => {
    const input = { sin: 4, pêche: 3, péché: 2, peach: 1 };
    expect(canonicalize(input)).toBe('{"peach":1,"péché":2,"pêche":3,"sin":4}');
  });

  // RFC 8785 Appendix B: IEEE 754 bit pattern → JSON number.
  const APPENDIX_B: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];

  it.each(APPENDIX_B)('serializes the Appendix B number %s as %s', (hex, expected) => {
    expect(canonicalize(double(hex))).toBe(expected);
    expect(canonicalize([double(hex)])).toBe(`[${expected}]`);
  });

  it('rejects the Appendix B NaN and Infinity patterns', () => {
    for (const hex of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
      expectEnablementError(() => canonicalize({ n: double(hex) }), 'PL-400', 'numbers must be finite');
    }
  });
});

describe('canonicalize: strings and structure', () => {
  it('escapes exactly as ECMAScript JSON.stringify (RFC 8785 §3.2.2.2)', () => {
    expect(canonicalize('\u0000\u0008\t\n\u000b\f\r\u001f "\\/\u007f\u2028')).toBe(
      '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/\u007f\u2028"',
    );
  });

  it('omits undefined members and writes undefined array items as null, like JSON', () => {
    expect(canonicalize({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalize([undefined, 1])).toBe('[null,1]');
    expect(canonicalize({})).toBe('{}');
    expect(canonicalize([])).toBe('[]');
    expect(canonicalize(Object.create(null))).toBe('{}');
  });

  it('accepts nesting up to the limit and rejects deeper values', () => {
    expect(canonicalize(nested(128))).toBe(`${'['.repeat(128)}0${']'.repeat(128)}`);
    expectEnablementError(() => canonicalize(nested(129)), 'PL-400', 'nesting too deep');
    expectEnablementError(() => canonicalize(nested(100_000)), 'PL-400', 'nesting too deep');
  });

  it('allows the same object twice (a DAG) but rejects cycles', () => {
    const shared = { x: 1 };
    expect(canonicalize({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expectEnablementError(() => canonicalize(cyclic), 'PL-400', 'cyclic');
    const list: unknown[] = [];
    list.push([list]);
    expectEnablementError(() => canonicalize(list), 'PL-400', 'cyclic');
  });

  it('rejects values JSON cannot carry exactly', () => {
    const rejected: [unknown, string][] = [
      [Number.NaN, 'finite'],
      [Number.POSITIVE_INFINITY, 'finite'],
      [{ n: Number.NEGATIVE_INFINITY }, 'finite'],
      [1n, 'bigint'],
      [{ amount: 10n }, 'bigint'],
      [() => 1, 'function'],
      [{ f() {} }, 'function'],
      [Symbol('s'), 'symbol'],
      [[Symbol.iterator], 'symbol'],
      [undefined, 'undefined'],
      [new Date(0), 'plain objects'],
      [new Map(), 'plain objects'],
      [new Uint8Array(2), 'plain objects'],
      [new (class Point {})(), 'plain objects'],
      [Object.assign(Object.create({ inherited: 1 }), { own: 2 }), 'plain objects'],
      [new Number(1), 'plain objects'],
      [{ toJSON: () => 'x' }, 'function'],
      ['\ud800', 'lone surrogate'],
      ['a\udc00b', 'lone surrogate'],
      ['\ude00\ud83d', 'lone surrogate'],
      [{ '\ud800': 1 }, 'lone surrogate'],
    ];
    for (const [value, reason] of rejected) {
      expectEnablementError(() => canonicalize(value), 'PL-400', reason);
    }
  });

  it('accepts surrogate pairs', () => {
    expect(canonicalize('\ud83d\ude00')).toBe('"😀"');
  });
});

describe('canonicalize: properties', () => {
  const json = fc.jsonValue({ maxDepth: 6 });
  const unicodeJson = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' });

  it('property: JSON.parse(canonicalize(x)) deep-equals x for JSON values', () => {
    fc.assert(
      fc.property(fc.oneof(json, unicodeJson), (value) => {
        expect(JSON.parse(canonicalize(value))).toStrictEqual(withoutNegativeZero(value));
      }),
      { numRuns: 200 },
    );
  });

  it('property: canonicalization is idempotent and independent of key insertion order', () => {
    fc.assert(
      fc.property(fc.oneof(json, unicodeJson), (value) => {
        const once = canonicalize(value);
        expect(canonicalize(JSON.parse(once))).toBe(once);
        // Re-inserting every object's keys in reverse order changes nothing.
        const reversed = JSON.parse(once, (_key, v: unknown) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        );
        expect(canonicalize(reversed)).toBe(once);
        expect(Buffer.from(canonicalBytes(value)).toString('utf8')).toBe(once);
      }),
      { numRuns: 200 },
    );
  });
});
