/**
 * `@creto/testing`: test kit of the Creto Enablement SDK.
 * @packageDocumentation
 */

export {
  expectEnablementError,
  expectEnablementRejection,
  type MessageExpectation,
} from './assertions/index.js';
export {
  DEFAULT_FAKE_CLOCK_START,
  DEFAULT_MAX_PENDING_TIMERS,
  DEFAULT_MAX_TIMERS_PER_RUN,
  FakeClock,
  type FakeClockOptions,
} from './fake-clock/index.js';
