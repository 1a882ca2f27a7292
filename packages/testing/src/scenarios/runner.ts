import { EnablementError } from '@creto/core';
import type { Scenario, ScenarioStep } from './parse.js';

/** What a step left behind: its value, or the error it raised when an expectation allowed it. */
export interface StepOutcome {
  /** The step's name. */
  readonly step: string;
  /** What the step's handler returned. */
  readonly value?: unknown;
  /** The error it raised, when `expect_error` (inline or as the next step) expected one. */
  readonly error?: unknown;
}

/** What a step handler receives besides its arguments. */
export interface StepContext<E> {
  /** The environment built for this scenario. */
  readonly env: E;
  /** The scenario being run. */
  readonly scenario: Scenario;
  /** The step being run. */
  readonly step: ScenarioStep;
  /** Values steps share within one scenario (e.g. the last sandbox id). */
  readonly vars: Map<string, unknown>;
  /** The previous step's outcome. */
  readonly last: StepOutcome | undefined;
  /** Adds a line to this step's report. */
  note(text: string): void;
}

/**
 * A step: receives the step's arguments (the YAML map, with `expect_error` / `error_message`
 * removed — the runner checks those) and returns a value for later steps, or throws. Throw
 * {@link ScenarioAssertionError} for a failed expectation so the report says expected and actual.
 */
export type StepHandler<E> = (args: Readonly<Record<string, unknown>>, context: StepContext<E>) => unknown;

/** The report of one step. */
export interface StepReport {
  /** Step name. */
  readonly name: string;
  /** 1-based line in the scenario file. */
  readonly line: number;
  /** `passed`, `failed`, or `skipped` (after an earlier failure). */
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Wall-clock milliseconds the step took (0 when skipped). */
  readonly durationMs: number;
  /** Notes the step added. */
  readonly notes: readonly string[];
  /** For `failed`: the precise reason, starting with `file:line`. */
  readonly message?: string;
}

/** The report of one scenario. */
export interface ScenarioReport {
  /** Scenario name. */
  readonly name: string;
  /** Its file. */
  readonly file: string;
  /** Whether every step passed. */
  readonly passed: boolean;
  /** Step reports in order. */
  readonly steps: readonly StepReport[];
  /** For a failed scenario: the failing step's message. */
  readonly failure?: string;
}

/** A failed expectation inside a step: names what was expected and what was found. */
export class ScenarioAssertionError extends Error {
  /** What the step expected. */
  readonly expected: unknown;
  /** What it found. */
  readonly actual: unknown;
  /**
   * @param message - What did not hold.
   * @param expected - The expected value.
   * @param actual - The actual value.
   */
  constructor(message: string, expected?: unknown, actual?: unknown) {
    super(message);
    this.name = 'ScenarioAssertionError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** Options of {@link createScenarioRunner}. */
export interface ScenarioRunnerOptions<E> {
  /** Step handlers by name. Built-in `assert_success` and `expect_error` are added unless given here. */
  readonly steps: Readonly<Record<string, StepHandler<E>>>;
  /** Builds a fresh environment for each scenario. */
  createEnvironment(scenario: Scenario): E | Promise<E>;
  /** Tears an environment down after its scenario (also after a failure). */
  disposeEnvironment?(env: E): void | Promise<void>;
  /** Called after every step (for live progress output). */
  onStep?(scenario: Scenario, report: StepReport): void;
}

/** A scenario runner: see {@link createScenarioRunner}. */
export interface ScenarioRunner {
  /** Runs one scenario in a fresh environment; never throws for a failing step (see the report). */
  run(scenario: Scenario): Promise<ScenarioReport>;
  /** Runs scenarios one after the other. */
  runAll(scenarios: readonly Scenario[]): Promise<ScenarioReport[]>;
}

const show = (value: unknown): string => {
  try {
    return typeof value === 'string'
      ? JSON.stringify(value)
      : (JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value));
  } catch {
    return String(value);
  }
};

const errorText = (error: unknown): string =>
  error instanceof EnablementError
    ? `${error.code}: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);

/** Checks an error against `expect_error` (a code) and optional `error_message` (case-insensitive substring). */
function matchExpectedError(error: unknown, code: unknown, message: unknown): string | undefined {
  if (!(error instanceof EnablementError)) {
    return `expected an EnablementError ${show(code)}, got ${error === undefined ? 'success' : errorText(error)}`;
  }
  if (typeof code === 'string' && error.code !== code) {
    return `expected error ${code}, got ${error.code}: ${error.message}`;
  }
  if (typeof message === 'string' && !error.message.toLowerCase().includes(message.toLowerCase())) {
    return `expected error message to contain ${show(message)}, got ${show(error.message)}`;
  }
  return undefined;
}

/** Built-in steps every runner has. */
function builtInSteps<E>(): Record<string, StepHandler<E>> {
  return {
    /** The previous step succeeded. */
    assert_success: (_args, { last }) => {
      if (last === undefined) throw new ScenarioAssertionError('assert_success: there is no previous step');
      if (last.error !== undefined) {
        throw new ScenarioAssertionError(
          `${last.step} failed: ${errorText(last.error)}`,
          'success',
          last.error,
        );
      }
      return last.value;
    },
    /** The previous step failed with this code (and message). */
    expect_error: (args, { last }) => {
      const code = args.code ?? args.error;
      const mismatch = matchExpectedError(last?.error, code, args.message ?? args.error_message);
      if (mismatch !== undefined)
        throw new ScenarioAssertionError(`${last?.step ?? 'previous step'}: ${mismatch}`);
      return last?.error;
    },
  };
}

/**
 * Runs §12.2 scenarios: each scenario gets a fresh environment, its steps run in order, and the
 * first failing step stops it with a message `file:line: step: what was expected, what was found`;
 * the rest are reported as skipped. Unknown step names fail with the list of known ones.
 *
 * A step with `expect_error: CODE` (and optionally `error_message: text`) in its arguments must
 * fail with that `EnablementError` code; a step followed by a standalone `- expect_error:` step
 * may fail, and the next step checks how.
 *
 * @example
 * ```ts
 * const runner = createScenarioRunner({ steps, createEnvironment: () => createTestEnvironment() });
 * const reports = await runner.runAll(parseScenarios(text, file));
 * console.log(formatScenarioReports(reports));
 * ```
 */
export function createScenarioRunner<E>(options: ScenarioRunnerOptions<E>): ScenarioRunner {
  const steps: Record<string, StepHandler<E>> = { ...builtInSteps<E>(), ...options.steps };
  const known = () => Object.keys(steps).sort().join(', ');

  async function run(scenario: Scenario): Promise<ScenarioReport> {
    const reports: StepReport[] = [];
    let failure: string | undefined;
    let env: E | undefined;
    try {
      env = await options.createEnvironment(scenario);
    } catch (error) {
      failure = `${scenario.file}:${scenario.line}: environment for "${scenario.name}" failed: ${errorText(error)}`;
    }
    const vars = new Map<string, unknown>();
    let last: StepOutcome | undefined;
    for (const [index, step] of scenario.steps.entries()) {
      if (failure !== undefined || env === undefined) {
        reports.push({ name: step.name, line: step.line, status: 'skipped', durationMs: 0, notes: [] });
        continue;
      }
      const notes: string[] = [];
      const started = performance.now();
      const where = `${scenario.file}:${step.line}: ${step.name}`;
      const { expect_error: expectedCode, error_message: expectedMessage, ...args } = step.args;
      const nextIsExpectError = scenario.steps[index + 1]?.name === 'expect_error';
      const handler = steps[step.name];
      let message: string | undefined;
      if (handler === undefined) {
        message = `${where}: unknown step (known: ${known()})`;
      } else {
        const context: StepContext<E> = { env, scenario, step, vars, last, note: (text) => notes.push(text) };
        try {
          const value = await handler(args, context);
          if (expectedCode !== undefined) {
            message = `${where}: ${matchExpectedError(undefined, expectedCode, expectedMessage)}`;
          }
          last = { step: step.name, value };
        } catch (error) {
          if (expectedCode !== undefined) {
            const mismatch = matchExpectedError(error, expectedCode, expectedMessage);
            if (mismatch !== undefined) message = `${where}: ${mismatch}`;
            last = { step: step.name, error };
          } else if (nextIsExpectError && error instanceof EnablementError) {
            last = { step: step.name, error };
          } else if (error instanceof ScenarioAssertionError) {
            const detail =
              error.expected === undefined && error.actual === undefined
                ? ''
                : ` (expected ${show(error.expected)}, actual ${show(error.actual)})`;
            message = `${where}: ${error.message}${detail}`;
          } else {
            message = `${where}: ${errorText(error)}`;
          }
        }
      }
      const report: StepReport = {
        name: step.name,
        line: step.line,
        status: message === undefined ? 'passed' : 'failed',
        durationMs: performance.now() - started,
        notes,
        ...(message === undefined ? {} : { message }),
      };
      reports.push(report);
      options.onStep?.(scenario, report);
      failure = message;
    }
    if (env !== undefined) {
      try {
        await options.disposeEnvironment?.(env);
      } catch (error) {
        failure ??= `${scenario.file}:${scenario.line}: disposing the environment failed: ${errorText(error)}`;
      }
    }
    return {
      name: scenario.name,
      file: scenario.file,
      passed: failure === undefined,
      steps: reports,
      ...(failure === undefined ? {} : { failure }),
    };
  }

  return Object.freeze({
    run,
    async runAll(scenarios: readonly Scenario[]) {
      const out: ScenarioReport[] = [];
      for (const scenario of scenarios) out.push(await run(scenario));
      return out;
    },
  });
}

/**
 * Renders reports for people: one line per step (`✓`, `✗`, `-`), the failure message, and a
 * summary line.
 */
export function formatScenarioReports(reports: readonly ScenarioReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    lines.push(`${report.passed ? '✓' : '✗'} ${report.name} (${report.file})`);
    for (const step of report.steps) {
      const mark = step.status === 'passed' ? '✓' : step.status === 'failed' ? '✗' : '-';
      lines.push(`    ${mark} ${step.name} (line ${step.line}, ${step.durationMs.toFixed(1)} ms)`);
      for (const note of step.notes) lines.push(`        ${note}`);
      if (step.message !== undefined) lines.push(`        ${step.message}`);
    }
  }
  const passed = reports.filter((r) => r.passed).length;
  lines.push(`${passed}/${reports.length} scenarios passed`);
  return lines.join('\n');
}
