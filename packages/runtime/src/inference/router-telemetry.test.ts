import { createEnablementMetrics, type EnablementError } from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { context, metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeterministicProvider, DETERMINISTIC_PRICE_ENTRIES } from './deterministic.js';
import { createPriceTable } from './price-table.js';
import { createInferenceRouter } from './router.js';

// The OpenTelemetry SDK is registered only here, in the test: the library itself uses the API.
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const metricReader = new PeriodicExportingMetricReader({
  exporter: metricExporter,
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [metricReader] });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
});
afterAll(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  trace.disable();
  metrics.disable();
  context.disable();
});
afterEach(() => spans.reset());

const prices = createPriceTable(DETERMINISTIC_PRICE_ENTRIES);
const request = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hello' }] });

describe('inference router telemetry (spec §10.1, §10.2)', () => {
  it('records a runtime.inference span with the GenAI attributes and token usage', async () => {
    const router = createInferenceRouter({ providers: [createDeterministicProvider()], prices });
    const result = await router.complete(request('deterministic-1'));
    const [span] = spans.getFinishedSpans();
    expect(span?.name).toBe('runtime.inference');
    expect(span?.attributes).toMatchObject({
      'gen_ai.provider.name': 'deterministic',
      'gen_ai.request.model': 'deterministic-1',
      'gen_ai.operation.name': 'chat',
      'gen_ai.usage.input_tokens': Number(result.inputTokens),
      'gen_ai.usage.output_tokens': Number(result.outputTokens),
      'gen_ai.response.finish_reasons': ['stop'],
    });
    expect(span?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('marks the span failed with the error code, and the error carries the trace id', async () => {
    const clock = new FakeClock();
    const provider = createDeterministicProvider({ latencyMs: 5000, clock });
    const router = createInferenceRouter({ providers: [provider], prices, clock, defaultTimeoutMs: 100 });
    const pending = expectEnablementRejection(router.complete(request('deterministic-1')), 'RT-408');
    await clock.advanceAsync(100);
    const error: EnablementError = await pending;
    const [span] = spans.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['enablement.error.code']).toBe('RT-408');
    expect(error.traceId).toBe(span?.spanContext().traceId);
  });

  it('counts runtime_inference_requests_total{provider,model} on the global meter by default', async () => {
    const router = createInferenceRouter({ providers: [createDeterministicProvider()], prices });
    await router.complete(request('deterministic-x'));
    await router.complete(request('deterministic-x'));
    await router.complete(request('deterministic-y'));
    metricExporter.reset();
    await metricReader.forceFlush();
    const metric = metricExporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))
      .find((m) => m.descriptor.name === 'runtime_inference_requests_total');
    expect(metric?.dataPointType).toBe(DataPointType.SUM);
    const points = (metric?.dataPoints ?? []).map((p) => ({ labels: p.attributes, value: p.value }));
    expect(points).toEqual(
      expect.arrayContaining([
        { labels: { provider: 'deterministic', model: 'deterministic-x' }, value: 2 },
        { labels: { provider: 'deterministic', model: 'deterministic-y' }, value: 1 },
      ]),
    );
    // The same instruments can be passed in explicitly (the engine creates them once).
    expect(() =>
      createInferenceRouter({
        providers: [createDeterministicProvider()],
        prices,
        metrics: createEnablementMetrics(),
      }),
    ).not.toThrow();
  });
});
