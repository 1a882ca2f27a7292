import type { EnablementErrorJson } from '../errors/enablement-error.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { TraceContext } from '../telemetry/tracing.js';
import type { JsonValue } from '../wire/json.js';

/** Final state of a saga run (see `SagaResult.status`). */
export type SagaStatus = 'completed' | 'compensated' | 'compensation_failed';

/** A saga run began: everything needed to resume or compensate it after a crash. */
export interface SagaStartedRecord {
  /** Record type. */
  readonly type: 'saga_started';
  /** The run's id. */
  readonly sagaId: string;
  /** The saga definition's name; recovery only touches runs of its own definition. */
  readonly sagaName: string;
  /** The run's input, needed to re-run steps on recovery. */
  readonly input: JsonValue;
  /** The caller's trace context, so recovered work joins the original trace. */
  readonly traceContext?: TraceContext;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** A step is about to run: if no outcome follows, the step was in flight when the process died. */
export interface StepStartedRecord {
  /** Record type. */
  readonly type: 'step_started';
  /** The run's id. */
  readonly sagaId: string;
  /** Step name. */
  readonly step: string;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** A step completed with `result` (JSON, so that a durable log can keep it for its compensation). */
export interface StepCompletedRecord {
  /** Record type. */
  readonly type: 'step_completed';
  /** The run's id. */
  readonly sagaId: string;
  /** Step name. */
  readonly step: string;
  /** The step's result, handed to its compensation. */
  readonly result: JsonValue;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** A step failed; a critical failure starts compensation, a non-critical one is a warning. */
export interface StepFailedRecord {
  /** Record type. */
  readonly type: 'step_failed';
  /** The run's id. */
  readonly sagaId: string;
  /** Step name. */
  readonly step: string;
  /** Whether the failure aborts the saga. */
  readonly critical: boolean;
  /** The failure, spec §8.2 wire shape. */
  readonly error: EnablementErrorJson;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** The run switched to compensation; from here on it never moves forward again. */
export interface CompensatingRecord {
  /** Record type. */
  readonly type: 'compensating';
  /** The run's id. */
  readonly sagaId: string;
  /** Why the run is compensated. */
  readonly error: EnablementErrorJson;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** A completed step's compensation succeeded. */
export interface StepCompensatedRecord {
  /** Record type. */
  readonly type: 'step_compensated';
  /** The run's id. */
  readonly sagaId: string;
  /** Step name. */
  readonly step: string;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** A step's compensation failed (or could not be attempted); its effect may still be in place. */
export interface CompensationFailedRecord {
  /** Record type. */
  readonly type: 'compensation_failed';
  /** The run's id. */
  readonly sagaId: string;
  /** Step name. */
  readonly step: string;
  /** The failure, spec §8.2 wire shape. */
  readonly error: EnablementErrorJson;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** The run reached a final status; a log may forget the run after this record. */
export interface SagaFinishedRecord {
  /** Record type. */
  readonly type: 'saga_finished';
  /** The run's id. */
  readonly sagaId: string;
  /** Final status. */
  readonly status: SagaStatus;
  /** Clock time, int64 Unix nanoseconds as a decimal string. */
  readonly at: string;
}

/** One entry of a {@link SagaLog}. Every record is plain JSON. */
export type SagaLogRecord =
  | SagaStartedRecord
  | StepStartedRecord
  | StepCompletedRecord
  | StepFailedRecord
  | CompensatingRecord
  | StepCompensatedRecord
  | CompensationFailedRecord
  | SagaFinishedRecord;

/** Every {@link SagaLogRecord} `type`. */
export const SAGA_LOG_RECORD_TYPES: readonly SagaLogRecord['type'][] = Object.freeze([
  'saga_started',
  'step_started',
  'step_completed',
  'step_failed',
  'compensating',
  'step_compensated',
  'compensation_failed',
  'saga_finished',
]);

/** The records of one unfinished run, in append order, the `saga_started` record first. */
export interface IncompleteSaga {
  /** The run's id. */
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly sagaName: string;
  /** Every record of the run, in the order appended. */
  readonly records: readonly SagaLogRecord[];
}

/**
 * Durable record of saga runs, so that a run interrupted by a crash can be finished on restart
 * (`Saga.recover`). Optional: a saga without a log simply cannot be recovered.
 *
 * Contract for implementations (a PostgreSQL or Redis adapter, the in-memory one here):
 * - `append` is durable when it resolves, and keeps records of a run in append order;
 * - a second `saga_started` for a known `sagaId` is rejected with `PL-409`; a record for an
 *   unknown run with `PL-404`;
 * - after `saga_finished`, the run is no longer returned by `loadIncomplete` (it may be deleted);
 * - records are JSON; what `loadIncomplete` returns must not alias what the caller appended.
 */
export interface SagaLog {
  /** Appends one record. Rejects when the record could not be stored durably. */
  append(record: SagaLogRecord): Promise<void>;
  /** Every run of the saga named `sagaName` without a `saga_finished` record. */
  loadIncomplete(sagaName: string): Promise<IncompleteSaga[]>;
}

/** Options of {@link createInMemorySagaLog}. */
export interface InMemorySagaLogOptions {
  /** Most unfinished runs kept; a new run beyond it is refused with `PL-503`. Default 10 000. */
  readonly maxSagas?: number;
  /** Most records per run; more is refused with `PL-500` (a run loops). Default 1 000. */
  readonly maxRecordsPerSaga?: number;
}

/** The in-memory {@link SagaLog}, plus inspection for tests. */
export interface InMemorySagaLog extends SagaLog {
  /** Number of unfinished runs held. */
  readonly size: number;
  /** A copy of the records of an unfinished run, or `undefined`. */
  recordsOf(sagaId: string): SagaLogRecord[] | undefined;
}

/** Default bound on unfinished runs held by {@link createInMemorySagaLog}. */
export const DEFAULT_MAX_SAGAS = 10_000;
/** Default bound on records per run held by {@link createInMemorySagaLog}. */
export const DEFAULT_MAX_RECORDS_PER_SAGA = 1_000;

function positiveInteger(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new EnablementError('PL-400', `${field}: expected a positive integer`);
  }
  return value;
}

// A durable log stores bytes, not objects: a JSON round trip gives the same isolation and
// rejects anything a real log could not keep.
function jsonCopy<T>(value: T, what: string): T {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new EnablementError('PL-400', `${what} is not JSON`, { cause });
  }
  return JSON.parse(text) as T;
}

/**
 * A {@link SagaLog} in memory: lost with the process, so it recovers from a crashed *coordinator*
 * (a test's abandoned saga, a restarted component in the same process), not from a crashed
 * process. Bounded by `maxSagas` unfinished runs and `maxRecordsPerSaga` records each; finished
 * runs are forgotten at once.
 */
export function createInMemorySagaLog(options: InMemorySagaLogOptions = {}): InMemorySagaLog {
  const maxSagas = positiveInteger(options.maxSagas, DEFAULT_MAX_SAGAS, 'maxSagas');
  const maxRecords = positiveInteger(
    options.maxRecordsPerSaga,
    DEFAULT_MAX_RECORDS_PER_SAGA,
    'maxRecordsPerSaga',
  );
  const runs = new Map<string, { sagaName: string; records: SagaLogRecord[] }>();

  return {
    get size() {
      return runs.size;
    },
    recordsOf(sagaId) {
      const run = runs.get(sagaId);
      return run ? jsonCopy(run.records, 'record') : undefined;
    },
    async append(record) {
      if (
        typeof record !== 'object' ||
        record === null ||
        !SAGA_LOG_RECORD_TYPES.includes(record.type) ||
        typeof record.sagaId !== 'string'
      ) {
        throw new EnablementError('PL-400', 'saga log record: expected { type, sagaId, … }');
      }
      const copy = jsonCopy(record, 'saga log record');
      if (copy.type === 'saga_started') {
        if (runs.has(copy.sagaId)) {
          throw new EnablementError('PL-409', `saga log: run '${copy.sagaId}' already exists`);
        }
        if (runs.size >= maxSagas) {
          throw new EnablementError('PL-503', `saga log full: ${maxSagas} unfinished runs`);
        }
        runs.set(copy.sagaId, { sagaName: copy.sagaName, records: [copy] });
        return;
      }
      const run = runs.get(copy.sagaId);
      if (!run) throw new EnablementError('PL-404', `saga log: no unfinished run '${copy.sagaId}'`);
      if (copy.type === 'saga_finished') {
        runs.delete(copy.sagaId);
        return;
      }
      if (run.records.length >= maxRecords) {
        throw new EnablementError('PL-500', `saga log: run '${copy.sagaId}' exceeds ${maxRecords} records`);
      }
      run.records.push(copy);
    },
    async loadIncomplete(sagaName) {
      const out: IncompleteSaga[] = [];
      for (const [sagaId, run] of runs) {
        if (run.sagaName === sagaName)
          out.push({ sagaId, sagaName, records: jsonCopy(run.records, 'record') });
      }
      return out;
    },
  };
}
