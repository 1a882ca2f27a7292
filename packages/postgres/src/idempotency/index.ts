/**
 * Idempotency: core's `IdempotencyStore` port on PostgreSQL / PGlite (spec §9.2).
 * @module
 */
export {
  createPostgresIdempotencyStore,
  DEFAULT_IDEMPOTENCY_PURGE_LIMIT,
  DEFAULT_POSTGRES_IDEMPOTENCY_MAX_RESULT_LENGTH,
  type PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
} from './store.js';
