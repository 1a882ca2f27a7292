import { utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';

/** Deepest nesting accepted, so hostile input cannot exhaust the stack. */
const MAX_DEPTH = 128;

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the one byte form of a JSON value that the SDK
 * signs and hashes.
 *
 * - Object members sorted by the UTF-16 code units of their names (RFC 8785 §3.2.3).
 * - Numbers in the ECMAScript `Number.prototype.toString` form (§3.2.2.3); that is exactly what
 *   `JSON.stringify` produces for a finite number, so we reuse it.
 * - Strings escaped as `JSON.stringify` does (§3.2.2.2); lone surrogates are rejected, since
 *   they cannot be encoded as UTF-8 (§3.2.2.2 requires valid Unicode).
 * - `undefined` members are omitted (as JSON would); `NaN`, `Infinity`, `bigint`, functions,
 *   symbols, non-plain objects and cycles are rejected with `PL-400`: the caller must encode
 *   them first (int64 as decimal strings, bytes as base64url).
 *
 * @example
 * ```ts
 * canonicalize({ b: 1, a: [true, null, 'x'] }); // '{"a":[true,null,"x"],"b":1}'
 * ```
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0, new Set());
}

/** UTF-8 bytes of {@link canonicalize}: what gets signed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8ToBytes(canonicalize(value));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serializeString(text: string): string {
  if (LONE_SURROGATE.test(text)) {
    throw new EnablementError('PL-400', 'canonical JSON: string contains a lone surrogate');
  }
  return JSON.stringify(text);
}

function serialize(value: unknown, depth: number, seen: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return serializeString(value);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new EnablementError('PL-400', 'canonical JSON: numbers must be finite');
      }
      return JSON.stringify(value); // -0 → "0", as RFC 8785 requires
    case 'object':
      break;
    default:
      throw new EnablementError('PL-400', `canonical JSON: cannot encode a ${typeof value}`);
  }
  if (depth >= MAX_DEPTH) throw new EnablementError('PL-400', 'canonical JSON: nesting too deep');
  const object = value as object;
  if (seen.has(object)) throw new EnablementError('PL-400', 'canonical JSON: cyclic value');
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      const items: string[] = [];
      for (let i = 0; i < object.length; i++) {
        const item = object[i];
        items.push(item === undefined ? 'null' : serialize(item, depth + 1, seen));
      }
      return `[${items.join(',')}]`;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      throw new EnablementError('PL-400', 'canonical JSON: only plain objects and arrays can be encoded');
    }
    const record = object as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is exactly RFC 8785 §3.2.3.
    const keys = Object.keys(record).sort();
    const members: string[] = [];
    for (const key of keys) {
      const member = record[key];
      if (member === undefined) continue;
      members.push(`${serializeString(key)}:${serialize(member, depth + 1, seen)}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    seen.delete(object);
  }
}
