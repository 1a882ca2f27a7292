import { Decimal, EnablementError, type EnablementMetrics, type QuotaClientDecision } from '@creto/core';
import type { BillingInterval } from '../plans/types.js';
import type { BillingPeriod } from '../subscriptions/periods.js';
import type { Quota } from './types.js';

/** One threshold (or the limit) crossed by an ingested event. */
export interface QuotaCrossing {
  /** The quota. */
  readonly quota: Quota;
  /** Its period. */
  readonly period: BillingPeriod;
  /** The threshold fraction crossed (`1` for the limit itself). */
  readonly threshold: Decimal;
  /** Usage after the event. */
  readonly usage: Decimal;
  /** True when this crossing is the limit being exceeded (usage above the limit). */
  readonly exceeded: boolean;
}

const NS_PER_MS = 1_000_000n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const ONE = Decimal.from(1n);

/** The `result` label values of `metering_quota_checks_total` (spec §10.2). */
export const QUOTA_CHECK_RESULTS = Object.freeze({
  allow: 'allowed',
  allow_with_notification: 'allowed_with_notification',
  block: 'blocked',
} as const);

// Label objects built once: recording a check allocates nothing on our side.
const LABELS = Object.freeze({
  allow: Object.freeze({ result: QUOTA_CHECK_RESULTS.allow }),
  allow_with_notification: Object.freeze({ result: QUOTA_CHECK_RESULTS.allow_with_notification }),
  block: Object.freeze({ result: QUOTA_CHECK_RESULTS.block }),
});

const NO_QUOTA: QuotaClientDecision = Object.freeze({ decision: 'allow', reason: 'no quota applies' });

function toSafeNumber(integer: Decimal): number {
  const c = integer.coefficient;
  if (c > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (c < -MAX_SAFE) return -Number.MAX_SAFE_INTEGER;
  return Number(c);
}

/** The live state of one quota in its current period, with everything a check needs precomputed. */
class QuotaState {
  quota: Quota;
  readonly eventType: string;
  readonly interval: BillingInterval;
  period: BillingPeriod;
  usage: Decimal;
  levels: Decimal[] = [];
  /** usage ≥ limit. */
  exhausted = false;
  /** The largest integer amount that still fits under the limit (−1 when none does). */
  allowUpTo = 0;
  /** usage ≥ the first threshold level. */
  notifyNow = false;
  /** The smallest integer amount that reaches the first threshold level (∞ when none applies). */
  notifyFrom = Number.POSITIVE_INFINITY;
  allowDecision: QuotaClientDecision = NO_QUOTA;
  notifyDecision: QuotaClientDecision = NO_QUOTA;

  constructor(
    quota: Quota,
    eventType: string,
    interval: BillingInterval,
    period: BillingPeriod,
    usage: Decimal,
  ) {
    this.quota = quota;
    this.eventType = eventType;
    this.interval = interval;
    this.period = period;
    this.usage = usage;
    this.refresh();
  }

  /** Recomputes the precomputed fields (the slow path: after each change of usage or limit). */
  refresh(): void {
    const { limit, overflow, thresholds } = this.quota;
    const headroom = limit.sub(this.usage);
    this.exhausted = headroom.sign() <= 0;
    this.allowUpTo = headroom.isNegative() ? -1 : toSafeNumber(headroom.round(0, 'floor'));
    this.levels = thresholds.map((t) => limit.mul(t));
    const first = this.levels[0];
    if (overflow === 'allow' || first === undefined) {
      this.notifyNow = false;
      this.notifyFrom = Number.POSITIVE_INFINITY;
    } else {
      const gap = first.sub(this.usage);
      this.notifyNow = gap.sign() <= 0;
      this.notifyFrom = this.notifyNow ? 0 : toSafeNumber(gap.round(0, 'ceiling'));
    }
    const figures = `${this.usage.toString()}/${limit.toString()}`;
    this.allowDecision = Object.freeze({
      decision: 'allow',
      usage: this.usage,
      limit,
      reason: `within quota ${this.quota.id} (${figures})`,
    });
    this.notifyDecision = Object.freeze({
      decision: 'allow_with_notification',
      usage: this.usage,
      limit,
      reason: `quota ${this.quota.id} notification threshold reached (${figures})`,
    });
  }
}

/**
 * The quota book: every quota's live state, indexed by agent and event type, so that
 * {@link QuotaBook.check} is a few map lookups and comparisons of precomputed numbers with no
 * allocation and no promise (spec §7.3 inline path). Usage changes (the slow path) recompute the
 * precomputed fields.
 */
export interface QuotaBook {
  /**
   * The decision for `agent` using `amount` more of `eventType` (see `Metering.checkQuotaSync`).
   * Allocates only to build a `block` decision's `MT-429` error.
   */
  check(agent: string, eventType: string, amount?: number | Decimal): QuotaClientDecision;
  /** Adds or replaces a quota's state (usage so far in `period`). */
  upsert(
    quota: Quota,
    eventType: string,
    interval: BillingInterval,
    period: BillingPeriod,
    usage: Decimal,
  ): void;
  /** Removes a quota's state. */
  remove(quotaId: string): void;
  /** Declares the agents of a subscription (subscription-wide quotas apply to each). */
  setAgents(subscriptionId: string, agents: Iterable<string>): void;
  /** Forgets a subscription (its quotas and agents). */
  removeSubscription(subscriptionId: string): void;
  /**
   * Adds usage ingested in `period` and returns the thresholds it crossed. A state still in an
   * earlier period is rolled over first; usage ingested in an earlier period than a state's is
   * not counted.
   */
  add(
    subscriptionId: string,
    agentNhi: string | undefined,
    meterId: string,
    value: Decimal,
    period: BillingPeriod,
  ): QuotaCrossing[];
  /** Starts a new period for a quota (usage zero) unless it is already there. */
  roll(quotaId: string, period: BillingPeriod): void;
  /** The live state of a quota: period and usage. */
  status(
    quotaId: string,
  ): { readonly quota: Quota; readonly period: BillingPeriod; readonly usage: Decimal } | undefined;
}

/** Options of {@link createQuotaBook}. */
export interface QuotaBookOptions {
  /** Current time (for `retryAfterMs` of a block). */
  readonly now: () => bigint;
  /** Where `metering_quota_checks_total` is counted. */
  readonly metrics: Pick<EnablementMetrics, 'meteringQuotaChecks'>;
}

/** Builds an empty {@link QuotaBook}. */
export function createQuotaBook(options: QuotaBookOptions): QuotaBook {
  const { now, metrics } = options;
  const counter = metrics.meteringQuotaChecks;
  const states = new Map<string, QuotaState>();
  const bySubMeter = new Map<string, QuotaState[]>();
  const agentsOf = new Map<string, Set<string>>();
  const index = new Map<string, Map<string, QuotaState[]>>();
  const indexedAgents = new Map<string, Set<string>>(); // subscription → agents with index entries

  const subMeterKey = (sub: string, meter: string) => `${sub}\u0000${meter}`;

  function reindex(subscriptionId: string): void {
    for (const agent of indexedAgents.get(subscriptionId) ?? []) {
      const byType = index.get(agent);
      if (byType === undefined) continue;
      for (const [type, list] of byType) {
        const kept = list.filter((s) => s.quota.subscriptionId !== subscriptionId);
        if (kept.length === 0) byType.delete(type);
        else byType.set(type, kept);
      }
      if (byType.size === 0) index.delete(agent);
    }
    const mine = [...states.values()].filter((s) => s.quota.subscriptionId === subscriptionId);
    const agents = new Set(agentsOf.get(subscriptionId) ?? []);
    for (const s of mine) if (s.quota.agentNhi !== undefined) agents.add(s.quota.agentNhi);
    for (const agent of agents) {
      for (const s of mine) {
        if (s.quota.agentNhi !== undefined && s.quota.agentNhi !== agent) continue;
        let byType = index.get(agent);
        if (byType === undefined) {
          byType = new Map();
          index.set(agent, byType);
        }
        byType.set(s.eventType, [...(byType.get(s.eventType) ?? []), s]);
      }
    }
    indexedAgents.set(subscriptionId, agents);
  }

  function rebuildSubMeter(quota: Quota): void {
    const key = subMeterKey(quota.subscriptionId, quota.meterId);
    const list = [...states.values()].filter(
      (s) => s.quota.subscriptionId === quota.subscriptionId && s.quota.meterId === quota.meterId,
    );
    if (list.length === 0) bySubMeter.delete(key);
    else bySubMeter.set(key, list);
  }

  function block(s: QuotaState): QuotaClientDecision {
    const remainingNs = s.period.end - now();
    const retryAfterMs = remainingNs > 0n ? Number(remainingNs / NS_PER_MS) : 0;
    const word = s.interval === 'month' ? 'Monthly' : 'Daily';
    const figures = `${s.usage.toString()}/${s.quota.limit.toString()}`;
    const error = new EnablementError('MT-429', `${word} ${s.quota.meterId} quota exceeded (${figures})`, {
      retryAfterMs,
    });
    return Object.freeze({
      decision: 'block',
      usage: s.usage,
      limit: s.quota.limit,
      reason: `quota ${s.quota.id} exceeded (${figures})`,
      error,
    });
  }

  function crosses(s: QuotaState, amount: Decimal): { over: boolean; warn: boolean } {
    const after = s.usage.add(amount);
    const first = s.levels[0];
    return {
      over: after.gt(s.quota.limit),
      warn: s.quota.overflow !== 'allow' && first !== undefined && after.gte(first),
    };
  }

  const book: QuotaBook = {
    check(agent: string, eventType: string, amount?: number | Decimal): QuotaClientDecision {
      if (
        amount !== undefined &&
        typeof amount === 'number' &&
        !(Number.isSafeInteger(amount) && amount >= 0)
      ) {
        throw new EnablementError(
          'MT-400',
          'amount: expected a non-negative safe integer (pass a Decimal for fractional amounts)',
        );
      }
      const list = index.get(agent)?.get(eventType);
      if (list === undefined) {
        counter.add(1, LABELS.allow);
        return NO_QUOTA;
      }
      let notify: QuotaState | undefined;
      for (let i = 0; i < list.length; i++) {
        const s = list[i] as QuotaState;
        let over: boolean;
        let warn: boolean;
        if (amount === undefined) {
          over = s.exhausted;
          warn = s.notifyNow;
        } else if (typeof amount === 'number') {
          over = amount > s.allowUpTo;
          warn = amount >= s.notifyFrom;
        } else {
          ({ over, warn } = crosses(s, amount));
        }
        if (over && s.quota.overflow === 'block') {
          counter.add(1, LABELS.block);
          return block(s);
        }
        if (notify === undefined && (warn || (over && s.quota.overflow === 'allow_with_notification'))) {
          notify = s;
        }
      }
      if (notify !== undefined) {
        counter.add(1, LABELS.allow_with_notification);
        return notify.notifyDecision;
      }
      counter.add(1, LABELS.allow);
      return (list[0] as QuotaState).allowDecision;
    },

    upsert(quota, eventType, interval, period, usage) {
      const existing = states.get(quota.id);
      if (existing !== undefined && existing.quota.subscriptionId === quota.subscriptionId) {
        const moved = existing.quota.meterId !== quota.meterId || existing.quota.agentNhi !== quota.agentNhi;
        if (!moved) {
          existing.quota = quota;
          existing.period = period;
          existing.usage = usage;
          existing.refresh();
          return;
        }
      }
      if (existing !== undefined) book.remove(quota.id);
      states.set(quota.id, new QuotaState(quota, eventType, interval, period, usage));
      rebuildSubMeter(quota);
      reindex(quota.subscriptionId);
    },

    remove(quotaId) {
      const s = states.get(quotaId);
      if (s === undefined) return;
      states.delete(quotaId);
      rebuildSubMeter(s.quota);
      reindex(s.quota.subscriptionId);
    },

    setAgents(subscriptionId, agents) {
      agentsOf.set(subscriptionId, new Set(agents));
      reindex(subscriptionId);
    },

    removeSubscription(subscriptionId) {
      for (const [id, s] of states) if (s.quota.subscriptionId === subscriptionId) states.delete(id);
      for (const key of bySubMeter.keys())
        if (key.startsWith(`${subscriptionId}\u0000`)) bySubMeter.delete(key);
      agentsOf.delete(subscriptionId);
      reindex(subscriptionId);
      indexedAgents.delete(subscriptionId);
    },

    add(subscriptionId, agentNhi, meterId, value, period) {
      const list = bySubMeter.get(subMeterKey(subscriptionId, meterId));
      if (list === undefined) return [];
      const out: QuotaCrossing[] = [];
      for (const s of list) {
        if (s.quota.agentNhi !== undefined && s.quota.agentNhi !== agentNhi) continue;
        if (period.start > s.period.start) {
          s.period = period;
          s.usage = Decimal.ZERO;
        } else if (period.start < s.period.start) {
          continue;
        }
        const before = s.usage;
        const after = before.add(value);
        s.usage = after;
        s.refresh();
        s.quota.thresholds.forEach((t, i) => {
          const level = s.levels[i] as Decimal;
          if (before.lt(level) && after.gte(level)) {
            out.push({ quota: s.quota, period: s.period, threshold: t, usage: after, exceeded: false });
          }
        });
        if (before.lte(s.quota.limit) && after.gt(s.quota.limit)) {
          out.push({ quota: s.quota, period: s.period, threshold: ONE, usage: after, exceeded: true });
        }
      }
      return out;
    },

    roll(quotaId, period) {
      const s = states.get(quotaId);
      if (s === undefined || period.start <= s.period.start) return;
      s.period = period;
      s.usage = Decimal.ZERO;
      s.refresh();
    },

    status(quotaId) {
      const s = states.get(quotaId);
      return s === undefined ? undefined : { quota: s.quota, period: s.period, usage: s.usage };
    },
  };
  return Object.freeze(book);
}
