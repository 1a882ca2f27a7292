import { EnablementError } from '../errors/enablement-error.js';

declare const policyIdBrand: unique symbol;

/**
 * Reference to an authorization policy (spec §6.4), e.g. `spawn-limits/v2` or `org:acme:egress`.
 * Branded, so that only validated text is used where a policy id is expected.
 */
export type PolicyId = string & { readonly [policyIdBrand]: 'PolicyId' };

/** Longest accepted {@link PolicyId}, in characters. */
export const MAX_POLICY_ID_LENGTH = 256;

/**
 * The safe charset of a {@link PolicyId}: ASCII letters and digits plus `. _ - : / @`, starting
 * with a letter or digit. No whitespace or control characters (ids end up in logs, audit events,
 * span attributes and cache keys), no wildcard characters (`*`, `>`) that a pattern matcher could
 * misread, and no leading punctuation, so an id never looks like an option, a path or a pattern.
 */
const POLICY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;

/** True when `value` is a valid {@link PolicyId}. */
export function isPolicyId(value: unknown): value is PolicyId {
  return typeof value === 'string' && value.length <= MAX_POLICY_ID_LENGTH && POLICY_ID_PATTERN.test(value);
}

/**
 * Validates `text` as a policy id: non-empty, at most {@link MAX_POLICY_ID_LENGTH} characters,
 * only the documented safe charset. Throws `PL-400` naming `field` otherwise.
 *
 * @example
 * ```ts
 * const id = policyId('spawn-limits/v2');
 * ```
 */
export function policyId(text: unknown, field = 'policyId'): PolicyId {
  if (typeof text !== 'string' || text.length === 0) {
    throw new EnablementError('PL-400', `${field}: expected a non-empty string`);
  }
  if (text.length > MAX_POLICY_ID_LENGTH) {
    throw new EnablementError('PL-400', `${field}: longer than ${MAX_POLICY_ID_LENGTH} characters`);
  }
  if (!POLICY_ID_PATTERN.test(text)) {
    throw new EnablementError(
      'PL-400',
      `${field}: only letters, digits and . _ - : / @ are allowed, starting with a letter or digit`,
    );
  }
  return text as PolicyId;
}
