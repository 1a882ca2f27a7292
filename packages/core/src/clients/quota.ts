import type { QuotaDecision, QuotaQuery } from '../authz/types.js';
import type { EnablementError } from '../errors/enablement-error.js';

/**
 * The quota port Runtime depends on (ARCHITECTURE §2, spec §7.3, §8.3): Metering owns usage and
 * plans and answers it; a remote metering service can too.
 *
 * A `block` decision carries the Metering error (`MT-429`, with `retryAfterMs` until the quota's
 * period ends) in {@link QuotaClientDecision.error}; Runtime raises `RT-429` with that error as
 * its `causedBy` (spec §8.2), so the chain survives across products and processes.
 *
 * @example
 * ```ts
 * const decision = await quota.checkQuota({ agent: agent.nhi, eventType: 'sandbox_allocated', amount: Decimal.ONE });
 * if (decision.decision === 'block') {
 *   throw new EnablementError('RT-429', 'Cannot spawn sandbox: quota exceeded', { causedBy: decision.error });
 * }
 * ```
 */
export interface QuotaClient {
  /** The quota decision for one agent, event type and (optional) amount about to be used. */
  checkQuota(query: QuotaQuery): Promise<QuotaClientDecision>;
}

/** A {@link QuotaDecision} as the quota port returns it. */
export interface QuotaClientDecision extends QuotaDecision {
  /** For `block`: the `MT-429` error to chain as `causedBy`. Absent otherwise. */
  readonly error?: EnablementError;
}
