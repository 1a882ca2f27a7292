/**
 * Approval policy: approver entries (NHIs, `role:`, `group:`), requirement validation, the
 * engine's decision rules (deny rule, edits, self-approval, earlier tiers) and the vote tally.
 * @module
 */
export {
  type ApproverEntry,
  type ApproverProfile,
  entryMatches,
  GROUP_ENTRY_PREFIX,
  matchingTiers,
  namedPrincipals,
  parseApproverEntry,
  ROLE_ENTRY_PREFIX,
  validateRequirement,
} from './approvers.js';
export {
  DEFAULT_OVERSIGHT_RULES,
  DEFAULT_TOKEN_TTL_MS,
  DENY_RULES,
  type DenyRule,
  MAX_TOKEN_TTL_MS,
  type OversightRules,
  openTiers,
  rulesPatchSchema,
  type Tally,
  type TallyVote,
  tally,
} from './rules.js';
