import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, type MetricData, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/**
 * The OpenTelemetry SDK of one test file: spans kept in memory, metrics read on demand. The SDK
 * packages are registered only by tests; the SDK itself talks to the OpenTelemetry API alone.
 */
export interface TelemetryHarness {
  /**
   * Registers the harness as the global context manager (async hooks, so spans follow `await`),
   * tracer provider and meter provider. Call it once, before the code under test runs (in
   * `beforeAll`). Throws when another SDK is already registered, rather than lose every span.
   */
  install(): void;
  /** Spans ended since the last {@link TelemetryHarness.reset}, in the order they ended. */
  finishedSpans(): ReadableSpan[];
  /** Forgets the finished spans. Metrics are cumulative and stay. */
  reset(): void;
  /**
   * Reads every instrument now, cumulative since install, keyed by instrument name (a name used
   * by several meters keeps the last one read).
   */
  collectMetrics(): Promise<Map<string, MetricData>>;
  /**
   * Shuts the providers down and unregisters what {@link TelemetryHarness.install} registered
   * (in `afterAll`). Safe to call twice, or without install.
   */
  shutdown(): Promise<void>;
}

/** A reader that reads only when asked: no export timer runs in the test. */
class OnDemandMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/**
 * Creates the OpenTelemetry SDK harness a telemetry test needs (an in-memory span exporter behind
 * a simple processor, an on-demand metric reader, the async-hooks context manager), unregistered:
 *
 * ```ts
 * const telemetry = createTelemetryHarness();
 * beforeAll(() => telemetry.install());
 * afterEach(() => telemetry.reset());
 * afterAll(() => telemetry.shutdown());
 * ```
 */
export function createTelemetryHarness(): TelemetryHarness {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new OnDemandMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  // What install registered, so that shutdown unregisters that and nothing of another SDK.
  const registered = { context: false, trace: false, metrics: false };
  let state: 'new' | 'installed' | 'shut down' = 'new';

  return {
    install() {
      if (state !== 'new') throw new Error(`createTelemetryHarness: install on a harness ${state}`);
      state = 'installed';
      // Each global is set once per process until disabled: a second SDK would be ignored.
      registered.context = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      registered.trace = trace.setGlobalTracerProvider(tracerProvider);
      registered.metrics = metrics.setGlobalMeterProvider(meterProvider);
      if (!(registered.context && registered.trace && registered.metrics)) {
        throw new Error('createTelemetryHarness: another OpenTelemetry SDK is registered in this process');
      }
    },
    finishedSpans: () => spans.getFinishedSpans(),
    reset: () => spans.reset(),
    async collectMetrics() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0)
        throw new AggregateError(errors, 'createTelemetryHarness: metric collection failed');
      const out = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
      }
      return out;
    },
    async shutdown() {
      if (state === 'shut down') return;
      state = 'shut down';
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
      if (registered.trace) trace.disable();
      if (registered.metrics) metrics.disable();
      if (registered.context) context.disable();
    },
  };
}
