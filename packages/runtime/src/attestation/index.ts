/**
 * Sandbox attestations: host-signed (hybrid Ed25519 ‖ ML-DSA-65) statements binding a sandbox to
 * its agent, spec and driver (spec §3.4), with their wire codec and verifier.
 * @module
 */
export {
  ATTESTATION_SIGNING_DOMAIN,
  attestationSigningBytes,
  decodeAttestation,
  encodeAttestation,
  type SandboxAttestation,
  type SandboxAttestationWire,
  signAttestation,
  type UnsignedSandboxAttestation,
  verifyAttestation,
} from './attestation.js';
