import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { canonicalBytes } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { Decimal, type DecimalLike } from '../decimal/decimal.js';
import { DelegationChain, MAX_CHAIN_LINKS } from '../delegation/chain.js';
import {
  createRevocationList,
  DEFAULT_REVOCATION_LIST_MAX_ENTRIES,
  MAX_REVOCATION_LIST_ENTRIES,
  type RevocationChecker,
  type RevocationRef,
  type SyncRevocationChecker,
} from '../delegation/revocation.js';
import { bytesToBase64url, bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { parseNhi } from '../identity/nhi.js';
import { type Clock, systemClock } from '../time/clock.js';
import { type AttributeReader, AttributeRoot, readPath } from './attributes.js';
import { encodeAttributeKey } from './cache-key.js';
import type { ConditionTest } from './compile.js';
import {
  createOverrideTokenValidator,
  DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS,
  MAX_TRUSTED_OVERRIDE_ISSUERS,
  type OverrideTokenCall,
  type OverrideTokenClaims,
  type OverrideTokenValidator,
} from './override-token.js';
import { DecisionCache, type DecisionMap, PlanCache } from './plan-cache.js';
import { formatPath, type NormalizedPolicy, type Policy, parsePolicies, parsePolicy } from './policy.js';
import { PolicyIndex } from './policy-index.js';
import { hasNoControlCharacters, NHI_SHAPE, PRINTABLE } from './text.js';
import type {
  AllowDecision,
  AuthzClient,
  AuthzDecision,
  AuthzRequest,
  DenyDecision,
  PrincipalAttributeSource,
  QuotaDecision,
  QuotaSource,
  RequiresOversightDecision,
  ResourceAttributeSource,
} from './types.js';

/** Default bound of each of the two decision caches (plans and attribute-dependent decisions). */
export const DEFAULT_AUTHZ_CACHE_SIZE = 10_000;

/** Largest `cacheSize` accepted. */
export const MAX_AUTHZ_CACHE_SIZE = 1_000_000;

/** Default bound of the trusted-chain cache (chains validated, by chain id). */
export const DEFAULT_MAX_TRUSTED_CHAINS = 10_000;

/** Longest action or resource in a request (the delegation pattern language's `MAX_VALUE_LENGTH`). */
export const MAX_REQUEST_FIELD_LENGTH = 1024;

/** Delegation settings of {@link PolicyEngineOptions}. */
export interface PolicyEngineDelegationOptions {
  /** NHIs allowed to root a chain (see `DelegationChain.validate`); any human/service root when absent. */
  readonly trustedRoots?: readonly string[];
  /** Longest chain accepted; default `DEFAULT_MAX_CHAIN_LENGTH` (16). */
  readonly maxLength?: number;
  /**
   * The host's revocation port (e.g. the NHI registry), consulted when a chain is validated, on top
   * of the engine's own list ({@link PolicyEngine.revoke}). If it answers with promises, chains
   * can only be validated by {@link PolicyEngine.check} / {@link PolicyEngine.validateChain}.
   */
  readonly revocation?: RevocationChecker;
  /** Most validated chains remembered by id; default {@link DEFAULT_MAX_TRUSTED_CHAINS}. */
  readonly maxTrustedChains?: number;
}

/** Options of {@link createPolicyEngine}; validated, a bad one throws `PL-400` naming it. */
export interface PolicyEngineOptions {
  /** The initial policy set (see `Policy`); default none (everything is denied). */
  readonly policies?: readonly Policy[];
  /** Time source (chain and token expiry); default `systemClock`. */
  readonly clock?: Clock;
  /** Hashing and signature verification; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** Attributes of principals (`principal.*` in conditions); none by default. */
  readonly principalAttributes?: PrincipalAttributeSource;
  /** Attributes of resources (`resource.*` in conditions); none by default. */
  readonly resourceAttributes?: ResourceAttributeSource;
  /** Where quota answers come from (Metering); by default there are no quotas and everything is allowed. */
  readonly quotaSource?: QuotaSource;
  /** NHIs whose override tokens are accepted (Oversight's service identity); none by default. */
  readonly overrideTokenIssuers?: readonly string[];
  /** Bound of the override-token use table; default {@link DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS}. */
  readonly maxTrackedOverrideTokens?: number;
  /**
   * Bound of each decision cache, in entries; default {@link DEFAULT_AUTHZ_CACHE_SIZE}, `0`
   * disables caching. There are two LRU caches of this size: plans (per principal, action,
   * resource and chain) and attribute-dependent decisions.
   */
  readonly cacheSize?: number;
  /** Delegation-chain settings. */
  readonly delegation?: PolicyEngineDelegationOptions;
  /** Bound of the engine's own revocation list; default `DEFAULT_REVOCATION_LIST_MAX_ENTRIES`. */
  readonly maxRevocations?: number;
}

/** Counters and sizes of an engine, for monitoring and tests. */
export interface PolicyEngineStats {
  /** Policy-set version (bumped by every policy change). */
  readonly version: number;
  /** Revocation epoch (bumped by every revocation and `invalidate()`). */
  readonly revocationEpoch: number;
  /** Number of policies. */
  readonly policies: number;
  /** Decisions served from the cache. */
  readonly hits: number;
  /** Decisions computed (cache misses, uncacheable requests, requests with override tokens). */
  readonly misses: number;
  /** Entries in the plan cache. */
  readonly cachedPlans: number;
  /** Entries in the attribute-dependent decision cache. */
  readonly cachedDecisions: number;
  /** Chains currently trusted by id. */
  readonly trustedChains: number;
  /** Override tokens tracked (verified payloads with use counts). */
  readonly trackedOverrideTokens: number;
}

/**
 * The in-process authorization engine (spec §3.2, ARCHITECTURE §4 authz). It implements the
 * {@link AuthzClient} port and adds the synchronous hot path.
 */
export interface PolicyEngine extends AuthzClient {
  /**
   * Decides synchronously (the 168 ns path on a cache hit). A delegation chain must already be
   * trusted, or be validatable synchronously (see docs/authz.md "Delegation chains"); otherwise
   * the answer is `deny` with a reason saying to call {@link PolicyEngine.check}. Throws `PL-400`
   * for a malformed request, `PL-503` when an attribute source fails, and the token's error
   * (`PL-400`, `PL-401`, `PL-403`, `OV-410`) when an override token is needed and invalid.
   */
  evaluate(request: AuthzRequest): AuthzDecision;
  /** {@link PolicyEngine.evaluate}, after validating the request's delegation chain asynchronously if needed. */
  check(request: AuthzRequest): Promise<AuthzDecision>;
  /**
   * Validates a delegation chain (signatures, alignment, time, attenuation, revocation) and trusts
   * it, by id, until its earliest link expiry or the next revocation. Rejects with the chain's error.
   */
  validateChain(chain: DelegationChain): Promise<void>;
  /** Replaces the policy set (all or nothing; `PL-400` naming the path of the first error). Returns the new version. */
  setPolicies(policies: readonly Policy[]): number;
  /** Adds one policy (`PL-400` if invalid, `PL-409` if its id exists). Returns the new version. */
  addPolicy(policy: Policy): number;
  /** Removes a policy by id; false (and no version bump) when there is none. */
  removePolicy(id: string): boolean;
  /** The current policies, normalized and frozen, in set order. */
  readonly policies: readonly NormalizedPolicy[];
  /** The policy-set version. */
  readonly version: number;
  /**
   * Revokes a principal (NHI string) or a delegation link (`{ kind: 'link', id }`): requests from a
   * revoked principal are denied, and chains through it or the link stop validating. Every cached
   * decision and chain trust is dropped. This is the hook the NHI registry calls on revocation.
   */
  revoke(target: string | RevocationRef): void;
  /**
   * Drops every cached decision and chain trust (bumping the revocation epoch). For hosts whose
   * own revocation port changed, or whose attribute sources changed in a way they want seen
   * without waiting (attribute sources are read on every request anyway).
   */
  invalidate(): void;
  /** Validates an override token for a call and consumes one use (see `OverrideTokenValidator.validate`). */
  validateOverrideToken(token: string, call: OverrideTokenCall): OverrideTokenClaims;
  /** Counters and sizes. */
  stats(): PolicyEngineStats;
}

const EVENT_TYPE = /^[\x21-\x7E]{1,128}$/;

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

const isFunction = (value: unknown): boolean => typeof value === 'function';
const hasMethods =
  (...names: string[]) =>
  (value: unknown): boolean =>
    typeof value === 'object' &&
    value !== null &&
    names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

const optionsSchema = z.strictObject({
  policies: z.array(z.unknown()).optional(),
  clock: z.custom<Clock>(hasMethods('now', 'schedule'), 'expected a Clock').optional(),
  provider: z
    .custom<CryptoProvider>(hasMethods('sha256', 'randomBytes'), 'expected a CryptoProvider')
    .optional(),
  principalAttributes: z.custom<PrincipalAttributeSource>(isFunction, 'expected a function').optional(),
  resourceAttributes: z.custom<ResourceAttributeSource>(isFunction, 'expected a function').optional(),
  quotaSource: z.custom<QuotaSource>(hasMethods('checkQuota'), 'expected a QuotaSource').optional(),
  overrideTokenIssuers: z.array(z.string()).max(MAX_TRUSTED_OVERRIDE_ISSUERS).optional(),
  maxTrackedOverrideTokens: z.number().int().min(1).max(10_000_000).optional(),
  cacheSize: z.number().int().min(0).max(MAX_AUTHZ_CACHE_SIZE).optional(),
  delegation: z
    .strictObject({
      trustedRoots: z.array(z.string()).max(1024).optional(),
      maxLength: z.number().int().min(1).max(MAX_CHAIN_LINKS).optional(),
      revocation: z
        .custom<RevocationChecker>(hasMethods('isRevoked'), 'expected a RevocationChecker')
        .optional(),
      maxTrustedChains: z.number().int().min(1).max(MAX_AUTHZ_CACHE_SIZE).optional(),
    })
    .optional(),
  maxRevocations: z.number().int().min(1).max(MAX_REVOCATION_LIST_ENTRIES).optional(),
});

/** A candidate policy of a plan, with the plan slots of its condition's paths. */
interface Candidate {
  readonly id: string;
  readonly policy: NormalizedPolicy;
  readonly test: ConditionTest | undefined;
  readonly slots: readonly number[];
}

/**
 * What a (principal, action, resource, chain) needs: the candidate policies (patterns already
 * matched) and the attribute paths their conditions read. When they read none, the decision
 * itself (`fixed`).
 */
interface Plan {
  /** Unique per plan (for debugging and ordering; the decision maps below hang off the plan). */
  readonly id: number;
  /** The engine generation the plan was built in. */
  readonly gen: number;
  /** Set once, when the plan is built, for a plan whose decision depends on no attribute. */
  fixed: AuthzDecision | undefined;
  readonly readers: readonly AttributeReader[];
  readonly forbids: readonly Candidate[];
  readonly oversights: readonly Candidate[];
  readonly permits: readonly Candidate[];
  readonly action: string;
  readonly resource: string;
  /**
   * This plan's attribute-dependent decisions keyed by one primitive value (see `DecisionCache`).
   * Created on first use: a plan whose decision is fixed never needs one, and a miss should
   * allocate little.
   */
  primitiveDecisions: DecisionMap<AuthzDecision> | undefined;
  /** The same, keyed by `encodeAttributeKey` (apart: a string value could spell an encoding). */
  encodedDecisions: DecisionMap<AuthzDecision> | undefined;
}

/** A chain the engine trusts. */
interface ChainTrust {
  readonly id: string;
  readonly leaf: string;
  /** Earliest `expiresAt` of the links. */
  readonly expiresAt: bigint;
  /** The revocation epoch it was validated in. */
  readonly epoch: number;
}

const EMPTY: readonly unknown[] = Object.freeze([]);
const UNSET: unique symbol = Symbol('unset');
/** Thrown by the sync revocation adapter when the host's port answers with a promise. */
const NEEDS_ASYNC: unique symbol = Symbol('needs async revocation');
/** Decision-cache key of a single missing attribute. */
const MISSING: unique symbol = Symbol('missing attribute');

function freezeDecision<T extends AuthzDecision>(decision: T): T {
  Object.freeze(decision.policyIds);
  return Object.freeze(decision);
}

function deny(reason: string, policyIds: readonly string[] = []): DenyDecision {
  return freezeDecision({ decision: 'deny', reason, policyIds: [...policyIds] });
}

/**
 * Chain id: hex SHA-256 of the RFC 8785 form of its links, signatures included. Equal ids mean
 * byte-identical links, so a chain decoded again from the wire is recognised without verifying
 * its signatures a second time.
 */
function chainIdOf(chain: DelegationChain, provider: CryptoProvider): string {
  const links = chain.links.map((link) => ({
    issuer: link.issuer,
    subject: link.subject,
    capabilities: link.capabilities.map((c) => ({ action: c.action, resource: c.resource })),
    not_before: link.notBefore.toString(),
    expires_at: link.expiresAt.toString(),
    nonce: bytesToBase64url(link.nonce),
    signature: bytesToBase64url(link.signature),
  }));
  return bytesToHex(provider.sha256(canonicalBytes(links)));
}

/**
 * The decision-cache key of a single attribute value when it is a primitive: the value itself (Map
 * keys compare by SameValueZero, which the conditions agree with: `0` and `-0` decide alike), so
 * nothing is built or hashed beyond the value. `undefined` for anything else, which is keyed by
 * the injective string of `encodeAttributeKey` in a separate map (a string value could otherwise
 * spell an encoded array).
 */
function primitiveKeyOf(values: readonly unknown[]): unknown {
  if (values.length !== 1) return undefined;
  const value = values[0];
  const type = typeof value;
  if (type === 'number' || type === 'string' || type === 'boolean' || type === 'bigint') return value;
  if (value === null) return null;
  return value === undefined ? MISSING : undefined;
}

function earliestExpiry(chain: DelegationChain): bigint {
  let earliest: bigint | undefined;
  for (const link of chain.links)
    if (earliest === undefined || link.expiresAt < earliest) earliest = link.expiresAt;
  return earliest ?? 0n;
}

/**
 * Creates the in-process policy engine (spec §3.2). See docs/authz.md for the policy format,
 * the combination rules, the cache and the override tokens.
 *
 * @example
 * ```ts
 * const engine = createPolicyEngine({
 *   policies: [
 *     { id: 'egress-api', effect: 'permit', action: 'network.egress', resource: 'network:api.example.com' },
 *     { id: 'no-exfil', effect: 'forbid', action: 'network.egress', resource: 'network:*.pastebin.com' },
 *   ],
 *   principalAttributes: (nhi) => registry.attributesOf(nhi),
 *   overrideTokenIssuers: [oversightNhi],
 * });
 * engine.evaluate({ principal: agentNhi, action: 'network.egress', resource: 'network:api.example.com' });
 * // { decision: 'allow', reason: 'permitted by policy egress-api', policyIds: ['egress-api'] }
 * ```
 */
export function createPolicyEngine(options: PolicyEngineOptions = {}): PolicyEngine {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(formatPath('options', issue?.path ?? []), issue?.message ?? 'invalid options');
  }
  const opts = parsed.data;
  const clock = opts.clock ?? systemClock;
  const provider = opts.provider ?? nobleCryptoProvider;
  const principalSource = opts.principalAttributes;
  const resourceSource = opts.resourceAttributes;
  const quotaSource = opts.quotaSource;
  const cacheSize = opts.cacheSize ?? DEFAULT_AUTHZ_CACHE_SIZE;
  const delegation = opts.delegation ?? {};
  const hostRevocation = delegation.revocation;
  delegation.trustedRoots?.forEach((nhi, i) => {
    parseNhi(nhi, `options.delegation.trustedRoots[${i}]`);
  });
  const tokens: OverrideTokenValidator = createOverrideTokenValidator({
    trustedIssuers: (opts.overrideTokenIssuers ?? []).map((nhi, i) => {
      parseNhi(nhi, `options.overrideTokenIssuers[${i}]`);
      return nhi;
    }),
    clock,
    provider,
    maxTrackedTokens: opts.maxTrackedOverrideTokens ?? DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS,
  });
  const revocations = createRevocationList({
    maxEntries: opts.maxRevocations ?? DEFAULT_REVOCATION_LIST_MAX_ENTRIES,
  });

  let policies = parsePolicies(opts.policies ?? [], 'policies');
  let index = new PolicyIndex(policies);
  let version = 1;
  /** Revocation epoch: chain trust from an older epoch is void. */
  let epoch = 0;
  /** Bumped by every policy change and revocation: plans from an older generation are void. */
  let gen = 0;
  let nextPlanId = 0;
  let hits = 0;
  let misses = 0;

  const plans = cacheSize > 0 ? new PlanCache<Plan>(cacheSize) : undefined;
  const decisions = cacheSize > 0 ? new DecisionCache<AuthzDecision>(cacheSize) : undefined;
  let trustByChain = new WeakMap<DelegationChain, ChainTrust>();
  const trustById = new LRUCache<string, ChainTrust>({
    max: delegation.maxTrustedChains ?? DEFAULT_MAX_TRUSTED_CHAINS,
  });

  /** Forgets every cached decision and every chain trust. */
  function bump(revocation: boolean): void {
    gen++;
    if (revocation) epoch++;
    plans?.clear();
    decisions?.clear();
    if (revocation) {
      trustById.clear();
      trustByChain = new WeakMap();
    }
  }

  // ------------------------------------------------------------------ delegation chains

  const syncRevocation: SyncRevocationChecker = {
    isRevoked(ref: RevocationRef): boolean {
      if (revocations.isRevoked(ref)) return true;
      if (hostRevocation === undefined) return false;
      const answer: unknown = hostRevocation.isRevoked(ref);
      if (answer instanceof Promise) {
        answer.catch(() => undefined); // never leave an unhandled rejection behind
        throw NEEDS_ASYNC;
      }
      return answer as boolean;
    },
  };

  const asyncRevocation: RevocationChecker = {
    isRevoked(ref: RevocationRef): boolean | Promise<boolean> {
      if (revocations.isRevoked(ref)) return true;
      return hostRevocation === undefined ? false : hostRevocation.isRevoked(ref);
    },
  };

  const chainOptions = {
    clock,
    provider,
    ...(delegation.maxLength === undefined ? {} : { maxLength: delegation.maxLength }),
    ...(delegation.trustedRoots === undefined ? {} : { trustedRoots: delegation.trustedRoots }),
  };

  /** The chain's trust if it is valid now, looking it up by object, then by id. */
  function trustedNow(chain: DelegationChain, now: bigint): ChainTrust | undefined {
    const known = trustByChain.get(chain);
    if (known !== undefined && known.epoch === epoch && now < known.expiresAt) return known;
    return undefined;
  }

  function trustByIdNow(chain: DelegationChain, now: bigint): { id: string; trust: ChainTrust | undefined } {
    const id = chainIdOf(chain, provider);
    const trust = trustById.get(id);
    if (trust !== undefined && trust.epoch === epoch && now < trust.expiresAt) {
      trustByChain.set(chain, trust);
      return { id, trust };
    }
    return { id, trust: undefined };
  }

  function remember(chain: DelegationChain, id: string, validatedEpoch: number): ChainTrust {
    const trust: ChainTrust = Object.freeze({
      id,
      leaf: chain.current().nhi,
      expiresAt: earliestExpiry(chain),
      epoch: validatedEpoch,
    });
    if (validatedEpoch === epoch) {
      trustById.set(id, trust);
      trustByChain.set(chain, trust);
    }
    return trust;
  }

  /** Turns a chain validation failure into a denial, or rethrows what is not the chain's fault. */
  function chainDenial(error: unknown): DenyDecision {
    if (
      EnablementError.is(error) &&
      (error.code === 'PL-401' || error.code === 'PL-403' || error.code === 'PL-410')
    ) {
      return deny(`delegation chain rejected: ${error.message}`);
    }
    throw error;
  }

  /** Sync trust: known, or validated now with `validateSync`; else a denial. */
  function trustSync(chain: DelegationChain): ChainTrust | DenyDecision {
    const now = clock.now();
    const known = trustedNow(chain, now);
    if (known !== undefined) return known;
    const { id, trust } = trustByIdNow(chain, now);
    if (trust !== undefined) return trust;
    const startEpoch = epoch;
    try {
      chain.validateSync({ ...chainOptions, revocation: syncRevocation });
    } catch (error) {
      if (EnablementError.is(error) && error.cause === NEEDS_ASYNC) {
        return deny(
          'delegation chain not validated: the revocation port is asynchronous; call check() or validateChain() first',
        );
      }
      return chainDenial(error);
    }
    return remember(chain, id, startEpoch);
  }

  async function validateChain(chain: DelegationChain): Promise<void> {
    if (!(chain instanceof DelegationChain)) throw bad('chain', 'expected a DelegationChain');
    const now = clock.now();
    if (trustedNow(chain, now) !== undefined) return;
    const { id, trust } = trustByIdNow(chain, now);
    if (trust !== undefined) return;
    const startEpoch = epoch;
    await chain.validate({ ...chainOptions, revocation: asyncRevocation });
    remember(chain, id, startEpoch);
  }

  // ------------------------------------------------------------------ plans and decisions

  function checkRequestFields(principal: string, action: string, resource: string): void {
    if (!NHI_SHAPE.test(principal)) throw bad('principal', 'expected an NHI (<kind>:nhi:ed25519:<base58>)');
    if (action.length === 0 || action.length > MAX_REQUEST_FIELD_LENGTH || !PRINTABLE.test(action)) {
      throw bad('action', `expected 1-${MAX_REQUEST_FIELD_LENGTH} printable ASCII characters`);
    }
    if (
      resource.length === 0 ||
      resource.length > MAX_REQUEST_FIELD_LENGTH ||
      !hasNoControlCharacters(resource)
    ) {
      throw bad('resource', `expected 1-${MAX_REQUEST_FIELD_LENGTH} characters without control characters`);
    }
  }

  function newPlan(
    action: string,
    resource: string,
    fixed: AuthzDecision | undefined,
    readers: readonly AttributeReader[],
    forbids: readonly Candidate[],
    oversights: readonly Candidate[],
    permits: readonly Candidate[],
  ): Plan {
    // One literal shape for every plan keeps the hot path's property reads monomorphic.
    return {
      id: nextPlanId++,
      gen,
      fixed,
      readers,
      forbids,
      oversights,
      permits,
      action,
      resource,
      primitiveDecisions: undefined,
      encodedDecisions: undefined,
    };
  }

  function buildPlan(
    principal: string,
    action: string,
    resource: string,
    trust: ChainTrust | undefined,
    chain: DelegationChain | undefined,
  ): Plan {
    checkRequestFields(principal, action, resource);
    const fixed = (decision: AuthzDecision): Plan => newPlan(action, resource, decision, [], [], [], []);
    if (revocations.isRevoked({ kind: 'principal', nhi: principal })) {
      return fixed(deny(`principal ${principal} is revoked`));
    }
    if (trust !== undefined && chain !== undefined) {
      if (trust.leaf !== principal) {
        return fixed(deny(`delegation chain leaf ${trust.leaf} is not the principal ${principal}`));
      }
      if (!chain.allows(action, resource)) {
        return fixed(deny(`delegation chain does not grant ${action} on ${resource}`));
      }
    }
    const readers: AttributeReader[] = [];
    const forbids: Candidate[] = [];
    const oversights: Candidate[] = [];
    const permits: Candidate[] = [];
    for (const compiled of index.candidates(principal, action, resource)) {
      // Map the policy's own paths onto the plan's slots (one slot per distinct path).
      const slots: number[] = [];
      for (const reader of compiled.readers) {
        let slot = readers.findIndex((r) => r.path === reader.path);
        if (slot === -1) slot = readers.push(reader) - 1;
        slots.push(slot);
      }
      const candidate: Candidate = {
        id: compiled.id,
        policy: compiled.policy,
        test: compiled.condition?.test,
        slots,
      };
      if (compiled.effect === 'forbid') forbids.push(candidate);
      else if (compiled.effect === 'require_oversight') oversights.push(candidate);
      else permits.push(candidate);
    }
    const plan = newPlan(action, resource, undefined, readers, forbids, oversights, permits);
    if (readers.length === 0) plan.fixed = decide(plan, EMPTY);
    return plan;
  }

  function decide(plan: Plan, values: readonly unknown[]): AuthzDecision {
    const matching = (candidates: readonly Candidate[]): Candidate[] => {
      const out: Candidate[] = [];
      for (const c of candidates) if (c.test === undefined || c.test(values, c.slots)) out.push(c);
      return out;
    };
    const forbidden = matching(plan.forbids);
    if (forbidden.length > 0) {
      const ids = forbidden.map((c) => c.id);
      return deny(`forbidden by policy ${ids.join(', ')}`, ids);
    }
    const oversight = matching(plan.oversights);
    const first = oversight[0];
    if (first !== undefined && first.policy.requirement !== undefined) {
      const decision: RequiresOversightDecision = {
        decision: 'requires_oversight',
        reason: `requires oversight by policy ${first.id}`,
        policyIds: oversight.map((c) => c.id),
        policyId: first.id,
        requirement: first.policy.requirement,
      };
      return freezeDecision(decision);
    }
    const permitted = matching(plan.permits);
    if (permitted.length > 0) {
      const ids = permitted.map((c) => c.id);
      const decision: AllowDecision = {
        decision: 'allow',
        reason: `permitted by policy ${ids.join(', ')}`,
        policyIds: ids,
      };
      return freezeDecision(decision);
    }
    return deny(`no policy permits ${plan.action} on ${plan.resource} (default deny)`);
  }

  /** Reads, once, every attribute the plan's conditions use. */
  function readValues(plan: Plan, request: AuthzRequest): unknown[] {
    const { principal, resource, context } = request;
    const readers = plan.readers;
    const values = new Array<unknown>(readers.length);
    let principalAttrs: unknown = UNSET;
    let resourceAttrs: unknown = UNSET;
    for (let i = 0; i < readers.length; i++) {
      const reader = readers[i] as AttributeReader;
      if (reader.builtin !== undefined) {
        values[i] = reader.builtin(principal, resource);
        continue;
      }
      let base: unknown;
      if (reader.root === AttributeRoot.Context) base = context;
      else if (reader.root === AttributeRoot.Principal) {
        if (principalAttrs === UNSET)
          principalAttrs = callSource(principalSource, principal, 'principalAttributes');
        base = principalAttrs;
      } else {
        if (resourceAttrs === UNSET)
          resourceAttrs = callSource(resourceSource, resource, 'resourceAttributes');
        base = resourceAttrs;
      }
      try {
        values[i] = readPath(base, reader.segments);
      } catch (cause) {
        throw new EnablementError('PL-400', `reading attribute ${reader.segments.join('.')} threw`, {
          cause,
        });
      }
    }
    return values;
  }

  function callSource(source: ((key: string) => unknown) | undefined, key: string, name: string): unknown {
    if (source === undefined) return undefined;
    try {
      return source(key);
    } catch (cause) {
      if (EnablementError.is(cause)) throw cause;
      throw new EnablementError('PL-503', `${name} source failed`, { cause, retryable: true });
    }
  }

  function checkShape(request: AuthzRequest): void {
    if (typeof request !== 'object' || request === null) throw bad('request', 'expected an object');
    if (typeof request.principal !== 'string') throw bad('principal', 'expected an NHI string');
    if (typeof request.action !== 'string') throw bad('action', 'expected a string');
    if (typeof request.resource !== 'string') throw bad('resource', 'expected a string');
    const { context, delegationChain, overrideToken } = request;
    if (
      context !== undefined &&
      (typeof context !== 'object' || context === null || Array.isArray(context))
    ) {
      throw bad('context', 'expected an object');
    }
    if (delegationChain !== undefined && !(delegationChain instanceof DelegationChain)) {
      throw bad('delegationChain', 'expected a DelegationChain');
    }
    if (overrideToken !== undefined && typeof overrideToken !== 'string') {
      throw bad('overrideToken', 'expected a string');
    }
  }

  /** Decides without reading or writing any cache (override tokens, `cacheSize: 0`). */
  function decideFresh(request: AuthzRequest, trust: ChainTrust | undefined): AuthzDecision {
    misses++;
    const plan = buildPlan(
      request.principal,
      request.action,
      request.resource,
      trust,
      request.delegationChain,
    );
    if (plan.fixed !== undefined) return plan.fixed;
    const values = readValues(plan, request);
    encodeAttributeKey(values); // snapshots objects, so conditions see exactly one state
    return decide(plan, values);
  }

  function evaluateWithToken(
    request: AuthzRequest,
    token: string,
    trust: ChainTrust | undefined,
  ): AuthzDecision {
    const decision = decideFresh(request, trust);
    if (decision.decision !== 'requires_oversight') return decision;
    const claims = tokens.validate(token, {
      principal: request.principal,
      action: request.action,
      resource: request.resource,
      arguments: request.context ?? {},
    });
    const allow: AllowDecision = {
      decision: 'allow',
      reason: `override token ${claims.tokenId} (oversight request ${claims.requestId}) satisfies policy ${decision.policyId}`,
      policyIds: [...decision.policyIds],
      overrideTokenId: claims.tokenId,
    };
    return freezeDecision(allow);
  }

  function evaluate(request: AuthzRequest): AuthzDecision {
    checkShape(request);
    const { principal, action, resource } = request;
    const chain = request.delegationChain;
    let trust: ChainTrust | undefined;
    let chainKey = '';
    if (chain !== undefined) {
      const result = trustSync(chain);
      if ('decision' in result) {
        misses++;
        return result;
      }
      trust = result;
      chainKey = trust.id;
    }
    const token = request.overrideToken;
    if (token !== undefined) return evaluateWithToken(request, token, trust);
    if (plans === undefined || decisions === undefined) return decideFresh(request, trust);

    let plan = plans.get(chainKey, principal, action, resource);
    if (plan === undefined || plan.gen !== gen) {
      plan = buildPlan(principal, action, resource, trust, chain);
      plans.set(chainKey, principal, action, resource, plan);
      if (plan.fixed !== undefined) {
        misses++;
        return plan.fixed;
      }
    } else if (plan.fixed !== undefined) {
      hits++;
      return plan.fixed;
    }
    const values = readValues(plan, request);
    let owner: DecisionMap<AuthzDecision>;
    let key = primitiveKeyOf(values);
    if (key === undefined) {
      key = encodeAttributeKey(values);
      if (key === undefined) {
        misses++;
        return decide(plan, values);
      }
      owner = plan.encodedDecisions ??= new Map();
    } else {
      owner = plan.primitiveDecisions ??= new Map();
    }
    const cached = decisions.get(owner, key);
    if (cached !== undefined) {
      hits++;
      return cached;
    }
    misses++;
    const decision = decide(plan, values);
    decisions.set(owner, key, decision);
    return decision;
  }

  // ------------------------------------------------------------------ policy changes

  function install(next: readonly NormalizedPolicy[]): number {
    const nextIndex = new PolicyIndex(next); // compile first: a failure leaves the engine as it was
    policies = next;
    index = nextIndex;
    version++;
    bump(false);
    return version;
  }

  async function checkQuota(
    agent: AgentIdentity | string,
    eventType: string,
    amount?: DecimalLike,
  ): Promise<QuotaDecision> {
    const nhi = agent instanceof AgentIdentity ? agent.nhi : agent;
    if (typeof nhi !== 'string' || !NHI_SHAPE.test(nhi))
      throw bad('agent', 'expected an AgentIdentity or an NHI');
    if (typeof eventType !== 'string' || !EVENT_TYPE.test(eventType)) {
      throw bad('eventType', 'expected 1-128 printable ASCII characters');
    }
    const exact = amount === undefined ? undefined : Decimal.from(amount, 'amount');
    if (quotaSource === undefined) return Object.freeze({ decision: 'allow', reason: 'no quota configured' });
    let answer: unknown;
    try {
      answer = await quotaSource.checkQuota(
        exact === undefined ? { agent: nhi, eventType } : { agent: nhi, eventType, amount: exact },
      );
    } catch (cause) {
      if (EnablementError.is(cause)) throw cause;
      throw new EnablementError('PL-503', 'quota source failed', { cause, retryable: true });
    }
    return checkQuotaDecision(answer);
  }

  const engine: PolicyEngine = {
    evaluate,
    async check(request: AuthzRequest): Promise<AuthzDecision> {
      checkShape(request);
      const chain = request.delegationChain;
      if (chain !== undefined && trustedNow(chain, clock.now()) === undefined) {
        try {
          await validateChain(chain);
        } catch (error) {
          return chainDenial(error);
        }
      }
      return evaluate(request);
    },
    validateChain,
    checkQuota,
    setPolicies(next: readonly Policy[]): number {
      return install(parsePolicies(next, 'policies'));
    },
    addPolicy(policy: Policy): number {
      const parsedPolicy = parsePolicy(policy, 'policy');
      if (policies.some((p) => p.id === parsedPolicy.id)) {
        throw new EnablementError('PL-409', `policy.id: a policy '${parsedPolicy.id}' already exists`);
      }
      return install(Object.freeze([...policies, parsedPolicy]));
    },
    removePolicy(id: string): boolean {
      if (typeof id !== 'string') throw bad('id', 'expected a policy id');
      const next = policies.filter((p) => p.id !== id);
      if (next.length === policies.length) return false;
      install(Object.freeze(next));
      return true;
    },
    get policies(): readonly NormalizedPolicy[] {
      return policies;
    },
    get version(): number {
      return version;
    },
    revoke(target: string | RevocationRef): void {
      if (typeof target === 'string') {
        parseNhi(target, 'nhi');
        revocations.revoke({ kind: 'principal', nhi: target });
      } else {
        revocations.revoke(target);
      }
      bump(true);
    },
    invalidate(): void {
      bump(true);
    },
    validateOverrideToken(token: string, call: OverrideTokenCall): OverrideTokenClaims {
      return tokens.validate(token, call);
    },
    stats(): PolicyEngineStats {
      return Object.freeze({
        version,
        revocationEpoch: epoch,
        policies: policies.length,
        hits,
        misses,
        cachedPlans: plans?.size ?? 0,
        cachedDecisions: decisions?.size ?? 0,
        trustedChains: trustById.size,
        trackedOverrideTokens: tokens.trackedTokens,
      });
    },
  };
  return Object.freeze(engine);
}

const QUOTA_DECISIONS: ReadonlySet<string> = new Set(['allow', 'allow_with_notification', 'block']);

/** Checks what a quota source answered; a malformed answer is the source's bug (`PL-500`). */
function checkQuotaDecision(answer: unknown): QuotaDecision {
  const fail = (why: string) =>
    new EnablementError('PL-500', `quota source returned an invalid decision: ${why}`);
  if (typeof answer !== 'object' || answer === null) throw fail('expected an object');
  const { decision, usage, limit, reason } = answer as Record<string, unknown>;
  if (typeof decision !== 'string' || !QUOTA_DECISIONS.has(decision)) {
    throw fail("decision must be 'allow', 'allow_with_notification' or 'block'");
  }
  if (usage !== undefined && !Decimal.isDecimal(usage)) throw fail('usage must be a Decimal');
  if (limit !== undefined && !Decimal.isDecimal(limit)) throw fail('limit must be a Decimal');
  if (typeof reason !== 'string') throw fail('reason must be a string');
  const out: { -readonly [K in keyof QuotaDecision]: QuotaDecision[K] } = {
    decision: decision as QuotaDecision['decision'],
    reason,
  };
  if (usage !== undefined) out.usage = usage;
  if (limit !== undefined) out.limit = limit;
  return Object.freeze(out);
}
