/**
 * Telemetry: spec §10 span names, attribute keys and metrics through `@opentelemetry/api`
 * (no-op until the host registers an SDK), span helpers, W3C trace-context carriers, and the
 * `Logger` port with its structured JSON default (spec §10.3).
 * @module
 */
export {
  buildLogRecord,
  createJsonLogger,
  DEFAULT_LOG_LIMITS,
  isSecretFieldName,
  type JsonLoggerOptions,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LogLevel,
  type LogLimits,
  type LogRecord,
  type LogSink,
  noopLogger,
  REDACTED,
  sanitizeLogValue,
  stdoutLogSink,
} from './logger.js';
export {
  createEnablementMetrics,
  createMetricInstrument,
  type EnablementMetrics,
  INSTRUMENTATION_SCOPE,
  METRICS,
  type MetricDefinition,
  type MetricInstrument,
  type MetricKey,
  type MetricKind,
  type MetricLabels,
  type MetricName,
  secondsBetween,
} from './metrics.js';
export { SPAN_NAMES, type SpanName, TRACE_ATTRIBUTES, type TraceAttributeKey } from './names.js';
export { formatRfc3339Micros } from './timestamp.js';
export {
  assertTraceContext,
  contextFromTraceContext,
  currentSpanId,
  currentTraceId,
  formatTraceparent,
  MAX_TRACESTATE_LENGTH,
  parseTraceparent,
  recordSpanError,
  type TraceContext,
  traceContextOf,
  type WithSpanOptions,
  withSpan,
  withSpanSync,
  withTraceId,
} from './tracing.js';
