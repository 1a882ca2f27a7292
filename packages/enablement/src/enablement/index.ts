/**
 * The composition root: `createEnablement` builds the platform and the four products and wires
 * them (spec §4, §7, §9.1, §11); its options, the service identities, the system policies, the
 * notification routing, the receipt audit consumer and the quota-approval wiring.
 * @module
 */
export {
  createEnablement,
  DEFAULT_RUNTIME_ALIASES,
  LAYER_STREAM_MAX_MESSAGES,
  MAX_CONNECTED_AGENTS,
  MAX_SETTLE_ROUNDS,
  OVERSIGHT_NOTIFICATIONS_STREAM,
} from './create.js';
export { ENGINE_CHECK_NAME } from './health.js';
export {
  deriveEnablementKeys,
  ENABLEMENT_SEED_LENGTH,
  SERVICE_KEY_KINDS,
  SERVICE_KEY_ROLES,
} from './keys.js';
export { MAX_TRACKED_NOTIFICATIONS, MAX_WEBHOOKS, NHI_RECIPIENT_PREFIXES } from './notifier.js';
export { RESERVED_PRODUCT_OPTIONS } from './options.js';
export { NOTIFICATION_BOT_POLICY_ID, SYSTEM_POLICY_PREFIX, systemPolicies } from './policies.js';
export { MAX_PENDING_QUOTA_INCREASES, NEW_LIMIT_PARAMETER, newLimitOf } from './quota-approvals.js';
export {
  RECEIPT_AUDIT_ACTION,
  RECEIPT_RETRY_DELAY_MS,
  RECEIPTS_AUDIT_CONSUMER,
  RECEIPTS_STREAM,
  receiptAuditEvent,
} from './receipts.js';
export {
  DEFAULT_PROVISION_IMAGE,
  DEFAULT_PROVISION_RUNTIME_CLASS,
  PROVISION_AGENT_SAGA,
  SAGA_ID_LABEL,
  WELCOME_MESSAGE,
} from './saga.js';
export type {
  Enablement,
  EnablementHealth,
  EnablementKeys,
  EnablementMessaging,
  EnablementOptions,
  EnablementSaga,
  EnablementStores,
  EnablementWebhook,
  NotificationListener,
  ProvisionAgentInput,
  ProvisionResult,
} from './types.js';
