import { canonicalize, type JsonValue, type OversightRequirement } from '@creto/core';
import { z } from 'zod';

/** How denials are counted: see {@link OversightRules.denyRule}. */
export const DENY_RULES = Object.freeze(['any', 'quorum'] as const);

/** One of {@link DENY_RULES}. */
export type DenyRule = (typeof DENY_RULES)[number];

/** Default lifetime of an override token: 15 minutes. */
export const DEFAULT_TOKEN_TTL_MS = 15 * 60_000;

/** Longest override token lifetime accepted: 24 hours. */
export const MAX_TOKEN_TTL_MS = 24 * 3_600_000;

/**
 * How the engine decides a request, beyond what the `OversightRequirement` says. Set globally and
 * per policy id in the engine options; a snapshot is stored with each request at creation, so a
 * later change of options (or a restart with other options) never changes how an open request is
 * decided.
 */
export interface OversightRules {
  /**
   * `any` (default): one `DENY` from an eligible approver denies the request — a human veto.
   * `quorum`: a tier denies when `DENY`s from its approvers reach its quorum (m of n), mirroring
   * approval; fewer denials only wait for approvals or escalation.
   */
  readonly denyRule: DenyRule;
  /**
   * Whether approvers may "approve with edits" (default `false`): the token is then bound to the
   * edited parameters. Approvals count towards a quorum only when they agree on the parameters.
   */
  readonly allowEdits: boolean;
  /**
   * Whether the requesting agent and the principals of its delegation chain (its root included)
   * may approve their own request (default `false`: such a response is `OV-403`).
   */
  readonly allowSelfApproval: boolean;
  /**
   * Whether approvers of earlier tiers stay eligible after an escalation (default `true`).
   * Escalation adds approvers; it does not take the request away from the first ones. Each
   * tier's quorum is still counted over its own approvers only (as core's `OversightRequirement`
   * documents), so a decision always meets some tier's full quorum: escalation never lowers the
   * bar. With `false`, only the current tier's approvers may respond.
   */
  readonly earlierTiersStayEligible: boolean;
  /** Lifetime of the override token issued on approval, ms (default 15 min, at most 24 h). */
  readonly tokenTtlMs: number;
}

/** The defaults of {@link OversightRules}. */
export const DEFAULT_OVERSIGHT_RULES: OversightRules = Object.freeze({
  denyRule: 'any',
  allowEdits: false,
  allowSelfApproval: false,
  earlierTiersStayEligible: true,
  tokenTtlMs: DEFAULT_TOKEN_TTL_MS,
});

/** zod schema of a partial {@link OversightRules} (engine options). */
export const rulesPatchSchema = z.strictObject({
  denyRule: z.enum(DENY_RULES).optional(),
  allowEdits: z.boolean().optional(),
  allowSelfApproval: z.boolean().optional(),
  earlierTiersStayEligible: z.boolean().optional(),
  tokenTtlMs: z.number().int().min(1000).max(MAX_TOKEN_TTL_MS).optional(),
});

/** The tiers whose approvers may respond while the request is at `currentTier`. */
export function openTiers(currentTier: number, rules: OversightRules): number[] {
  if (!rules.earlierTiersStayEligible) return [currentTier];
  return Array.from({ length: currentTier + 1 }, (_, i) => i);
}

/** A recorded vote, as the tally needs it. */
export interface TallyVote {
  /** The approver's NHI. */
  readonly approver: string;
  /** `APPROVE` or `DENY`. */
  readonly decision: 'APPROVE' | 'DENY';
  /** The edited parameters, when the approver edited them. */
  readonly editedParameters?: JsonValue;
  /** Tiers whose approvers named this approver when the vote was cast. */
  readonly tiers: readonly number[];
  /** The approver's reason. */
  readonly reason?: string;
}

/** What the votes decide, if anything. */
export type Tally =
  | {
      /** A tier's quorum approved the same parameters. */
      readonly kind: 'approved';
      /** The tier (index) whose quorum was met. */
      readonly tier: number;
      /** The approvers whose votes made it, in voting order. */
      readonly approvers: readonly string[];
      /** The parameters they approved. */
      readonly parameters: JsonValue;
      /** The last deciding approver's reason, when given. */
      readonly reason?: string;
    }
  | {
      /** Denied under the deny rule. */
      readonly kind: 'denied';
      /** The tier whose deny quorum was met (`quorum` rule), or of the first deny (`any`). */
      readonly tier: number;
      /** The approvers whose denials decided, in voting order. */
      readonly approvers: readonly string[];
      /** The last deciding approver's reason, when given. */
      readonly reason?: string;
    }
  | { /** Not decided yet. */ readonly kind: 'open' };

/**
 * Counts `votes` (at most one per approver, in voting order) against the requirement: the deny
 * rule first, then, tier by tier among `tiers`, approvals that agree on the parameters (RFC 8785
 * equality; a vote without edits approves `requested`).
 */
export function tally(
  requirement: OversightRequirement,
  votes: readonly TallyVote[],
  rules: OversightRules,
  tiers: readonly number[],
  requested: JsonValue,
): Tally {
  const open = new Set(tiers);
  const counts = (vote: TallyVote, tier: number) => vote.tiers.includes(tier) && open.has(tier);
  const denies = votes.filter((v) => v.decision === 'DENY');
  if (rules.denyRule === 'any') {
    const first = denies.find((v) => v.tiers.some((t) => open.has(t)));
    if (first !== undefined) {
      const tier = first.tiers.find((t) => open.has(t)) ?? 0;
      return {
        kind: 'denied',
        tier,
        approvers: [first.approver],
        ...(first.reason === undefined ? {} : { reason: first.reason }),
      };
    }
  } else {
    for (const tier of tiers) {
      const quorum = requirement.tiers[tier]?.quorum ?? Number.POSITIVE_INFINITY;
      const deciding = denies.filter((v) => counts(v, tier));
      if (deciding.length >= quorum) {
        const last = deciding[quorum - 1];
        return {
          kind: 'denied',
          tier,
          approvers: deciding.slice(0, quorum).map((v) => v.approver),
          ...(last?.reason === undefined ? {} : { reason: last.reason }),
        };
      }
    }
  }
  const requestedKey = canonicalize(requested);
  for (const tier of tiers) {
    const quorum = requirement.tiers[tier]?.quorum ?? Number.POSITIVE_INFINITY;
    const groups = new Map<string, { parameters: JsonValue; votes: TallyVote[] }>();
    for (const vote of votes) {
      if (vote.decision !== 'APPROVE' || !counts(vote, tier)) continue;
      const parameters = vote.editedParameters === undefined ? requested : vote.editedParameters;
      const key = vote.editedParameters === undefined ? requestedKey : canonicalize(parameters);
      let group = groups.get(key);
      if (group === undefined) {
        group = { parameters, votes: [] };
        groups.set(key, group);
      }
      group.votes.push(vote);
      if (group.votes.length >= quorum) {
        return {
          kind: 'approved',
          tier,
          approvers: group.votes.map((v) => v.approver),
          parameters: group.parameters,
          ...(vote.reason === undefined ? {} : { reason: vote.reason }),
        };
      }
    }
  }
  return { kind: 'open' };
}
