import {
  type AgentIdentity,
  type AuthzClient,
  type AuthzDecision,
  type AuthzRequest,
  Decimal,
  type DecimalLike,
  EnablementError,
  type OverrideTokenValidator,
  type OversightRequirement,
  type QuotaClient,
  type QuotaDecision,
} from '@creto/core';
import { BoundedLog, DEFAULT_MAX_RECORDED, pushScripted } from './recorder.js';

/**
 * What a scripted authz call answers: `allow`, `deny`, a `requires_oversight` with its policy and
 * requirement, or an `EnablementError` with which `check` rejects (e.g. `PL-503`).
 */
export type FakeAuthzAnswer =
  | 'allow'
  | 'deny'
  | {
      /** `allow` or `deny`. */
      readonly decision: 'allow' | 'deny';
      /** Why, in words. */
      readonly reason?: string;
      /** Policy ids reported. */
      readonly policyIds?: readonly string[];
    }
  | {
      /** `requires_oversight`. */
      readonly decision: 'requires_oversight';
      /** The policy that requires oversight. */
      readonly policyId: string;
      /** Approver tiers and final action. */
      readonly requirement: OversightRequirement;
      /** Why, in words. */
      readonly reason?: string;
    }
  | EnablementError;

/**
 * Which calls a rule applies to. Each field is an exact value or a prefix ending in `*`
 * (`tool.*`, `network:*`); absent fields match anything.
 */
export interface FakeAuthzMatch {
  /** Principal NHI. */
  readonly principal?: string;
  /** Action, e.g. `funds.transfer`. */
  readonly action?: string;
  /** Resource URI, e.g. `network:api.example.com`. */
  readonly resource?: string;
}

/** Options of {@link createFakeAuthzClient}. */
export interface FakeAuthzClientOptions {
  /** Answers consumed one per `check`, in order, before rules and the fallback. */
  readonly script?: readonly FakeAuthzAnswer[];
  /** The answer when nothing else applies; default `deny` (the engine's default deny). */
  readonly fallback?: FakeAuthzAnswer;
  /**
   * Validates override tokens: when a call carries one and the answer is `requires_oversight`,
   * the token is validated against the exact call (as the engine does) and the answer becomes
   * `allow`; a bad token rejects with the validator's error. Without it tokens are ignored.
   */
  readonly overrideTokens?: OverrideTokenValidator;
  /** Answers `checkQuota`; default every quota check is `allow`. */
  readonly quota?: QuotaClient;
  /** Most calls remembered (oldest forgotten first); default 10 000. */
  readonly maxCalls?: number;
}

/** A scripted {@link AuthzClient} that records every request. */
export interface FakeAuthzClient extends AuthzClient {
  /** Every `check` request, oldest first. */
  readonly calls: readonly AuthzRequest[];
  /** Appends answers to the script. */
  enqueue(...answers: FakeAuthzAnswer[]): void;
  /** A standing answer for matching requests; later rules win. */
  when(match: FakeAuthzMatch, answer: FakeAuthzAnswer): void;
  /** Replaces the fallback answer. */
  setFallback(answer: FakeAuthzAnswer): void;
  /** Forgets calls, script and rules. */
  reset(): void;
}

function matches(pattern: string | undefined, value: string): boolean {
  if (pattern === undefined) return true;
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}

function toDecision(answer: FakeAuthzAnswer): AuthzDecision {
  if (answer instanceof EnablementError) throw answer;
  if (answer === 'allow' || answer === 'deny') {
    return Object.freeze({ decision: answer, reason: `fake authz: ${answer}`, policyIds: [] });
  }
  if (answer.decision === 'requires_oversight') {
    return Object.freeze({
      decision: 'requires_oversight',
      reason: answer.reason ?? `fake authz: policy ${answer.policyId} requires oversight`,
      policyIds: [answer.policyId],
      policyId: answer.policyId,
      requirement: answer.requirement,
    });
  }
  return Object.freeze({
    decision: answer.decision,
    reason: answer.reason ?? `fake authz: ${answer.decision}`,
    policyIds: [...(answer.policyIds ?? [])],
  });
}

/**
 * A fake of core's `AuthzClient` port: answers come from a script, then from rules matched on
 * principal / action / resource, then from the fallback (`deny`). Optionally it validates
 * override tokens exactly as the engine does, so a fake Oversight's real tokens can be used.
 *
 * @example
 * ```ts
 * const authz = createFakeAuthzClient();
 * authz.when({ action: 'sandbox.spawn' }, 'allow');
 * authz.when({ action: 'network.egress', resource: 'network:*' }, 'deny');
 * const runtime = createRuntime({ nhi, authz, audit, consensus, hostKey });
 * expect(authz.calls.map((c) => c.action)).toEqual(['sandbox.spawn']);
 * ```
 */
export function createFakeAuthzClient(options: FakeAuthzClientOptions = {}): FakeAuthzClient {
  const calls = new BoundedLog<AuthzRequest>(options.maxCalls ?? DEFAULT_MAX_RECORDED, 'maxCalls');
  const script: FakeAuthzAnswer[] = [];
  pushScripted(script, options.script ?? [], 'script');
  const rules: { match: FakeAuthzMatch; answer: FakeAuthzAnswer }[] = [];
  let fallback: FakeAuthzAnswer = options.fallback ?? 'deny';
  const { overrideTokens, quota } = options;

  const answerFor = (request: AuthzRequest): FakeAuthzAnswer => {
    const scripted = script.shift();
    if (scripted !== undefined) return scripted;
    for (let i = rules.length - 1; i >= 0; i--) {
      const rule = rules[i];
      if (
        rule !== undefined &&
        matches(rule.match.principal, request.principal) &&
        matches(rule.match.action, request.action) &&
        matches(rule.match.resource, request.resource)
      ) {
        return rule.answer;
      }
    }
    return fallback;
  };

  return {
    get calls() {
      return calls.toArray();
    },
    async check(request: AuthzRequest): Promise<AuthzDecision> {
      if (typeof request !== 'object' || request === null) {
        throw new EnablementError('PL-400', 'check: expected an AuthzRequest');
      }
      for (const field of ['principal', 'action', 'resource'] as const) {
        if (typeof request[field] !== 'string' || request[field].length === 0) {
          throw new EnablementError('PL-400', `check: ${field} must be a non-empty string`);
        }
      }
      calls.push(Object.freeze({ ...request }));
      const decision = toDecision(answerFor(request));
      if (
        decision.decision !== 'requires_oversight' ||
        request.overrideToken === undefined ||
        overrideTokens === undefined
      ) {
        return decision;
      }
      const claims = overrideTokens.validate(request.overrideToken, {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        arguments: request.context ?? {},
      });
      return Object.freeze({
        decision: 'allow',
        reason: `override token ${claims.tokenId} satisfies policy ${decision.policyId}`,
        policyIds: [...decision.policyIds],
        overrideTokenId: claims.tokenId,
      });
    },
    async checkQuota(
      agent: AgentIdentity | string,
      eventType: string,
      amount?: DecimalLike,
    ): Promise<QuotaDecision> {
      if (quota === undefined) return Object.freeze({ decision: 'allow', reason: 'fake authz: no quota' });
      const nhi = typeof agent === 'string' ? agent : agent.nhi;
      const { error: _error, ...decision } = await quota.checkQuota({
        agent: nhi,
        eventType,
        ...(amount === undefined ? {} : { amount: Decimal.from(amount, 'amount') }),
      });
      return Object.freeze(decision);
    },
    enqueue(...answers: FakeAuthzAnswer[]) {
      pushScripted(script, answers, 'enqueue');
    },
    when(match: FakeAuthzMatch, answer: FakeAuthzAnswer) {
      pushScripted(rules, [{ match: { ...match }, answer }], 'when');
    },
    setFallback(answer: FakeAuthzAnswer) {
      fallback = answer;
    },
    reset() {
      calls.clear();
      script.length = 0;
      rules.length = 0;
    },
  };
}
