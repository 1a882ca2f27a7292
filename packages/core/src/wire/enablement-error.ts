import { z } from 'zod';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/catalogue.js';
import { EnablementError, type EnablementErrorJson } from '../errors/enablement-error.js';
import { PRODUCT_IDS, type ProductId } from '../errors/product.js';
import { decodeWire, encodeWire } from './errors.js';
import { guarded } from './leaf.js';
import { withMeta } from './registry.js';

/**
 * Deepest `caused_by` chain on the wire: 16 errors, the bound `EnablementError.toJSON` and
 * `fromJSON` apply. The schema nests exactly that many levels (the innermost `caused_by` must
 * be `null`), so hostile input cannot recurse deeper and the JSON Schema states the bound.
 */
export const MAX_WIRE_ERROR_DEPTH = 16;
/** Longest `message`: 4096 characters plus the ellipsis `EnablementError` appends when truncating. */
export const MAX_WIRE_ERROR_MESSAGE_LENGTH = 4097;
/** Longest `trace_id` (a W3C trace id is 32 hex characters). */
export const MAX_WIRE_TRACE_ID_LENGTH = 256;

const codeSchema = withMeta(z.enum(Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]]), {
  id: 'ErrorCode',
  description: 'A code of the SDK error catalogue (spec §8.1).',
});
const productSchema = withMeta(z.enum(PRODUCT_IDS as [ProductId, ...ProductId[]]), {
  id: 'ProductId',
  description: 'Product that raised the error (spec §8.1), lowercase.',
});
const retryAfterSchema = withMeta(
  z.strictObject({
    secs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    nanos: z.number().int().min(0).max(999_999_999),
  }),
  { id: 'Duration', description: 'A duration as serde serializes Rust’s std::time::Duration.' },
);
const messageSchema = z.string().max(MAX_WIRE_ERROR_MESSAGE_LENGTH);
const traceIdSchema = z.string().max(MAX_WIRE_TRACE_ID_LENGTH).nullable();

function errorLevel(depth: number): z.ZodType<EnablementErrorJson, EnablementErrorJson> {
  const schema = z.strictObject({
    code: codeSchema,
    message: messageSchema,
    product: productSchema,
    caused_by: depth > 1 ? errorLevel(depth - 1).nullable() : z.null(),
    retryable: z.boolean(),
    retry_after: retryAfterSchema.nullable(),
    trace_id: traceIdSchema,
  });
  // Inner levels become named $defs, so the JSON Schema stays flat instead of 16 levels deep.
  if (depth < MAX_WIRE_ERROR_DEPTH) {
    withMeta(schema, { id: `EnablementErrorDepth${depth}`, description: `A cause at most ${depth} deep.` });
  }
  return schema as unknown as z.ZodType<EnablementErrorJson, EnablementErrorJson>;
}

/**
 * Codec of an {@link EnablementError} ↔ its spec §8.2 wire shape ({@link EnablementErrorJson},
 * the shape `toJSON` gives). Decoding goes through `EnablementError.fromJSON`, so the two can
 * never disagree.
 */
export const enablementErrorCodec: z.ZodType<EnablementError, EnablementErrorJson> = withMeta(
  z.codec(
    errorLevel(MAX_WIRE_ERROR_DEPTH),
    z.custom<EnablementError>((value) => EnablementError.is(value), { error: 'expected an EnablementError' }),
    {
      decode: guarded((json: EnablementErrorJson) => EnablementError.fromJSON(json)),
      encode: (error) => error.toJSON(),
    },
  ),
  {
    title: 'EnablementError',
    description: 'The error every product returns across a boundary (spec §8.2), with its caused_by chain.',
  },
);

/** Decodes an {@link EnablementErrorJson}; `PL-400` naming the failing path otherwise. */
export function decodeEnablementError(json: unknown): EnablementError {
  return decodeWire(enablementErrorCodec, json, { contract: 'EnablementError', code: 'PL-400' });
}

/** Encodes an {@link EnablementError} to its wire shape (validated against the contract). */
export function encodeEnablementError(error: EnablementError): EnablementErrorJson {
  return encodeWire(enablementErrorCodec, error, { contract: 'EnablementError', code: 'PL-400' });
}
