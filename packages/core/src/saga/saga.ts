import { context, type Span, type Tracer, trace } from '@opentelemetry/api';
import { EnablementError } from '../errors/enablement-error.js';
import type { RandomSource } from '../ids/random.js';
import { newUuid } from '../ids/uuid.js';
import { isClock } from '../options/options.js';
import type { Logger } from '../telemetry/logger.js';
import { noopLogger } from '../telemetry/logger.js';
import { SPAN_NAMES, TRACE_ATTRIBUTES } from '../telemetry/names.js';
import {
  assertTraceContext,
  contextFromTraceContext,
  type TraceContext,
  traceContextOf,
  withSpan,
} from '../telemetry/tracing.js';
import { type Clock, systemClock } from '../time/clock.js';
import { assertBoundedJson, type JsonBounds, type JsonValue } from '../wire/json.js';
import type { IncompleteSaga, SagaLog, SagaLogRecord, SagaStatus } from './log.js';

/** What a step sees when it runs or is compensated. */
export interface SagaStepContext<I> {
  /** The run's id (a UUID unless the caller chose one). */
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly sagaName: string;
  /** This step's name. */
  readonly step: string;
  /** The run's input. */
  readonly input: I;
  /** Results of the steps completed before this one, by step name. */
  readonly results: Readonly<Record<string, JsonValue>>;
  /**
   * `<sagaId>:<step>`: stable across a recovery re-run, so an idempotent step can hand it to an
   * idempotency guard or a remote API and have the retry deduplicated.
   */
  readonly idempotencyKey: string;
  /**
   * W3C trace context of this step's span: put it on outgoing calls and events so that the
   * downstream work joins the saga's trace. `undefined` when no trace exists.
   */
  readonly traceContext: TraceContext | undefined;
  /** True when the step runs (or is compensated) from `recover()` after a crash. */
  readonly recovering: boolean;
  /** The saga's logger, bound to the saga id and step. */
  readonly logger: Logger;
}

/** One step of a saga. */
export interface SagaStep<I> {
  /** Unique within the saga: a letter, then letters, digits, `_ . : -`; at most 64 characters. */
  readonly name: string;
  /**
   * Does the step's work and returns its result, which must be JSON (a durable log keeps it for
   * the compensation and for later steps); returning nothing records `null`.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a step that returns nothing (`async () => {}`) type-check.
  run(ctx: SagaStepContext<I>): Promise<JsonValue | void> | JsonValue | void;
  /**
   * Undoes a completed step, given its result. Must be idempotent and must tolerate an effect
   * already undone: after a crash it may run again. A step without one has nothing to undo
   * (sending a message, say).
   */
  compensate?(ctx: SagaStepContext<I>, result: JsonValue): Promise<void> | void;
  /**
   * A failed critical step (the default) aborts the saga and compensates the completed steps; a
   * failed non-critical step is only reported as a warning and the saga goes on.
   */
  readonly critical?: boolean;
  /**
   * Whether running the step twice has the effect of running it once. Decides recovery: a step
   * interrupted mid-flight is re-run if idempotent; otherwise its outcome is unknown and the saga
   * is compensated (see `Saga.recover`). Default `false`.
   */
  readonly idempotent?: boolean;
}

/** Options of {@link createSaga}. */
export interface SagaOptions<I> {
  /** Saga name, e.g. `provision_agent`: a letter, then letters, digits, `_ . : -`; at most 128 characters. */
  readonly name: string;
  /** Steps, run in order; 1 to {@link MAX_SAGA_STEPS}. */
  readonly steps: readonly SagaStep<I>[];
  /** Durable log of runs; without it `recover()` has nothing to recover. */
  readonly log?: SagaLog;
  /** Clock for log timestamps; the system clock by default. */
  readonly clock?: Clock;
  /** Logger for warnings (non-critical failures) and errors (compensation failures); none by default. */
  readonly logger?: Logger;
  /** Tracer for the saga's spans; the global tracer by default. */
  readonly tracer?: Tracer;
  /** Randomness for generated saga ids (a seeded source makes tests reproducible). */
  readonly random?: RandomSource;
  /** Bounds on the input and on each step result. Default: 64 KiB, depth 16, 4096 values. */
  readonly jsonBounds?: JsonBounds;
  /** Most runs this coordinator executes at once; more are refused with `PL-503`. Default 10 000. */
  readonly maxConcurrent?: number;
}

/** Options of `Saga.execute`. */
export interface SagaExecuteOptions {
  /** Run id; a fresh UUID by default. Letters, digits, `_ . : -`; at most 128 characters. */
  readonly sagaId?: string;
  /** Caller's trace context; the saga's spans become its children. Default: the active context. */
  readonly traceContext?: TraceContext;
}

/** Options of `Saga.recover`. */
export interface SagaRecoverOptions {
  /**
   * `auto` (default): resume forward when that is safe (see `Saga.recover`), compensate otherwise.
   * `compensate`: compensate every interrupted run.
   */
  readonly policy?: 'auto' | 'compensate';
}

/** A step that failed, or whose compensation failed. */
export interface SagaStepFailure {
  /** Step name. */
  readonly step: string;
  /** Whether the step is critical. */
  readonly critical: boolean;
  /** The failure; foreign errors are wrapped in `PL-500` with the original as `cause`. */
  readonly error: EnablementError;
}

/** Outcome of a saga run. `execute` resolves with it whether the saga succeeded or not. */
export interface SagaResult {
  /** The run's id. */
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly sagaName: string;
  /**
   * `completed`: every critical step succeeded (see `failed` for warnings).
   * `compensated`: a critical step failed and every completed step was undone.
   * `compensation_failed`: a critical step failed and some effect may remain: a compensation
   * failed, or a step interrupted by a crash could neither be retried nor undone. Needs attention.
   */
  readonly status: SagaStatus;
  /** `status === 'completed'`. */
  readonly ok: boolean;
  /** Results of the completed steps, by step name. */
  readonly results: Readonly<Record<string, JsonValue>>;
  /** Steps that were started, in order (a step re-run on recovery appears once). */
  readonly ran: readonly string[];
  /** Steps that completed, in order. */
  readonly completed: readonly string[];
  /** Failed steps: non-critical ones (warnings) and the critical one that aborted the saga. */
  readonly failed: readonly SagaStepFailure[];
  /** Steps whose compensation succeeded, in the order compensated (reverse of completion). */
  readonly compensated: readonly string[];
  /** Steps whose effect may remain: compensation failed, or outcome unknown after a crash. */
  readonly compensationFailures: readonly SagaStepFailure[];
  /** The critical failure that aborted the saga, if any. */
  readonly error: EnablementError | undefined;
  /** Failures to write the saga log; the run went on, but a crash now may recover it wrongly. */
  readonly logErrors: readonly EnablementError[];
  /** True when the run was finished by `recover()`. */
  readonly recovered: boolean;
}

/** An unfinished run that `recover()` left alone, and why. */
export interface SagaRecoverySkip {
  /** The run's id. */
  readonly sagaId: string;
  /** Why the run could not be recovered (e.g. `PL-409`: the log names a step this definition lacks). */
  readonly error: EnablementError;
}

/** Outcome of `Saga.recover`. */
export interface SagaRecoveryReport {
  /** Runs finished by recovery. */
  readonly results: readonly SagaResult[];
  /** Runs left in the log. */
  readonly skipped: readonly SagaRecoverySkip[];
}

/** A saga coordinator built by {@link createSaga}. */
export interface Saga<I> {
  /** The saga definition's name. */
  readonly name: string;
  /**
   * Runs the steps in order. Resolves with a {@link SagaResult} in every case where steps ran;
   * rejects only when the run could not start: bad input or options (`PL-400`), a duplicate run
   * id (`PL-409`), too many runs (`PL-503`), or a log that refused the start record.
   */
  execute(input: I, options?: SagaExecuteOptions): Promise<SagaResult>;
  /**
   * Finishes the runs of this saga that the log shows unfinished (the process died, or a
   * coordinator was abandoned). Call it once at startup, before new runs, from one process: two
   * coordinators recovering the same log at once would both compensate. Policy `auto`:
   *
   * - a run already compensating (a critical step had failed) finishes its compensations;
   * - a run interrupted between steps resumes with the next step;
   * - a run interrupted inside an idempotent step re-runs that step, then goes on;
   * - a run interrupted inside a non-idempotent step cannot know whether the step took effect:
   *   the step is reported in `compensationFailures` (to reconcile by hand) and the completed
   *   steps are compensated.
   *
   * Compensations whose earlier attempt failed or was interrupted are run again. Runs naming
   * steps this definition lacks are skipped, not touched.
   */
  recover(options?: SagaRecoverOptions): Promise<SagaRecoveryReport>;
}

/** Most steps a saga may have. */
export const MAX_SAGA_STEPS = 64;
/** Default bounds on a saga's input and on each step result. */
export const DEFAULT_SAGA_JSON_BOUNDS: JsonBounds = Object.freeze({
  maxBytes: 65_536,
  maxDepth: 16,
  maxNodes: 4096,
});
/** Default bound on runs executing at once in one coordinator. */
export const DEFAULT_MAX_CONCURRENT_SAGAS = 10_000;

const SAGA_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
const STEP_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const SAGA_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

const invalid = (message: string) => new EnablementError('PL-400', message);

function validateOptions<I>(options: SagaOptions<I>): void {
  if (typeof options !== 'object' || options === null) throw invalid('saga options: expected an object');
  if (typeof options.name !== 'string' || !SAGA_NAME.test(options.name)) {
    throw invalid('name: expected a letter then up to 127 letters, digits or _ . : -');
  }
  const { steps } = options;
  if (!Array.isArray(steps) || steps.length < 1 || steps.length > MAX_SAGA_STEPS) {
    throw invalid(`steps: expected 1 to ${MAX_SAGA_STEPS} steps`);
  }
  const seen = new Set<string>();
  steps.forEach((step: SagaStep<I>, i) => {
    const at = `steps[${i}]`;
    if (typeof step !== 'object' || step === null) throw invalid(`${at}: expected a step object`);
    if (typeof step.name !== 'string' || !STEP_NAME.test(step.name)) {
      throw invalid(`${at}.name: expected a letter then up to 63 letters, digits or _ . : -`);
    }
    if (seen.has(step.name)) throw invalid(`${at}.name: duplicate step name '${step.name}'`);
    seen.add(step.name);
    if (typeof step.run !== 'function') throw invalid(`${at}.run: expected a function`);
    if (step.compensate !== undefined && typeof step.compensate !== 'function') {
      throw invalid(`${at}.compensate: expected a function`);
    }
    if (step.critical !== undefined && typeof step.critical !== 'boolean') {
      throw invalid(`${at}.critical: expected a boolean`);
    }
    if (step.idempotent !== undefined && typeof step.idempotent !== 'boolean') {
      throw invalid(`${at}.idempotent: expected a boolean`);
    }
  });
  const { log } = options;
  if (
    log !== undefined &&
    (typeof log !== 'object' ||
      log === null ||
      typeof log.append !== 'function' ||
      typeof log.loadIncomplete !== 'function')
  ) {
    throw invalid('log: expected a SagaLog with append and loadIncomplete');
  }
  if (options.clock !== undefined && !isClock(options.clock)) {
    throw invalid('clock: expected a Clock');
  }
  if (
    options.maxConcurrent !== undefined &&
    (!Number.isSafeInteger(options.maxConcurrent) || options.maxConcurrent < 1)
  ) {
    throw invalid('maxConcurrent: expected a positive integer');
  }
}

/** Everything known about a run while it executes or is recovered. */
interface RunState<I> {
  readonly sagaId: string;
  readonly input: I;
  /** Parent of the run's spans. */
  readonly recovering: boolean;
  readonly results: Record<string, JsonValue>;
  readonly ran: string[];
  readonly completed: string[];
  readonly failed: SagaStepFailure[];
  readonly compensated: string[];
  readonly compensationFailures: SagaStepFailure[];
  readonly logErrors: EnablementError[];
  /** Completed steps still in effect, in completion order, with the value for their compensation. */
  readonly toCompensate: { step: SagaStep<I>; result: JsonValue }[];
  error: EnablementError | undefined;
  /** Set once the `compensating` record is in the log (or known to be). */
  compensatingLogged: boolean;
}

function newState<I>(sagaId: string, input: I, recovering: boolean): RunState<I> {
  return {
    sagaId,
    input,
    recovering,
    results: {},
    ran: [],
    completed: [],
    failed: [],
    compensated: [],
    compensationFailures: [],
    logErrors: [],
    toCompensate: [],
    error: undefined,
    compensatingLogged: false,
  };
}

/** `error` as an `EnablementError`; anything else becomes `PL-500` with `what` and the original as cause. */
function asEnablementError(error: unknown, what: string, traceId?: string): EnablementError {
  if (EnablementError.is(error)) return error;
  return new EnablementError('PL-500', what, { cause: error, ...(traceId ? { traceId } : {}) });
}

function logUnavailable(error: unknown, what: string): EnablementError {
  if (EnablementError.is(error)) return error;
  return new EnablementError('PL-503', `saga log unavailable: ${what}`, { cause: error });
}

/**
 * Builds a saga coordinator (spec §9.1): steps run in order; when a critical step fails, the
 * completed steps are compensated in reverse order; non-critical failures are warnings; every
 * compensation is attempted even when an earlier one failed, and every failure is reported in
 * the {@link SagaResult}, never swallowed. With a {@link SagaLog}, runs interrupted by a crash are
 * finished by `recover()`.
 *
 * The saga id and trace context reach every step through its {@link SagaStepContext}; each run
 * is a `saga.execute` span (or `saga.recover`) with a `saga.step` / `saga.compensate` child per
 * step, so work done inside a step nests under it.
 *
 * @example
 * ```ts
 * const provision = createSaga<{ agentNhi: string; planId: string }>({
 *   name: 'provision_agent',
 *   log,
 *   steps: [
 *     { name: 'create_subscription', idempotent: true,
 *       run: ({ input, idempotencyKey }) => metering.createSubscription(input, idempotencyKey),
 *       compensate: (_ctx, sub) => metering.deleteSubscription(sub.id) },
 *     { name: 'spawn_sandbox',
 *       run: ({ input }) => runtime.spawn(input.agentNhi),
 *       compensate: (_ctx, sandbox) => runtime.terminate(sandbox.id) },
 *     { name: 'welcome_message', critical: false, run: ({ input }) => messaging.welcome(input.agentNhi) },
 *   ],
 * });
 * const result = await provision.execute({ agentNhi, planId });
 * if (!result.ok) log.error('provisioning failed', { error: result.error });
 * ```
 */
export function createSaga<I = JsonValue>(options: SagaOptions<I>): Saga<I> {
  validateOptions(options);
  const name = options.name;
  const steps = [...options.steps];
  const stepIndex = new Map(steps.map((step, i) => [step.name, i]));
  const log = options.log;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const tracer = options.tracer;
  const bounds = options.jsonBounds ?? DEFAULT_SAGA_JSON_BOUNDS;
  const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_SAGAS;
  // Runs in progress in this coordinator (bounded by maxConcurrent); recover() leaves them alone.
  const active = new Set<string>();
  const spanOptions = tracer ? { tracer } : {};
  const at = () => String(clock.now());

  /** Appends a record; on failure returns the error (the caller decides what it means). */
  async function append(record: SagaLogRecord): Promise<EnablementError | undefined> {
    if (!log) return undefined;
    try {
      await log.append(record);
      return undefined;
    } catch (error) {
      return logUnavailable(error, `cannot record ${record.type}`);
    }
  }

  function stepContext(state: RunState<I>, step: SagaStep<I>, span: Span): SagaStepContext<I> {
    return Object.freeze({
      sagaId: state.sagaId,
      sagaName: name,
      step: step.name,
      input: state.input,
      results: Object.freeze({ ...state.results }),
      idempotencyKey: `${state.sagaId}:${step.name}`,
      traceContext: traceContextOf(trace.setSpan(context.active(), span)),
      recovering: state.recovering,
      logger: logger.child({ saga_name: name, saga_id: state.sagaId, step: step.name }),
    });
  }

  type Outcome = { ok: true; value: unknown } | { ok: false; error: EnablementError };

  async function runInSpan(
    spanName: string,
    state: RunState<I>,
    step: SagaStep<I>,
    fn: (ctx: SagaStepContext<I>) => unknown,
    what: string,
  ): Promise<Outcome> {
    let traceId: string | undefined;
    try {
      const value = await withSpan(
        spanName,
        {
          [TRACE_ATTRIBUTES.sagaName]: name,
          [TRACE_ATTRIBUTES.sagaId]: state.sagaId,
          [TRACE_ATTRIBUTES.sagaStep]: step.name,
          [TRACE_ATTRIBUTES.sagaRecovering]: state.recovering,
        },
        async (span) => {
          const spanContext = span.spanContext();
          traceId = trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
          return fn(stepContext(state, step, span));
        },
        spanOptions,
      );
      return { ok: true, value };
    } catch (error) {
      return { ok: false, error: asEnablementError(error, what, traceId) };
    }
  }

  /** Runs steps `from…` forward; on a critical failure switches to compensation. */
  async function forward(state: RunState<I>, from: number): Promise<void> {
    for (let i = from; i < steps.length; i++) {
      const step = steps[i] as SagaStep<I>;
      const critical = step.critical ?? true;
      const startError = await append({
        type: 'step_started',
        sagaId: state.sagaId,
        step: step.name,
        at: at(),
      });
      if (startError) {
        // Running a step the log does not know about would make a crash unrecoverable.
        state.failed.push({ step: step.name, critical: true, error: startError });
        return compensate(state, startError);
      }
      if (!state.ran.includes(step.name)) state.ran.push(step.name);
      const outcome = await runInSpan(
        SPAN_NAMES.sagaStep,
        state,
        step,
        (ctx) => step.run(ctx),
        `saga '${name}' step '${step.name}' failed`,
      );
      let failure: EnablementError | undefined;
      let result: JsonValue = null;
      if (outcome.ok) {
        result = outcome.value === undefined ? null : (outcome.value as JsonValue);
        try {
          assertBoundedJson(result, bounds);
        } catch (cause) {
          failure = new EnablementError(
            'PL-400',
            `saga '${name}' step '${step.name}' returned a result that is not bounded JSON`,
            { cause },
          );
          // The step's effect happened: a critical step is still compensated, with what it returned.
          if (critical) state.toCompensate.push({ step, result: outcome.value as JsonValue });
        }
      } else {
        failure = outcome.error;
      }

      if (failure === undefined) {
        state.results[step.name] = result;
        state.completed.push(step.name);
        state.toCompensate.push({ step, result });
        const logError = await append({
          type: 'step_completed',
          sagaId: state.sagaId,
          step: step.name,
          result,
          at: at(),
        });
        if (logError) {
          state.failed.push({ step: step.name, critical: true, error: logError });
          return compensate(state, logError);
        }
        continue;
      }

      const logError = await append({
        type: 'step_failed',
        sagaId: state.sagaId,
        step: step.name,
        critical,
        error: failure.toJSON(),
        at: at(),
      });
      if (logError) state.logErrors.push(logError);
      state.failed.push({ step: step.name, critical, error: failure });
      if (!critical) {
        logger.warn(`saga '${name}': non-critical step '${step.name}' failed; continuing`, {
          operation: `saga.${name}`,
          saga_id: state.sagaId,
          step: step.name,
          error: failure,
        });
        continue;
      }
      return compensate(state, failure);
    }
  }

  /**
   * Compensates the completed steps in reverse order, attempting every one. `interrupted` is a
   * step found mid-flight on recovery, whose outcome is unknown: reported, never compensated.
   */
  async function compensate(
    state: RunState<I>,
    reason: EnablementError,
    interrupted?: SagaStep<I>,
  ): Promise<void> {
    state.error = reason;
    logger.error(`saga '${name}': step failed; compensating`, {
      operation: `saga.${name}`,
      saga_id: state.sagaId,
      error: reason,
    });
    if (!state.compensatingLogged) {
      const logError = await append({
        type: 'compensating',
        sagaId: state.sagaId,
        error: reason.toJSON(),
        at: at(),
      });
      if (logError) state.logErrors.push(logError);
      state.compensatingLogged = true;
    }
    if (interrupted) {
      await compensationFailed(
        state,
        interrupted,
        new EnablementError(
          'PL-500',
          `step '${interrupted.name}' was interrupted before its outcome was recorded; it was neither retried nor compensated: reconcile by hand`,
        ),
      );
    }
    for (const { step, result } of [...state.toCompensate].reverse()) {
      const undo = step.compensate;
      if (!undo) continue;
      const outcome = await runInSpan(
        SPAN_NAMES.sagaCompensate,
        state,
        step,
        (ctx) => undo.call(step, ctx, result),
        `saga '${name}' compensation of step '${step.name}' failed`,
      );
      if (outcome.ok) {
        state.compensated.push(step.name);
        const logError = await append({
          type: 'step_compensated',
          sagaId: state.sagaId,
          step: step.name,
          at: at(),
        });
        if (logError) state.logErrors.push(logError);
        continue;
      }
      await compensationFailed(state, step, outcome.error);
    }
    state.toCompensate.length = 0;
  }

  async function compensationFailed(
    state: RunState<I>,
    step: SagaStep<I>,
    error: EnablementError,
  ): Promise<void> {
    state.compensationFailures.push({ step: step.name, critical: step.critical ?? true, error });
    logger.error(`saga '${name}': compensation of step '${step.name}' failed`, {
      operation: `saga.${name}`,
      saga_id: state.sagaId,
      step: step.name,
      error,
    });
    const logError = await append({
      type: 'compensation_failed',
      sagaId: state.sagaId,
      step: step.name,
      error: error.toJSON(),
      at: at(),
    });
    if (logError) state.logErrors.push(logError);
  }

  async function finish(state: RunState<I>, span: Span): Promise<SagaResult> {
    const status: SagaStatus =
      state.error === undefined
        ? 'completed'
        : state.compensationFailures.length > 0
          ? 'compensation_failed'
          : 'compensated';
    const logError = await append({ type: 'saga_finished', sagaId: state.sagaId, status, at: at() });
    if (logError) state.logErrors.push(logError);
    span.setAttribute(TRACE_ATTRIBUTES.sagaStatus, status);
    return {
      sagaId: state.sagaId,
      sagaName: name,
      status,
      ok: status === 'completed',
      results: { ...state.results },
      ran: [...state.ran],
      completed: [...state.completed],
      failed: [...state.failed],
      compensated: [...state.compensated],
      compensationFailures: [...state.compensationFailures],
      error: state.error,
      logErrors: [...state.logErrors],
      recovered: state.recovering,
    };
  }

  function claim(sagaId: string): void {
    if (active.has(sagaId))
      throw new EnablementError('PL-409', `saga '${name}': run '${sagaId}' is already running`);
    if (active.size >= maxConcurrent) {
      throw new EnablementError('PL-503', `saga '${name}': more than ${maxConcurrent} runs at once`);
    }
    active.add(sagaId);
  }

  async function execute(input: I, execOptions: SagaExecuteOptions = {}): Promise<SagaResult> {
    if (typeof execOptions !== 'object' || execOptions === null)
      throw invalid('execute options: expected an object');
    try {
      assertBoundedJson(input, bounds);
    } catch (cause) {
      throw new EnablementError(
        'PL-400',
        `saga '${name}' input: ${EnablementError.is(cause) ? cause.message : 'not JSON'}`,
        { cause },
      );
    }
    const { sagaId: givenId, traceContext } = execOptions;
    if (givenId !== undefined && (typeof givenId !== 'string' || !SAGA_ID.test(givenId))) {
      throw invalid(
        'sagaId: expected up to 128 letters, digits or _ . : - (starting with a letter or digit)',
      );
    }
    if (traceContext !== undefined) assertTraceContext(traceContext, 'traceContext');
    const sagaId = givenId ?? newUuid(options.random);
    const parent = traceContext ? contextFromTraceContext(traceContext) : context.active();
    claim(sagaId);
    try {
      return await withSpan(
        SPAN_NAMES.sagaExecute,
        { [TRACE_ATTRIBUTES.sagaName]: name, [TRACE_ATTRIBUTES.sagaId]: sagaId },
        async (span) => {
          const startError = await append({
            type: 'saga_started',
            sagaId,
            sagaName: name,
            input: input as JsonValue,
            ...(traceContext ? { traceContext } : {}),
            at: at(),
          });
          if (startError) throw startError;
          const state = newState(sagaId, input, false);
          await forward(state, 0);
          return finish(state, span);
        },
        { ...spanOptions, parent },
      );
    } finally {
      active.delete(sagaId);
    }
  }

  /** Rebuilds a run's state from its records; throws when they do not fit this definition. */
  function replay(entry: IncompleteSaga) {
    const bad = (why: string) =>
      new EnablementError('PL-409', `saga '${name}' run '${entry.sagaId}': ${why}`);
    const [first, ...rest] = entry.records;
    if (first?.type !== 'saga_started' || first.sagaName !== name || first.sagaId !== entry.sagaId) {
      throw bad('log does not begin with its saga_started record');
    }
    if (first.traceContext !== undefined) assertTraceContext(first.traceContext, 'saga log traceContext');
    const state = newState(entry.sagaId, first.input as I, true);
    const completedResults = new Map<number, JsonValue>();
    const compensatedSteps = new Set<number>();
    let nextIndex = 0; // first step with no recorded outcome
    let inFlight: number | undefined;
    let reason: EnablementError | undefined;
    for (const record of rest) {
      if (record.sagaId !== entry.sagaId) throw bad('log holds a record of another run');
      if (record.type === 'saga_started' || record.type === 'saga_finished')
        throw bad(`unexpected ${record.type}`);
      if (record.type === 'compensating') {
        reason = EnablementError.fromJSON(record.error);
        state.compensatingLogged = true;
        continue;
      }
      const index = stepIndex.get(record.step);
      if (index === undefined)
        throw bad(`log names step '${String(record.step).slice(0, 64)}', which this saga lacks`);
      const stepName = (steps[index] as SagaStep<I>).name;
      switch (record.type) {
        case 'step_started':
          if (index < nextIndex) throw bad(`step '${stepName}' started after a later step`);
          inFlight = index;
          if (!state.ran.includes(stepName)) state.ran.push(stepName);
          break;
        case 'step_completed':
          assertBoundedJson(record.result, bounds);
          completedResults.set(index, record.result);
          nextIndex = Math.max(nextIndex, index + 1);
          inFlight = undefined;
          break;
        case 'step_failed': {
          const error = EnablementError.fromJSON(record.error);
          state.failed.push({ step: stepName, critical: record.critical, error });
          if (record.critical) reason ??= error;
          nextIndex = Math.max(nextIndex, index + 1);
          inFlight = undefined;
          break;
        }
        case 'step_compensated':
          compensatedSteps.add(index);
          break;
        case 'compensation_failed':
          // Retried below: the compensation is idempotent by contract.
          break;
        default:
          throw bad('unknown record type');
      }
    }
    for (const [index, result] of [...completedResults].sort(([a], [b]) => a - b)) {
      const step = steps[index] as SagaStep<I>;
      state.results[step.name] = result;
      state.completed.push(step.name);
      if (!compensatedSteps.has(index)) state.toCompensate.push({ step, result });
      else state.compensated.push(step.name);
    }
    return { state, traceContext: first.traceContext, nextIndex, inFlight, reason };
  }

  async function recoverOne(entry: IncompleteSaga, policy: 'auto' | 'compensate'): Promise<SagaResult> {
    const { state, traceContext, nextIndex, inFlight, reason } = replay(entry);
    const parent = traceContext ? contextFromTraceContext(traceContext) : context.active();
    return withSpan(
      SPAN_NAMES.sagaRecover,
      { [TRACE_ATTRIBUTES.sagaName]: name, [TRACE_ATTRIBUTES.sagaId]: state.sagaId },
      async (span) => {
        const interrupted = inFlight === undefined ? undefined : (steps[inFlight] as SagaStep<I>);
        if (reason === undefined && policy === 'auto' && (!interrupted || interrupted.idempotent === true)) {
          // Safe to go forward: nothing was in flight, or what was can be run again.
          await forward(state, inFlight ?? nextIndex);
          return finish(state, span);
        }
        const cause =
          reason ??
          (interrupted && policy === 'auto'
            ? new EnablementError(
                'PL-500',
                `saga '${name}' was interrupted inside step '${interrupted.name}', which is not idempotent`,
              )
            : new EnablementError('PL-500', `saga '${name}' was interrupted; compensated on recovery`));
        // Previously compensated steps are already listed; compensate() adds the rest.
        await compensate(state, cause, interrupted);
        return finish(state, span);
      },
      { ...spanOptions, parent },
    );
  }

  async function recover(recoverOptions: SagaRecoverOptions = {}): Promise<SagaRecoveryReport> {
    const policy = recoverOptions.policy ?? 'auto';
    if (policy !== 'auto' && policy !== 'compensate')
      throw invalid("policy: expected 'auto' or 'compensate'");
    if (!log) return { results: [], skipped: [] };
    let entries: IncompleteSaga[];
    try {
      entries = await log.loadIncomplete(name);
    } catch (error) {
      throw logUnavailable(error, 'cannot load unfinished runs');
    }
    const results: SagaResult[] = [];
    const skipped: SagaRecoverySkip[] = [];
    for (const entry of entries) {
      if (active.has(entry.sagaId)) continue; // running here right now, not interrupted
      try {
        claim(entry.sagaId);
      } catch (error) {
        skipped.push({ sagaId: entry.sagaId, error: asEnablementError(error, 'cannot claim run') });
        continue;
      }
      try {
        results.push(await recoverOne(entry, policy));
      } catch (error) {
        skipped.push({
          sagaId: entry.sagaId,
          error: asEnablementError(error, `saga '${name}': recovery failed`),
        });
      } finally {
        active.delete(entry.sagaId);
      }
    }
    return { results, skipped };
  }

  return Object.freeze({ name, execute, recover });
}
