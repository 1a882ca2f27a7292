/**
 * Sagas (spec §9.1): multi-step operations whose completed steps are compensated in reverse
 * order when a critical step fails, with an optional durable log so that a run interrupted by a
 * crash is finished on restart.
 * @module
 */
export {
  type CompensatingRecord,
  type CompensationFailedRecord,
  createInMemorySagaLog,
  DEFAULT_MAX_RECORDS_PER_SAGA,
  DEFAULT_MAX_SAGAS,
  type IncompleteSaga,
  type InMemorySagaLog,
  type InMemorySagaLogOptions,
  SAGA_LOG_RECORD_TYPES,
  type SagaFinishedRecord,
  type SagaLog,
  type SagaLogRecord,
  type SagaStartedRecord,
  type SagaStatus,
  type StepCompensatedRecord,
  type StepCompletedRecord,
  type StepFailedRecord,
  type StepStartedRecord,
} from './log.js';
export {
  createSaga,
  DEFAULT_MAX_CONCURRENT_SAGAS,
  DEFAULT_SAGA_JSON_BOUNDS,
  MAX_SAGA_STEPS,
  type Saga,
  type SagaExecuteOptions,
  type SagaOptions,
  type SagaRecoverOptions,
  type SagaRecoveryReport,
  type SagaRecoverySkip,
  type SagaResult,
  type SagaStep,
  type SagaStepContext,
  type SagaStepFailure,
} from './saga.js';
