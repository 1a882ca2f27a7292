import {
  type AgentKeyPair,
  base64urlToBytes,
  bytesCodec,
  bytesToBase64url,
  type ConsensusTimestamp,
  consensusTimestampCodec,
  decodeWire,
  EnablementError,
  encodeHybridSignature,
  encodeWire,
  guarded,
  HYBRID_SIGNATURE_LENGTH,
  newUuid,
  nhiCodec,
  type Uuid,
  uint32Schema,
  uuidCodec,
  type WireFailureContext,
  wireSigningBytes,
} from '@creto/core';
import { z } from 'zod';

/** Version of the envelope format and of {@link envelopeSigningBytes}. */
export const ENVELOPE_VERSION = 1;

/**
 * Envelope kinds. A `handshake` envelope carries the PQXDH initial message that opens a session
 * and is always signed; a `message` envelope carries a Double Ratchet message.
 */
export const ENVELOPE_KINDS = Object.freeze(['handshake', 'message'] as const);

/** One of {@link ENVELOPE_KINDS}. */
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

const DAY_MS = 86_400_000;

/**
 * Longest TTL, 30 days: exactly the `send_message` deduplication window of spec §9.2. Because no
 * envelope lives longer than the window that remembers its id, an envelope whose id has been
 * forgotten is necessarily expired, so replay protection has no gap.
 */
export const MAX_ENVELOPE_TTL_MS = 30 * DAY_MS;

/** TTL given by {@link sealEnvelope} when none is: 7 days. */
export const DEFAULT_ENVELOPE_TTL_MS = 7 * DAY_MS;

/**
 * Largest ciphertext an envelope carries, 256 KiB. The relay keeps envelopes in memory, so the
 * bound (times the queue bounds) caps the memory an offline recipient can cost.
 */
export const MAX_CIPHERTEXT_BYTES = 256 * 1024;

/** Domain-separation tag of {@link envelopeSigningBytes}. */
export const ENVELOPE_SIGNING_DOMAIN = 'creto/messaging.envelope/v1';

/**
 * A message envelope: the routing and freshness data a relay needs, around ciphertext it cannot
 * read. The relay sees who talks to whom, when, and how much; never the content.
 */
export interface MessageEnvelope {
  /** Format version, {@link ENVELOPE_VERSION}. */
  readonly version: 1;
  /** Unique message id (RFC 9562 UUID); replay protection is keyed by it. */
  readonly messageId: Uuid;
  /** `handshake` (PQXDH initial message) or `message` (ratchet message). */
  readonly kind: EnvelopeKind;
  /** Sender NHI. */
  readonly senderNhi: string;
  /** Recipient NHI. */
  readonly recipientNhi: string;
  /** Consensus timestamp at sending, Unix ns (spec §6.3). */
  readonly timestamp: ConsensusTimestamp;
  /** Lifetime after `timestamp`, ms (1 to {@link MAX_ENVELOPE_TTL_MS}). */
  readonly ttlMs: number;
  /** Opaque bytes from the Double Ratchet (1 to {@link MAX_CIPHERTEXT_BYTES}). */
  readonly ciphertext: Uint8Array;
  /**
   * Hybrid signature (Ed25519 ‖ ML-DSA-65, 3373 bytes, spec §3.4) by the sender over
   * {@link envelopeSigningBytes}. Absent only on `message` envelopes under the `handshake-only`
   * policy (see `EnvelopeSignaturePolicy`).
   */
  readonly signature?: Uint8Array | undefined;
}

/** Wire shape of {@link MessageEnvelope} (snake_case, int64 as string, bytes as base64url). */
export interface MessageEnvelopeWire {
  /** Always 1. */
  version: 1;
  /** UUID. */
  message_id: string;
  /** `handshake` or `message`. */
  kind: EnvelopeKind;
  /** NHI. */
  sender_nhi: string;
  /** NHI. */
  recipient_nhi: string;
  /** Unix ns, int64 decimal string. */
  timestamp: string;
  /** Milliseconds, JSON integer. */
  ttl_ms: number;
  /** Unpadded base64url. */
  ciphertext: string;
  /** Unpadded base64url of the 3373-byte hybrid signature; absent when unsigned. */
  signature?: string;
}

const ciphertextCodec = z.codec(
  z
    .string()
    .min(2, { error: 'expected non-empty base64url', abort: true })
    .max(Math.ceil((MAX_CIPHERTEXT_BYTES * 4) / 3), {
      error: `ciphertext longer than ${MAX_CIPHERTEXT_BYTES} bytes`,
      abort: true,
    })
    .regex(/^[A-Za-z0-9_-]+$/, { error: 'expected unpadded base64url' }),
  z
    .custom<Uint8Array>((value) => value instanceof Uint8Array, { error: 'expected a Uint8Array' })
    .refine((bytes) => bytes.length >= 1 && bytes.length <= MAX_CIPHERTEXT_BYTES, {
      error: `expected 1 to ${MAX_CIPHERTEXT_BYTES} bytes`,
    }),
  {
    decode: guarded((text: string) => base64urlToBytes(text)),
    encode: (bytes) => bytesToBase64url(bytes),
  },
);

const signatureCodec = bytesCodec([HYBRID_SIGNATURE_LENGTH]);
const ttlSchema = uint32Schema.min(1).max(MAX_ENVELOPE_TTL_MS);

const wireSchema = z.strictObject({
  version: z.literal(ENVELOPE_VERSION),
  message_id: uuidCodec,
  kind: z.enum(ENVELOPE_KINDS),
  sender_nhi: nhiCodec,
  recipient_nhi: nhiCodec,
  timestamp: consensusTimestampCodec,
  ttl_ms: ttlSchema,
  ciphertext: ciphertextCodec,
  signature: signatureCodec.optional(),
});

const tsSchema = z.strictObject({
  version: z.literal(ENVELOPE_VERSION),
  messageId: uuidCodec.out,
  kind: z.enum(ENVELOPE_KINDS),
  senderNhi: z.string(),
  recipientNhi: z.string(),
  timestamp: consensusTimestampCodec.out.min(0n, { error: 'must not be negative' }),
  ttlMs: ttlSchema,
  ciphertext: ciphertextCodec.out,
  signature: signatureCodec.out.optional(),
});

/**
 * Codec of {@link MessageEnvelope} ↔ {@link MessageEnvelopeWire}, built from core's leaf codecs.
 * Strict: unknown members are rejected, so the signed bytes are the whole envelope.
 */
export const messageEnvelopeCodec: z.ZodType<MessageEnvelope, MessageEnvelopeWire> = z.codec(
  wireSchema,
  tsSchema,
  {
    decode: (w): z.input<typeof tsSchema> => ({
      version: w.version,
      messageId: w.message_id,
      kind: w.kind,
      senderNhi: w.sender_nhi,
      recipientNhi: w.recipient_nhi,
      timestamp: w.timestamp,
      ttlMs: w.ttl_ms,
      ciphertext: w.ciphertext,
      ...(w.signature === undefined ? {} : { signature: w.signature }),
    }),
    encode: (t): z.output<typeof wireSchema> => ({
      version: t.version,
      message_id: t.messageId,
      kind: t.kind,
      sender_nhi: t.senderNhi,
      recipient_nhi: t.recipientNhi,
      timestamp: t.timestamp,
      ttl_ms: t.ttlMs,
      ciphertext: t.ciphertext,
      ...(t.signature === undefined ? {} : { signature: t.signature }),
    }),
  },
);

const CONTEXT: WireFailureContext = { contract: 'MessageEnvelope', code: 'MS-400' };

/** Decodes (and validates) a wire envelope; `MS-400` naming the failing field otherwise. */
export function decodeEnvelope(json: unknown): MessageEnvelope {
  return freeze(decodeWire(messageEnvelopeCodec, json, CONTEXT));
}

/** Encodes an envelope to its wire shape; `MS-400` naming the failing field otherwise. */
export function encodeEnvelope(envelope: MessageEnvelope): MessageEnvelopeWire {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new EnablementError('MS-400', 'invalid MessageEnvelope: (root): expected an object');
  }
  return encodeWire(messageEnvelopeCodec, envelope, CONTEXT);
}

/**
 * The exact bytes the sender signs and every verifier checks:
 * `UTF-8("creto/messaging.envelope/v1") ‖ 0x00 ‖ JCS(wire envelope without "signature")`
 * (RFC 8785). Every field is covered, ciphertext included, so no field can be altered or swapped
 * between envelopes; the domain tag keeps the signature from verifying as any other contract's.
 * The envelope is validated first (`MS-400`); a `signature` present is ignored.
 */
export function envelopeSigningBytes(envelope: MessageEnvelope): Uint8Array {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new EnablementError('MS-400', 'invalid MessageEnvelope: (root): expected an object');
  }
  const wire = encodeEnvelope({ ...envelope, signature: undefined });
  return wireSigningBytes(ENVELOPE_SIGNING_DOMAIN, wire as unknown as Record<string, unknown>);
}

/** Fields of {@link createEnvelope}. */
export interface EnvelopeFields {
  /** Message id; a fresh random UUID by default. */
  readonly messageId?: Uuid;
  /** Envelope kind; `message` by default. */
  readonly kind?: EnvelopeKind;
  /** Sender NHI. */
  readonly senderNhi: string;
  /** Recipient NHI. */
  readonly recipientNhi: string;
  /** Consensus timestamp at sending, Unix ns. */
  readonly timestamp: ConsensusTimestamp;
  /** Lifetime, ms; {@link DEFAULT_ENVELOPE_TTL_MS} by default. */
  readonly ttlMs?: number;
  /** Ratchet ciphertext (copied). */
  readonly ciphertext: Uint8Array;
}

function freeze(envelope: MessageEnvelope): MessageEnvelope {
  return Object.freeze(envelope);
}

/** A validated, unsigned envelope (a frozen copy); `MS-400` naming the bad field. */
export function createEnvelope(fields: EnvelopeFields): MessageEnvelope {
  if (typeof fields !== 'object' || fields === null) {
    throw new EnablementError('MS-400', 'envelope fields: expected an object');
  }
  const envelope: MessageEnvelope = {
    version: ENVELOPE_VERSION,
    messageId: fields.messageId ?? newUuid(),
    kind: fields.kind ?? 'message',
    senderNhi: fields.senderNhi,
    recipientNhi: fields.recipientNhi,
    timestamp: fields.timestamp,
    ttlMs: fields.ttlMs ?? DEFAULT_ENVELOPE_TTL_MS,
    ciphertext: fields.ciphertext,
  };
  // The round trip validates every field and copies the bytes, so the caller's buffer can change.
  return decodeEnvelope(encodeEnvelope(envelope));
}

/**
 * Signs `envelope` with `sender`'s hybrid key (Ed25519 + ML-DSA-65, spec §3.4) and returns the
 * signed copy. `MS-400` when `sender` is not the envelope's sender or has no ML-DSA-65 key.
 * ML-DSA-65 signing costs milliseconds (see `bench/relay.bench.mjs`).
 */
export function signEnvelope(envelope: MessageEnvelope, sender: AgentKeyPair): MessageEnvelope {
  const bytes = envelopeSigningBytes(envelope);
  if (sender.identity.nhi !== envelope.senderNhi) {
    throw new EnablementError('MS-400', 'signEnvelope: the key pair is not the envelope sender');
  }
  if (!sender.postQuantum) {
    throw new EnablementError('MS-400', 'signEnvelope: the sender key pair has no ML-DSA-65 key');
  }
  return freeze({ ...envelope, signature: encodeHybridSignature(sender.signHybrid(bytes)) });
}

/** Options of {@link sealEnvelope}. */
export interface SealEnvelopeOptions extends Omit<EnvelopeFields, 'senderNhi'> {
  /** The sender's key pair (its NHI becomes `senderNhi`). */
  readonly sender: AgentKeyPair;
  /**
   * Sign the envelope; default `true`. Pass `false` only for `message` envelopes under the
   * `handshake-only` policy; a handshake is always signed.
   */
  readonly sign?: boolean;
}

/** Builds and (by default) signs an envelope in one call. */
export function sealEnvelope(options: SealEnvelopeOptions): MessageEnvelope {
  const { sender, sign, ...fields } = options;
  const envelope = createEnvelope({ ...fields, senderNhi: sender.identity.nhi });
  if (sign === false && envelope.kind === 'handshake') {
    throw new EnablementError('MS-400', 'sealEnvelope: a handshake envelope is always signed');
  }
  return sign === false ? envelope : signEnvelope(envelope, sender);
}

/** When the envelope expires: `timestamp + ttlMs`, Unix ns. */
export function envelopeExpiresAt(envelope: MessageEnvelope): ConsensusTimestamp {
  return envelope.timestamp + BigInt(envelope.ttlMs) * 1_000_000n;
}
