import { type HybridSignature, verifyHybrid } from '../crypto/hybrid.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { AgentIdentity } from './agent-identity.js';

function resolve(identity: AgentIdentity | string): AgentIdentity {
  return identity instanceof AgentIdentity ? identity : AgentIdentity.fromNhi(identity);
}

/**
 * True when `signature` is `identity`'s Ed25519 signature of `message` (RFC 8032 §5.1.7, strict:
 * non-canonical and small-order encodings fail). An NHI string is accepted in place of an
 * identity and parsed first (`PL-400` when it is not an NHI); a bad signature is `false`, never a throw.
 */
export function verifyIdentitySignature(
  identity: AgentIdentity | string,
  message: Uint8Array,
  signature: Uint8Array,
  provider: CryptoProvider = nobleCryptoProvider,
): boolean {
  return provider.ed25519.verify(resolve(identity).publicKeyEd25519, message, signature);
}

/**
 * True when `signature` is `identity`'s hybrid signature of `message`: both the Ed25519 and the
 * ML-DSA-65 halves must verify. `false` (fail closed) when the identity has no ML-DSA-65 key, so a
 * post-quantum requirement is never silently downgraded to Ed25519 alone.
 */
export function verifyIdentityHybrid(
  identity: AgentIdentity | string,
  message: Uint8Array,
  signature: HybridSignature,
  provider: CryptoProvider = nobleCryptoProvider,
): boolean {
  const resolved = resolve(identity);
  if (!resolved.hasPostQuantumKey) return false;
  return verifyHybrid(provider, resolved.hybridPublicKey(), message, signature);
}
