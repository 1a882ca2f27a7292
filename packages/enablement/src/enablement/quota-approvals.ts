import { EnablementError, type JsonValue, type Logger } from '@creto/core';
import { type Metering, QUOTA_BREACH_ACTION } from '@creto/metering';
import type { OversightEngine, OversightTransitionEvent } from '@creto/oversight';

/**
 * The action parameter an approver sets, with "approve with edits", to the quota's new limit
 * (spec §7.3 "Increase quota to 200K"): a decimal string (`'200000'`) or a safe integer.
 */
export const NEW_LIMIT_PARAMETER = 'new_limit';

/** Most quota increases being applied at once; beyond it an approval is logged and skipped. */
export const MAX_PENDING_QUOTA_INCREASES = 10_000;

/** The running Oversight → Metering wiring. @internal */
export interface QuotaApprovalWiring {
  /** Increases being applied now. */
  readonly pending: number;
  /** Resolves once every increase started so far has been applied (or has failed). */
  idle(): Promise<void>;
  /** Stops listening to transitions. */
  stop(): void;
}

/** Options of {@link wireQuotaApprovals}. @internal */
export interface QuotaApprovalWiringOptions {
  readonly oversight: OversightEngine;
  readonly metering: Pick<Metering, 'applyQuotaIncrease'>;
  /** The policy id of Metering's quota-breach requests. */
  readonly policyId: string;
  readonly logger: Logger;
}

function asObject(value: JsonValue | undefined): Readonly<Record<string, JsonValue>> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
}

/** The new limit named by approved parameters, or `undefined` when the approver set none. */
export function newLimitOf(approved: JsonValue | undefined): string | undefined {
  const value = asObject(approved)?.[NEW_LIMIT_PARAMETER];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new EnablementError(
    'OV-400',
    `${NEW_LIMIT_PARAMETER}: expected a decimal string or a safe integer (money and limits are never floats)`,
  );
}

/**
 * Spec §7.3 "Oversight → Metering: update quota (new_limit)": when a quota-breach request of
 * Metering (policy `policyId`, action `quota_breach`) is `APPROVED`, the approved parameters'
 * {@link NEW_LIMIT_PARAMETER} becomes the quota's limit through `metering.applyQuotaIncrease`
 * (idempotent per request), attributed to the deciding approver.
 *
 * The quota is the one the *requested* parameters name (`quota_id`): an approver may edit the
 * limit, never which quota it applies to. An approval without `new_limit`, and an `EXPIRED`
 * request whose final action is `auto_approve`, change nothing: spec §4.5 lists "do nothing
 * (auto-approve after timeout)" as one of the approver's choices. Failures (a limit that is not
 * above the current one, `MT-409`; an unknown quota, `MT-404`) are logged; the approval stands.
 * @internal
 */
export function wireQuotaApprovals(options: QuotaApprovalWiringOptions): QuotaApprovalWiring {
  const { oversight, metering, policyId, logger } = options;
  const pending = new Set<Promise<void>>();

  async function apply(event: OversightTransitionEvent): Promise<void> {
    const view = await oversight.getRequest(event.requestId);
    if (view.action !== QUOTA_BREACH_ACTION || view.state !== 'APPROVED') return;
    const quotaId = asObject(view.parameters)?.quota_id;
    if (typeof quotaId !== 'string') {
      logger.warn('quota approval without a quota_id: nothing to raise', {
        operation: 'quota.increase',
        request_id: view.requestId,
      });
      return;
    }
    const newLimit = newLimitOf(view.outcome?.approvedParameters);
    if (newLimit === undefined) {
      logger.info('quota notice approved without a new limit: quota unchanged', {
        operation: 'quota.increase',
        request_id: view.requestId,
        quota_id: quotaId,
      });
      return;
    }
    const approvedBy = view.outcome?.decidedBy[0] ?? event.actor;
    await metering.applyQuotaIncrease(quotaId, newLimit, { approvedBy, requestId: view.requestId });
    logger.info('quota raised by approval', {
      operation: 'quota.increase',
      request_id: view.requestId,
      quota_id: quotaId,
      new_limit: newLimit,
    });
  }

  const unsubscribe = oversight.onTransition((event) => {
    if (event.to !== 'APPROVED' || event.policyId !== policyId) return;
    if (pending.size >= MAX_PENDING_QUOTA_INCREASES) {
      logger.error('too many quota increases in progress: approval not applied', {
        operation: 'quota.increase',
        request_id: event.requestId,
      });
      return;
    }
    const task = apply(event).catch((error: unknown) => {
      logger.warn('quota increase not applied', {
        operation: 'quota.increase',
        request_id: event.requestId,
        // Foreign error text may carry secrets: only our own errors are logged whole.
        ...(EnablementError.is(error) ? { error } : { error_code: 'PL-500' }),
      });
    });
    pending.add(task);
    void task.finally(() => pending.delete(task));
  });

  return Object.freeze({
    get pending() {
      return pending.size;
    },
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop: unsubscribe,
  });
}
