import { EnablementError, type ErrorCode } from '@creto/core';

/**
 * What an error message must show: a substring it must contain, or a pattern it must match.
 */
export type MessageExpectation = string | RegExp;

function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return String(value);
}

function matches(message: string, expected: MessageExpectation): boolean {
  // `search` ignores `lastIndex`, so a global or sticky pattern matches the same way every time.
  return typeof expected === 'string' ? message.includes(expected) : message.search(expected) !== -1;
}

/** How a call ended: it threw or rejected with `thrown`, or it did not. */
interface Outcome {
  readonly threw: boolean;
  readonly thrown: unknown;
}

const RETURNED: Outcome = { threw: false, thrown: undefined };

/** Returns what was thrown if it is the expected error, or throws an assertion failure. */
function check(
  outcome: Outcome,
  kind: 'throw' | 'reject',
  code: ErrorCode,
  messageIncludes: MessageExpectation | undefined,
): EnablementError {
  const wanted = `expected ${kind === 'throw' ? 'a throw' : 'a rejection'} of EnablementError ${code}`;
  if (!outcome.threw) throw new Error(`${wanted}, but it ${kind === 'throw' ? 'returned' : 'resolved'}`);
  const { thrown } = outcome;
  if (!EnablementError.is(thrown))
    throw new Error(`${wanted}, got ${describeValue(thrown)}`, { cause: thrown });
  if (thrown.code !== code) {
    throw new Error(`${wanted}, got ${thrown.code}: ${thrown.message}`, { cause: thrown });
  }
  if (messageIncludes !== undefined && !matches(thrown.message, messageIncludes)) {
    throw new Error(`${wanted} with a message matching ${String(messageIncludes)}, got: ${thrown.message}`, {
      cause: thrown,
    });
  }
  return thrown;
}

/**
 * Runs `fn` and asserts that it throws an `EnablementError` with `code` and, when given, a message
 * that contains `messageIncludes` (a string) or matches it (a `RegExp`). Returns the error, for
 * further checks. Anything else (no throw, another error, another code) throws an `Error` that
 * describes what happened, which fails the test in any runner: this module does not import one.
 *
 * @example
 * ```ts
 * const error = expectEnablementError(() => parseUuid('nope'), 'PL-400', 'uuid');
 * expect(error.retryable).toBe(false);
 * ```
 */
export function expectEnablementError(
  fn: () => unknown,
  code: ErrorCode,
  messageIncludes?: MessageExpectation,
): EnablementError {
  let outcome = RETURNED;
  try {
    fn();
  } catch (error) {
    outcome = { threw: true, thrown: error };
  }
  return check(outcome, 'throw', code, messageIncludes);
}

/**
 * The async twin of {@link expectEnablementError}: awaits `promiseOrFn` (a promise, or a function
 * returning one, whose synchronous throw counts as a rejection) and asserts that it rejects with
 * an `EnablementError` with `code` and, when given, a message that contains or matches
 * `messageIncludes`. Resolves to the error.
 *
 * @example
 * ```ts
 * const error = await expectEnablementRejection(bus.publish('s.*', data), 'PL-400', 'subject');
 * await expectEnablementRejection(() => store.begin('k', 'fp', 0), 'PL-400');
 * ```
 */
export async function expectEnablementRejection(
  promiseOrFn: PromiseLike<unknown> | (() => unknown),
  code: ErrorCode,
  messageIncludes?: MessageExpectation,
): Promise<EnablementError> {
  let outcome = RETURNED;
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (error) {
    outcome = { threw: true, thrown: error };
  }
  return check(outcome, 'reject', code, messageIncludes);
}

/**
 * The code of the `EnablementError` that `fn` throws, or `undefined` when it returns. Anything
 * else it throws is rethrown, so a foreign failure surfaces as itself. For tables of cases, where
 * `expect(errorCodeOf(f)).toBe('PL-400')` reads better than one assertion per call.
 *
 * @example
 * ```ts
 * expect(errorCodeOf(() => parseNhi('agent:nhi:ed25519:0'))).toBe('PL-400');
 * ```
 */
export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (EnablementError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}

/**
 * The async twin of {@link errorCodeOf}: awaits `promiseOrFn` (a promise, or a function whose
 * synchronous throw counts as a rejection) and resolves to the rejection's code, or `undefined`
 * when it resolves.
 */
export async function rejectionCodeOf(
  promiseOrFn: PromiseLike<unknown> | (() => unknown),
): Promise<string | undefined> {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (error) {
    if (EnablementError.is(error)) return error.code;
    throw error;
  }
  return undefined;
}
