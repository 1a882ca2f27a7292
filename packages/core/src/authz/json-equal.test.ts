import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical/canonicalize.js';
import { type Json, sameCanonicalJson } from './json-equal.js';

const witnessOf = (value: unknown): Json => JSON.parse(canonicalize(value)) as Json;

/** canonicalize, or undefined when it rejects the value. */
function canonicalOrUndefined(value: unknown): string | undefined {
  try {
    return canonicalize(value);
  } catch {
    return undefined;
  }
}

describe('sameCanonicalJson', () => {
  it('agrees with comparing RFC 8785 encodings, on random JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 3 }), (a, b) => {
        const witness = witnessOf(b);
        expect(sameCanonicalJson(a, witness)).toBe(canonicalize(a) === canonicalize(b));
        expect(sameCanonicalJson(b, witness)).toBe(true);
        expect(sameCanonicalJson(witnessOf(a), witnessOf(a))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with canonicalize on near misses built from one value', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
        (object) => {
          const witness = witnessOf(object);
          const extra = { ...object, zz_extra: 1 };
          expect(sameCanonicalJson(extra, witness)).toBe(
            canonicalOrUndefined(extra) === canonicalize(object),
          );
          const reordered = Object.fromEntries(Object.entries(object).reverse());
          expect(sameCanonicalJson(reordered, witness)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('follows canonicalize on undefined members, undefined array items and -0', () => {
    expect(sameCanonicalJson({ amount: 5, note: undefined }, witnessOf({ amount: 5 }))).toBe(true);
    expect(sameCanonicalJson([1, undefined], witnessOf([1, null]))).toBe(true);
    expect(sameCanonicalJson(-0, witnessOf(0))).toBe(true);
    expect(sameCanonicalJson({ a: 1 }, witnessOf({ a: 1, b: 2 }))).toBe(false);
    expect(sameCanonicalJson({ a: 1, b: 2 }, witnessOf({ a: 1 }))).toBe(false);
    expect(sameCanonicalJson([1], witnessOf({ 0: 1 }))).toBe(false);
    expect(sameCanonicalJson({ 0: 1 }, witnessOf([1]))).toBe(false);
  });

  it('is false (never a throw) for what canonicalize rejects', () => {
    const witness = witnessOf({ at: '2026-01-01', n: 1 });
    expect(sameCanonicalJson({ at: new Date(0), n: 1 }, witness)).toBe(false);
    expect(sameCanonicalJson({ at: '2026-01-01', n: 1n }, witness)).toBe(false);
    expect(sameCanonicalJson({ at: '2026-01-01', n: Number.NaN }, witness)).toBe(false);
    expect(sameCanonicalJson(new Map(), witnessOf({}))).toBe(false);
    const cyclic: Record<string, unknown> = { n: 1 };
    cyclic.at = cyclic;
    expect(sameCanonicalJson(cyclic, witness)).toBe(false);
    expect(sameCanonicalJson(Object.create(null), witnessOf({}))).toBe(true);
  });
});

describe('sameCanonicalJson and a polluted Object.prototype', () => {
  it('ignores inherited enumerable members, as canonicalize does', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = 1;
    try {
      expect(sameCanonicalJson({ a: 1 }, witnessOf({ a: 1 }))).toBe(true);
      // Not own, so not part of the canonical form: must not satisfy a witness that has it.
      expect(sameCanonicalJson({ a: 1 }, JSON.parse('{"a":1,"polluted":1}') as Json)).toBe(false);
    } finally {
      delete proto.polluted;
    }
  });
});
