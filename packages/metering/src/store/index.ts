/**
 * Store: the `MeteringStore` port (one atomic `commitEvent` for event + aggregates + deduplication
 * key) and its bounded in-memory implementation.
 * @module
 */
export {
  type Accumulator,
  accumulate,
  MAX_DISTINCT_VALUES,
  mergeInto,
  mergeStates,
  newAccumulator,
  snapshot,
} from './aggregate.js';
export {
  createMemoryMeteringStore,
  MEMORY_STORE_DEFAULTS,
  type MemoryMeteringStoreOptions,
} from './memory.js';
export type {
  AggregateState,
  BucketAggregateQuery,
  BucketAggregateRow,
  CommitResult,
  EventCommit,
  EventQuery,
  MeteringStore,
  PeriodAggregateKey,
  PeriodAggregateQuery,
  PeriodAggregateRow,
  PutInvoiceResult,
  StoredUsageEvent,
  UsageKind,
} from './types.js';
