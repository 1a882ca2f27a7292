/**
 * The SQL layer: one `SqlClient` port, implemented on a `pg` pool and on PGlite, with the
 * transaction retry helper and schema-name validation shared by every store.
 * @module
 */
export {
  DEFAULT_TRANSACTION_ATTEMPTS,
  isSerializationFailure,
  MAX_TRANSACTION_ATTEMPTS,
  type SqlClient,
  type SqlExecutor,
  type SqlIsolationLevel,
  type SqlResult,
  type SqlRow,
  type SqlTransactionOptions,
  type SqlValue,
  sqlStateOf,
  toSqlError,
} from './client.js';
export { DEFAULT_SCHEMA, SCHEMA_NAME_PATTERN } from './identifiers.js';
export { createPgClient, type PgClientOptions, type PgPoolLike } from './pg-client.js';
export { createPGliteClient, type PGliteClientOptions } from './pglite-client.js';
export { withSerializationRetry } from './transaction.js';
