import type { Decimal } from '@creto/core';
import type { ChargeUsage, Plan } from '../plans/types.js';
import type { TierUsage } from '../pricing/price.js';

/** Most lines in one invoice (base fee + one per charge and group). */
export const MAX_INVOICE_LINES = 10_000;

/** Most usage entries given to one `buildInvoice` call (entries of one charge and group are summed). */
export const MAX_INVOICE_USAGE_ENTRIES = 100_000;

/** Longest invoice, subscription or organization id. */
export const MAX_INVOICE_ID_LENGTH = 256;

/** Longest invoice line description. */
export const MAX_LINE_DESCRIPTION_LENGTH = 4096;

/** Everything `buildInvoice` needs: ids, the plan, the period and the period's usage. */
export interface InvoiceInput {
  /** Invoice id (1–256 characters, no control characters). */
  readonly invoiceId: string;
  /** Subscription billed. */
  readonly subscriptionId: string;
  /** Organization billed. */
  readonly organizationId: string;
  /** The subscription's plan for the period. */
  readonly plan: Plan;
  /** Period start, Unix ns (inclusive). */
  readonly periodStart: bigint;
  /** Period end, Unix ns (exclusive); after `periodStart`. */
  readonly periodEnd: bigint;
  /** When the invoice is issued, Unix ns. */
  readonly issuedAt: bigint;
  /** Quantities per charge and group; entries for the same charge and group are summed. */
  readonly usage: readonly ChargeUsage[];
}

/** One line of an invoice. */
export interface InvoiceLine {
  /** The charge; `null` for the base fee. */
  readonly chargeId: string | null;
  /** Human description: the charge description (or id) and the group's dimension values. */
  readonly description: string;
  /** Dimension values of the line's usage group; `{}` when ungrouped. */
  readonly groups: Readonly<Record<string, string>>;
  /** Quantity billed (the summed usage; `1` for the base fee). */
  readonly quantity: Decimal;
  /** The one price of every unit, or `null` when tiered or varied (see `ChargePrice.unitPrice`). */
  readonly unitPrice: Decimal | null;
  /** Amount rounded once to the currency's minor unit (`roundingRule`). */
  readonly amount: Decimal;
  /** Tier breakdown (exact, unrounded) of graduated and volume charges. */
  readonly tiers?: readonly TierUsage[];
}

/** An issued invoice: lines with rounded amounts that sum exactly to the subtotal. */
export interface Invoice {
  /** Invoice id. */
  readonly invoiceId: string;
  /** Subscription billed. */
  readonly subscriptionId: string;
  /** Organization billed. */
  readonly organizationId: string;
  /** The plan priced. */
  readonly planId: string;
  /** ISO 4217 code of core `CURRENCIES`. */
  readonly currency: string;
  /** Period start, Unix ns (inclusive). */
  readonly periodStart: bigint;
  /** Period end, Unix ns (exclusive). */
  readonly periodEnd: bigint;
  /** Issue time, Unix ns. */
  readonly issuedAt: bigint;
  /** Base fee, then charges in plan order (groups sorted). */
  readonly lines: readonly InvoiceLine[];
  /** Sum of the line amounts (exact: no further rounding). */
  readonly subtotal: Decimal;
  /** Amount due; equals `subtotal` (no taxes or discounts yet). Negative means a credit. */
  readonly total: Decimal;
  /** Always `issued`: drafts are the engine's concern. */
  readonly status: 'issued';
}
