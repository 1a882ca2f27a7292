import { ERROR_CATALOGUE } from './catalogue.js';
import { EnablementError } from './enablement-error.js';

/**
 * How to retry a failed call (spec §8.4). Durations are milliseconds.
 *
 * - `never`: do not retry.
 * - `exponential_backoff`: delays grow from `initialDelayMs` to `maxDelayMs`, at most `maxAttempts` tries.
 * - `fixed_delay`: the same delay between at most `maxAttempts` tries.
 * - `retry_after`: one retry after `delayMs` (a quota period, a `Retry-After` hint).
 */
export type RetryStrategy =
  | { readonly kind: 'never' }
  | {
      readonly kind: 'exponential_backoff';
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
      readonly maxAttempts: number;
    }
  | { readonly kind: 'fixed_delay'; readonly delayMs: number; readonly maxAttempts: number }
  | { readonly kind: 'retry_after'; readonly delayMs: number };

/** The spec's backoff for transient `*-503` errors: 100 ms doubling to 30 s, 5 attempts. */
export const TRANSIENT_BACKOFF: RetryStrategy = Object.freeze({
  kind: 'exponential_backoff',
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  maxAttempts: 5,
});

/** Default wait after a quota error that carries no `retryAfterMs` (spec §8.4: one hour). */
export const DEFAULT_QUOTA_RETRY_AFTER_MS = 3_600_000;

const NEVER: RetryStrategy = Object.freeze({ kind: 'never' });

// The transient codes spec §8.4 lists. OV-503 is among them although its catalogue kind is
// `degraded` (Oversight went on without reasoning context): fetching the context again may work.
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['PL-503', 'RT-503', 'MT-503', 'OV-503', 'MS-503']);

/**
 * The retry strategy for an error, following the mapping of spec §8.4:
 * transient `*-503` → exponential backoff; `MT-429` / `RT-429` → retry after the error's
 * `retryAfterMs` (default one hour); every other code → never.
 *
 * Errors that are not `EnablementError`s are never retried: an unknown failure is not evidence
 * that the call is safe to repeat.
 *
 * @example
 * ```ts
 * retryStrategyFor(new EnablementError('PL-503', 'NHI unavailable'));
 * // { kind: 'exponential_backoff', initialDelayMs: 100, maxDelayMs: 30000, maxAttempts: 5 }
 * ```
 */
export function retryStrategyFor(error: unknown): RetryStrategy {
  if (!EnablementError.is(error)) return NEVER;
  const info = ERROR_CATALOGUE[error.code];
  if (info.kind === 'unavailable' || TRANSIENT_CODES.has(error.code)) return TRANSIENT_BACKOFF;
  if (error.code === 'MT-429' || error.code === 'RT-429') {
    return { kind: 'retry_after', delayMs: error.retryAfterMs ?? DEFAULT_QUOTA_RETRY_AFTER_MS };
  }
  return NEVER;
}
