import {
  CURRENCIES,
  type CurrencyCode,
  type Decimal,
  formatRfc3339Micros,
  isCurrencyCode,
} from '@creto/core';
import type { Invoice } from './types.js';

/** Widest description column; longer descriptions end in `…`. */
const MAX_DESCRIPTION_WIDTH = 60;

function clip(text: string, width: number): string {
  // Control characters are already refused by validation; tabs and newlines would break columns.
  const flat = text.replace(/[\t\n\r]/g, ' ');
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}

/** A price with at least the currency's minor-unit digits (exact padding, never rounding). */
function money(value: Decimal, minorUnits: number): string {
  return value.scale < minorUnits ? value.round(minorUnits, 'down').toString() : value.toString();
}

/**
 * The invoice as an aligned plain-text table for people (the demo, notification bodies):
 * a header (invoice, plan, subscription, organization, period, issue time, currency), then one
 * row per line — description, quantity, unit price (`tiered` or `-` when there is no single
 * price), amount — with indented rows for the tiers of graduated and volume lines, then the
 * subtotal and total. Amounts are shown exactly as invoiced; nothing is rounded for display.
 *
 * @example
 * ```text
 * Description             Quantity  Unit price  Amount
 * ----------------------  --------  ----------  ------
 * Base fee: Pro                  1       49.00   49.00
 * ...
 *                                      Subtotal   61.50
 *                                   Total (USD)   61.50
 * ```
 */
export function formatInvoiceTable(invoice: Invoice): string {
  const minorUnits = isCurrencyCode(invoice.currency)
    ? CURRENCIES[invoice.currency as CurrencyCode].minorUnits
    : 0;
  const rows: [string, string, string, string][] = [];
  for (const line of invoice.lines) {
    const unitPrice =
      line.unitPrice !== null ? money(line.unitPrice, minorUnits) : line.tiers !== undefined ? 'tiered' : '-';
    rows.push([
      clip(line.description, MAX_DESCRIPTION_WIDTH),
      line.quantity.toString(),
      unitPrice,
      line.amount.toString(),
    ]);
    let lower: Decimal | null = null;
    for (const tier of line.tiers ?? []) {
      const range =
        tier.upTo !== null
          ? `up to ${tier.upTo.toString()}`
          : lower !== null
            ? `above ${lower.toString()}`
            : 'unbounded';
      const fee = tier.flatFee.isZero() ? '' : ` + flat ${money(tier.flatFee, minorUnits)}`;
      rows.push([
        clip(`  tier ${range}${fee}`, MAX_DESCRIPTION_WIDTH),
        tier.quantity.toString(),
        money(tier.unitPrice, minorUnits),
        '',
      ]);
      lower = tier.upTo;
    }
  }
  const header: [string, string, string, string] = ['Description', 'Quantity', 'Unit price', 'Amount'];
  const footer: [string, string][] = [
    ['Subtotal', invoice.subtotal.toString()],
    [`Total (${invoice.currency})`, invoice.total.toString()],
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0] = widths;
  const amountWidth = Math.max(w3, ...footer.map(([, value]) => value.length));
  const row = (cells: readonly string[]) =>
    [
      (cells[0] ?? '').padEnd(w0),
      (cells[1] ?? '').padStart(w1),
      (cells[2] ?? '').padStart(w2),
      (cells[3] ?? '').padStart(amountWidth),
    ]
      .join('  ')
      .trimEnd();
  const labelWidth = w0 + w1 + w2 + 4;
  const out = [
    `Invoice ${invoice.invoiceId}`,
    `Plan ${invoice.planId} · subscription ${invoice.subscriptionId} · organization ${invoice.organizationId}`,
    `Period ${formatRfc3339Micros(invoice.periodStart)} to ${formatRfc3339Micros(invoice.periodEnd)} · issued ${formatRfc3339Micros(invoice.issuedAt)}`,
    `Currency ${invoice.currency}`,
    '',
    row(header),
    row(['-'.repeat(w0), '-'.repeat(w1), '-'.repeat(w2), '-'.repeat(amountWidth)]),
    ...rows.map(row),
    `${' '.repeat(labelWidth)}  ${'-'.repeat(amountWidth)}`,
    ...footer.map(([label, value]) => `${label.padStart(labelWidth)}  ${value.padStart(amountWidth)}`),
  ];
  return `${out.join('\n')}\n`;
}
