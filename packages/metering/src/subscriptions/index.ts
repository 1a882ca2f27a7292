/**
 * Subscriptions: an organization and its agents bound to a plan, with billing periods from an
 * anchor (spec §7.4, §9.1).
 * @module
 */
export {
  assertInstant,
  type BillingPeriod,
  DAY_NS,
  defaultAnchor,
  formatUtcDate,
  nextPeriod,
  periodContaining,
} from './periods.js';
export { type PlanPhase, planIdAt, type Subscription, type SubscriptionStatus } from './types.js';
