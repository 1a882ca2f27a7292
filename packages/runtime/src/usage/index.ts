/**
 * Usage: signing of the runtime's usage events on the agent's behalf and the bounded outbox that
 * delivers them to the `UsageSink` with retries (spec §4.1).
 * @module
 */
export {
  createUsageOutbox,
  DEFAULT_MAX_PENDING_USAGE_EVENTS,
  DEFAULT_USAGE_RETRY_INITIAL_MS,
  DEFAULT_USAGE_RETRY_MAX_MS,
  type UsageFlushResult,
  type UsageOutbox,
  type UsageOutboxOptions,
  type UsageOutboxStats,
  type UsageSlot,
} from './outbox.js';
export { keyPairUsageSigner, signUsageEvent, type UsageEventSigner } from './signer.js';
