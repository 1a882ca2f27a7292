/**
 * Identity: NHI strings, principals' public identities, key pairs and signature verification
 * (spec §6.1, ARCHITECTURE §4 nhi).
 * @module
 */
export { AgentIdentity, type AgentIdentityOptions, ML_DSA_65_PUBLIC_KEY_LENGTH } from './agent-identity.js';
export {
  AGENT_SEED_LENGTH,
  AgentKeyPair,
  type AgentKeyPairOptions,
  KEY_DERIVATION_LABELS,
} from './key-pair.js';
export {
  assertEd25519PublicKey,
  ED25519_PUBLIC_KEY_LENGTH,
  formatNhi,
  isNhi,
  isPrincipalKind,
  MAX_PARSED_NHIS,
  NHI_MAX_LENGTH,
  type ParsedNhi,
  PRINCIPAL_KINDS,
  type PrincipalKind,
  parseNhi,
} from './nhi.js';
export { verifyIdentityHybrid, verifyIdentitySignature } from './verify.js';
export { ed25519PublicKeyToX25519 } from './x25519.js';
