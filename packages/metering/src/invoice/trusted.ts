import type { Invoice } from './types.js';

/**
 * Invoices made by `buildInvoice` or `decodeInvoice`: deeply frozen and already checked, so
 * `encodeInvoice` maps them directly instead of validating them again through zod (an invoice
 * is encoded once per delivery, for thousands of subscriptions at period end).
 */
export const trustedInvoices = new WeakSet<Invoice>();
