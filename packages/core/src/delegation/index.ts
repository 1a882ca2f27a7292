/**
 * Delegation: signed links from a root principal to the current agent, with attenuation-only
 * capabilities, time bounds and revocation (spec §6.2, ARCHITECTURE §4 delegation,
 * docs/delegation.md).
 * @module
 */
export {
  DEFAULT_MAX_CHAIN_LENGTH,
  DelegationChain,
  MAX_CHAIN_LINKS,
  type ValidateDelegationOptions,
  type ValidateDelegationSyncOptions,
} from './chain.js';
export {
  DELEGATION_LINK_TYPE,
  DELEGATION_LINK_VERSION,
  DELEGATION_NONCE_LENGTH,
  DELEGATION_SIGNING_CONTEXT,
  type DelegationLink,
  type DelegationLinkBody,
  delegationLinkId,
  delegationSigningBytes,
  type IssueDelegationOptions,
  issueDelegation,
  MAX_CAPABILITIES_PER_LINK,
  normalizeDelegationLink,
} from './link.js';
export {
  assertPattern,
  type Capability,
  capabilityCovers,
  capabilityMatches,
  covers,
  isValidPattern,
  MAX_PATTERN_LENGTH,
  MAX_VALUE_LENGTH,
  matchesPattern,
} from './pattern.js';
export {
  createRevocationList,
  DEFAULT_REVOCATION_LIST_MAX_ENTRIES,
  MAX_REVOCATION_LIST_ENTRIES,
  type RevocationChecker,
  type RevocationList,
  type RevocationListOptions,
  type RevocationRef,
  type SyncRevocationChecker,
} from './revocation.js';
