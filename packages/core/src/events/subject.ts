import { EnablementError } from '../errors/enablement-error.js';

/**
 * Longest subject or filter accepted, in characters. NATS sets no hard limit, but subjects are
 * matched on every publish and delivery, so hostile input must stay cheap to split.
 */
export const MAX_SUBJECT_LENGTH = 256;

/** Most `.`-separated tokens in a subject or filter. */
export const MAX_SUBJECT_TOKENS = 16;

/** Wildcard token matching exactly one token (NATS `*`). */
export const SINGLE_WILDCARD = '*';

/** Wildcard token matching one or more trailing tokens (NATS `>`); only valid as the last token. */
export const TAIL_WILDCARD = '>';

// A literal token: printable ASCII without space, `.`, `*` or `>`. NATS itself allows any
// non-whitespace byte, but recommends this set; staying inside it keeps subjects safe to log, to
// embed in dead-letter subjects and to map onto any broker.
const LITERAL_TOKEN = /^[!-)+-\-/-=?-~]+$/;

function invalid(field: string, message: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${message}`);
}

/** Splits and checks a subject or filter; wildcards only when `wildcards` is set. */
function tokens(value: unknown, field: string, wildcards: boolean): string[] {
  if (typeof value !== 'string') throw invalid(field, 'expected a string');
  if (value.length === 0) throw invalid(field, 'must not be empty');
  if (value.length > MAX_SUBJECT_LENGTH) throw invalid(field, `longer than ${MAX_SUBJECT_LENGTH} characters`);
  const parts = value.split('.');
  if (parts.length > MAX_SUBJECT_TOKENS) throw invalid(field, `more than ${MAX_SUBJECT_TOKENS} tokens`);
  for (const [i, token] of parts.entries()) {
    if (token === '') throw invalid(field, `empty token at position ${i} (leading, trailing or double '.')`);
    if (token === SINGLE_WILDCARD || token === TAIL_WILDCARD) {
      if (!wildcards) throw invalid(field, `wildcard '${token}' not allowed in a subject to publish on`);
      if (token === TAIL_WILDCARD && i !== parts.length - 1) {
        throw invalid(field, `'>' must be the last token`);
      }
      continue;
    }
    if (!LITERAL_TOKEN.test(token)) {
      throw invalid(
        field,
        `token ${i} has a character outside printable ASCII, or a '*'/'>' that is not a whole token`,
      );
    }
  }
  return parts;
}

/**
 * Throws `PL-400` unless `subject` is a literal subject (no wildcards) that a message can be
 * published on: `.`-separated non-empty tokens of printable ASCII, at most
 * {@link MAX_SUBJECT_LENGTH} characters and {@link MAX_SUBJECT_TOKENS} tokens.
 */
export function assertSubject(subject: unknown, field = 'subject'): asserts subject is string {
  tokens(subject, field, false);
}

/**
 * Throws `PL-400` unless `filter` is a valid subject filter: a subject whose tokens may also be
 * `*` (one token) or, as the last token only, `>` (one or more tokens), as in NATS.
 */
export function assertFilter(filter: unknown, field = 'filter'): asserts filter is string {
  tokens(filter, field, true);
}

/** Whether `subject` is a valid literal subject (see {@link assertSubject}). */
export function isValidSubject(subject: unknown): subject is string {
  try {
    tokens(subject, 'subject', false);
    return true;
  } catch {
    return false;
  }
}

/** Whether `filter` is a valid subject filter (see {@link assertFilter}). */
export function isValidFilter(filter: unknown): filter is string {
  try {
    tokens(filter, 'filter', true);
    return true;
  } catch {
    return false;
  }
}

/**
 * A filter split into tokens once, so that matching a subject on every publish or delivery does
 * not split the filter again.
 */
export interface CompiledFilter {
  /** The filter text. */
  readonly filter: string;
  /** Its tokens. */
  readonly tokens: readonly string[];
  /** True when the filter has no wildcard (matching is then a string comparison). */
  readonly literal: boolean;
}

/** Validates and splits a filter (`PL-400` when invalid). */
export function compileFilter(filter: unknown, field = 'filter'): CompiledFilter {
  const parts = tokens(filter, field, true);
  const literal = !parts.some((t) => t === SINGLE_WILDCARD || t === TAIL_WILDCARD);
  return Object.freeze({ filter: filter as string, tokens: Object.freeze(parts), literal });
}

/** Matches the tokens of a literal subject against a compiled filter. */
export function matchesTokens(filter: CompiledFilter, subjectTokens: readonly string[]): boolean {
  const f = filter.tokens;
  for (let i = 0; i < f.length; i++) {
    const token = f[i];
    // `>` needs at least one token to match: `a.>` matches `a.b` but not `a`.
    if (token === TAIL_WILDCARD) return subjectTokens.length > i;
    if (i >= subjectTokens.length) return false;
    if (token !== SINGLE_WILDCARD && token !== subjectTokens[i]) return false;
  }
  return f.length === subjectTokens.length;
}

/**
 * Whether the literal `subject` matches `filter` (NATS rules: `*` is exactly one token, `>` one
 * or more trailing tokens). Both are validated (`PL-400`).
 *
 * @example
 * ```ts
 * subjectMatches('metering.events.*', 'metering.events.runtime'); // true
 * subjectMatches('metering.>', 'metering');                       // false: '>' needs a token
 * ```
 */
export function subjectMatches(filter: string, subject: string): boolean {
  const compiled = compileFilter(filter);
  const parts = tokens(subject, 'subject', false);
  return matchesTokens(compiled, parts);
}

/**
 * Whether some literal subject matches both filters (they "overlap"). Used to refuse two streams
 * capturing the same subject, and two work-queue consumers sharing messages.
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = compileFilter(a, 'a').tokens;
  const y = compileFilter(b, 'b').tokens;
  for (let i = 0; ; i++) {
    const s = x[i];
    const t = y[i];
    if (s === undefined || t === undefined) return s === t; // both ended together
    // A '>' consumes the rest of the other side, which has at least this one token left.
    if (s === TAIL_WILDCARD || t === TAIL_WILDCARD) return true;
    if (s !== SINGLE_WILDCARD && t !== SINGLE_WILDCARD && s !== t) return false;
  }
}

/**
 * Whether every subject matching `inner` also matches `outer` (`inner` is a subset of `outer`).
 */
export function filterContains(outer: string, inner: string): boolean {
  const o = compileFilter(outer, 'outer').tokens;
  const n = compileFilter(inner, 'inner').tokens;
  for (let i = 0; ; i++) {
    const s = o[i];
    const t = n[i];
    if (s === undefined || t === undefined) return s === t;
    if (s === TAIL_WILDCARD) return true; // `inner` has at least one token left here
    if (t === TAIL_WILDCARD) return false; // `inner` may be longer than `outer` allows
    if (s === SINGLE_WILDCARD) continue; // covers a literal or a '*'
    if (t === SINGLE_WILDCARD || s !== t) return false;
  }
}
