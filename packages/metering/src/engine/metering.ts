import {
  AuditEvents,
  type Subscription as BusSubscription,
  type CancelTimer,
  createAuditEvent,
  createEnablementMetrics,
  createHybridLogicalClock,
  createScheduler,
  DEFAULT_IDEMPOTENCY_WINDOWS,
  Decimal,
  type DecimalLike,
  decodeJson,
  decodeRuntimeUsageEvent,
  EnablementError,
  type EventMessage,
  encodeRuntimeUsageEvent,
  isNhi,
  isUuid,
  type JsonValue,
  newUuid,
  nobleCryptoProvider,
  noopLogger,
  policyId,
  type QuotaClientDecision,
  type QuotaQuery,
  type RuntimeUsageEvent,
  SPAN_NAMES,
  SUBJECTS,
  systemClock,
  TRACE_ATTRIBUTES,
  type UnifiedAuditEvent,
  USAGE_EVENT_SIGNING_DOMAIN,
  type Uuid,
  wireSignatureScheme,
  wireSigningBytes,
  withSpan,
} from '@creto/core';
import { z } from 'zod';
import {
  buildInvoice,
  encodeInvoice,
  formatInvoiceTable,
  type Invoice,
  type InvoiceLine,
} from '../invoice/index.js';
import { DEFAULT_METERS, measure, runtimeUsageRecord, validateMeter } from '../meters/meters.js';
import type { Measurement, Meter, UsageRecord, UsageValue } from '../meters/types.js';
import type { Plan } from '../plans/types.js';
import { validatePlan } from '../pricing/index.js';
import { createQuotaBook, type QuotaCrossing } from '../quota/book.js';
import type { Quota, QuotaStatus } from '../quota/types.js';
import { mergeInto, newAccumulator, snapshot } from '../store/aggregate.js';
import { createMemoryMeteringStore } from '../store/memory.js';
import type { PeriodAggregateRow, StoredUsageEvent } from '../store/types.js';
import {
  type BillingPeriod,
  DAY_NS,
  defaultAnchor,
  formatUtcDate,
  periodContaining,
} from '../subscriptions/periods.js';
import { planIdAt, type Subscription } from '../subscriptions/types.js';
import { adjustmentLines, chargeUsages, withLines } from './invoicing.js';
import {
  DEFAULT_BUS_OPTIONS,
  DEFAULT_GRACE_PERIOD_MS,
  DEFAULT_MAX_LEARNED_AGENTS,
  DEFAULT_MAX_PENDING_NOTIFICATIONS,
  parseMeteringOptions,
} from './options.js';
import type {
  CreateSubscriptionInput,
  GenerateInvoicesResult,
  HostUsageInput,
  IngestResult,
  Metering,
  MeteringOptions,
  QuotaApproval,
  QuotaInput,
  UsageQuery,
  UsageRow,
} from './types.js';

const NS_PER_MS = 1_000_000n;
const MINUTE_NS = 60_000_000_000n;
const WINDOW_NS = Object.freeze({ minute: MINUTE_NS, hour: 60n * MINUTE_NS, day: DAY_NS });
/** Most windows one usage query may return per group (bounds the answer). */
export const MAX_QUERY_WINDOWS = 10_000;
/** Most periods `generateInvoices` invoices per subscription in one call (the next call continues). */
export const MAX_PERIODS_PER_RUN = 1_000;
/** Policy id of quota-breach oversight requests (spec §4.5). */
export const QUOTA_NOTIFICATION_POLICY_ID = 'quota_notification_policy';
/** Action name of quota-breach oversight requests (spec §4.5). */
export const QUOTA_BREACH_ACTION = 'quota_breach';

/** The deduplication window of `ingest_event` (spec §9.2: 7 days), from core's table. */
const INGEST_WINDOW_MS =
  DEFAULT_IDEMPOTENCY_WINDOWS.find((w) => w.product === 'metering' && w.operation === 'ingest_event')
    ?.windowMs ?? 7 * 86_400_000;
const INGEST_WINDOW_NS = BigInt(INGEST_WINDOW_MS) * NS_PER_MS;

const ONE = Decimal.from(1n);
const HUNDRED = Decimal.from(100n);
const DEFAULT_NOTIFY_THRESHOLDS = Object.freeze([Decimal.parse('0.8'), Decimal.parse('0.95')]);

const VISIBLE = /^[\x21-\x7e]+$/;
const text = (max: number) =>
  z.string().min(1).max(max).regex(VISIBLE, { error: 'expected visible ASCII without spaces' });
const label = (max: number) => z.string().min(1).max(max);
const decimalLike = z.custom<DecimalLike>(
  (v) => typeof v === 'string' || typeof v === 'bigint' || Decimal.isDecimal(v),
  { error: 'expected a Decimal, a decimal string or a bigint' },
);
const nhiSchema = z.custom<string>(isNhi, { error: 'expected an NHI' });
const uuidSchema = z.custom<string>(isUuid, { error: 'expected a UUID' });
const instant = z
  .bigint()
  .min(0n)
  .max(2n ** 63n - 1n);
const eventTypeSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_.-]{0,63}$/, { error: 'expected an event type token' });

const hostUsageSchema = z
  .strictObject({
    subscriptionId: z.string().min(1).max(64).optional(),
    agentNhi: nhiSchema.optional(),
    eventType: eventTypeSchema,
    value: decimalLike.optional(),
    properties: z
      .record(
        z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'expected a property name [a-z][a-z0-9_]*' }),
        z.union([z.string().min(1).max(256), z.bigint().min(0n), z.custom<Decimal>(Decimal.isDecimal)]),
      )
      .refine((p) => Object.keys(p).length <= 32, { error: 'at most 32 properties' })
      .optional(),
    idempotencyKey: text(256),
    occurredAt: instant.optional(),
  })
  .refine((u) => (u.subscriptionId === undefined) !== (u.agentNhi === undefined), {
    error: 'give exactly one of subscriptionId and agentNhi',
    path: ['subscriptionId'],
  });

const subscriptionSchema = z.strictObject({
  id: uuidSchema.optional(),
  organizationId: label(256),
  planId: label(128),
  billingContact: label(512),
  agents: z.array(nhiSchema).max(1000).optional(),
  anchor: instant.optional(),
});

const quotaSchema = z.strictObject({
  id: text(128).optional(),
  subscriptionId: z.string().min(1).max(64),
  agentNhi: nhiSchema.optional(),
  meterId: z.string().min(1).max(64),
  limit: decimalLike,
  overflow: z.enum(['block', 'allow_with_notification', 'allow']),
  thresholds: z.array(decimalLike).max(8).optional(),
});

const querySchema = z.strictObject({
  subscriptionId: z.string().min(1).max(64),
  meterId: z.string().min(1).max(64),
  from: instant,
  to: instant,
  window: z.enum(['minute', 'hour', 'day']).optional(),
  groupBy: z.array(z.string().min(1).max(64)).max(8).optional(),
  agentNhi: z.string().min(1).max(1024).optional(),
});

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
  throw new EnablementError('MT-400', `invalid ${what}: ${path}: ${issue?.message ?? 'invalid'}`);
}

function toEnablementError(error: unknown, fallback: string): EnablementError {
  if (EnablementError.is(error)) return error;
  return new EnablementError('MT-503', fallback, { cause: error, retryable: true });
}

function textOf(value: UsageValue): string {
  return typeof value === 'string' ? value : value.toString();
}

function percentOf(fraction: Decimal): string {
  return fraction.mul(HUNDRED).normalize().toString();
}

/** Limit of an audit `QuotaExceeded` event (a u64): the limit rounded up. */
function limitForAudit(limit: Decimal): bigint {
  return limit.round(0, 'ceiling').coefficient;
}

/**
 * Builds the Metering engine (see {@link Metering} and the package README): ingestion of signed
 * Runtime usage events from the bus or `ingest` (spec §4.1: verify → deduplicate → validate →
 * stamp consensus time → attribute → store and aggregate → ack), host usage, meters, plans,
 * subscriptions, quotas with a synchronous check, and invoices.
 *
 * @example
 * ```ts
 * const platform = createPlatform({ clock });
 * const metering = createMetering({ nhi: platform.nhi, clock, consensus: platform.consensus, audit: platform.audit, bus });
 * await metering.registerPlan(plan);
 * const sub = await metering.createSubscription({ organizationId: 'acme', planId: plan.id, billingContact: 'billing@acme.example', agents: [agent.nhi] });
 * await metering.start(); // consumes metering.events.runtime
 * ```
 */
export function createMetering(options: MeteringOptions): Metering {
  const o = parseMeteringOptions(options);
  const clock = o.clock ?? systemClock;
  const consensus = o.consensus ?? createHybridLogicalClock({ clock });
  const provider = o.provider ?? nobleCryptoProvider;
  const store = o.store ?? createMemoryMeteringStore();
  const ownScheduler = o.scheduler === undefined;
  const scheduler = o.scheduler ?? createScheduler({ clock });
  const metrics = o.metrics ?? createEnablementMetrics();
  const logger = (o.logger ?? noopLogger).child({ product: 'metering' });
  const graceNs = BigInt(o.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS) * NS_PER_MS;
  const verifySignatures = o.verifySignatures ?? true;
  const requireHybrid = o.requireHybridSignatures ?? false;
  const busOptions = { ...DEFAULT_BUS_OPTIONS, ...o.busOptions };
  const maxLearned = o.maxLearnedAgents ?? DEFAULT_MAX_LEARNED_AGENTS;
  const maxPending = o.maxPendingNotifications ?? DEFAULT_MAX_PENDING_NOTIFICATIONS;
  const { nhi, audit, notifier, oversight, bus } = o;
  if (!verifySignatures) {
    logger.warn('usage-event signature verification is disabled: only for a trusted in-process producer');
  }

  const meters = new Map<string, Meter>();
  const metersByType = new Map<string, Meter[]>();
  const book = createQuotaBook({ now: () => clock.now(), metrics });
  const learned = new Map<string, string>(); // agent → subscription (through a delegation chain)
  const learnedBySub = new Map<string, Set<string>>();
  const rollTimers = new Map<bigint, { cancel: CancelTimer; quotas: Map<string, Subscription> }>();
  const pending = new Set<Promise<void>>();
  let busSubscription: BusSubscription | undefined;
  let closed = false;

  function addMeter(input: Meter): Meter {
    const meter = validateMeter(input);
    const existing = meters.get(meter.id);
    if (existing !== undefined) {
      if (JSON.stringify(existing) !== JSON.stringify(meter)) {
        throw new EnablementError(
          'MT-409',
          `meter ${meter.id} is already registered with another definition`,
        );
      }
      return existing;
    }
    meters.set(meter.id, meter);
    metersByType.set(meter.eventType, [...(metersByType.get(meter.eventType) ?? []), meter]);
    return meter;
  }
  for (const meter of (o.meters as readonly Meter[] | undefined) ?? DEFAULT_METERS) addMeter(meter);

  const periodAt = (sub: Subscription, at: bigint): BillingPeriod =>
    periodContaining(sub.anchor, sub.interval, at);

  async function requireSubscription(id: string): Promise<Subscription> {
    const sub = typeof id === 'string' ? await store.getSubscription(id) : undefined;
    if (sub === undefined) throw new EnablementError('MT-404', `subscription ${String(id)} is unknown`);
    return sub;
  }

  async function requirePlan(id: string): Promise<Plan> {
    const plan = typeof id === 'string' ? await store.getPlan(id) : undefined;
    if (plan === undefined) throw new EnablementError('MT-404', `plan ${String(id)} is unknown`);
    return plan;
  }

  function agentsOf(sub: Subscription): Set<string> {
    return new Set([...sub.agents, ...(learnedBySub.get(sub.id) ?? [])]);
  }

  /** Remembers an agent attributed through its chain; true when that is new. */
  function learn(agent: string, subscriptionId: string): boolean {
    if (learned.get(agent) === subscriptionId) return false;
    const previous = learned.get(agent);
    if (previous !== undefined) learnedBySub.get(previous)?.delete(agent);
    if (learned.size >= maxLearned) {
      // Forget the oldest: it is relearned on its next event; until then its quota checks allow.
      const oldest = learned.keys().next().value;
      if (oldest !== undefined) {
        learnedBySub.get(learned.get(oldest) ?? '')?.delete(oldest);
        learned.delete(oldest);
      }
    }
    learned.set(agent, subscriptionId);
    let set = learnedBySub.get(subscriptionId);
    if (set === undefined) {
      set = new Set();
      learnedBySub.set(subscriptionId, set);
    }
    set.add(agent);
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Background work: notifications and audit never block or fail ingestion.
  // ---------------------------------------------------------------------------------------------

  function background(operation: string, work: () => Promise<unknown>): void {
    if (pending.size >= maxPending) {
      logger.warn('too many notifications in flight; dropped one', { operation });
      return;
    }
    const task: Promise<void> = work().then(
      () => undefined,
      (error: unknown) => logger.error('metering side effect failed', { operation, error }),
    );
    pending.add(task);
    void task.finally(() => pending.delete(task));
  }

  function appendAudit(event: () => UnifiedAuditEvent, operation: string): void {
    if (audit === undefined) return;
    background(operation, async () => audit.append(event()));
  }

  // ---------------------------------------------------------------------------------------------
  // Ingestion (spec §4.1)
  // ---------------------------------------------------------------------------------------------

  /**
   * The event and the bytes its signature covers, both read from ONE snapshot of the input, so an
   * object whose getters answer differently on a second read cannot get one content verified and
   * another counted. Wire input that decodes is canonical (every leaf codec accepts only canonical
   * text: decoding then encoding is the identity), so its signing bytes are computed from it
   * directly rather than by encoding the event again. `plain`: the input is fresh `JSON.parse`
   * output (the bus path) and needs no snapshot.
   */
  function decodeEvent(
    input: unknown,
    plain: boolean,
  ): { event: RuntimeUsageEvent; signingBytes: () => Uint8Array } {
    let wire: unknown;
    if (typeof input === 'object' && input !== null && 'eventId' in input && 'signature' in input) {
      wire = encodeRuntimeUsageEvent(input as RuntimeUsageEvent); // validates; a fresh wire object
    } else if (plain) {
      wire = input;
    } else {
      try {
        wire = structuredClone(input);
      } catch (cause) {
        throw new EnablementError('MT-400', 'invalid RuntimeUsageEvent: (root): not plain JSON data', {
          cause,
        });
      }
    }
    const event = decodeRuntimeUsageEvent(wire);
    return {
      event,
      signingBytes: () => wireSigningBytes(USAGE_EVENT_SIGNING_DOMAIN, wire as Record<string, unknown>),
    };
  }

  async function verify(event: RuntimeUsageEvent, bytes: Uint8Array): Promise<void> {
    const scheme = wireSignatureScheme(event.signature);
    if (requireHybrid && scheme !== 'hybrid') {
      throw new EnablementError('MT-401', `usage event ${event.eventId}: a hybrid signature is required`);
    }
    try {
      if (scheme === 'hybrid') {
        await nhi.validateHybridSignature(event.agentNhi, bytes, event.signature);
        return;
      }
      const principal = await nhi.lookup(event.agentNhi);
      const key = principal.identity.publicKeyMlDsa65;
      if (key === undefined || !provider.mlDsa65.verify(key, bytes, event.signature)) {
        throw new EnablementError('PL-401', 'ML-DSA-65 signature does not verify');
      }
    } catch (error) {
      if (!EnablementError.is(error)) {
        throw new EnablementError('MT-503', 'NHI service unavailable', { cause: error, retryable: true });
      }
      switch (error.code) {
        case 'PL-401':
        case 'PL-410':
          throw new EnablementError(
            'MT-401',
            `usage event ${event.eventId}: signature of ${event.agentNhi} invalid (${error.code === 'PL-410' ? 'revoked' : 'does not verify'})`,
            { cause: error },
          );
        case 'PL-404':
          throw new EnablementError(
            'MT-404',
            `usage event ${event.eventId}: agent ${event.agentNhi} is not registered`,
            {
              cause: error,
              retryable: true,
            },
          );
        case 'PL-400':
          throw new EnablementError('MT-400', `usage event ${event.eventId}: ${error.message}`, {
            cause: error,
          });
        default:
          throw new EnablementError('MT-503', 'NHI service unavailable', { cause: error, retryable: true });
      }
    }
  }

  function auditRejectedSignature(event: RuntimeUsageEvent, error: EnablementError): void {
    appendAudit(
      () =>
        createAuditEvent({
          product: 'metering',
          agentNhi: event.agentNhi,
          action: 'usage.ingest',
          resource: `metering:event:${event.eventId}`,
          outcome: 'denied',
          timestamp: clock.now(),
          metadata: {
            code: error.code,
            reason: 'signature_invalid',
            event_type: event.eventType,
            idempotency_key: event.idempotencyKey,
            message: error.message,
          },
        }),
      'audit_rejected_signature',
    );
  }

  /** The live subscription an NHI is bound to in the store, if any. */
  async function boundSubscription(nhi: string): Promise<Subscription | undefined> {
    const id = await store.subscriptionOfAgent(nhi);
    return id === undefined ? undefined : store.getSubscription(id);
  }

  /**
   * True when NHI has validated a signed delegation link `parent` → `child` that is still valid
   * (spec §6.2 `verify_delegation`). An answer other than `true` is `false` (fail closed); a
   * malformed name (`PL-400`) is `false`; any other failure means NHI could not answer: `MT-503`,
   * retryable, so the event is redelivered rather than dropped or misattributed.
   */
  async function delegationVerifies(parent: string, child: string): Promise<boolean> {
    try {
      return (await nhi.verifyDelegation(parent, child)) === true;
    } catch (error) {
      if (EnablementError.is(error) && error.code === 'PL-400') return false;
      throw new EnablementError('MT-503', 'NHI service unavailable: delegation could not be verified', {
        cause: error,
        retryable: true,
      });
    }
  }

  /** Forgets what was learned of `agent` once its chain no longer verifies. */
  async function unlearn(agent: string): Promise<void> {
    const previous = learned.get(agent);
    if (previous === undefined) return;
    learned.delete(agent);
    learnedBySub.get(previous)?.delete(agent);
    const sub = await store.getSubscription(previous);
    if (sub !== undefined) book.setAgents(sub.id, agentsOf(sub));
  }

  /**
   * Subscription of `agent` (spec §4.1 step 4, "through the agent's NHI and delegation chain"): the
   * one it is bound to, else that of the nearest ancestor in `chain` (root first, ending with the
   * agent) whose delegation down to the agent verifies through NHI pair by pair (spec §6.2). The
   * chain is only names, signed by the agent itself, so naming an ancestor proves nothing: an
   * ancestor is billed, and the agent learned into its subscription for quotas, only when every
   * link from it down to the agent was validated by NHI (`validateDelegationChain`, which Runtime
   * runs at spawn) and is neither revoked nor expired. Pairs are verified lazily, from the agent
   * up, only when a bound ancestor is found; once one fails, every ancestor above it needs that same
   * pair, so the search ends there. A directly bound agent costs no NHI call.
   */
  async function attribute(agent: string, chain: readonly string[]): Promise<Subscription> {
    const direct = await boundSubscription(agent);
    if (direct !== undefined) return direct;
    // Step 3 made a non-empty chain end with the agent; anything else gives no ancestors.
    const hops = chain.length > 1 && chain[chain.length - 1] === agent ? chain : [];
    let verifiedFrom = hops.length - 1; // every pair from hops[verifiedFrom] down to the agent verified
    let unverified = false;
    search: for (let i = hops.length - 2; i >= 0; i--) {
      const candidate = hops[i];
      if (candidate === undefined || candidate === agent) continue;
      const sub = await boundSubscription(candidate);
      if (sub === undefined) continue;
      for (; verifiedFrom > i; verifiedFrom--) {
        const parent = hops[verifiedFrom - 1];
        const child = hops[verifiedFrom];
        if (parent === undefined || child === undefined || !(await delegationVerifies(parent, child))) {
          unverified = true;
          break search;
        }
      }
      if (!sub.agents.includes(agent) && learn(agent, sub.id)) book.setAgents(sub.id, agentsOf(sub));
      return sub;
    }
    if (unverified) {
      await unlearn(agent);
      throw new EnablementError(
        'MT-404',
        `agent ${agent} is not attributed to any subscription: its delegation chain could not be verified`,
        { retryable: true },
      );
    }
    throw new EnablementError('MT-404', `agent ${agent} is not attributed to any subscription`, {
      retryable: true,
    });
  }

  interface UsageCommit {
    readonly scope: string;
    readonly sub: Subscription;
    readonly record: UsageRecord;
    readonly eventId: string;
    readonly idempotencyKey: string;
    readonly occurredAt: bigint;
    readonly ingestedAt: bigint;
    readonly chain: readonly string[];
  }

  async function commitUsage(u: UsageCommit): Promise<IngestResult> {
    const { sub, record, ingestedAt } = u;
    if (sub.endsAt !== null && ingestedAt >= sub.endsAt) {
      throw new EnablementError('MT-404', `subscription ${sub.id} ended; usage cannot be attributed`, {
        retryable: true,
      });
    }
    const measurements: Measurement[] = (metersByType.get(record.eventType) ?? []).map((m) =>
      measure(m, record),
    );
    // Never trust a producer's clock (spec §3.5): a future timestamp counts as now, and nothing is
    // billed before the subscription started.
    let billedAt = ingestedAt;
    if (u.occurredAt < billedAt) billedAt = u.occurredAt;
    if (billedAt < sub.startsAt) billedAt = sub.startsAt;
    const usagePeriod = periodAt(sub, billedAt);
    const ingestPeriod = periodAt(sub, ingestedAt);
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(record.properties)) properties[k] = textOf(v);
    const event: Omit<StoredUsageEvent, 'invoicePeriodStart'> = {
      eventId: u.eventId,
      source: record.source,
      eventType: record.eventType,
      subscriptionId: sub.id,
      agentNhi: record.agentNhi,
      idempotencyKey: u.idempotencyKey,
      occurredAt: u.occurredAt,
      ingestedAt,
      billedAt,
      usagePeriodStart: usagePeriod.start,
      properties,
      ...(record.value === undefined ? {} : { value: record.value.toString() }),
    };
    const result = await store.commitEvent({
      idempotencyScope: u.scope,
      idempotencyExpiresAt: ingestedAt + INGEST_WINDOW_NS,
      event,
      ingestPeriod,
      graceExpired: ingestedAt >= usagePeriod.end + graceNs,
      bucketStart: billedAt - (billedAt % MINUTE_NS),
      measurements,
    });
    if (result.status === 'duplicate') {
      logger.warn('duplicate usage event ignored', {
        event_id: u.eventId,
        idempotency_key: u.idempotencyKey,
      });
      return { status: 'duplicate', eventId: u.eventId };
    }
    metrics.meteringEventsIngested.add(1, { event_type: record.eventType });
    for (const m of measurements) {
      if (m.aggregation !== 'sum' && m.aggregation !== 'count') continue;
      const crossings = book.add(sub.id, record.agentNhi, m.meterId, m.value, ingestPeriod);
      for (const crossing of crossings) onCrossing(crossing, sub, record.agentNhi, u.chain);
    }
    if (o.auditIngestedEvents === true && record.agentNhi !== undefined) {
      const agentNhi = record.agentNhi;
      const value = measurements[0]?.value ?? ONE;
      appendAudit(
        () =>
          AuditEvents.eventIngested(
            { eventId: u.eventId as Uuid, agentNhi, eventType: record.eventType, value },
            { timestamp: ingestedAt },
          ),
        'audit_event_ingested',
      );
    }
    return {
      status: 'accepted',
      eventId: u.eventId,
      subscriptionId: sub.id,
      kind: result.kind,
      usagePeriodStart: usagePeriod.start,
      invoicePeriodStart: result.invoicePeriodStart,
    };
  }

  async function ingestRuntime(input: unknown, plain = false): Promise<IngestResult> {
    let event: RuntimeUsageEvent | undefined;
    try {
      return await withSpan(SPAN_NAMES.meteringIngestEvent, {}, async (span) => {
        // The signing bytes are those of the canonical wire form, so the event is parsed first;
        // nothing in it is used before the signature verifies.
        const { event: decoded, signingBytes } = decodeEvent(input, plain);
        event = decoded;
        span.setAttribute(TRACE_ATTRIBUTES.meteringEventType, decoded.eventType);
        // 1. Verify the signature against the agent's NHI.
        if (verifySignatures) {
          try {
            await verify(decoded, signingBytes());
          } catch (error) {
            if (EnablementError.is(error) && error.code === 'MT-401') auditRejectedSignature(decoded, error);
            throw error;
          }
        }
        // 2. Deduplicate: scoped to the producing agent, so keys of two tenants never collide and
        //    a re-bound agent cannot replay its old events into another subscription.
        const scope = `runtime:${decoded.agentNhi}:${decoded.idempotencyKey}`;
        const ingestedAt = await consensus.getTimestamp();
        if (await store.isDuplicate(scope, ingestedAt)) {
          logger.warn('duplicate usage event ignored', { event_id: decoded.eventId });
          return { status: 'duplicate', eventId: decoded.eventId } as const;
        }
        // 3. Validate what the codec cannot: chain shape and age.
        const chain = decoded.delegationChain;
        if (chain.length > 0 && chain[chain.length - 1] !== decoded.agentNhi) {
          throw new EnablementError(
            'MT-400',
            'invalid RuntimeUsageEvent: delegation_chain: must end with agent_nhi',
          );
        }
        if (decoded.consensusTimestamp + INGEST_WINDOW_NS < ingestedAt) {
          // Older than the deduplication window: a replay could no longer be recognised.
          throw new EnablementError(
            'MT-400',
            'invalid RuntimeUsageEvent: consensus_timestamp: older than the 7-day deduplication window',
          );
        }
        // 4. Attribute to a subscription through the agent's NHI and delegation chain.
        const sub = await attribute(decoded.agentNhi, chain);
        span.setAttribute(TRACE_ATTRIBUTES.meteringSubscriptionId, sub.id);
        // 5–6. Store and aggregate, atomically with the deduplication key.
        return commitUsage({
          scope,
          sub,
          record: runtimeUsageRecord(decoded),
          eventId: decoded.eventId,
          idempotencyKey: decoded.idempotencyKey,
          occurredAt: decoded.consensusTimestamp,
          ingestedAt,
          chain,
        });
      });
    } catch (error) {
      const e = toEnablementError(error, 'metering store unavailable');
      if (e.code === 'MT-401' || e.code === 'MT-400') {
        logger.warn('usage event rejected', { code: e.code, event_id: event?.eventId, reason: e.message });
      }
      return { status: 'rejected', eventId: event?.eventId, error: e };
    }
  }

  async function recordUsage(input: HostUsageInput): Promise<IngestResult> {
    try {
      const u = parse(hostUsageSchema, input, 'host usage');
      const ingestedAt = await consensus.getTimestamp();
      const owner = u.subscriptionId ?? u.agentNhi ?? '';
      const scope = `host:${owner}:${u.idempotencyKey}`;
      if (await store.isDuplicate(scope, ingestedAt)) return { status: 'duplicate', eventId: undefined };
      const sub =
        u.subscriptionId !== undefined
          ? await requireSubscription(u.subscriptionId)
          : await attribute(u.agentNhi ?? '', []);
      const value = Decimal.from(u.value ?? ONE, 'value');
      if (value.isNegative())
        throw new EnablementError('MT-400', 'invalid host usage: value: must not be negative');
      const properties: Record<string, UsageValue> = {};
      for (const [k, v] of Object.entries(u.properties ?? {})) {
        properties[k] = typeof v === 'bigint' ? Decimal.from(v) : v;
      }
      const occurredAt = u.occurredAt ?? ingestedAt;
      if (occurredAt + INGEST_WINDOW_NS < ingestedAt) {
        throw new EnablementError(
          'MT-400',
          'invalid host usage: occurredAt: older than the 7-day deduplication window',
        );
      }
      return await commitUsage({
        scope,
        sub,
        record: {
          source: 'host',
          eventType: u.eventType,
          agentNhi: u.agentNhi,
          value,
          properties,
          derived: {},
        },
        eventId: newUuid(),
        idempotencyKey: u.idempotencyKey,
        occurredAt,
        ingestedAt,
        chain: [],
      });
    } catch (error) {
      return {
        status: 'rejected',
        eventId: undefined,
        error: toEnablementError(error, 'metering store unavailable'),
      };
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The bus consumer
  // ---------------------------------------------------------------------------------------------

  async function onMessage(message: EventMessage): Promise<void> {
    let json: unknown;
    try {
      json = decodeJson(message.data);
    } catch {
      message.term('MT-400: payload is not JSON');
      return;
    }
    const result = await ingestRuntime(json, true);
    if (result.status !== 'rejected') {
      message.ack();
      return;
    }
    const { error } = result;
    const reason = `${error.code}: ${error.message}`;
    if (error.code === 'MT-404' || error.retryable) {
      // Unknown agent (spec §4.1: retry 3×, then the dead-letter queue for manual review) or a
      // transient failure: the bus redelivers, and dead-letters after maxDeliver.
      message.nak(busOptions.retryDelayMs, reason);
    } else {
      message.term(reason);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Quotas
  // ---------------------------------------------------------------------------------------------

  function scheduleRoll(quotaId: string, sub: Subscription, periodEnd: bigint): void {
    if (closed) return;
    let entry = rollTimers.get(periodEnd);
    if (entry === undefined) {
      const quotas = new Map<string, Subscription>();
      let cancel: CancelTimer;
      try {
        cancel = scheduler.schedule(periodEnd, () => {
          rollTimers.delete(periodEnd);
          for (const [id, s] of quotas) {
            const next = periodAt(s, periodEnd);
            book.roll(id, next);
            if (book.status(id) !== undefined) scheduleRoll(id, s, next.end);
          }
        });
      } catch (error) {
        // A full or disposed scheduler: the quota still rolls over lazily on its next usage.
        logger.error('quota period timer not scheduled', { quota_id: quotaId, error });
        return;
      }
      entry = { cancel, quotas };
      rollTimers.set(periodEnd, entry);
    }
    entry.quotas.set(quotaId, sub);
  }

  async function loadQuota(quota: Quota, sub: Subscription): Promise<void> {
    const meter = meters.get(quota.meterId);
    if (meter === undefined) {
      logger.warn('quota names an unregistered meter; not enforced', {
        quota_id: quota.id,
        meter_id: quota.meterId,
      });
      return;
    }
    const period = periodAt(sub, clock.now());
    const rows = await store.periodAggregates({
      subscriptionId: sub.id,
      meterId: quota.meterId,
      ingestPeriodStart: period.start,
    });
    let usage = Decimal.ZERO;
    for (const row of rows) {
      if (quota.agentNhi !== undefined && row.agentNhi !== quota.agentNhi) continue;
      usage = usage.add(row.state.value);
    }
    book.upsert(quota, meter.eventType, sub.interval, period, usage);
    scheduleRoll(quota.id, sub, period.end);
  }

  function onCrossing(
    c: QuotaCrossing,
    sub: Subscription,
    agentNhi: string | undefined,
    chain: readonly string[],
  ): void {
    const { quota, period } = c;
    const key = `quota:${quota.id}:${period.start}:${quota.limit.toString()}:${c.exceeded ? 'exceeded' : c.threshold.toString()}`;
    const now = clock.now();
    background('quota_crossing', async () => {
      // Fire once per quota, period, limit and threshold, even across instances sharing a store.
      if (!(await store.markOnce(key, period.end + DAY_NS, now))) return;
      const meter = meters.get(quota.meterId);
      const eventType = meter?.eventType ?? quota.meterId;
      const subject = quota.agentNhi ?? agentNhi;
      if (c.exceeded) {
        const principal = subject ?? o.serviceNhi;
        if (audit !== undefined && principal !== undefined) {
          await audit.append(
            AuditEvents.quotaExceeded(
              {
                agentNhi: principal,
                eventType,
                limit: limitForAudit(quota.limit),
                overflowAction: quota.overflow,
              },
              { timestamp: now },
            ),
          );
        }
        if (quota.overflow !== 'allow_with_notification') return;
      }
      const percent = percentOf(c.exceeded ? ONE : c.threshold);
      const figures = `${c.usage.toString()}/${quota.limit.toString()}`;
      const periodText = `${formatUtcDate(period.start)} to ${formatUtcDate(period.end)}`;
      const body =
        `You've used ${c.exceeded ? 'more than 100' : percent}% of quota ${quota.id} ` +
        `(${quota.meterId}: ${figures}) for ${periodText}.`;
      if (oversight !== undefined && o.quotaOversight !== undefined && subject !== undefined) {
        const parameters: JsonValue = {
          quota_id: quota.id,
          subscription_id: sub.id,
          meter_id: quota.meterId,
          event_type: eventType,
          current_usage: c.usage.toString(),
          limit: quota.limit.toString(),
          threshold_percent: percent,
          period_start: period.start.toString(),
          period_end: period.end.toString(),
        };
        const request = oversight.createRequest({
          agentNhi: subject,
          delegationChain: [...chain],
          action: { name: QUOTA_BREACH_ACTION, parameters },
          resource: { resourceType: 'quota', resourceId: `${quota.id}/${period.start}/${percent}` },
          policyId: policyId(o.quotaOversight.policyId ?? QUOTA_NOTIFICATION_POLICY_ID),
          requirement: o.quotaOversight.requirement,
          actionDescription: `Quota ${quota.id} of subscription ${sub.id} reached ${percent}% (${figures}); approve to raise the limit`,
          riskFactors: [
            {
              name: 'quota_threshold',
              severity: c.exceeded || c.threshold.gte('0.95') ? 'high' : 'medium',
              description: body,
            },
          ],
          blocking: false,
        });
        background('quota_oversight_request', () => request);
      }
      if (notifier !== undefined && subject !== undefined) {
        await notifier.notify({
          id: newUuid(),
          kind: 'quota_warning',
          recipient: subject,
          subject: `Quota warning: ${percent}% of ${quota.meterId}`,
          body,
          data: {
            quota_id: quota.id,
            current_usage: c.usage.toString(),
            limit: quota.limit.toString(),
            threshold_percent: percent,
          },
        });
      }
    });
  }

  function checkQuotaSync(agent: string, eventType: string, amount?: number | Decimal): QuotaClientDecision {
    return book.check(agent, eventType, amount);
  }

  async function setQuotaRecord(quota: Quota, sub: Subscription): Promise<Quota> {
    await store.putQuota(quota);
    await loadQuota(quota, sub);
    return quota;
  }

  async function changeLimit(
    quotaId: string,
    newLimit: DecimalLike,
    approval?: QuotaApproval,
  ): Promise<Quota> {
    const quota = await store.getQuota(quotaId);
    if (quota === undefined) throw new EnablementError('MT-404', `quota ${quotaId} is unknown`);
    if (approval !== undefined && quota.lastIncrease?.requestId === approval.requestId) return quota;
    const limit = Decimal.from(parse(decimalLike, newLimit, 'quota increase'), 'newLimit');
    if (!limit.gt(quota.limit)) {
      throw new EnablementError('MT-409', `quota ${quotaId}: new limit ${limit} is not above ${quota.limit}`);
    }
    const sub = await requireSubscription(quota.subscriptionId);
    const now = await consensus.getTimestamp();
    const updated: Quota = Object.freeze({
      ...quota,
      limit,
      updatedAt: now,
      ...(approval === undefined
        ? {}
        : {
            lastIncrease: Object.freeze({
              approvedBy: approval.approvedBy,
              requestId: approval.requestId,
              previousLimit: quota.limit,
              newLimit: limit,
              appliedAt: now,
            }),
          }),
    });
    await setQuotaRecord(updated, sub);
    if (approval !== undefined) {
      const principal = isNhi(approval.approvedBy) ? approval.approvedBy : (quota.agentNhi ?? o.serviceNhi);
      if (principal !== undefined) {
        appendAudit(
          () =>
            createAuditEvent({
              product: 'metering',
              agentNhi: principal,
              action: 'quota.increase',
              resource: `metering:quota:${quota.id}`,
              outcome: 'success',
              timestamp: now,
              metadata: {
                quota_id: quota.id,
                previous_limit: quota.limit.toString(),
                new_limit: limit.toString(),
                approved_by: approval.approvedBy,
                request_id: approval.requestId,
              },
            }),
          'audit_quota_increase',
        );
      }
    }
    return updated;
  }

  // ---------------------------------------------------------------------------------------------
  // Invoices (spec §7.4)
  // ---------------------------------------------------------------------------------------------

  async function buildPeriodInvoice(
    sub: Subscription,
    period: BillingPeriod,
    issuedAt: bigint,
  ): Promise<Invoice> {
    const plan = await requirePlan(planIdAt(sub, period.start));
    const rows = await store.periodAggregates({ subscriptionId: sub.id, invoicePeriodStart: period.start });
    const regular = rows.filter((r) => r.usagePeriodStart === period.start);
    const base = buildInvoice({
      invoiceId: newUuid(),
      subscriptionId: sub.id,
      organizationId: sub.organizationId,
      plan,
      periodStart: period.start,
      periodEnd: period.end,
      issuedAt,
      usage: chargeUsages(plan, meters, regular),
    });
    const late = new Map<bigint, PeriodAggregateRow[]>();
    for (const row of rows) {
      if (row.usagePeriodStart === period.start) continue;
      const list = late.get(row.usagePeriodStart) ?? [];
      list.push(row);
      late.set(row.usagePeriodStart, list);
    }
    const lines: InvoiceLine[] = [];
    for (const usageStart of [...late.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      const usagePeriod = periodAt(sub, usageStart);
      const all = await store.periodAggregates({ subscriptionId: sub.id, usagePeriodStart: usageStart });
      lines.push(
        ...adjustmentLines({
          plan: await requirePlan(planIdAt(sub, usageStart)),
          meters,
          subscriptionId: sub.id,
          organizationId: sub.organizationId,
          usagePeriod,
          billedRows: all.filter((r) => r.invoicePeriodStart < period.start),
          lateRows: late.get(usageStart) ?? [],
          issuedAt,
        }),
      );
    }
    return withLines(base, lines);
  }

  async function deliverInvoice(sub: Subscription, invoice: Invoice): Promise<void> {
    metrics.meteringInvoicesGenerated.add(1, { currency: invoice.currency });
    const principal = sub.agents.find((a) => isNhi(a)) ?? o.serviceNhi;
    if (audit !== undefined && principal !== undefined) {
      appendAudit(
        () =>
          AuditEvents.invoiceGenerated(
            {
              agentNhi: principal,
              subscriptionId: sub.id,
              amount: invoice.total,
              currency: invoice.currency as never,
              period: { start: invoice.periodStart, end: invoice.periodEnd },
            },
            { timestamp: invoice.issuedAt },
          ),
        'audit_invoice_generated',
      );
    }
    if (notifier !== undefined) {
      background('invoice_notification', async () =>
        notifier.notify({
          id: invoice.invoiceId,
          kind: 'invoice',
          recipient: sub.billingContact,
          subject: `Invoice ${invoice.invoiceId} for ${formatUtcDate(invoice.periodStart)} to ${formatUtcDate(invoice.periodEnd)}`,
          body: formatInvoiceTable(invoice),
          data: encodeInvoice(invoice) as unknown as JsonValue,
        }),
      );
    }
  }

  async function advanceInvoicedThrough(subscriptionId: string): Promise<void> {
    let sub = await store.getSubscription(subscriptionId);
    if (sub === undefined) return;
    let through = sub.invoicedThrough;
    for (let i = 0; i < MAX_PERIODS_PER_RUN; i++) {
      if (sub.endsAt !== null && through >= sub.endsAt) break;
      if ((await store.getInvoice(sub.id, through)) === undefined) break;
      through = periodAt(sub, through).end;
    }
    if (through !== sub.invoicedThrough) {
      sub = Object.freeze({ ...sub, invoicedThrough: through });
      await store.updateSubscription(sub);
    }
  }

  async function generateInvoice(subscriptionId: string, periodStart?: bigint): Promise<Invoice> {
    return withSpan(
      SPAN_NAMES.meteringGenerateInvoice,
      { [TRACE_ATTRIBUTES.meteringSubscriptionId]: String(subscriptionId) },
      async () => {
        const sub = await requireSubscription(subscriptionId);
        const now = clock.now();
        let period: BillingPeriod;
        if (periodStart === undefined) {
          period = periodAt(sub, periodAt(sub, now).start - 1n);
        } else {
          parse(instant, periodStart, 'invoice request');
          period = periodAt(sub, periodStart);
          if (period.start !== periodStart) {
            throw new EnablementError(
              'MT-400',
              `invalid invoice request: periodStart: not a period start of ${sub.id}`,
            );
          }
        }
        if (period.end > now)
          throw new EnablementError('MT-409', `the period ${formatUtcDate(period.start)} has not ended`);
        if (period.start < sub.startsAt || (sub.endsAt !== null && period.start >= sub.endsAt)) {
          throw new EnablementError('MT-409', `subscription ${sub.id} was not active in that period`);
        }
        const existing = await store.getInvoice(sub.id, period.start);
        if (existing !== undefined) return existing;
        // Close first: from here on late usage of this period becomes an adjustment, so nothing
        // slips between reading the aggregates and storing the invoice.
        await store.closePeriod(sub.id, period.start);
        const issuedAt = await consensus.getTimestamp();
        const invoice = await buildPeriodInvoice(sub, period, issuedAt);
        const { invoice: stored, created } = await store.putInvoice(sub.id, period.start, invoice);
        if (created) {
          await advanceInvoicedThrough(sub.id);
          await deliverInvoice(sub, stored);
        }
        return stored;
      },
    );
  }

  async function generateInvoices(periodEnd?: bigint): Promise<GenerateInvoicesResult> {
    const now = clock.now();
    if (periodEnd !== undefined) parse(instant, periodEnd, 'invoice run');
    const until = periodEnd === undefined || periodEnd > now ? now : periodEnd;
    const invoices: Invoice[] = [];
    const failed: { subscriptionId: string; error: EnablementError }[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listSubscriptions({ ...(after === undefined ? {} : { after }), limit: 500 });
      if (page.length === 0) break;
      for (const sub of page) {
        let from = sub.startsAt;
        if (sub.invoicedThrough > from) from = sub.invoicedThrough;
        let period = periodAt(sub, from);
        for (let i = 0; i < MAX_PERIODS_PER_RUN && period.end <= until; i++) {
          if (sub.endsAt !== null && period.start >= sub.endsAt) break;
          try {
            invoices.push(await generateInvoice(sub.id, period.start));
          } catch (error) {
            const e = toEnablementError(error, 'invoice generation failed');
            logger.error('invoice generation failed', { subscription_id: sub.id, code: e.code });
            failed.push({ subscriptionId: sub.id, error: e });
            break;
          }
          period = periodAt(sub, period.end);
        }
      }
      after = page[page.length - 1]?.id;
    }
    return { invoices, failed };
  }

  // ---------------------------------------------------------------------------------------------
  // Usage queries
  // ---------------------------------------------------------------------------------------------

  async function queryUsage(query: UsageQuery): Promise<readonly UsageRow[]> {
    const q = parse(querySchema, query, 'usage query');
    const meter = meters.get(q.meterId);
    if (meter === undefined) throw new EnablementError('MT-404', `meter ${q.meterId} is unknown`);
    if (q.from >= q.to) throw new EnablementError('MT-400', 'invalid usage query: to: must be after from');
    const dims = [...new Set(q.groupBy ?? [])].sort();
    for (const d of dims) {
      if (meter.groupBy?.[d] === undefined) {
        throw new EnablementError(
          'MT-400',
          `invalid usage query: groupBy: meter ${meter.id} has no dimension ${d}`,
        );
      }
    }
    const width = q.window === undefined ? undefined : WINDOW_NS[q.window];
    if (width !== undefined && (q.to - q.from) / width > BigInt(MAX_QUERY_WINDOWS)) {
      throw new EnablementError(
        'MT-400',
        `invalid usage query: window: more than ${MAX_QUERY_WINDOWS} windows`,
      );
    }
    const rows = await store.bucketAggregates({
      subscriptionId: q.subscriptionId,
      meterId: q.meterId,
      from: q.from,
      to: q.to,
      ...(q.agentNhi === undefined ? {} : { agentNhi: q.agentNhi }),
    });
    const cells = new Map<
      string,
      { start: bigint; groups: Record<string, string>; acc: ReturnType<typeof newAccumulator> }
    >();
    for (const row of rows) {
      const start = width === undefined ? q.from : row.bucketStart - (row.bucketStart % width);
      const groups: Record<string, string> = {};
      for (const d of dims) groups[d] = row.groups[d] ?? '(none)';
      const key = `${start}\u0000${JSON.stringify(groups)}`;
      let cell = cells.get(key);
      if (cell === undefined) {
        cell = { start, groups, acc: newAccumulator(meter.aggregation) };
        cells.set(key, cell);
      }
      mergeInto(cell.acc, row.state);
    }
    return [...cells.values()]
      .sort((a, b) =>
        a.start !== b.start
          ? a.start < b.start
            ? -1
            : 1
          : JSON.stringify(a.groups) < JSON.stringify(b.groups)
            ? -1
            : 1,
      )
      .map((cell) => {
        const state = snapshot(cell.acc);
        return Object.freeze({
          windowStart: cell.start,
          windowEnd: width === undefined ? q.to : cell.start + width,
          groups: Object.freeze(cell.groups),
          value: state.value,
          events: state.events,
        });
      });
  }

  // ---------------------------------------------------------------------------------------------
  // The engine
  // ---------------------------------------------------------------------------------------------

  const metering: Metering = {
    async start() {
      if (closed) throw new EnablementError('MT-409', 'metering is closed');
      if (bus === undefined) throw new EnablementError('MT-409', 'metering has no event bus to consume from');
      if (busSubscription?.active === true) return;
      await metering.reload();
      if (busOptions.createStream) {
        await bus.addStream({ name: busOptions.stream, subjects: [...busOptions.streamSubjects] });
      }
      await bus.addConsumer(busOptions.stream, {
        name: busOptions.consumer,
        filterSubject: SUBJECTS.meteringEventsRuntime,
        ackWaitMs: busOptions.ackWaitMs,
        maxDeliver: busOptions.retries + 1,
      });
      busSubscription = await bus.subscribe(busOptions.stream, busOptions.consumer, onMessage);
    },

    async stop() {
      const sub = busSubscription;
      busSubscription = undefined;
      if (sub?.active === true) await sub.unsubscribe();
    },

    async close() {
      await metering.stop();
      closed = true;
      for (const { cancel } of rollTimers.values()) cancel();
      rollTimers.clear();
      if (ownScheduler) scheduler.dispose();
      await metering.flush();
    },

    async reload() {
      let after: string | undefined;
      for (;;) {
        const page = await store.listSubscriptions({ ...(after === undefined ? {} : { after }), limit: 500 });
        if (page.length === 0) break;
        for (const sub of page) {
          book.setAgents(sub.id, agentsOf(sub));
          for (const quota of await store.listQuotas(sub.id)) await loadQuota(quota, sub);
        }
        after = page[page.length - 1]?.id;
      }
    },

    async ingest(events) {
      if (!Array.isArray(events)) {
        throw new EnablementError('MT-400', 'ingest: expected an array of usage events');
      }
      const results: IngestResult[] = [];
      for (const event of events) results.push(await ingestRuntime(event));
      return results;
    },

    recordUsage,

    async flush() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },

    registerMeter: addMeter,

    meters() {
      return [...meters.values()];
    },

    async registerPlan(input) {
      const plan = validatePlan(input);
      plan.charges.forEach((charge, i) => {
        const meter = meters.get(charge.meterId);
        if (meter === undefined) {
          throw new EnablementError(
            'MT-400',
            `invalid plan: charges.${i}.meterId: meter ${charge.meterId} is not registered`,
          );
        }
        for (const d of charge.groupBy ?? []) {
          if (meter.groupBy?.[d] === undefined) {
            throw new EnablementError(
              'MT-400',
              `invalid plan: charges.${i}.groupBy: meter ${meter.id} has no dimension ${d}`,
            );
          }
        }
      });
      return store.putPlan(plan);
    },

    getPlan: requirePlan,

    async createSubscription(input: CreateSubscriptionInput) {
      const i = parse(subscriptionSchema, input, 'subscription');
      const plan = await requirePlan(i.planId);
      const now = await consensus.getTimestamp();
      const anchor = i.anchor ?? defaultAnchor(plan.interval, now);
      const first = periodContaining(anchor, plan.interval, now);
      const sub: Subscription = Object.freeze({
        id: (i.id ?? newUuid()) as Uuid,
        organizationId: i.organizationId,
        billingContact: i.billingContact,
        interval: plan.interval,
        anchor,
        startsAt: first.start,
        createdAt: now,
        phases: Object.freeze([Object.freeze({ planId: plan.id, from: first.start })]),
        agents: Object.freeze([...new Set(i.agents ?? [])]),
        status: 'active',
        endsAt: null,
        invoicedThrough: first.start,
      });
      await store.createSubscription(sub);
      book.setAgents(sub.id, agentsOf(sub));
      return sub;
    },

    getSubscription: requireSubscription,

    async changePlan(subscriptionId, planId) {
      const sub = await requireSubscription(subscriptionId);
      const plan = await requirePlan(planId);
      if (plan.interval !== sub.interval) {
        throw new EnablementError(
          'MT-409',
          `plan ${plan.id} bills per ${plan.interval}, the subscription per ${sub.interval}`,
        );
      }
      if (sub.status !== 'active') throw new EnablementError('MT-409', `subscription ${sub.id} is canceled`);
      const next = periodAt(sub, clock.now()).end;
      const kept = sub.phases.filter((p) => p.from < next);
      const phases =
        planIdAt(sub, next) === planId && kept.length === sub.phases.length
          ? kept
          : [...kept, { planId, from: next }];
      const updated: Subscription = Object.freeze({
        ...sub,
        phases: Object.freeze(phases.map((p) => Object.freeze(p))),
      });
      await store.updateSubscription(updated);
      return updated;
    },

    async cancelSubscription(subscriptionId) {
      const sub = await requireSubscription(subscriptionId);
      if (sub.status === 'canceled') return sub;
      const updated: Subscription = Object.freeze({
        ...sub,
        status: 'canceled',
        endsAt: periodAt(sub, clock.now()).end,
      });
      await store.updateSubscription(updated);
      return updated;
    },

    async deleteSubscription(subscriptionId) {
      if (typeof subscriptionId !== 'string') return false;
      const deleted = await store.deleteSubscription(subscriptionId);
      book.removeSubscription(subscriptionId);
      for (const agent of learnedBySub.get(subscriptionId) ?? []) learned.delete(agent);
      learnedBySub.delete(subscriptionId);
      for (const entry of rollTimers.values()) {
        for (const [id, s] of entry.quotas) if (s.id === subscriptionId) entry.quotas.delete(id);
      }
      return deleted;
    },

    async bindAgent(subscriptionId, agent) {
      parse(nhiSchema, agent, 'agent binding');
      const sub = await requireSubscription(subscriptionId);
      if (sub.agents.includes(agent)) return sub;
      if (sub.agents.length >= 1000)
        throw new EnablementError('MT-409', `subscription ${sub.id} has 1000 agents`);
      const updated: Subscription = Object.freeze({ ...sub, agents: Object.freeze([...sub.agents, agent]) });
      await store.updateSubscription(updated);
      book.setAgents(sub.id, agentsOf(updated));
      return updated;
    },

    async unbindAgent(subscriptionId, agent) {
      const sub = await requireSubscription(subscriptionId);
      if (!sub.agents.includes(agent)) return sub;
      const updated: Subscription = Object.freeze({
        ...sub,
        agents: Object.freeze(sub.agents.filter((a) => a !== agent)),
      });
      await store.updateSubscription(updated);
      book.setAgents(sub.id, agentsOf(updated));
      return updated;
    },

    async setQuota(input: QuotaInput) {
      const q = parse(quotaSchema, input, 'quota');
      const sub = await requireSubscription(q.subscriptionId);
      const meter = meters.get(q.meterId);
      if (meter === undefined) throw new EnablementError('MT-404', `meter ${q.meterId} is unknown`);
      if (meter.aggregation !== 'sum' && meter.aggregation !== 'count') {
        throw new EnablementError(
          'MT-400',
          `invalid quota: meterId: quotas count sum or count meters, ${meter.id} is ${meter.aggregation}`,
        );
      }
      const limit = Decimal.from(q.limit, 'limit');
      if (!limit.gt(Decimal.ZERO))
        throw new EnablementError('MT-400', 'invalid quota: limit: must be positive');
      const thresholds =
        q.thresholds === undefined
          ? q.overflow === 'allow_with_notification'
            ? DEFAULT_NOTIFY_THRESHOLDS
            : []
          : q.thresholds.map((t, i) => Decimal.from(t, `thresholds.${i}`));
      thresholds.forEach((t, i) => {
        const previous = thresholds[i - 1];
        if (!t.gt(Decimal.ZERO) || t.gt(ONE) || (previous !== undefined && !t.gt(previous))) {
          throw new EnablementError(
            'MT-400',
            `invalid quota: thresholds.${i}: fractions ascending in (0, 1]`,
          );
        }
      });
      const quota: Quota = Object.freeze({
        id: q.id ?? newUuid(),
        subscriptionId: sub.id,
        ...(q.agentNhi === undefined ? {} : { agentNhi: q.agentNhi }),
        meterId: meter.id,
        limit,
        overflow: q.overflow,
        thresholds: Object.freeze([...thresholds]),
        updatedAt: await consensus.getTimestamp(),
      });
      const existing = await store.getQuota(quota.id);
      if (existing !== undefined && existing.subscriptionId !== quota.subscriptionId) {
        throw new EnablementError('MT-409', `quota ${quota.id} belongs to another subscription`);
      }
      return setQuotaRecord(quota, sub);
    },

    raiseQuota: (quotaId, newLimit) => changeLimit(quotaId, newLimit),

    async applyQuotaIncrease(quotaId, newLimit, approval) {
      parse(z.strictObject({ approvedBy: label(1024), requestId: label(256) }), approval, 'quota approval');
      return changeLimit(quotaId, newLimit, approval);
    },

    async removeQuota(quotaId) {
      book.remove(quotaId);
      return store.deleteQuota(quotaId);
    },

    async quotaStatus(quotaId): Promise<QuotaStatus> {
      const live = book.status(quotaId);
      if (live === undefined) throw new EnablementError('MT-404', `quota ${quotaId} is unknown`);
      const ratio = live.usage.divide(live.quota.limit, 4, 'floor').mul(HUNDRED).round(0, 'floor');
      return Object.freeze({
        quota: live.quota,
        periodStart: live.period.start,
        periodEnd: live.period.end,
        usage: live.usage,
        percent: Number(ratio.coefficient),
      });
    },

    checkQuotaSync,

    async checkQuota(query: QuotaQuery) {
      return withSpan(
        SPAN_NAMES.meteringCheckQuota,
        { [TRACE_ATTRIBUTES.meteringEventType]: String(query?.eventType) },
        () => {
          if (
            typeof query !== 'object' ||
            query === null ||
            typeof query.agent !== 'string' ||
            typeof query.eventType !== 'string'
          ) {
            throw new EnablementError(
              'MT-400',
              'invalid quota query: expected { agent, eventType, amount? }',
            );
          }
          if (query.amount !== undefined && !Decimal.isDecimal(query.amount)) {
            throw new EnablementError('MT-400', 'invalid quota query: amount: expected a Decimal');
          }
          return checkQuotaSync(query.agent, query.eventType, query.amount);
        },
      );
    },

    queryUsage,
    generateInvoice,
    generateInvoices,

    async listInvoices(subscriptionId) {
      return store.listInvoices(subscriptionId);
    },
  };
  return Object.freeze(metering);
}
