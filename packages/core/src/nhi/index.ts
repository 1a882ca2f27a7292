/**
 * NHI: the registry of principals (agents, humans, services) with their keys and attributes,
 * revocation, sandbox binding, signature and delegation-chain validation, and the PQXDH prekey
 * directory (spec §3.1, ARCHITECTURE §4 nhi, docs/platform.md).
 * @module
 */
export {
  DEFAULT_MAX_ONE_TIME_PREKEYS,
  DEFAULT_MAX_PREKEY_DIRECTORY_BYTES,
  isSmallOrderX25519,
  isValidMlKem768PublicKey,
  type KeyBundle,
  MAX_ONE_TIME_PREKEYS_LIMIT,
  MAX_PREKEY_ID,
  PREKEY_KINDS,
  PREKEY_SIGNING_CONTEXT,
  PREKEY_TYPE,
  PREKEY_VERSION,
  type PrekeyCounts,
  type PrekeyKind,
  type PrekeyUpload,
  prekeySigningBytes,
  type SignedPrekey,
  signPrekey,
  verifyKeyBundle,
  verifyPrekey,
} from './prekeys.js';
export {
  type AttributeValue,
  PRINCIPAL_LIMITS,
  type Principal,
  type PrincipalAttributes,
  type PrincipalRegistration,
  REGISTRATION_SIGNING_CONTEXT,
  registrationProof,
  registrationProofBytes,
} from './principal.js';
export {
  createNhiRegistry,
  DEFAULT_MAX_PRINCIPALS,
  type DelegationChainInput,
  MAX_REVOCATION_LISTENERS,
  type NhiClient,
  type NhiRegistry,
  type NhiRegistryOptions,
  type PrincipalRef,
  type PrincipalStatus,
  type RevocationEvent,
  type RevocationListener,
  type RevokeOptions,
  type ValidateChainOptions,
} from './registry.js';
