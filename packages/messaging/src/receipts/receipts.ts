import {
  type AgentIdentity,
  type AgentKeyPair,
  type ConsensusTimestamp,
  type CryptoProvider,
  type DeliveryReceipt,
  decodeDeliveryReceipt,
  decodeHybridSignature,
  deliveryReceiptSigningBytes,
  EnablementError,
  type EventBus,
  encodeDeliveryReceipt,
  encodeHybridSignature,
  HYBRID_SIGNATURE_LENGTH,
  nobleCryptoProvider,
  type PublishAck,
  publishJson,
  type ReceiptType,
  SUBJECTS,
  type UnsignedDeliveryReceipt,
  type Uuid,
  verifyIdentityHybrid,
} from '@creto/core';

/** What {@link signDeliveryReceipt} takes: a receipt without its signature. */
export interface DeliveryReceiptFields {
  /** The message. */
  readonly messageId: Uuid;
  /** The recipient's NHI. */
  readonly recipientNhi: string;
  /** `delivered`, `read` or `failed`. */
  readonly receiptType: ReceiptType;
  /** Consensus time of the event, Unix ns. */
  readonly timestamp: ConsensusTimestamp;
  /** Why delivery failed; required for (and only for) `failed`. */
  readonly failureReason?: string;
}

function unsigned(fields: DeliveryReceiptFields): UnsignedDeliveryReceipt {
  const header = {
    messageId: fields.messageId,
    recipientNhi: fields.recipientNhi,
    timestamp: fields.timestamp,
  };
  if (fields.receiptType === 'failed') {
    return { ...header, receiptType: 'failed', failureReason: fields.failureReason ?? '' };
  }
  if (fields.failureReason !== undefined) {
    throw new EnablementError('MS-400', 'failureReason is only allowed on failed receipts');
  }
  return { ...header, receiptType: fields.receiptType };
}

/**
 * A delivery receipt signed by the relay's service key: the hybrid signature (Ed25519 ‖
 * ML-DSA-65, 3373 bytes) over core's `deliveryReceiptSigningBytes` (spec §5.2). `MS-400` for
 * invalid fields or a key pair without an ML-DSA-65 key.
 */
export function signDeliveryReceipt(fields: DeliveryReceiptFields, signer: AgentKeyPair): DeliveryReceipt {
  if (!signer.postQuantum) {
    throw new EnablementError('MS-400', 'receipt signer: the service key pair has no ML-DSA-65 key');
  }
  const receipt = unsigned(fields);
  const bytes = deliveryReceiptSigningBytes(receipt);
  const signature = encodeHybridSignature(signer.signHybrid(bytes));
  return Object.freeze({ ...receipt, signature } as DeliveryReceipt);
}

/**
 * True when `receipt` carries `issuer`'s valid hybrid signature over its signing bytes. False,
 * never a throw, for a malformed receipt, an ML-DSA-only signature or an issuer without an
 * ML-DSA-65 key (a relay signs hybrid, so anything else is not its receipt).
 */
export function verifyDeliveryReceipt(
  receipt: DeliveryReceipt,
  issuer: AgentIdentity,
  provider: CryptoProvider = nobleCryptoProvider,
): boolean {
  try {
    if (receipt.signature.length !== HYBRID_SIGNATURE_LENGTH) return false;
    const bytes = deliveryReceiptSigningBytes(receipt);
    return verifyIdentityHybrid(issuer, bytes, decodeHybridSignature(receipt.signature), provider);
  } catch {
    return false;
  }
}

/**
 * Publishes a receipt on `messaging.delivery_receipts` (spec §5.2) in its wire shape, with msgId
 * `<message id>:<receipt type>` so a retried publish is deduplicated by the bus.
 */
export function publishDeliveryReceipt(
  bus: Pick<EventBus, 'publish'>,
  receipt: DeliveryReceipt,
): Promise<PublishAck> {
  let wire: unknown;
  try {
    wire = encodeDeliveryReceipt(receipt);
  } catch (error) {
    return Promise.reject(error);
  }
  return publishJson(bus, SUBJECTS.messagingDeliveryReceipts, wire, {
    msgId: `${receipt.messageId}:${receipt.receiptType}`,
  });
}

/** Decodes a receipt payload taken from the bus (UTF-8 JSON); `MS-400` when malformed. */
export function decodeDeliveryReceiptPayload(data: Uint8Array): DeliveryReceipt {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (cause) {
    throw new EnablementError('MS-400', 'delivery receipt payload is not UTF-8 JSON', { cause });
  }
  return decodeDeliveryReceipt(json);
}
