import type { Decimal } from '@creto/core';
import type { Invoice } from '../invoice/index.js';
import type { Measurement } from '../meters/types.js';
import type { MeterAggregation, Plan } from '../plans/types.js';
import type { Quota } from '../quota/types.js';
import type { BillingPeriod } from '../subscriptions/periods.js';
import type { Subscription } from '../subscriptions/types.js';

/**
 * How an event's usage is billed: `regular` in the invoice of the period it occurred in, or as an
 * `adjustment` carried into a later invoice because its own period was already invoiced (or its
 * grace period had passed) when it arrived.
 */
export type UsageKind = 'regular' | 'adjustment';

/** A usage event as stored (raw events are pruned after a retention; aggregates stay). */
export interface StoredUsageEvent {
  /** The event id (Runtime `event_id`, or generated for host usage). */
  readonly eventId: string;
  /** `runtime` (signed Runtime event) or `host` (`recordUsage`). */
  readonly source: 'runtime' | 'host';
  /** Event type. */
  readonly eventType: string;
  /** The subscription it was attributed to. */
  readonly subscriptionId: string;
  /** The agent, when the usage is an agent's. */
  readonly agentNhi: string | undefined;
  /** The producer's idempotency key. */
  readonly idempotencyKey: string;
  /** The producer's consensus timestamp (never trusted for anything but period assignment). */
  readonly occurredAt: bigint;
  /** Metering's consensus timestamp at ingestion. */
  readonly ingestedAt: bigint;
  /** `min(occurredAt, ingestedAt)`, clamped to the subscription's start: what periods and windows use. */
  readonly billedAt: bigint;
  /** The billing period the usage belongs to. */
  readonly usagePeriodStart: bigint;
  /** The period whose invoice carries it (the same unless it is an adjustment). */
  readonly invoicePeriodStart: bigint;
  /** Properties as text (numbers in canonical decimal form); signatures are not kept. */
  readonly properties: Readonly<Record<string, string>>;
  /** The host event's value, as decimal text. */
  readonly value?: string;
}

/** One event to commit: stored, aggregated and recorded for deduplication as ONE atomic step. */
export interface EventCommit {
  /** Deduplication scope key (source, producer and idempotency key). */
  readonly idempotencyScope: string;
  /** When the scope key may be forgotten (ingest time + the 7-day window of spec §9.2). */
  readonly idempotencyExpiresAt: bigint;
  /** The event; the store fills `invoicePeriodStart`. */
  readonly event: Omit<StoredUsageEvent, 'invoicePeriodStart'>;
  /** The subscription's period containing `ingestedAt`. */
  readonly ingestPeriod: BillingPeriod;
  /**
   * True when the usage period ended more than the grace period before ingestion: the event is
   * an adjustment even if that period has no invoice yet.
   */
  readonly graceExpired: boolean;
  /** Start of the query bucket (UTC minute of `billedAt`). */
  readonly bucketStart: bigint;
  /** What each meter of the event type read. */
  readonly measurements: readonly Measurement[];
}

/** What {@link MeteringStore.commitEvent} did. */
export type CommitResult =
  | {
      /** Stored, aggregated, and its scope key recorded. */
      readonly status: 'stored';
      /** Regular or adjustment (decided atomically with the period's invoice state). */
      readonly kind: UsageKind;
      /** The period whose invoice carries the usage. */
      readonly invoicePeriodStart: bigint;
    }
  | {
      /** The scope key was already recorded: nothing changed. */
      readonly status: 'duplicate';
    };

/** An aggregate: what a meter's events in one row add up to. */
export interface AggregateState {
  /** The meter's aggregation. */
  readonly aggregation: MeterAggregation;
  /** Events merged into it. */
  readonly events: bigint;
  /**
   * `sum`: the total; `count`: the event count; `max`: the largest value; `latest`: the value
   * with the greatest `latestAt`; `unique_count`: the number of distinct values.
   */
  readonly value: Decimal;
  /** For `latest`: the `billedAt` of the value kept (later ingestion wins ties). */
  readonly latestAt: bigint;
  /** For `unique_count`: the distinct values (bounded, see `MAX_DISTINCT_VALUES`). */
  readonly distinct: readonly string[] | undefined;
}

/** The identity of a per-period aggregate row. */
export interface PeriodAggregateKey {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId: string;
  /** Agent (`''` for usage recorded against the subscription itself). */
  readonly agentNhi: string;
  /** Canonical JSON of `groups`. */
  readonly groupKey: string;
  /** The period the usage occurred in. */
  readonly usagePeriodStart: bigint;
  /** The period whose invoice carries it. */
  readonly invoicePeriodStart: bigint;
  /** The period it was ingested in (what quotas count). */
  readonly ingestPeriodStart: bigint;
}

/** A per-period aggregate row. */
export interface PeriodAggregateRow extends PeriodAggregateKey {
  /** Dimension values. */
  readonly groups: Readonly<Record<string, string>>;
  /** The aggregate. */
  readonly state: AggregateState;
}

/** A per-minute aggregate row (for usage queries by window). */
export interface BucketAggregateRow {
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
  /** Start of the UTC minute (by `billedAt`). */
  readonly bucketStart: bigint;
  /** The aggregate. */
  readonly state: AggregateState;
}

/** Filter of {@link MeteringStore.periodAggregates}: every given field must match. */
export interface PeriodAggregateQuery {
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

/** Filter of {@link MeteringStore.bucketAggregates}. */
export interface BucketAggregateQuery {
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

/** Filter of {@link MeteringStore.listEvents}. */
export interface EventQuery {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Events with `billedAt` at or after this instant. */
  readonly from?: bigint;
  /** Events with `billedAt` before this instant. */
  readonly to?: bigint;
  /** At most this many (oldest first); default and maximum 1000. */
  readonly limit?: number;
}

/** What {@link MeteringStore.putInvoice} did. */
export interface PutInvoiceResult {
  /** The stored invoice: the given one, or the one stored earlier for the same period. */
  readonly invoice: Invoice;
  /** False when an invoice for that subscription and period already existed. */
  readonly created: boolean;
}

/**
 * The metering store port. Every method is one atomic step, so a SQL implementation maps each onto
 * one transaction. The contract that matters most: {@link MeteringStore.commitEvent} records the
 * deduplication key, stores the event and updates every aggregate together or not at all, and
 * decides regular vs adjustment under the same lock that {@link MeteringStore.closePeriod} takes,
 * so usage is never lost between an invoice being built and an event arriving late.
 *
 * Errors: `MT-409` conflicts (a plan id reused with other content, an agent bound to another
 * subscription, an existing id), `MT-404` unknown subscription on update, `MT-503` (retryable)
 * when a bound is reached or the backend is unavailable. Values returned are snapshots.
 */
export interface MeteringStore {
  /** True when `scope` is recorded and not expired at `now` (a cheap pre-check; commit decides). */
  isDuplicate(scope: string, now: bigint): Promise<boolean>;
  /** Stores one event with its aggregates and scope key, atomically (see the interface doc). */
  commitEvent(commit: EventCommit): Promise<CommitResult>;
  /** Raw events still retained, oldest first. */
  listEvents(query: EventQuery): Promise<readonly StoredUsageEvent[]>;
  /** Per-period aggregate rows matching the query. */
  periodAggregates(query: PeriodAggregateQuery): Promise<readonly PeriodAggregateRow[]>;
  /** Per-minute aggregate rows matching the query (still retained). */
  bucketAggregates(query: BucketAggregateQuery): Promise<readonly BucketAggregateRow[]>;

  /** Stores a plan; returns the stored one. `MT-409` when the id holds a different plan. */
  putPlan(plan: Plan): Promise<Plan>;
  /** A plan by id. */
  getPlan(id: string): Promise<Plan | undefined>;
  /** Every plan, by id. */
  listPlans(): Promise<readonly Plan[]>;

  /** Creates a subscription; `MT-409` when the id exists or an agent is bound to another one. */
  createSubscription(subscription: Subscription): Promise<void>;
  /** Replaces a subscription; `MT-404` unknown; `MT-409` an agent is bound to another one. */
  updateSubscription(subscription: Subscription): Promise<void>;
  /** A subscription by id. */
  getSubscription(id: string): Promise<Subscription | undefined>;
  /** Subscriptions ordered by id, after the `after` id, at most `limit`. */
  listSubscriptions(page: {
    readonly after?: string;
    readonly limit: number;
  }): Promise<readonly Subscription[]>;
  /**
   * Deletes a subscription and everything attributed to it (bindings, quotas, aggregates, events,
   * invoices): the §9.1 saga compensation. True when it existed.
   */
  deleteSubscription(id: string): Promise<boolean>;
  /** The subscription an NHI is bound to, if any. */
  subscriptionOfAgent(nhi: string): Promise<string | undefined>;

  /** Creates or replaces a quota. `MT-404` when its subscription is unknown. */
  putQuota(quota: Quota): Promise<void>;
  /** A quota by id. */
  getQuota(id: string): Promise<Quota | undefined>;
  /** Quotas of one subscription, or every quota. */
  listQuotas(subscriptionId?: string): Promise<readonly Quota[]>;
  /** Deletes a quota; true when it existed. */
  deleteQuota(id: string): Promise<boolean>;
  /**
   * Records `key` until `expiresAt` and returns true, or returns false when it is recorded and not
   * expired at `now`: "fire once" markers (quota thresholds per period).
   */
  markOnce(key: string, expiresAt: bigint, now: bigint): Promise<boolean>;

  /** Marks a period as being invoiced: from now on, late usage for it becomes an adjustment. */
  closePeriod(subscriptionId: string, periodStart: bigint): Promise<void>;
  /** Stores the invoice of a period unless one exists (idempotent per subscription and period). */
  putInvoice(subscriptionId: string, periodStart: bigint, invoice: Invoice): Promise<PutInvoiceResult>;
  /** The invoice of a period, if generated. */
  getInvoice(subscriptionId: string, periodStart: bigint): Promise<Invoice | undefined>;
  /** A subscription's invoices, by period. */
  listInvoices(subscriptionId: string): Promise<readonly Invoice[]>;
}
