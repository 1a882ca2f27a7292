/**
 * Span names, `<product>.<operation>` as in spec §10.1 (`runtime.spawn_sandbox`). Engines use
 * these constants so that every product names the same operation the same way; an operation not
 * listed here follows the same convention.
 */
export const SPAN_NAMES = Object.freeze({
  // Runtime
  runtimeSpawnSandbox: 'runtime.spawn_sandbox',
  runtimeExecute: 'runtime.execute',
  runtimeTerminateSandbox: 'runtime.terminate_sandbox',
  runtimeToolCall: 'runtime.tool_call',
  runtimeNetworkEgress: 'runtime.network_egress',
  runtimeInference: 'runtime.inference',
  // Metering
  meteringIngestEvent: 'metering.ingest_event',
  meteringCheckQuota: 'metering.check_quota',
  meteringGenerateInvoice: 'metering.generate_invoice',
  // Oversight
  oversightCreateRequest: 'oversight.create_request',
  oversightSubmitResponse: 'oversight.submit_response',
  oversightEscalate: 'oversight.escalate',
  oversightAwaitApproval: 'oversight.await_approval',
  // Messaging
  messagingSendMessage: 'messaging.send_message',
  messagingReceiveMessage: 'messaging.receive_message',
  messagingDeliver: 'messaging.deliver',
  messagingEstablishSession: 'messaging.establish_session',
  // Platform services
  authzCheck: 'authz.check',
  nhiVerify: 'nhi.verify',
  auditAppend: 'audit.append',
  memoryFetchContext: 'memory.fetch_context',
  // SDK building blocks
  sagaExecute: 'saga.execute',
  sagaRecover: 'saga.recover',
  sagaStep: 'saga.step',
  sagaCompensate: 'saga.compensate',
} as const);

/** One of the {@link SPAN_NAMES}. */
export type SpanName = (typeof SPAN_NAMES)[keyof typeof SPAN_NAMES];

/**
 * Span attribute keys. The product-specific keys are verbatim from spec §10.1; the `saga.*` and
 * `enablement.error.*` keys are the SDK's, and `error.type` is the OpenTelemetry
 * semantic-convention key (set to the `EnablementError` code, or the error's name).
 *
 * The spec's "standard" fields `trace.id`, `span.id` and `parent.span.id` are deliberately absent:
 * OpenTelemetry carries them in the span context of every span, not as attributes. Note that a
 * W3C / OpenTelemetry trace id is 16 bytes, i.e. **32** hex characters (W3C Trace Context §3.2.2.3),
 * not the "64-char hex" the spec's example shows; span ids are 16 hex characters as the spec says.
 *
 * `oversight.approver` may be personal data (an e-mail address in the spec's example): record it
 * only where the deployment's privacy rules allow.
 */
export const TRACE_ATTRIBUTES = Object.freeze({
  runtimeSandboxId: 'runtime.sandbox_id',
  runtimeAgentNhi: 'runtime.agent_nhi',
  runtimeRuntimeClass: 'runtime.runtime_class',
  meteringEventType: 'metering.event_type',
  meteringSubscriptionId: 'metering.subscription_id',
  meteringEventValue: 'metering.event_value',
  oversightRequestId: 'oversight.request_id',
  oversightState: 'oversight.state',
  oversightApprover: 'oversight.approver',
  messagingMessageId: 'messaging.message_id',
  messagingProtocol: 'messaging.protocol',
  messagingEncryptedSize: 'messaging.encrypted_size',
  sagaId: 'saga.id',
  sagaName: 'saga.name',
  sagaStep: 'saga.step',
  sagaStatus: 'saga.status',
  sagaRecovering: 'saga.recovering',
  errorType: 'error.type',
  errorCode: 'enablement.error.code',
  errorProduct: 'enablement.error.product',
  errorRetryable: 'enablement.error.retryable',
} as const);

/** One of the {@link TRACE_ATTRIBUTES} keys. */
export type TraceAttributeKey = (typeof TRACE_ATTRIBUTES)[keyof typeof TRACE_ATTRIBUTES];
