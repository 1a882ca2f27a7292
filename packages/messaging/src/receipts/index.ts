/**
 * Delivery receipts: signing, verification and publication of the spec §5.2 `DeliveryReceipt`
 * (core's codec and signing bytes) on `messaging.delivery_receipts`.
 * @module
 */
export {
  type DeliveryReceiptFields,
  decodeDeliveryReceiptPayload,
  publishDeliveryReceipt,
  signDeliveryReceipt,
  verifyDeliveryReceipt,
} from './receipts.js';
