import { EnablementError } from '../errors/enablement-error.js';

const RETRY_BRAND = Symbol.for('@creto/core.RetryError');
const CIRCUIT_BRAND = Symbol.for('@creto/core.CircuitOpenError');

/** Most attempt errors a {@link RetryError} keeps (the latest ones). */
export const MAX_RECORDED_RETRY_ERRORS = 16;

function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/**
 * The error `retry` throws when it gives up after two or more attempts: the last attempt's
 * error is its `cause` (and `causedBy` when it is an `EnablementError`, whose code, product,
 * retryability, `retryAfterMs` and trace id it keeps), and `attempts` says how many calls were
 * made. A last error that is not an `EnablementError` becomes `PL-500`, and its text is not
 * copied (it may hold secrets); it stays reachable as `cause`.
 */
export class RetryError extends EnablementError {
  /** How many times the operation was called. */
  readonly attempts: number;
  /** The errors of the latest attempts, oldest first (at most {@link MAX_RECORDED_RETRY_ERRORS}). */
  readonly errors: readonly unknown[];

  constructor(last: unknown, attempts: number, errors: readonly unknown[]) {
    const known = EnablementError.is(last) ? last : undefined;
    const what = known ? known.message : 'operation failed with a non-EnablementError';
    super(known?.code ?? 'PL-500', `${what} (gave up after ${attempts} attempts)`, {
      cause: last,
      retryable: known?.retryable ?? false,
      ...(known ? { product: known.product } : {}),
    });
    this.name = 'RetryError';
    this.attempts = attempts;
    this.errors = Object.freeze(errors.slice(-MAX_RECORDED_RETRY_ERRORS));
    Object.defineProperty(this, RETRY_BRAND, { value: true });
  }

  /** Brand check that works across package copies (also used by `instanceof`). */
  static override is(value: unknown): value is RetryError {
    return hasBrand(value, RETRY_BRAND);
  }

  // EnablementError answers `instanceof` for every EnablementError; narrow it to this class.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, RETRY_BRAND);
  }
}

/** Why a {@link CircuitOpenError} rejected the call. */
export type CircuitRejection = 'open' | 'trial_in_progress';

/**
 * `PL-503` (retryable) raised by a circuit breaker that rejects a call without making it (spec
 * §11.3): the breaker is open (`retryAfterMs` = time until it lets a trial call through) or
 * half-open with its single trial call still running (no hint: the trial's outcome decides).
 */
export class CircuitOpenError extends EnablementError {
  /** Name of the breaker that rejected the call. */
  readonly breaker: string;
  /** Whether the breaker was open or waiting for its trial call. */
  readonly rejection: CircuitRejection;

  constructor(breaker: string, rejection: CircuitRejection, retryAfterMs?: number) {
    super(
      'PL-503',
      rejection === 'open'
        ? `circuit breaker "${breaker}" is open`
        : `circuit breaker "${breaker}" is half-open and its trial call is running`,
      { retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
    );
    this.name = 'CircuitOpenError';
    this.breaker = breaker;
    this.rejection = rejection;
    Object.defineProperty(this, CIRCUIT_BRAND, { value: true });
  }

  /** Brand check that works across package copies (also used by `instanceof`). */
  static override is(value: unknown): value is CircuitOpenError {
    return hasBrand(value, CIRCUIT_BRAND);
  }

  // EnablementError answers `instanceof` for every EnablementError; narrow it to this class.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, CIRCUIT_BRAND);
  }
}
