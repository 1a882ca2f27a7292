import type { Decimal, QuotaOverflowAction } from '@creto/core';

/**
 * A usage quota (spec §4.5, §7.3): a limit on one meter per billing period, for a whole
 * subscription or for one of its agents, and what happens when usage reaches it.
 * - `block`: checks answer `block` (`MT-429`) once the limit would be exceeded;
 * - `allow_with_notification`: checks answer `allow_with_notification` past the first threshold;
 *   each threshold crossing raises a non-blocking oversight request and warns the agent;
 * - `allow`: usage above the limit is allowed and billed as overage.
 */
export interface Quota {
  /** Id. */
  readonly id: string;
  /** The subscription whose period and usage it counts. */
  readonly subscriptionId: string;
  /** Only this agent's usage counts (absent: every agent of the subscription). */
  readonly agentNhi?: string;
  /** The meter (its `sum` or `count`). */
  readonly meterId: string;
  /** The limit per period (exact, positive). */
  readonly limit: Decimal;
  /** What reaching the limit does. */
  readonly overflow: QuotaOverflowAction;
  /** Fractions of the limit, ascending in (0, 1], at which notifications fire once per period. */
  readonly thresholds: readonly Decimal[];
  /** When it was last set or raised (consensus time). */
  readonly updatedAt: bigint;
  /** The last approved increase (spec §7.3), if any. */
  readonly lastIncrease?: QuotaIncrease;
}

/** An approved quota increase (spec §7.3: Oversight approves, Metering applies). */
export interface QuotaIncrease {
  /** NHI (or name) of who approved it. */
  readonly approvedBy: string;
  /** The oversight request that approved it. */
  readonly requestId: string;
  /** The limit before. */
  readonly previousLimit: Decimal;
  /** The limit after. */
  readonly newLimit: Decimal;
  /** When it was applied. */
  readonly appliedAt: bigint;
}

/** A quota's state in its current period. */
export interface QuotaStatus {
  /** The quota. */
  readonly quota: Quota;
  /** The current period `[start, end)`. */
  readonly periodStart: bigint;
  /** End of the current period. */
  readonly periodEnd: bigint;
  /** Usage ingested in the current period. */
  readonly usage: Decimal;
  /** Usage ÷ limit as a percentage, rounded down to an integer. */
  readonly percent: number;
}
