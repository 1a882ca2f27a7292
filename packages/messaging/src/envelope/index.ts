/**
 * Envelopes: the hybrid-signed wrapper around Double Ratchet ciphertext, its wire codec and
 * signing bytes, freshness, sender verification, the signature policy and the 30-day replay
 * guard (spec §3.4, §9.2).
 * @module
 */
export {
  createEnvelope,
  DEFAULT_ENVELOPE_TTL_MS,
  decodeEnvelope,
  ENVELOPE_KINDS,
  ENVELOPE_SIGNING_DOMAIN,
  ENVELOPE_VERSION,
  type EnvelopeFields,
  type EnvelopeKind,
  encodeEnvelope,
  envelopeExpiresAt,
  envelopeSigningBytes,
  MAX_CIPHERTEXT_BYTES,
  MAX_ENVELOPE_TTL_MS,
  type MessageEnvelope,
  type MessageEnvelopeWire,
  messageEnvelopeCodec,
  type SealEnvelopeOptions,
  sealEnvelope,
  signEnvelope,
} from './envelope.js';
export {
  createReplayGuard,
  DEFAULT_REPLAY_LOCK_TTL_MS,
  DEFAULT_REPLAY_MAX_ENTRIES,
  REPLAY_WINDOW_MS,
  type ReplayGuard,
  type ReplayGuardOptions,
  type ReplayReservation,
} from './replay.js';
export {
  assertEnvelopeFresh,
  createEnvelopeVerifier,
  DEFAULT_ENVELOPE_SIGNATURE_POLICY,
  ENVELOPE_SIGNATURE_POLICIES,
  type EnvelopeAuthentication,
  type EnvelopeSignaturePolicy,
  type EnvelopeVerifier,
  type EnvelopeVerifierOptions,
  envelopeRequiresSignature,
  type VerifiedEnvelope,
  verifyEnvelopeSender,
} from './verify.js';
