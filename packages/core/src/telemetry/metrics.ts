import { type Counter, type Histogram, type Meter, metrics, ValueType } from '@opentelemetry/api';
import { EnablementError } from '../errors/enablement-error.js';
import { NANOS_PER_SECOND } from '../time/clock.js';

/** Instrumentation scope under which the SDK's instruments and spans are created by default. */
export const INSTRUMENTATION_SCOPE = '@creto/core';

/** Kind of a metric instrument: a monotonic counter or a histogram. */
export type MetricKind = 'counter' | 'histogram';

/** Static description of one metric of spec §10.2. */
export interface MetricDefinition {
  /** Full Prometheus-style name, `<product>_<subsystem>_<metric>_<unit>` (spec §10.2). */
  readonly name: string;
  /** Counter or histogram. */
  readonly kind: MetricKind;
  /** UCUM unit as OpenTelemetry expects it: `s`, `By`, or an annotation such as `{event}`. */
  readonly unit: string;
  /** One-line description, exported with the metric. */
  readonly description: string;
  /** Label (attribute) keys the spec gives the metric; every recording should set all of them. */
  readonly labels: readonly string[];
  /** Advised histogram bucket boundaries, in `unit`. */
  readonly buckets?: readonly number[];
}

// Spawns take tens of milliseconds (QuickJS) to tens of seconds (cold container images).
const SPAWN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Human approvals take seconds to days (escalation tiers time out after hours).
const APPROVAL_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600];
// Delivery spans an in-process relay (sub-millisecond) to an offline queue drained much later.
const DELIVERY_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300, 3600];
// One KEM or AEAD operation: microseconds to a few milliseconds.
const CRYPTO_BUCKETS = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

function def<const D extends MetricDefinition>(definition: D): D {
  return Object.freeze({ ...definition, labels: Object.freeze([...definition.labels]) }) as D;
}

/**
 * Every metric of spec §10.2, with the spec's name, labels and a unit. The names already end in
 * their unit (`_seconds`, `_bytes`) or `_total`, as Prometheus expects; OpenTelemetry's
 * Prometheus compatibility rules do not add a suffix that is already present.
 */
export const METRICS = Object.freeze({
  runtimeSandboxSpawnDuration: def({
    name: 'runtime_sandbox_spawn_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Time to spawn a sandbox, from request to ready.',
    labels: ['runtime_class'],
    buckets: SPAWN_BUCKETS,
  }),
  runtimeInferenceRequests: def({
    name: 'runtime_inference_requests_total',
    kind: 'counter',
    unit: '{request}',
    description: 'Inference requests routed through the Runtime inference proxy.',
    labels: ['provider', 'model'],
  }),
  runtimeEgressBytes: def({
    name: 'runtime_egress_bytes_total',
    kind: 'counter',
    unit: 'By',
    description: 'Bytes sent by sandboxes through the egress proxy.',
    labels: ['destination_type'],
  }),
  meteringEventsIngested: def({
    name: 'metering_events_ingested_total',
    kind: 'counter',
    unit: '{event}',
    description: 'Usage events accepted by Metering (after deduplication).',
    labels: ['event_type'],
  }),
  meteringQuotaChecks: def({
    name: 'metering_quota_checks_total',
    kind: 'counter',
    unit: '{check}',
    description: 'Quota checks, by result (allowed, denied, …).',
    labels: ['result'],
  }),
  meteringInvoicesGenerated: def({
    name: 'metering_invoices_generated_total',
    kind: 'counter',
    unit: '{invoice}',
    description: 'Invoices generated, by currency.',
    labels: ['currency'],
  }),
  oversightRequestsCreated: def({
    name: 'oversight_requests_created_total',
    kind: 'counter',
    unit: '{request}',
    description: 'Oversight approval requests created, by policy.',
    labels: ['policy_id'],
  }),
  oversightApprovalsLatency: def({
    name: 'oversight_approvals_latency_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Time from request creation to a decision, by escalation tier.',
    labels: ['tier'],
    buckets: APPROVAL_BUCKETS,
  }),
  oversightStateTransitions: def({
    name: 'oversight_state_transitions_total',
    kind: 'counter',
    unit: '{transition}',
    description: 'Oversight request state transitions.',
    labels: ['from', 'to'],
  }),
  messagingMessagesSent: def({
    name: 'messaging_messages_sent_total',
    kind: 'counter',
    unit: '{message}',
    description: 'Encrypted messages sent, by protocol.',
    labels: ['protocol'],
  }),
  messagingDeliveryLatency: def({
    name: 'messaging_delivery_latency_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Time from send to delivery, by channel type.',
    labels: ['channel_type'],
    buckets: DELIVERY_BUCKETS,
  }),
  messagingEncryptionDuration: def({
    name: 'messaging_encryption_duration_seconds',
    kind: 'histogram',
    unit: 's',
    description: 'Time spent in one encryption or key-encapsulation operation, by algorithm.',
    labels: ['algorithm'],
    buckets: CRYPTO_BUCKETS,
  }),
} as const);

/** Key of one of the {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;

/** Every metric name of spec §10.2. */
export type MetricName = (typeof METRICS)[MetricKey]['name'];

/** Label values of a metric: every label the spec gives it. */
export type MetricLabels<D extends MetricDefinition> = {
  readonly [K in D['labels'][number]]: string | number | boolean;
};

/** The OpenTelemetry instrument of a metric definition, typed with its labels. */
export type MetricInstrument<D extends MetricDefinition> = D['kind'] extends 'counter'
  ? Counter<MetricLabels<D>>
  : Histogram<MetricLabels<D>>;

/** One instrument per metric of spec §10.2 (see {@link createEnablementMetrics}). */
export type EnablementMetrics = {
  readonly [K in MetricKey]: MetricInstrument<(typeof METRICS)[K]>;
};

/**
 * Creates the instrument of one metric definition on `meter`.
 *
 * Counters count whole things (`ValueType.INT`); histograms record seconds (`ValueType.DOUBLE`)
 * with the definition's advised buckets.
 */
export function createMetricInstrument<const D extends MetricDefinition>(
  meter: Meter,
  definition: D,
): MetricInstrument<D> {
  const options = {
    description: definition.description,
    unit: definition.unit,
    valueType: definition.kind === 'counter' ? ValueType.INT : ValueType.DOUBLE,
    ...(definition.buckets ? { advice: { explicitBucketBoundaries: [...definition.buckets] } } : {}),
  };
  const instrument =
    definition.kind === 'counter'
      ? meter.createCounter<MetricLabels<D>>(definition.name, options)
      : meter.createHistogram<MetricLabels<D>>(definition.name, options);
  return instrument as MetricInstrument<D>;
}

/**
 * Creates every metric of spec §10.2 on `meter` (by default the global meter of the
 * {@link INSTRUMENTATION_SCOPE}).
 *
 * OpenTelemetry has no proxy for meters: a meter taken before the host registers its SDK stays a
 * no-op for good. Create the metrics when an engine is built, after the host set up telemetry.
 *
 * @example
 * ```ts
 * const m = createEnablementMetrics();
 * m.meteringEventsIngested.add(1, { event_type: 'sandbox_allocated' });
 * m.runtimeSandboxSpawnDuration.record(secondsBetween(start, clock.now()), { runtime_class: 'quickjs' });
 * ```
 */
export function createEnablementMetrics(
  meter: Meter = metrics.getMeter(INSTRUMENTATION_SCOPE),
): EnablementMetrics {
  const out: Record<string, unknown> = {};
  for (const [key, definition] of Object.entries(METRICS)) {
    out[key] = createMetricInstrument(meter, definition);
  }
  return Object.freeze(out) as EnablementMetrics;
}

/**
 * Seconds between two Clock readings (Unix nanoseconds), for duration histograms. Throws `PL-400`
 * if `end` is before `start`: a negative duration means the readings are swapped.
 */
export function secondsBetween(start: bigint, end: bigint): number {
  if (typeof start !== 'bigint' || typeof end !== 'bigint' || end < start) {
    throw new EnablementError('PL-400', 'secondsBetween: expected bigint nanoseconds with end >= start');
  }
  const elapsed = end - start;
  // Whole seconds and the remainder separately, so long durations keep nanosecond precision.
  return Number(elapsed / NANOS_PER_SECOND) + Number(elapsed % NANOS_PER_SECOND) / 1e9;
}
