/**
 * Contract suites: the behaviour every implementation of a port must show. Each export
 * registers vitest `describe`/`it` blocks for one port, run against a factory.
 * @module @creto/testing/contracts
 */
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
