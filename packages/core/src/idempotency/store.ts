import { EnablementError } from '../errors/enablement-error.js';

/**
 * What {@link IdempotencyStore.begin} found for a key.
 *
 * - `acquired`: the key was free (never seen, expired, or released); the caller now holds its
 *   lock and must {@link IdempotencyStore.complete} or {@link IdempotencyStore.release} it with
 *   `token`.
 * - `in_flight`: another executor holds the lock with the same fingerprint; `retryAfterMs` is
 *   the time left on that lock (after which a crashed executor no longer blocks the key).
 * - `completed`: the operation already ran with the same fingerprint; `result` is what was stored.
 * - `mismatch`: the key is in use (locked or completed) with a different fingerprint: the same
 *   idempotency key was reused for different parameters.
 */
export type IdempotencyBeginResult =
  | { readonly status: 'acquired'; readonly token: string }
  | { readonly status: 'in_flight'; readonly retryAfterMs: number }
  | { readonly status: 'completed'; readonly result: string }
  | { readonly status: 'mismatch' };

/** The state of a key as {@link IdempotencyStore.get} reports it. */
export type IdempotencyEntry =
  | {
      readonly status: 'in_flight';
      /** Fingerprint of the parameters the lock was taken for. */
      readonly fingerprint: string;
      /** Time left on the lock, milliseconds (> 0). */
      readonly expiresInMs: number;
    }
  | {
      readonly status: 'completed';
      /** Fingerprint of the parameters the result belongs to. */
      readonly fingerprint: string;
      /** The stored result, exactly as given to `complete`. */
      readonly result: string;
      /** Time left in the deduplication window, milliseconds (> 0). */
      readonly expiresInMs: number;
    };

/**
 * Storage of idempotency records (spec §9.2), shaped so that Redis can implement each method
 * atomically: `begin` is `SET key <lock> NX PX lockTtlMs` plus a `GET` in one Lua script,
 * `complete` and `release` are compare-and-set scripts on the lock's `token`.
 *
 * Keys are opaque strings (the guard builds `idem:{product}:{operation}:{key}`), fingerprints are
 * opaque strings compared exactly, and results are strings (the guard stores canonical JSON), so
 * that every value survives a remote store byte for byte. Durations are whole milliseconds, as
 * Redis `PX` takes them. Every implementation must pass `idempotencyStoreContract` from
 * `@creto/testing`.
 */
export interface IdempotencyStore {
  /**
   * Atomically looks up `key` and, when it is free, locks it for `lockTtlMs` on behalf of
   * `fingerprint`. An expired lock or result counts as free: that is how a crashed executor
   * stops blocking its key.
   */
  begin(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyBeginResult>;
  /**
   * Stores `result` under `key` for `ttlMs` (the deduplication window), replacing the lock taken
   * with `token`, and returns `true`. Returns `false`, storing nothing, when that lock is no
   * longer held: it expired (whether or not another executor has taken the key since), or it was
   * released. The lock TTL must therefore exceed the operation's worst-case duration.
   */
  complete(key: string, token: string, result: string, ttlMs: number): Promise<boolean>;
  /**
   * Frees `key` if it is still locked with `token` (the operation failed and may be retried);
   * returns whether it did. Never touches a stored result or another executor's lock.
   */
  release(key: string, token: string): Promise<boolean>;
  /** The current, unexpired state of `key`, or `undefined` when the key is free. */
  get(key: string): Promise<IdempotencyEntry | undefined>;
}

/** Longest store key accepted (the guard's keys are far shorter). */
export const MAX_IDEMPOTENCY_STORE_KEY_LENGTH = 1024;
/** Longest fingerprint accepted (a SHA-256 hex digest is 64 characters). */
export const MAX_IDEMPOTENCY_FINGERPRINT_LENGTH = 256;

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `idempotency store: ${message}`);
}

/** Throws `PL-400` unless `value` is a non-empty string of at most `max` UTF-16 code units. */
export function assertStoreString(value: unknown, field: string, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${field} must be a non-empty string`);
  if (value.length > max) throw invalid(`${field} is longer than ${max} characters`);
}

/** Throws `PL-400` unless `value` is a whole number of milliseconds ≥ 1 (Redis `PX` rejects others). */
export function assertStoreTtl(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${field} must be a positive integer number of milliseconds`);
  }
}
