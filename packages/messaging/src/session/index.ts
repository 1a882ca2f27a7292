/**
 * Sessions: per-peer session records (serialized, versioned, validated on load), the
 * `SessionStore` port with its in-memory implementation, the per-session mutex, and the bytes a
 * session puts inside an envelope.
 * @module
 */
export { KeyedMutex } from './mutex.js';
export {
  MAX_SESSIONS_PER_PEER,
  SESSION_RECORD_TYPE,
  SESSION_RECORD_VERSION,
  type Session,
  SessionRecord,
} from './record.js';
export {
  createInMemorySessionStore,
  DEFAULT_MAX_SESSION_STORE_ENTRIES,
  type InMemorySessionStoreOptions,
  type SessionStore,
} from './store.js';
export { decodeSessionMessage, encodeSessionMessage, type SessionWireMessage } from './wire.js';
