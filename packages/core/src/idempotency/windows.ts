import { canonicalBytes } from '../canonical/canonicalize.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { PRODUCT_IDS, type ProductId } from '../errors/product.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The deduplication window of one operation (a row of the spec §9.2 table). */
export interface IdempotencyWindow {
  /** Product that owns the operation. */
  readonly product: ProductId;
  /** Operation name, `snake_case` as in the spec. */
  readonly operation: string;
  /** How long a completed result is kept and returned to duplicates, milliseconds. */
  readonly windowMs: number;
  /** What the spec keys the operation by (documentation; see {@link composeIdempotencyKey}). */
  readonly keyedBy: readonly string[];
}

/**
 * The windows of spec §9.2: Runtime `spawn_sandbox` 1 h keyed by `agent_nhi + spec_hash`,
 * Metering `ingest_event` 7 days keyed by the event's `idempotency_key`, Oversight
 * `create_request` 24 h keyed by `agent_nhi + action + resource`, Messaging `send_message`
 * 30 days keyed by `message_id`.
 */
export const DEFAULT_IDEMPOTENCY_WINDOWS: readonly IdempotencyWindow[] = Object.freeze([
  Object.freeze({
    product: 'runtime',
    operation: 'spawn_sandbox',
    windowMs: HOUR_MS,
    keyedBy: Object.freeze(['agent_nhi', 'spec_hash']),
  }),
  Object.freeze({
    product: 'metering',
    operation: 'ingest_event',
    windowMs: 7 * DAY_MS,
    keyedBy: Object.freeze(['event.idempotency_key']),
  }),
  Object.freeze({
    product: 'oversight',
    operation: 'create_request',
    windowMs: DAY_MS,
    keyedBy: Object.freeze(['agent_nhi', 'action', 'resource']),
  }),
  Object.freeze({
    product: 'messaging',
    operation: 'send_message',
    windowMs: 30 * DAY_MS,
    keyedBy: Object.freeze(['message_id']),
  }),
] satisfies IdempotencyWindow[]);

const OPERATION = /^[a-z][a-z0-9_]{0,63}$/;
// Visible ASCII only: no whitespace or control characters that could split a log line or a
// protocol frame, and nothing that normalizes differently on another system.
const KEY = /^[\x21-\x7e]{1,512}$/;

/** Longest caller idempotency key accepted. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `idempotency: ${message}`);
}

/** Throws `PL-400` unless `product` is a {@link ProductId}. */
export function assertProduct(product: unknown): asserts product is ProductId {
  if (typeof product !== 'string' || !(PRODUCT_IDS as readonly string[]).includes(product)) {
    throw invalid(`product must be one of ${PRODUCT_IDS.join(', ')}`);
  }
}

/** Throws `PL-400` unless `operation` is a `snake_case` name of at most 64 characters. */
export function assertOperation(operation: unknown): asserts operation is string {
  if (typeof operation !== 'string' || !OPERATION.test(operation)) {
    throw invalid('operation must be snake_case: [a-z][a-z0-9_]*, at most 64 characters');
  }
}

/**
 * The store key of an idempotent operation, exactly `idem:{product}:{operation}:{key}` (spec
 * §9.2). `product` and `operation` contain no `:`, so the key (which may, e.g. an NHI) is
 * unambiguous. Throws `PL-400` on a bad part: `key` must be 1–512 visible ASCII characters.
 */
export function idempotencyStoreKey(product: ProductId, operation: string, key: string): string {
  assertProduct(product);
  assertOperation(operation);
  if (typeof key !== 'string' || !KEY.test(key)) {
    throw invalid(`key must be 1–${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters (no spaces)`);
  }
  return `idem:${product}:${operation}:${key}`;
}

/**
 * An idempotency key made of several parts (spec §9.2's `agent_nhi + spec_hash`,
 * `agent_nhi + action + resource`): the hex SHA-256 of the RFC 8785 canonical JSON array of the
 * parts. Hashing a JSON array, not a concatenation, keeps `("a:b", "c")` and `("a", "b:c")`
 * apart, and gives a fixed 64-character key whatever the parts' length.
 *
 * @example
 * ```ts
 * const key = composeIdempotencyKey(nobleCryptoProvider, [agentNhi, specHash]);
 * ```
 */
export function composeIdempotencyKey(
  crypto: Pick<CryptoProvider, 'sha256'>,
  parts: readonly string[],
): string {
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > 16) {
    throw invalid('key parts must be an array of 1–16 strings');
  }
  for (const part of parts) {
    if (typeof part !== 'string' || part.length === 0 || part.length > 4096) {
      throw invalid('each key part must be a non-empty string of at most 4096 characters');
    }
  }
  return bytesToHex(crypto.sha256(canonicalBytes(parts)));
}
