/**
 * Resilience: the retry executor and the circuit breaker (spec §8.4, §11.3; ARCHITECTURE §5).
 * Retry strategies themselves (`RetryStrategy`, `retryStrategyFor`) live in `errors/`.
 * @module
 */
export {
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitBreakerSampling,
  type CircuitBreakerStats,
  type CircuitState,
  type CircuitStateChange,
  createCircuitBreaker,
  DEFAULT_CIRCUIT_CONSECUTIVE_FAILURES,
  DEFAULT_CIRCUIT_OPEN_DURATION_MS,
  DEFAULT_CIRCUIT_SAMPLING_BUCKETS,
  isDependencyFailure,
  MAX_CIRCUIT_LISTENERS,
} from './circuit-breaker.js';
export { CircuitOpenError, type CircuitRejection, MAX_RECORDED_RETRY_ERRORS, RetryError } from './errors.js';
export {
  DEFAULT_RETRY_MAX_DELAY_MS,
  MAX_RETRY_ATTEMPTS,
  type RetryAttempt,
  type RetryEvent,
  type RetryOptions,
  retry,
} from './retry.js';
