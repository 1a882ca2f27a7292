import type {
  ConsensusTimestamp,
  CreateOversightRequestInput,
  DelegationChain,
  DelegationLink,
  JsonValue,
  OversightClient,
  OversightFinalAction,
  OversightRequestRef,
  OversightRequirement,
  OversightState,
  Resource,
  RiskFactor,
} from '@creto/core';
import type { OversightRules } from '../policy/index.js';
import type { SignedApprovalResponse, SignedApprovalResponseWire } from '../responses/index.js';
import type { RequestNote, TransitionReason, TransitionRecord } from '../store/index.js';

/**
 * What {@link OversightEngine.createRequest} takes: the port's input (spec §4.2 request,
 * `blocking`, `traceId`) plus two in-process extras.
 */
export interface OversightRequestInput extends CreateOversightRequestInput {
  /**
   * The signed delegation chain (root first) the agent acts under. When given it is validated
   * through the NHI service (signatures, alignment, time, attenuation, revocation) and its leaf
   * must be the agent; `delegationChain` (the names) may then be empty (filled from the chain) or
   * must list the same principals (with or without the agent at the end).
   */
  readonly delegation?: DelegationChain | readonly DelegationLink[];
  /**
   * An extra part of the idempotency key, for callers that must tell two identical calls apart
   * (the engine keys on agent, action, resource and parameters; spec §9.2). 1–256 visible ASCII.
   */
  readonly idempotencyKey?: string;
}

/** An accepted vote, as {@link OversightEngine.getRequest} shows it. */
export interface OversightVoteView {
  /** Approver NHI. */
  readonly approver: string;
  /** `APPROVE` or `DENY`. */
  readonly decision: 'APPROVE' | 'DENY';
  /** The approver's reason. */
  readonly reason?: string;
  /** Edited parameters, when the approver edited them. */
  readonly editedParameters?: JsonValue;
  /** When the approver says it answered. */
  readonly respondedAt: ConsensusTimestamp;
  /** When the engine accepted it (consensus time). */
  readonly receivedAt: ConsensusTimestamp;
  /** Tiers (1-based, as people count them) whose approvers named this approver. */
  readonly tiers: readonly number[];
}

/** How a request ended, without the token itself. */
export interface OversightOutcomeView {
  /** When (consensus time). */
  readonly decidedAt: ConsensusTimestamp;
  /** Approvers whose votes decided (empty for `EXPIRED` / `CANCELLED`). */
  readonly decidedBy: readonly string[];
  /** Tier (1-based) that decided, or the last tier for `EXPIRED`. */
  readonly tier: number;
  /** The deciding reason. */
  readonly reason?: string;
  /** For `EXPIRED`: the final action applied. */
  readonly finalAction?: OversightFinalAction;
  /** For approvals: the parameters the token binds. */
  readonly approvedParameters?: JsonValue;
  /** Whether an override token was issued (only `awaitApproval` hands it out). */
  readonly tokenIssued: boolean;
  /** When that token expires (Unix ns). */
  readonly tokenExpiresAt?: ConsensusTimestamp;
}

/** A request as approvers and operators see it ({@link OversightEngine.getRequest}). */
export interface OversightRequestView {
  /** The id. */
  readonly requestId: string;
  /** Current state. */
  readonly state: OversightState;
  /** Current tier, 1-based. */
  readonly tier: number;
  /** Number of tiers. */
  readonly tierCount: number;
  /** When the current tier times out (Unix ns); absent once final. */
  readonly deadlineAt?: ConsensusTimestamp;
  /** Creation time (consensus). */
  readonly createdAt: ConsensusTimestamp;
  /** Last change (consensus). */
  readonly updatedAt: ConsensusTimestamp;
  /** The agent asking. */
  readonly agentNhi: string;
  /** Its delegation chain (names, root first). */
  readonly delegationChain: readonly string[];
  /** Action name. */
  readonly action: string;
  /** Requested parameters. */
  readonly parameters: JsonValue;
  /** The resource. */
  readonly resource: Resource;
  /** The resource URI the token binds. */
  readonly resourceUri: string;
  /** The policy that required oversight. */
  readonly policyId: string;
  /** Tiers and final action. */
  readonly requirement: OversightRequirement;
  /** Sandbox, when the action comes from one. */
  readonly sandboxId?: string;
  /** Description for approvers. */
  readonly actionDescription: string;
  /** Risk factors. */
  readonly riskFactors: readonly RiskFactor[];
  /** `false` for a notice (spec §4.5). */
  readonly blocking: boolean;
  /** Trace id. */
  readonly traceId?: string;
  /** Reasoning shown to approvers. */
  readonly reasoningContext: string;
  /** True when created without reasoning context (`OV-503`, spec §8.3). */
  readonly degraded: boolean;
  /** Notes (`OV-503`, `OV-202`, notifier failures). */
  readonly notes: readonly RequestNote[];
  /** The rules the request is decided by. */
  readonly rules: OversightRules;
  /** Accepted votes, in order. */
  readonly votes: readonly OversightVoteView[];
  /** Transitions, in order. */
  readonly transitions: readonly TransitionRecord[];
  /** Present once final. */
  readonly outcome?: OversightOutcomeView;
}

/** One line of {@link OversightEngine.listRequests}. */
export interface OversightRequestSummary {
  /** The id. */
  readonly requestId: string;
  /** Current state. */
  readonly state: OversightState;
  /** Current tier, 1-based. */
  readonly tier: number;
  /** The agent. */
  readonly agentNhi: string;
  /** Action name. */
  readonly action: string;
  /** Resource URI. */
  readonly resourceUri: string;
  /** Policy id. */
  readonly policyId: string;
  /** `false` for a notice. */
  readonly blocking: boolean;
  /** Creation time (consensus). */
  readonly createdAt: ConsensusTimestamp;
  /** Last change (consensus). */
  readonly updatedAt: ConsensusTimestamp;
  /** Current tier's deadline; absent once final. */
  readonly deadlineAt?: ConsensusTimestamp;
}

/** A query of {@link OversightEngine.listRequests}. */
export interface ListRequestsQuery {
  /** Only this state. */
  readonly state?: OversightState;
  /** Only this agent's requests. */
  readonly agent?: string;
  /** Only requests naming this approver entry (NHI, `role:…`, `group:…`) or voted on by it. */
  readonly approver?: string;
  /** Page size, 1–1000 (default 100). */
  readonly limit?: number;
  /** The previous page's `nextCursor`. */
  readonly cursor?: string;
}

/** A page of {@link OversightEngine.listRequests}. */
export interface ListRequestsPage {
  /** The requests, in creation order. */
  readonly requests: readonly OversightRequestSummary[];
  /** For the next page; absent on the last. */
  readonly nextCursor?: string;
}

/** What {@link OversightEngine.submitResponse} returns. */
export interface SubmitResponseResult {
  /** The request. */
  readonly requestId: string;
  /** Its state after the response. */
  readonly state: OversightState;
  /** `false` when the approver had already voted the same way (the vote counts once). */
  readonly accepted: boolean;
}

/** A transition as listeners receive it: the stored row plus who asked and under which policy. */
export interface OversightTransitionEvent extends TransitionRecord {
  /** The requesting agent. */
  readonly agentNhi: string;
  /** The policy. */
  readonly policyId: string;
}

/** Called synchronously after each committed transition (creation included, with `from: null`). */
export type OversightTransitionListener = (event: OversightTransitionEvent) => void;

/** What {@link OversightEngine.start} restored. */
export interface OversightRecoveryReport {
  /** Open requests found in the store and given a deadline timer. */
  readonly restored: number;
  /** Of those, how many had a deadline already past (they fire at once, in deadline order). */
  readonly overdue: number;
  /** Requests whose current tier had not been notified before the restart (notified now). */
  readonly renotified: number;
}

/** Counts for monitoring and tests. */
export interface OversightEngineStats {
  /** Open requests with a deadline timer. */
  readonly timers: number;
  /** `awaitApproval` calls waiting. */
  readonly waiters: number;
  /** Transition listeners. */
  readonly listeners: number;
  /** Store change notices (other engines' changes) waiting to be looked at. */
  readonly pendingChanges: number;
  /** Store change notices dropped because the queue was full (their waiters fall back to timeouts). */
  readonly droppedChanges: number;
}

/** Options of {@link OversightEngine.cancelRequest}. */
export interface CancelRequestOptions {
  /** Who cancels, for the transition record (an NHI or a name); default `caller`. */
  readonly actor?: string;
}

/** Transition reasons (see {@link TransitionReason}). */
export type { TransitionReason };

/**
 * The Oversight engine: the {@link OversightClient} port plus approver responses, queries,
 * transition events and recovery (see `createOversight`).
 */
export interface OversightEngine extends OversightClient {
  /** The Oversight service's NHI: authz must list it in `overrideTokenIssuers`. */
  readonly serviceNhi: string;
  /** See {@link OversightClient.createRequest}; also takes a signed delegation chain. */
  createRequest(input: OversightRequestInput): Promise<OversightRequestRef>;
  /**
   * Withdraws an open request (`CANCELLED`); `OV-409` when already final, `OV-404` when
   * unknown. Waiters resolve with the `CANCELLED` outcome.
   */
  cancelRequest(requestId: string, reason?: string, options?: CancelRequestOptions): Promise<void>;
  /**
   * Records a signed approver response and decides the request when a quorum (or the deny rule)
   * is met. `OV-400` malformed (or an edit the rules do not allow), `OV-404` unknown request,
   * `OV-401` unsigned, forged or unverifiable, `OV-403` approver not eligible (not named by an
   * open tier, or self-approval), `OV-409` request already decided or a changed vote (the first
   * vote stands).
   */
  submitResponse(
    response: SignedApprovalResponse | SignedApprovalResponseWire,
  ): Promise<SubmitResponseResult>;
  /** The request with its votes, transitions and notes (never the token); `OV-404` when unknown. */
  getRequest(requestId: string): Promise<OversightRequestView>;
  /** One page of requests matching the query. */
  listRequests(query?: ListRequestsQuery): Promise<ListRequestsPage>;
  /** Subscribes to transitions; returns the unsubscribe function. `PL-409` beyond the listener bound. */
  onTransition(listener: OversightTransitionListener): () => void;
  /**
   * Checks the service key is registered and restores open requests from the store: deadline
   * timers (overdue ones fire at once, in deadline order) and notifications not yet sent.
   * Idempotent; every other method awaits it, so calling it is only needed to learn the report
   * or to fire overdue deadlines without waiting for the first call.
   */
  start(): Promise<OversightRecoveryReport>;
  /**
   * Stops timers; waiters reject with `PL-503`; later calls reject with `PL-503`. Requests stay
   * in the store, ready for the next engine. Idempotent.
   */
  close(): Promise<void>;
  /** Current counts. */
  stats(): OversightEngineStats;
}
