import type { Decimal, DecimalLike } from '../decimal/decimal.js';
import type { DelegationChain } from '../delegation/chain.js';
import type { AgentIdentity } from '../identity/agent-identity.js';
import type { OversightRequirement } from '../wire/oversight.js';

/**
 * A request to the policy engine (spec §3.2 `AuthzRequest`).
 *
 * @example
 * ```ts
 * engine.evaluate({
 *   principal: agent.nhi,
 *   action: 'funds.transfer',
 *   resource: 'payments:account:acme-ops',
 *   context: { amount: 50000, currency: 'USD' },
 * });
 * ```
 */
export interface AuthzRequest {
  /** NHI of the principal asking, e.g. `agent:nhi:ed25519:<base58>`. */
  readonly principal: string;
  /** The action, e.g. `network.egress`, `funds.transfer` (printable ASCII, at most 1024 characters). */
  readonly action: string;
  /** The resource URI, e.g. `network:api.example.com`, `runtime:sandbox:sb-1` (at most 1024 characters). */
  readonly resource: string;
  /**
   * Attributes of this call (JSON), read by conditions as `context.<name>`. They are also the
   * "arguments" an override token binds: a token for `{ amount: 50000 }` does not authorise
   * `{ amount: 50001 }`. Absent means `{}`.
   */
  readonly context?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The delegation chain the principal acts under. Its leaf must be the principal and every link
   * must grant the action on the resource; see {@link PolicyEngine.check} for how a chain becomes
   * trusted.
   */
  readonly delegationChain?: DelegationChain | undefined;
  /**
   * An override token issued by Oversight for this exact call (see `issueOverrideToken`). Only
   * consulted, and only consumed, when a `require_oversight` policy applies.
   */
  readonly overrideToken?: string | undefined;
}

/** The three decisions of the engine. */
export type AuthzDecisionKind = 'allow' | 'deny' | 'requires_oversight';

/** Members every decision has. */
export interface AuthzDecisionBase {
  /** What was decided. */
  readonly decision: AuthzDecisionKind;
  /** Why, in words (logged and shown to operators; never contains secrets). */
  readonly reason: string;
  /** Ids of the policies that determined the decision, in policy-set order; empty for default deny. */
  readonly policyIds: readonly string[];
}

/** The action may proceed. */
export interface AllowDecision extends AuthzDecisionBase {
  /** `allow`. */
  readonly decision: 'allow';
  /** Id of the override token that satisfied a `require_oversight` policy, when one did. */
  readonly overrideTokenId?: string;
}

/** The action is refused. */
export interface DenyDecision extends AuthzDecisionBase {
  /** `deny`. */
  readonly decision: 'deny';
}

/** The action needs human approval first (spec §4.2): ask Oversight, then retry with its override token. */
export interface RequiresOversightDecision extends AuthzDecisionBase {
  /** `requires_oversight`. */
  readonly decision: 'requires_oversight';
  /** The policy whose requirement applies (the first matching `require_oversight` policy). */
  readonly policyId: string;
  /** Approver tiers, quorum, per-tier timeout and final action (the `OversightRequirement` of `../wire/`). */
  readonly requirement: OversightRequirement;
}

/** A decision of the engine (spec §3.2 `AuthzDecision`). Decisions are frozen and may be shared. */
export type AuthzDecision = AllowDecision | DenyDecision | RequiresOversightDecision;

/** The outcomes of a quota check (spec §3.2 `check_quota`, §7.3). */
export type QuotaDecisionKind = 'allow' | 'allow_with_notification' | 'block';

/** The answer of a quota check. */
export interface QuotaDecision {
  /** `allow`, `allow_with_notification` (a threshold was crossed: notify, do not block) or `block`. */
  readonly decision: QuotaDecisionKind;
  /** Usage so far in the quota's period (exact), when a quota applies. */
  readonly usage?: Decimal;
  /** The quota's limit (exact), when a quota applies. */
  readonly limit?: Decimal;
  /** Why, in words. */
  readonly reason: string;
}

/** What a {@link QuotaSource} is asked. */
export interface QuotaQuery {
  /** NHI of the agent. */
  readonly agent: string;
  /** The usage event type, e.g. `inference_tokens`, `sandbox_allocated`. */
  readonly eventType: string;
  /** The amount about to be used, when the caller knows it (exact). */
  readonly amount?: Decimal;
}

/**
 * Where quota answers come from. Metering supplies one (it owns usage and plans); the engine only
 * delegates to it. It may answer synchronously or with a promise.
 */
export interface QuotaSource {
  /** The quota decision for one agent and event type. */
  checkQuota(query: QuotaQuery): QuotaDecision | Promise<QuotaDecision>;
}

/**
 * Attributes of a principal or resource: a JSON-like object read by conditions as
 * `principal.<path>` / `resource.<path>`. Values may also be `bigint` or `Decimal` (compared
 * exactly). Only own properties are read.
 */
export type Attributes = Readonly<Record<string, unknown>>;

/**
 * Synchronous source of a principal's attributes (kind, roles, groups, …), e.g. the NHI registry.
 * Called at most once per evaluation, and on cache hits too when a candidate policy reads
 * `principal.*`, so a changed attribute is seen at once. `undefined` means "no attributes".
 */
export type PrincipalAttributeSource = (principal: string) => Attributes | undefined;

/** Synchronous source of a resource's attributes (owner, labels, …); see {@link PrincipalAttributeSource}. */
export type ResourceAttributeSource = (resource: string) => Attributes | undefined;

/**
 * The authorization port (ARCHITECTURE §2): what products depend on. The in-process engine
 * implements it; a remote client (gRPC, HTTP) can too.
 */
export interface AuthzClient {
  /** Decides a request (spec §3.2 `check`). Rejects with `PL-400` for a malformed request. */
  check(request: AuthzRequest): Promise<AuthzDecision>;
  /** Quota decision for an agent and event type (spec §3.2 `check_quota`). */
  checkQuota(agent: AgentIdentity | string, eventType: string, amount?: DecimalLike): Promise<QuotaDecision>;
}
