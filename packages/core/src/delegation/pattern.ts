import { EnablementError } from '../errors/enablement-error.js';

/** Longest action or resource pattern, in characters. */
export const MAX_PATTERN_LENGTH = 256;

/** Longest concrete action or resource that {@link matchesPattern} accepts, in characters. */
export const MAX_VALUE_LENGTH = 1024;

/**
 * One capability: an action pattern and a resource pattern, e.g.
 * `{ action: 'payment.*', resource: 'invoice:2024-*' }`.
 */
export interface Capability {
  /** Action pattern, e.g. `payment.approve` or `payment.*`. */
  readonly action: string;
  /** Resource pattern, e.g. `network:api.example.com` or `*`. */
  readonly resource: string;
}

// Printable ASCII without space (0x21–0x7E): one spelling per value, no Unicode normalisation
// ambiguity, no control characters smuggled into logs.
const PATTERN_CHARS = /^[\x21-\x7E]+$/;

/**
 * Throws `PL-400` (naming `field`) unless `pattern` is a valid pattern of the delegation
 * pattern language:
 * - a non-empty string of at most {@link MAX_PATTERN_LENGTH} printable ASCII characters (0x21–0x7E);
 * - `*` appears at most once, and only as the last character.
 *
 * So a pattern is exactly one of: `*` (everything), `<prefix>*` (every value starting with
 * `<prefix>`), or an exact value. There is no escaping: a literal `*` cannot be matched except
 * through a wildcard.
 */
export function assertPattern(pattern: unknown, field = 'pattern'): asserts pattern is string {
  if (typeof pattern !== 'string') throw new EnablementError('PL-400', `${field}: expected a string`);
  if (pattern.length === 0) throw new EnablementError('PL-400', `${field}: must not be empty`);
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new EnablementError('PL-400', `${field}: longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  if (!PATTERN_CHARS.test(pattern)) {
    throw new EnablementError('PL-400', `${field}: only printable ASCII without spaces is allowed`);
  }
  const star = pattern.indexOf('*');
  if (star !== -1 && star !== pattern.length - 1) {
    throw new EnablementError('PL-400', `${field}: '*' is only allowed once, as the last character`);
  }
}

/** True when `pattern` is a valid pattern (see {@link assertPattern}); never throws. */
export function isValidPattern(pattern: unknown): pattern is string {
  try {
    assertPattern(pattern);
    return true;
  } catch {
    return false;
  }
}

/** The literal prefix of a wildcard pattern, or `undefined` for an exact pattern. */
function wildcardPrefix(pattern: string): string | undefined {
  return pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
}

/**
 * True when the concrete `value` is matched by `pattern`: `*` matches everything, `p*` matches
 * values that start with `p` (including `p` itself), anything else matches only itself. Invalid
 * patterns and non-string or over-long values never match (fail closed).
 */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!isValidPattern(pattern) || typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) return false;
  const prefix = wildcardPrefix(pattern);
  return prefix === undefined ? pattern === value : value.startsWith(prefix);
}

/**
 * Attenuation on patterns: true when every value `child` matches is also matched by `parent`
 * (set inclusion, decided exactly):
 * - parent `*` covers every pattern;
 * - parent `p*` covers an exact child `c` when `c` starts with `p`, and a child `q*` when `q`
 *   starts with `p`;
 * - an exact parent `e` covers only the exact child `e` (a wildcard child matches infinitely many
 *   values, never a subset of one).
 *
 * Invalid patterns cover nothing and are covered by nothing (fail closed).
 *
 * @example
 * ```ts
 * covers('payment.*', 'payment.approve'); // true
 * covers('payment.approve', 'payment.*'); // false: the child is broader
 * ```
 */
export function covers(parent: string, child: string): boolean {
  if (!isValidPattern(parent) || !isValidPattern(child)) return false;
  const parentPrefix = wildcardPrefix(parent);
  if (parentPrefix === undefined) return parent === child;
  const childPrefix = wildcardPrefix(child);
  return (childPrefix ?? child).startsWith(parentPrefix);
}

/** True when `parent` covers `child` on both the action and the resource (see {@link covers}). */
export function capabilityCovers(parent: Capability, child: Capability): boolean {
  return covers(parent.action, child.action) && covers(parent.resource, child.resource);
}

/** True when the capability matches the concrete `action` on the concrete `resource`. */
export function capabilityMatches(capability: Capability, action: string, resource: string): boolean {
  return matchesPattern(capability.action, action) && matchesPattern(capability.resource, resource);
}
