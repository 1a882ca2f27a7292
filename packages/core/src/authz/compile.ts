import { assertPattern, MAX_VALUE_LENGTH } from '../delegation/pattern.js';
import type { Condition, ScalarValue } from './policy.js';
import {
  compareNumeric,
  compareToLiteral,
  equalValues,
  isNumberLike,
  type NumericLiteral,
  numericLiteral,
  toDecimal,
} from './values.js';

/** A compiled pattern: true when the concrete value matches. */
export type Matcher = (value: string) => boolean;

const MATCH_ALL: Matcher = (value) => value.length <= MAX_VALUE_LENGTH;

/**
 * Compiles a pattern of the delegation pattern language (`../delegation/pattern.ts`: `*`,
 * `prefix*`, exact) into a closure with exactly `matchesPattern`'s answers (a property test pins
 * the two together). `matchesPattern` re-validates its pattern on every call; this validates once
 * (`assertPattern`, `PL-400`) so that the hot path is one comparison.
 */
export function compilePattern(pattern: string): Matcher {
  assertPattern(pattern);
  if (pattern === '*') return MATCH_ALL;
  if (pattern.endsWith('*')) {
    const prefix = pattern.slice(0, -1);
    return (value) => value.length <= MAX_VALUE_LENGTH && value.startsWith(prefix);
  }
  return (value) => value === pattern;
}

/** The wildcard prefix of a valid pattern (`''` for `*`), or `undefined` for an exact pattern. */
export function patternPrefix(pattern: string): string | undefined {
  return pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
}

/**
 * A compiled condition. `values` holds the attribute values of the request, one slot per path the
 * evaluation reads; `slots[i]` is the slot of the condition's own path `i` (see
 * {@link CompiledCondition.paths}). Reading every value before testing, once, is what lets the
 * decision cache key on exactly the values the decision used.
 */
export type ConditionTest = (values: readonly unknown[], slots: readonly number[]) => boolean;

/** A condition compiled to a closure, with the attribute paths it reads. */
export interface CompiledCondition {
  /** Distinct attribute paths read, in first-use order; the closure refers to them by index. */
  readonly paths: readonly string[];
  /** The test. Never throws: a missing or wrongly typed attribute makes a leaf false. */
  readonly test: ConditionTest;
}

/** A test of one value against a literal. */
type ValueTest = (value: unknown) => boolean;

/**
 * `v eq literal` with the equality of {@link equalValues}: text against text, numerically when
 * either side is number-like (a decimal-string literal against a number, bigint or Decimal, a
 * number literal against a decimal string), booleans and null against themselves.
 */
function literalEquality(literal: ScalarValue): (value: unknown) => boolean | undefined {
  if (typeof literal === 'string') {
    const lit = toDecimal(literal) === undefined ? undefined : numericLiteral(literal);
    return (v) => {
      if (typeof v === 'string') return v === literal;
      if (lit === undefined || !isNumberLike(v)) return undefined;
      const c = compareToLiteral(v, lit);
      return c === undefined ? undefined : c === 0;
    };
  }
  if (typeof literal === 'number') {
    const lit = numericLiteral(literal);
    return (v) => {
      const c = compareToLiteral(v, lit);
      return c === undefined ? undefined : c === 0;
    };
  }
  return (v) => equalValues(v, literal);
}

function literalEquals(literal: ScalarValue): ValueTest {
  const equality = literalEquality(literal);
  return (v) => equality(v) === true;
}

function literalDiffers(literal: ScalarValue): ValueTest {
  const equality = literalEquality(literal);
  return (v) => equality(v) === false;
}

function ordered(op: 'lt' | 'le' | 'gt' | 'ge', c: -1 | 0 | 1 | undefined): boolean {
  if (c === undefined) return false;
  switch (op) {
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
  }
}

function membership(literals: readonly ScalarValue[]): ValueTest {
  const strings = new Set<string>();
  const numbers = new Set<number>();
  const numberLiterals: NumericLiteral[] = [];
  const decimalStringLiterals: NumericLiteral[] = [];
  const others = new Set<boolean | null>();
  for (const literal of literals) {
    if (typeof literal === 'string') {
      strings.add(literal);
      if (toDecimal(literal) !== undefined) decimalStringLiterals.push(numericLiteral(literal));
    } else if (typeof literal === 'number') {
      numbers.add(literal);
      numberLiterals.push(numericLiteral(literal));
    } else others.add(literal);
  }
  const anyEqual = (v: unknown, lits: readonly NumericLiteral[]): boolean => {
    for (const lit of lits) if (compareToLiteral(v, lit) === 0) return true;
    return false;
  };
  // The same equality as `eq`, element by element, with sets for the common exact cases.
  return (v) => {
    if (typeof v === 'string') return strings.has(v) || anyEqual(v, numberLiterals);
    if (typeof v === 'number') return numbers.has(v) || anyEqual(v, decimalStringLiterals);
    if (typeof v === 'boolean' || v === null) return others.has(v);
    if (!isNumberLike(v)) return false;
    return anyEqual(v, numberLiterals) || anyEqual(v, decimalStringLiterals);
  };
}

/** Compiles a validated condition (see `parsePolicy`). */
export function compileCondition(condition: Condition): CompiledCondition {
  const paths: string[] = [];
  const slotOf = (path: string): number => {
    let index = paths.indexOf(path);
    if (index === -1) index = paths.push(path) - 1;
    return index;
  };
  const test = compileNode(condition, slotOf);
  return { paths: Object.freeze(paths), test };
}

function compileNode(node: Condition, slotOf: (path: string) => number): ConditionTest {
  if ('and' in node) {
    const parts = node.and.map((child) => compileNode(child, slotOf));
    if (parts.length === 1 && parts[0] !== undefined) return parts[0];
    return (values, slots) => {
      for (const part of parts) if (!part(values, slots)) return false;
      return true;
    };
  }
  if ('or' in node) {
    const parts = node.or.map((child) => compileNode(child, slotOf));
    if (parts.length === 1 && parts[0] !== undefined) return parts[0];
    return (values, slots) => {
      for (const part of parts) if (part(values, slots)) return true;
      return false;
    };
  }
  if ('not' in node) {
    const inner = compileNode(node.not, slotOf);
    return (values, slots) => !inner(values, slots);
  }
  const a = slotOf(node.attr);
  const read = (values: readonly unknown[], slots: readonly number[]): unknown => values[slots[a] ?? -1];

  if ('ref' in node) {
    const b = slotOf(node.ref);
    const other = (values: readonly unknown[], slots: readonly number[]): unknown => values[slots[b] ?? -1];
    switch (node.op) {
      case 'eq':
        return (values, slots) => equalValues(read(values, slots), other(values, slots)) === true;
      case 'ne':
        return (values, slots) => equalValues(read(values, slots), other(values, slots)) === false;
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge': {
        const op = node.op;
        return (values, slots) => ordered(op, compareNumeric(read(values, slots), other(values, slots)));
      }
      case 'in':
        return (values, slots) => {
          const v = read(values, slots);
          const list = other(values, slots);
          return Array.isArray(list) && list.some((item) => equalValues(v, item) === true);
        };
      case 'contains':
        return (values, slots) => {
          const list = read(values, slots);
          const v = other(values, slots);
          return Array.isArray(list) && list.some((item) => equalValues(item, v) === true);
        };
    }
  }

  switch (node.op) {
    case 'exists':
      return (values, slots) => read(values, slots) !== undefined;
    case 'like': {
      const matches = compilePattern(node.value);
      return (values, slots) => {
        const v = read(values, slots);
        return typeof v === 'string' && matches(v);
      };
    }
    case 'eq': {
      const equals = literalEquals(node.value);
      return (values, slots) => equals(read(values, slots));
    }
    case 'ne': {
      const differs = literalDiffers(node.value);
      return (values, slots) => differs(read(values, slots));
    }
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      const op = node.op;
      const lit = numericLiteral(node.value as number | string);
      return (values, slots) => ordered(op, compareToLiteral(read(values, slots), lit));
    }
    case 'in': {
      const member = membership(node.value);
      return (values, slots) => member(read(values, slots));
    }
    case 'contains': {
      const equals = literalEquals(node.value);
      return (values, slots) => {
        const list = read(values, slots);
        return Array.isArray(list) && list.some(equals);
      };
    }
  }
}
