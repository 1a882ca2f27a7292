/**
 * `@creto/nats`: the `EventBus` port of `@creto/core` on NATS JetStream.
 * @module @creto/nats
 */
export {
  createNatsEventBus,
  DEFAULT_NATS_DEAD_LETTER_LIMITS,
  DEFAULT_NATS_PULL_BATCH,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  MAX_NATS_DEAD_LETTER_RETRIES,
  MIN_JETSTREAM_DUPLICATE_WINDOW_MS,
  type NatsEventBus,
  type NatsEventBusOptions,
  type StorageKind,
} from './bus/index.js';
