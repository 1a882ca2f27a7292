import { EnablementError, MAX_MODEL_ID_LENGTH } from '@creto/core';

/** Most model patterns one matcher holds (a provider's list, or the whole price table). */
export const MAX_MODEL_PATTERNS = 10_000;

const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

/**
 * Whether `text` is a model pattern: an exact id, a prefix ending in one `*`, or `*` alone.
 * Visible ASCII, at most `MAX_MODEL_ID_LENGTH` characters, `*` only at the end.
 */
export function isModelPattern(text: unknown): text is string {
  if (typeof text !== 'string' || text.length > MAX_MODEL_ID_LENGTH || !VISIBLE_ASCII.test(text))
    return false;
  const star = text.indexOf('*');
  return star === -1 || star === text.length - 1;
}

/**
 * Whether `text` is a model id the SDK accepts: what the `InferenceCall` usage event can carry
 * (spec §4.1 `model_id`: visible ASCII, at most `MAX_MODEL_ID_LENGTH`), without `*`.
 */
export function isModelId(text: unknown): text is string {
  return (
    typeof text === 'string' &&
    text.length <= MAX_MODEL_ID_LENGTH &&
    VISIBLE_ASCII.test(text) &&
    !text.includes('*')
  );
}

/**
 * Finds the value registered for a model: an exact pattern wins, then the longest prefix pattern
 * (`claude-3-5-*` beats `claude-*`, which beats `*`). Built once; lookups do not allocate.
 */
export interface PatternMatcher<T> {
  /** The value of the best pattern for `model`, or `undefined`. */
  match(model: string): T | undefined;
}

/**
 * Builds a {@link PatternMatcher}. A pattern registered twice throws `PL-400` naming `what`: the
 * choice between two providers (or two prices) for the same model must not depend on order.
 */
export function createPatternMatcher<T>(
  entries: Iterable<readonly [pattern: string, value: T]>,
  what: string,
): PatternMatcher<T> {
  const exact = new Map<string, T>();
  const prefixes: { prefix: string; value: T }[] = [];
  const seen = new Set<string>();
  for (const [pattern, value] of entries) {
    if (seen.has(pattern)) {
      throw new EnablementError('PL-400', `${what}: model pattern ${JSON.stringify(pattern)} appears twice`);
    }
    seen.add(pattern);
    if (pattern.endsWith('*')) prefixes.push({ prefix: pattern.slice(0, -1), value });
    else exact.set(pattern, value);
  }
  // Longest first, so the first prefix that matches is the most specific one.
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return {
    match(model: string): T | undefined {
      const hit = exact.get(model);
      if (hit !== undefined) return hit;
      for (const { prefix, value } of prefixes) {
        if (model.startsWith(prefix)) return value;
      }
      return undefined;
    },
  };
}
