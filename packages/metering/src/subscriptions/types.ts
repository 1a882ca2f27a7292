import type { Uuid } from '@creto/core';
import type { BillingInterval } from '../plans/types.js';

/** The plan a subscription is on from one period start onward (plan changes apply at a period start). */
export interface PlanPhase {
  /** The plan. */
  readonly planId: string;
  /** Start of the first period billed on it (Unix ns). */
  readonly from: bigint;
}

/** `active`, or `canceled` (it ends at `endsAt`, the end of the period in which it was canceled). */
export type SubscriptionStatus = 'active' | 'canceled';

/**
 * An organization's subscription to a plan (spec §7.4 `create_subscription`): its agents, its
 * billing periods (anchor + the plan's interval), its plan history and its billing contact.
 */
export interface Subscription {
  /** Id (UUID). */
  readonly id: Uuid;
  /** The customer organization. */
  readonly organizationId: string;
  /** Who receives invoices (a mailbox, channel or NHI the `Notifier` routes on). */
  readonly billingContact: string;
  /** Billing period unit (the plan's). */
  readonly interval: BillingInterval;
  /** Periods are aligned to this instant (Unix ns), see `periodContaining`. */
  readonly anchor: bigint;
  /** Start of the first billing period (the one containing `createdAt`). */
  readonly startsAt: bigint;
  /** When it was created (consensus time). */
  readonly createdAt: bigint;
  /** Plan history, ascending by `from`; the first phase starts at `startsAt`. */
  readonly phases: readonly PlanPhase[];
  /**
   * NHIs bound directly: agents, or principals whose delegates are attributed here (an
   * organization's human root, spec §6.2).
   */
  readonly agents: readonly string[];
  /** Status. */
  readonly status: SubscriptionStatus;
  /** End of the last billed period for a canceled subscription; `null` while active. */
  readonly endsAt: bigint | null;
  /** Every period that starts before this instant has an invoice (Unix ns). */
  readonly invoicedThrough: bigint;
}

/** The plan id in force for the period starting at `periodStart`. */
export function planIdAt(subscription: Subscription, periodStart: bigint): string {
  let planId = subscription.phases[0]?.planId ?? '';
  for (const phase of subscription.phases) {
    if (phase.from <= periodStart) planId = phase.planId;
  }
  return planId;
}
