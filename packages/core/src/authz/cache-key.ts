import { Decimal } from '../decimal/decimal.js';

/** Longest attribute part of a decision-cache key; a longer one is not cached (evaluated each time). */
export const MAX_ATTRIBUTE_KEY_LENGTH = 4096;

/** Deepest array/object nesting of an attribute value that is cached. */
const MAX_SNAPSHOT_DEPTH = 8;

/** Most encoded pieces (about two per value) of one attribute value that is cached. */
const MAX_SNAPSHOT_PARTS = 2048;

/**
 * Encodes the attribute values a decision read into one string, injectively: every value is
 * tagged with its type and strings are length-prefixed, so no two different value lists give the
 * same key. Arrays and plain objects are encoded member by member AND replaced in `values` by a
 * plain snapshot, so the conditions test exactly what the key describes even if the caller's object
 * changes (or lies, through getters) between reads. Returns `undefined` when the values cannot be
 * cached (a function, a class instance other than `Decimal`, nesting deeper than 8, a key longer
 * than {@link MAX_ATTRIBUTE_KEY_LENGTH}); the decision is then computed without the cache.
 */
export function encodeAttributeKey(values: unknown[]): string | undefined {
  let key = '';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'object' && value !== null && !Decimal.isDecimal(value)) {
      const parts: string[] = [];
      const copy = snapshot(value, 0, parts);
      if (copy === INVALID) return undefined;
      values[i] = copy;
      key += parts.join('');
    } else {
      const part = scalar(value);
      if (part === undefined) return undefined;
      key += part;
    }
    if (key.length > MAX_ATTRIBUTE_KEY_LENGTH) return undefined;
  }
  return key;
}

const INVALID: unique symbol = Symbol('invalid');

function scalar(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'string':
      return `s${value.length}:${value}`;
    case 'number':
      return `n${value};`;
    case 'boolean':
      return value ? 'T' : 'F';
    case 'bigint':
      return `b${value};`;
    case 'object':
      if (value === null) return 'z';
      return Decimal.isDecimal(value) ? `d${value.toString()};` : undefined;
    default:
      return undefined;
  }
}

function snapshot(value: unknown, depth: number, parts: string[]): unknown {
  if (parts.length > MAX_SNAPSHOT_PARTS) return INVALID; // bounds the walk, whatever the shape
  if (typeof value !== 'object' || value === null || Decimal.isDecimal(value)) {
    const part = scalar(value);
    if (part === undefined) return INVALID;
    parts.push(part);
    return value;
  }
  if (depth >= MAX_SNAPSHOT_DEPTH) return INVALID;
  if (Array.isArray(value)) {
    const length = value.length;
    if (length > MAX_ATTRIBUTE_KEY_LENGTH) return INVALID;
    parts.push(`[${length}:`);
    const copy: unknown[] = [];
    for (let i = 0; i < length; i++) {
      const item = snapshot(value[i], depth + 1, parts);
      if (item === INVALID) return INVALID;
      copy.push(item);
    }
    parts.push(']');
    return Object.freeze(copy);
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return INVALID;
  const keys = Object.keys(value).sort();
  if (keys.length > MAX_ATTRIBUTE_KEY_LENGTH) return INVALID;
  parts.push(`{${keys.length}:`);
  const copy: Record<string, unknown> = Object.create(null);
  for (const key of keys) {
    parts.push(`${key.length}:${key}`);
    const item = snapshot((value as Record<string, unknown>)[key], depth + 1, parts);
    if (item === INVALID) return INVALID;
    copy[key] = item;
  }
  parts.push('}');
  return Object.freeze(copy);
}
