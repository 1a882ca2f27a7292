/**
 * Sessions: messaging's `SessionStore` shape on PostgreSQL / PGlite, namespaced per owner NHI.
 * @module
 */
export {
  createPostgresSessionStore,
  DEFAULT_POSTGRES_SESSION_MAX_ENTRIES,
  DEFAULT_POSTGRES_SESSION_MAX_VALUE_BYTES,
  MAX_SESSION_KEY_LENGTH,
  MAX_SESSION_OWNER_LENGTH,
  type PostgresSessionStoreOptions,
  type SessionStoreLike,
} from './store.js';
