/**
 * Contract suites: the behaviour every implementation of a port must show. Each export
 * registers vitest `describe`/`it` blocks for one port, run against a factory.
 * @module @creto/testing/contracts
 */
export {
  type AuditLogStoreFactory,
  type AuditLogStoreFixture,
  auditLogStoreContract,
} from './audit-log-store.js';
export {
  type EventBusContractOptions,
  type EventBusFactory,
  type EventBusFixture,
  eventBusContract,
} from './event-bus.js';
export {
  type IdempotencyStoreContractOptions,
  type IdempotencyStoreFactory,
  type IdempotencyStoreFixture,
  idempotencyStoreContract,
} from './idempotency-store.js';
export {
  type MeteringCommitOptions,
  type MeteringFixtures,
  type MeteringStoreContractOptions,
  type MeteringStoreFactory,
  type MeteringStoreFixture,
  type MeteringStoreNeeds,
  meteringFixtures,
  meteringStoreContract,
} from './metering-store.js';
export {
  type OversightFixtures,
  type OversightStoreFactory,
  type OversightStoreFixture,
  type OversightStoreNeeds,
  oversightFixtures,
  oversightStoreContract,
} from './oversight-store.js';
export {
  type RelayQueueStoreFactory,
  type RelayQueueStoreFixture,
  type RelayQueueStoreNeeds,
  relayQueueStoreContract,
} from './relay-queue-store.js';
