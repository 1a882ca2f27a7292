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
