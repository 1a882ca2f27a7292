/**
 * Sagas: core's `SagaLog` port on PostgreSQL / PGlite (spec §9.1).
 * @module
 */
export {
  createPostgresSagaLog,
  DEFAULT_POSTGRES_MAX_RECORDS_PER_SAGA,
  DEFAULT_POSTGRES_MAX_SAGA_RECORD_LENGTH,
  DEFAULT_POSTGRES_MAX_SAGAS,
  MAX_SAGA_ID_LENGTH,
  type PostgresSagaLogOptions,
} from './log.js';
