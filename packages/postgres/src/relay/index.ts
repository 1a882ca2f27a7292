/**
 * Relay queues: messaging's `RelayQueueStore` port (the relay's offline queues) on PostgreSQL /
 * PGlite, namespaced per relay.
 * @module
 */
export {
  createPostgresRelayQueueStore,
  DEFAULT_POSTGRES_RELAY_MAX_ENTRIES,
  DEFAULT_POSTGRES_RELAY_NAME,
  MAX_POSTGRES_RELAY_ENVELOPE_LENGTH,
  MAX_POSTGRES_RELAY_LOAD,
  MAX_POSTGRES_RELAY_NAME_LENGTH,
  MAX_POSTGRES_RELAY_REMOVE,
  type PostgresRelayQueueStoreOptions,
  type RelayEnvelopeLike,
  type RelayQueueEntryLike,
  type RelayQueueStoreLike,
} from './store.js';
