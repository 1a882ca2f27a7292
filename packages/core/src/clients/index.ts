/**
 * Client ports between products (ARCHITECTURE §2): products never import each other; each
 * depends on these interfaces and the composition root passes the real engine, a remote client
 * or a fake in.
 * @module
 */

export type {
  MessageSender,
  MessageSendResult,
  Notification,
  NotificationReceipt,
  Notifier,
} from './notifier.js';
export {
  type AwaitApprovalOptions,
  type CreateOversightRequestInput,
  OVERSIGHT_STATES,
  type OversightClient,
  type OversightOutcome,
  type OversightRequestRef,
  type OversightState,
} from './oversight.js';
export type { QuotaClient, QuotaClientDecision } from './quota.js';
export { type BusUsageSinkOptions, createBusUsageSink, type UsageSink } from './usage-sink.js';
