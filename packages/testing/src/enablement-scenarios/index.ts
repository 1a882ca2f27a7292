/**
 * The §12.2 scenario steps on a `TestEnvironment` (`spawn_sandbox`, `wait_for_event`,
 * `configure_policy`, `submit_approval`, `wait_for_message`, …), the approval-rule grammar and
 * `createEnablementScenarioRunner`.
 * @module
 */
export {
  type ApprovalRule,
  type ApprovalRulePolicyOptions,
  approvalRulePolicies,
  parseApprovalRule,
} from './rule.js';
export { createEnablementScenarioRunner, type EnablementScenarioRunnerOptions } from './runner.js';
export {
  DEFAULT_ASSERT_TIMEOUT_MS,
  DEFAULT_SCENARIO_AGENT,
  DEFAULT_SCENARIO_REQUESTER,
  ENABLEMENT_SCENARIO_STEPS,
  registerScenarioTools,
  SCENARIO_VARS,
  TRANSFER_FUNDS_TOOL,
} from './steps.js';
