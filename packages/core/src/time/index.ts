/**
 * Time: the `Clock` port, the system clock and nanosecond helpers (spec §6.3).
 * @module
 */
export {
  type CancelTimer,
  type Clock,
  type ConsensusTimestamp,
  millisToNanos,
  NANOS_PER_MILLI,
  NANOS_PER_SECOND,
  nanosToMillis,
  SystemClock,
  sleep,
  systemClock,
} from './clock.js';
export { type TimerEntry, TimerHeap } from './timer-heap.js';
