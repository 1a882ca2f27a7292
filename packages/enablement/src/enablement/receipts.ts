import {
  type AgentIdentity,
  type AuditLog,
  type CryptoProvider,
  createAuditEvent,
  type DeliveryReceipt,
  EnablementError,
  type EventBus,
  type EventMessage,
  type Logger,
  newUuid,
  SUBJECTS,
  type Subscription,
  type UnifiedAuditEvent,
  utf8ToBytes,
} from '@creto/core';
import { decodeDeliveryReceiptPayload, verifyDeliveryReceipt } from '@creto/messaging';

/** Stream that captures `messaging.delivery_receipts` (spec §5.2). */
export const RECEIPTS_STREAM = 'MESSAGING_RECEIPTS';
/** Durable consumer that writes delivery receipts to the audit log (spec §5.2: "Consumer: Audit"). */
export const RECEIPTS_AUDIT_CONSUMER = 'audit';
/** Audit action of a delivery receipt. */
export const RECEIPT_AUDIT_ACTION = 'messaging.receipt';
/** Delay before a receipt whose audit append failed is offered again, ms. */
export const RECEIPT_RETRY_DELAY_MS = 5_000;

/** The running receipt consumer. @internal */
export interface ReceiptAuditConsumer {
  /** Handler invocations that have not finished. */
  readonly inFlight: number;
  /** Unsubscribes (unanswered deliveries are redelivered to the next subscriber). */
  stop(): Promise<void>;
}

/** Options of {@link startReceiptAuditConsumer}. @internal */
export interface ReceiptAuditConsumerOptions {
  readonly bus: EventBus;
  readonly audit: Pick<AuditLog, 'append'>;
  /** The relay's identity: only receipts it signed are recorded. */
  readonly relay: AgentIdentity;
  readonly provider: CryptoProvider;
  readonly logger: Logger;
}

/**
 * The audit event of a verified delivery receipt. Its id is derived from the message id and
 * receipt type, so a redelivered receipt appends the identical event (the log answers with the
 * first receipt) instead of a second one.
 */
export function receiptAuditEvent(
  receipt: DeliveryReceipt,
  relayNhi: string,
  provider: CryptoProvider,
): UnifiedAuditEvent {
  const digest = provider.sha256(utf8ToBytes(`creto.receipt:${receipt.messageId}:${receipt.receiptType}`));
  return createAuditEvent({
    eventId: newUuid(() => digest.slice(0, 16)),
    product: 'messaging',
    agentNhi: receipt.recipientNhi,
    action: RECEIPT_AUDIT_ACTION,
    resource: `messaging:message:${receipt.messageId}`,
    outcome: receipt.receiptType === 'failed' ? 'failure' : 'success',
    timestamp: receipt.timestamp,
    metadata: {
      receipt_type: receipt.receiptType,
      message_id: receipt.messageId,
      issuer: relayNhi,
      ...(receipt.receiptType === 'failed' ? { failure_reason: receipt.failureReason } : {}),
    },
  });
}

/**
 * Consumes `messaging.delivery_receipts` into the audit log (spec §5.2). Each receipt is decoded
 * and its hybrid signature verified against the relay's identity before use; a malformed or
 * forged one is dropped (`term`) and logged, never recorded. An append that fails is retried
 * (`nak` with {@link RECEIPT_RETRY_DELAY_MS}) until the consumer's delivery limit dead-letters it.
 * @internal
 */
export async function startReceiptAuditConsumer(
  options: ReceiptAuditConsumerOptions,
): Promise<ReceiptAuditConsumer> {
  const { bus, audit, relay, provider, logger } = options;
  await bus.addConsumer(RECEIPTS_STREAM, {
    name: RECEIPTS_AUDIT_CONSUMER,
    filterSubject: SUBJECTS.messagingDeliveryReceipts,
    maxDeliver: 5,
  });
  let inFlight = 0;
  const handle = async (message: EventMessage): Promise<void> => {
    let receipt: DeliveryReceipt;
    try {
      receipt = decodeDeliveryReceiptPayload(message.data);
    } catch (error) {
      logger.warn('malformed delivery receipt dropped', {
        operation: 'receipt.audit',
        error_code: codeOf(error),
      });
      message.term('malformed receipt');
      return;
    }
    if (!verifyDeliveryReceipt(receipt, relay, provider)) {
      logger.warn('delivery receipt with an invalid signature dropped', {
        operation: 'receipt.audit',
        message_id: receipt.messageId,
      });
      message.term('invalid signature');
      return;
    }
    try {
      await audit.append(receiptAuditEvent(receipt, relay.nhi, provider));
      message.ack();
    } catch (error) {
      logger.warn('delivery receipt not audited yet; retrying', {
        operation: 'receipt.audit',
        message_id: receipt.messageId,
        error_code: codeOf(error),
      });
      message.nak(RECEIPT_RETRY_DELAY_MS, codeOf(error));
    }
  };
  const subscription: Subscription = await bus.subscribe(RECEIPTS_STREAM, RECEIPTS_AUDIT_CONSUMER, (m) => {
    inFlight++;
    return handle(m).finally(() => {
      inFlight--;
    });
  });
  return Object.freeze({
    get inFlight() {
      return inFlight;
    },
    async stop() {
      if (subscription.active) await subscription.unsubscribe();
    },
  });
}

function codeOf(error: unknown): string {
  return EnablementError.is(error) ? error.code : 'PL-500';
}
