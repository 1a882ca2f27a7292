import { createEnablementMetrics, type EnablementError } from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { createTelemetryHarness } from '@creto/testing/telemetry';
import { SpanStatusCode } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDeterministicProvider, DETERMINISTIC_PRICE_ENTRIES } from './deterministic.js';
import { createPriceTable } from './price-table.js';
import { createInferenceRouter } from './router.js';

// The OpenTelemetry SDK is registered only here, in the test: the library itself uses the API.
const telemetry = createTelemetryHarness();
beforeAll(() => telemetry.install());
afterAll(() => telemetry.shutdown());
afterEach(() => telemetry.reset());

const prices = createPriceTable(DETERMINISTIC_PRICE_ENTRIES);
const request = (model: string) => ({ model, messages: [{ role: 'user' as const, content: 'hello' }] });

describe('inference router telemetry (spec §10.1, §10.2)', () => {
  it('records a runtime.inference span with the GenAI attributes and token usage', async () => {
    const router = createInferenceRouter({ providers: [createDeterministicProvider()], prices });
    const result = await router.complete(request('deterministic-1'));
    const [span] = telemetry.finishedSpans();
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
    const [span] = telemetry.finishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['enablement.error.code']).toBe('RT-408');
    expect(error.traceId).toBe(span?.spanContext().traceId);
  });

  it('counts runtime_inference_requests_total{provider,model} on the global meter by default', async () => {
    const router = createInferenceRouter({ providers: [createDeterministicProvider()], prices });
    await router.complete(request('deterministic-x'));
    await router.complete(request('deterministic-x'));
    await router.complete(request('deterministic-y'));
    const metric = (await telemetry.collectMetrics()).get('runtime_inference_requests_total');
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
