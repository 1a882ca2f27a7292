/**
 * Oversight: oversight's `OversightStore` port on PostgreSQL / PGlite, declared structurally
 * (requests with optimistic concurrency, votes, transitions, deadlines).
 * @module
 */
export {
  createPostgresOversightStore,
  DEFAULT_OVERSIGHT_PAGE_SIZE,
  MAX_OVERSIGHT_DOCUMENT_LENGTH,
  MAX_OVERSIGHT_PAGE_SIZE,
  MAX_OVERSIGHT_TRANSITIONS_PER_REQUEST,
  MAX_OVERSIGHT_VOTES_PER_REQUEST,
  MAX_OVERSIGHT_WATCHERS,
  type OversightRecordLike,
  type OversightRequestPageLike,
  type OversightRequestQueryLike,
  type OversightStoreChangeLike,
  type OversightStoreLike,
  type OversightTransitionLike,
  type OversightVoteLike,
  oversightChannel,
  type PostgresOversightStoreOptions,
  type StoredOversightRequestLike,
} from './store.js';
