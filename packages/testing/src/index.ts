/**
 * `@creto/testing`: test kit of the Creto Enablement SDK.
 * @module @creto/testing
 */

export {
  errorCodeOf,
  expectEnablementError,
  expectEnablementRejection,
  type MessageExpectation,
  rejectionCodeOf,
} from './assertions/index.js';
export {
  DEFAULT_FAKE_CLOCK_START,
  DEFAULT_MAX_PENDING_TIMERS,
  DEFAULT_MAX_TIMERS_PER_RUN,
  FakeClock,
  type FakeClockOptions,
} from './fake-clock/index.js';
export {
  createScenarioRunner,
  formatScenarioReports,
  MAX_SCENARIO_DURATION_MS,
  MAX_SCENARIO_FILE_LENGTH,
  MAX_SCENARIOS_PER_FILE,
  MAX_STEPS_PER_SCENARIO,
  parseDuration,
  parseScenarios,
  type Scenario,
  ScenarioAssertionError,
  type ScenarioReport,
  type ScenarioRunner,
  type ScenarioRunnerOptions,
  type ScenarioStep,
  type StepContext,
  type StepHandler,
  type StepOutcome,
  type StepReport,
} from './scenarios/index.js';
