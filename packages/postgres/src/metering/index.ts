/**
 * Metering: metering's `MeteringStore` port on PostgreSQL / PGlite, declared structurally; one
 * transaction per `commitEvent` for event + aggregates + deduplication key (spec §4.1).
 * @module
 */
export {
  createPostgresMeteringStore,
  MAX_METERING_DISTINCT_VALUES,
  MAX_METERING_DOCUMENT_LENGTH,
  MAX_METERING_EVENT_PAGE,
  POSTGRES_METERING_DEFAULTS,
  type PostgresMeteringStore,
  type PostgresMeteringStoreOptions,
} from './store.js';
export type {
  AggregateStateLike,
  BillingPeriodLike,
  BucketAggregateQueryLike,
  BucketAggregateRowLike,
  CommitResultLike,
  EventCommitLike,
  EventQueryLike,
  MeasurementLike,
  MeterAggregationLike,
  MeteringDocumentTypes,
  MeteringStoreLike,
  PeriodAggregateKeyLike,
  PeriodAggregateQueryLike,
  PeriodAggregateRowLike,
  PutInvoiceResultLike,
  StoredUsageEventLike,
  UsageKindLike,
} from './types.js';
