import { z } from 'zod';
import { EnablementError } from '../errors/enablement-error.js';
import type { Uuid } from '../ids/uuid.js';
import type { ConsensusTimestamp } from '../time/clock.js';
import { decodeWire, encodeWire, type WireFailureContext } from './errors.js';
import { boundedText, consensusTimestampCodec, nhiCodec, uuidCodec } from './leaf.js';
import { withMeta } from './registry.js';
import { signatureCodec, wireSigningBytes } from './signature.js';

/** Receipt types (spec §5.2). */
export const RECEIPT_TYPES = Object.freeze(['delivered', 'read', 'failed'] as const);

/** One of {@link RECEIPT_TYPES}. */
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** Longest `failure_reason`. */
export const MAX_FAILURE_REASON_LENGTH = 1024;

/** Fields common to every {@link DeliveryReceipt}. */
export interface DeliveryReceiptHeader {
  /** The message the receipt is about. */
  messageId: Uuid;
  /** The recipient's NHI. */
  recipientNhi: string;
  /** When it happened (consensus time, Unix ns). */
  timestamp: ConsensusTimestamp;
  /** Signature by the issuer over {@link deliveryReceiptSigningBytes} (ML-DSA-65 or hybrid). */
  signature: Uint8Array;
}

/** The message was delivered to, or read by, the recipient. */
export interface DeliveredReceipt extends DeliveryReceiptHeader {
  /** `delivered` or `read`. */
  receiptType: 'delivered' | 'read';
}

/** The message could not be delivered. */
export interface FailedReceipt extends DeliveryReceiptHeader {
  /** `failed`. */
  receiptType: 'failed';
  /** Why (1–1024 characters); present exactly when the receipt is `failed`. */
  failureReason: string;
}

/** A signed delivery receipt published on `messaging.delivery_receipts` (spec §5.2). */
export type DeliveryReceipt = DeliveredReceipt | FailedReceipt;

/** Wire fields common to every {@link DeliveryReceiptWire}. */
export interface DeliveryReceiptHeaderWire {
  /** UUID. */
  message_id: string;
  /** NHI. */
  recipient_nhi: string;
  /** Unix ns, int64 decimal string. */
  timestamp: string;
  /** Unpadded base64url. */
  signature: string;
}

/** Wire shape of {@link DeliveredReceipt}: no `failure_reason` member. */
export interface DeliveredReceiptWire extends DeliveryReceiptHeaderWire {
  /** `delivered` or `read`. */
  receipt_type: 'delivered' | 'read';
}

/** Wire shape of {@link FailedReceipt}. */
export interface FailedReceiptWire extends DeliveryReceiptHeaderWire {
  /** `failed`. */
  receipt_type: 'failed';
  /** Why delivery failed. */
  failure_reason: string;
}

/** Wire shape of {@link DeliveryReceipt}. */
export type DeliveryReceiptWire = DeliveredReceiptWire | FailedReceiptWire;

const headerWire = {
  message_id: uuidCodec,
  recipient_nhi: nhiCodec,
  timestamp: consensusTimestampCodec,
  signature: signatureCodec,
};

const headerTs = {
  messageId: uuidCodec.out,
  recipientNhi: z.string(),
  timestamp: consensusTimestampCodec.out,
  signature: signatureCodec.out,
};

const receiptWireSchema = z.discriminatedUnion('receipt_type', [
  z.strictObject({ ...headerWire, receipt_type: z.enum(['delivered', 'read']) }),
  z.strictObject({
    ...headerWire,
    receipt_type: z.literal('failed'),
    failure_reason: boundedText(MAX_FAILURE_REASON_LENGTH),
  }),
]);

const receiptTsSchema = z.discriminatedUnion('receiptType', [
  z.strictObject({ ...headerTs, receiptType: z.enum(['delivered', 'read']) }),
  z.strictObject({
    ...headerTs,
    receiptType: z.literal('failed'),
    failureReason: boundedText(MAX_FAILURE_REASON_LENGTH),
  }),
]);

/**
 * Codec of {@link DeliveryReceipt} ↔ {@link DeliveryReceiptWire}. `failure_reason` is required
 * for `failed` and rejected otherwise (one representation per receipt, which signatures need).
 */
export const deliveryReceiptCodec: z.ZodType<DeliveryReceipt, DeliveryReceiptWire> = withMeta(
  z.codec(receiptWireSchema, receiptTsSchema, {
    decode: (w): z.input<typeof receiptTsSchema> => {
      const header = {
        messageId: w.message_id,
        recipientNhi: w.recipient_nhi,
        timestamp: w.timestamp,
        signature: w.signature,
      };
      return w.receipt_type === 'failed'
        ? { ...header, receiptType: w.receipt_type, failureReason: w.failure_reason }
        : { ...header, receiptType: w.receipt_type };
    },
    encode: (t): z.output<typeof receiptWireSchema> => {
      const header = {
        message_id: t.messageId,
        recipient_nhi: t.recipientNhi,
        timestamp: t.timestamp,
        signature: t.signature,
      };
      return t.receiptType === 'failed'
        ? { ...header, receipt_type: t.receiptType, failure_reason: t.failureReason }
        : { ...header, receipt_type: t.receiptType };
    },
  }),
  {
    title: 'DeliveryReceipt',
    description:
      'Signed delivery receipt published by Messaging on messaging.delivery_receipts (spec §5.2); failure_reason present iff receipt_type is failed.',
  },
);

const RECEIPT_CONTEXT: WireFailureContext = { contract: 'DeliveryReceipt', code: 'MS-400' };

/** Decodes a {@link DeliveryReceiptWire}; `MS-400` naming the failing path otherwise. */
export function decodeDeliveryReceipt(json: unknown): DeliveryReceipt {
  return decodeWire(deliveryReceiptCodec, json, RECEIPT_CONTEXT);
}

/** Encodes a {@link DeliveryReceipt}; `MS-400` naming the failing field otherwise. */
export function encodeDeliveryReceipt(receipt: DeliveryReceipt): DeliveryReceiptWire {
  return encodeWire(deliveryReceiptCodec, receipt, RECEIPT_CONTEXT);
}

/** Domain-separation tag of {@link deliveryReceiptSigningBytes}. */
export const DELIVERY_RECEIPT_SIGNING_DOMAIN = 'creto/messaging.delivery_receipts/v1';

/** A {@link DeliveryReceipt} before it is signed: the signature may be absent. */
export type UnsignedDeliveryReceipt = DeliveryReceipt extends infer R
  ? R extends DeliveryReceipt
    ? Omit<R, 'signature'> & { signature?: Uint8Array }
    : never
  : never;

// Stands in for the absent signature so the one codec validates the rest; it is then dropped.
const PLACEHOLDER_SIGNATURE = new Uint8Array(3309);

/**
 * The exact bytes the receipt's issuer signs and Audit verifies:
 * `UTF-8("creto/messaging.delivery_receipts/v1") ‖ 0x00 ‖ JCS(wire receipt without "signature")`
 * (RFC 8785). The receipt is validated and encoded with {@link deliveryReceiptCodec} first; any
 * `signature` present is ignored. Invalid receipts throw `MS-400`.
 */
export function deliveryReceiptSigningBytes(receipt: UnsignedDeliveryReceipt): Uint8Array {
  if (typeof receipt !== 'object' || receipt === null) {
    throw new EnablementError('MS-400', 'invalid DeliveryReceipt: (root): expected an object');
  }
  const wire = encodeDeliveryReceipt({ ...receipt, signature: PLACEHOLDER_SIGNATURE } as DeliveryReceipt);
  return wireSigningBytes(DELIVERY_RECEIPT_SIGNING_DOMAIN, wire as unknown as Record<string, unknown>);
}
