import { createTelemetryHarness } from '@creto/testing/telemetry';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import { type TraceContext, withSpan } from '../telemetry/index.js';
import { createInMemorySagaLog, createSaga, type SagaStepContext } from './index.js';

const telemetry = createTelemetryHarness();
beforeAll(() => telemetry.install());
afterAll(() => telemetry.shutdown());
afterEach(() => telemetry.reset());

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const caller: TraceContext = { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` };

describe('saga telemetry', () => {
  it('joins the caller trace: saga.execute → saga.step / saga.compensate spans, trace context handed to steps', async () => {
    const seen: SagaStepContext<null>[] = [];
    const saga = createSaga<null>({
      name: 'provision',
      steps: [
        {
          name: 'a',
          run: async (ctx) => {
            seen.push(ctx);
            // Work inside a step nests under the step's span.
            await withSpan('metering.create_subscription', {}, () => undefined);
            return { id: 1 };
          },
          compensate: () => {},
        },
        {
          name: 'b',
          run: (ctx) => {
            seen.push(ctx);
            throw new EnablementError('RT-429', 'quota');
          },
        },
      ],
    });
    const result = await saga.execute(null, { sagaId: 'run-7', traceContext: caller });
    const finished = telemetry.finishedSpans();
    const byName = (name: string) => finished.filter((s) => s.name === name);
    const [root] = byName('saga.execute');
    expect(root?.spanContext().traceId).toBe(TRACE_ID);
    expect(root?.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(root?.attributes).toMatchObject({
      'saga.name': 'provision',
      'saga.id': 'run-7',
      'saga.status': 'compensated',
    });
    const steps = byName('saga.step');
    expect(steps.map((s) => s.attributes['saga.step'])).toEqual(['a', 'b']);
    for (const step of steps) expect(step.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    const inner = byName('metering.create_subscription')[0];
    expect(inner?.parentSpanContext?.spanId).toBe(steps[0]?.spanContext().spanId);
    // Each step's context carries its own span as the parent for outgoing calls.
    expect(seen.map((c) => c.traceContext?.traceparent)).toEqual(
      steps.map((s) => `00-${TRACE_ID}-${s.spanContext().spanId}-01`),
    );
    const failed = steps[1];
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes['enablement.error.code']).toBe('RT-429');
    expect(byName('saga.compensate').map((s) => s.attributes['saga.step'])).toEqual(['a']);
    // The failure reported in the result carries the trace id for correlation.
    expect(result.error?.traceId).toBe(TRACE_ID);
  });

  it('continues the original trace when recovering a crashed run', async () => {
    const log = createInMemorySagaLog();
    const doomed = createSaga<null>({
      name: 'p',
      log,
      steps: [{ name: 'a', run: () => new Promise(() => {}) }],
    });
    void doomed.execute(null, { sagaId: 'r', traceContext: caller });
    for (let i = 0; i < 50 && (log.recordsOf('r')?.length ?? 0) < 2; i++) await new Promise(setImmediate);
    expect(log.recordsOf('r')?.[0]).toMatchObject({ traceContext: caller });
    telemetry.reset();

    const saga = createSaga<null>({ name: 'p', log, steps: [{ name: 'a', idempotent: true, run: () => 1 }] });
    const [result] = (await saga.recover()).results;
    expect(result?.status).toBe('completed');
    const recover = telemetry.finishedSpans().find((s) => s.name === 'saga.recover');
    expect(recover?.spanContext().traceId).toBe(TRACE_ID);
    const step = telemetry.finishedSpans().find((s) => s.name === 'saga.step');
    expect(step?.attributes['saga.recovering']).toBe(true);
  });
});
