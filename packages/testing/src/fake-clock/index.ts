/**
 * `FakeClock`: a `Clock` that tests move by hand.
 * @module
 */
export {
  DEFAULT_FAKE_CLOCK_START,
  DEFAULT_MAX_PENDING_TIMERS,
  DEFAULT_MAX_TIMERS_PER_RUN,
  FakeClock,
  type FakeClockOptions,
} from './fake-clock.js';
