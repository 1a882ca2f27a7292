import { expectEnablementError, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import type { LogFields, Logger } from '../telemetry/logger.js';
import type { JsonValue } from '../wire/json.js';
import {
  createInMemorySagaLog,
  createSaga,
  type SagaLog,
  type SagaLogRecord,
  type SagaOptions,
  type SagaStep,
  type SagaStepContext,
} from './index.js';

type Input = { agent: string };
const INPUT: Input = { agent: 'agent-1' };

/** Records what steps and compensations did, in order. */
function journal() {
  const events: string[] = [];
  const contexts: SagaStepContext<Input>[] = [];
  const compensatedWith: Record<string, JsonValue> = {};
  /** A step that succeeds with `result`, or throws `fail`, and records its compensation. */
  const step = (
    name: string,
    opts: {
      result?: JsonValue;
      fail?: unknown;
      failCompensation?: unknown;
      critical?: boolean;
      idempotent?: boolean;
      noCompensation?: boolean;
      run?: SagaStep<Input>['run'];
    } = {},
  ): SagaStep<Input> => ({
    name,
    ...(opts.critical === undefined ? {} : { critical: opts.critical }),
    ...(opts.idempotent === undefined ? {} : { idempotent: opts.idempotent }),
    async run(ctx) {
      events.push(`run:${name}`);
      contexts.push(ctx);
      if (opts.run) return opts.run(ctx);
      if (opts.fail !== undefined) throw opts.fail;
      return opts.result !== undefined ? opts.result : { id: `${name}-1` };
    },
    ...(opts.noCompensation
      ? {}
      : {
          async compensate(_ctx: SagaStepContext<Input>, result: JsonValue) {
            events.push(`undo:${name}`);
            if (opts.failCompensation !== undefined) throw opts.failCompensation;
            compensatedWith[name] = result;
          },
        }),
  });
  return { events, contexts, compensatedWith, step };
}

/** A logger that keeps its calls. */
function memoryLogger() {
  const lines: { level: string; message: string; fields: LogFields }[] = [];
  const make = (bindings: LogFields): Logger => ({
    debug: (message, fields) => lines.push({ level: 'debug', message, fields: { ...bindings, ...fields } }),
    info: (message, fields) => lines.push({ level: 'info', message, fields: { ...bindings, ...fields } }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields: { ...bindings, ...fields } }),
    error: (message, fields) => lines.push({ level: 'error', message, fields: { ...bindings, ...fields } }),
    child: (more) => make({ ...bindings, ...more }),
  });
  return { lines, logger: make({}) };
}

/** A promise that never settles: the coordinator that awaits it is "crashed". */
const never = () => new Promise<never>(() => {});

/** Resolves once `count` records are in the saga log. */
async function untilRecords(log: ReturnType<typeof createInMemorySagaLog>, sagaId: string, count: number) {
  for (let i = 0; i < 100; i++) {
    if ((log.recordsOf(sagaId)?.length ?? 0) >= count) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`saga log never reached ${count} records`);
}

describe('createSaga: forward path', () => {
  it('runs steps in order, hands each the earlier results, saga id, input and idempotency key', async () => {
    const j = journal();
    const clock = new FakeClock({ start: 1_000n });
    const log = createInMemorySagaLog();
    const saga = createSaga<Input>({
      name: 'provision_agent',
      log,
      clock,
      steps: [
        j.step('create_subscription', { result: { subscription_id: 'sub-1' } }),
        j.step('spawn_sandbox', { result: { sandbox_id: 'sb-1' } }),
        j.step('welcome', { noCompensation: true, result: null }),
      ],
    });
    const result = await saga.execute(INPUT, { sagaId: 'run-1' });
    expect(result).toMatchObject({
      sagaId: 'run-1',
      sagaName: 'provision_agent',
      status: 'completed',
      ok: true,
      ran: ['create_subscription', 'spawn_sandbox', 'welcome'],
      completed: ['create_subscription', 'spawn_sandbox', 'welcome'],
      failed: [],
      compensated: [],
      compensationFailures: [],
      error: undefined,
      logErrors: [],
      recovered: false,
    });
    expect(result.results).toEqual({
      create_subscription: { subscription_id: 'sub-1' },
      spawn_sandbox: { sandbox_id: 'sb-1' },
      welcome: null,
    });
    expect(j.events).toEqual(['run:create_subscription', 'run:spawn_sandbox', 'run:welcome']);
    const [first, second] = j.contexts;
    expect(first?.results).toEqual({});
    expect(second?.results).toEqual({ create_subscription: { subscription_id: 'sub-1' } });
    expect(second).toMatchObject({
      sagaId: 'run-1',
      sagaName: 'provision_agent',
      step: 'spawn_sandbox',
      input: INPUT,
      idempotencyKey: 'run-1:spawn_sandbox',
      recovering: false,
    });
    // A finished run is forgotten by the log.
    expect(log.size).toBe(0);
  });

  it('generates a UUID saga id when none is given, and returning nothing records null', async () => {
    const saga = createSaga<Input>({ name: 's', steps: [{ name: 'a', run: () => {} }] });
    const result = await saga.execute(INPUT);
    expect(result.sagaId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(result.results).toEqual({ a: null });
  });
});

describe('createSaga: failures', () => {
  it('compensates completed steps in reverse order with their results when a critical step fails', async () => {
    const j = journal();
    const failure = new EnablementError('RT-429', 'quota exceeded');
    const saga = createSaga<Input>({
      name: 'provision',
      steps: [
        j.step('a', { result: { id: 'a-1' } }),
        j.step('b', { result: { id: 'b-1' } }),
        j.step('nothing_to_undo', { noCompensation: true }),
        j.step('c', { fail: failure }),
        j.step('d'),
      ],
    });
    const result = await saga.execute(INPUT);
    expect(j.events).toEqual(['run:a', 'run:b', 'run:nothing_to_undo', 'run:c', 'undo:b', 'undo:a']);
    expect(j.compensatedWith).toEqual({ a: { id: 'a-1' }, b: { id: 'b-1' } });
    expect(result).toMatchObject({
      status: 'compensated',
      ok: false,
      ran: ['a', 'b', 'nothing_to_undo', 'c'],
      completed: ['a', 'b', 'nothing_to_undo'],
      compensated: ['b', 'a'],
      compensationFailures: [],
      failed: [{ step: 'c', critical: true, error: failure }],
    });
    expect(result.error).toBe(failure);
  });

  it('reports a failed compensation, still runs the remaining ones, and never swallows it', async () => {
    const j = journal();
    const undoFailure = new EnablementError('MT-503', 'metering down');
    const foreign = new Error('socket hang up password=hunter2');
    const saga = createSaga<Input>({
      name: 'provision',
      steps: [
        j.step('a'),
        j.step('b', { failCompensation: undoFailure }),
        j.step('c', { failCompensation: foreign }),
        j.step('d', { fail: new EnablementError('RT-500', 'driver crashed') }),
      ],
    });
    const result = await saga.execute(INPUT);
    expect(j.events).toEqual(['run:a', 'run:b', 'run:c', 'run:d', 'undo:c', 'undo:b', 'undo:a']);
    expect(result.status).toBe('compensation_failed');
    expect(result.compensated).toEqual(['a']);
    expect(result.compensationFailures.map((f) => [f.step, f.error.code])).toEqual([
      ['c', 'PL-500'],
      ['b', 'MT-503'],
    ]);
    const wrapped = result.compensationFailures[0]?.error;
    expect(wrapped?.cause).toBe(foreign);
    // Foreign error text (which may hold secrets) is kept as the cause only, never serialized.
    expect(JSON.stringify(wrapped)).not.toContain('hunter2');
    expect(wrapped?.message).toBe("saga 'provision' compensation of step 'c' failed");
    expect(result.error?.code).toBe('RT-500');
  });

  it('treats a non-critical failure as a warning: logged, reported, and the saga goes on', async () => {
    const j = journal();
    const { lines, logger } = memoryLogger();
    const saga = createSaga<Input>({
      name: 'provision',
      logger,
      steps: [
        j.step('subscribe'),
        j.step('welcome', { critical: false, fail: new EnablementError('MS-503', 'relay down') }),
        j.step('spawn'),
      ],
    });
    const result = await saga.execute(INPUT, { sagaId: 'w-1' });
    expect(result.status).toBe('completed');
    expect(result.ok).toBe(true);
    expect(result.completed).toEqual(['subscribe', 'spawn']);
    expect(result.failed).toEqual([
      { step: 'welcome', critical: false, error: expect.objectContaining({ code: 'MS-503' }) },
    ]);
    expect(j.events).toEqual(['run:subscribe', 'run:welcome', 'run:spawn']);
    const warning = lines.find((l) => l.level === 'warn');
    expect(warning?.message).toContain("non-critical step 'welcome' failed");
    expect(warning?.fields).toMatchObject({ saga_id: 'w-1', step: 'welcome' });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('wraps foreign and non-Error failures in PL-500 with the original as cause', async () => {
    const saga = createSaga<Input>({
      name: 's',
      steps: [
        {
          name: 'a',
          run: () => {
            throw 'plain string';
          },
        },
      ],
    });
    const result = await saga.execute(INPUT);
    expect(result.error?.code).toBe('PL-500');
    expect(result.error?.message).toBe("saga 's' step 'a' failed");
    expect(result.error?.cause).toBe('plain string');
  });

  it('fails a step whose result is not bounded JSON, and compensates it with what it returned', async () => {
    const undone: unknown[] = [];
    const returned = { id: 1n };
    const saga = createSaga<Input>({
      name: 's',
      steps: [
        {
          name: 'a',
          run: () => returned as unknown as JsonValue,
          compensate: (_ctx, result) => {
            undone.push(result);
          },
        },
        { name: 'big', critical: false, run: () => 'x'.repeat(70_000) },
      ],
    });
    const result = await saga.execute(INPUT);
    expect(result.status).toBe('compensated');
    expect(result.error?.code).toBe('PL-400');
    expect(result.error?.message).toContain("step 'a' returned a result that is not bounded JSON");
    expect(undone).toEqual([returned]);
    expect(result.completed).toEqual([]);

    const warnOnly = createSaga<Input>({
      name: 's2',
      steps: [{ name: 'big', critical: false, run: () => 'x'.repeat(70_000) }],
    });
    const second = await warnOnly.execute(INPUT);
    expect(second.status).toBe('completed');
    expect(second.failed[0]?.error.code).toBe('PL-400');
    expect(second.results).toEqual({});
  });
});

describe('createSaga: validation', () => {
  const ok: SagaOptions<Input> = { name: 's', steps: [{ name: 'a', run: () => null }] };

  it('rejects bad definitions with PL-400 naming the field', () => {
    expectEnablementError(() => createSaga({ ...ok, name: '1bad' }), 'PL-400', 'name');
    expectEnablementError(() => createSaga({ ...ok, steps: [] }), 'PL-400', 'steps');
    expectEnablementError(
      () =>
        createSaga({
          ...ok,
          steps: Array.from({ length: 65 }, (_, i) => ({ name: `s${i}`, run: () => null })),
        }),
      'PL-400',
      'steps',
    );
    expectEnablementError(
      () => createSaga({ ...ok, steps: [{ name: '__proto__', run: () => null }] }),
      'PL-400',
      'steps[0].name',
    );
    expectEnablementError(
      () =>
        createSaga({
          ...ok,
          steps: [
            { name: 'a', run: () => null },
            { name: 'a', run: () => null },
          ],
        }),
      'PL-400',
      "steps[1].name: duplicate step name 'a'",
    );
    expectEnablementError(
      () => createSaga({ ...ok, steps: [{ name: 'a' } as never] }),
      'PL-400',
      'steps[0].run',
    );
    expectEnablementError(
      () => createSaga({ ...ok, steps: [{ name: 'a', run: () => null, compensate: 1 } as never] }),
      'PL-400',
      'steps[0].compensate',
    );
    expectEnablementError(
      () => createSaga({ ...ok, steps: [{ name: 'a', run: () => null, critical: 'no' } as never] }),
      'PL-400',
      'steps[0].critical',
    );
    expectEnablementError(
      () => createSaga({ ...ok, steps: [{ name: 'a', run: () => null, idempotent: 1 } as never] }),
      'PL-400',
      'steps[0].idempotent',
    );
    expectEnablementError(() => createSaga({ ...ok, log: {} as SagaLog }), 'PL-400', 'log');
    expectEnablementError(() => createSaga({ ...ok, maxConcurrent: 0 }), 'PL-400', 'maxConcurrent');
  });

  it('rejects bad input, saga ids and trace contexts before anything runs', async () => {
    const j = journal();
    const saga = createSaga<unknown>({ name: 's', steps: [j.step('a') as SagaStep<unknown>] });
    await expect(saga.execute({ n: 1n })).rejects.toMatchObject({
      code: 'PL-400',
      message: expect.stringContaining('input'),
    });
    await expect(saga.execute(INPUT, { sagaId: 'has space' })).rejects.toMatchObject({
      code: 'PL-400',
      message: expect.stringContaining('sagaId'),
    });
    await expect(saga.execute(INPUT, { sagaId: 'x'.repeat(129) })).rejects.toMatchObject({ code: 'PL-400' });
    await expect(saga.execute(INPUT, { traceContext: { traceparent: 'junk' } })).rejects.toMatchObject({
      code: 'PL-400',
      message: expect.stringContaining('traceContext.traceparent'),
    });
    expect(j.events).toEqual([]);
  });

  it('refuses a second concurrent run with the same id (PL-409) and runs beyond maxConcurrent (PL-503)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const saga = createSaga<Input>({
      name: 's',
      maxConcurrent: 1,
      steps: [{ name: 'a', run: () => gate.then(() => 1) }],
    });
    const first = saga.execute(INPUT, { sagaId: 'same' });
    await expect(saga.execute(INPUT, { sagaId: 'same' })).rejects.toMatchObject({ code: 'PL-409' });
    await expect(saga.execute(INPUT, { sagaId: 'other' })).rejects.toMatchObject({ code: 'PL-503' });
    release();
    expect((await first).status).toBe('completed');
    expect((await saga.execute(INPUT, { sagaId: 'same' })).status).toBe('completed');
  });
});

describe('createSaga: the saga log', () => {
  it('writes the records of a failing run in order, with Clock timestamps, then forgets the run', async () => {
    const j = journal();
    const clock = new FakeClock({ start: 42n });
    const appended: SagaLogRecord[] = [];
    const inner = createInMemorySagaLog();
    const log: SagaLog = {
      append: async (r) => {
        appended.push(r);
        await inner.append(r);
      },
      loadIncomplete: (n) => inner.loadIncomplete(n),
    };
    const saga = createSaga<Input>({
      name: 's',
      log,
      clock,
      steps: [
        j.step('a', { result: { id: 'a-1' } }),
        j.step('warn', { critical: false, fail: new EnablementError('MS-503', 'down') }),
        j.step('b', { fail: new EnablementError('RT-403', 'denied') }),
      ],
    });
    await saga.execute(INPUT, { sagaId: 'r1' });
    expect(appended.map((r) => [r.type, 'step' in r ? r.step : ''])).toEqual([
      ['saga_started', ''],
      ['step_started', 'a'],
      ['step_completed', 'a'],
      ['step_started', 'warn'],
      ['step_failed', 'warn'],
      ['step_started', 'b'],
      ['step_failed', 'b'],
      ['compensating', ''],
      ['step_compensated', 'a'],
      ['saga_finished', ''],
    ]);
    expect(appended[0]).toEqual({
      type: 'saga_started',
      sagaId: 'r1',
      sagaName: 's',
      input: INPUT,
      at: '42',
    });
    expect(appended[2]).toMatchObject({ result: { id: 'a-1' } });
    expect(appended[4]).toMatchObject({ critical: false, error: { code: 'MS-503' } });
    expect(appended.at(-1)).toMatchObject({ status: 'compensated' });
    // Every record is plain JSON.
    expect(JSON.parse(JSON.stringify(appended))).toEqual(appended);
    expect(inner.size).toBe(0);
  });

  it('does not start a run the log refuses to record', async () => {
    const j = journal();
    const log: SagaLog = {
      append: async () => {
        throw new Error('connection refused');
      },
      loadIncomplete: async () => [],
    };
    const saga = createSaga<Input>({ name: 's', log, steps: [j.step('a')] });
    await expect(saga.execute(INPUT)).rejects.toMatchObject({
      code: 'PL-503',
      message: expect.stringContaining('saga_started'),
    });
    expect(j.events).toEqual([]);
  });

  it('never runs a step the log could not record, and compensates what ran', async () => {
    const j = journal();
    const inner = createInMemorySagaLog();
    let failNext = false;
    const log: SagaLog = {
      append: async (r) => {
        if (failNext && r.type === 'step_started') throw new Error('disk full');
        await inner.append(r);
      },
      loadIncomplete: (n) => inner.loadIncomplete(n),
    };
    const saga = createSaga<Input>({
      name: 's',
      log,
      steps: [
        j.step('a', {
          run: () => {
            failNext = true;
            return { id: 'a' };
          },
        }),
        j.step('b'),
      ],
    });
    const result = await saga.execute(INPUT);
    expect(j.events).toEqual(['run:a', 'undo:a']);
    expect(result.status).toBe('compensated');
    expect(result.error?.code).toBe('PL-503');
    expect(result.failed).toEqual([{ step: 'b', critical: true, error: result.error }]);
  });

  it('reports log write failures during compensation in logErrors without stopping', async () => {
    const j = journal();
    const inner = createInMemorySagaLog();
    const log: SagaLog = {
      append: async (r) => {
        if (r.type === 'step_compensated' || r.type === 'saga_finished')
          throw new EnablementError('PL-503', 'log down');
        await inner.append(r);
      },
      loadIncomplete: (n) => inner.loadIncomplete(n),
    };
    const saga = createSaga<Input>({
      name: 's',
      log,
      steps: [j.step('a'), j.step('b'), j.step('c', { fail: new EnablementError('PL-500', 'x') })],
    });
    const result = await saga.execute(INPUT);
    expect(result.compensated).toEqual(['b', 'a']);
    expect(result.logErrors.map((e) => e.code)).toEqual(['PL-503', 'PL-503', 'PL-503']);
  });
});

describe('Saga.recover after a crash', () => {
  /** Runs `steps` until the coordinator hangs (a "crash"), then returns the log holding the run. */
  async function crash(steps: SagaStep<Input>[], records: number, log = createInMemorySagaLog()) {
    const clock = new FakeClock({ start: 0n });
    const doomed = createSaga<Input>({ name: 'provision', log, clock, steps });
    void doomed.execute(INPUT, { sagaId: 'run-1' }); // abandoned, never settles
    await untilRecords(log, 'run-1', records);
    return log;
  }

  it('compensates when a non-idempotent step was in flight, reporting it for manual reconciliation', async () => {
    const before = journal();
    const log = await crash(
      [before.step('a', { result: { id: 'a-1' } }), before.step('b', { run: never }), before.step('c')],
      4, // saga_started, step_started a, step_completed a, step_started b
    );
    expect(before.events).toEqual(['run:a', 'run:b']);

    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b'), after.step('c')],
    });
    const report = await saga.recover();
    expect(report.skipped).toEqual([]);
    const [result] = report.results;
    expect(after.events).toEqual(['undo:a']);
    expect(after.compensatedWith).toEqual({ a: { id: 'a-1' } }); // the result kept in the log
    expect(result).toMatchObject({
      sagaId: 'run-1',
      status: 'compensation_failed',
      recovered: true,
      completed: ['a'],
      compensated: ['a'],
      ran: ['a', 'b'],
    });
    expect(result?.compensationFailures).toEqual([
      {
        step: 'b',
        critical: true,
        error: expect.objectContaining({
          code: 'PL-500',
          message: expect.stringContaining('reconcile by hand'),
        }),
      },
    ]);
    expect(result?.error?.message).toContain("interrupted inside step 'b', which is not idempotent");
    expect(log.size).toBe(0);
    expect((await saga.recover()).results).toEqual([]);
  });

  it('re-runs an idempotent step that was in flight, with the same idempotency key, then goes on', async () => {
    const before = journal();
    const log = await crash(
      [
        before.step('a', { result: { id: 'a-1' } }),
        before.step('b', { idempotent: true, run: never }),
        before.step('c'),
      ],
      4,
    );
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b', { idempotent: true, result: { id: 'b-2' } }), after.step('c')],
    });
    const [result] = (await saga.recover()).results;
    expect(after.events).toEqual(['run:b', 'run:c']);
    expect(after.contexts[0]).toMatchObject({
      idempotencyKey: 'run-1:b',
      recovering: true,
      input: INPUT,
      results: { a: { id: 'a-1' } },
    });
    expect(result).toMatchObject({
      status: 'completed',
      recovered: true,
      completed: ['a', 'b', 'c'],
      ran: ['a', 'b', 'c'],
    });
    expect(result?.results).toEqual({ a: { id: 'a-1' }, b: { id: 'b-2' }, c: { id: 'c-1' } });
  });

  it('resumes with the next step when the crash fell between two steps', async () => {
    const before = journal();
    const inner = createInMemorySagaLog();
    // The log hangs when asked to record the start of step b: a crash between a and b.
    const log: SagaLog & { recordsOf: typeof inner.recordsOf } = {
      append: (r) => (r.type === 'step_started' && r.step === 'b' && !resumed ? never() : inner.append(r)),
      loadIncomplete: (n) => inner.loadIncomplete(n),
      recordsOf: (id) => inner.recordsOf(id),
    };
    let resumed = false;
    const doomed = createSaga<Input>({
      name: 'provision',
      log,
      steps: [before.step('a'), before.step('b'), before.step('c')],
    });
    void doomed.execute(INPUT, { sagaId: 'run-1' });
    await untilRecords(inner, 'run-1', 3);
    resumed = true;
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b'), after.step('c')],
    });
    const [result] = (await saga.recover()).results;
    expect(before.events).toEqual(['run:a']);
    expect(after.events).toEqual(['run:b', 'run:c']);
    expect(result?.status).toBe('completed');
  });

  it('finishes an interrupted compensation, re-running the compensation that was in flight', async () => {
    const before = journal();
    const log = await crash(
      [
        before.step('a', { result: { id: 'a-1' } }),
        {
          name: 'b',
          run: () => ({ id: 'b-1' }),
          compensate: never, // the process dies while undoing b
        },
        before.step('c', { fail: new EnablementError('RT-403', 'denied') }),
      ],
      // started, a started+completed, b started+completed, c started+failed, compensating
      8,
    );
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b'), after.step('c')],
    });
    const [result] = (await saga.recover()).results;
    expect(after.events).toEqual(['undo:b', 'undo:a']);
    expect(after.compensatedWith).toEqual({ a: { id: 'a-1' }, b: { id: 'b-1' } });
    expect(result).toMatchObject({ status: 'compensated', compensated: ['b', 'a'], recovered: true });
    expect(result?.error).toMatchObject({ code: 'RT-403', message: 'denied' });
    expect(result?.failed).toEqual([
      { step: 'c', critical: true, error: expect.objectContaining({ code: 'RT-403' }) },
    ]);
  });

  it('does not compensate a step twice when its compensation was already recorded', async () => {
    const log = createInMemorySagaLog();
    await log.append({ type: 'saga_started', sagaId: 'r', sagaName: 'provision', input: INPUT, at: '0' });
    for (const step of ['a', 'b']) {
      await log.append({ type: 'step_started', sagaId: 'r', step, at: '1' });
      await log.append({ type: 'step_completed', sagaId: 'r', step, result: { id: step }, at: '2' });
    }
    await log.append({ type: 'step_started', sagaId: 'r', step: 'c', at: '3' });
    const failure = new EnablementError('PL-403', 'nope').toJSON();
    await log.append({
      type: 'step_failed',
      sagaId: 'r',
      step: 'c',
      critical: true,
      error: failure,
      at: '4',
    });
    await log.append({ type: 'compensating', sagaId: 'r', error: failure, at: '5' });
    await log.append({ type: 'step_compensated', sagaId: 'r', step: 'b', at: '6' });
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b'), after.step('c')],
    });
    const [result] = (await saga.recover()).results;
    expect(after.events).toEqual(['undo:a']);
    expect(result?.compensated).toEqual(['b', 'a']);
    expect(result?.status).toBe('compensated');
  });

  it('treats a recorded critical failure without a compensating record as compensating', async () => {
    const log = createInMemorySagaLog();
    await log.append({ type: 'saga_started', sagaId: 'r', sagaName: 'provision', input: INPUT, at: '0' });
    await log.append({ type: 'step_started', sagaId: 'r', step: 'a', at: '1' });
    await log.append({ type: 'step_completed', sagaId: 'r', step: 'a', result: 1, at: '2' });
    await log.append({ type: 'step_started', sagaId: 'r', step: 'b', at: '3' });
    await log.append({
      type: 'step_failed',
      sagaId: 'r',
      step: 'b',
      critical: true,
      error: new EnablementError('RT-429', 'quota').toJSON(),
      at: '4',
    });
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b'), after.step('c')],
    });
    const [result] = (await saga.recover()).results;
    expect(after.events).toEqual(['undo:a']);
    expect(result?.error?.code).toBe('RT-429');
  });

  it("policy 'compensate' undoes a run that could have resumed", async () => {
    const before = journal();
    const log = await crash([before.step('a'), before.step('b', { idempotent: true, run: never })], 4);
    const after = journal();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [after.step('a'), after.step('b', { idempotent: true })],
    });
    const [result] = (await saga.recover({ policy: 'compensate' })).results;
    expect(after.events).toEqual(['undo:a']);
    expect(result?.status).toBe('compensation_failed'); // b's outcome is unknown
    expect(result?.compensationFailures.map((f) => f.step)).toEqual(['b']);
    await expect(saga.recover({ policy: 'sometimes' as never })).rejects.toMatchObject({ code: 'PL-400' });
  });

  it('skips runs that do not fit the definition, leaving them in the log', async () => {
    const log = createInMemorySagaLog();
    await log.append({ type: 'saga_started', sagaId: 'r', sagaName: 'provision', input: INPUT, at: '0' });
    await log.append({ type: 'step_started', sagaId: 'r', step: 'removed_step', at: '1' });
    await log.append({
      type: 'saga_started',
      sagaId: 'other-saga',
      sagaName: 'billing',
      input: null,
      at: '0',
    });
    const after = journal();
    const saga = createSaga<Input>({ name: 'provision', log, steps: [after.step('a')] });
    const report = await saga.recover();
    expect(report.results).toEqual([]);
    expect(report.skipped).toEqual([
      {
        sagaId: 'r',
        error: expect.objectContaining({
          code: 'PL-409',
          message: expect.stringContaining("'removed_step'"),
        }),
      },
    ]);
    expect(after.events).toEqual([]);
    expect(log.size).toBe(2);
  });

  it('leaves alone a run this coordinator is executing right now', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const log = createInMemorySagaLog();
    const saga = createSaga<Input>({
      name: 'provision',
      log,
      steps: [{ name: 'a', run: () => gate.then(() => 1) }],
    });
    const running = saga.execute(INPUT, { sagaId: 'live' });
    await untilRecords(log, 'live', 2);
    expect(await saga.recover()).toEqual({ results: [], skipped: [] });
    release();
    expect((await running).status).toBe('completed');
  });

  it('has nothing to recover without a log, and surfaces a failing log as PL-503', async () => {
    const saga = createSaga<Input>({ name: 's', steps: [{ name: 'a', run: () => 1 }] });
    expect(await saga.recover()).toEqual({ results: [], skipped: [] });
    const broken = createSaga<Input>({
      name: 's',
      log: { append: async () => {}, loadIncomplete: () => Promise.reject(new Error('db down')) },
      steps: [{ name: 'a', run: () => 1 }],
    });
    await expect(broken.recover()).rejects.toMatchObject({ code: 'PL-503' });
  });
});

describe('createInMemorySagaLog', () => {
  const started = (sagaId: string, sagaName = 's'): SagaLogRecord => ({
    type: 'saga_started',
    sagaId,
    sagaName,
    input: null,
    at: '0',
  });

  it('enforces the SagaLog contract: duplicate start PL-409, unknown run PL-404, finished runs forgotten', async () => {
    const log = createInMemorySagaLog();
    await log.append(started('a'));
    await expect(log.append(started('a'))).rejects.toMatchObject({ code: 'PL-409' });
    await expect(
      log.append({ type: 'step_started', sagaId: 'zzz', step: 'x', at: '0' }),
    ).rejects.toMatchObject({ code: 'PL-404' });
    await log.append({ type: 'saga_finished', sagaId: 'a', status: 'completed', at: '1' });
    expect(await log.loadIncomplete('s')).toEqual([]);
    expect(log.recordsOf('a')).toBeUndefined();
  });

  it('keeps JSON copies: callers cannot alter stored records, and non-JSON is refused', async () => {
    const log = createInMemorySagaLog();
    await log.append(started('a'));
    const result = { id: 'x' };
    await log.append({ type: 'step_completed', sagaId: 'a', step: 's1', result, at: '1' });
    result.id = 'mutated';
    const [loaded] = await log.loadIncomplete('s');
    expect(loaded?.records[1]).toMatchObject({ result: { id: 'x' } });
    (loaded?.records[1] as { result: JsonValue }).result = 'tampered';
    expect(log.recordsOf('a')?.[1]).toMatchObject({ result: { id: 'x' } });
    await expect(
      log.append({ type: 'step_completed', sagaId: 'a', step: 's2', result: 1n as never, at: '2' }),
    ).rejects.toMatchObject({
      code: 'PL-400',
    });
    await expect(log.append({ type: 'nope', sagaId: 'a' } as never)).rejects.toMatchObject({
      code: 'PL-400',
    });
  });

  it('loads only the runs of the named saga', async () => {
    const log = createInMemorySagaLog();
    await log.append(started('a', 'one'));
    await log.append(started('b', 'two'));
    expect((await log.loadIncomplete('two')).map((e) => e.sagaId)).toEqual(['b']);
  });

  it('is bounded: runs (PL-503) and records per run (PL-500)', async () => {
    const log = createInMemorySagaLog({ maxSagas: 2, maxRecordsPerSaga: 3 });
    await log.append(started('a'));
    await log.append(started('b'));
    await expect(log.append(started('c'))).rejects.toMatchObject({ code: 'PL-503' });
    await log.append({ type: 'step_started', sagaId: 'a', step: 'x', at: '1' });
    await log.append({ type: 'step_started', sagaId: 'a', step: 'x', at: '1' });
    await expect(log.append({ type: 'step_started', sagaId: 'a', step: 'x', at: '1' })).rejects.toMatchObject(
      { code: 'PL-500' },
    );
    await log.append({ type: 'saga_finished', sagaId: 'b', status: 'completed', at: '2' });
    await expect(log.append(started('c'))).resolves.toBeUndefined();
    expect(() => createInMemorySagaLog({ maxSagas: 0 })).toThrow(
      expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('maxSagas') }),
    );
  });
});
