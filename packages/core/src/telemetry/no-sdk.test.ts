import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  contextFromTraceContext,
  createEnablementMetrics,
  currentTraceId,
  traceContextOf,
  withSpan,
} from './index.js';

// No OpenTelemetry SDK and no context manager are registered in this file: the API is a no-op.
describe('telemetry without a registered SDK', () => {
  it('runs the function, rethrows the very same error, and records nothing', async () => {
    expect(await withSpan('test.noop', { a: 1 }, () => 7)).toBe(7);
    const error = new EnablementError('PL-503', 'down');
    await expect(withSpan('test.noop', {}, () => Promise.reject(error))).rejects.toBe(error);
    expect(error.traceId).toBeUndefined();
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('still passes a remote parent through, so a caller trace id reaches steps and errors', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = contextFromTraceContext(
      { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      ROOT_CONTEXT,
    );
    let seen: string | undefined;
    let carrier: ReturnType<typeof traceContextOf>;
    let thrown: unknown;
    try {
      await withSpan(
        'test.noop',
        {},
        (span) => {
          // Without a context manager the span is not "active", but it carries the parent's ids.
          seen = span.spanContext().traceId;
          carrier = traceContextOf(trace.setSpan(ROOT_CONTEXT, span));
          throw new EnablementError('PL-500', 'x');
        },
        { parent },
      );
    } catch (error) {
      thrown = error;
    }
    expect(seen).toBe(traceId);
    expect(carrier?.traceparent).toBe(`00-${traceId}-00f067aa0ba902b7-01`);
    expect((thrown as EnablementError).traceId).toBe(traceId);
    expect(currentTraceId()).toBeUndefined();
  });

  it('creates no-op metrics', () => {
    const m = createEnablementMetrics();
    expect(() => m.runtimeEgressBytes.add(10, { destination_type: 'api' })).not.toThrow();
  });
});
