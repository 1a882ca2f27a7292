import {
  type AgentKeyPair,
  type AwaitApprovalOptions,
  type CancelTimer,
  type Clock,
  type ConsensusTimestamp,
  type CreateOversightRequestInput,
  canonicalize,
  EnablementError,
  encodeRuntimeOversightRequest,
  issueOverrideToken,
  type JsonValue,
  millisToNanos,
  newUuid,
  type OversightClient,
  type OversightFinalAction,
  type OversightOutcome,
  type OversightRequestRef,
  type OversightState,
  systemClock,
} from '@creto/core';
import { checkBound, checkMs } from './recorder.js';

/**
 * How a {@link FakeOversightClient} decides: `manual` (the test calls `approve` / `deny` /
 * `expire`), or at once on creation: `approve`, `deny`, `expire` (final action `auto_deny`).
 */
export type FakeOversightMode = 'manual' | 'approve' | 'deny' | 'expire';

/** A request the fake received, with where it stands. */
export interface FakeOversightRequest {
  /** Its id (UUID). */
  readonly requestId: string;
  /** What the caller sent. */
  readonly input: CreateOversightRequestInput;
  /** The resource URI a token binds: `<resourceType>:<resourceId>`, as the engine's default. */
  readonly resourceUri: string;
  /** When it was created (the fake's clock). */
  readonly createdAt: ConsensusTimestamp;
  /** Current state. */
  readonly state: OversightState;
  /** The final outcome, once decided. */
  readonly outcome: OversightOutcome | undefined;
}

/** Options of {@link FakeOversightClient.approve}. */
export interface FakeApproveOptions {
  /** "Approve with edits": the parameters the token binds instead of the requested ones. */
  readonly editedParameters?: JsonValue;
  /** NHIs reported as deciders; default `['fake-approver']`. */
  readonly decidedBy?: readonly string[];
  /** The approver's reason. */
  readonly reason?: string;
}

/** Options of {@link FakeOversightClient.deny}. */
export interface FakeDenyOptions {
  /** NHIs reported as deciders; default `['fake-approver']`. */
  readonly decidedBy?: readonly string[];
  /** The reason. */
  readonly reason?: string;
}

/** Options of {@link createFakeOversightClient}. */
export interface FakeOversightClientOptions {
  /** How requests are decided; default `manual`. */
  readonly mode?: FakeOversightMode;
  /**
   * Oversight's service key. With it, approvals carry real override tokens (core
   * `issueOverrideToken`), which a policy engine trusting this key's NHI accepts; without it the
   * token is the placeholder `fake-override-token.<requestId>`, which no engine accepts.
   */
  readonly serviceKey?: AgentKeyPair;
  /** Time for tokens, the 24-hour deduplication and `awaitApproval` timeouts; default the system clock. */
  readonly clock?: Clock;
  /** Validity of issued tokens, ms; default 15 minutes (the engine's default). */
  readonly tokenTtlMs?: number;
  /** Most requests kept; at the bound the oldest decided one is forgotten; all open → `PL-503`. Default 10 000. */
  readonly maxRequests?: number;
  /** Most `awaitApproval` calls waiting at once (`PL-503` beyond); default 10 000. */
  readonly maxWaiters?: number;
}

/** A scripted `OversightClient`: records requests, and decides them when and how the test says. */
export interface FakeOversightClient extends OversightClient {
  /** Every request kept, oldest first. */
  readonly requests: readonly FakeOversightRequest[];
  /** The request with this id; `OV-404` when unknown. */
  get(requestId: string): FakeOversightRequest;
  /** The most recent request, if any. */
  last(): FakeOversightRequest | undefined;
  /**
   * Approves a pending request (default: the most recent open one): waiters resolve `APPROVED`
   * with a token bound to the approved parameters. `OV-409` when it is already final.
   */
  approve(requestId?: string, options?: FakeApproveOptions): OversightOutcome;
  /** Denies a pending request (default: the most recent open one); `OV-409` when final. */
  deny(requestId?: string, options?: FakeDenyOptions): OversightOutcome;
  /**
   * Applies a final action as if every tier had timed out (default `auto_deny`); `auto_approve`
   * issues a token for the requested parameters. `OV-409` when final.
   */
  expire(requestId?: string, finalAction?: OversightFinalAction): OversightOutcome;
  /** Changes how later requests are decided. */
  setMode(mode: FakeOversightMode): void;
}

const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;
const DEDUP_WINDOW_NS = millisToNanos(24 * 3_600_000);
const MODES: readonly FakeOversightMode[] = ['manual', 'approve', 'deny', 'expire'];

interface Entry {
  readonly requestId: string;
  readonly input: CreateOversightRequestInput;
  readonly resourceUri: string;
  readonly createdAt: ConsensusTimestamp;
  readonly dedupKey: string;
  state: OversightState;
  outcome: OversightOutcome | undefined;
}

interface Waiter {
  readonly resolve: (outcome: OversightOutcome) => void;
  readonly reject: (error: unknown) => void;
  readonly cleanup: () => void;
}

const isFinal = (state: OversightState) => state !== 'PENDING' && state !== 'ESCALATED';

/**
 * A fake of core's `OversightClient` port, for unit-testing code that asks for human approval
 * (Runtime's approval gate, Metering's quota notices) without the Oversight engine. It validates
 * requests with the core codec (`OV-400`), deduplicates identical ones for 24 hours as the port
 * says, and decides them by hand (`approve`, `deny`, `expire`) or automatically (`mode`).
 *
 * @example
 * ```ts
 * const serviceKey = AgentKeyPair.generate({ kind: 'service' });
 * const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [serviceKey.identity.nhi] } });
 * const oversight = createFakeOversightClient({ serviceKey, clock });
 * const runtime = createRuntime({ platform, hostKey, oversight });
 * const call = runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50_000 });
 * await clock.advanceAsync(0);
 * oversight.approve(); // the most recent request; a real token bound to { amount: 50000 }
 * await call.result;
 * ```
 */
export function createFakeOversightClient(options: FakeOversightClientOptions = {}): FakeOversightClient {
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function' || typeof clock.schedule !== 'function') {
    throw new EnablementError('PL-400', 'clock: expected a Clock');
  }
  let mode = checkMode(options.mode ?? 'manual');
  const tokenTtlMs =
    options.tokenTtlMs === undefined ? DEFAULT_TOKEN_TTL_MS : checkMs(options.tokenTtlMs, 'tokenTtlMs');
  const maxRequests = checkBound(options.maxRequests ?? 10_000, 'maxRequests');
  const maxWaiters = checkBound(options.maxWaiters ?? 10_000, 'maxWaiters');
  const { serviceKey } = options;
  const entries = new Map<string, Entry>();
  const waiters = new Map<string, Set<Waiter>>();
  let waiting = 0;

  const view = (e: Entry): FakeOversightRequest =>
    Object.freeze({
      requestId: e.requestId,
      input: e.input,
      resourceUri: e.resourceUri,
      createdAt: e.createdAt,
      state: e.state,
      outcome: e.outcome,
    });

  const find = (requestId: string | undefined): Entry => {
    if (requestId === undefined) {
      const open = [...entries.values()].filter((e) => !isFinal(e.state)).at(-1);
      if (open === undefined) throw new EnablementError('OV-404', 'no open oversight request');
      return open;
    }
    const entry = entries.get(requestId);
    if (entry === undefined) throw new EnablementError('OV-404', `unknown oversight request ${requestId}`);
    return entry;
  };

  const token = (e: Entry, parameters: JsonValue): string =>
    serviceKey === undefined
      ? `fake-override-token.${e.requestId}`
      : issueOverrideToken({
          signer: serviceKey,
          principal: e.input.agentNhi,
          action: e.input.action.name,
          resource: e.resourceUri,
          arguments: parameters,
          expiresAt: clock.now() + millisToNanos(Math.max(tokenTtlMs, 1)),
          requestId: e.requestId,
          clock,
        });

  const assertOpen = (e: Entry): void => {
    if (isFinal(e.state)) {
      throw new EnablementError('OV-409', `oversight request ${e.requestId} is already ${e.state}`);
    }
  };

  const settle = (e: Entry, outcome: OversightOutcome): OversightOutcome => {
    assertOpen(e);
    e.state = outcome.state;
    e.outcome = Object.freeze(outcome);
    const set = waiters.get(e.requestId);
    waiters.delete(e.requestId);
    for (const waiter of set ?? []) {
      waiter.cleanup();
      waiter.resolve(e.outcome);
    }
    return e.outcome;
  };

  const approve = (e: Entry, approval: FakeApproveOptions = {}): OversightOutcome => {
    assertOpen(e);
    const approvedParameters = approval.editedParameters ?? (e.input.action.parameters as JsonValue);
    return settle(e, {
      state: 'APPROVED',
      requestId: e.requestId,
      overrideToken: token(e, approvedParameters),
      approvedParameters,
      decidedBy: [...(approval.decidedBy ?? ['fake-approver'])],
      ...(approval.reason === undefined ? {} : { reason: approval.reason }),
    });
  };

  const deny = (e: Entry, denial: FakeDenyOptions = {}): OversightOutcome =>
    settle(e, {
      state: 'DENIED',
      requestId: e.requestId,
      decidedBy: [...(denial.decidedBy ?? ['fake-approver'])],
      ...(denial.reason === undefined ? {} : { reason: denial.reason }),
    });

  const expire = (e: Entry, finalAction: OversightFinalAction = 'auto_deny'): OversightOutcome => {
    if (finalAction !== 'auto_approve') {
      return settle(e, { state: 'EXPIRED', requestId: e.requestId, finalAction });
    }
    assertOpen(e);
    const approvedParameters = e.input.action.parameters as JsonValue;
    return settle(e, {
      state: 'EXPIRED',
      requestId: e.requestId,
      finalAction,
      overrideToken: token(e, approvedParameters),
      approvedParameters,
    });
  };

  const makeRoom = () => {
    if (entries.size < maxRequests) return;
    for (const [id, e] of entries) {
      if (isFinal(e.state)) {
        entries.delete(id);
        return;
      }
    }
    throw new EnablementError('PL-503', `fake oversight: ${maxRequests} open requests`, { retryable: true });
  };

  return {
    get requests() {
      return Object.freeze([...entries.values()].map(view));
    },
    get: (requestId) => view(find(requestId)),
    last() {
      const e = [...entries.values()].at(-1);
      return e === undefined ? undefined : view(e);
    },
    async createRequest(input: CreateOversightRequestInput): Promise<OversightRequestRef> {
      if (typeof input !== 'object' || input === null) {
        throw new EnablementError('OV-400', 'createRequest: expected a request object');
      }
      const { blocking: _blocking, traceId: _traceId, ...request } = input;
      encodeRuntimeOversightRequest(request); // OV-400 naming the field, as the engine does
      const resourceUri = `${input.resource.resourceType}:${input.resource.resourceId}`;
      const dedupKey = canonicalize([
        input.agentNhi,
        input.action.name,
        resourceUri,
        input.action.parameters as JsonValue,
      ]);
      const now = clock.now();
      for (const e of entries.values()) {
        if (e.dedupKey === dedupKey && now - e.createdAt < DEDUP_WINDOW_NS) {
          return Object.freeze({ requestId: e.requestId, state: e.state, created: false });
        }
      }
      makeRoom();
      const entry: Entry = {
        requestId: newUuid(),
        input: Object.freeze({ ...input }),
        resourceUri,
        createdAt: now,
        dedupKey,
        state: 'PENDING',
        outcome: undefined,
      };
      entries.set(entry.requestId, entry);
      if (mode === 'approve') approve(entry);
      else if (mode === 'deny') deny(entry);
      else if (mode === 'expire') expire(entry);
      return Object.freeze({ requestId: entry.requestId, state: entry.state, created: true });
    },
    awaitApproval(requestId: string, waitOptions: AwaitApprovalOptions = {}): Promise<OversightOutcome> {
      let entry: Entry;
      try {
        entry = find(String(requestId));
      } catch (error) {
        return Promise.reject(error);
      }
      if (entry.outcome !== undefined) return Promise.resolve(entry.outcome);
      if (waiting >= maxWaiters) {
        return Promise.reject(
          new EnablementError('PL-503', `fake oversight: ${maxWaiters} waiters`, { retryable: true }),
        );
      }
      const { timeoutMs, signal } = waitOptions;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<OversightOutcome>((resolve, reject) => {
        let cancelTimer: CancelTimer | undefined;
        const onAbort = () => fail(signal?.reason);
        const set = waiters.get(entry.requestId) ?? new Set<Waiter>();
        const waiter: Waiter = {
          resolve,
          reject,
          cleanup: () => {
            waiting--;
            cancelTimer?.();
            signal?.removeEventListener('abort', onAbort);
          },
        };
        const fail = (error: unknown) => {
          if (!set.delete(waiter)) return;
          waiter.cleanup();
          reject(error);
        };
        set.add(waiter);
        waiters.set(entry.requestId, set);
        waiting++;
        signal?.addEventListener('abort', onAbort, { once: true });
        if (timeoutMs !== undefined) {
          const ms = checkMs(timeoutMs, 'timeoutMs');
          cancelTimer = clock.schedule(clock.now() + millisToNanos(ms), () =>
            fail(
              new EnablementError(
                'OV-408',
                `awaitApproval: no decision on ${entry.requestId} within ${ms} ms`,
                {
                  retryable: true,
                },
              ),
            ),
          );
        }
      });
    },
    async cancelRequest(requestId: string, reason?: string): Promise<void> {
      const entry = find(String(requestId));
      settle(entry, {
        state: 'CANCELLED',
        requestId: entry.requestId,
        ...(reason === undefined ? {} : { reason }),
      });
    },
    approve: (requestId, approval) => approve(find(requestId), approval),
    deny: (requestId, denial) => deny(find(requestId), denial),
    expire: (requestId, finalAction) => expire(find(requestId), finalAction),
    setMode(next: FakeOversightMode) {
      mode = checkMode(next);
    },
  };
}

function checkMode(mode: unknown): FakeOversightMode {
  if (!MODES.includes(mode as FakeOversightMode)) {
    throw new EnablementError('PL-400', `mode: expected one of ${MODES.join(', ')}`);
  }
  return mode as FakeOversightMode;
}
