import { base64urlToBytes, bytesToBase64url, Decimal, EnablementError, type ErrorCode } from '@creto/core';
import { unstorableTextReason } from './text.js';

/** Deepest nesting {@link encodeDocument} accepts (records are a few levels deep). */
export const MAX_DOCUMENT_DEPTH = 64;

// Tagged values: `{ "$": tag, "v": text }`. A plain object that itself has a "$" key is wrapped in
// `{ "$": "object", "v": {...} }`, so a tag can never be forged by data.
type Tagged = { $: string; v?: unknown };

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
};

function encodeValue(value: unknown, depth: number, fail: (why: string) => never): unknown {
  if (depth > MAX_DOCUMENT_DEPTH) fail(`nested deeper than ${MAX_DOCUMENT_DEPTH} levels`);
  switch (typeof value) {
    case 'string': {
      const reason = unstorableTextReason(value);
      if (reason !== undefined) fail(`a string ${reason}`);
      return value;
    }
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { $: 'number', v: Object.is(value, -0) ? '-0' : String(value) } satisfies Tagged;
    case 'bigint':
      return { $: 'bigint', v: value.toString() } satisfies Tagged;
    case 'undefined':
      return { $: 'undefined' } satisfies Tagged;
    case 'object': {
      if (value === null) return null;
      if (Decimal.isDecimal(value)) return { $: 'decimal', v: value.toString() } satisfies Tagged;
      if (value instanceof Uint8Array) return { $: 'bytes', v: bytesToBase64url(value) } satisfies Tagged;
      if (Array.isArray(value)) return value.map((item) => encodeValue(item, depth + 1, fail));
      if (!isPlainObject(value))
        fail(`an instance of ${value.constructor?.name ?? 'a class'} is not a plain value`);
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const reason = unstorableTextReason(key);
        if (reason !== undefined) fail(`a key ${reason}`);
        out[key] = encodeValue(item, depth + 1, fail);
      }
      return Object.hasOwn(out, '$') ? ({ $: 'object', v: out } satisfies Tagged) : out;
    }
    default:
      return fail(`a ${typeof value} is not storable`);
  }
}

/**
 * Serializes a record to JSON text that {@link decodeDocument} turns back into an equal value:
 * plain objects, arrays, strings, finite numbers, booleans and `null` as JSON; `bigint`, core's
 * `Decimal` (scale kept), `Uint8Array`, `undefined` (an own property set to `undefined` stays
 * present), `NaN`, `±Infinity` and `-0` as tagged objects. Anything else (a `Date`, a `Map`, a
 * class instance, a function) is refused with `code`, as is text PostgreSQL cannot hold.
 */
export function encodeDocument(value: unknown, what: string, code: ErrorCode = 'PL-400'): string {
  const fail = (why: string): never => {
    throw new EnablementError(code, `${what}: ${why}`);
  };
  return JSON.stringify(encodeValue(value, 0, fail));
}

function decodeValue(value: unknown): unknown {
  if (Array.isArray(value)) return Object.freeze(value.map(decodeValue));
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (Object.hasOwn(record, '$')) {
    const { $: tag, v } = record as Tagged;
    switch (tag) {
      case 'bigint':
        return BigInt(v as string);
      case 'decimal':
        return Decimal.parse(v as string);
      case 'bytes':
        return base64urlToBytes(v as string);
      case 'undefined':
        return undefined;
      case 'number':
        return Number(v as string);
      case 'object':
        return decodeObject(v as Record<string, unknown>);
      default:
        throw new Error(`unknown tag ${String(tag)}`);
    }
  }
  return decodeObject(record);
}

function decodeObject(record: Record<string, unknown>): unknown {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) out[key] = decodeValue(item);
  return Object.freeze(out);
}

/**
 * Reads back what {@link encodeDocument} wrote, deeply frozen (callers may share it, never change
 * it). A document that does not decode is `PL-500`: the table holds something this code did not
 * write.
 */
export function decodeDocument<T>(text: string, what: string): T {
  try {
    return decodeValue(JSON.parse(text)) as T;
  } catch (cause) {
    throw new EnablementError('PL-500', `${what}: a stored document does not decode`, { cause });
  }
}
