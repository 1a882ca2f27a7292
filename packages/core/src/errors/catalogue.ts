import type { ProductId } from './product.js';

/** How a caller should treat an error class (spec §8.3, §8.4). */
export type ErrorKind =
  | 'pending' // the operation is waiting on something else (an approval, a queued delivery)
  | 'invalid' // the input is wrong; the same call will fail again
  | 'unauthenticated' // a signature or credential did not verify
  | 'forbidden' // authenticated but not allowed
  | 'not_found'
  | 'conflict'
  | 'expired'
  | 'limit' // a quota or rate limit; retry after a period
  | 'timeout'
  | 'unavailable' // transient: a dependency is down; retry with backoff
  | 'degraded' // the operation went on without a soft dependency
  | 'internal';

/** One entry of the error catalogue. */
export interface ErrorCodeInfo {
  /** Product that owns the code (from its prefix, spec §8.1). */
  readonly product: ProductId;
  /** Short meaning, as in spec §8.1 / §8.3. */
  readonly title: string;
  readonly kind: ErrorKind;
  /** Whether the same call may succeed later without changing the input. */
  readonly retryable: boolean;
  /** Where the spec names this code, or `sdk` for codes the SDK adds in the spec's ranges. */
  readonly source: string;
}

function entry(
  product: ProductId,
  title: string,
  kind: ErrorKind,
  retryable: boolean,
  source: string,
): ErrorCodeInfo {
  return Object.freeze({ product, title, kind, retryable, source });
}

/**
 * Every error code the SDK raises, with its meaning and whether it is retryable.
 *
 * The spec (§8.1, §8.3, §8.4, §12.2) names the codes marked with their section; the SDK adds a
 * few more inside each product's range (marked `sdk`) so that every failure has a precise code.
 * Retry strategies per code come from {@link retryStrategyFor}.
 */
export const ERROR_CATALOGUE = Object.freeze({
  // Runtime (RT-)
  'RT-202': entry('runtime', 'Pending approval', 'pending', true, '§8.3'),
  'RT-400': entry('runtime', 'Invalid sandbox request', 'invalid', false, 'sdk'),
  'RT-403': entry('runtime', 'Spawn or action denied by policy', 'forbidden', false, '§8.3'),
  'RT-404': entry('runtime', 'Sandbox not found', 'not_found', false, '§8.1'),
  'RT-408': entry('runtime', 'Execution timed out', 'timeout', false, 'sdk'),
  'RT-413': entry('runtime', 'Sandbox resource limit exceeded', 'limit', false, 'sdk'),
  'RT-429': entry('runtime', 'Quota limit', 'limit', false, '§8.3'),
  'RT-500': entry('runtime', 'Sandbox driver failure', 'internal', false, 'sdk'),
  'RT-503': entry('runtime', 'Runtime dependency unavailable', 'unavailable', true, '§8.4'),
  // Metering (MT-)
  'MT-400': entry('metering', 'Invalid usage event', 'invalid', false, 'sdk'),
  'MT-401': entry('metering', 'Invalid signature', 'unauthenticated', false, '§8.3'),
  'MT-404': entry('metering', 'Unknown agent, meter, plan or subscription', 'not_found', false, 'sdk'),
  'MT-409': entry('metering', 'Conflicting metering state', 'conflict', false, 'sdk'),
  'MT-429': entry('metering', 'Quota exceeded', 'limit', false, '§8.1'),
  'MT-503': entry('metering', 'Metering dependency unavailable', 'unavailable', true, '§8.4'),
  // Oversight (OV-)
  'OV-202': entry('oversight', 'Notification queued', 'pending', true, '§8.3'),
  'OV-400': entry('oversight', 'Invalid oversight request or response', 'invalid', false, 'sdk'),
  'OV-401': entry('oversight', 'Approver signature invalid', 'unauthenticated', false, 'sdk'),
  'OV-403': entry('oversight', 'Approver not eligible', 'forbidden', false, '§8.1'),
  'OV-404': entry('oversight', 'Oversight request not found', 'not_found', false, 'sdk'),
  'OV-408': entry('oversight', 'Wait for approval timed out', 'timeout', true, 'sdk'),
  'OV-409': entry('oversight', 'Request already decided', 'conflict', false, 'sdk'),
  'OV-410': entry('oversight', 'Override token expired or used', 'expired', false, 'sdk'),
  'OV-503': entry('oversight', 'No reasoning context', 'degraded', true, '§8.3'),
  // Messaging (MS-)
  'MS-001': entry('messaging', 'Signature invalid', 'unauthenticated', false, '§8.1'),
  'MS-002': entry('messaging', 'Envelope expired', 'expired', false, 'sdk'),
  'MS-003': entry('messaging', 'Replayed message', 'conflict', false, 'sdk'),
  'MS-004': entry('messaging', 'Decryption failed', 'unauthenticated', false, 'sdk'),
  'MS-400': entry('messaging', 'Invalid message or envelope', 'invalid', false, 'sdk'),
  'MS-403': entry('messaging', 'Delivery not permitted', 'forbidden', false, 'sdk'),
  'MS-404': entry('messaging', 'Recipient or key bundle not found', 'not_found', false, 'sdk'),
  'MS-413': entry('messaging', 'Message or queue limit exceeded', 'limit', false, 'sdk'),
  'MS-503': entry('messaging', 'Messaging dependency unavailable', 'unavailable', true, '§8.4'),
  // Platform (PL-)
  'PL-400': entry('platform', 'Invalid input', 'invalid', false, 'sdk'),
  'PL-401': entry('platform', 'Signature invalid', 'unauthenticated', false, 'sdk'),
  'PL-403': entry('platform', 'Delegation or permission denied', 'forbidden', false, 'sdk'),
  'PL-404': entry('platform', 'Principal or key not found', 'not_found', false, 'sdk'),
  'PL-409': entry('platform', 'Conflict', 'conflict', false, 'sdk'),
  'PL-410': entry('platform', 'Principal or credential revoked', 'expired', false, 'sdk'),
  'PL-425': entry('platform', 'Clock skew beyond tolerance', 'invalid', false, 'sdk'),
  'PL-500': entry('platform', 'Internal error', 'internal', false, 'sdk'),
  'PL-503': entry('platform', 'Platform service unavailable', 'unavailable', true, '§8.1'),
} as const satisfies Record<string, ErrorCodeInfo>);

/** Every code in {@link ERROR_CATALOGUE}. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** True when `code` is in the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

/** The catalogue entry of a code. */
export function errorCodeInfo(code: ErrorCode): ErrorCodeInfo {
  return ERROR_CATALOGUE[code];
}

/**
 * The codes a product owns, in catalogue order.
 *
 * @example
 * ```ts
 * errorCodesOf('metering'); // ['MT-400', 'MT-401', 'MT-404', 'MT-409', 'MT-429', 'MT-503']
 * ```
 */
export function errorCodesOf(product: ProductId): ErrorCode[] {
  return (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).filter(
    (code) => ERROR_CATALOGUE[code].product === product,
  );
}
