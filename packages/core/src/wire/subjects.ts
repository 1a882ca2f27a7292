/**
 * Event-bus subjects of the wire contracts (spec §5.2). `oversightNotifications` is the
 * wildcard that matches every channel; publish on `oversightNotificationSubject(channel)`.
 */
export const SUBJECTS = Object.freeze({
  /** Runtime → Metering usage events (`RuntimeUsageEvent`). */
  meteringEventsRuntime: 'metering.events.runtime',
  /** Messaging → Audit delivery receipts (`DeliveryReceipt`). */
  messagingDeliveryReceipts: 'messaging.delivery_receipts',
  /** Oversight → Messaging notifications, all channels (`OversightNotification`). */
  oversightNotifications: 'oversight.notifications.*',
} as const);
