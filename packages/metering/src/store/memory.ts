import { EnablementError, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { Invoice } from '../invoice/index.js';
import type { Measurement } from '../meters/types.js';
import type { Plan } from '../plans/types.js';
import type { Quota } from '../quota/types.js';
import type { Subscription } from '../subscriptions/types.js';
import { type Accumulator, accumulate, newAccumulator, snapshot } from './aggregate.js';
import type {
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
} from './types.js';

const DAY_MS = 86_400_000;
const NS_PER_MS = 1_000_000n;

/**
 * Defaults of {@link MemoryMeteringStoreOptions}. At 1 000 000 deduplication keys (about 150 bytes
 * each) the store holds roughly 150 MB of keys; raw events take about 1 KB each.
 */
export const MEMORY_STORE_DEFAULTS = Object.freeze({
  maxEvents: 100_000,
  eventRetentionMs: 7 * DAY_MS,
  maxIdempotencyKeys: 1_000_000,
  maxBuckets: 1_000_000,
  bucketRetentionMs: 35 * DAY_MS,
  maxPeriodRows: 1_000_000,
  maxSubscriptions: 100_000,
  maxPlans: 10_000,
  maxQuotas: 100_000,
  maxMarks: 1_000_000,
  maxInvoices: 1_000_000,
});

/**
 * Options of {@link createMemoryMeteringStore}: every collection is bounded. What happens at a
 * bound depends on what the data is for:
 * - raw events (`maxEvents`, `eventRetentionMs`) and minute buckets (`maxBuckets`,
 *   `bucketRetentionMs`) are conveniences for inspection and windowed queries: the oldest are
 *   dropped;
 * - deduplication keys, per-period aggregates, invoices, subscriptions, plans, quotas and
 *   markers carry money or correctness: at the bound new writes are refused with `MT-503`
 *   (retryable) and nothing already stored is lost.
 */
export interface MemoryMeteringStoreOptions {
  /** Raw events kept (oldest dropped first). */
  readonly maxEvents?: number;
  /** Raw events older than this (by ingestion) are dropped. */
  readonly eventRetentionMs?: number;
  /** Deduplication keys held (expired ones are dropped first; then `MT-503`). */
  readonly maxIdempotencyKeys?: number;
  /** Minute buckets kept (oldest dropped first). */
  readonly maxBuckets?: number;
  /** Minute buckets older than this are dropped. */
  readonly bucketRetentionMs?: number;
  /** Per-period aggregate rows (then `MT-503`). */
  readonly maxPeriodRows?: number;
  /** Subscriptions (then `MT-503`). */
  readonly maxSubscriptions?: number;
  /** Plans (then `MT-503`). */
  readonly maxPlans?: number;
  /** Quotas (then `MT-503`). */
  readonly maxQuotas?: number;
  /** Fire-once markers (expired ones dropped first; then `MT-503`). */
  readonly maxMarks?: number;
  /** Invoices (then `MT-503`). */
  readonly maxInvoices?: number;
}

const positive = z.number().int().min(1).max(100_000_000).optional();
const optionsSchema = z.strictObject({
  maxEvents: positive,
  eventRetentionMs: z
    .number()
    .int()
    .min(0)
    .max(3650 * DAY_MS)
    .optional(),
  maxIdempotencyKeys: positive,
  maxBuckets: positive,
  bucketRetentionMs: z
    .number()
    .int()
    .min(0)
    .max(3650 * DAY_MS)
    .optional(),
  maxPeriodRows: positive,
  maxSubscriptions: positive,
  maxPlans: positive,
  maxQuotas: positive,
  maxMarks: positive,
  maxInvoices: positive,
});

interface PeriodRowInternal extends PeriodAggregateKey {
  readonly groups: Readonly<Record<string, string>>;
  readonly acc: Accumulator;
}

interface BucketRowInternal {
  readonly subscriptionId: string;
  readonly meterId: string;
  readonly agentNhi: string;
  readonly groupKey: string;
  readonly groups: Readonly<Record<string, string>>;
  readonly bucketStart: bigint;
  readonly acc: Accumulator;
  readonly indexKey: string;
}

const SEP = '\u0000';

function full(what: string, bound: number): EnablementError {
  return new EnablementError('MT-503', `metering store: ${what} bound (${bound}) reached`, {
    retryable: true,
  });
}

function periodKey(sub: string, start: bigint): string {
  return `${sub}${SEP}${start}`;
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * The in-memory {@link MeteringStore}: every method runs synchronously inside its promise, so each
 * is atomic with respect to the others (one JavaScript thread). Bounded as described in
 * {@link MemoryMeteringStoreOptions}.
 *
 * @example
 * ```ts
 * const metering = createMetering({ nhi: platform.nhi, store: createMemoryMeteringStore({ maxEvents: 10_000 }) });
 * ```
 */
export function createMemoryMeteringStore(options: MemoryMeteringStoreOptions = {}): MeteringStore {
  const o = {
    ...MEMORY_STORE_DEFAULTS,
    ...parseOptions(optionsSchema, options, 'createMemoryMeteringStore'),
  };
  const eventRetentionNs = BigInt(o.eventRetentionMs) * NS_PER_MS;
  const bucketRetentionNs = BigInt(o.bucketRetentionMs) * NS_PER_MS;

  const idempotency = new Map<string, bigint>();
  const events = new Map<string, StoredUsageEvent>(); // scope → event, insertion (ingest) order
  const eventsBySub = new Map<string, Set<string>>();
  const periodRows = new Map<string, Map<string, PeriodRowInternal>>(); // sub → key → row
  let periodRowCount = 0;
  const buckets = new Map<string, Map<string, BucketRowInternal>>(); // sub|meter → key → row
  const bucketOrder = new Map<string, BucketRowInternal>(); // key → row, insertion order
  const plans = new Map<string, Plan>();
  const subscriptions = new Map<string, Subscription>();
  let sortedIds: string[] | undefined;
  const agents = new Map<string, string>(); // nhi → subscription id
  const quotas = new Map<string, Quota>();
  const marks = new Map<string, bigint>();
  const closed = new Set<string>();
  const invoices = new Map<string, Map<bigint, Invoice>>(); // sub → period start → invoice
  let invoiceCount = 0;

  const pruneIdempotency = (now: bigint): void => {
    // Keys are inserted in ingestion order with one window, so expiry order follows.
    for (const [scope, expiresAt] of idempotency) {
      if (expiresAt > now) break;
      idempotency.delete(scope);
    }
  };

  const dropEvent = (scope: string, event: StoredUsageEvent): void => {
    events.delete(scope);
    const set = eventsBySub.get(event.subscriptionId);
    set?.delete(scope);
    if (set?.size === 0) eventsBySub.delete(event.subscriptionId);
  };

  const pruneEvents = (now: bigint): void => {
    for (const [scope, event] of events) {
      if (events.size <= o.maxEvents && event.ingestedAt + eventRetentionNs > now) break;
      dropEvent(scope, event);
    }
  };

  const dropBucket = (key: string, row: BucketRowInternal): void => {
    bucketOrder.delete(key);
    const index = buckets.get(row.indexKey);
    index?.delete(key);
    if (index?.size === 0) buckets.delete(row.indexKey);
  };

  const pruneBuckets = (now: bigint): void => {
    for (const [key, row] of bucketOrder) {
      if (bucketOrder.size <= o.maxBuckets && row.bucketStart + bucketRetentionNs > now) break;
      dropBucket(key, row);
    }
  };

  const rowKey = (k: PeriodAggregateKey): string =>
    [k.meterId, k.agentNhi, k.groupKey, k.usagePeriodStart, k.invoicePeriodStart, k.ingestPeriodStart].join(
      SEP,
    );

  const bindAgents = (subscription: Subscription, previous: Subscription | undefined): void => {
    for (const nhi of subscription.agents) {
      const owner = agents.get(nhi);
      if (owner !== undefined && owner !== subscription.id) {
        throw new EnablementError('MT-409', `agent ${nhi} is already bound to subscription ${owner}`);
      }
    }
    for (const nhi of previous?.agents ?? []) {
      if (agents.get(nhi) === subscription.id) agents.delete(nhi);
    }
    for (const nhi of subscription.agents) agents.set(nhi, subscription.id);
  };

  const store: MeteringStore = {
    async isDuplicate(scope, now) {
      const expiresAt = idempotency.get(scope);
      return expiresAt !== undefined && expiresAt > now;
    },

    async commitEvent(commit: EventCommit): Promise<CommitResult> {
      const { event } = commit;
      const now = event.ingestedAt;
      pruneIdempotency(now);
      const seen = idempotency.get(commit.idempotencyScope);
      if (seen !== undefined && seen > now) return { status: 'duplicate' };
      if (idempotency.size >= o.maxIdempotencyKeys) throw full('deduplication keys', o.maxIdempotencyKeys);
      if (!subscriptions.has(event.subscriptionId)) {
        throw new EnablementError('MT-404', `subscription ${event.subscriptionId} is unknown`);
      }

      // Regular or adjustment, decided under the same "lock" as closePeriod (see the port doc).
      const sub = event.subscriptionId;
      const usage = event.usagePeriodStart;
      const ingest = commit.ingestPeriod;
      const usageClosed = closed.has(periodKey(sub, usage));
      let invoicePeriodStart: bigint;
      if (usage === ingest.start) {
        invoicePeriodStart = usageClosed ? ingest.end : usage;
      } else if (!commit.graceExpired && !usageClosed) {
        invoicePeriodStart = usage;
      } else {
        invoicePeriodStart = closed.has(periodKey(sub, ingest.start)) ? ingest.end : ingest.start;
      }

      // Check the bound before changing anything, so a refused commit leaves no trace.
      const rows = periodRows.get(sub);
      const keys = commit.measurements.map((m) =>
        rowKey({
          subscriptionId: sub,
          meterId: m.meterId,
          agentNhi: event.agentNhi ?? '',
          groupKey: m.groupKey,
          usagePeriodStart: usage,
          invoicePeriodStart,
          ingestPeriodStart: ingest.start,
        }),
      );
      const fresh = new Set(keys.filter((k) => rows?.get(k) === undefined)).size;
      if (periodRowCount + fresh > o.maxPeriodRows) throw full('per-period aggregates', o.maxPeriodRows);

      idempotency.set(commit.idempotencyScope, commit.idempotencyExpiresAt);
      const stored: StoredUsageEvent = Object.freeze({ ...event, invoicePeriodStart });
      events.set(commit.idempotencyScope, stored);
      getOrCreate(eventsBySub, sub, () => new Set()).add(commit.idempotencyScope);
      pruneEvents(now);

      const subRows = getOrCreate(periodRows, sub, () => new Map<string, PeriodRowInternal>());
      commit.measurements.forEach((m: Measurement, i) => {
        const key = keys[i] as string;
        let row = subRows.get(key);
        if (row === undefined) {
          row = {
            subscriptionId: sub,
            meterId: m.meterId,
            agentNhi: event.agentNhi ?? '',
            groupKey: m.groupKey,
            groups: m.groups,
            usagePeriodStart: usage,
            invoicePeriodStart,
            ingestPeriodStart: ingest.start,
            acc: newAccumulator(m.aggregation),
          };
          subRows.set(key, row);
          periodRowCount++;
        }
        accumulate(row.acc, m, event.billedAt);

        const indexKey = `${sub}${SEP}${m.meterId}`;
        const bucketKey = [indexKey, event.agentNhi ?? '', m.groupKey, commit.bucketStart].join(SEP);
        let bucket = bucketOrder.get(bucketKey);
        if (bucket === undefined) {
          bucket = {
            subscriptionId: sub,
            meterId: m.meterId,
            agentNhi: event.agentNhi ?? '',
            groupKey: m.groupKey,
            groups: m.groups,
            bucketStart: commit.bucketStart,
            acc: newAccumulator(m.aggregation),
            indexKey,
          };
          bucketOrder.set(bucketKey, bucket);
          getOrCreate(buckets, indexKey, () => new Map()).set(bucketKey, bucket);
        }
        accumulate(bucket.acc, m, event.billedAt);
      });
      pruneBuckets(now);
      return {
        status: 'stored',
        kind: invoicePeriodStart === usage ? 'regular' : 'adjustment',
        invoicePeriodStart,
      };
    },

    async listEvents(query: EventQuery) {
      const limit = Math.min(Math.max(1, Math.trunc(query.limit ?? 1000)), 1000);
      const out: StoredUsageEvent[] = [];
      for (const scope of eventsBySub.get(query.subscriptionId) ?? []) {
        const event = events.get(scope);
        if (event === undefined) continue;
        if (query.from !== undefined && event.billedAt < query.from) continue;
        if (query.to !== undefined && event.billedAt >= query.to) continue;
        out.push(event);
        if (out.length >= limit) break;
      }
      return out;
    },

    async periodAggregates(query: PeriodAggregateQuery) {
      const out: PeriodAggregateRow[] = [];
      for (const row of periodRows.get(query.subscriptionId)?.values() ?? []) {
        if (query.meterId !== undefined && row.meterId !== query.meterId) continue;
        if (query.usagePeriodStart !== undefined && row.usagePeriodStart !== query.usagePeriodStart) continue;
        if (query.invoicePeriodStart !== undefined && row.invoicePeriodStart !== query.invoicePeriodStart)
          continue;
        if (query.ingestPeriodStart !== undefined && row.ingestPeriodStart !== query.ingestPeriodStart)
          continue;
        const { acc, ...key } = row;
        out.push(Object.freeze({ ...key, state: snapshot(acc) }));
      }
      return out;
    },

    async bucketAggregates(query: BucketAggregateQuery) {
      const out: BucketAggregateRow[] = [];
      for (const row of buckets.get(`${query.subscriptionId}${SEP}${query.meterId}`)?.values() ?? []) {
        if (row.bucketStart < query.from || row.bucketStart >= query.to) continue;
        if (query.agentNhi !== undefined && row.agentNhi !== query.agentNhi) continue;
        out.push(
          Object.freeze({
            subscriptionId: row.subscriptionId,
            meterId: row.meterId,
            agentNhi: row.agentNhi,
            groupKey: row.groupKey,
            groups: row.groups,
            bucketStart: row.bucketStart,
            state: snapshot(row.acc),
          }),
        );
      }
      return out;
    },

    async putPlan(plan) {
      const existing = plans.get(plan.id);
      if (existing !== undefined) {
        if (JSON.stringify(existing) !== JSON.stringify(plan)) {
          throw new EnablementError('MT-409', `plan ${plan.id} already exists with different content`);
        }
        return existing;
      }
      if (plans.size >= o.maxPlans) throw full('plans', o.maxPlans);
      plans.set(plan.id, plan);
      return plan;
    },
    async getPlan(id) {
      return plans.get(id);
    },
    async listPlans() {
      return [...plans.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    async createSubscription(subscription) {
      if (subscriptions.has(subscription.id)) {
        throw new EnablementError('MT-409', `subscription ${subscription.id} already exists`);
      }
      if (subscriptions.size >= o.maxSubscriptions) throw full('subscriptions', o.maxSubscriptions);
      bindAgents(subscription, undefined);
      subscriptions.set(subscription.id, subscription);
      sortedIds = undefined;
    },
    async updateSubscription(subscription) {
      const previous = subscriptions.get(subscription.id);
      if (previous === undefined) {
        throw new EnablementError('MT-404', `subscription ${subscription.id} is unknown`);
      }
      bindAgents(subscription, previous);
      subscriptions.set(subscription.id, subscription);
    },
    async getSubscription(id) {
      return subscriptions.get(id);
    },
    async listSubscriptions(page) {
      sortedIds ??= [...subscriptions.keys()].sort();
      const ids = sortedIds;
      let lo = 0;
      if (page.after !== undefined) {
        const after = page.after;
        let hi = ids.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if ((ids[mid] as string) <= after) lo = mid + 1;
          else hi = mid;
        }
      }
      const limit = Math.max(1, Math.trunc(page.limit));
      const out: Subscription[] = [];
      for (let i = lo; i < ids.length && out.length < limit; i++) {
        const sub = subscriptions.get(ids[i] as string);
        if (sub !== undefined) out.push(sub);
      }
      return out;
    },
    async deleteSubscription(id) {
      const subscription = subscriptions.get(id);
      if (subscription === undefined) return false;
      subscriptions.delete(id);
      sortedIds = undefined;
      for (const nhi of subscription.agents) if (agents.get(nhi) === id) agents.delete(nhi);
      for (const [quotaId, quota] of quotas) if (quota.subscriptionId === id) quotas.delete(quotaId);
      periodRowCount -= periodRows.get(id)?.size ?? 0;
      periodRows.delete(id);
      for (const [key, row] of bucketOrder) if (row.subscriptionId === id) dropBucket(key, row);
      for (const scope of [...(eventsBySub.get(id) ?? [])]) {
        const event = events.get(scope);
        if (event !== undefined) dropEvent(scope, event);
      }
      invoiceCount -= invoices.get(id)?.size ?? 0;
      invoices.delete(id);
      for (const key of closed) if (key.startsWith(`${id}${SEP}`)) closed.delete(key);
      return true;
    },
    async subscriptionOfAgent(nhi) {
      return agents.get(nhi);
    },

    async putQuota(quota) {
      if (!subscriptions.has(quota.subscriptionId)) {
        throw new EnablementError('MT-404', `subscription ${quota.subscriptionId} is unknown`);
      }
      if (!quotas.has(quota.id) && quotas.size >= o.maxQuotas) throw full('quotas', o.maxQuotas);
      quotas.set(quota.id, quota);
    },
    async getQuota(id) {
      return quotas.get(id);
    },
    async listQuotas(subscriptionId) {
      const all = [...quotas.values()];
      return subscriptionId === undefined ? all : all.filter((q) => q.subscriptionId === subscriptionId);
    },
    async deleteQuota(id) {
      return quotas.delete(id);
    },
    async markOnce(key, expiresAt, now) {
      const existing = marks.get(key);
      if (existing !== undefined && existing > now) return false;
      if (existing === undefined && marks.size >= o.maxMarks) {
        for (const [k, e] of marks) if (e <= now) marks.delete(k);
        if (marks.size >= o.maxMarks) throw full('markers', o.maxMarks);
      }
      marks.set(key, expiresAt);
      return true;
    },

    async closePeriod(subscriptionId, periodStart) {
      closed.add(periodKey(subscriptionId, periodStart));
    },
    async putInvoice(subscriptionId, periodStart, invoice): Promise<PutInvoiceResult> {
      const existing = invoices.get(subscriptionId)?.get(periodStart);
      if (existing !== undefined) return { invoice: existing, created: false };
      if (!subscriptions.has(subscriptionId)) {
        throw new EnablementError('MT-404', `subscription ${subscriptionId} is unknown`);
      }
      if (invoiceCount >= o.maxInvoices) throw full('invoices', o.maxInvoices);
      getOrCreate(invoices, subscriptionId, () => new Map()).set(periodStart, invoice);
      closed.add(periodKey(subscriptionId, periodStart));
      invoiceCount++;
      return { invoice, created: true };
    },
    async getInvoice(subscriptionId, periodStart) {
      return invoices.get(subscriptionId)?.get(periodStart);
    },
    async listInvoices(subscriptionId) {
      const map = invoices.get(subscriptionId);
      if (map === undefined) return [];
      return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, inv]) => inv);
    },
  };
  return Object.freeze(store);
}
