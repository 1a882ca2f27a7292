import type { z } from 'zod';
import type { ErrorCode } from '../errors/catalogue.js';
import { EnablementError } from '../errors/enablement-error.js';

/** Most issues listed in one error message; the rest are counted. */
const MAX_ISSUES_IN_MESSAGE = 3;

/** `a.b[2].c` for a zod issue path; `(root)` for the value itself. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

/** One line per issue: `path: message`, at most three, then `(+N more)`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES_IN_MESSAGE).map((i) => `${formatIssuePath(i.path)}: ${i.message}`);
  const more = issues.length - shown.length;
  return more > 0 ? `${shown.join('; ')} (+${more} more)` : shown.join('; ');
}

/** How a failed conversion is reported: the contract's name and the error code to raise. */
export interface WireFailureContext {
  /** Contract name used in the message, e.g. `RuntimeUsageEvent`. */
  readonly contract: string;
  /** The code to raise: `PL-400`, or the owning product's (`MT-400`, `MS-400`, `OV-400`). */
  readonly code: ErrorCode;
}

function failure(
  direction: 'decode' | 'encode',
  context: WireFailureContext,
  detail: string,
  cause: unknown,
): EnablementError {
  const verb = direction === 'decode' ? 'invalid' : 'cannot encode';
  return new EnablementError(context.code, `${verb} ${context.contract}: ${detail}`, { cause });
}

/**
 * Decodes wire JSON with a codec and turns every failure into an `EnablementError` with
 * `context.code` whose message names the failing path(s), e.g.
 * `invalid RuntimeUsageEvent: properties.cost_usd: expected a plain decimal string`.
 * This is the one place where zod errors become SDK errors.
 */
export function decodeWire<T, W>(codec: z.ZodType<T, W>, json: unknown, context: WireFailureContext): T {
  let result: z.ZodSafeParseResult<T>;
  try {
    result = codec.safeParse(json);
  } catch (error) {
    // A transform threw instead of reporting an issue (a bug) or the input blew the stack.
    throw failure('decode', context, 'the value could not be decoded', error);
  }
  if (!result.success) throw failure('decode', context, formatIssues(result.error.issues), result.error);
  return result.data;
}

/**
 * Encodes a TypeScript value to its wire JSON with a codec; failures become an
 * `EnablementError` with `context.code`, naming the failing path (in TypeScript field names).
 */
export function encodeWire<T, W>(codec: z.ZodType<T, W>, value: T, context: WireFailureContext): W {
  let result: z.ZodSafeParseResult<W>;
  try {
    result = codec.safeEncode(value);
  } catch (error) {
    throw failure('encode', context, 'the value could not be encoded', error);
  }
  if (!result.success) throw failure('encode', context, formatIssues(result.error.issues), result.error);
  return result.data;
}
