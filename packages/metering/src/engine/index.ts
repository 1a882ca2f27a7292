/**
 * Engine: `createMetering`, the Metering engine (ingestion, quotas, subscriptions, invoices).
 * @module
 */

export { adjustmentLines, chargeUsages, withLines } from './invoicing.js';
export {
  createMetering,
  MAX_PERIODS_PER_RUN,
  MAX_QUERY_WINDOWS,
  QUOTA_BREACH_ACTION,
  QUOTA_NOTIFICATION_POLICY_ID,
} from './metering.js';
export {
  DEFAULT_BUS_OPTIONS,
  DEFAULT_GRACE_PERIOD_MS,
  DEFAULT_MAX_LEARNED_AGENTS,
  DEFAULT_MAX_PENDING_NOTIFICATIONS,
  MAX_GRACE_PERIOD_MS,
} from './options.js';
export type {
  CreateSubscriptionInput,
  GenerateInvoicesResult,
  HostUsageInput,
  IngestResult,
  Metering,
  MeteringAuditSink,
  MeteringBusOptions,
  MeteringOptions,
  QuotaApproval,
  QuotaInput,
  QuotaOversightOptions,
  UsageQuery,
  UsageRow,
} from './types.js';
