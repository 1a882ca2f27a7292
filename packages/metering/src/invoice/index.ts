/**
 * Invoices: `buildInvoice` (pure, exact, one rounding per line), the snake_case wire codec and
 * a plain-text table (spec §4.1, §7.4).
 * @module
 */
export { buildInvoice } from './build.js';
export { formatInvoiceTable } from './format.js';
export {
  type Invoice,
  type InvoiceInput,
  type InvoiceLine,
  MAX_INVOICE_ID_LENGTH,
  MAX_INVOICE_LINES,
  MAX_INVOICE_USAGE_ENTRIES,
  MAX_LINE_DESCRIPTION_LENGTH,
} from './types.js';
export {
  decodeInvoice,
  encodeInvoice,
  type InvoiceLineWire,
  type InvoiceTierWire,
  type InvoiceWire,
  invoiceCodec,
} from './wire.js';
