import {
  asciiToken,
  boundedText,
  CURRENCIES,
  consensusTimestampCodec,
  Decimal,
  decimalCodec,
  decodeWire,
  encodeWire,
  isCurrencyCode,
  nonNegativeDecimalCodec,
  type WireFailureContext,
  withMeta,
} from '@creto/core';
import { z } from 'zod';
import { MAX_GROUP_BY_DIMENSIONS, MAX_PLAN_ID_LENGTH, MAX_PRICE_TIERS } from '../pricing/limits.js';
import type { TierUsage } from '../pricing/price.js';
import { boundedRecord } from '../pricing/validate.js';
import { invoiceIdSchema } from './build.js';
import { trustedInvoices } from './trusted.js';
import { type Invoice, type InvoiceLine, MAX_INVOICE_LINES, MAX_LINE_DESCRIPTION_LENGTH } from './types.js';

/** Wire shape of one tier of an invoice line's breakdown. */
export interface InvoiceTierWire {
  /** Inclusive upper bound, decimal string; `null` for the unbounded last tier. */
  up_to: string | null;
  /** Units in the tier, decimal string. */
  quantity: string;
  /** Unit price, decimal string. */
  unit_price: string;
  /** Flat fee charged, decimal string (`"0"` when none). */
  flat_fee: string;
  /** Exact tier amount, decimal string (unrounded). */
  amount: string;
}

/** Wire shape of an {@link InvoiceLine}. */
export interface InvoiceLineWire {
  /** Charge id; `null` for the base fee. */
  charge_id: string | null;
  /** Human description. */
  description: string;
  /** Dimension values of the line's group. */
  groups: Record<string, string>;
  /** Quantity, decimal string (signed: engine adjustment lines may be negative). */
  quantity: string;
  /** Unit price, decimal string, or `null` when tiered or varied. */
  unit_price: string | null;
  /** Amount with exactly the currency's minor-unit digits, decimal string (signed). */
  amount: string;
  /** Tier breakdown of graduated and volume charges. */
  tiers?: InvoiceTierWire[];
}

/** Wire shape of an {@link Invoice}: snake_case, money as decimal strings, Unix ns as int64 strings. */
export interface InvoiceWire {
  /** Invoice id. */
  invoice_id: string;
  /** Subscription id. */
  subscription_id: string;
  /** Organization id. */
  organization_id: string;
  /** Plan id. */
  plan_id: string;
  /** ISO 4217 code. */
  currency: string;
  /** Unix ns, int64 decimal string. */
  period_start: string;
  /** Unix ns, int64 decimal string. */
  period_end: string;
  /** Unix ns, int64 decimal string. */
  issued_at: string;
  /** Lines in invoice order. */
  lines: InvoiceLineWire[];
  /** Sum of line amounts, decimal string. */
  subtotal: string;
  /** Amount due, decimal string. */
  total: string;
  /** Always `issued`. */
  status: 'issued';
}

const chargeIdSchema = asciiToken(MAX_PLAN_ID_LENGTH);
const descriptionSchema = boundedText(MAX_LINE_DESCRIPTION_LENGTH);
const currencySchema = z
  .string()
  .max(8, { abort: true })
  .refine((code): boolean => isCurrencyCode(code), {
    error: 'unknown currency: expected an ISO 4217 code of core CURRENCIES',
  });

const groupsSchema = boundedRecord(MAX_GROUP_BY_DIMENSIONS, 0);

const decimalTs = z.custom<Decimal>(Decimal.isDecimal, { error: 'expected a Decimal' });
const nonNegativeTs = decimalTs.refine((d) => !d.isNegative(), { error: 'must not be negative' });

const tierWireSchema = z.strictObject({
  up_to: nonNegativeDecimalCodec.nullable(),
  quantity: nonNegativeDecimalCodec,
  unit_price: nonNegativeDecimalCodec,
  flat_fee: nonNegativeDecimalCodec,
  amount: nonNegativeDecimalCodec,
});

const tierTsSchema = z.strictObject({
  upTo: nonNegativeTs.nullable(),
  quantity: nonNegativeTs,
  unitPrice: nonNegativeTs,
  flatFee: nonNegativeTs,
  amount: nonNegativeTs,
});

const lineWireSchema = z.strictObject({
  charge_id: chargeIdSchema.nullable(),
  description: descriptionSchema,
  groups: groupsSchema,
  quantity: decimalCodec,
  unit_price: nonNegativeDecimalCodec.nullable(),
  amount: decimalCodec,
  tiers: z.array(tierWireSchema).max(MAX_PRICE_TIERS, { abort: true }).optional(),
});

const lineTsSchema = z.strictObject({
  chargeId: chargeIdSchema.nullable(),
  description: descriptionSchema,
  groups: groupsSchema,
  quantity: decimalTs,
  unitPrice: nonNegativeTs.nullable(),
  amount: decimalTs,
  tiers: z.array(tierTsSchema).max(MAX_PRICE_TIERS, { abort: true }).optional(),
});

const invoiceWireSchema = z.strictObject({
  invoice_id: invoiceIdSchema,
  subscription_id: invoiceIdSchema,
  organization_id: invoiceIdSchema,
  plan_id: chargeIdSchema,
  currency: currencySchema,
  period_start: consensusTimestampCodec,
  period_end: consensusTimestampCodec,
  issued_at: consensusTimestampCodec,
  lines: z.array(lineWireSchema).max(MAX_INVOICE_LINES, { abort: true }),
  subtotal: decimalCodec,
  total: decimalCodec,
  status: z.literal('issued'),
});

const invoiceWireChecked = invoiceWireSchema.check(checkInvoice);

/** Cross-field rules: the period is ordered, and amounts have the currency's scale and balance. */
function checkInvoice(payload: z.core.ParsePayload<z.output<typeof invoiceWireSchema>>): void {
  const invoice = payload.value;
  const push = (message: string, path: (string | number)[]) =>
    payload.issues.push({ code: 'custom', message, input: invoice, path });
  if (invoice.period_end <= invoice.period_start) push('must be after period_start', ['period_end']);
  if (!isCurrencyCode(invoice.currency)) return;
  const { minorUnits } = CURRENCIES[invoice.currency];
  let sum = Decimal.fromParts(0n, minorUnits);
  for (const [index, line] of invoice.lines.entries()) {
    if (line.amount.scale !== minorUnits) {
      push(`must have exactly ${minorUnits} fraction digits for ${invoice.currency}`, [
        'lines',
        index,
        'amount',
      ]);
      return;
    }
    sum = sum.add(line.amount);
  }
  if (invoice.subtotal.scale !== minorUnits || !invoice.subtotal.eq(sum)) {
    push(`must be the sum of the line amounts (${sum.toString()})`, ['subtotal']);
    return;
  }
  if (invoice.total.scale !== minorUnits || !invoice.total.eq(invoice.subtotal)) {
    push('must equal subtotal', ['total']);
  }
}

const invoiceTsSchema = z.strictObject({
  invoiceId: invoiceIdSchema,
  subscriptionId: invoiceIdSchema,
  organizationId: invoiceIdSchema,
  planId: chargeIdSchema,
  currency: currencySchema,
  periodStart: consensusTimestampCodec.out,
  periodEnd: consensusTimestampCodec.out,
  issuedAt: consensusTimestampCodec.out,
  lines: z.array(lineTsSchema).max(MAX_INVOICE_LINES, { abort: true }),
  subtotal: decimalTs,
  total: decimalTs,
  status: z.literal('issued'),
});

type TierWireOut = z.output<typeof tierWireSchema>;
type TierTsOut = z.output<typeof tierTsSchema>;
type LineWireOut = z.output<typeof lineWireSchema>;
type LineTsOut = z.output<typeof lineTsSchema>;

const tierToTs = (t: TierWireOut): TierTsOut => ({
  upTo: t.up_to,
  quantity: t.quantity,
  unitPrice: t.unit_price,
  flatFee: t.flat_fee,
  amount: t.amount,
});
const tierToWire = (t: TierTsOut): TierWireOut => ({
  up_to: t.upTo,
  quantity: t.quantity,
  unit_price: t.unitPrice,
  flat_fee: t.flatFee,
  amount: t.amount,
});

function lineToTs(l: LineWireOut): LineTsOut {
  const line: LineTsOut = {
    chargeId: l.charge_id,
    description: l.description,
    groups: l.groups,
    quantity: l.quantity,
    unitPrice: l.unit_price,
    amount: l.amount,
  };
  if (l.tiers !== undefined) line.tiers = l.tiers.map(tierToTs);
  return line;
}

function lineToWire(l: LineTsOut): LineWireOut {
  const line: LineWireOut = {
    charge_id: l.chargeId,
    description: l.description,
    groups: l.groups,
    quantity: l.quantity,
    unit_price: l.unitPrice,
    amount: l.amount,
  };
  if (l.tiers !== undefined) line.tiers = l.tiers.map(tierToWire);
  return line;
}

/**
 * Codec of {@link Invoice} ↔ {@link InvoiceWire}. Decoding also checks what `buildInvoice`
 * guarantees: every amount has exactly the currency's minor-unit digits, `subtotal` is the exact
 * sum of the line amounts, `total` equals it, and the period is ordered — so a tampered or
 * truncated invoice is refused rather than believed.
 */
export const invoiceCodec: z.ZodType<Invoice, InvoiceWire> = withMeta(
  z.codec(invoiceWireChecked, invoiceTsSchema, {
    decode: (w) => ({
      invoiceId: w.invoice_id,
      subscriptionId: w.subscription_id,
      organizationId: w.organization_id,
      planId: w.plan_id,
      currency: w.currency,
      periodStart: w.period_start,
      periodEnd: w.period_end,
      issuedAt: w.issued_at,
      lines: w.lines.map(lineToTs),
      subtotal: w.subtotal,
      total: w.total,
      status: w.status,
    }),
    encode: (t) => ({
      invoice_id: t.invoiceId,
      subscription_id: t.subscriptionId,
      organization_id: t.organizationId,
      plan_id: t.planId,
      currency: t.currency,
      period_start: t.periodStart,
      period_end: t.periodEnd,
      issued_at: t.issuedAt,
      lines: t.lines.map(lineToWire),
      subtotal: t.subtotal,
      total: t.total,
      status: t.status,
    }),
  }),
  {
    title: 'Invoice',
    description:
      'Metering invoice (spec §7.4): snake_case, money as decimal strings with the currency minor-unit digits, Unix ns as int64 strings.',
  },
);

const INVOICE_CONTEXT: WireFailureContext = { contract: 'Invoice', code: 'MT-400' };

function freezeLine(line: InvoiceLine): InvoiceLine {
  const tiers = line.tiers?.map((tier: TierUsage) => Object.freeze({ ...tier }));
  return Object.freeze({
    ...line,
    groups: Object.freeze(Object.fromEntries(Object.entries(line.groups))),
    ...(tiers === undefined ? {} : { tiers: Object.freeze(tiers) }),
  });
}

function encodeTrusted(invoice: Invoice): InvoiceWire {
  return {
    invoice_id: invoice.invoiceId,
    subscription_id: invoice.subscriptionId,
    organization_id: invoice.organizationId,
    plan_id: invoice.planId,
    currency: invoice.currency,
    period_start: invoice.periodStart.toString(),
    period_end: invoice.periodEnd.toString(),
    issued_at: invoice.issuedAt.toString(),
    lines: invoice.lines.map((line) => {
      const out: InvoiceLineWire = {
        charge_id: line.chargeId,
        description: line.description,
        groups: { ...line.groups },
        quantity: line.quantity.toString(),
        unit_price: line.unitPrice === null ? null : line.unitPrice.toString(),
        amount: line.amount.toString(),
      };
      if (line.tiers !== undefined) {
        out.tiers = line.tiers.map((tier) => ({
          up_to: tier.upTo === null ? null : tier.upTo.toString(),
          quantity: tier.quantity.toString(),
          unit_price: tier.unitPrice.toString(),
          flat_fee: tier.flatFee.toString(),
          amount: tier.amount.toString(),
        }));
      }
      return out;
    }),
    subtotal: invoice.subtotal.toString(),
    total: invoice.total.toString(),
    status: invoice.status,
  };
}

/**
 * Encodes an {@link Invoice} to its wire JSON; `MT-400` naming the failing field otherwise.
 * Invoices from `buildInvoice` and {@link decodeInvoice} (frozen, already checked) are mapped
 * directly; any other object goes through {@link invoiceCodec}'s checks first.
 */
export function encodeInvoice(invoice: Invoice): InvoiceWire {
  if (typeof invoice === 'object' && invoice !== null && trustedInvoices.has(invoice))
    return encodeTrusted(invoice);
  return encodeWire(invoiceCodec, invoice, INVOICE_CONTEXT);
}

/**
 * Decodes and checks an {@link InvoiceWire} (see {@link invoiceCodec}); `MT-400` naming the
 * failing path otherwise. The result is deeply frozen.
 */
export function decodeInvoice(json: unknown): Invoice {
  const decoded = decodeWire(invoiceCodec, json, INVOICE_CONTEXT);
  const invoice: Invoice = Object.freeze({ ...decoded, lines: Object.freeze(decoded.lines.map(freezeLine)) });
  trustedInvoices.add(invoice);
  return invoice;
}
