import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCIES,
  currency,
  fromMinorUnits,
  isCurrencyCode,
  roundToMinorUnit,
  toMinorUnits,
} from './currency.js';
import {
  DECIMAL_MAX_DIGITS,
  DECIMAL_MAX_SCALE,
  Decimal,
  ROUNDING_MODES,
  type RoundingMode,
} from './decimal.js';

// ---------------------------------------------------------------------------------------------
// Independent reference: exact rationals p/q (q > 0) and rounding defined through floor only.
// ---------------------------------------------------------------------------------------------

interface Rational {
  p: bigint;
  q: bigint;
}

const ten = (n: number) => 10n ** BigInt(n);

function rat(d: Decimal): Rational {
  return { p: d.coefficient, q: ten(d.scale) };
}

function ratFromText(text: string): Rational {
  // Reads digits one by one, independently of Decimal.parse.
  let negative = false;
  let i = 0;
  if (text[0] === '-') {
    negative = true;
    i = 1;
  }
  let p = 0n;
  let q = 1n;
  let afterPoint = false;
  for (; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '.') {
      afterPoint = true;
      continue;
    }
    p = p * 10n + BigInt(ch.charCodeAt(0) - 48);
    if (afterPoint) q *= 10n;
  }
  return { p: negative ? -p : p, q };
}

function ratEq(a: Rational, b: Rational): boolean {
  return a.p * b.q === b.p * a.q;
}

function ratCmp(a: Rational, b: Rational): number {
  const l = a.p * b.q;
  const r = b.p * a.q;
  return l < r ? -1 : l > r ? 1 : 0;
}

function floorDiv(p: bigint, q: bigint): bigint {
  const t = p / q;
  return p % q !== 0n && p < 0n ? t - 1n : t;
}

/** Rounds the rational p/q (q > 0) to an integer. */
function refRound(p: bigint, q: bigint, mode: RoundingMode): bigint {
  const fl = floorDiv(p, q);
  const rem = p - fl * q; // 0 <= rem < q
  if (rem === 0n) return fl;
  const ce = fl + 1n;
  const positive = p > 0n;
  switch (mode) {
    case 'floor':
      return fl;
    case 'ceiling':
      return ce;
    case 'down':
      return positive ? fl : ce;
    case 'up':
      return positive ? ce : fl;
    case 'half_up':
      if (2n * rem < q) return fl;
      if (2n * rem > q) return ce;
      return positive ? ce : fl;
    case 'half_even':
      if (2n * rem < q) return fl;
      if (2n * rem > q) return ce;
      return fl % 2n === 0n ? fl : ce;
  }
}

const arbCoefficient = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
const arbScale = fc.integer({ min: 0, max: 18 });
const arbDecimal = fc.tuple(arbCoefficient, arbScale).map(([c, s]) => Decimal.fromParts(c, s));
const arbMode = fc.constantFrom(...ROUNDING_MODES);

/** Canonical decimal text built from its parts. */
const arbText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,25}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,20}$/), { nil: undefined }),
  )
  .map(([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`)
  .filter((text) => !/^-0(\.0+)?$/.test(text));

// ---------------------------------------------------------------------------------------------

describe('Decimal.parse / toString', () => {
  it('keeps the scale, trailing zeros included, and round-trips exactly', () => {
    const d = Decimal.parse('1.50');
    expect(d.coefficient).toBe(150n);
    expect(d.scale).toBe(2);
    expect(d.toString()).toBe('1.50');
    expect(Decimal.parse('-0.007').toString()).toBe('-0.007');
    expect(Decimal.parse('0').toString()).toBe('0');
    expect(Decimal.parse('0.000').toString()).toBe('0.000');
    expect(Decimal.parse('123456789012345678901234567890').coefficient).toBe(123456789012345678901234567890n);
  });

  it('parse(text).toString() === text for every canonical text, and matches the rational value', () => {
    fc.assert(
      fc.property(arbText, (text) => {
        const d = Decimal.parse(text);
        expect(d.toString()).toBe(text);
        expect(ratEq(rat(d), ratFromText(text))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('toString → parse is the identity on (coefficient, scale)', () => {
    fc.assert(
      fc.property(arbDecimal, (d) => {
        const back = Decimal.parse(d.toString());
        expect(back.coefficient).toBe(d.coefficient);
        expect(back.scale).toBe(d.scale);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['1e5'],
    ['1E5'],
    ['1.5e-3'],
    ['NaN'],
    ['Infinity'],
    ['-Infinity'],
    [''],
    [' 1'],
    ['1 '],
    ['+1'],
    ['01'],
    ['-01.5'],
    ['.5'],
    ['5.'],
    ['1.2.3'],
    ['0x10'],
    ['1_000'],
    ['1,5'],
    ['١٢'],
    ['１'],
    ['-'],
    ['--1'],
  ])('rejects %j with PL-400', (text) => {
    expectEnablementError(() => Decimal.parse(text, 'price'), 'PL-400', /^price: /);
  });

  it('rejects negative zero, which has no canonical form', () => {
    expectEnablementError(() => Decimal.parse('-0'), 'PL-400', /negative zero/);
    expectEnablementError(() => Decimal.parse('-0.00'), 'PL-400', /negative zero/);
  });

  it('bounds length and scale, and never echoes a huge input in the message', () => {
    const huge = '9'.repeat(1_000_000);
    const error = expectEnablementError(() => Decimal.parse(huge), 'PL-400', /1 to \d+ characters/);
    expect(error.message.length).toBeLessThan(200);
    expectEnablementError(() => Decimal.parse('9'.repeat(DECIMAL_MAX_DIGITS + 1)), 'PL-400');
    expect(Decimal.parse('9'.repeat(DECIMAL_MAX_DIGITS)).toString()).toBe('9'.repeat(DECIMAL_MAX_DIGITS));
    expectEnablementError(
      () => Decimal.parse(`0.${'1'.repeat(DECIMAL_MAX_SCALE + 1)}`),
      'PL-400',
      /fraction digits/,
    );
    expect(Decimal.parse(`0.${'1'.repeat(DECIMAL_MAX_SCALE)}`).scale).toBe(DECIMAL_MAX_SCALE);
    const long = `1${'x'.repeat(60)}`;
    expect(expectEnablementError(() => Decimal.parse(long), 'PL-400').message).not.toContain('x'.repeat(40));
  });

  it('rejects non-string input, and a number with a hint to pass a string', () => {
    expectEnablementError(
      () => Decimal.parse(1.5 as unknown as string, 'cost_usd'),
      'PL-400',
      /cost_usd: number.*decimal string/,
    );
    expectEnablementError(
      () => Decimal.parse(null as unknown as string),
      'PL-400',
      /expected a decimal string/,
    );
    expectEnablementError(() => Decimal.parse({ toString: () => '1' } as unknown as string), 'PL-400');
  });
});

describe('Decimal.from / fromParts', () => {
  it('accepts bigint, string and Decimal; refuses number', () => {
    expect(Decimal.from(42n).toString()).toBe('42');
    expect(Decimal.from('4.20').toString()).toBe('4.20');
    const d = Decimal.parse('1');
    expect(Decimal.from(d)).toBe(d);
    expectEnablementError(() => Decimal.from(0.1 as unknown as string), 'PL-400', /pass a decimal string/);
    expectEnablementError(() => Decimal.parse('1').add(0.1 as unknown as string), 'PL-400', /add: number/);
    expectEnablementError(() => Decimal.from(undefined as unknown as string), 'PL-400');
  });

  it('fromParts validates its scale and bounds', () => {
    expect(Decimal.fromParts(1999n, 2).toString()).toBe('19.99');
    expect(Decimal.fromParts(-5n, 3).toString()).toBe('-0.005');
    expectEnablementError(() => Decimal.fromParts(1n, -1), 'PL-400');
    expectEnablementError(() => Decimal.fromParts(1n, 1.5), 'PL-400');
    expectEnablementError(() => Decimal.fromParts(1n, DECIMAL_MAX_SCALE + 1), 'PL-400');
    expectEnablementError(
      () => Decimal.fromParts(ten(DECIMAL_MAX_DIGITS), 0),
      'PL-400',
      /significant digits/,
    );
    expectEnablementError(() => Decimal.fromParts(5 as unknown as bigint, 0), 'PL-400');
  });
});

describe('arithmetic against exact rationals', () => {
  it('add, sub and mul are exact', () => {
    fc.assert(
      fc.property(arbDecimal, arbDecimal, (a, b) => {
        const ra = rat(a);
        const rb = rat(b);
        const sum = a.add(b);
        expect(ratEq(rat(sum), { p: ra.p * rb.q + rb.p * ra.q, q: ra.q * rb.q })).toBe(true);
        expect(sum.scale).toBe(Math.max(a.scale, b.scale));
        const diff = a.sub(b);
        expect(ratEq(rat(diff), { p: ra.p * rb.q - rb.p * ra.q, q: ra.q * rb.q })).toBe(true);
        const product = a.mul(b);
        expect(ratEq(rat(product), { p: ra.p * rb.p, q: ra.q * rb.q })).toBe(true);
        expect(product.scale).toBe(a.scale + b.scale);
      }),
      { numRuns: 200 },
    );
  });

  it('cmp, eq, lt, gt agree with rational comparison, ignoring scale', () => {
    fc.assert(
      fc.property(arbDecimal, arbDecimal, (a, b) => {
        const expected = ratCmp(rat(a), rat(b));
        expect(a.cmp(b)).toBe(expected);
        expect(a.eq(b)).toBe(expected === 0);
        expect(a.lt(b)).toBe(expected < 0);
        expect(a.lte(b)).toBe(expected <= 0);
        expect(a.gt(b)).toBe(expected > 0);
        expect(a.gte(b)).toBe(expected >= 0);
        expect(b.cmp(a)).toBe(-expected);
      }),
      { numRuns: 200 },
    );
    expect(Decimal.parse('1.5').eq('1.50')).toBe(true);
    expect(Decimal.parse('1.5').toString()).not.toBe(Decimal.parse('1.50').toString());
  });

  it('round matches the floor-based reference for every mode', () => {
    fc.assert(
      fc.property(arbDecimal, fc.integer({ min: 0, max: 20 }), arbMode, (d, scale, mode) => {
        const r = d.round(scale, mode);
        expect(r.scale).toBe(scale);
        // value · 10^scale = c · 10^scale / 10^s
        const expected = refRound(d.coefficient * ten(scale), ten(d.scale), mode);
        expect(r.coefficient).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('divide matches the rational quotient rounded by the reference', () => {
    const nonZero = arbDecimal.filter((d) => !d.isZero());
    fc.assert(
      fc.property(arbDecimal, nonZero, fc.integer({ min: 0, max: 20 }), arbMode, (a, b, scale, mode) => {
        const q = a.divide(b, scale, mode);
        expect(q.scale).toBe(scale);
        // (pa/qa) / (pb/qb) · 10^scale = pa·qb·10^scale / (qa·pb); normalize the sign of the denominator.
        let p = a.coefficient * ten(b.scale) * ten(scale);
        let den = ten(a.scale) * b.coefficient;
        if (den < 0n) {
          p = -p;
          den = -den;
        }
        expect(q.coefficient).toBe(refRound(p, den, mode));
      }),
      { numRuns: 300 },
    );
  });

  it('neg, abs, sign, isZero, isNegative, normalize', () => {
    fc.assert(
      fc.property(arbDecimal, (d) => {
        expect(d.neg().neg().eq(d)).toBe(true);
        expect(d.add(d.neg()).isZero()).toBe(true);
        expect(d.abs().isNegative()).toBe(false);
        expect(d.isNegative()).toBe(d.coefficient < 0n);
        expect(d.sign()).toBe(d.coefficient < 0n ? -1 : d.coefficient > 0n ? 1 : 0);
        const n = d.normalize();
        expect(n.eq(d)).toBe(true);
        expect(n.scale === 0 || n.coefficient % 10n !== 0n).toBe(true);
      }),
      { numRuns: 200 },
    );
    expect(Decimal.parse('-0.50').neg().toString()).toBe('0.50');
    expect(Decimal.parse('0.00').neg().toString()).toBe('0.00'); // never "-0.00"
    expect(Decimal.parse('1.500').normalize().toString()).toBe('1.5');
    expect(Decimal.parse('2.00').normalize().toString()).toBe('2');
  });

  it('sum adds exactly and starts from zero', () => {
    expect(Decimal.sum([]).toString()).toBe('0');
    expect(Decimal.sum(['0.1', '0.2', 3n]).toString()).toBe('3.3');
    // 0.1 + 0.2 in floating point is 0.30000000000000004; here it is exact.
    expect(Decimal.parse('0.1').add('0.2').eq('0.3')).toBe(true);
  });
});

describe('rounding tables', () => {
  // Columns: half_even, half_up, down, up, floor, ceiling — rounding to 0 fraction digits.
  const table: [string, string, string, string, string, string, string][] = [
    ['5.5', '6', '6', '5', '6', '5', '6'],
    ['2.5', '2', '3', '2', '3', '2', '3'],
    ['1.6', '2', '2', '1', '2', '1', '2'],
    ['1.1', '1', '1', '1', '2', '1', '2'],
    ['1.0', '1', '1', '1', '1', '1', '1'],
    ['0.5', '0', '1', '0', '1', '0', '1'],
    ['-0.5', '0', '-1', '0', '-1', '-1', '0'],
    ['-1.0', '-1', '-1', '-1', '-1', '-1', '-1'],
    ['-1.1', '-1', '-1', '-1', '-2', '-2', '-1'],
    ['-1.6', '-2', '-2', '-1', '-2', '-2', '-1'],
    ['-2.5', '-2', '-3', '-2', '-3', '-3', '-2'],
    ['-5.5', '-6', '-6', '-5', '-6', '-6', '-5'],
  ];
  it.each(table)('%s → %s %s %s %s %s %s', (input, ...expected) => {
    const d = Decimal.parse(input);
    const modes: RoundingMode[] = ['half_even', 'half_up', 'down', 'up', 'floor', 'ceiling'];
    expect(modes.map((mode) => d.round(0, mode).toString())).toEqual(expected);
  });

  // To one fraction digit: the ties of spec-relevant money amounts.
  const oneDp: [string, RoundingMode, string][] = [
    ['2.45', 'half_even', '2.4'],
    ['2.55', 'half_even', '2.6'],
    ['-2.45', 'half_even', '-2.4'],
    ['2.451', 'half_even', '2.5'],
    ['2.45', 'half_up', '2.5'],
    ['2.55', 'half_up', '2.6'],
    ['-2.45', 'half_up', '-2.5'],
    ['2.449', 'half_up', '2.4'],
    ['2.45', 'down', '2.4'],
    ['-2.45', 'down', '-2.4'],
    ['2.41', 'up', '2.5'],
    ['-2.41', 'up', '-2.5'],
    ['-2.41', 'floor', '-2.5'],
    ['-2.49', 'ceiling', '-2.4'],
    ['2.40', 'up', '2.4'],
  ];
  it.each(oneDp)('%s %s → %s', (input, mode, expected) => {
    expect(Decimal.parse(input).round(1, mode).toString()).toBe(expected);
  });

  it('pads with zeros when rounding to a larger scale', () => {
    expect(Decimal.parse('2.5').round(2, 'half_even').toString()).toBe('2.50');
    expect(Decimal.parse('7').toFixed(3)).toBe('7.000');
  });

  it('toFixed rounds half-even by default, unlike Number#toFixed', () => {
    expect(Decimal.parse('0.125').toFixed(2)).toBe('0.12');
    expect(Decimal.parse('0.135').toFixed(2)).toBe('0.14');
    expect(Decimal.parse('0.125').toFixed(2, 'half_up')).toBe('0.13');
  });

  it('divide rounds ties by the mode', () => {
    expect(Decimal.parse('1').divide('3', 4, 'half_even').toString()).toBe('0.3333');
    expect(Decimal.parse('2').divide('3', 4, 'down').toString()).toBe('0.6666');
    expect(Decimal.parse('2').divide('3', 4, 'half_up').toString()).toBe('0.6667');
    expect(Decimal.parse('-1').divide('8', 2, 'half_even').toString()).toBe('-0.12');
    expect(Decimal.parse('-1').divide('8', 2, 'half_up').toString()).toBe('-0.13');
    expect(Decimal.parse('1').divide('-8', 2, 'floor').toString()).toBe('-0.13');
    expect(Decimal.parse('10.00').divide('0.5', 0, 'down').toString()).toBe('20');
  });
});

describe('hostile arguments to operations', () => {
  const one = Decimal.parse('1');
  it('divide rejects zero divisors, huge or fractional scales and unknown modes', () => {
    expectEnablementError(() => one.divide('0.00', 2, 'half_even'), 'PL-400', /division by zero/);
    expectEnablementError(() => one.divide('3', 1_000_000_000, 'half_even'), 'PL-400', /scale/);
    expectEnablementError(() => one.divide('3', Number.POSITIVE_INFINITY, 'half_even'), 'PL-400', /scale/);
    expectEnablementError(() => one.divide('3', Number.NaN, 'half_even'), 'PL-400', /scale/);
    expectEnablementError(() => one.divide('3', -1, 'half_even'), 'PL-400', /scale/);
    expectEnablementError(() => one.divide('3', 2.5, 'half_even'), 'PL-400', /scale/);
    expectEnablementError(() => one.divide('3', 2, 'HALF_EVEN' as RoundingMode), 'PL-400', /rounding mode/);
    expectEnablementError(() => one.round(2, 'bankers' as RoundingMode), 'PL-400', /rounding mode/);
    expectEnablementError(() => one.round(DECIMAL_MAX_SCALE + 1, 'down'), 'PL-400', /scale/);
  });

  it('refuses results beyond the precision or scale bounds instead of losing digits', () => {
    const big = Decimal.parse('9'.repeat(DECIMAL_MAX_DIGITS));
    expectEnablementError(() => big.add('1'), 'PL-400', /significant digits/);
    expectEnablementError(() => big.mul('10'), 'PL-400', /significant digits/);
    const fine = Decimal.parse(`0.${'1'.repeat(20)}`);
    expectEnablementError(() => fine.mul(fine), 'PL-400', /scale 40 exceeds/);
    expectEnablementError(
      () => Decimal.parse('1'.repeat(40)).divide(`0.${'0'.repeat(35)}1`, 0, 'down'),
      'PL-400',
    );
  });

  it('refuses implicit numeric coercion and string concatenation, allows template literals', () => {
    const d = Decimal.parse('1.50');
    expect(() => Number(d)).toThrow(TypeError);
    expect(() => (d as unknown as number) * 2).toThrow(TypeError);
    expect(() => (d as unknown as string) + (d as unknown as string)).toThrow(TypeError);
    expect(`${d}`).toBe('1.50');
    expect(JSON.stringify({ amount: d })).toBe('{"amount":"1.50"}');
  });

  it('is immutable and recognised across copies by its brand', () => {
    const d = Decimal.parse('3.14');
    expect(Object.isFrozen(d)).toBe(true);
    expect(() => {
      (d as unknown as { scale: number }).scale = 0;
    }).toThrow(TypeError);
    expect(d.add('1').toString()).toBe('4.14');
    expect(d.toString()).toBe('3.14');
    expect(Decimal.isDecimal(d)).toBe(true);
    expect(Decimal.isDecimal({ coefficient: 1n, scale: 0 })).toBe(false);
    expect(d instanceof Decimal).toBe(true);
  });
});

describe('currencies', () => {
  it('has ISO 4217 minor units for common currencies', () => {
    expect(CURRENCIES.USD.minorUnits).toBe(2);
    expect(CURRENCIES.EUR.minorUnits).toBe(2);
    expect(CURRENCIES.JPY.minorUnits).toBe(0);
    expect(CURRENCIES.KRW.minorUnits).toBe(0);
    expect(CURRENCIES.KWD.minorUnits).toBe(3);
    expect(CURRENCIES.BHD.minorUnits).toBe(3);
    expect(CURRENCIES.CLF.minorUnits).toBe(4);
    for (const [code, entry] of Object.entries(CURRENCIES)) expect(entry.code).toBe(code);
    expect(isCurrencyCode('USD')).toBe(true);
    expect(isCurrencyCode('usd')).toBe(false);
    expect(isCurrencyCode('toString')).toBe(false);
  });

  it('roundToMinorUnit rounds half-even by default and pads to the minor unit', () => {
    expect(roundToMinorUnit(Decimal.parse('2.345'), 'USD').toString()).toBe('2.34');
    expect(roundToMinorUnit(Decimal.parse('2.355'), 'USD').toString()).toBe('2.36');
    expect(roundToMinorUnit(Decimal.parse('2.345'), 'USD', 'half_up').toString()).toBe('2.35');
    expect(roundToMinorUnit(Decimal.parse('2.5'), 'USD').toString()).toBe('2.50');
    expect(roundToMinorUnit(Decimal.parse('2.5'), 'JPY').toString()).toBe('2');
    expect(roundToMinorUnit(Decimal.parse('3.5'), 'JPY').toString()).toBe('4');
    expect(roundToMinorUnit(Decimal.parse('1.23456'), 'KWD').toString()).toBe('1.235');
    expect(roundToMinorUnit(Decimal.parse('0.0000015'), { code: 'CREDIT', minorUnits: 6 }).toString()).toBe(
      '0.000002',
    );
  });

  it('rejects unknown codes and malformed custom currencies', () => {
    expectEnablementError(() => roundToMinorUnit(Decimal.parse('1'), 'XXX'), 'PL-400', /unknown currency/);
    expectEnablementError(
      () => roundToMinorUnit(Decimal.parse('1'), 'constructor'),
      'PL-400',
      /unknown currency/,
    );
    expectEnablementError(() => currency({ code: 'X', minorUnits: -1 }), 'PL-400');
    expectEnablementError(() => currency({ code: 'X', minorUnits: 1.5 }), 'PL-400');
    expectEnablementError(() => currency({ code: 'X', minorUnits: 99 }), 'PL-400');
    expectEnablementError(() => currency(null as unknown as string), 'PL-400');
  });

  it('converts to and from integer minor units exactly', () => {
    expect(toMinorUnits(Decimal.parse('12.34'), 'USD')).toBe(1234n);
    expect(toMinorUnits(Decimal.parse('12.3'), 'USD')).toBe(1230n);
    expect(toMinorUnits(Decimal.parse('-0.01'), 'USD')).toBe(-1n);
    expect(toMinorUnits(Decimal.parse('12.340'), 'USD')).toBe(1234n);
    expectEnablementError(() => toMinorUnits(Decimal.parse('12.345'), 'USD'), 'PL-400', /round it first/);
    expect(fromMinorUnits(1234n, 'USD').toString()).toBe('12.34');
    expect(fromMinorUnits(1234n, 'JPY').toString()).toBe('1234');
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (units) => {
        expect(toMinorUnits(fromMinorUnits(units, 'KWD'), 'KWD')).toBe(units);
      }),
      { numRuns: 100 },
    );
  });
});
