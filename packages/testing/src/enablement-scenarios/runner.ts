import { createTestEnvironment } from '../environment/environment.js';
import type { TestEnvironment, TestEnvironmentOptions } from '../environment/types.js';
import type { Scenario } from '../scenarios/parse.js';
import {
  createScenarioRunner,
  type ScenarioRunner,
  type StepHandler,
  type StepReport,
} from '../scenarios/runner.js';
import { ENABLEMENT_SCENARIO_STEPS, registerScenarioTools } from './steps.js';

/** Options of {@link createEnablementScenarioRunner}. */
export interface EnablementScenarioRunnerOptions {
  /** Options of each scenario's `createTestEnvironment` (or a function of the scenario). */
  readonly environment?: TestEnvironmentOptions | ((scenario: Scenario) => TestEnvironmentOptions);
  /** More steps, or replacements of the built-in ones (same name wins). */
  readonly steps?: Readonly<Record<string, StepHandler<TestEnvironment>>>;
  /** Register the scenario tools (`transfer_funds`) in each environment; default `true`. */
  readonly registerTools?: boolean;
  /** Called after each step (live progress). */
  onStep?(scenario: Scenario, report: StepReport): void;
}

/**
 * A scenario runner for the §12.2 YAML files whose environment is a fresh `createTestEnvironment`
 * per scenario (shut down after it, also after a failure), with the steps of
 * `ENABLEMENT_SCENARIO_STEPS` plus the built-in `assert_success` and `expect_error`, plus yours.
 *
 * @example
 * ```ts
 * const runner = createEnablementScenarioRunner({
 *   steps: { top_up: async (args, { env }) => env.metering.raiseQuota(String(args.quota), String(args.limit)) },
 * });
 * const reports = await runner.runAll(parseScenarios(readFileSync(file, 'utf8'), file));
 * console.log(formatScenarioReports(reports));
 * expect(reports.every((r) => r.passed)).toBe(true);
 * ```
 */
export function createEnablementScenarioRunner(
  options: EnablementScenarioRunnerOptions = {},
): ScenarioRunner {
  const { environment, onStep } = options;
  return createScenarioRunner<TestEnvironment>({
    steps: { ...ENABLEMENT_SCENARIO_STEPS, ...options.steps },
    async createEnvironment(scenario) {
      const env = await createTestEnvironment(
        typeof environment === 'function' ? environment(scenario) : environment,
      );
      if (options.registerTools ?? true) {
        try {
          registerScenarioTools(env);
        } catch (error) {
          await env.shutdown();
          throw error;
        }
      }
      return env;
    },
    disposeEnvironment: (env) => env.shutdown(),
    ...(onStep === undefined ? {} : { onStep }),
  });
}
