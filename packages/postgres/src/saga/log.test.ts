import { createSaga, EnablementError, type JsonValue, type SagaLog, type SagaLogRecord } from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import type { SqlClient, SqlExecutor } from '../sql/index.js';
import { createPostgresSagaLog } from './log.js';

const started = (sagaId: string, sagaName = 's'): SagaLogRecord => ({
  type: 'saga_started',
  sagaId,
  sagaName,
  input: null,
  at: '0',
});

/** A unique run id, so tests sharing a schema never collide. */
const id = (name: string) => `${name}-${globalThis.crypto.randomUUID()}`;
/** A unique saga name, so `loadIncomplete` sees only this test's runs. */
const sagaName = (name: string) => `${name}_${globalThis.crypto.randomUUID().slice(0, 8)}`;

/**
 * A client whose transactions fail at their `failAt`-th statement (1-based), after the earlier
 * ones ran: a process that dies in the middle of a write.
 */
function failingClient(inner: SqlClient, failAt: number): SqlClient {
  return {
    driver: inner.driver,
    query: (text, params) => inner.query(text, params),
    transaction: (fn, options) =>
      inner.transaction((tx) => {
        let n = 0;
        const wrapped: SqlExecutor = {
          query: (text, params) => {
            n += 1;
            if (n === failAt) return Promise.reject(new Error('process died here'));
            return tx.query(text, params);
          },
        };
        return fn(wrapped);
      }, options),
    close: () => inner.close(),
  };
}

describeEachDriver('PostgresSagaLog', (db) => {
  const log = (options: { maxSagas?: number; maxRecordsPerSaga?: number; maxRecordLength?: number } = {}) =>
    createPostgresSagaLog({ client: db().client, schema: db().schema, ...options });

  describe('the SagaLog contract (as core’s in-memory log)', () => {
    it('keeps records of a run in append order and returns runs in start order', async () => {
      const name = sagaName('order');
      const l = log();
      const [a, b] = [id('a'), id('b')];
      await l.append(started(a, name));
      await l.append(started(b, name));
      for (const step of ['one', 'two', 'three']) {
        await l.append({ type: 'step_started', sagaId: a, step, at: '1' });
        await l.append({ type: 'step_completed', sagaId: a, step, result: { step }, at: '2' });
      }
      const loaded = await l.loadIncomplete(name);
      expect(loaded.map((r) => r.sagaId)).toEqual([a, b]);
      expect(loaded[0]?.records.map((r) => `${r.type}:${'step' in r ? r.step : ''}`)).toEqual([
        'saga_started:',
        'step_started:one',
        'step_completed:one',
        'step_started:two',
        'step_completed:two',
        'step_started:three',
        'step_completed:three',
      ]);
      expect(loaded[1]?.records).toEqual([started(b, name)]);
    });

    it('enforces the SagaLog contract: duplicate start PL-409, unknown run PL-404, finished runs forgotten', async () => {
      const name = sagaName('contract');
      const l = log();
      const a = id('a');
      await l.append(started(a, name));
      await expectEnablementRejection(l.append(started(a, name)), 'PL-409');
      await expectEnablementRejection(
        l.append({ type: 'step_started', sagaId: id('zzz'), step: 'x', at: '0' }),
        'PL-404',
      );
      await expectEnablementRejection(
        l.append({ type: 'saga_finished', sagaId: id('zzz'), status: 'completed', at: '0' }),
        'PL-404',
      );
      await l.append({ type: 'saga_finished', sagaId: a, status: 'completed', at: '1' });
      expect(await l.loadIncomplete(name)).toEqual([]);
      await expectEnablementRejection(
        l.append({ type: 'step_started', sagaId: a, step: 'x', at: '2' }),
        'PL-404',
      );
      // The rows are gone, not just hidden.
      const { rows } = await db().client.query(
        `SELECT 1 FROM "${db().schema}".saga_records WHERE saga_id = $1`,
        [a],
      );
      expect(rows).toEqual([]);
    });

    it('keeps JSON copies: callers cannot alter stored records, and non-JSON is refused', async () => {
      const name = sagaName('copies');
      const l = log();
      const a = id('a');
      await l.append(started(a, name));
      const result = { id: 'x', nested: { emoji: '🦀', quote: '"', big: 1.5e300 } };
      await l.append({ type: 'step_completed', sagaId: a, step: 's1', result, at: '1' });
      result.id = 'mutated';
      const [loaded] = await l.loadIncomplete(name);
      expect(loaded?.records[1]).toMatchObject({ result: { id: 'x', nested: { emoji: '🦀', quote: '"' } } });
      (loaded?.records[1] as { result: JsonValue }).result = 'tampered';
      const [again] = await l.loadIncomplete(name);
      expect(again?.records[1]).toMatchObject({ result: { id: 'x' } });
      await expectEnablementRejection(
        l.append({ type: 'step_completed', sagaId: a, step: 's2', result: 1n as never, at: '2' }),
        'PL-400',
      );
      await expectEnablementRejection(l.append({ type: 'nope', sagaId: a } as never), 'PL-400');
      await expectEnablementRejection(l.append(null as never), 'PL-400');
      await expectEnablementRejection(l.append(started(`${a}\u0000`, name)), 'PL-400');
      expect((await l.loadIncomplete(name))[0]?.records).toHaveLength(2);
    });

    it('loads only the runs of the named saga', async () => {
      const [one, two] = [sagaName('one'), sagaName('two')];
      const l = log();
      const b = id('b');
      await l.append(started(id('a'), one));
      await l.append(started(b, two));
      expect((await l.loadIncomplete(two)).map((e) => e.sagaId)).toEqual([b]);
      expect(await l.loadIncomplete(sagaName('none'))).toEqual([]);
    });

    it('is bounded: records per run (PL-500), record size (PL-400), runs (PL-503)', async () => {
      const l = log({ maxRecordsPerSaga: 3, maxRecordLength: 200 });
      const a = id('a');
      await l.append(started(a, sagaName('bounded')));
      await l.append({ type: 'step_started', sagaId: a, step: 'x', at: '1' });
      await l.append({ type: 'step_started', sagaId: a, step: 'x', at: '1' });
      await expectEnablementRejection(
        l.append({ type: 'step_started', sagaId: a, step: 'x', at: '1' }),
        'PL-500',
      );
      await expectEnablementRejection(
        l.append({ type: 'step_completed', sagaId: a, step: 'x', result: 'y'.repeat(300), at: '1' }),
        'PL-400',
      );
      // Runs are counted across the schema; a bound just above the current count shows the limit.
      const { rows } = await db().client.query<{ n: bigint }>(
        `SELECT count(*) AS n FROM "${db().schema}".saga_runs`,
      );
      const small = log({ maxSagas: Number(rows[0]?.n ?? 0n) + 1 });
      const b = id('b');
      await small.append(started(b));
      await expectEnablementRejection(small.append(started(id('c'))), 'PL-503');
      await small.append({ type: 'saga_finished', sagaId: b, status: 'completed', at: '2' });
      await expect(small.append(started(id('c')))).resolves.toBeUndefined();
      expect(() => createPostgresSagaLog({ client: db().client, maxSagas: 0 })).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('maxSagas') }),
      );
    });
  });

  describe('durability and faults', () => {
    it('leaves nothing behind when a write dies midway, so the same append can be retried', async () => {
      const name = sagaName('fault');
      const a = id('a');
      // saga_started is two inserts (run, first record): die between them.
      const dying = createPostgresSagaLog({ client: failingClient(db().client, 2), schema: db().schema });
      await expect(dying.append(started(a, name))).rejects.toThrow('process died here');
      expect(await log().loadIncomplete(name)).toEqual([]);
      await log().append(started(a, name)); // no PL-409: no half-started run was kept
      // An append is an UPDATE of the counter then an INSERT: die at the insert.
      const dyingAppend = createPostgresSagaLog({
        client: failingClient(db().client, 2),
        schema: db().schema,
      });
      await expect(
        dyingAppend.append({ type: 'step_started', sagaId: a, step: 'x', at: '1' }),
      ).rejects.toThrow();
      await log().append({ type: 'step_started', sagaId: a, step: 'y', at: '2' });
      const [run] = await log().loadIncomplete(name);
      expect(run?.records.map((r) => r.type)).toEqual(['saga_started', 'step_started']);
      expect(run?.records[1]).toMatchObject({ step: 'y' });
    });

    it('orders concurrent appends to one run from two clients without losing any', async () => {
      const name = sagaName('concurrent');
      const a = id('a');
      const second = (await db().openSecond()) ?? db().client;
      const l1 = log();
      const l2 = createPostgresSagaLog({ client: second, schema: db().schema });
      await l1.append(started(a, name));
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? l1 : l2).append({ type: 'step_started', sagaId: a, step: `s${i}`, at: String(i) }),
        ),
      );
      const [run] = await l1.loadIncomplete(name);
      expect(run?.records).toHaveLength(21);
      expect(new Set(run?.records.slice(1).map((r) => ('step' in r ? r.step : ''))).size).toBe(20);
    });

    it('lets a saga interrupted by a crash be compensated by a new process (durable drivers)', async () => {
      const { reopen, schema } = db();
      if (reopen === undefined) return;
      const name = sagaName('provision');
      const undone: JsonValue[] = [];
      const steps = (hang: boolean) => [
        {
          name: 'create_subscription',
          run: () => ({ subscription_id: 'sub-1' }),
          compensate: async (_ctx: unknown, result: JsonValue) => {
            undone.push(result);
          },
        },
        {
          name: 'spawn_sandbox',
          run: () => (hang ? new Promise<never>(() => {}) : { sandbox_id: 'sb-1' }),
        },
      ];
      const clock = new FakeClock();
      const doomed = createSaga({ name, clock, steps: steps(true), log: log() });
      void doomed.execute({ agent: 'a' }, { sagaId: id('run') }); // never settles: the process "dies"
      // Wait until the run has recorded step 2's start (4 records).
      for (let i = 0; i < 200; i++) {
        const [run] = await log().loadIncomplete(name);
        if ((run?.records.length ?? 0) >= 4) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const client = await reopen();
      const restarted = createSaga({
        name,
        clock,
        steps: steps(false),
        log: createPostgresSagaLog({ client, schema }),
      });
      const report = await restarted.recover();
      expect(report.results).toHaveLength(1);
      expect(report.results[0]).toMatchObject({
        status: 'compensation_failed',
        recovered: true,
        compensated: ['create_subscription'],
      });
      expect(undone).toEqual([{ subscription_id: 'sub-1' }]);
      expect(await createPostgresSagaLog({ client, schema }).loadIncomplete(name)).toEqual([]);
    });

    it('runs a saga end to end on the log and forgets the finished run', async () => {
      const name = sagaName('happy');
      const saga = createSaga({
        name,
        log: log(),
        steps: [
          { name: 'a', run: () => 1 },
          { name: 'b', run: () => ({ ok: true }) },
        ],
      });
      const result = await saga.execute({}, { sagaId: id('run') });
      expect(result).toMatchObject({ status: 'completed', logErrors: [] });
      expect(await log().loadIncomplete(name)).toEqual([]);
    });

    it('surfaces an unreachable database to the saga as PL-503', async () => {
      const broken: SagaLog = createPostgresSagaLog({
        client: { ...db().client, query: () => Promise.reject(new EnablementError('PL-503', 'down')) },
        schema: db().schema,
      });
      const saga = createSaga({ name: sagaName('down'), log: broken, steps: [{ name: 'a', run: () => 1 }] });
      await expect(saga.recover()).rejects.toMatchObject({ code: 'PL-503' });
    });
  });
});
