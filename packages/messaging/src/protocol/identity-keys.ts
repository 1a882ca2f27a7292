import { concatBytes } from '@creto/core';

// The Ed25519 → X25519 identity-key conversion lives in `@creto/core` identity
// (`ed25519PublicKeyToX25519`, `AgentIdentity.x25519PublicKey()`, `AgentKeyPair.x25519KeyPair()`).

/** Internal: constant prefix helper kept here so callers do not rebuild it. @internal */
export const IDENTITY_KEY_TYPE_BYTE = Uint8Array.of(0x05);

/** `0x05 ‖ key`: Signal's `EncodeEC` for a Curve25519 public key (PQXDH §2.5). @internal */
export function encodeEc(publicKey: Uint8Array): Uint8Array {
  return concatBytes(IDENTITY_KEY_TYPE_BYTE, publicKey);
}
