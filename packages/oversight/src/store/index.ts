/**
 * Storage of oversight requests: the `OversightStore` port (requests with a version for
 * optimistic concurrency, votes, transitions, deadlines) and its in-memory implementation.
 * @module
 */
export {
  createMemoryOversightStore,
  DEFAULT_MAX_STORED_REQUESTS,
  DEFAULT_PAGE_SIZE,
  MAX_STORE_WATCHERS,
  MAX_STORED_REQUESTS_LIMIT,
  type MemoryOversightStore,
  type MemoryOversightStoreOptions,
} from './memory-store.js';
export {
  MAX_NOTES_PER_REQUEST,
  MAX_PAGE_SIZE,
  MAX_TRANSITIONS_PER_REQUEST,
  MAX_VOTES_PER_REQUEST,
  type OversightRequestPage,
  type OversightRequestQuery,
  type OversightRequestRecord,
  type OversightStore,
  type OversightStoreChange,
  type OversightStoreChangeNotice,
  type OversightStoreWatcher,
  type RequestNote,
  type StoredOutcome,
  type StoredOversightRequest,
  type TransitionReason,
  type TransitionRecord,
  type VoteRecord,
} from './types.js';
