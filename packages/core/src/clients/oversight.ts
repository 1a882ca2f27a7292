import type { JsonValue } from '../wire/json.js';
import type { OversightFinalAction, RuntimeOversightRequest } from '../wire/oversight.js';

/** The states of an oversight request (spec §4.2, ARCHITECTURE §6 Oversight). */
export const OVERSIGHT_STATES = Object.freeze([
  'PENDING',
  'ESCALATED',
  'APPROVED',
  'DENIED',
  'EXPIRED',
  'CANCELLED',
] as const);

/** One of {@link OVERSIGHT_STATES}. `APPROVED`, `DENIED`, `EXPIRED` and `CANCELLED` are final. */
export type OversightState = (typeof OVERSIGHT_STATES)[number];

/** What {@link OversightClient.createRequest} takes: the §4.2 request plus how the caller waits. */
export interface CreateOversightRequestInput extends RuntimeOversightRequest {
  /**
   * `true` (default): the caller waits for the decision (`RT-202`, spec §4.2). `false`: a notice
   * that does not hold anything up, such as a quota breach (spec §4.5).
   */
  readonly blocking?: boolean;
  /** Trace id to carry through notifications and audit events (spec §10.1). */
  readonly traceId?: string;
}

/** What {@link OversightClient.createRequest} returns. */
export interface OversightRequestRef {
  /** The request's id (UUID). */
  readonly requestId: string;
  /** Its state now. */
  readonly state: OversightState;
  /**
   * `false` when an identical request (same agent, action and resource) created within the last
   * 24 hours was returned instead of a new one (spec §9.2).
   */
  readonly created: boolean;
}

/** The final outcome of an oversight request, as {@link OversightClient.awaitApproval} reports it. */
export type OversightOutcome =
  | {
      /** Approved by a quorum of eligible humans. */
      readonly state: 'APPROVED';
      /** The request. */
      readonly requestId: string;
      /** Single-use override token bound to exactly the approved call (validated by authz). */
      readonly overrideToken: string;
      /**
       * The action parameters the token binds: the requested ones, or the approver's edited ones
       * ("approve with edits"). The caller must run the action with exactly these.
       */
      readonly approvedParameters: JsonValue;
      /** NHIs of the approvers whose votes made the quorum. */
      readonly decidedBy: readonly string[];
      /** The deciding approver's reason, when given. */
      readonly reason?: string;
    }
  | {
      /** Denied by a human (never a timeout: see `EXPIRED`). */
      readonly state: 'DENIED';
      /** The request. */
      readonly requestId: string;
      /** NHIs of the approvers whose votes decided. */
      readonly decidedBy: readonly string[];
      /** The reason, when given. */
      readonly reason?: string;
    }
  | {
      /** No tier decided in time; the requirement's final action was applied (spec §4.2). */
      readonly state: 'EXPIRED';
      /** The request. */
      readonly requestId: string;
      /** `auto_approve` or `auto_deny`. */
      readonly finalAction: OversightFinalAction;
      /** For `auto_approve`: the token for the requested call. */
      readonly overrideToken?: string;
      /** For `auto_approve`: the parameters the token binds (the requested ones). */
      readonly approvedParameters?: JsonValue;
    }
  | {
      /** Withdrawn before a decision. */
      readonly state: 'CANCELLED';
      /** The request. */
      readonly requestId: string;
      /** Why, when given. */
      readonly reason?: string;
    };

/** Options of {@link OversightClient.awaitApproval}. */
export interface AwaitApprovalOptions {
  /**
   * Stop waiting after this many milliseconds (on the engine's clock): the promise rejects with
   * `OV-408` and the request stays pending (spec §4.2 timeout table). Default: wait for the
   * final outcome, which the requirement's tiers and final action bound.
   */
  readonly timeoutMs?: number;
  /** Stop waiting when aborted (rejects with the signal's reason); the request stays pending. */
  readonly signal?: AbortSignal;
}

/**
 * The oversight port Runtime and Metering depend on (ARCHITECTURE §2, spec §4.2, §4.5, §7.2):
 * the in-process Oversight engine implements it; a remote client can too.
 *
 * @example
 * ```ts
 * const { requestId } = await oversight.createRequest(request);
 * const outcome = await oversight.awaitApproval(requestId, { timeoutMs: 2 * 3600_000 });
 * if (outcome.state === 'APPROVED') await authz.check({ ...call, overrideToken: outcome.overrideToken });
 * ```
 */
export interface OversightClient {
  /**
   * Creates (or, within 24 hours, returns the identical) request. Rejects with `OV-400` for an
   * invalid request and `PL-403` / `PL-410` for an invalid delegation chain.
   */
  createRequest(request: CreateOversightRequestInput): Promise<OversightRequestRef>;
  /**
   * Resolves with the final outcome as soon as the request is decided (or at once when it
   * already is). Rejects with `OV-404` for an unknown request and `OV-408` on its own timeout.
   */
  awaitApproval(requestId: string, options?: AwaitApprovalOptions): Promise<OversightOutcome>;
  /** Withdraws a pending request; `OV-409` when already decided, `OV-404` when unknown. */
  cancelRequest(requestId: string, reason?: string): Promise<void>;
}
