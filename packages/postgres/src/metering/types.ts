import type { Decimal } from '@creto/core';

// Metering's `MeteringStore` port, declared here structurally (this package imports only
// `@creto/core`). The store reads the fields below; plans, subscriptions, quotas and invoices
// are otherwise opaque documents it hands back equal. Instantiate with metering's own types,
// e.g. `createPostgresMeteringStore<{ plan: Plan; subscription: Subscription; quota: Quota;
// invoice: Invoice }>(…)`, and the result is assignable to its `MeteringStore`.

/** How a meter aggregates (metering's `MeterAggregation`). */
export type MeterAggregationLike = 'sum' | 'count' | 'max' | 'unique_count' | 'latest';

/** Regular usage, or an adjustment carried into a later invoice. */
export type UsageKindLike = 'regular' | 'adjustment';

/** What one meter read from one event (metering's `Measurement`). */
export interface MeasurementLike {
  /** The meter. */
  readonly meterId: string;
  /** Its aggregation. */
  readonly aggregation: MeterAggregationLike;
  /** The value (1 for `count` and `unique_count`). */
  readonly value: Decimal;
  /** For `unique_count`: the distinct value counted. */
  readonly distinct: string | undefined;
  /** Dimension values. */
  readonly groups: Readonly<Record<string, string>>;
  /** Canonical JSON of `groups`: the group's identity. */
  readonly groupKey: string;
}

/** A billing period, `[start, end)` in Unix ns. */
export interface BillingPeriodLike {
  /** Inclusive start. */
  readonly start: bigint;
  /** Exclusive end. */
  readonly end: bigint;
}

/** A usage event as stored (metering's `StoredUsageEvent`). */
export interface StoredUsageEventLike {
  /** The event id. */
  readonly eventId: string;
  /** `runtime` or `host`. */
  readonly source: 'runtime' | 'host';
  /** Event type. */
  readonly eventType: string;
  /** The subscription it was attributed to. */
  readonly subscriptionId: string;
  /** The agent, when the usage is an agent's. */
  readonly agentNhi: string | undefined;
  /** The producer's idempotency key. */
  readonly idempotencyKey: string;
  /** The producer's consensus timestamp. */
  readonly occurredAt: bigint;
  /** Metering's consensus timestamp at ingestion. */
  readonly ingestedAt: bigint;
  /** What periods and windows use. */
  readonly billedAt: bigint;
  /** The billing period the usage belongs to. */
  readonly usagePeriodStart: bigint;
  /** The period whose invoice carries it. */
  readonly invoicePeriodStart: bigint;
  /** Properties as text. */
  readonly properties: Readonly<Record<string, string>>;
  /** The host event's value, as decimal text. */
  readonly value?: string;
}

/** One event to commit, atomically with its aggregates and deduplication key (metering's `EventCommit`). */
export interface EventCommitLike {
  /** Deduplication scope key. */
  readonly idempotencyScope: string;
  /** When the scope key may be forgotten (spec §9.2: ingest time + 7 days). */
  readonly idempotencyExpiresAt: bigint;
  /** The event; the store fills `invoicePeriodStart`. */
  readonly event: Omit<StoredUsageEventLike, 'invoicePeriodStart'>;
  /** The subscription's period containing `ingestedAt`. */
  readonly ingestPeriod: BillingPeriodLike;
  /** The usage period ended more than the grace period before ingestion. */
  readonly graceExpired: boolean;
  /** Start of the query bucket (UTC minute of `billedAt`). */
  readonly bucketStart: bigint;
  /** What each meter of the event type read. */
  readonly measurements: readonly MeasurementLike[];
}

/** What `commitEvent` did. */
export type CommitResultLike =
  | {
      /** Stored, aggregated, and its scope key recorded. */
      readonly status: 'stored';
      /** Regular or adjustment. */
      readonly kind: UsageKindLike;
      /** The period whose invoice carries the usage. */
      readonly invoicePeriodStart: bigint;
    }
  | {
      /** The scope key was already recorded: nothing changed. */
      readonly status: 'duplicate';
    };

/** An aggregate's state (metering's `AggregateState`). */
export interface AggregateStateLike {
  /** The meter's aggregation. */
  readonly aggregation: MeterAggregationLike;
  /** Events merged into it. */
  readonly events: bigint;
  /** Total, count, maximum, latest value or number of distinct values. */
  readonly value: Decimal;
  /** For `latest`: the `billedAt` of the value kept (-1 before any). */
  readonly latestAt: bigint;
  /** For `unique_count`: the distinct values, in first-seen order. */
  readonly distinct: readonly string[] | undefined;
}

/** The identity of a per-period aggregate row. */
export interface PeriodAggregateKeyLike {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId: string;
  /** Agent (`''` for subscription-level usage). */
  readonly agentNhi: string;
  /** Canonical JSON of `groups`. */
  readonly groupKey: string;
  /** The period the usage occurred in. */
  readonly usagePeriodStart: bigint;
  /** The period whose invoice carries it. */
  readonly invoicePeriodStart: bigint;
  /** The period it was ingested in. */
  readonly ingestPeriodStart: bigint;
}

/** A per-period aggregate row. */
export interface PeriodAggregateRowLike extends PeriodAggregateKeyLike {
  /** Dimension values. */
  readonly groups: Readonly<Record<string, string>>;
  /** The aggregate. */
  readonly state: AggregateStateLike;
}

/** A per-minute aggregate row. */
export interface BucketAggregateRowLike {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId: string;
  /** Agent (`''` for subscription-level usage). */
  readonly agentNhi: string;
  /** Canonical JSON of `groups`. */
  readonly groupKey: string;
  /** Dimension values. */
  readonly groups: Readonly<Record<string, string>>;
  /** Start of the UTC minute. */
  readonly bucketStart: bigint;
  /** The aggregate. */
  readonly state: AggregateStateLike;
}

/** Filter of `periodAggregates`: every given field must match. */
export interface PeriodAggregateQueryLike {
  /** Subscription (required). */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId?: string;
  /** Usage period. */
  readonly usagePeriodStart?: bigint;
  /** Invoice period. */
  readonly invoicePeriodStart?: bigint;
  /** Ingest period. */
  readonly ingestPeriodStart?: bigint;
}

/** Filter of `bucketAggregates`. */
export interface BucketAggregateQueryLike {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId: string;
  /** Buckets starting at or after this instant. */
  readonly from: bigint;
  /** Buckets starting before this instant. */
  readonly to: bigint;
  /** Only this agent's rows. */
  readonly agentNhi?: string;
}

/** Filter of `listEvents`. */
export interface EventQueryLike {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Events with `billedAt` at or after this instant. */
  readonly from?: bigint;
  /** Events with `billedAt` before this instant. */
  readonly to?: bigint;
  /** At most this many (oldest first); default and maximum 1000. */
  readonly limit?: number;
}

/** What `putInvoice` did. */
export interface PutInvoiceResultLike<I> {
  /** The stored invoice: the given one, or the one stored earlier for the same period. */
  readonly invoice: I;
  /** False when an invoice for that subscription and period already existed. */
  readonly created: boolean;
}

/** The document types a metering store keeps, with the fields the store reads. */
export interface MeteringDocumentTypes {
  /** A price plan: its `id`. */
  readonly plan: { readonly id: string };
  /** A subscription: its `id` and the NHIs bound to it. */
  readonly subscription: { readonly id: string; readonly agents: readonly string[] };
  /** A quota: its `id` and subscription. */
  readonly quota: { readonly id: string; readonly subscriptionId: string };
  /** An invoice (opaque). */
  readonly invoice: unknown;
}

/** Metering's `MeteringStore` port, over the document types given. */
export interface MeteringStoreLike<D extends MeteringDocumentTypes = MeteringDocumentTypes> {
  /** True when `scope` is recorded and not expired at `now`. */
  isDuplicate(scope: string, now: bigint): Promise<boolean>;
  /** Stores one event with its aggregates and scope key, atomically (spec §4.1). */
  commitEvent(commit: EventCommitLike): Promise<CommitResultLike>;
  /** Raw events still retained, oldest first. */
  listEvents(query: EventQueryLike): Promise<readonly StoredUsageEventLike[]>;
  /** Per-period aggregate rows matching the query. */
  periodAggregates(query: PeriodAggregateQueryLike): Promise<readonly PeriodAggregateRowLike[]>;
  /** Per-minute aggregate rows matching the query (still retained). */
  bucketAggregates(query: BucketAggregateQueryLike): Promise<readonly BucketAggregateRowLike[]>;
  /** Stores a plan; returns the stored one. `MT-409` when the id holds a different plan. */
  putPlan(plan: D['plan']): Promise<D['plan']>;
  /** A plan by id. */
  getPlan(id: string): Promise<D['plan'] | undefined>;
  /** Every plan, by id. */
  listPlans(): Promise<readonly D['plan'][]>;
  /** Creates a subscription; `MT-409` when the id exists or an agent is bound to another one. */
  createSubscription(subscription: D['subscription']): Promise<void>;
  /** Replaces a subscription; `MT-404` unknown; `MT-409` an agent is bound to another one. */
  updateSubscription(subscription: D['subscription']): Promise<void>;
  /** A subscription by id. */
  getSubscription(id: string): Promise<D['subscription'] | undefined>;
  /** Subscriptions ordered by id, after the `after` id, at most `limit`. */
  listSubscriptions(page: {
    readonly after?: string;
    readonly limit: number;
  }): Promise<readonly D['subscription'][]>;
  /** Deletes a subscription and everything attributed to it; true when it existed. */
  deleteSubscription(id: string): Promise<boolean>;
  /** The subscription an NHI is bound to, if any. */
  subscriptionOfAgent(nhi: string): Promise<string | undefined>;
  /** Creates or replaces a quota. `MT-404` when its subscription is unknown. */
  putQuota(quota: D['quota']): Promise<void>;
  /** A quota by id. */
  getQuota(id: string): Promise<D['quota'] | undefined>;
  /** Quotas of one subscription, or every quota. */
  listQuotas(subscriptionId?: string): Promise<readonly D['quota'][]>;
  /** Deletes a quota; true when it existed. */
  deleteQuota(id: string): Promise<boolean>;
  /** Records `key` until `expiresAt` unless recorded and unexpired at `now`; whether it did. */
  markOnce(key: string, expiresAt: bigint, now: bigint): Promise<boolean>;
  /** Marks a period as being invoiced: late usage for it becomes an adjustment. */
  closePeriod(subscriptionId: string, periodStart: bigint): Promise<void>;
  /** Stores the invoice of a period unless one exists (and closes the period). */
  putInvoice(
    subscriptionId: string,
    periodStart: bigint,
    invoice: D['invoice'],
  ): Promise<PutInvoiceResultLike<D['invoice']>>;
  /** The invoice of a period, if generated. */
  getInvoice(subscriptionId: string, periodStart: bigint): Promise<D['invoice'] | undefined>;
  /** A subscription's invoices, by period. */
  listInvoices(subscriptionId: string): Promise<readonly D['invoice'][]>;
}
