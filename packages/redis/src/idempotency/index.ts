/**
 * The `IdempotencyStore` port on Redis (spec §9.2): Lua scripts for atomic lock, complete and
 * release, expiry on Redis's clock.
 * @module
 */
export {
  createRedisIdempotencyStore,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  MAX_REDIS_KEY_PREFIX_LENGTH,
  type RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
} from './redis-store.js';
