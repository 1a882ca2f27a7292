import type {
  ConsensusTimestamp,
  JsonValue,
  OversightFinalAction,
  OversightState,
  RuntimeOversightRequest,
  Uuid,
} from '@creto/core';
import type { OversightRules } from '../policy/index.js';

/** Most votes stored for one request (8 tiers × 32 approvers). */
export const MAX_VOTES_PER_REQUEST = 256;
/** Most transitions stored for one request (creation, 7 escalations, one final state, with room). */
export const MAX_TRANSITIONS_PER_REQUEST = 32;
/** Most notes kept on one request; beyond it the oldest note is dropped. */
export const MAX_NOTES_PER_REQUEST = 64;
/** Largest page of {@link OversightStore.list} and {@link OversightStore.listOpen}. */
export const MAX_PAGE_SIZE = 1000;

/**
 * Something that happened to a request without changing its state, kept for operators and
 * approvers (spec §8.3): `OV-503` (created without reasoning context, memory unavailable),
 * `OV-202` (a notification was queued, the recipient being offline), `PL-503` (a notifier
 * refused a notification).
 */
export interface RequestNote {
  /** The catalogue code that describes it. */
  readonly code: string;
  /** When (consensus time, Unix ns). */
  readonly at: ConsensusTimestamp;
  /** What happened, in words (no secrets). */
  readonly message: string;
  /** The notification recipient, for notification notes. */
  readonly recipient?: string;
}

/** How a request ended. */
export interface StoredOutcome {
  /** When it was decided (consensus time). */
  readonly decidedAt: ConsensusTimestamp;
  /** Approvers whose votes decided (empty for `EXPIRED` and `CANCELLED`). */
  readonly decidedBy: readonly string[];
  /** The tier (index) the request was at, or whose quorum decided. */
  readonly tier: number;
  /** The deciding reason (approver's reason, cancellation reason). */
  readonly reason?: string;
  /** For `EXPIRED`: the requirement's final action that was applied. */
  readonly finalAction?: OversightFinalAction;
  /** For an approval (human or `auto_approve`): the parameters the token binds. */
  readonly approvedParameters?: JsonValue;
  /**
   * For an approval: the single-use override token. A bearer credential until it expires or is
   * used: protect the store accordingly (the engine never shows it in `getRequest`).
   */
  readonly overrideToken?: string;
  /** When the token expires (Unix ns). */
  readonly tokenExpiresAt?: ConsensusTimestamp;
}

/**
 * One row of the `requests` table: the request, its current state and deadline, and a `version`
 * for optimistic concurrency. Immutable: each change writes a new record with `version + 1`.
 */
export interface OversightRequestRecord {
  /** The request id (UUID). */
  readonly requestId: Uuid;
  /** 1 at creation, +1 on every commit. */
  readonly version: number;
  /** Current state. */
  readonly state: OversightState;
  /** Current tier (index into `request.requirement.tiers`). */
  readonly tier: number;
  /**
   * When the current tier times out (the engine's clock, Unix ns); `undefined` once the request
   * is final. Indexed by a SQL store for recovery.
   */
  readonly deadlineAt: ConsensusTimestamp | undefined;
  /** Highest tier whose approvers have been notified; -1 before the first notification. */
  readonly notifiedTier: number;
  /** Creation time (consensus time). */
  readonly createdAt: ConsensusTimestamp;
  /** Time of the last change (consensus time). */
  readonly updatedAt: ConsensusTimestamp;
  /** The validated request (spec §4.2). */
  readonly request: RuntimeOversightRequest;
  /** The authz resource URI the token binds (from `request.resource`). */
  readonly resourceUri: string;
  /** `false` for a notice that holds nothing up (spec §4.5 quota breach). */
  readonly blocking: boolean;
  /** Trace id carried from the caller (spec §10.1). */
  readonly traceId?: string;
  /** The decision rules in force for this request (snapshot taken at creation). */
  readonly rules: OversightRules;
  /** The reasoning shown to approvers; empty when memory had none or was unavailable. */
  readonly reasoningContext: string;
  /** Degradations and notification problems (oldest dropped beyond {@link MAX_NOTES_PER_REQUEST}). */
  readonly notes: readonly RequestNote[];
  /** Present once the request is final. */
  readonly outcome?: StoredOutcome;
}

/** One row of the `votes` table: an accepted, verified approver response. */
export interface VoteRecord {
  /** The request. */
  readonly requestId: Uuid;
  /** The approver's NHI (one vote per approver and request). */
  readonly approver: string;
  /** `APPROVE` or `DENY`. */
  readonly decision: 'APPROVE' | 'DENY';
  /** The approver's reason. */
  readonly reason?: string;
  /** Edited parameters ("approve with edits"). */
  readonly editedParameters?: JsonValue;
  /** When the approver says it answered (signed). */
  readonly respondedAt: ConsensusTimestamp;
  /** When the engine accepted it (consensus time). */
  readonly receivedAt: ConsensusTimestamp;
  /** The response nonce, unpadded base64url. */
  readonly nonce: string;
  /** The response signature, unpadded base64url (kept as evidence). */
  readonly signature: string;
  /** Tiers (indices) whose approvers named this approver when it voted. */
  readonly tiers: readonly number[];
}

/** Why a transition happened. */
export type TransitionReason = 'created' | 'escalated' | 'approved' | 'denied' | 'expired' | 'cancelled';

/** One row of the `transitions` table: who moved the request from which state to which, when and why. */
export interface TransitionRecord {
  /** The request. */
  readonly requestId: Uuid;
  /** 1 for the creation, then +1 per transition. */
  readonly seq: number;
  /** State before; `null` for the creation. */
  readonly from: OversightState | null;
  /** State after (equal to `from` for an escalation from one `ESCALATED` tier to the next). */
  readonly to: OversightState;
  /** Tier (index) after the transition. */
  readonly tier: number;
  /** When (consensus time, Unix ns). */
  readonly at: ConsensusTimestamp;
  /**
   * Who: an NHI (the agent creating, an approver deciding), `system` (timeouts and final
   * actions) or the actor given to `cancelRequest`.
   */
  readonly actor: string;
  /** Why. */
  readonly reason: TransitionReason;
  /** Words for people (an approver's reason, a cancellation reason, the final action). */
  readonly detail?: string;
}

/** A request with its votes and transitions, in order. */
export interface StoredOversightRequest {
  /** The request row. */
  readonly record: OversightRequestRecord;
  /** Its votes, in acceptance order. */
  readonly votes: readonly VoteRecord[];
  /** Its transitions, by `seq`. */
  readonly transitions: readonly TransitionRecord[];
}

/**
 * One atomic change: the new record (with `version = expectedVersion + 1`) plus rows to append.
 * A SQL store runs it as one transaction: `UPDATE requests … WHERE id = ? AND version = ?`, then
 * the inserts.
 */
export interface OversightStoreChange {
  /** The request. */
  readonly requestId: Uuid;
  /** The version the change was computed from. */
  readonly expectedVersion: number;
  /** The new record. */
  readonly record: OversightRequestRecord;
  /** Votes to append. */
  readonly votes?: readonly VoteRecord[];
  /** Transitions to append. */
  readonly transitions?: readonly TransitionRecord[];
}

/** A query of {@link OversightStore.list}. */
export interface OversightRequestQuery {
  /** Only requests in this state. */
  readonly state?: OversightState;
  /** Only requests of this agent NHI. */
  readonly agent?: string;
  /** Only requests whose tiers name this approver entry literally, or that it voted on. */
  readonly approver?: string;
  /** Page size, 1 to {@link MAX_PAGE_SIZE} (default 100). */
  readonly limit?: number;
  /** Where the previous page ended (its `nextCursor`). */
  readonly cursor?: string;
}

/** One page of records, in creation order. */
export interface OversightRequestPage {
  /** The records. */
  readonly records: readonly OversightRequestRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** What {@link OversightStore.watch} reports: a request was created or committed, at `version`. */
export interface OversightStoreChangeNotice {
  /** The request. */
  readonly requestId: string;
  /** Its version after the change (1 for a creation). */
  readonly version: number;
}

/** Receives {@link OversightStoreChangeNotice}s; what it throws is ignored. */
export type OversightStoreWatcher = (change: OversightStoreChangeNotice) => void;

/**
 * Where oversight requests live (the in-memory store now, a SQL store later): requests with a
 * version (optimistic concurrency), their votes, transitions and deadlines. Every method may be
 * remote. Errors: `OV-404` unknown request on `commit`; `PL-409` an id that exists on `create`,
 * and — retryable — a version that moved on `commit` (another engine changed the request: re-read
 * and re-apply); `PL-400` a malformed change; `PL-503` (retryable) when the store is full or down.
 */
export interface OversightStore {
  /** Inserts a new request (version 1) with its creation transition. */
  create(record: OversightRequestRecord, transition: TransitionRecord): Promise<void>;
  /** The request with its votes and transitions, or `undefined`. */
  get(requestId: string): Promise<StoredOversightRequest | undefined>;
  /** Applies one change atomically, if the request is still at `expectedVersion`. */
  commit(change: OversightStoreChange): Promise<void>;
  /** Requests matching the query, in creation order, one bounded page at a time. */
  list(query: OversightRequestQuery): Promise<OversightRequestPage>;
  /** Open requests (`PENDING`, `ESCALATED`), in creation order, one page at a time (recovery). */
  listOpen(query: { readonly limit?: number; readonly cursor?: string }): Promise<OversightRequestPage>;
  /**
   * Optional change notifications, so several engines on one store wake each other: `listener`
   * is told, at least once and after it is committed, about every `create` and `commit` on the
   * store by anyone (other processes included), and about nothing that was refused or rolled
   * back. Notices may be coalesced or arrive late or out of
   * order (the listener re-reads the request); they are best effort: one that is lost only delays
   * an `awaitApproval` to its own timeout and a deadline to the engine that already holds it, or
   * to the next engine's recovery. Resolves once notices are in force (a remote store subscribes
   * first), to the function that ends the subscription. A store without it still works with
   * several engines; each then learns of the others' decisions only when it reads.
   */
  watch?(listener: OversightStoreWatcher): Promise<() => void>;
}
