/**
 * The scenario runner for the YAML format of spec §12.2.
 * @module
 */
export { MAX_SCENARIO_DURATION_MS, parseDuration } from './duration.js';
export {
  MAX_SCENARIO_FILE_LENGTH,
  MAX_SCENARIOS_PER_FILE,
  MAX_STEPS_PER_SCENARIO,
  parseScenarios,
  type Scenario,
  type ScenarioStep,
} from './parse.js';
export {
  createScenarioRunner,
  formatScenarioReports,
  ScenarioAssertionError,
  type ScenarioReport,
  type ScenarioRunner,
  type ScenarioRunnerOptions,
  type StepContext,
  type StepHandler,
  type StepOutcome,
  type StepReport,
} from './runner.js';
