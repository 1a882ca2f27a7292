/**
 * The test environment: the whole layer (`createEnablement`) in one process on a `FakeClock`, with
 * deterministic keys, the deterministic inference provider, recorders and helpers.
 * @module
 */
export {
  createTestEnvironment,
  DEFAULT_MAX_AGENTS,
  DEFAULT_WAIT_STEP_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
} from './environment.js';
export {
  AGENT_KEY_LABEL,
  checkAgentName,
  DEFAULT_TEST_SEED,
  deriveTestAgentKey,
  MAX_AGENT_NAME_LENGTH,
  normalizeSeed,
  TEST_SEED_LENGTH,
} from './keys.js';
export { containsBytes } from './messaging.js';
export { DEFAULT_TEST_POLICIES, TEST_PLAN_ID } from './policies.js';
export type {
  ApprovalOptions,
  AuditEventMatch,
  RecordedNotification,
  TestAgentOptions,
  TestEnvironment,
  TestEnvironmentOptions,
  TestEvent,
  TestEventSource,
  TestMessage,
  WaitForEventOptions,
  WaitForMessageOptions,
} from './types.js';
