/**
 * Relay: the messaging service that verifies, authorizes, queues and delivers envelopes, and
 * publishes signed delivery receipts and audit events (spec §3.2, §3.3, §5.2, §10). Its offline
 * queues live in memory (`createMessagingRelay`) or in a {@link RelayQueueStore} that survives a
 * restart (`openMessagingRelay`).
 * @module
 */
export {
  assertRelayQueueEntry,
  assertRelayQueueLoad,
  assertRelayQueueRemove,
  createMemoryRelayQueueStore,
  MAX_RELAY_QUEUE_LOAD,
  MAX_RELAY_QUEUE_REMOVE,
  type MemoryRelayQueueStore,
  type MemoryRelayQueueStoreOptions,
  type RelayQueueEntry,
  type RelayQueueStore,
} from './queue-store.js';
export {
  CHALLENGE_TTL_MS,
  createMessagingRelay,
  DEFAULT_MAX_PENDING_CHALLENGES,
  DEFAULT_MAX_QUEUE_PER_RECIPIENT,
  DEFAULT_MAX_QUEUED_TOTAL,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_TRACKED_DELIVERIES,
  DELIVERY_CHANNEL_LABEL,
  type DurableMessagingRelayOptions,
  MESSAGE_PROTOCOL_LABEL,
  type MessagingRelay,
  type MessagingRelayOptions,
  type MessagingRelayStats,
  openMessagingRelay,
  type RelayAuditSink,
  SESSION_PROTOCOL,
} from './relay.js';
