/**
 * Versioned migrations: numbered SQL steps applied in order, recorded in `schema_migrations`,
 * serialised across processes by an advisory lock.
 * @module
 */
export {
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
  migrate,
  schemaVersion,
} from './migrations.js';
