/**
 * Fakes of the cross-product ports of `@creto/core` (`QuotaClient`, `OversightClient`,
 * `UsageSink`, `Notifier`, `MessageSender`, `AuthzClient`): scripted answers and recorded calls,
 * so code that calls one product can be unit-tested without the others.
 * @module
 */
export {
  createFakeAuthzClient,
  type FakeAuthzAnswer,
  type FakeAuthzClient,
  type FakeAuthzClientOptions,
  type FakeAuthzMatch,
} from './authz.js';
export {
  createFakeMessageSender,
  type FakeMessageSender,
  type FakeMessageSenderOptions,
  type SentMessage,
} from './message-sender.js';
export {
  createRecordingNotifier,
  type RecordingNotifier,
  type RecordingNotifierMode,
  type RecordingNotifierOptions,
} from './notifier.js';
export {
  createFakeOversightClient,
  type FakeApproveOptions,
  type FakeDenyOptions,
  type FakeOversightClient,
  type FakeOversightClientOptions,
  type FakeOversightMode,
  type FakeOversightRequest,
} from './oversight.js';
export {
  createFakeQuotaClient,
  type FakeQuotaAnswer,
  type FakeQuotaClient,
  type FakeQuotaClientOptions,
  type FakeQuotaDecisionSpec,
  type FakeQuotaMatch,
} from './quota.js';
export { BoundedLog, DEFAULT_MAX_RECORDED, MAX_RECORDED_LIMIT, MAX_SCRIPTED } from './recorder.js';
export {
  createRecordingUsageSink,
  type RecordingUsageSink,
  type RecordingUsageSinkOptions,
} from './usage-sink.js';
