import { z } from 'zod';
import { canonicalize } from '../canonical/canonicalize.js';
import { utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { withMeta } from './registry.js';

/** A JSON value: what `JSON.parse` can return. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Limits of a free-form JSON field (see {@link boundedJson}). */
export interface JsonBounds {
  /** Largest RFC 8785 canonical encoding, in UTF-8 bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays and objects (a scalar has depth 0). */
  readonly maxDepth: number;
  /** Most values (scalars, arrays and objects) in the whole tree. */
  readonly maxNodes: number;
}

/** Limits of `Action.parameters`: 64 KiB, depth 16, 4096 values. */
export const ACTION_PARAMETERS_BOUNDS: JsonBounds = Object.freeze({
  maxBytes: 65_536,
  maxDepth: 16,
  maxNodes: 4096,
});

/** Limits of the extra fields of a `RiskFactor`: 4 KiB, depth 4, 256 values. */
export const RISK_FACTOR_EXTRA_BOUNDS: JsonBounds = Object.freeze({
  maxBytes: 4096,
  maxDepth: 4,
  maxNodes: 256,
});

/**
 * Throws `PL-400` unless `value` is a JSON value within `bounds`: only `null`, booleans, finite
 * numbers, strings, arrays and plain objects; depth, node count and canonical size bounded.
 * The walk is iterative and stops at the first violation, so hostile input costs at most
 * `maxNodes` steps before the (bounded) canonical encoding is measured.
 */
export function assertBoundedJson(value: unknown, bounds: JsonBounds): asserts value is JsonValue {
  const stack: [unknown, number][] = [[value, 0]];
  let nodes = 0;
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (++nodes > bounds.maxNodes) {
      throw new EnablementError('PL-400', `more than ${bounds.maxNodes} JSON values`);
    }
    if (item === null || typeof item === 'boolean' || typeof item === 'string') continue;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) throw new EnablementError('PL-400', 'JSON numbers must be finite');
      continue;
    }
    if (typeof item !== 'object') {
      throw new EnablementError('PL-400', `a ${typeof item} is not a JSON value`);
    }
    if (depth >= bounds.maxDepth) {
      throw new EnablementError('PL-400', `JSON nested deeper than ${bounds.maxDepth}`);
    }
    if (Array.isArray(item)) {
      for (const child of item) stack.push([child, depth + 1]);
      continue;
    }
    const proto = Object.getPrototypeOf(item);
    if (proto !== Object.prototype && proto !== null) {
      throw new EnablementError('PL-400', 'only plain objects and arrays are JSON values');
    }
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  const size = utf8ToBytes(canonicalize(value)).length;
  if (size > bounds.maxBytes) {
    throw new EnablementError('PL-400', `JSON value is ${size} bytes, more than ${bounds.maxBytes}`);
  }
}

/**
 * A zod schema for a free-form JSON value within `bounds` (e.g. `Action.parameters`, spec §4.2
 * `serde_json::Value`). Its JSON Schema is `{}` plus a description of the bounds, since JSON
 * Schema cannot express a size limit on a whole subtree.
 */
export function boundedJson(bounds: JsonBounds): z.ZodType<JsonValue, JsonValue> {
  const schema = z.unknown().check((payload) => {
    try {
      assertBoundedJson(payload.value, bounds);
    } catch (error) {
      payload.issues.push({
        code: 'custom',
        message: EnablementError.is(error) ? error.message : 'not a JSON value',
        input: payload.value,
      });
    }
  }) as unknown as z.ZodType<JsonValue, JsonValue>;
  return withMeta(schema, {
    description: `Any JSON value; at most ${bounds.maxBytes} bytes in RFC 8785 form, depth ${bounds.maxDepth}, ${bounds.maxNodes} values.`,
  });
}
