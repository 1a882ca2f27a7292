import {
  ACTION_PARAMETERS_BOUNDS,
  AgentKeyPair,
  base64urlToBytes,
  boundedJson,
  boundedText,
  bytesCodec,
  bytesToBase64url,
  type ConsensusTimestamp,
  consensusTimestampCodec,
  decodeWire,
  EnablementError,
  encodeHybridSignature,
  encodeWire,
  HYBRID_SIGNATURE_LENGTH,
  type JsonValue,
  type NhiClient,
  nhiCodec,
  nobleCryptoProvider,
  type Principal,
  type Uuid,
  uuidCodec,
  wireSigningBytes,
} from '@creto/core';
import { z } from 'zod';

/**
 * Domain tag of the signing bytes of an {@link ApprovalResponse}: no other object an approver's
 * key signs (delegation links, usage events, override tokens) can pass for a response.
 */
export const APPROVAL_RESPONSE_SIGNING_DOMAIN = 'creto-approval-response-v1';

/** An approver's answer. */
export const APPROVAL_DECISIONS = Object.freeze(['APPROVE', 'DENY'] as const);

/** One of {@link APPROVAL_DECISIONS}. */
export type ApprovalDecisionValue = (typeof APPROVAL_DECISIONS)[number];

/** Longest `reason` of a response, in characters. */
export const MAX_APPROVAL_REASON_LENGTH = 1024;

/** Lengths a response nonce may have, in bytes. */
export const APPROVAL_NONCE_LENGTHS: readonly number[] = Object.freeze([16, 32]);

/** Length of an Ed25519 signature (RFC 8032). */
export const ED25519_SIGNATURE_LENGTH = 64;

/**
 * An approver's signed answer to one oversight request (spec §4.4 step d, §7.2
 * `SubmitResponse(APPROVE, "Invoice verified")`). The request id is inside the signed bytes, so a
 * response can never be replayed against another request.
 */
export interface ApprovalResponse {
  /** The request answered. */
  readonly requestId: Uuid;
  /** NHI of the approver; the signature must verify with this principal's registered key. */
  readonly approver: string;
  /** `APPROVE` or `DENY`. */
  readonly decision: ApprovalDecisionValue;
  /** Why, for the record (at most {@link MAX_APPROVAL_REASON_LENGTH} characters). */
  readonly reason?: string;
  /**
   * "Approve with edits": the action parameters the approver approves instead of the requested
   * ones (bounded JSON as `Action.parameters`). Only with `APPROVE`, and only where the engine's
   * rules allow edits for the request's policy.
   */
  readonly editedParameters?: JsonValue;
  /** When the approver answered (Unix ns, the approver's clock; checked against a skew bound). */
  readonly respondedAt: ConsensusTimestamp;
  /** 16 or 32 random bytes: two answers with equal content still differ. */
  readonly nonce: Uint8Array;
}

/** An {@link ApprovalResponse} with its signature. */
export interface SignedApprovalResponse extends ApprovalResponse {
  /**
   * Over {@link approvalResponseSigningBytes}: Ed25519 (64 bytes) for an approver registered
   * with a classical key only, the hybrid Ed25519 ‖ ML-DSA-65 (3373 bytes, `encodeHybridSignature`)
   * for an approver registered with an ML-DSA-65 key (never downgraded).
   */
  readonly signature: Uint8Array;
}

/** Wire shape of {@link SignedApprovalResponse} (snake_case, int64 as a string, bytes as base64url). */
export interface SignedApprovalResponseWire {
  /** UUID. */
  request_id: string;
  /** NHI. */
  approver: string;
  /** `APPROVE` or `DENY`. */
  decision: ApprovalDecisionValue;
  /** Reason, when given. */
  reason?: string;
  /** Edited parameters, when given. */
  edited_parameters?: JsonValue;
  /** Unix ns, int64 decimal string. */
  responded_at: string;
  /** Unpadded base64url. */
  nonce: string;
  /** Unpadded base64url. */
  signature: string;
}

/** Wire shape of an unsigned {@link ApprovalResponse} (what the signature covers). */
export type ApprovalResponseWire = Omit<SignedApprovalResponseWire, 'signature'>;

const nonceCodec = bytesCodec(APPROVAL_NONCE_LENGTHS);
const signatureCodec = bytesCodec([ED25519_SIGNATURE_LENGTH, HYBRID_SIGNATURE_LENGTH]);
const parametersSchema = boundedJson(ACTION_PARAMETERS_BOUNDS);
const decisionSchema = z.enum(APPROVAL_DECISIONS);

const wireShape = {
  request_id: uuidCodec,
  approver: nhiCodec,
  decision: decisionSchema,
  reason: boundedText(MAX_APPROVAL_REASON_LENGTH).optional(),
  edited_parameters: parametersSchema.optional(),
  responded_at: consensusTimestampCodec,
  nonce: nonceCodec,
};

const tsShape = {
  requestId: uuidCodec.out,
  approver: z.string(),
  decision: decisionSchema,
  reason: boundedText(MAX_APPROVAL_REASON_LENGTH).optional(),
  editedParameters: parametersSchema.optional(),
  respondedAt: consensusTimestampCodec.out,
  nonce: nonceCodec.out,
};

type UnsignedTs = z.output<z.ZodObject<typeof tsShape>>;

function toTs(w: Record<string, unknown> & { request_id: Uuid; approver: string }): UnsignedTs {
  const out: Record<string, unknown> = {
    requestId: w.request_id,
    approver: w.approver,
    decision: w.decision,
    respondedAt: w.responded_at,
    nonce: w.nonce,
  };
  if (w.reason !== undefined) out.reason = w.reason;
  // `null` is a JSON value an approver may set parameters to: only absence means "no edit".
  if (Object.hasOwn(w, 'edited_parameters') && w.edited_parameters !== undefined) {
    out.editedParameters = w.edited_parameters;
  }
  return out as unknown as UnsignedTs;
}

function toWire(t: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    request_id: t.requestId,
    approver: t.approver,
    decision: t.decision,
    responded_at: t.respondedAt,
    nonce: t.nonce,
  };
  if (t.reason !== undefined) out.reason = t.reason;
  if (Object.hasOwn(t, 'editedParameters') && t.editedParameters !== undefined) {
    out.edited_parameters = t.editedParameters;
  }
  return out;
}

const unsignedCodec = z.codec(z.strictObject(wireShape), z.strictObject(tsShape), {
  decode: (w) => toTs(w),
  encode: (t) => toWire(t) as never,
}) as unknown as z.ZodType<ApprovalResponse, ApprovalResponseWire>;

const signedCodec = z.codec(
  z.strictObject({ ...wireShape, signature: signatureCodec }),
  z.strictObject({ ...tsShape, signature: signatureCodec.out }),
  {
    decode: (w) => ({ ...toTs(w), signature: w.signature }),
    encode: (t) => ({ ...toWire(t), signature: t.signature }) as never,
  },
) as unknown as z.ZodType<SignedApprovalResponse, SignedApprovalResponseWire>;

const context = (contract: string) => ({ contract, code: 'OV-400' as const });

/** Encodes a signed response to its wire JSON; `OV-400` naming the bad field. */
export function encodeApprovalResponse(response: SignedApprovalResponse): SignedApprovalResponseWire {
  return encodeWire(signedCodec, response, context('ApprovalResponse'));
}

/** Decodes (and validates) a signed response's wire JSON; `OV-400` naming the bad field. */
export function decodeApprovalResponse(json: unknown): SignedApprovalResponse {
  return decodeWire(signedCodec, json, context('ApprovalResponse'));
}

/** A validated signed response with the bytes its signature must cover. */
export interface PreparedApprovalResponse {
  /** A fresh TypeScript copy. */
  readonly response: SignedApprovalResponse;
  /** {@link approvalResponseSigningBytes} of it. */
  readonly signingBytes: Uint8Array;
}

/** The wire members of a validated response, by plain mapping (no second validation pass). */
function wireOf(response: SignedApprovalResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {
    request_id: response.requestId,
    approver: response.approver,
    decision: response.decision,
    responded_at: response.respondedAt.toString(),
    nonce: bytesToBase64url(response.nonce),
  };
  if (response.reason !== undefined) out.reason = response.reason;
  if (response.editedParameters !== undefined) out.edited_parameters = response.editedParameters;
  return out;
}

/**
 * Validates a signed response given in either shape (TypeScript, or wire JSON recognised by its
 * `request_id` member) in one pass of the codec, and returns a fresh TypeScript copy with its
 * signing bytes; `OV-400` naming the bad field.
 */
export function prepareApprovalResponse(input: unknown): PreparedApprovalResponse {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new EnablementError('OV-400', 'approval response: expected an object');
  }
  let response: SignedApprovalResponse;
  if (Object.hasOwn(input, 'request_id')) {
    response = decodeApprovalResponse(input);
  } else {
    const wire = encodeApprovalResponse(input as SignedApprovalResponse);
    response = {
      requestId: wire.request_id as Uuid,
      approver: wire.approver,
      decision: wire.decision,
      ...(wire.reason === undefined ? {} : { reason: wire.reason }),
      ...(wire.edited_parameters === undefined
        ? {}
        : { editedParameters: JSON.parse(JSON.stringify(wire.edited_parameters)) as JsonValue }),
      respondedAt: BigInt(wire.responded_at),
      nonce: base64urlToBytes(wire.nonce),
      signature: base64urlToBytes(wire.signature),
    };
  }
  return { response, signingBytes: wireSigningBytes(APPROVAL_RESPONSE_SIGNING_DOMAIN, wireOf(response)) };
}

/**
 * Validates a signed response given in either shape (TypeScript, or wire JSON recognised by its
 * `request_id` member) and returns a fresh TypeScript copy; `OV-400` naming the bad field.
 */
export function parseSignedApprovalResponse(input: unknown): SignedApprovalResponse {
  return prepareApprovalResponse(input).response;
}

/**
 * The bytes an approver signs (RFC 8785, domain-separated like core's `wireSigningBytes`):
 *
 * ```
 * UTF-8("creto-approval-response-v1") ‖ 0x00 ‖ JCS({ request_id, approver, decision, reason?,
 *   edited_parameters?, responded_at: "<int64 ns>", nonce: "<base64url>" })
 * ```
 *
 * Absent optional members are omitted (not `null`). `OV-400` for an invalid response.
 */
export function approvalResponseSigningBytes(response: ApprovalResponse): Uint8Array {
  const { signature: _ignored, ...unsigned } = response as SignedApprovalResponse;
  const wire = encodeWire(unsignedCodec, unsigned, context('ApprovalResponse'));
  return wireSigningBytes(APPROVAL_RESPONSE_SIGNING_DOMAIN, wire as unknown as Record<string, unknown>);
}

/** Options of {@link signApprovalResponse}. */
export interface SignApprovalResponseOptions {
  /**
   * `hybrid` (Ed25519 ‖ ML-DSA-65) or `ed25519`. Default: `hybrid` when the key pair holds an
   * ML-DSA-65 key, `ed25519` otherwise — what the engine requires of a principal registered
   * with such a key.
   */
  readonly scheme?: 'ed25519' | 'hybrid';
}

/** The fields an approver fills in; `nonce` is drawn at random when absent. */
export type ApprovalResponseInput = Omit<ApprovalResponse, 'nonce' | 'approver'> & {
  /** Default: 16 random bytes. */
  readonly nonce?: Uint8Array;
  /** Default (and required value): the key pair's NHI. */
  readonly approver?: string;
};

/**
 * Signs a response with the approver's key pair (for approver UIs and chat bots, spec §4.4 d).
 * Throws `OV-400` for an invalid response or when `approver` is not the key pair's NHI.
 *
 * @example
 * ```ts
 * const signed = signApprovalResponse(cfoKeys, {
 *   requestId, decision: 'APPROVE', reason: 'Invoice verified', respondedAt: clock.now(),
 * });
 * await oversight.submitResponse(signed);
 * ```
 */
export function signApprovalResponse(
  keyPair: AgentKeyPair,
  response: ApprovalResponseInput,
  options: SignApprovalResponseOptions = {},
): SignedApprovalResponse {
  if (!(keyPair instanceof AgentKeyPair)) {
    throw new EnablementError('OV-400', 'keyPair: expected an AgentKeyPair');
  }
  if (typeof response !== 'object' || response === null) {
    throw new EnablementError('OV-400', 'approval response: expected an object');
  }
  const approver = response.approver ?? keyPair.identity.nhi;
  if (approver !== keyPair.identity.nhi) {
    throw new EnablementError('OV-400', 'approver: must be the NHI of the signing key pair');
  }
  const unsigned: ApprovalResponse = {
    ...response,
    approver,
    nonce: response.nonce ?? nobleCryptoProvider.randomBytes(16),
  };
  const bytes = approvalResponseSigningBytes(unsigned);
  const scheme = options.scheme ?? (keyPair.postQuantum ? 'hybrid' : 'ed25519');
  const signature =
    scheme === 'hybrid' ? encodeHybridSignature(keyPair.signHybrid(bytes)) : keyPair.sign(bytes);
  return parseSignedApprovalResponse({ ...unsigned, signature });
}

/**
 * Verifies a signed response against the approver's registered keys and returns the principal.
 * An approver registered with an ML-DSA-65 key must sign hybrid (both halves verified); one with
 * a classical key only signs Ed25519. Every failure — unknown or revoked approver, wrong scheme,
 * bad signature — is `OV-401`, with the NHI service's error as `causedBy`. `signingBytes`, when
 * given, must be those of `response` (from {@link prepareApprovalResponse}).
 */
export async function verifyApprovalResponse(
  nhi: Pick<NhiClient, 'lookup' | 'validateSignature' | 'validateHybridSignature'>,
  response: SignedApprovalResponse,
  signingBytes?: Uint8Array,
): Promise<Principal> {
  const bytes = signingBytes ?? approvalResponseSigningBytes(response);
  let principal: Principal;
  try {
    principal = await nhi.lookup(response.approver);
  } catch (cause) {
    throw new EnablementError('OV-401', `approver ${response.approver} cannot be verified`, { cause });
  }
  const { signature } = response;
  try {
    if (principal.identity.hasPostQuantumKey) {
      if (signature.length !== HYBRID_SIGNATURE_LENGTH) {
        throw new EnablementError(
          'OV-401',
          `approver ${response.approver} is registered with an ML-DSA-65 key: a hybrid signature is required`,
        );
      }
      await nhi.validateHybridSignature(principal.nhi, bytes, signature);
    } else {
      if (signature.length !== ED25519_SIGNATURE_LENGTH) {
        throw new EnablementError(
          'OV-401',
          `approver ${response.approver} has no ML-DSA-65 key: an Ed25519 signature is required`,
        );
      }
      await nhi.validateSignature(principal.nhi, bytes, signature);
    }
  } catch (cause) {
    if (EnablementError.is(cause) && cause.code === 'OV-401') throw cause;
    throw new EnablementError(
      'OV-401',
      `approval response signature of ${response.approver} does not verify`,
      {
        cause,
      },
    );
  }
  return principal;
}
