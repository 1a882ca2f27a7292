import type {
  Clock,
  ConsensusClient,
  CryptoProvider,
  Decimal,
  DecimalLike,
  EnablementError,
  EnablementMetrics,
  EventBus,
  Logger,
  NhiClient,
  Notifier,
  OversightClient,
  OversightRequirement,
  QuotaClient,
  QuotaClientDecision,
  QuotaOverflowAction,
  Scheduler,
  UnifiedAuditEvent,
} from '@creto/core';
import type { Invoice } from '../invoice/index.js';
import type { Meter, UsageWindow } from '../meters/types.js';
import type { Plan } from '../plans/types.js';
import type { Quota, QuotaStatus } from '../quota/types.js';
import type { MeteringStore, UsageKind } from '../store/types.js';
import type { Subscription } from '../subscriptions/types.js';

/** Where Metering writes audit events: core's audit log, or a buffering sink in front of it. */
export interface MeteringAuditSink {
  /** Appends one event. */
  append(event: UnifiedAuditEvent): Promise<unknown>;
}

/** How Metering consumes `metering.events.runtime` from the event bus (spec §4.1). */
export interface MeteringBusOptions {
  /** Stream name; default `METERING`. */
  readonly stream?: string;
  /** Subjects the stream captures when Metering creates it; default `['metering.events.>']`. */
  readonly streamSubjects?: readonly string[];
  /** Create the stream on `start()` when it does not exist; default `true`. */
  readonly createStream?: boolean;
  /** Durable consumer name; default `metering`. Two instances with different names both consume everything. */
  readonly consumer?: string;
  /** Ack wait of the consumer, ms; default 30 000. */
  readonly ackWaitMs?: number;
  /**
   * Redeliveries of an event whose agent is unknown (or that failed transiently) before the bus
   * dead-letters it for manual review (spec §4.1: 3); the consumer's `maxDeliver` is this plus one.
   */
  readonly retries?: number;
  /** Delay before each redelivery, ms; default 5 000. */
  readonly retryDelayMs?: number;
}

/** How threshold crossings become oversight requests (spec §4.5). */
export interface QuotaOversightOptions {
  /** Who approves quota increases (e.g. the finance team), with tiers and final action. */
  readonly requirement: OversightRequirement;
  /** Policy id of the requests; default `quota_notification_policy`. */
  readonly policyId?: string;
}

/** Options of `createMetering`. */
export interface MeteringOptions {
  /**
   * The NHI service: usage-event signatures are verified against the agent's registered keys, and
   * attribution through a delegation chain needs each link verified (`verifyDelegation`, spec §6.2).
   */
  readonly nhi: Pick<NhiClient, 'lookup' | 'validateHybridSignature' | 'verifyDelegation'>;
  /** Time for periods, timers and `retryAfterMs`; default `systemClock`. */
  readonly clock?: Clock;
  /** Consensus time stamped on every ingested event (spec §3.5); default an HLC on `clock`. */
  readonly consensus?: Pick<ConsensusClient, 'getTimestamp'>;
  /** Crypto for ML-DSA-65 verification; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** The store; default `createMemoryMeteringStore()`. */
  readonly store?: MeteringStore;
  /** Deadlines (quota period roll-over); default a scheduler on `clock`. */
  readonly scheduler?: Scheduler;
  /** Audit log: rejected signatures, invoices, quota breaches, quota increases. */
  readonly audit?: MeteringAuditSink;
  /** Also audit every accepted event (`EventIngested`); default `false` (the event is stored anyway). */
  readonly auditIngestedEvents?: boolean;
  /** NHI of Metering's own service principal, for audit events no agent is behind. */
  readonly serviceNhi?: string;
  /** Event bus to consume from on `start()`. */
  readonly bus?: EventBus;
  /** Bus consumer settings. */
  readonly busOptions?: MeteringBusOptions;
  /** Oversight port for quota-breach requests (spec §4.5); optional. */
  readonly oversight?: Pick<OversightClient, 'createRequest'>;
  /** Required with `oversight`: the approvers of quota requests. */
  readonly quotaOversight?: QuotaOversightOptions;
  /** Notification port: quota warnings to agents (§7.3), invoices to billing contacts (§7.4); optional. */
  readonly notifier?: Notifier;
  /** Meters; default `DEFAULT_METERS`. More can be registered later. */
  readonly meters?: readonly Meter[];
  /**
   * How long after a period ends its late events still count toward it, ms (unless its invoice
   * was already generated); default 3 600 000 (one hour), at most 7 days.
   */
  readonly gracePeriodMs?: number;
  /**
   * Verify usage-event signatures (spec §4.1 step 1); default `true`. `false` is only for a
   * trusted in-process producer whose events never cross a process boundary; it is logged.
   */
  readonly verifySignatures?: boolean;
  /** Accept only hybrid (Ed25519 ‖ ML-DSA-65) signatures, not ML-DSA-65 alone; default `false`. */
  readonly requireHybridSignatures?: boolean;
  /** Agents attributed through a delegation chain that are remembered for quota checks; default 100 000. */
  readonly maxLearnedAgents?: number;
  /** Notifications and oversight requests in flight; beyond it new ones are dropped and logged. */
  readonly maxPendingNotifications?: number;
  /** Metric instruments; `createEnablementMetrics()` by default. */
  readonly metrics?: EnablementMetrics;
  /** Logger; none by default. */
  readonly logger?: Logger;
}

/** The outcome of one event of `ingest`. */
export type IngestResult =
  | {
      /** Stored and aggregated. */
      readonly status: 'accepted';
      /** The event. */
      readonly eventId: string;
      /** The subscription it was attributed to. */
      readonly subscriptionId: string;
      /** Regular usage of its period, or an adjustment carried into a later invoice. */
      readonly kind: UsageKind;
      /** The period it occurred in. */
      readonly usagePeriodStart: bigint;
      /** The period whose invoice carries it. */
      readonly invoicePeriodStart: bigint;
    }
  | {
      /** Seen before (same producer and idempotency key within 7 days): acknowledged, not counted. */
      readonly status: 'duplicate';
      /** The event. */
      readonly eventId: string | undefined;
    }
  | {
      /** Refused: `MT-400` malformed, `MT-401` bad signature, `MT-404` unknown agent, `MT-503` transient. */
      readonly status: 'rejected';
      /** The event, when it could be read. */
      readonly eventId: string | undefined;
      /** Why. */
      readonly error: EnablementError;
    };

/** Host-side usage (`recordUsage`): usage that does not come from Runtime, e.g. API calls. */
export interface HostUsageInput {
  /** The subscription the usage belongs to (or give `agentNhi`). */
  readonly subscriptionId?: string;
  /** The agent the usage belongs to, attributed like a Runtime event (or give `subscriptionId`). */
  readonly agentNhi?: string;
  /** The event type meters select on, e.g. `api_call`. */
  readonly eventType: string;
  /** The value (path `value`); default 1. Non-negative. */
  readonly value?: DecimalLike;
  /** Properties (paths `properties.<name>`): text, or exact numbers as `bigint`/`Decimal`. */
  readonly properties?: Readonly<Record<string, string | bigint | Decimal>>;
  /** Deduplication key (7 days, per subscription or agent). */
  readonly idempotencyKey: string;
  /** When it happened (Unix ns); default now. Only used for period assignment, as for Runtime events. */
  readonly occurredAt?: bigint;
}

/** Input of `createSubscription`. */
export interface CreateSubscriptionInput {
  /** Id (UUID); generated by default. */
  readonly id?: string;
  /** The customer organization. */
  readonly organizationId: string;
  /** The plan. */
  readonly planId: string;
  /** Who receives invoices. */
  readonly billingContact: string;
  /** NHIs bound directly (agents, or the organization's human root). */
  readonly agents?: readonly string[];
  /** Period anchor (Unix ns); default the start of the current UTC day or month. */
  readonly anchor?: bigint;
}

/** Input of `setQuota`. */
export interface QuotaInput {
  /** Id; generated by default. Setting an existing id replaces that quota. */
  readonly id?: string;
  /** The subscription. */
  readonly subscriptionId: string;
  /** Only this agent's usage (default: the whole subscription's). */
  readonly agentNhi?: string;
  /** The meter (a `sum` or `count` meter). */
  readonly meterId: string;
  /** Limit per period, positive. */
  readonly limit: DecimalLike;
  /** What reaching the limit does. */
  readonly overflow: QuotaOverflowAction;
  /**
   * Notification thresholds as fractions of the limit, ascending in (0, 1]; default
   * `['0.8', '0.95']` for `allow_with_notification`, none otherwise.
   */
  readonly thresholds?: readonly DecimalLike[];
}

/** Who approved a quota increase (spec §7.3). */
export interface QuotaApproval {
  /** The approver (NHI or name). */
  readonly approvedBy: string;
  /** The oversight request that was approved; applying the same request twice changes nothing. */
  readonly requestId: string;
}

/** A usage query (by subscription, meter, time range, window and groups). */
export interface UsageQuery {
  /** Subscription. */
  readonly subscriptionId: string;
  /** Meter. */
  readonly meterId: string;
  /** Start of the range (Unix ns, inclusive; minute precision). */
  readonly from: bigint;
  /** End of the range (exclusive). */
  readonly to: bigint;
  /** Split into UTC-aligned windows; default one row per group for the whole range. */
  readonly window?: UsageWindow;
  /** Dimensions to group by (a subset of the meter's); default none. */
  readonly groupBy?: readonly string[];
  /** Only this agent's usage. */
  readonly agentNhi?: string;
}

/** One row of a usage query. */
export interface UsageRow {
  /** Window start (the range start when not windowed). */
  readonly windowStart: bigint;
  /** Window end. */
  readonly windowEnd: bigint;
  /** Values of the requested dimensions. */
  readonly groups: Readonly<Record<string, string>>;
  /** The meter's aggregate in the window and group. */
  readonly value: Decimal;
  /** Events counted. */
  readonly events: bigint;
}

/** What `generateInvoices` produced. */
export interface GenerateInvoicesResult {
  /** Invoices generated by this call (periods already invoiced are skipped, not generated again). */
  readonly invoices: readonly Invoice[];
  /** Subscriptions whose invoice failed (the others are unaffected). */
  readonly failed: readonly { readonly subscriptionId: string; readonly error: EnablementError }[];
}

/**
 * The Metering engine (ARCHITECTURE §6 Metering): ingestion of signed usage events and host
 * usage, meters, plans, subscriptions, quotas and invoices. It is also the core `QuotaClient`.
 */
export interface Metering extends QuotaClient {
  /** Subscribes to `metering.events.runtime` on the bus (a durable consumer). Idempotent. */
  start(): Promise<void>;
  /** Unsubscribes; unanswered deliveries are redelivered to the next subscriber. Idempotent. */
  stop(): Promise<void>;
  /** `stop()`, cancels timers and waits for notifications in flight. */
  close(): Promise<void>;
  /** Reloads quota states from the store (after constructing over a persistent store). */
  reload(): Promise<void>;

  /** Ingests a batch of Runtime usage events (wire JSON or decoded), each independently, in order. */
  ingest(events: readonly unknown[]): Promise<readonly IngestResult[]>;
  /** Records host-side usage. */
  recordUsage(input: HostUsageInput): Promise<IngestResult>;
  /** Waits until the notifications and oversight requests started so far have settled. */
  flush(): Promise<void>;

  /** Registers a meter; `MT-409` when the id exists with another definition. */
  registerMeter(meter: Meter): Meter;
  /** The registered meters. */
  meters(): readonly Meter[];
  /** Validates (`validatePlan`) and stores a plan; charges must name registered meters. */
  registerPlan(plan: unknown): Promise<Plan>;
  /** A plan; `MT-404` when unknown. */
  getPlan(planId: string): Promise<Plan>;

  /** Creates a subscription. */
  createSubscription(input: CreateSubscriptionInput): Promise<Subscription>;
  /** A subscription; `MT-404` when unknown. */
  getSubscription(subscriptionId: string): Promise<Subscription>;
  /** Switches plan from the next period (no proration); same interval required (`MT-409`). */
  changePlan(subscriptionId: string, planId: string): Promise<Subscription>;
  /** Cancels at the end of the current period (its last invoice is still generated). Idempotent. */
  cancelSubscription(subscriptionId: string): Promise<Subscription>;
  /** Deletes a subscription and all its data (the §9.1 saga compensation); false when unknown. */
  deleteSubscription(subscriptionId: string): Promise<boolean>;
  /** Binds an NHI to a subscription; `MT-409` when bound to another. */
  bindAgent(subscriptionId: string, nhi: string): Promise<Subscription>;
  /** Unbinds an NHI. */
  unbindAgent(subscriptionId: string, nhi: string): Promise<Subscription>;

  /** Creates or replaces a quota. */
  setQuota(input: QuotaInput): Promise<Quota>;
  /** Raises a quota's limit (`MT-409` unless higher). */
  raiseQuota(quotaId: string, newLimit: DecimalLike): Promise<Quota>;
  /** Applies an increase approved through Oversight (spec §7.3); idempotent per request. */
  applyQuotaIncrease(quotaId: string, newLimit: DecimalLike, approval: QuotaApproval): Promise<Quota>;
  /** Removes a quota; false when unknown. */
  removeQuota(quotaId: string): Promise<boolean>;
  /** A quota's current period and usage; `MT-404` when unknown. */
  quotaStatus(quotaId: string): Promise<QuotaStatus>;
  /**
   * The synchronous quota decision for the inline path (spec §7.3): `amount` more of `eventType`
   * by `agent` (a non-negative integer number, or a `Decimal`; absent: "is anything left?").
   * No promise; no allocation unless it blocks. A `block` carries `MT-429` with `retryAfterMs`
   * until the period ends.
   */
  checkQuotaSync(agent: string, eventType: string, amount?: number | Decimal): QuotaClientDecision;

  /** Usage by window and group. */
  queryUsage(query: UsageQuery): Promise<readonly UsageRow[]>;

  /**
   * The invoice of one ended period (default: the last ended one), generated once: later calls
   * return the stored invoice.
   */
  generateInvoice(subscriptionId: string, periodStart?: bigint): Promise<Invoice>;
  /** Invoices of every subscription for every period that ended by `periodEnd` (default now). */
  generateInvoices(periodEnd?: bigint): Promise<GenerateInvoicesResult>;
  /** A subscription's invoices, by period. */
  listInvoices(subscriptionId: string): Promise<readonly Invoice[]>;
}
