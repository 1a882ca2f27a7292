import {
  type Clock,
  type ConsensusClient,
  type ConsensusTimestamp,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  EnablementError,
  millisToNanos,
  type NhiClient,
  type Principal,
} from '@creto/core';
import {
  type EnvelopeKind,
  envelopeExpiresAt,
  envelopeSigningBytes,
  type MessageEnvelope,
} from './envelope.js';
import type { ReplayGuard } from './replay.js';

/**
 * Which envelopes carry a hybrid signature.
 *
 * - `every-envelope` (the spec §3.4 default): every envelope is hybrid-signed. Anyone holding the
 *   sender's public keys (the relay, the recipient, an auditor later) can check who sent each
 *   message; a signature costs one ML-DSA-65 signing (milliseconds) and 3373 bytes.
 * - `handshake-only`: only `handshake` envelopes are signed. Later `message` envelopes rely on
 *   the Double Ratchet's AEAD for authenticity, which only the recipient can check. What is
 *   lost: (1) no third-party-verifiable non-repudiation per message: an AEAD tag proves the
 *   message came from *a holder of the session keys*, which the recipient is too, so it proves
 *   nothing to anyone else; (2) the relay cannot check sender authenticity cheaply: it trusts
 *   the authenticated transport connection instead (the envelope's sender must be the
 *   connection's principal) and requires a signed handshake for the pair first, so a forged
 *   envelope is caught only when the recipient's decryption fails (`MS-004`), after it was
 *   queued and counted against the recipient's bounds; (3) audit records of unsigned messages
 *   rest on the relay's word. Confidentiality and forward secrecy are unchanged. Choose it only
 *   when the per-message signing cost matters and deniability is acceptable or wanted.
 */
export type EnvelopeSignaturePolicy = 'every-envelope' | 'handshake-only';

/** The policies, default first. */
export const ENVELOPE_SIGNATURE_POLICIES = Object.freeze(['every-envelope', 'handshake-only'] as const);

/** The spec §3.4 default: every envelope is signed. */
export const DEFAULT_ENVELOPE_SIGNATURE_POLICY: EnvelopeSignaturePolicy = 'every-envelope';

/** True when an envelope of `kind` must be signed under `policy` (handshakes always are). */
export function envelopeRequiresSignature(kind: EnvelopeKind, policy: EnvelopeSignaturePolicy): boolean {
  return kind === 'handshake' || policy === 'every-envelope';
}

/**
 * Throws unless `envelope` is live at consensus time `now`: `MS-002` once `now` reaches
 * `timestamp + ttl`; `PL-425` when `timestamp` is more than `maxFutureSkewMs` ahead of `now`
 * (a future-dated envelope would outlive the replay window, spec §3.5 skew rule).
 */
export function assertEnvelopeFresh(
  envelope: MessageEnvelope,
  now: ConsensusTimestamp,
  maxFutureSkewMs: number = DEFAULT_MAX_CLOCK_SKEW_MS,
): void {
  if (envelope.timestamp > now + millisToNanos(maxFutureSkewMs)) {
    throw new EnablementError(
      'PL-425',
      `envelope ${envelope.messageId}: timestamp is ahead of consensus time by more than ${maxFutureSkewMs} ms`,
    );
  }
  if (now >= envelopeExpiresAt(envelope)) {
    throw new EnablementError('MS-002', `envelope ${envelope.messageId} expired (TTL ${envelope.ttlMs} ms)`);
  }
}

/** How an accepted envelope was authenticated. */
export type EnvelopeAuthentication = 'signature' | 'session';

/**
 * Checks the sender: it must be a registered, unrevoked principal, and (when the policy requires
 * it, or the envelope carries one anyway) the hybrid signature must verify with its registered
 * Ed25519 and ML-DSA-65 keys. Resolves to `signature`, or `session` for an unsigned `message`
 * envelope under `handshake-only` (whose authenticity the ratchet's AEAD must then establish).
 * `MS-001` for a missing or bad signature or an unknown or revoked sender; `MS-503` when the
 * NHI service is unavailable.
 */
export async function verifyEnvelopeSender(
  envelope: MessageEnvelope,
  nhi: Pick<NhiClient, 'lookup' | 'validateHybridSignature'>,
  policy: EnvelopeSignaturePolicy = DEFAULT_ENVELOPE_SIGNATURE_POLICY,
): Promise<EnvelopeAuthentication> {
  const signature = envelope.signature;
  if (signature === undefined) {
    if (envelopeRequiresSignature(envelope.kind, policy)) {
      throw new EnablementError('MS-001', `envelope ${envelope.messageId}: signature missing`);
    }
    await senderCall(envelope, () => nhi.lookup(envelope.senderNhi));
    return 'session';
  }
  const bytes = envelopeSigningBytes(envelope);
  await senderCall(envelope, () => nhi.validateHybridSignature(envelope.senderNhi, bytes, signature));
  return 'signature';
}

async function senderCall(envelope: MessageEnvelope, call: () => Promise<Principal>): Promise<void> {
  try {
    await call();
  } catch (cause) {
    if (EnablementError.is(cause) && (cause.retryable || cause.code.endsWith('-503'))) {
      throw new EnablementError('MS-503', 'NHI service unavailable while verifying the sender', {
        cause,
        retryable: true,
      });
    }
    // Unknown (PL-404), revoked (PL-410), bad signature (PL-401), malformed: all one answer, so
    // a prober learns nothing about which NHIs are registered.
    throw new EnablementError(
      'MS-001',
      `envelope ${envelope.messageId}: sender signature or identity does not verify`,
      { cause },
    );
  }
}

/** Options of {@link createEnvelopeVerifier}. */
export interface EnvelopeVerifierOptions {
  /** The NHI service: sender lookup and hybrid signature verification. */
  readonly nhi: Pick<NhiClient, 'lookup' | 'validateHybridSignature'>;
  /** Consensus time for expiry (spec §3.5); when absent, `clock` is read. */
  readonly consensus?: ConsensusClient;
  /** Time source when no `consensus` is given. */
  readonly clock?: Clock;
  /** Remembers message ids for 30 days; a seen id is `MS-003`. */
  readonly replay: ReplayGuard;
  /** Signature policy; {@link DEFAULT_ENVELOPE_SIGNATURE_POLICY} by default. */
  readonly policy?: EnvelopeSignaturePolicy;
  /** Future-dating tolerance, ms; 100 (spec §3.5) by default. */
  readonly maxFutureSkewMs?: number;
  /** When given, the envelope must be addressed to this NHI (a recipient's own verifier). */
  readonly recipientNhi?: string;
}

/** The result of a successful verification. */
export interface VerifiedEnvelope {
  /** The envelope. */
  readonly envelope: MessageEnvelope;
  /** `signature`, or `session` when the ratchet's AEAD must still authenticate it. */
  readonly authentication: EnvelopeAuthentication;
  /** Consensus time of the check. */
  readonly verifiedAt: ConsensusTimestamp;
}

/** Verifies incoming envelopes in full (see {@link createEnvelopeVerifier}). */
export interface EnvelopeVerifier {
  /**
   * Checks addressing, freshness (`MS-002`, `PL-425`), sender and signature (`MS-001`), then
   * records the id (`MS-003` when seen within the window). The id is recorded only after the
   * signature verified, so forged envelopes cannot burn ids.
   */
  verify(envelope: MessageEnvelope): Promise<VerifiedEnvelope>;
  /**
   * Verifies as {@link EnvelopeVerifier.verify} does, but holds the id reserved while `process`
   * runs (a concurrent duplicate is `MS-003`) and records it only when `process` succeeds. When
   * `process` fails the id is freed, so a redelivery of the same envelope is processed again:
   * a transient failure after the signature check (a session store down) loses nothing.
   */
  accept<T>(envelope: MessageEnvelope, process: (verified: VerifiedEnvelope) => Promise<T>): Promise<T>;
}

/**
 * A verifier for a recipient (or any party) receiving envelopes: the same checks the relay runs,
 * with the recipient's own replay guard.
 */
export function createEnvelopeVerifier(options: EnvelopeVerifierOptions): EnvelopeVerifier {
  const { nhi, consensus, clock, replay, recipientNhi } = options;
  const policy = options.policy ?? DEFAULT_ENVELOPE_SIGNATURE_POLICY;
  if (!ENVELOPE_SIGNATURE_POLICIES.includes(policy)) {
    throw new EnablementError('MS-400', 'policy: expected every-envelope or handshake-only');
  }
  if (consensus === undefined && clock === undefined) {
    throw new EnablementError('MS-400', 'envelope verifier: give consensus or clock');
  }
  const now = async () => (consensus === undefined ? (clock as Clock).now() : consensus.getTimestamp());
  async function accept<T>(
    envelope: MessageEnvelope,
    process: (verified: VerifiedEnvelope) => Promise<T>,
  ): Promise<T> {
    if (recipientNhi !== undefined && envelope.recipientNhi !== recipientNhi) {
      throw new EnablementError(
        'MS-400',
        `envelope ${envelope.messageId} is not addressed to this recipient`,
      );
    }
    const verifiedAt = await now();
    assertEnvelopeFresh(envelope, verifiedAt, options.maxFutureSkewMs);
    const authentication = await verifyEnvelopeSender(envelope, nhi, policy);
    // Reserved only after the signature verified, so forged envelopes cannot burn ids.
    const reservation = await replay.reserve(envelope.messageId);
    let result: T;
    try {
      result = await process(Object.freeze({ envelope, authentication, verifiedAt }));
    } catch (error) {
      await reservation.release();
      throw error;
    }
    await reservation.commit();
    return result;
  }
  return Object.freeze({
    accept,
    verify: (envelope: MessageEnvelope) => accept(envelope, async (verified) => verified),
  });
}
