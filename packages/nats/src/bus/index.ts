/**
 * The `EventBus` port on NATS JetStream (ARCHITECTURE §5, spec §4.1): streams, durable pull
 * consumers, deduplicated publishes, explicit acks, dead letters on `$DLQ.<stream>.<consumer>`.
 * @module
 */

export { MIN_JETSTREAM_DUPLICATE_WINDOW_MS, type StorageKind } from './mapping.js';
export {
  createNatsEventBus,
  DEFAULT_NATS_DEAD_LETTER_LIMITS,
  DEFAULT_NATS_PULL_BATCH,
  DEFAULT_NATS_REQUEST_TIMEOUT_MS,
  MAX_NATS_DEAD_LETTER_RETRIES,
  type NatsEventBus,
  type NatsEventBusOptions,
} from './nats-event-bus.js';
