import { metrics, trace } from '@opentelemetry/api';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelemetryHarness, type TelemetryHarness } from './index.js';

// One harness per test here (not per file), so that install and shutdown themselves are tested.
let telemetry: TelemetryHarness;
beforeEach(() => {
  telemetry = createTelemetryHarness();
  telemetry.install();
});
afterEach(() => telemetry.shutdown());

const endSpan = (name: string) => trace.getTracer('harness-test').startSpan(name).end();

describe('createTelemetryHarness', () => {
  it('keeps ended spans, nests spans across await, and forgets them on reset', async () => {
    const tracer = trace.getTracer('harness-test');
    await tracer.startActiveSpan('outer', async (outer) => {
      await Promise.resolve();
      tracer.startSpan('inner').end();
      outer.end();
    });
    const [inner, outer] = telemetry.finishedSpans();
    expect([inner?.name, outer?.name]).toEqual(['inner', 'outer']);
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    telemetry.reset();
    expect(telemetry.finishedSpans()).toEqual([]);
  });

  it('reads metrics on demand, cumulative since install, keyed by name', async () => {
    const counter = metrics.getMeter('harness-test').createCounter('harness_test_total');
    counter.add(2, { kind: 'a' });
    const first = (await telemetry.collectMetrics()).get('harness_test_total');
    expect(first?.dataPointType).toBe(DataPointType.SUM);
    expect(first?.dataPoints.map((p) => p.value)).toEqual([2]);
    counter.add(3, { kind: 'a' });
    telemetry.reset(); // spans only: metrics stay cumulative
    const second = (await telemetry.collectMetrics()).get('harness_test_total');
    expect(second?.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ kind: 'a' }, 5]]);
  });

  it('refuses a second install, and a second SDK, without unregistering the first', async () => {
    expect(() => telemetry.install()).toThrow(/install on a harness installed/);
    const other = createTelemetryHarness();
    expect(() => other.install()).toThrow(/another OpenTelemetry SDK is registered/);
    await other.shutdown();
    endSpan('still-recorded');
    expect(telemetry.finishedSpans().map((s) => s.name)).toEqual(['still-recorded']);
    expect(other.finishedSpans()).toEqual([]);
  });

  it('unregisters on shutdown, so the next harness can install; shutdown twice is a no-op', async () => {
    await telemetry.shutdown();
    await telemetry.shutdown();
    expect(() => telemetry.install()).toThrow(/install on a harness shut down/);
    const next = createTelemetryHarness();
    next.install();
    endSpan('after-shutdown');
    expect(next.finishedSpans().map((s) => s.name)).toEqual(['after-shutdown']);
    expect(telemetry.finishedSpans()).toEqual([]);
    await next.shutdown();
  });
});
