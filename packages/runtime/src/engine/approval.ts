import {
  type AuthzClient,
  type AuthzDecision,
  type CancelTimer,
  type Clock,
  type DelegationChain,
  EnablementError,
  type JsonValue,
  type Logger,
  type OversightClient,
  type OversightOutcome,
  policyId,
  type RiskFactor,
  type SandboxId,
  type Scheduler,
} from '@creto/core';
import type { PendingApproval } from './types.js';

/** One call that authz must allow (spec §3.2), possibly after human approval (spec §4.2, §7.2). */
export interface GuardedCall {
  /** The agent (authz principal). */
  readonly principal: string;
  /** Authz action. */
  readonly action: string;
  /** Authz resource. */
  readonly resource: string;
  /** The call's arguments: the authz context, and the oversight action's parameters. */
  readonly context: { readonly [key: string]: JsonValue };
  /** The chain the agent acts under. */
  readonly delegationChain: DelegationChain | undefined;
  /** Its NHIs, root first. */
  readonly chainNames: readonly string[];
  /** The sandbox the call comes from. */
  readonly sandboxId: SandboxId | undefined;
  /** The execution the call belongs to. */
  readonly executionId: string | undefined;
  /** What the call does, for approvers. */
  readonly description: string;
  /** Why it is risky, for approvers. */
  readonly riskFactors: readonly RiskFactor[];
  /**
   * Whether approvers may edit the arguments (tools: the handler runs with the approved ones).
   * When false (spawn, egress), the call is re-checked with its own arguments, so an edited
   * approval's token does not match and the call is refused.
   */
  readonly allowEdits: boolean;
  /** Checks approved (possibly edited) arguments before authz sees them again; throws to refuse. */
  readonly validateApproved?: (context: { readonly [key: string]: JsonValue }) => void;
  /** Recomputes the resource for edited arguments (tools whose resource depends on them). */
  readonly resourceFor?: (context: { readonly [key: string]: JsonValue }) => string;
  /** Aborts the wait (the sandbox terminated or the execution was cancelled). */
  readonly signal?: AbortSignal | undefined;
  /** Told of each authz decision (for audit). */
  readonly onDecision?: (decision: AuthzDecision['decision'], resource: string) => void;
  /** Told when the wait for approval starts and ends (execution state). */
  readonly onPending?: (pending: PendingApproval | undefined) => void;
}

/** What an authorized call may run with. */
export interface Authorization {
  /** The arguments to run with: the call's own, or the approved ones. */
  readonly context: { readonly [key: string]: JsonValue };
  /** The resource authorized (recomputed for edited arguments). */
  readonly resource: string;
  /** Policies that decided. */
  readonly policyIds: readonly string[];
  /** The approving Oversight request, when there was one. */
  readonly oversightRequestId?: string;
  /** The override token's id, when one was used. */
  readonly overrideTokenId?: string;
}

/** What {@link createApprovalGate} needs. */
export interface ApprovalGateDeps {
  /** Authz. */
  readonly authz: Pick<AuthzClient, 'check'>;
  /** Oversight, when configured. */
  readonly oversight: OversightClient | undefined;
  /** Clock of `since`. */
  readonly clock: Clock;
  /** Runs the runtime's own approval-wait deadline. */
  readonly scheduler: Scheduler;
  /** Logs hook failures. */
  readonly logger: Logger;
  /** How long to wait for a decision, ms. */
  readonly approvalWaitMs: number;
  /** Most pending approvals at once. */
  readonly maxPending: number;
  /** Host hook. */
  readonly onApprovalPending: ((pending: PendingApproval) => void) | undefined;
}

/** Asks authz and, for `requires_oversight`, Oversight; see {@link createApprovalGate}. */
export interface ApprovalGate {
  /** Resolves when the call may run; rejects with `RT-403`, `RT-202`, `RT-400` or `RT-503`. */
  authorize(call: GuardedCall): Promise<Authorization>;
  /** Calls waiting for a decision now. */
  pending(): PendingApproval[];
}

type Context = { readonly [key: string]: JsonValue };

function isPlainObject(value: unknown): value is Context {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Maps a failure of the authz port onto the runtime's codes. */
function authzFailure(error: unknown, action: string): EnablementError {
  if (EnablementError.is(error) && error.code === 'PL-400') {
    return new EnablementError('RT-400', `${action}: authz rejected the request: ${error.message}`, {
      cause: error,
    });
  }
  return new EnablementError('RT-503', `${action}: authorization is unavailable`, {
    cause: error,
    retryable: true,
  });
}

function denied(call: GuardedCall, resource: string, why: string, cause?: unknown): EnablementError {
  return new EnablementError('RT-403', `${call.action} on ${resource} denied: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

function splitResource(resource: string): { resourceType: string; resourceId: string } {
  // The oversight `Resource` of spec §4.2: the URI's first segment is its type (as authz's
  // `resource.type`), the rest its id, so `${type}:${id}` gives the authz resource back.
  const colon = resource.indexOf(':');
  if (colon <= 0 || colon === resource.length - 1) return { resourceType: 'custom', resourceId: resource };
  return { resourceType: resource.slice(0, colon).slice(0, 64), resourceId: resource.slice(colon + 1) };
}

/**
 * The approval gate of the engine (spec §4.2, §7.2, §8.3):
 *
 * - `allow` → the call runs with its own arguments;
 * - `deny` → `RT-403`;
 * - `requires_oversight` → an Oversight request (blocking), the caller is told `RT-202` (the
 *   execution's state becomes `pending_approval`, `onApprovalPending` runs), and the call waits at
 *   most `approvalWaitMs`. APPROVED (or EXPIRED with `auto_approve`) → authz is asked again with the
 *   override token and the approved arguments as context, and only an `allow` lets the call run,
 *   with exactly those arguments (a token for `amount: 50000` does not authorise `50001`).
 *   DENIED, EXPIRED with `auto_deny`, CANCELLED → `RT-403`. No decision in time → `RT-202`
 *   (retryable; the request stays pending, spec §4.2 timeout table).
 */
export function createApprovalGate(deps: ApprovalGateDeps): ApprovalGate {
  const waiting = new Map<string, PendingApproval>();
  let seq = 0;

  async function check(call: GuardedCall, resource: string, context: Context, token?: string) {
    try {
      return await deps.authz.check({
        principal: call.principal,
        action: call.action,
        resource,
        context,
        delegationChain: call.delegationChain,
        ...(token === undefined ? {} : { overrideToken: token }),
      });
    } catch (error) {
      if (token !== undefined && EnablementError.is(error) && error.code !== 'PL-503') {
        // An invalid, expired, used or mismatched token (PL-400/401/403, OV-410).
        throw denied(call, resource, `the override token was refused (${error.code})`, error);
      }
      throw authzFailure(error, call.action);
    }
  }

  function waitForOutcome(requestId: string, signal: AbortSignal | undefined): Promise<OversightOutcome> {
    const oversight = deps.oversight as OversightClient;
    const timeoutMs = deps.approvalWaitMs;
    return new Promise<OversightOutcome>((resolve, reject) => {
      let settled = false;
      let cancel: CancelTimer | undefined;
      const stop = new AbortController();
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        cancel?.();
        signal?.removeEventListener('abort', onAbort);
        stop.abort();
        fn();
      };
      const pendingError = (cause?: unknown) =>
        new EnablementError(
          'RT-202',
          `pending approval: oversight request ${requestId} has no decision after ${timeoutMs} ms; it stays pending`,
          { retryable: true, ...(cause === undefined ? {} : { cause }) },
        );
      const onAbort = () => finish(() => reject(signal?.reason ?? new EnablementError('RT-404', 'aborted')));
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      // Our own deadline as well as the client's: a remote client might not honour timeoutMs.
      try {
        cancel = deps.scheduler.scheduleAfter(timeoutMs, () => finish(() => reject(pendingError())));
      } catch (error) {
        finish(() =>
          reject(new EnablementError('RT-503', 'cannot schedule the approval wait', { cause: error })),
        );
        return;
      }
      Promise.resolve()
        .then(() => oversight.awaitApproval(requestId, { timeoutMs, signal: stop.signal }))
        .then(
          (outcome) => finish(() => resolve(outcome)),
          (error: unknown) =>
            finish(() => {
              if (EnablementError.is(error) && error.code === 'OV-408') reject(pendingError(error));
              else if (stop.signal.aborted) reject(pendingError());
              else
                reject(
                  new EnablementError('RT-503', `waiting for oversight request ${requestId} failed`, {
                    cause: error,
                    retryable: true,
                  }),
                );
            }),
        );
    });
  }

  async function viaOversight(
    call: GuardedCall,
    decision: Extract<AuthzDecision, { decision: 'requires_oversight' }>,
  ): Promise<Authorization> {
    const { oversight } = deps;
    if (oversight === undefined) {
      throw denied(
        call,
        call.resource,
        `policy ${decision.policyId} requires oversight and no OversightClient is configured`,
      );
    }
    if (waiting.size >= deps.maxPending) {
      throw new EnablementError('RT-503', `too many calls waiting for approval (${deps.maxPending})`, {
        retryable: true,
      });
    }
    let requestId: string;
    try {
      const ref = await oversight.createRequest({
        agentNhi: call.principal,
        delegationChain: [...call.chainNames],
        action: { name: call.action, parameters: call.context },
        resource: splitResource(call.resource),
        policyId: policyId(decision.policyId),
        requirement: decision.requirement,
        ...(call.sandboxId === undefined ? {} : { sandboxId: call.sandboxId }),
        actionDescription: call.description,
        riskFactors: [...call.riskFactors],
        blocking: true,
      });
      requestId = ref.requestId;
    } catch (error) {
      if (EnablementError.is(error) && error.code === 'OV-400') {
        throw new EnablementError(
          'RT-400',
          `${call.action}: Oversight rejected the request: ${error.message}`,
          {
            cause: error,
          },
        );
      }
      if (EnablementError.is(error) && (error.code === 'PL-403' || error.code === 'PL-410')) {
        throw denied(call, call.resource, 'Oversight refused the delegation chain', error);
      }
      throw new EnablementError('RT-503', `${call.action}: Oversight is unavailable`, {
        cause: error,
        retryable: true,
      });
    }
    const key = `${requestId}#${++seq}`;
    const pending: PendingApproval = Object.freeze({
      requestId,
      sandboxId: call.sandboxId,
      executionId: call.executionId,
      agentNhi: call.principal,
      action: call.action,
      resource: call.resource,
      policyId: decision.policyId,
      since: deps.clock.now(),
    });
    waiting.set(key, pending);
    call.onPending?.(pending);
    try {
      deps.onApprovalPending?.(pending);
    } catch (error) {
      deps.logger.warn('onApprovalPending threw', { operation: 'approval', error });
    }
    let outcome: OversightOutcome;
    try {
      outcome = await waitForOutcome(requestId, call.signal);
    } finally {
      waiting.delete(key);
      call.onPending?.(undefined);
    }
    let token: string | undefined;
    let approved: JsonValue | undefined;
    if (outcome.state === 'APPROVED') {
      token = outcome.overrideToken;
      approved = outcome.approvedParameters;
    } else if (
      outcome.state === 'EXPIRED' &&
      outcome.finalAction === 'auto_approve' &&
      outcome.overrideToken
    ) {
      token = outcome.overrideToken;
      approved = outcome.approvedParameters ?? call.context;
    } else {
      const why =
        outcome.state === 'EXPIRED'
          ? `oversight request ${requestId} expired with final action ${outcome.finalAction}`
          : `oversight request ${requestId} was ${outcome.state}${'reason' in outcome && outcome.reason ? `: ${outcome.reason}` : ''}`;
      call.onDecision?.('deny', call.resource);
      throw denied(call, call.resource, why);
    }
    if (!isPlainObject(approved)) {
      call.onDecision?.('deny', call.resource);
      throw denied(
        call,
        call.resource,
        `oversight request ${requestId} approved parameters that are not an object`,
      );
    }
    const context = call.allowEdits ? approved : call.context;
    if (call.allowEdits && call.validateApproved !== undefined) {
      try {
        call.validateApproved(context);
      } catch (error) {
        call.onDecision?.('deny', call.resource);
        throw error;
      }
    }
    let resource = call.resource;
    if (call.allowEdits && call.resourceFor !== undefined) {
      try {
        resource = call.resourceFor(context);
      } catch (cause) {
        throw denied(call, call.resource, 'the approved arguments give no valid resource', cause);
      }
    }
    let recheck: AuthzDecision;
    try {
      recheck = await check(call, resource, context, token);
    } catch (error) {
      call.onDecision?.('deny', resource);
      throw error;
    }
    call.onDecision?.(recheck.decision, resource);
    if (recheck.decision !== 'allow') {
      throw denied(call, resource, `after approval of request ${requestId}: ${recheck.reason}`);
    }
    return {
      context,
      resource,
      policyIds: recheck.policyIds,
      oversightRequestId: requestId,
      ...(recheck.overrideTokenId === undefined ? {} : { overrideTokenId: recheck.overrideTokenId }),
    };
  }

  return {
    async authorize(call: GuardedCall): Promise<Authorization> {
      const decision = await check(call, call.resource, call.context);
      call.onDecision?.(decision.decision, call.resource);
      if (decision.decision === 'allow') {
        return { context: call.context, resource: call.resource, policyIds: decision.policyIds };
      }
      if (decision.decision === 'deny') throw denied(call, call.resource, decision.reason);
      return viaOversight(call, decision);
    },
    pending(): PendingApproval[] {
      return [...waiting.values()];
    },
  };
}
