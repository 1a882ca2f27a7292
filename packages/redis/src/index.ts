/**
 * `@creto/redis`: the `IdempotencyStore` port of `@creto/core` on Redis.
 * @module @creto/redis
 */
export {
  createRedisIdempotencyStore,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  MAX_REDIS_KEY_PREFIX_LENGTH,
  type RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
} from './idempotency/index.js';
