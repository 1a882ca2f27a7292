/**
 * Audit: core's `AuditLogStore` port (the durable Merkle log's leaves and signed checkpoints) on
 * PostgreSQL / PGlite.
 * @module
 */
export {
  createPostgresAuditLogStore,
  MAX_POSTGRES_AUDIT_LEAF_LENGTH,
  MAX_POSTGRES_AUDIT_LOG_NAME_LENGTH,
  type PostgresAuditLogStoreOptions,
} from './store.js';
