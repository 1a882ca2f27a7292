import { expectEnablementError } from '@creto/testing';
import { createTelemetryHarness } from '@creto/testing/telemetry';
import { createNoopMeter, ROOT_CONTEXT, SpanStatusCode } from '@opentelemetry/api';
import { DataPointType, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  assertTraceContext,
  contextFromTraceContext,
  createEnablementMetrics,
  currentSpanId,
  currentTraceId,
  formatRfc3339Micros,
  formatTraceparent,
  METRICS,
  parseTraceparent,
  SPAN_NAMES,
  secondsBetween,
  TRACE_ATTRIBUTES,
  traceContextOf,
  withSpan,
  withSpanSync,
  withTraceId,
} from './index.js';

// The OpenTelemetry SDK is registered only here, in the test: the library itself uses the API.
const telemetry = createTelemetryHarness();
beforeAll(() => telemetry.install());
afterAll(() => telemetry.shutdown());
afterEach(() => telemetry.reset());

describe('formatRfc3339Micros', () => {
  it('formats the spec §10.3 example with six fractional digits, truncating nanoseconds', () => {
    expect(formatRfc3339Micros(1_766_745_000_123_456_789n)).toBe('2025-12-26T10:30:00.123456Z');
    expect(formatRfc3339Micros(0n)).toBe('1970-01-01T00:00:00.000000Z');
    expect(formatRfc3339Micros(999n)).toBe('1970-01-01T00:00:00.000000Z');
    expect(formatRfc3339Micros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(formatRfc3339Micros(951_782_400_000_000_000n)).toBe('2000-02-29T00:00:00.000000Z');
  });

  it('covers the whole int64 range and rejects anything else with PL-400', () => {
    expect(formatRfc3339Micros(-(2n ** 63n))).toBe('1677-09-21T00:12:43.145224Z');
    expect(formatRfc3339Micros(2n ** 63n - 1n)).toBe('2262-04-11T23:47:16.854775Z');
    expectEnablementError(() => formatRfc3339Micros(2n ** 63n), 'PL-400', 'int64');
    expectEnablementError(() => formatRfc3339Micros(5 as unknown as bigint), 'PL-400', 'int64');
  });

  it('property: agrees with Date#toISOString (used here only as an oracle) to the millisecond', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (ns) => {
        const text = formatRfc3339Micros(ns);
        const ms = ns >= 0n ? ns / 1_000_000n : -((-ns + 999_999n) / 1_000_000n);
        const iso = new Date(Number(ms)).toISOString();
        expect(text.slice(0, 23)).toBe(iso.slice(0, 23));
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('span names and attribute keys', () => {
  it('holds the spec §10.1 attribute keys verbatim', () => {
    const keys = Object.values(TRACE_ATTRIBUTES);
    for (const key of [
      'runtime.sandbox_id',
      'runtime.agent_nhi',
      'runtime.runtime_class',
      'metering.event_type',
      'metering.subscription_id',
      'metering.event_value',
      'oversight.request_id',
      'oversight.state',
      'oversight.approver',
      'messaging.message_id',
      'messaging.protocol',
      'messaging.encrypted_size',
    ]) {
      expect(keys).toContain(key);
    }
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('names spans <product>.<operation>, including the spec example, without duplicates', () => {
    const names = Object.values(SPAN_NAMES);
    expect(names).toContain('runtime.spawn_sandbox');
    for (const name of names) expect(name).toMatch(/^[a-z]+\.[a-z_]+$/);
    expect(new Set(names).size).toBe(names.length);
  });
});

const SPEC_METRICS: Record<string, { labels: string[]; kind: 'counter' | 'histogram'; unit: string }> = {
  runtime_sandbox_spawn_duration_seconds: { labels: ['runtime_class'], kind: 'histogram', unit: 's' },
  runtime_inference_requests_total: { labels: ['provider', 'model'], kind: 'counter', unit: '{request}' },
  runtime_egress_bytes_total: { labels: ['destination_type'], kind: 'counter', unit: 'By' },
  metering_events_ingested_total: { labels: ['event_type'], kind: 'counter', unit: '{event}' },
  metering_quota_checks_total: { labels: ['result'], kind: 'counter', unit: '{check}' },
  metering_invoices_generated_total: { labels: ['currency'], kind: 'counter', unit: '{invoice}' },
  oversight_requests_created_total: { labels: ['policy_id'], kind: 'counter', unit: '{request}' },
  oversight_approvals_latency_seconds: { labels: ['tier'], kind: 'histogram', unit: 's' },
  oversight_state_transitions_total: { labels: ['from', 'to'], kind: 'counter', unit: '{transition}' },
  messaging_messages_sent_total: { labels: ['protocol'], kind: 'counter', unit: '{message}' },
  messaging_delivery_latency_seconds: { labels: ['channel_type'], kind: 'histogram', unit: 's' },
  messaging_encryption_duration_seconds: { labels: ['algorithm'], kind: 'histogram', unit: 's' },
};

describe('metrics of spec §10.2', () => {
  it('defines every metric of the spec, and nothing else, with its labels, kind and unit', () => {
    const defined = Object.values(METRICS);
    expect(defined.map((m) => m.name).sort()).toEqual(Object.keys(SPEC_METRICS).sort());
    for (const metric of defined) {
      const spec = SPEC_METRICS[metric.name];
      expect(metric.labels).toEqual(spec?.labels);
      expect(metric.kind).toBe(spec?.kind);
      expect(metric.unit).toBe(spec?.unit);
      // Prometheus convention of the spec: counters end in _total, durations in _seconds.
      expect(metric.name.endsWith(metric.kind === 'counter' ? '_total' : '_seconds')).toBe(true);
      if (metric.kind === 'histogram') {
        const buckets = (metric as { buckets?: readonly number[] }).buckets ?? [];
        expect(buckets.length).toBeGreaterThan(3);
        expect([...buckets].sort((a, b) => a - b)).toEqual(buckets);
      }
    }
  });

  it('records through the registered SDK with the spec names, units, labels and advised buckets', async () => {
    const m = createEnablementMetrics();
    m.runtimeSandboxSpawnDuration.record(0.7, { runtime_class: 'quickjs' });
    m.runtimeSandboxSpawnDuration.record(3, { runtime_class: 'quickjs' });
    m.runtimeInferenceRequests.add(2, { provider: 'anthropic', model: 'claude-3' });
    m.runtimeEgressBytes.add(4096, { destination_type: 'api' });
    m.meteringEventsIngested.add(1, { event_type: 'sandbox_allocated' });
    m.meteringQuotaChecks.add(1, { result: 'allowed' });
    m.meteringInvoicesGenerated.add(1, { currency: 'USD' });
    m.oversightRequestsCreated.add(1, { policy_id: 'large_transfer' });
    m.oversightApprovalsLatency.record(42, { tier: 1 });
    m.oversightStateTransitions.add(1, { from: 'PENDING', to: 'APPROVED' });
    m.messagingMessagesSent.add(3, { protocol: 'double_ratchet' });
    m.messagingDeliveryLatency.record(0.02, { channel_type: 'direct' });
    m.messagingEncryptionDuration.record(0.0003, { algorithm: 'ML-KEM-768' });

    const got = await telemetry.collectMetrics();
    expect([...got.keys()].sort()).toEqual(Object.keys(SPEC_METRICS).sort());
    for (const [name, metric] of got) {
      const spec = SPEC_METRICS[name];
      expect(metric.descriptor.unit).toBe(spec?.unit);
      expect(metric.dataPointType).toBe(
        spec?.kind === 'counter' ? DataPointType.SUM : DataPointType.HISTOGRAM,
      );
      expect(Object.keys(metric.dataPoints[0]?.attributes ?? {}).sort()).toEqual(
        [...(spec?.labels ?? [])].sort(),
      );
    }
    const egress = got.get('runtime_egress_bytes_total');
    expect(egress?.dataPoints[0]?.value).toBe(4096);
    expect(got.get('oversight_state_transitions_total')?.dataPoints[0]?.attributes).toEqual({
      from: 'PENDING',
      to: 'APPROVED',
    });
    const spawn = got.get('runtime_sandbox_spawn_duration_seconds') as HistogramMetricData;
    const point = spawn.dataPoints[0];
    expect(point?.value.count).toBe(2);
    expect(point?.value.sum).toBeCloseTo(3.7);
    expect(point?.value.buckets.boundaries).toEqual(METRICS.runtimeSandboxSpawnDuration.buckets);
  });

  it('is a no-op, not an error, on a meter taken before any SDK exists', () => {
    const m = createEnablementMetrics(createNoopMeter());
    expect(() => m.meteringQuotaChecks.add(1, { result: 'denied' })).not.toThrow();
    expect(() => m.oversightApprovalsLatency.record(1, { tier: '2' })).not.toThrow();
  });

  it('secondsBetween keeps nanosecond precision and rejects swapped readings', () => {
    expect(secondsBetween(0n, 1_500_000_000n)).toBe(1.5);
    expect(secondsBetween(10n ** 18n, 10n ** 18n + 1n)).toBe(1e-9);
    expect(secondsBetween(5n, 5n)).toBe(0);
    expectEnablementError(() => secondsBetween(2n, 1n), 'PL-400', 'end >= start');
  });
});

describe('W3C trace context', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const spanId = '00f067aa0ba902b7';
  const header = `00-${traceId}-${spanId}-01`;

  it('parses and formats traceparent (W3C Trace Context §3.2)', () => {
    const parsed = parseTraceparent(header);
    expect(parsed).toEqual({ traceId, spanId, traceFlags: 1, isRemote: true });
    expect(formatTraceparent(parsed as NonNullable<typeof parsed>)).toBe(header);
    // A later version may carry more fields after a dash.
    expect(parseTraceparent(`01-${traceId}-${spanId}-00-extra`)?.traceId).toBe(traceId);
  });

  it('ignores invalid headers (returns undefined) rather than throwing', () => {
    for (const bad of [
      '',
      header.toUpperCase(),
      `ff-${traceId}-${spanId}-01`,
      `00-${'0'.repeat(32)}-${spanId}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
      `00-${traceId}-${spanId}-01-extra`,
      `00-${traceId}-${spanId}-1`,
      `00-${traceId.slice(1)}-${spanId}-01`,
      `${header} `,
      42,
      'x'.repeat(10_000),
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  it('validates carriers handed in by code with PL-400 naming the field', () => {
    expect(() => assertTraceContext({ traceparent: header, tracestate: 'congo=t61rcWkgMzE' })).not.toThrow();
    expectEnablementError(() => assertTraceContext(null), 'PL-400', 'traceContext');
    expectEnablementError(
      () => assertTraceContext({ traceparent: 'nope' }, 'opts.trace'),
      'PL-400',
      'opts.trace.traceparent',
    );
    expectEnablementError(
      () => assertTraceContext({ traceparent: header, tracestate: 'a'.repeat(513) }),
      'PL-400',
      'tracestate',
    );
    expectEnablementError(
      () => assertTraceContext({ traceparent: header, tracestate: 'a=\n' }),
      'PL-400',
      'tracestate',
    );
  });

  it('continues a remote trace: child spans share its trace id and name it as parent', async () => {
    const parent = contextFromTraceContext(
      { traceparent: header, tracestate: 'congo=t61rcWkgMzE' },
      ROOT_CONTEXT,
    );
    let inner: ReturnType<typeof traceContextOf>;
    await withSpan(
      'test.remote_child',
      {},
      () => {
        inner = traceContextOf();
        expect(currentTraceId()).toBe(traceId);
      },
      { parent },
    );
    const [span] = telemetry.finishedSpans();
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe(spanId);
    expect(inner?.traceparent).toBe(`00-${traceId}-${span?.spanContext().spanId}-01`);
    expect(inner?.tracestate).toBe('congo=t61rcWkgMzE');
  });

  it('has no trace context outside any span', () => {
    expect(traceContextOf(ROOT_CONTEXT)).toBeUndefined();
    expect(currentTraceId(ROOT_CONTEXT)).toBeUndefined();
    expect(currentSpanId(ROOT_CONTEXT)).toBeUndefined();
  });
});

describe('withSpan', () => {
  it('creates a named span with attributes, nested spans as children, and returns the result', async () => {
    const result = await withSpan(
      SPAN_NAMES.runtimeSpawnSandbox,
      { [TRACE_ATTRIBUTES.runtimeAgentNhi]: 'agent:nhi:ed25519:x' },
      async (span) => {
        span.setAttribute(TRACE_ATTRIBUTES.runtimeSandboxId, 'sb-abc123');
        await Promise.resolve();
        return withSpan(SPAN_NAMES.authzCheck, {}, () => 'ok');
      },
    );
    expect(result).toBe('ok');
    const finished = telemetry.finishedSpans();
    const outer = finished.find((s) => s.name === 'runtime.spawn_sandbox');
    const inner = finished.find((s) => s.name === 'authz.check');
    expect(outer?.attributes).toEqual({
      'runtime.agent_nhi': 'agent:nhi:ed25519:x',
      'runtime.sandbox_id': 'sb-abc123',
    });
    expect(outer?.status.code).toBe(SpanStatusCode.UNSET);
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(inner?.spanContext().traceId).toBe(outer?.spanContext().traceId);
  });

  it('records an EnablementError code, marks the span failed and stamps the trace id on a copy', async () => {
    const original = new EnablementError('RT-429', 'quota exceeded', { retryAfterMs: 1000 });
    let thrown: unknown;
    try {
      await withSpan(SPAN_NAMES.runtimeSpawnSandbox, {}, async () => {
        throw original;
      });
    } catch (error) {
      thrown = error;
    }
    const [span] = telemetry.finishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'RT-429: quota exceeded' });
    expect(span?.attributes).toMatchObject({
      'error.type': 'RT-429',
      'enablement.error.code': 'RT-429',
      'enablement.error.product': 'runtime',
      'enablement.error.retryable': false,
    });
    const event = span?.events.find((e) => e.name === 'exception');
    expect(event?.attributes?.['exception.message']).toBe('quota exceeded');
    expect(EnablementError.is(thrown)).toBe(true);
    const stamped = thrown as EnablementError;
    expect(stamped).not.toBe(original);
    expect(stamped.traceId).toBe(span?.spanContext().traceId);
    expect(stamped.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(stamped).toMatchObject({
      code: 'RT-429',
      message: 'quota exceeded',
      retryAfterMs: 1000,
      product: 'runtime',
    });
    expect(stamped.stack).toBe(original.stack);
    expect(original.traceId).toBeUndefined();
  });

  it('keeps an existing trace id and rethrows foreign errors unchanged', async () => {
    const traced = new EnablementError('PL-503', 'down', { traceId: 'abc' });
    await expect(withSpan('test.a', {}, () => Promise.reject(traced))).rejects.toBe(traced);
    const foreign = new TypeError('boom');
    await expect(withSpan('test.b', {}, () => Promise.reject(foreign))).rejects.toBe(foreign);
    const b = telemetry.finishedSpans().find((s) => s.name === 'test.b');
    expect(b?.attributes['error.type']).toBe('TypeError');
    expect(b?.status.code).toBe(SpanStatusCode.ERROR);
    await expect(withSpan('test.c', {}, () => Promise.reject('text'))).rejects.toBe('text');
    expect(telemetry.finishedSpans().find((s) => s.name === 'test.c')?.attributes['error.type']).toBe(
      'string',
    );
  });

  it('withSpanSync does the same synchronously', () => {
    expect(withSpanSync('test.sync', { n: 1 }, () => currentSpanId())).toMatch(/^[0-9a-f]{16}$/);
    expect(() =>
      withSpanSync('test.sync_fail', {}, () => {
        throw new EnablementError('PL-400', 'bad');
      }),
    ).toThrow(expect.objectContaining({ code: 'PL-400', traceId: expect.stringMatching(/^[0-9a-f]{32}$/) }));
    expect(telemetry.finishedSpans().map((s) => s.name)).toEqual(['test.sync', 'test.sync_fail']);
  });
});

describe('withTraceId', () => {
  it('copies an untraced EnablementError with the trace id, keeping its cause chain and hints', () => {
    const root = new EnablementError('MT-429', 'quota', { retryAfterMs: 5 });
    const error = new EnablementError('RT-429', 'cannot spawn', { cause: root, retryable: true });
    const copy = withTraceId(error, 'f'.repeat(32));
    expect(copy).toMatchObject({ code: 'RT-429', retryable: true, retryAfterMs: 5, traceId: 'f'.repeat(32) });
    expect(copy.causedBy).toBe(root);
    expect(copy.toJSON().caused_by?.code).toBe('MT-429');
  });

  it('returns the input when there is nothing to add', () => {
    const error = new EnablementError('PL-500', 'x');
    expect(withTraceId(error, undefined)).toBe(error);
    expect(withTraceId(error)).toBe(error); // no active span here
    const plain = new Error('x');
    expect(withTraceId(plain, 'a'.repeat(32))).toBe(plain);
  });
});
