/**
 * Idempotency: the `IdempotencyStore` port, its in-memory store and the `IdempotencyGuard`
 * (spec §9.2, ARCHITECTURE §5).
 * @module
 */
export {
  createIdempotencyGuard,
  DEFAULT_IDEMPOTENCY_GUARD_MAX_RESULT_LENGTH,
  DEFAULT_IDEMPOTENCY_IN_FLIGHT_RETRY_AFTER_MS,
  DEFAULT_IDEMPOTENCY_LOCK_TTL_MS,
  DEFAULT_IDEMPOTENCY_MAX_IN_FLIGHT,
  type IdempotencyGuard,
  type IdempotencyGuardOptions,
  type IdempotencyStorePhase,
  type IdempotentRequest,
} from './guard.js';
export {
  createMemoryIdempotencyStore,
  DEFAULT_IDEMPOTENCY_MAX_KEYS,
  DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH,
  DEFAULT_IDEMPOTENCY_MAX_TOTAL_RESULT_LENGTH,
  type MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
} from './memory-store.js';
export {
  type IdempotencyBeginResult,
  type IdempotencyEntry,
  type IdempotencyStore,
  MAX_IDEMPOTENCY_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_STORE_KEY_LENGTH,
} from './store.js';
export {
  composeIdempotencyKey,
  DEFAULT_IDEMPOTENCY_WINDOWS,
  type IdempotencyWindow,
  idempotencyStoreKey,
  MAX_IDEMPOTENCY_KEY_LENGTH,
} from './windows.js';
