import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from '../decimal/decimal.js';
import { isValidPattern, matchesPattern } from '../delegation/pattern.js';
import { EnablementError } from '../errors/enablement-error.js';
import { compileCondition, compilePattern } from './compile.js';
import { type Condition, parsePolicy } from './policy.js';
import { compareNumeric, equalValues, numberToDecimal } from './values.js';

/** Validates `when` like the engine does, compiles it, and tests it against `attributes` (path → value). */
function holds(when: unknown, attributes: Record<string, unknown> = {}): boolean {
  const policy = parsePolicy({ id: 't', effect: 'permit', when });
  const compiled = compileCondition(policy.when as Condition);
  const values = compiled.paths.map((path) => attributes[path]);
  return compiled.test(
    values,
    compiled.paths.map((_, i) => i),
  );
}

const patternArb = fc.oneof(
  fc.constant('*'),
  fc.string({ unit: fc.constantFrom('a', 'b', ':', '.', '*', ' '), maxLength: 6 }),
  fc.string({ unit: fc.constantFrom('a', 'b', ':', '.'), maxLength: 5 }).map((s) => `${s}*`),
);
const valueArb = fc.string({ unit: fc.constantFrom('a', 'b', ':', '.', '*'), maxLength: 7 });

describe('compilePattern', () => {
  it('gives exactly the answers of the delegation pattern language (matchesPattern)', () => {
    fc.assert(
      fc.property(patternArb, valueArb, (pattern, value) => {
        if (!isValidPattern(pattern)) {
          expect(() => compilePattern(pattern)).toThrow(EnablementError);
          return;
        }
        expect(compilePattern(pattern)(value)).toBe(matchesPattern(pattern, value));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses over-long values like matchesPattern does', () => {
    const long = `a${'x'.repeat(1024)}`;
    for (const pattern of ['*', 'a*', long]) {
      expect(compilePattern(pattern.length > 256 ? '*' : pattern)(long)).toBe(matchesPattern('*', long));
    }
    expect(compilePattern('a*')(long)).toBe(false);
  });
});

describe('comparisons', () => {
  const amount = (op: string, value: unknown, attr: unknown) =>
    holds({ attr: 'context.amount', op, value }, { 'context.amount': attr });

  it('compare numbers, bigints, Decimals and decimal strings exactly', () => {
    expect(amount('gt', 10000, 50000)).toBe(true);
    expect(amount('gt', 10000, 10000)).toBe(false);
    expect(amount('ge', 10000, 10000)).toBe(true);
    expect(amount('lt', 10000, '9999.99')).toBe(true);
    expect(amount('le', '10000.00', 10000)).toBe(true);
    expect(amount('eq', 10000, '10000.000')).toBe(true);
    expect(amount('eq', 10000, 10000n)).toBe(true);
    expect(amount('eq', '0.1', 0.1)).toBe(true); // the number means its JSON text, 0.1
    expect(amount('eq', '5', 5)).toBe(true); // a decimal-string literal is numeric against a number
    expect(amount('eq', '5', '5.0')).toBe(false); // ... but text against text
    expect(amount('gt', '0.3', 0.1 + 0.2)).toBe(true); // 0.30000000000000004 > 0.3
    // Beyond 2^53 only the exact forms keep their value.
    expect(amount('gt', 9007199254740992, '9007199254740993')).toBe(true);
    expect(amount('gt', 9007199254740992, 9007199254740993n)).toBe(true);
    expect(amount('lt', '18446744073709551616', 2n ** 64n - 1n)).toBe(true);
    expect(amount('eq', '12.50', Decimal.parse('12.5'))).toBe(true);
    expect(amount('gt', 1e21, 1e22)).toBe(true);
    expect(amount('gt', '0', 1e-7)).toBe(true);
  });

  it('are false, never throwing, for missing or wrongly typed attributes', () => {
    for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge']) {
      for (const attr of [
        undefined,
        'ten',
        '1e5',
        '',
        ' 5',
        true,
        null,
        [5],
        { v: 5 },
        Number.NaN,
        Symbol('x'),
        () => 5,
      ]) {
        expect(amount(op, 5, attr), `${op} ${String(attr)}`).toBe(false);
      }
    }
    // Text compares with text; a number literal never equals a boolean; booleans and null only
    // compare with their own kind.
    expect(holds({ attr: 'context.a', op: 'eq', value: 'abc' }, { 'context.a': 5 })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: 'abc' }, { 'context.a': 5 })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'eq', value: 1 }, { 'context.a': true })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: 1 }, { 'context.a': true })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'eq', value: true }, { 'context.a': 'true' })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: null }, { 'context.a': 0 })).toBe(false);
  });

  it('ne is true only for a present value of the same kind that differs', () => {
    expect(holds({ attr: 'context.a', op: 'ne', value: 'x' }, { 'context.a': 'y' })).toBe(true);
    expect(holds({ attr: 'context.a', op: 'ne', value: 'x' }, { 'context.a': 'x' })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: 'x' }, {})).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: 3 }, { 'context.a': '3.5' })).toBe(true);
    expect(holds({ attr: 'context.a', op: 'ne', value: true }, { 'context.a': false })).toBe(true);
    expect(holds({ attr: 'context.a', op: 'ne', value: null }, { 'context.a': false })).toBe(false);
    expect(holds({ attr: 'context.a', op: 'ne', value: null }, { 'context.a': null })).toBe(false);
  });

  it('compare two attributes with ref', () => {
    const ref = (op: string, a: unknown, b: unknown) =>
      holds({ attr: 'resource.owner', op, ref: 'principal.id' }, { 'resource.owner': a, 'principal.id': b });
    expect(ref('eq', 'agent:x', 'agent:x')).toBe(true);
    expect(ref('eq', 'agent:x', 'agent:y')).toBe(false);
    expect(ref('ne', 'agent:x', 'agent:y')).toBe(true);
    expect(ref('ne', 'agent:x', undefined)).toBe(false);
    expect(ref('eq', 5, '5.0')).toBe(true);
    expect(ref('eq', '5', '5.0')).toBe(false); // two strings compare as text
    expect(ref('lt', '5', '5.01')).toBe(true); // ordered: numeric
    expect(ref('ge', 10n, 9.5)).toBe(true);
    expect(ref('lt', 'a', 'b')).toBe(false); // not numeric
    expect(ref('eq', [1], [1])).toBe(false); // arrays are not compared
    expect(ref('eq', null, null)).toBe(true);
    expect(ref('eq', true, true)).toBe(true);
    expect(ref('ne', true, 'true')).toBe(false);
  });
});

describe('membership, patterns, existence', () => {
  it('in: the attribute equals one of the literals (same equality as eq)', () => {
    const inList = (attr: unknown) =>
      holds(
        { attr: 'context.region', op: 'in', value: ['eu', 'us', 7, true, null] },
        { 'context.region': attr },
      );
    expect(inList('eu')).toBe(true);
    expect(inList('apac')).toBe(false);
    expect(inList(7)).toBe(true);
    expect(inList('7.00')).toBe(true);
    expect(holds({ attr: 'context.n', op: 'in', value: ['7.5', 'x'] }, { 'context.n': 7.5 })).toBe(true);
    expect(holds({ attr: 'context.n', op: 'in', value: ['7.5', 'x'] }, { 'context.n': '7.50' })).toBe(false);
    expect(inList(7n)).toBe(true);
    expect(inList(true)).toBe(true);
    expect(inList(null)).toBe(true);
    expect(inList(false)).toBe(false);
    expect(inList(undefined)).toBe(false);
    expect(inList(['eu'])).toBe(false);
  });

  it('in with ref: membership in an array attribute', () => {
    const attrs = { 'context.tool': 'search', 'principal.tools': ['search', 'fetch'] };
    expect(holds({ attr: 'context.tool', op: 'in', ref: 'principal.tools' }, attrs)).toBe(true);
    expect(
      holds({ attr: 'context.tool', op: 'in', ref: 'principal.tools' }, { ...attrs, 'context.tool': 'exec' }),
    ).toBe(false);
    expect(
      holds(
        { attr: 'context.tool', op: 'in', ref: 'principal.tools' },
        { ...attrs, 'principal.tools': 'search' },
      ),
    ).toBe(false);
  });

  it('contains: the array attribute has an element equal to the literal or ref', () => {
    const roles = (value: unknown) =>
      holds({ attr: 'principal.roles', op: 'contains', value: 'admin' }, { 'principal.roles': value });
    expect(roles(['dev', 'admin'])).toBe(true);
    expect(roles(['dev'])).toBe(false);
    expect(roles('admin')).toBe(false); // not an array
    expect(roles(undefined)).toBe(false);
    expect(
      holds({ attr: 'principal.limits', op: 'contains', value: 5 }, { 'principal.limits': ['5.0', 6] }),
    ).toBe(true);
    expect(
      holds(
        { attr: 'principal.groups', op: 'contains', ref: 'resource.group' },
        { 'principal.groups': ['g1', 'g2'], 'resource.group': 'g2' },
      ),
    ).toBe(true);
  });

  it('like: the delegation pattern language on string attributes', () => {
    const like = (value: unknown) =>
      holds({ attr: 'context.host', op: 'like', value: 'api.*' }, { 'context.host': value });
    expect(like('api.example.com')).toBe(true);
    expect(like('www.example.com')).toBe(false);
    expect(like(42)).toBe(false);
    expect(holds({ attr: 'context.host', op: 'like', value: 'exact' }, { 'context.host': 'exact' })).toBe(
      true,
    );
  });

  it('exists: present, null included', () => {
    expect(holds({ attr: 'context.ticket', op: 'exists' }, { 'context.ticket': 'T-1' })).toBe(true);
    expect(holds({ attr: 'context.ticket', op: 'exists' }, { 'context.ticket': null })).toBe(true);
    expect(holds({ attr: 'context.ticket', op: 'exists' }, {})).toBe(false);
  });
});

describe('boolean combinations', () => {
  const t = { attr: 'context.t', op: 'exists' };
  const f = { attr: 'context.f', op: 'exists' };
  const attrs = { 'context.t': 1 };

  it('and / or / not', () => {
    expect(holds({ and: [t, t] }, attrs)).toBe(true);
    expect(holds({ and: [t, f] }, attrs)).toBe(false);
    expect(holds({ or: [f, t] }, attrs)).toBe(true);
    expect(holds({ or: [f, f] }, attrs)).toBe(false);
    expect(holds({ not: f }, attrs)).toBe(true);
    expect(holds({ not: { and: [t, { not: f }] } }, attrs)).toBe(false);
  });

  it('a false leaf under not is true: missing attributes must be guarded with exists', () => {
    // Documented consequence of "missing is false": not(amount <= 100) holds when amount is missing.
    expect(holds({ not: { attr: 'context.amount', op: 'le', value: 100 } }, {})).toBe(true);
    expect(
      holds(
        {
          and: [
            { attr: 'context.amount', op: 'exists' },
            { not: { attr: 'context.amount', op: 'le', value: 100 } },
          ],
        },
        {},
      ),
    ).toBe(false);
  });

  it('lists each path once, in first-use order', () => {
    const policy = parsePolicy({
      id: 't',
      effect: 'permit',
      when: {
        and: [
          { attr: 'context.a', op: 'exists' },
          { attr: 'principal.b', op: 'eq', ref: 'context.a' },
          { attr: 'context.a', op: 'gt', value: 1 },
        ],
      },
    });
    expect(compileCondition(policy.when as Condition).paths).toEqual(['context.a', 'principal.b']);
  });
});

describe('values', () => {
  it('numberToDecimal is the shortest round-trip text of every finite double it can represent', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const d = numberToDecimal(n);
        if (d === undefined) return; // beyond Decimal's 36-digit scale or 72-digit precision
        expect(Number(d.toString())).toBe(n === 0 ? 0 : n);
      }),
      { numRuns: 200 },
    );
    expect(numberToDecimal(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(numberToDecimal(1e-300)).toBeUndefined();
  });

  it('compareNumeric agrees with IEEE order on doubles, whichever form they come in', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
        fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
        (a, b) => {
          const expected = a < b ? -1 : a > b ? 1 : 0;
          expect(compareNumeric(a, b)).toBe(expected);
          // Numbers outside Decimal's range (|x| < 1e-36) compare only with numbers.
          const da = numberToDecimal(a);
          if (da !== undefined && numberToDecimal(b) !== undefined) {
            expect(compareNumeric(da.toString(), b)).toBe(expected);
            expect(compareNumeric(da, b)).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('equalValues only compares like with like', () => {
    expect(equalValues('a', 'a')).toBe(true);
    expect(equalValues(1, '1.0')).toBe(true);
    expect(equalValues('1', '1.0')).toBe(false);
    expect(equalValues(true, 1)).toBeUndefined();
    expect(equalValues(null, false)).toBeUndefined();
    expect(equalValues({}, {})).toBeUndefined();
    expect(equalValues(undefined, undefined)).toBeUndefined();
  });
});
