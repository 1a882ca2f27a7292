/**
 * Consensus: a hybrid logical clock producing strictly increasing `ConsensusTimestamp`s with a
 * clock-skew rule, and a deadline `Scheduler` on the `Clock` port (spec §3.5, §6.3,
 * docs/platform.md).
 * @module
 */
export {
  type ConsensusClient,
  createHybridLogicalClock,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  HLC_COUNTER_MODULUS,
  HLC_MAX_COUNTER,
  type HlcParts,
  type HybridLogicalClock,
  type HybridLogicalClockOptions,
  hlcParts,
  hlcTimestamp,
  MAX_CLOCK_SKEW_MS,
} from './hlc.js';
export {
  createScheduler,
  DEFAULT_SCHEDULER_MAX_FIRES_PER_RUN,
  DEFAULT_SCHEDULER_MAX_PENDING_TIMERS,
  MAX_SCHEDULER_PENDING_TIMERS,
  type Scheduler,
  type SchedulerErrorInfo,
  type SchedulerOptions,
} from './scheduler.js';
