/**
 * The Oversight engine: `createOversight` (the `OversightClient` port plus approver responses,
 * queries, transition events and recovery), its options and public types.
 * @module
 */
export { createOversight } from './engine.js';
export { checkResourceUri, defaultResourceUri, MAX_CALLER_IDEMPOTENCY_KEY_LENGTH } from './input.js';
export {
  APPROVAL_NOTIFICATION_KIND,
  type ApprovalNotification,
  approvalLink,
  buildApprovalNotification,
  buildApprovalNotifications,
  MAX_APPROVAL_BODY_LENGTH,
  notificationId,
} from './notification.js';
export {
  DEFAULT_APPROVAL_LINK_BASE,
  DEFAULT_CHANNEL_TYPE,
  DEFAULT_MAX_LISTENERS,
  DEFAULT_MAX_OPEN_REQUESTS,
  DEFAULT_MAX_RESPONSE_SKEW_MS,
  DEFAULT_MAX_WAITERS,
  DEFAULT_MEMORY_TIMEOUT_MS,
  DEFAULT_REASONING_LIMIT,
  MAX_POLICY_RULES,
  type OversightAuditSink,
  type OversightNhi,
  type OversightOptions,
} from './options.js';
export type {
  CancelRequestOptions,
  ListRequestsPage,
  ListRequestsQuery,
  OversightEngine,
  OversightEngineStats,
  OversightOutcomeView,
  OversightRecoveryReport,
  OversightRequestInput,
  OversightRequestSummary,
  OversightRequestView,
  OversightTransitionEvent,
  OversightTransitionListener,
  OversightVoteView,
  SubmitResponseResult,
} from './types.js';
