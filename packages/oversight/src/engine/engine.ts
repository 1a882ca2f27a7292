import {
  AuditEvents,
  bytesToBase64url,
  type CancelTimer,
  type ConsensusTimestamp,
  composeIdempotencyKey,
  createAuditEvent,
  createEnablementMetrics,
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  createScheduler,
  EnablementError,
  encodeJson,
  type IdempotencyGuard,
  issueOverrideToken,
  type JsonValue,
  millisToNanos,
  newUuid,
  nobleCryptoProvider,
  noopLogger,
  type OversightNotificationWire,
  type OversightOutcome,
  type OversightRequestRef,
  type OversightRequirement,
  type OversightState,
  overrideTokenArgumentsHash,
  oversightNotificationSubject,
  parseOptions,
  RESOURCE_URI_PREFIXES,
  type Scheduler,
  SPAN_NAMES,
  secondsBetween,
  systemClock,
  TRACE_ATTRIBUTES,
  type UnifiedAuditEvent,
  type Uuid,
  withSpan,
} from '@creto/core';
import {
  type ApproverProfile,
  DEFAULT_OVERSIGHT_RULES,
  matchingTiers,
  type OversightRules,
  openTiers,
  type Tally,
  tally,
} from '../policy/index.js';
import {
  MAX_APPROVAL_REASON_LENGTH,
  prepareApprovalResponse,
  type SignedApprovalResponse,
  type SignedApprovalResponseWire,
  verifyApprovalResponse,
} from '../responses/index.js';
import {
  createMemoryOversightStore,
  MAX_NOTES_PER_REQUEST,
  MAX_PAGE_SIZE,
  MAX_VOTES_PER_REQUEST,
  type OversightRequestRecord,
  type OversightStore,
  type RequestNote,
  type StoredOversightRequest,
  type TransitionRecord,
  type VoteRecord,
} from '../store/index.js';
import { checkResourceUri, defaultResourceUri, type ParsedRequestInput, parseRequestInput } from './input.js';
import {
  type ApprovalNotification,
  buildApprovalNotifications,
  cleanText,
  formatReasoning,
} from './notification.js';
import {
  DEFAULT_APPROVAL_LINK_BASE,
  DEFAULT_CHANNEL_TYPE,
  DEFAULT_MAX_LISTENERS,
  DEFAULT_MAX_OPEN_REQUESTS,
  DEFAULT_MAX_RESPONSE_SKEW_MS,
  DEFAULT_MAX_WAITERS,
  DEFAULT_MEMORY_TIMEOUT_MS,
  DEFAULT_REASONING_LIMIT,
  type OversightOptions,
  oversightOptionsSchema,
} from './options.js';
import type {
  CancelRequestOptions,
  ListRequestsPage,
  ListRequestsQuery,
  OversightEngine,
  OversightEngineStats,
  OversightRecoveryReport,
  OversightRequestInput,
  OversightRequestSummary,
  OversightRequestView,
  OversightTransitionEvent,
  OversightTransitionListener,
  SubmitResponseResult,
} from './types.js';

/** How many times a change is re-read and re-applied when another engine moved the version. */
const MAX_COMMIT_ATTEMPTS = 5;
/** Page size used to restore open requests. */
const RECOVERY_PAGE_SIZE = MAX_PAGE_SIZE;
/**
 * Most store change notices waiting to be looked at (one per request: later notices of the same
 * request coalesce). Beyond it a notice is dropped and counted: its waiters then learn the
 * outcome at their own timeout, and its deadline stays with the engines that already hold it.
 */
const MAX_PENDING_CHANGES = 10_000;
/** Store change notices looked at concurrently (each is one store read). */
const CHANGE_CONCURRENCY = 4;

const isOpen = (state: OversightState) => state === 'PENDING' || state === 'ESCALATED';

/** A planned change: the new record, rows to append, and what the caller gets back. */
interface Plan<T> {
  readonly record?: OversightRequestRecord;
  readonly votes?: readonly VoteRecord[];
  readonly transitions?: readonly TransitionRecord[];
  readonly result: T;
}

interface Waiter {
  readonly resolve: (outcome: OversightOutcome) => void;
  readonly reject: (error: unknown) => void;
  cleanup: () => void;
}

interface DeadlineTimer {
  readonly tier: number;
  readonly deadlineAt: ConsensusTimestamp;
  /** The newest record version known to carry this deadline (store notices older than it are skipped). */
  version: number;
  readonly cancel: CancelTimer;
}

/** A deadline that has come: waiting in the due queue to be processed. */
interface DueDeadline {
  readonly at: ConsensusTimestamp;
  readonly seq: number;
  readonly requestId: string;
  readonly tier: number;
  cancelled: boolean;
}

function appendNotes(notes: readonly RequestNote[], more: readonly RequestNote[]): RequestNote[] {
  const all = [...notes, ...more];
  return all.length > MAX_NOTES_PER_REQUEST ? all.slice(all.length - MAX_NOTES_PER_REQUEST) : all;
}

function errorCodeOf(error: unknown): string {
  return EnablementError.is(error) ? error.code : 'PL-503';
}

/**
 * The outcome `awaitApproval` reports for a final record (spec §4.2, §7.2). `EXPIRED` keeps the
 * final action, so a timeout is never mistaken for a human denial.
 */
function outcomeOf(record: OversightRequestRecord): OversightOutcome | undefined {
  const { outcome, requestId } = record;
  if (outcome === undefined) return undefined;
  const reason = outcome.reason === undefined ? {} : { reason: outcome.reason };
  switch (record.state) {
    case 'APPROVED':
      return {
        state: 'APPROVED',
        requestId,
        overrideToken: outcome.overrideToken ?? '',
        approvedParameters: outcome.approvedParameters ?? null,
        decidedBy: outcome.decidedBy,
        ...reason,
      };
    case 'DENIED':
      return { state: 'DENIED', requestId, decidedBy: outcome.decidedBy, ...reason };
    case 'EXPIRED':
      return {
        state: 'EXPIRED',
        requestId,
        finalAction: outcome.finalAction ?? 'auto_deny',
        ...(outcome.overrideToken === undefined ? {} : { overrideToken: outcome.overrideToken }),
        ...(outcome.approvedParameters === undefined
          ? {}
          : { approvedParameters: outcome.approvedParameters }),
      };
    case 'CANCELLED':
      return { state: 'CANCELLED', requestId, ...reason };
    default:
      return undefined;
  }
}

/** Words for the transition of a decision: which quorum (or veto) decided, at which tier. */
function decisionDetail(
  decided: Exclude<Tally, { kind: 'open' }>,
  requirement: OversightRequirement,
  rules: OversightRules,
): string {
  const tier = decided.tier + 1;
  const quorum = requirement.tiers[decided.tier]?.quorum ?? 1;
  const because = decided.reason === undefined ? '' : `: ${decided.reason}`;
  if (decided.kind === 'approved') return `approval quorum ${quorum} met at tier ${tier}${because}`;
  if (rules.denyRule === 'any') return `denied by ${decided.approvers.join(', ')} at tier ${tier}${because}`;
  return `deny quorum ${quorum} met at tier ${tier}${because}`;
}

function viewOf(stored: StoredOversightRequest): OversightRequestView {
  const { record, votes, transitions } = stored;
  const { request, outcome } = record;
  return {
    requestId: record.requestId,
    state: record.state,
    tier: record.tier + 1,
    tierCount: request.requirement.tiers.length,
    ...(record.deadlineAt === undefined ? {} : { deadlineAt: record.deadlineAt }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    agentNhi: request.agentNhi,
    delegationChain: request.delegationChain,
    action: request.action.name,
    parameters: request.action.parameters,
    resource: request.resource,
    resourceUri: record.resourceUri,
    policyId: request.policyId,
    requirement: request.requirement,
    ...(request.sandboxId === undefined ? {} : { sandboxId: request.sandboxId }),
    actionDescription: request.actionDescription,
    riskFactors: request.riskFactors,
    blocking: record.blocking,
    ...(record.traceId === undefined ? {} : { traceId: record.traceId }),
    reasoningContext: record.reasoningContext,
    degraded: record.notes.some((note) => note.code === 'OV-503'),
    notes: record.notes,
    rules: record.rules,
    votes: votes.map((vote) => ({
      approver: vote.approver,
      decision: vote.decision,
      ...(vote.reason === undefined ? {} : { reason: vote.reason }),
      ...(vote.editedParameters === undefined ? {} : { editedParameters: vote.editedParameters }),
      respondedAt: vote.respondedAt,
      receivedAt: vote.receivedAt,
      tiers: vote.tiers.map((t) => t + 1),
    })),
    transitions,
    ...(outcome === undefined
      ? {}
      : {
          outcome: {
            decidedAt: outcome.decidedAt,
            decidedBy: outcome.decidedBy,
            tier: outcome.tier + 1,
            ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
            ...(outcome.finalAction === undefined ? {} : { finalAction: outcome.finalAction }),
            ...(outcome.approvedParameters === undefined
              ? {}
              : { approvedParameters: outcome.approvedParameters }),
            tokenIssued: outcome.overrideToken !== undefined,
            ...(outcome.tokenExpiresAt === undefined ? {} : { tokenExpiresAt: outcome.tokenExpiresAt }),
          },
        }),
  };
}

function summaryOf(record: OversightRequestRecord): OversightRequestSummary {
  return {
    requestId: record.requestId,
    state: record.state,
    tier: record.tier + 1,
    agentNhi: record.request.agentNhi,
    action: record.request.action.name,
    resourceUri: record.resourceUri,
    policyId: record.request.policyId,
    blocking: record.blocking,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.deadlineAt === undefined ? {} : { deadlineAt: record.deadlineAt }),
  };
}

/**
 * Builds the Oversight engine (spec §4.2, §4.4, §4.5, §7.2, §7.3): approval requests with a
 * durable state machine (`PENDING` → `ESCALATED` (tier n) → `APPROVED` / `DENIED` / `EXPIRED` /
 * `CANCELLED`), escalation tiers with timeouts on the clock, m-of-n quorum, signed approver
 * responses, reasoning context from memory (degraded mode `OV-503`), notifications through the
 * `Notifier` port (`OV-202` when queued), `awaitApproval` woken by the transition itself, and
 * single-use override tokens bound to exactly the approved call.
 *
 * Every change is one store commit with optimistic concurrency; transitions are recorded with
 * who, when (consensus time) and why, emitted to listeners, audited and counted. A new engine on
 * the same store and clock restores open requests and their deadlines (`start`). Several engines
 * may share one store: when it has `watch`, each learns of the others' changes (a decision wakes
 * its waiters at once; a request created elsewhere gets its deadlines here too, and the versioned
 * commit lets exactly one engine apply each deadline).
 *
 * @example
 * ```ts
 * const platform = createPlatform({ clock });
 * const serviceKey = AgentKeyPair.generate({ kind: 'service' });
 * await platform.nhi.register({ identity: serviceKey.identity });
 * const oversight = createOversight({
 *   nhi: platform.nhi, audit: platform.audit, memory: platform.memory, consensus: platform.consensus,
 *   clock, serviceKey, notifier, approvalLinkBase: 'https://approvals.example.com/r',
 * });
 * const { requestId } = await oversight.createRequest(request);
 * const outcome = await oversight.awaitApproval(requestId, { timeoutMs: 2 * 3_600_000 });
 * ```
 */
export function createOversight(options: OversightOptions): OversightEngine {
  const opts = parseOptions(oversightOptionsSchema, options, 'createOversight');
  const clock = opts.clock ?? systemClock;
  const maxOpenRequests = opts.maxOpenRequests ?? DEFAULT_MAX_OPEN_REQUESTS;
  const maxWaiters = opts.maxWaiters ?? DEFAULT_MAX_WAITERS;
  const maxListeners = opts.maxListeners ?? DEFAULT_MAX_LISTENERS;
  const reasoningLimit = opts.reasoningLimit ?? DEFAULT_REASONING_LIMIT;
  const memoryTimeoutMs = opts.memoryTimeoutMs ?? DEFAULT_MEMORY_TIMEOUT_MS;
  const skewNs = millisToNanos(opts.maxResponseSkewMs ?? DEFAULT_MAX_RESPONSE_SKEW_MS);
  const channelType = opts.channelType ?? DEFAULT_CHANNEL_TYPE;
  const linkBase = opts.approvalLinkBase ?? DEFAULT_APPROVAL_LINK_BASE;
  const resourceUriOf = opts.resourceUri ?? defaultResourceUri;
  const { nhi, serviceKey, notifier, eventBus, audit, memory, consensus } = opts;
  const logger = (opts.logger ?? noopLogger).child({ product: 'oversight' });
  const metrics = opts.metrics ?? createEnablementMetrics();
  const store: OversightStore = opts.store ?? createMemoryOversightStore({ maxRequests: maxOpenRequests });
  const ownScheduler = opts.scheduler === undefined;
  const scheduler: Scheduler =
    opts.scheduler ??
    createScheduler({
      clock,
      // Deadlines, waiter timeouts and memory timeouts, with room for creations in flight.
      maxPendingTimers: maxOpenRequests + maxWaiters + 1024,
      onError: (error) => report(error, 'timer'),
    });
  const guard: IdempotencyGuard = createIdempotencyGuard({
    store: opts.idempotencyStore ?? createMemoryIdempotencyStore({ clock, maxKeys: maxOpenRequests }),
    clock,
  });
  const defaultRules: OversightRules = Object.freeze({ ...DEFAULT_OVERSIGHT_RULES, ...opts.rules });
  const policyRules = new Map<string, OversightRules>(
    Object.entries(opts.policies ?? {}).map(([id, patch]) => [
      id,
      Object.freeze({ ...defaultRules, ...patch }),
    ]),
  );
  const serviceNhi = serviceKey.identity.nhi;
  // Stands in for the real requirement while core's codec checks the other request fields.
  const placeholder: OversightRequirement = {
    tiers: [{ approvers: [serviceNhi], quorum: 1, timeoutMs: 1 }],
    finalAction: 'auto_deny',
  };

  const timers = new Map<string, DeadlineTimer>();
  // Deadlines that have come, earliest first (at most one per open request).
  const due: DueDeadline[] = [];
  let dueSeq = 0;
  let draining = false;
  const waiters = new Map<string, Set<Waiter>>();
  let waiterCount = 0;
  const listeners = new Set<OversightTransitionListener>();
  // One queue per request: changes to one request apply one at a time, in arrival order.
  const locks = new Map<string, Promise<void>>();
  let started: Promise<OversightRecoveryReport> | undefined;
  let closed = false;
  // Store change notices (other engines' creates and commits), newest version per request.
  const pendingChanges = new Map<string, number>();
  let activeChanges = 0;
  let droppedChanges = 0;
  let unwatch: (() => void) | undefined;

  function report(error: unknown, operation: string, requestId?: string): void {
    const context = requestId === undefined ? { operation } : { operation, requestId };
    if (opts.onError !== undefined) {
      try {
        opts.onError(error, context);
        return;
      } catch {
        // Fall through to the log: a failing hook must not hide the original failure.
      }
    }
    logger.error(`oversight ${operation} failed`, {
      operation,
      ...(requestId === undefined ? {} : { request_id: requestId }),
      error_code: errorCodeOf(error),
      error: error instanceof Error ? error.message : String(error),
    });
  }

  function assertOpen(): void {
    if (closed) throw new EnablementError('PL-503', 'oversight engine is closed', { retryable: false });
  }

  const consensusNow = async (): Promise<ConsensusTimestamp> =>
    consensus === undefined ? clock.now() : consensus.getTimestamp();

  function rulesFor(policyId: string): OversightRules {
    return policyRules.get(policyId) ?? defaultRules;
  }

  function withLock<T>(requestId: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(requestId) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    locks.set(requestId, tail);
    void tail.then(() => {
      if (locks.get(requestId) === tail) locks.delete(requestId);
    });
    return run;
  }

  async function load(requestId: string): Promise<StoredOversightRequest> {
    const stored = await store.get(requestId);
    if (stored === undefined) throw new EnablementError('OV-404', `oversight request ${requestId} not found`);
    return stored;
  }

  /**
   * Reads the request, plans a change and commits it; when another engine moved the version in
   * between, reads again and re-plans (optimistic concurrency). Then runs the effects of what
   * was committed: timers, waiters, listeners, metrics, audit.
   */
  async function mutate<T>(
    requestId: string,
    planFor: (stored: StoredOversightRequest) => Promise<Plan<T>> | Plan<T>,
  ): Promise<{ readonly result: T; readonly record: OversightRequestRecord }> {
    for (let attempt = 1; ; attempt++) {
      const stored = await load(requestId);
      const plan = await planFor(stored);
      if (plan.record === undefined) {
        // Nothing to change, perhaps because another engine got there first (a deadline race
        // lost): take what it committed — wake local waiters, follow its next deadline.
        observe(stored.record);
        return { result: plan.result, record: stored.record };
      }
      try {
        await store.commit({
          requestId: stored.record.requestId,
          expectedVersion: stored.record.version,
          record: plan.record,
          ...(plan.votes === undefined ? {} : { votes: plan.votes }),
          ...(plan.transitions === undefined ? {} : { transitions: plan.transitions }),
        });
      } catch (error) {
        const conflict = EnablementError.is(error) && error.code === 'PL-409' && error.retryable;
        if (conflict && attempt < MAX_COMMIT_ATTEMPTS) continue;
        throw error;
      }
      afterCommit(stored.record, plan.record, plan.votes ?? [], plan.transitions ?? []);
      return { result: plan.result, record: plan.record };
    }
  }

  function afterCommit(
    before: OversightRequestRecord,
    after: OversightRequestRecord,
    votes: readonly VoteRecord[],
    transitions: readonly TransitionRecord[],
  ): void {
    if (!isOpen(after.state)) {
      cancelDeadline(after.requestId);
      wake(after);
    } else if (after.tier !== before.tier || after.deadlineAt !== before.deadlineAt) {
      scheduleDeadline(after);
    } else {
      const timer = timers.get(after.requestId);
      if (timer !== undefined && timer.version < after.version) timer.version = after.version;
    }
    for (const vote of votes) {
      auditAppend(
        () =>
          AuditEvents.responseReceived(
            {
              requestId: after.requestId,
              agentNhi: after.request.agentNhi,
              approver: vote.approver,
              decision: vote.decision === 'APPROVE' ? 'approve' : 'deny',
            },
            { timestamp: vote.receivedAt },
          ),
        after.requestId,
      );
    }
    for (const transition of transitions) emitTransition(after, transition);
    if (
      !isOpen(after.state) &&
      isOpen(before.state) &&
      (after.state === 'APPROVED' || after.state === 'DENIED')
    ) {
      const outcome = after.outcome;
      if (outcome !== undefined && outcome.decidedAt >= after.createdAt) {
        metrics.oversightApprovalsLatency.record(secondsBetween(after.createdAt, outcome.decidedAt), {
          tier: String(outcome.tier + 1),
        });
      }
    }
  }

  function emitTransition(record: OversightRequestRecord, transition: TransitionRecord): void {
    if (transition.from !== null) {
      metrics.oversightStateTransitions.add(1, { from: transition.from, to: transition.to });
      auditAppend(() => {
        if (transition.from !== null && transition.from !== transition.to) {
          return AuditEvents.stateTransition(
            {
              requestId: record.requestId,
              agentNhi: record.request.agentNhi,
              oldState: transition.from,
              newState: transition.to,
            },
            { timestamp: transition.at },
          );
        }
        // ESCALATED → ESCALATED (tier n → n + 1): the typed kind requires a change of state.
        return createAuditEvent({
          product: 'oversight',
          agentNhi: record.request.agentNhi,
          action: 'oversight.escalate',
          resource: `${RESOURCE_URI_PREFIXES.oversight_request}${record.requestId}`,
          outcome: 'success',
          timestamp: transition.at,
          metadata: {
            kind: 'TierEscalated',
            request_id: record.requestId,
            state: transition.to,
            tier: transition.tier + 1,
          },
        });
      }, record.requestId);
    }
    const event: OversightTransitionEvent = Object.freeze({
      ...transition,
      agentNhi: record.request.agentNhi,
      policyId: record.request.policyId,
    });
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        report(error, 'transition listener', record.requestId);
      }
    }
  }

  function auditAppend(build: () => UnifiedAuditEvent, requestId: string): void {
    if (audit === undefined) return;
    let event: UnifiedAuditEvent;
    try {
      event = build();
    } catch (error) {
      report(error, 'audit', requestId);
      return;
    }
    audit.append(event).then(
      () => undefined,
      (error: unknown) => report(error, 'audit', requestId),
    );
  }

  async function auditRejected(
    record: OversightRequestRecord,
    response: SignedApprovalResponse,
    error: EnablementError,
    verified: boolean,
  ): Promise<void> {
    const timestamp = await consensusNow();
    auditAppend(
      () =>
        createAuditEvent({
          product: 'oversight',
          // An unverified claim is never attributed to the principal it names.
          agentNhi: verified ? response.approver : record.request.agentNhi,
          action: 'oversight.respond',
          resource: `${RESOURCE_URI_PREFIXES.oversight_request}${record.requestId}`,
          outcome: 'denied',
          timestamp,
          metadata: {
            kind: 'ResponseRejected',
            request_id: record.requestId,
            [verified ? 'approver' : 'claimed_approver']: response.approver,
            decision: response.decision,
            code: error.code,
          },
        }),
      record.requestId,
    );
  }

  // ------------------------------------------------------------------------------------------
  // Deadlines
  // ------------------------------------------------------------------------------------------

  function cancelDeadline(requestId: string): void {
    const timer = timers.get(requestId);
    if (timer === undefined) return;
    timers.delete(requestId);
    timer.cancel();
  }

  /**
   * Arms the deadline of the record's current tier. A deadline already past (after a restart, or
   * the next tier of a request that was down for longer than that tier) goes straight to the due
   * queue, so it is processed in deadline order with the others that are due.
   */
  function scheduleDeadline(record: OversightRequestRecord): void {
    cancelDeadline(record.requestId);
    if (closed || !isOpen(record.state) || record.deadlineAt === undefined) return;
    const { requestId, tier, deadlineAt, version } = record;
    if (deadlineAt <= clock.now()) {
      const item: DueDeadline = { at: deadlineAt, seq: dueSeq++, requestId, tier, cancelled: false };
      timers.set(requestId, {
        tier,
        deadlineAt,
        version,
        cancel: () => {
          item.cancelled = true;
        },
      });
      enqueueDue(item);
      return;
    }
    const cancel = scheduler.schedule(deadlineAt, () => {
      if (timers.get(requestId)?.cancel !== cancel) return;
      enqueueDue({ at: deadlineAt, seq: dueSeq++, requestId, tier, cancelled: false });
    });
    timers.set(requestId, { tier, deadlineAt, version, cancel });
  }

  /**
   * Brings local state in line with a record read from the store, which another engine may have
   * changed: a final record cancels its deadline and wakes its waiters (the same outcome a local
   * decision gives); an open one gets its current deadline, unless this engine already holds
   * that deadline or a newer version, or holds `maxOpenRequests` deadlines already (then the
   * engines that hold it, or the next recovery, process it). Two engines holding one deadline is
   * safe: the versioned commit lets exactly one of them apply it; the other re-reads and finds
   * nothing to do. Call with the request's lock held, so a stale read never replaces the
   * deadline a local commit just set.
   */
  function observe(record: OversightRequestRecord): void {
    if (closed) return;
    const { requestId } = record;
    if (!isOpen(record.state)) {
      cancelDeadline(requestId);
      wake(record);
      return;
    }
    const timer = timers.get(requestId);
    if (timer !== undefined) {
      if (timer.version >= record.version) return;
      if (timer.tier === record.tier && timer.deadlineAt === record.deadlineAt) {
        timer.version = record.version;
        return;
      }
    } else if (timers.size >= maxOpenRequests) {
      return;
    }
    scheduleDeadline(record);
  }

  // ------------------------------------------------------------------------------------------
  // Store change notices (several engines on one store)
  // ------------------------------------------------------------------------------------------

  /** Queues a notice from the store's `watch`, coalesced per request, bounded. */
  function onStoreChange(change: unknown): void {
    if (closed || typeof change !== 'object' || change === null) return;
    const { requestId, version } = change as { requestId?: unknown; version?: unknown };
    if (typeof requestId !== 'string' || typeof version !== 'number' || !Number.isSafeInteger(version))
      return;
    const queued = pendingChanges.get(requestId);
    if (queued !== undefined) {
      if (version > queued) pendingChanges.set(requestId, version);
    } else if (pendingChanges.size >= MAX_PENDING_CHANGES) {
      droppedChanges++;
      if (droppedChanges === 1 || droppedChanges % 1000 === 0) {
        logger.warn('store change notices dropped (queue full): waiters fall back to their timeouts', {
          operation: 'watch',
          dropped: droppedChanges,
        });
      }
      return;
    } else {
      pendingChanges.set(requestId, version);
    }
    pumpChanges();
  }

  function pumpChanges(): void {
    while (!closed && activeChanges < CHANGE_CONCURRENCY) {
      const next = pendingChanges.entries().next();
      if (next.done === true) return;
      const [requestId, version] = next.value;
      pendingChanges.delete(requestId);
      activeChanges++;
      refresh(requestId, version)
        .catch((error: unknown) => {
          if (!closed) report(error, 'store change', requestId);
        })
        .finally(() => {
          activeChanges--;
          pumpChanges();
        });
    }
  }

  /** Re-reads a request another engine changed (unless nothing here can depend on it). */
  async function refresh(requestId: string, version: number): Promise<void> {
    const timer = timers.get(requestId);
    // This engine's own commit, or one it has already seen, with nobody waiting here.
    if (!waiters.has(requestId) && timer !== undefined && timer.version >= version) return;
    await withLock(requestId, async () => {
      if (closed) return;
      const stored = await store.get(requestId);
      if (stored !== undefined) observe(stored.record);
    });
  }

  /** Inserts a due deadline in (deadline, arrival) order and makes sure the queue drains. */
  function enqueueDue(item: DueDeadline): void {
    let lo = 0;
    let hi = due.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = due[mid] as DueDeadline;
      if (other.at < item.at || (other.at === item.at && other.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    due.splice(lo, 0, item);
    void drainDue();
  }

  /**
   * Processes due deadlines one at a time, earliest first. One queue for all requests keeps
   * escalations in deadline order even when they cascade (a tier escalated late whose next
   * deadline is past too is processed before a later deadline of another request).
   */
  async function drainDue(): Promise<void> {
    if (draining) return;
    draining = true;
    try {
      for (let item = due.shift(); item !== undefined; item = due.shift()) {
        if (closed) {
          due.length = 0;
          break;
        }
        if (item.cancelled) continue;
        const timer = timers.get(item.requestId);
        if (timer !== undefined && timer.tier === item.tier) timers.delete(item.requestId);
        await onDeadline(item.requestId, item.tier);
      }
    } finally {
      draining = false;
    }
  }

  async function onDeadline(requestId: string, tier: number): Promise<void> {
    try {
      const escalated = await withSpan(
        SPAN_NAMES.oversightEscalate,
        { [TRACE_ATTRIBUTES.oversightRequestId]: requestId },
        (span) =>
          withLock(requestId, async () => {
            const { result, record } = await mutate(requestId, (stored) => planTimeout(stored, tier));
            span.setAttribute(TRACE_ATTRIBUTES.oversightState, record.state);
            return result;
          }),
      );
      // Notifications go out beside the queue: a slow notifier must not hold other deadlines.
      if (escalated) {
        notifyTier(requestId, tier + 1).catch((error: unknown) => report(error, 'notification', requestId));
      }
    } catch (error) {
      report(error, 'escalation', requestId);
    }
  }

  /** Plans the timeout of `tier`: escalate to the next tier, or apply the final action. */
  async function planTimeout(stored: StoredOversightRequest, tier: number): Promise<Plan<boolean>> {
    const current = stored.record;
    if (!isOpen(current.state) || current.tier !== tier) return { result: false };
    const at = await consensusNow();
    const { requirement } = current.request;
    const seq = stored.transitions.length + 1;
    const next = requirement.tiers[tier + 1];
    const elapsed = requirement.tiers[tier]?.timeoutMs ?? 0;
    if (next !== undefined) {
      // The next deadline counts from this one, not from when the timer ran: after a restart the
      // chain of deadlines keeps its instants (and overdue ones fire at once, in order).
      const deadlineAt = (current.deadlineAt ?? clock.now()) + millisToNanos(next.timeoutMs);
      const record: OversightRequestRecord = {
        ...current,
        version: current.version + 1,
        state: 'ESCALATED',
        tier: tier + 1,
        deadlineAt,
        updatedAt: at,
      };
      const transition: TransitionRecord = {
        requestId: current.requestId,
        seq,
        from: current.state,
        to: 'ESCALATED',
        tier: tier + 1,
        at,
        actor: 'system',
        reason: 'escalated',
        detail: `tier ${tier + 1} timed out after ${elapsed} ms`,
      };
      return { record, transitions: [transition], result: true };
    }
    const { finalAction } = requirement;
    const approve = finalAction === 'auto_approve';
    const token = approve ? issueToken(current, current.request.action.parameters) : undefined;
    const record: OversightRequestRecord = {
      ...current,
      version: current.version + 1,
      state: 'EXPIRED',
      deadlineAt: undefined,
      updatedAt: at,
      outcome: {
        decidedAt: at,
        decidedBy: [],
        tier,
        finalAction,
        ...(token === undefined
          ? {}
          : {
              approvedParameters: current.request.action.parameters,
              overrideToken: token.token,
              tokenExpiresAt: token.expiresAt,
            }),
      },
    };
    const transition: TransitionRecord = {
      requestId: current.requestId,
      seq,
      from: current.state,
      to: 'EXPIRED',
      tier,
      at,
      actor: 'system',
      reason: 'expired',
      detail: `last tier timed out after ${elapsed} ms; final action ${finalAction}`,
    };
    return { record, transitions: [transition], result: false };
  }

  function issueToken(
    record: OversightRequestRecord,
    parameters: JsonValue,
  ): { readonly token: string; readonly expiresAt: ConsensusTimestamp } {
    const expiresAt = clock.now() + millisToNanos(record.rules.tokenTtlMs);
    const token = issueOverrideToken({
      signer: serviceKey,
      principal: record.request.agentNhi,
      action: record.request.action.name,
      resource: record.resourceUri,
      arguments: parameters,
      expiresAt,
      requestId: record.requestId,
      clock,
    });
    return { token, expiresAt };
  }

  // ------------------------------------------------------------------------------------------
  // Waiters
  // ------------------------------------------------------------------------------------------

  function removeWaiter(requestId: string, waiter: Waiter): boolean {
    const set = waiters.get(requestId);
    if (set === undefined || !set.delete(waiter)) return false;
    waiterCount--;
    if (set.size === 0) waiters.delete(requestId);
    waiter.cleanup();
    return true;
  }

  function wake(record: OversightRequestRecord): void {
    const set = waiters.get(record.requestId);
    const outcome = outcomeOf(record);
    if (set === undefined || outcome === undefined) return;
    for (const waiter of [...set]) {
      if (removeWaiter(record.requestId, waiter)) waiter.resolve(outcome);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Notifications
  // ------------------------------------------------------------------------------------------

  async function publishNotification(wire: OversightNotificationWire, id: string, requestId: string) {
    if (eventBus === undefined) return;
    try {
      await eventBus.publish(oversightNotificationSubject(channelType), encodeJson(wire), { msgId: id });
    } catch (error) {
      report(error, 'notification publish', requestId);
    }
  }

  /**
   * Notifies every approver entry of `tier` (spec §4.4), once: the request records the highest
   * tier notified, so a restart re-sends only what was never sent (with the same notification
   * ids). Queued notifications (`OV-202`) and notifier failures are noted on the request; the
   * request goes on either way (spec §8.3).
   */
  async function notifyTier(requestId: string, tier: number): Promise<void> {
    const stored = await store.get(requestId);
    if (stored === undefined) return;
    const { record } = stored;
    if (!isOpen(record.state) || record.tier !== tier || record.notifiedTier >= tier) return;
    const entries = record.request.requirement.tiers[tier]?.approvers ?? [];
    const notes: RequestNote[] = [];
    let batch: ApprovalNotification[];
    try {
      batch = buildApprovalNotifications(record, entries, channelType, linkBase);
    } catch (error) {
      // Cannot happen for a validated request; never leave the tier silently unnotified.
      report(error, 'notification', requestId);
      return;
    }
    await Promise.all(
      batch.map(async ({ notification, wire }) => {
        const recipient = notification.recipient;
        await publishNotification(wire, notification.id, requestId);
        if (notifier === undefined) return;
        try {
          const receipt = await notifier.notify(notification);
          if (receipt.status === 'queued') {
            notes.push({
              code: 'OV-202',
              at: await consensusNow(),
              message: `notification to ${recipient} queued (recipient offline); delivery is retried`,
              recipient,
            });
          }
        } catch (error) {
          logger.warn('approver notification failed', {
            operation: 'notify',
            request_id: requestId,
            recipient,
            error_code: errorCodeOf(error),
          });
          notes.push({
            code: errorCodeOf(error),
            at: await consensusNow(),
            message: `notification to ${recipient} failed`,
            recipient,
          });
        }
      }),
    );
    await withLock(requestId, () =>
      mutate(requestId, async (current) => {
        const r = current.record;
        if (r.notifiedTier >= tier && notes.length === 0) return { result: undefined };
        return {
          record: {
            ...r,
            version: r.version + 1,
            notifiedTier: Math.max(r.notifiedTier, tier),
            notes: appendNotes(r.notes, notes),
          },
          result: undefined,
        };
      }),
    );
  }

  // ------------------------------------------------------------------------------------------
  // Creation
  // ------------------------------------------------------------------------------------------

  async function fetchReasoning(
    agent: string,
    action: string,
  ): Promise<{ readonly text: string; readonly problem?: EnablementError }> {
    if (reasoningLimit === 0) return { text: '' };
    if (memory === undefined) {
      return {
        text: '',
        problem: new EnablementError('OV-503', 'no memory service: created without reasoning context'),
      };
    }
    try {
      const entries = await new Promise<Awaited<ReturnType<typeof memory.fetchReasoningContext>>>(
        (resolve, reject) => {
          const cancel = scheduler.scheduleAfter(memoryTimeoutMs, () =>
            reject(new EnablementError('PL-503', `memory did not answer within ${memoryTimeoutMs} ms`)),
          );
          memory.fetchReasoningContext(agent, action, reasoningLimit).then(
            (value) => {
              cancel();
              resolve(value);
            },
            (error: unknown) => {
              cancel();
              reject(error);
            },
          );
        },
      );
      return { text: Array.isArray(entries) ? formatReasoning(entries) : '' };
    } catch (cause) {
      logger.warn('memory unavailable: request created without reasoning context', {
        operation: 'create_request',
        agent_nhi: agent,
        error_code: errorCodeOf(cause),
      });
      return {
        text: '',
        problem: new EnablementError('OV-503', 'memory unavailable: created without reasoning context', {
          cause,
        }),
      };
    }
  }

  async function resolveDelegation(parsed: ParsedRequestInput): Promise<string[]> {
    const { request, delegation } = parsed;
    const names = request.delegationChain;
    if (delegation !== undefined) {
      const chain = await nhi.validateDelegationChain(delegation);
      if (chain.current().nhi !== request.agentNhi) {
        throw new EnablementError('PL-403', 'delegation: the chain does not end with the requesting agent');
      }
      const derived = [chain.root().nhi, ...chain.links.map((link) => link.subject)];
      const same = (list: readonly string[]) =>
        list.length === names.length && list.every((name, i) => name === names[i]);
      if (names.length > 0 && !same(derived) && !same(derived.slice(0, -1))) {
        throw new EnablementError(
          'PL-403',
          'delegationChain: the names do not match the signed delegation chain',
        );
      }
      return derived;
    }
    if (names.length === 0) return [];
    if (opts.requireSignedDelegation === true) {
      throw new EnablementError(
        'PL-403',
        'delegation: a signed delegation chain is required with delegationChain',
      );
    }
    const [root] = names;
    if (root !== undefined) {
      try {
        await nhi.lookup(root);
      } catch (cause) {
        if (EnablementError.is(cause) && cause.code === 'PL-410') throw cause;
        throw new EnablementError('PL-403', `delegationChain: root ${root} is not a registered principal`, {
          cause,
        });
      }
    }
    const revoked = await Promise.all(names.map((name) => nhi.isRevoked({ kind: 'principal', nhi: name })));
    const index = revoked.indexOf(true);
    if (index >= 0) {
      throw new EnablementError('PL-410', `delegationChain: ${names[index]} is revoked`);
    }
    return names;
  }

  async function createNew(
    parsed: ParsedRequestInput,
    chain: readonly string[],
    resourceUri: string,
  ): Promise<Uuid> {
    if (timers.size >= maxOpenRequests) {
      throw new EnablementError('PL-503', `too many open oversight requests (${maxOpenRequests})`, {
        retryable: true,
      });
    }
    const { request } = parsed;
    const reasoning = await fetchReasoning(request.agentNhi, request.action.name);
    const requestId = newUuid();
    const createdAt = await consensusNow();
    const first = request.requirement.tiers[0];
    const deadlineAt = clock.now() + millisToNanos(first?.timeoutMs ?? 0);
    const notes: RequestNote[] =
      reasoning.problem === undefined
        ? []
        : [{ code: 'OV-503', at: createdAt, message: reasoning.problem.message }];
    const record: OversightRequestRecord = {
      requestId,
      version: 1,
      state: 'PENDING',
      tier: 0,
      deadlineAt,
      notifiedTier: -1,
      createdAt,
      updatedAt: createdAt,
      request: { ...request, delegationChain: [...chain] },
      resourceUri,
      blocking: parsed.blocking,
      ...(parsed.traceId === undefined ? {} : { traceId: parsed.traceId }),
      rules: rulesFor(request.policyId),
      reasoningContext: reasoning.text,
      notes,
    };
    const transition: TransitionRecord = {
      requestId,
      seq: 1,
      from: null,
      to: 'PENDING',
      tier: 0,
      at: createdAt,
      actor: request.agentNhi,
      reason: 'created',
      detail: parsed.blocking ? 'blocking' : 'notice (non-blocking)',
    };
    await store.create(record, transition);
    scheduleDeadline(record);
    metrics.oversightRequestsCreated.add(1, { policy_id: request.policyId });
    auditAppend(
      () =>
        AuditEvents.requestCreated(
          {
            requestId,
            agentNhi: request.agentNhi,
            action: request.action.name,
            policyId: request.policyId,
          },
          { timestamp: createdAt },
        ),
      requestId,
    );
    emitTransition(record, transition);
    await notifyTier(requestId, 0);
    return requestId;
  }

  // ------------------------------------------------------------------------------------------
  // Responses
  // ------------------------------------------------------------------------------------------

  function sameVote(vote: VoteRecord, response: SignedApprovalResponse): boolean {
    if (vote.decision !== response.decision) return false;
    const edited = response.editedParameters;
    if ((vote.editedParameters === undefined) !== (edited === undefined)) return false;
    return (
      vote.editedParameters === undefined ||
      edited === undefined ||
      overrideTokenArgumentsHash(vote.editedParameters) === overrideTokenArgumentsHash(edited)
    );
  }

  async function planResponse(
    stored: StoredOversightRequest,
    response: SignedApprovalResponse,
    profile: ApproverProfile,
  ): Promise<Plan<SubmitResponseResult>> {
    const current = stored.record;
    const { requestId } = current;
    const existing = stored.votes.find((vote) => vote.approver === response.approver);
    if (existing !== undefined) {
      if (sameVote(existing, response))
        return { result: { requestId, state: current.state, accepted: false } };
      throw new EnablementError(
        'OV-409',
        `${response.approver} already voted ${existing.decision} on request ${requestId}: the first vote stands`,
      );
    }
    if (!isOpen(current.state)) {
      throw new EnablementError('OV-409', `oversight request ${requestId} is already ${current.state}`);
    }
    const { request, rules } = current;
    if (!rules.allowSelfApproval) {
      if (response.approver === request.agentNhi || request.delegationChain.includes(response.approver)) {
        throw new EnablementError(
          'OV-403',
          `${response.approver} cannot approve a request of its own agent or delegation chain`,
        );
      }
    }
    const tiers = matchingTiers(request.requirement, profile, openTiers(current.tier, rules));
    if (tiers.length === 0) {
      throw new EnablementError(
        'OV-403',
        `${response.approver} is not an approver of an open tier of request ${requestId}`,
      );
    }
    if (response.editedParameters !== undefined) {
      if (response.decision !== 'APPROVE') {
        throw new EnablementError('OV-400', 'editedParameters: only an APPROVE may edit the parameters');
      }
      if (!rules.allowEdits) {
        throw new EnablementError(
          'OV-400',
          `editedParameters: policy ${request.policyId} does not allow edits`,
        );
      }
    }
    if (stored.votes.length >= MAX_VOTES_PER_REQUEST) {
      throw new EnablementError('PL-409', `request ${requestId} has ${MAX_VOTES_PER_REQUEST} votes already`);
    }
    const at = await consensusNow();
    const vote: VoteRecord = {
      requestId,
      approver: response.approver,
      decision: response.decision,
      ...(response.reason === undefined ? {} : { reason: response.reason }),
      ...(response.editedParameters === undefined ? {} : { editedParameters: response.editedParameters }),
      respondedAt: response.respondedAt,
      receivedAt: at,
      nonce: bytesToBase64url(response.nonce),
      signature: bytesToBase64url(response.signature),
      tiers,
    };
    const decided: Tally = tally(
      request.requirement,
      [...stored.votes, vote],
      rules,
      openTiers(current.tier, rules),
      request.action.parameters,
    );
    if (decided.kind === 'open') {
      const record = { ...current, version: current.version + 1, updatedAt: at };
      return { record, votes: [vote], result: { requestId, state: record.state, accepted: true } };
    }
    const approved = decided.kind === 'approved';
    const token = approved ? issueToken(current, decided.parameters) : undefined;
    const state: OversightState = approved ? 'APPROVED' : 'DENIED';
    const record: OversightRequestRecord = {
      ...current,
      version: current.version + 1,
      state,
      deadlineAt: undefined,
      updatedAt: at,
      outcome: {
        decidedAt: at,
        decidedBy: decided.approvers,
        tier: decided.tier,
        ...(decided.reason === undefined ? {} : { reason: decided.reason }),
        ...(token === undefined || !approved
          ? {}
          : {
              approvedParameters: decided.parameters,
              overrideToken: token.token,
              tokenExpiresAt: token.expiresAt,
            }),
      },
    };
    const transition: TransitionRecord = {
      requestId,
      seq: stored.transitions.length + 1,
      from: current.state,
      to: state,
      tier: decided.tier,
      at,
      actor: response.approver,
      reason: approved ? 'approved' : 'denied',
      detail: decisionDetail(decided, request.requirement, rules),
    };
    return { record, votes: [vote], transitions: [transition], result: { requestId, state, accepted: true } };
  }

  async function submit(
    response: SignedApprovalResponse,
    signingBytes: Uint8Array,
  ): Promise<SubmitResponseResult> {
    const { requestId } = response;
    return withLock(requestId, async () => {
      const stored = await load(requestId);
      let principal: Awaited<ReturnType<typeof verifyApprovalResponse>>;
      try {
        principal = await verifyApprovalResponse(nhi, response, signingBytes);
      } catch (error) {
        if (EnablementError.is(error)) await auditRejected(stored.record, response, error, false);
        throw error;
      }
      const earliest = stored.record.createdAt - skewNs;
      const latest = clock.now() + skewNs;
      if (response.respondedAt < earliest || response.respondedAt > latest) {
        throw new EnablementError(
          'OV-400',
          'respondedAt: outside the accepted window (after the request was created, not ahead of the clock)',
        );
      }
      const profile: ApproverProfile = {
        nhi: principal.nhi,
        roles: principal.roles,
        groups: principal.groups,
      };
      try {
        const { result } = await mutate(requestId, (current) => planResponse(current, response, profile));
        return result;
      } catch (error) {
        if (EnablementError.is(error) && error.code === 'OV-403') {
          await auditRejected(stored.record, response, error, true);
        }
        throw error;
      }
    });
  }

  // ------------------------------------------------------------------------------------------
  // Recovery
  // ------------------------------------------------------------------------------------------

  async function recover(): Promise<OversightRecoveryReport> {
    try {
      await nhi.lookup(serviceNhi);
    } catch (cause) {
      throw new EnablementError(
        EnablementError.is(cause) && cause.code === 'PL-410' ? 'PL-410' : 'PL-404',
        `createOversight: the service key ${serviceNhi} must be registered (and active) in NHI`,
        { cause },
      );
    }
    // Subscribe before the scan, so a request created meanwhile by another engine is seen.
    if (store.watch !== undefined && unwatch === undefined) {
      const stop = await store.watch(onStoreChange);
      if (closed) stop();
      else unwatch = stop;
    }
    const open: OversightRequestRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listOpen({
        limit: RECOVERY_PAGE_SIZE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const record of page.records) if (isOpen(record.state)) open.push(record);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    // Deadline order, so overdue deadlines fire in the order they fell due.
    open.sort((a, b) =>
      (a.deadlineAt ?? 0n) < (b.deadlineAt ?? 0n) ? -1 : (a.deadlineAt ?? 0n) > (b.deadlineAt ?? 0n) ? 1 : 0,
    );
    const now = clock.now();
    let overdue = 0;
    for (const record of open) {
      if (closed) break;
      if (!timers.has(record.requestId)) scheduleDeadline(record);
      if (record.deadlineAt !== undefined && record.deadlineAt <= now) overdue++;
    }
    const stale = open.filter((record) => record.notifiedTier < record.tier);
    for (const record of stale) {
      try {
        await notifyTier(record.requestId, record.tier);
      } catch (error) {
        report(error, 'notification', record.requestId);
      }
    }
    if (open.length > 0) {
      logger.info('oversight requests restored', {
        operation: 'start',
        restored: open.length,
        overdue,
        renotified: stale.length,
      });
    }
    return { restored: open.length, overdue, renotified: stale.length };
  }

  function start(): Promise<OversightRecoveryReport> {
    if (closed) return Promise.reject(new EnablementError('PL-503', 'oversight engine is closed'));
    if (started === undefined) {
      const attempt = recover();
      started = attempt;
      // A failed start (e.g. the NHI service down) may be retried by the next call.
      attempt.catch(() => {
        if (started === attempt) started = undefined;
        unwatch?.();
        unwatch = undefined;
      });
    }
    return started;
  }

  async function ready(): Promise<void> {
    assertOpen();
    await start();
  }

  // ------------------------------------------------------------------------------------------
  // The engine
  // ------------------------------------------------------------------------------------------

  const engine: OversightEngine = {
    serviceNhi,

    async createRequest(input: OversightRequestInput): Promise<OversightRequestRef> {
      await ready();
      const parsed = parseRequestInput(input, placeholder);
      const { request } = parsed;
      return withSpan(
        SPAN_NAMES.oversightCreateRequest,
        { [TRACE_ATTRIBUTES.runtimeAgentNhi]: request.agentNhi },
        async (span) => {
          try {
            await nhi.lookup(request.agentNhi);
          } catch (cause) {
            throw new EnablementError(
              EnablementError.is(cause) && cause.code === 'PL-410' ? 'PL-410' : 'PL-404',
              `agentNhi: ${request.agentNhi} is not an active registered principal`,
              { cause },
            );
          }
          const chain = await resolveDelegation(parsed);
          const resourceUri = checkResourceUri(resourceUriOf(request.resource));
          // Spec §9.2 keys on agent + action + resource; the parameters join the key because a
          // token binds them: two calls that differ only in parameters are two approvals.
          const key = composeIdempotencyKey(nobleCryptoProvider, [
            request.agentNhi,
            request.action.name,
            resourceUri,
            overrideTokenArgumentsHash(request.action.parameters),
            ...(parsed.idempotencyKey === undefined ? [] : [parsed.idempotencyKey]),
          ]);
          let created = false;
          const stored = await guard.run(
            { product: 'oversight', operation: 'create_request', key, parameters: null },
            async () => {
              created = true;
              return { requestId: await createNew(parsed, chain, resourceUri) };
            },
          );
          let requestId = stored.requestId as Uuid;
          let state: OversightState = 'PENDING';
          if (!created) {
            const existing = await store.get(requestId);
            if (existing === undefined) {
              // The store forgot a final request the idempotency record still names: a new one.
              requestId = await createNew(parsed, chain, resourceUri);
              created = true;
            } else {
              state = existing.record.state;
            }
          } else {
            state = (await store.get(requestId))?.record.state ?? 'PENDING';
          }
          span.setAttribute(TRACE_ATTRIBUTES.oversightRequestId, requestId);
          span.setAttribute(TRACE_ATTRIBUTES.oversightState, state);
          return { requestId, state, created };
        },
      );
    },

    async awaitApproval(requestId, waitOptions = {}): Promise<OversightOutcome> {
      await ready();
      if (typeof requestId !== 'string') throw new EnablementError('OV-400', 'requestId: expected a string');
      const { timeoutMs, signal } = waitOptions ?? {};
      if (
        timeoutMs !== undefined &&
        (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)
      ) {
        throw new EnablementError(
          'OV-400',
          'timeoutMs: expected a finite, non-negative number of milliseconds',
        );
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new EnablementError('OV-400', 'signal: expected an AbortSignal');
      }
      return withSpan(
        SPAN_NAMES.oversightAwaitApproval,
        { [TRACE_ATTRIBUTES.oversightRequestId]: requestId },
        async (span) => {
          if (signal?.aborted) throw signal.reason;
          const first = await load(requestId);
          const done = outcomeOf(first.record);
          if (done !== undefined) {
            span.setAttribute(TRACE_ATTRIBUTES.oversightState, done.state);
            return done;
          }
          if (waiterCount >= maxWaiters) {
            throw new EnablementError('PL-503', `too many waiters (${maxWaiters})`, {
              retryable: true,
              retryAfterMs: 1000,
            });
          }
          const outcome = await new Promise<OversightOutcome>((resolve, reject) => {
            const waiter: Waiter = { resolve, reject, cleanup: () => undefined };
            let cancelTimer: CancelTimer | undefined;
            const onAbort = () => {
              if (removeWaiter(requestId, waiter)) reject(signal?.reason);
            };
            waiter.cleanup = () => {
              cancelTimer?.();
              signal?.removeEventListener('abort', onAbort);
            };
            let set = waiters.get(requestId);
            if (set === undefined) {
              set = new Set();
              waiters.set(requestId, set);
            }
            set.add(waiter);
            waiterCount++;
            signal?.addEventListener('abort', onAbort, { once: true });
            if (timeoutMs !== undefined) {
              try {
                cancelTimer = scheduler.scheduleAfter(timeoutMs, () => {
                  // Re-read first: another engine on the same store may have decided it.
                  store.get(requestId).then(
                    (latest) => {
                      const decided = latest === undefined ? undefined : outcomeOf(latest.record);
                      if (!removeWaiter(requestId, waiter)) return;
                      if (decided !== undefined) resolve(decided);
                      else {
                        reject(
                          new EnablementError(
                            'OV-408',
                            `no decision on oversight request ${requestId} within ${timeoutMs} ms; it stays pending`,
                          ),
                        );
                      }
                    },
                    (error: unknown) => {
                      if (removeWaiter(requestId, waiter)) reject(error);
                    },
                  );
                });
              } catch (error) {
                removeWaiter(requestId, waiter);
                reject(error);
                return;
              }
            }
            // The decision may have been committed between the first read and registering.
            store.get(requestId).then(
              (latest) => {
                const decided = latest === undefined ? undefined : outcomeOf(latest.record);
                if (decided !== undefined && removeWaiter(requestId, waiter)) resolve(decided);
              },
              () => undefined,
            );
          });
          span.setAttribute(TRACE_ATTRIBUTES.oversightState, outcome.state);
          return outcome;
        },
      );
    },

    async cancelRequest(requestId: string, reason?: string, cancelOptions: CancelRequestOptions = {}) {
      await ready();
      if (typeof requestId !== 'string') throw new EnablementError('OV-400', 'requestId: expected a string');
      if (
        reason !== undefined &&
        (typeof reason !== 'string' || reason.length > MAX_APPROVAL_REASON_LENGTH)
      ) {
        throw new EnablementError(
          'OV-400',
          `reason: expected at most ${MAX_APPROVAL_REASON_LENGTH} characters`,
        );
      }
      const actor = cancelOptions.actor ?? 'caller';
      if (typeof actor !== 'string' || actor.length === 0 || actor.length > 256) {
        throw new EnablementError('OV-400', 'actor: expected 1-256 characters');
      }
      const why = reason === undefined ? undefined : cleanText(reason, MAX_APPROVAL_REASON_LENGTH);
      await withLock(requestId, () =>
        mutate(requestId, async (stored) => {
          const current = stored.record;
          if (!isOpen(current.state)) {
            throw new EnablementError('OV-409', `oversight request ${requestId} is already ${current.state}`);
          }
          const at = await consensusNow();
          return {
            record: {
              ...current,
              version: current.version + 1,
              state: 'CANCELLED',
              deadlineAt: undefined,
              updatedAt: at,
              outcome: {
                decidedAt: at,
                decidedBy: [],
                tier: current.tier,
                ...(why === undefined ? {} : { reason: why }),
              },
            },
            transitions: [
              {
                requestId: current.requestId,
                seq: stored.transitions.length + 1,
                from: current.state,
                to: 'CANCELLED',
                tier: current.tier,
                at,
                actor: cleanText(actor, 256),
                reason: 'cancelled',
                ...(why === undefined ? {} : { detail: why }),
              },
            ],
            result: undefined,
          };
        }),
      );
    },

    async submitResponse(
      input: SignedApprovalResponse | SignedApprovalResponseWire,
    ): Promise<SubmitResponseResult> {
      await ready();
      const { response, signingBytes } = prepareApprovalResponse(input);
      return withSpan(
        SPAN_NAMES.oversightSubmitResponse,
        {
          [TRACE_ATTRIBUTES.oversightRequestId]: response.requestId,
          [TRACE_ATTRIBUTES.oversightApprover]: response.approver,
        },
        async (span) => {
          const result = await submit(response, signingBytes);
          span.setAttribute(TRACE_ATTRIBUTES.oversightState, result.state);
          return result;
        },
      );
    },

    async getRequest(requestId: string): Promise<OversightRequestView> {
      await ready();
      return viewOf(await load(requestId));
    },

    async listRequests(query: ListRequestsQuery = {}): Promise<ListRequestsPage> {
      await ready();
      if (typeof query !== 'object' || query === null)
        throw new EnablementError('OV-400', 'query: expected an object');
      const page = await store.list(query);
      return {
        requests: page.records.map(summaryOf),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },

    onTransition(listener: OversightTransitionListener): () => void {
      if (typeof listener !== 'function')
        throw new EnablementError('OV-400', 'listener: expected a function');
      if (listeners.size >= maxListeners) {
        throw new EnablementError('PL-409', `at most ${maxListeners} transition listeners`);
      }
      const own = (event: OversightTransitionEvent) => listener(event);
      listeners.add(own);
      return () => {
        listeners.delete(own);
      };
    },

    start,

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      unwatch?.();
      unwatch = undefined;
      pendingChanges.clear();
      for (const requestId of [...timers.keys()]) cancelDeadline(requestId);
      const error = new EnablementError('PL-503', 'oversight engine closed while waiting', {
        retryable: true,
      });
      for (const [requestId, set] of [...waiters]) {
        for (const waiter of [...set]) if (removeWaiter(requestId, waiter)) waiter.reject(error);
      }
      if (ownScheduler) scheduler.dispose();
    },

    stats(): OversightEngineStats {
      return {
        timers: timers.size,
        waiters: waiterCount,
        listeners: listeners.size,
        pendingChanges: pendingChanges.size,
        droppedChanges,
      };
    },
  };
  return Object.freeze(engine);
}
