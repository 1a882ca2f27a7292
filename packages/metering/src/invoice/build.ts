import {
  boundedText,
  CURRENCIES,
  type CurrencyCode,
  Decimal,
  EnablementError,
  INT64_MAX,
  INT64_MIN,
} from '@creto/core';
import type { Charge, ChargeUsage, Plan } from '../plans/types.js';
import { checkQuantity, describeValue } from '../pricing/bounds.js';
import { checkGroups, priceModel, roundLineAmount, selectChargeModel } from '../pricing/price.js';
import { validatePlan } from '../pricing/validate.js';
import { trustedInvoices } from './trusted.js';
import {
  type Invoice,
  type InvoiceInput,
  type InvoiceLine,
  MAX_INVOICE_ID_LENGTH,
  MAX_INVOICE_LINES,
  MAX_INVOICE_USAGE_ENTRIES,
} from './types.js';

/** Invoice, subscription and organization ids (shared with the wire codec). */
export const invoiceIdSchema = boundedText(MAX_INVOICE_ID_LENGTH);

function invalid(message: string): EnablementError {
  return new EnablementError('MT-400', message);
}

function checkId(value: unknown, field: string): string {
  if (!invoiceIdSchema.safeParse(value).success) {
    throw invalid(`${field}: expected 1 to ${MAX_INVOICE_ID_LENGTH} characters without control characters`);
  }
  return value as string;
}

function checkNs(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
    throw invalid(`${field}: expected int64 Unix nanoseconds (bigint)`);
  }
  return value;
}

function checkArray(value: unknown, field: string, max: number): readonly unknown[] {
  if (!Array.isArray(value)) throw invalid(`${field}: expected an array`);
  if (value.length > max) throw invalid(`${field}: at most ${max} entries`);
  return value;
}

/** One charge's usage, summed per group, keyed by the group's values in `groupBy` order. */
interface GroupAccumulator {
  /** Values in `groupBy` order; `null` where the group lacks the dimension. */
  readonly values: readonly (string | null)[];
  readonly groups: Readonly<Record<string, string>>;
  quantity: Decimal;
}

/** Element-wise order of group values: an absent dimension first, then strings by code unit. */
function compareGroups(a: GroupAccumulator, b: GroupAccumulator): number {
  for (let i = 0; i < a.values.length; i++) {
    const x = a.values[i] ?? null;
    const y = b.values[i] ?? null;
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

function groupLabel(charge: Charge, groups: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const key of charge.groupBy ?? []) {
    const value = groups[key];
    if (value !== undefined) parts.push(`${key}: ${value}`);
  }
  const base = charge.description ?? charge.id;
  return parts.length === 0 ? base : `${base} (${parts.join(', ')})`;
}

function accumulate(plan: Plan, usage: readonly unknown[]): Map<string, Map<string, GroupAccumulator>> {
  const charges = new Map<string, Charge>(plan.charges.map((charge) => [charge.id, charge]));
  const byCharge = new Map<string, Map<string, GroupAccumulator>>();
  let groupCount = 0;
  for (const [index, entry] of usage.entries()) {
    const field = `usage[${index}]`;
    if (typeof entry !== 'object' || entry === null) throw invalid(`${field}: expected a ChargeUsage object`);
    const { chargeId, groups: rawGroups, quantity: rawQuantity } = entry as ChargeUsage;
    const charge = typeof chargeId === 'string' ? charges.get(chargeId) : undefined;
    if (charge === undefined) {
      throw invalid(
        `${field}.chargeId: ${describeValue(chargeId)} is not a charge of plan ${JSON.stringify(plan.id)}`,
      );
    }
    const groups = checkGroups(charge, rawGroups ?? {}, `${field}.groups`);
    const quantity = checkQuantity(rawQuantity, `${field}.quantity`);
    const values = (charge.groupBy ?? []).map((key) =>
      Object.hasOwn(groups, key) ? (groups[key] ?? null) : null,
    );
    const key = JSON.stringify(values);
    let perGroup = byCharge.get(charge.id);
    if (perGroup === undefined) {
      perGroup = new Map();
      byCharge.set(charge.id, perGroup);
    }
    const existing = perGroup.get(key);
    if (existing === undefined) {
      if (++groupCount > MAX_INVOICE_LINES) {
        throw invalid(`usage: more than ${MAX_INVOICE_LINES} distinct charge groups; split the invoice`);
      }
      const ordered: [string, string][] = [];
      for (const [i, name] of (charge.groupBy ?? []).entries()) {
        const value = values[i];
        if (value !== null && value !== undefined) ordered.push([name, value]);
      }
      perGroup.set(key, { values, groups: Object.freeze(Object.fromEntries(ordered)), quantity });
    } else {
      existing.quantity = existing.quantity.add(quantity);
    }
  }
  return byCharge;
}

/**
 * Builds an invoice from a plan and one period's usage — pure and exact (spec §4.1, §7.4).
 *
 * Lines, in this order:
 * 1. the base fee, when the plan has a non-zero one (quantity 1, unit price = the fee);
 * 2. per charge in plan order, one line per usage group (from the charge's `groupBy`; entries of
 *    the same charge and group are summed), groups sorted by their values in `groupBy` order
 *    (absent dimension first, then by code unit). A charge without usage still gets one
 *    zero line (groups `{}`), as Lago and Stripe show them: the customer sees every price of the
 *    plan, and a missing meter shows up as 0 rather than vanishing.
 *
 * Every line's exact amount (`priceCharge`) is rounded once to the currency's minor unit by
 * `roundingRule` (half-even); `subtotal` and `total` are exact sums of the rounded lines, so the
 * invoice balances to the minor unit. The result is deeply frozen.
 *
 * `MT-400` naming the field for: a plan that fails `validatePlan`, usage of an unknown charge id,
 * negative or out-of-bounds quantities, group dimensions outside the charge's `groupBy`, bad ids
 * or timestamps, `periodEnd <= periodStart`, and more than {@link MAX_INVOICE_USAGE_ENTRIES}
 * usage entries or {@link MAX_INVOICE_LINES} lines.
 * Pass the plan returned by `validatePlan` so it is not validated again.
 */
export function buildInvoice(input: InvoiceInput): Invoice {
  if (typeof input !== 'object' || input === null) throw invalid('input: expected an InvoiceInput object');
  const invoiceId = checkId(input.invoiceId, 'invoiceId');
  const subscriptionId = checkId(input.subscriptionId, 'subscriptionId');
  const organizationId = checkId(input.organizationId, 'organizationId');
  const periodStart = checkNs(input.periodStart, 'periodStart');
  const periodEnd = checkNs(input.periodEnd, 'periodEnd');
  const issuedAt = checkNs(input.issuedAt, 'issuedAt');
  if (periodEnd <= periodStart) throw invalid('periodEnd: must be after periodStart');
  const plan = validatePlan(input.plan);
  const usage = checkArray(input.usage, 'usage', MAX_INVOICE_USAGE_ENTRIES);

  const { minorUnits } = CURRENCIES[plan.currency as CurrencyCode];
  const lines: InvoiceLine[] = [];
  if (plan.baseFee !== undefined && !plan.baseFee.isZero()) {
    lines.push(
      Object.freeze({
        chargeId: null,
        description: `Base fee: ${plan.name}`,
        groups: Object.freeze({}),
        quantity: Decimal.fromParts(1n, 0),
        unitPrice: plan.baseFee,
        amount: roundLineAmount(plan.baseFee, plan.currency),
      }),
    );
  }

  const byCharge = accumulate(plan, usage);
  for (const charge of plan.charges) {
    const perGroup = byCharge.get(charge.id);
    const groups =
      perGroup === undefined
        ? [{ values: [], groups: Object.freeze({}), quantity: Decimal.ZERO }]
        : [...perGroup.values()].sort(compareGroups);
    for (const group of groups) {
      // The sum of bounded entries may leave the bounds; say which charge overflowed.
      const quantity = checkQuantity(
        group.quantity,
        `usage of charge ${JSON.stringify(charge.id)} (summed quantity)`,
      );
      const price = priceModel(selectChargeModel(charge, group.groups), quantity);
      const line: InvoiceLine = {
        chargeId: charge.id,
        description: groupLabel(charge, group.groups),
        groups: group.groups,
        quantity,
        unitPrice: price.unitPrice,
        amount: roundLineAmount(price.amount, plan.currency),
        ...(price.tiers === undefined ? {} : { tiers: price.tiers }),
      };
      lines.push(Object.freeze(line));
    }
  }
  if (lines.length > MAX_INVOICE_LINES) throw invalid(`lines: more than ${MAX_INVOICE_LINES} invoice lines`);

  // Sums of values already at the minor-unit scale: exact, and never rounded again.
  let subtotal = Decimal.fromParts(0n, minorUnits);
  for (const line of lines) subtotal = subtotal.add(line.amount);
  const invoice: Invoice = Object.freeze({
    invoiceId,
    subscriptionId,
    organizationId,
    planId: plan.id,
    currency: plan.currency,
    periodStart,
    periodEnd,
    issuedAt,
    lines: Object.freeze(lines),
    subtotal,
    total: subtotal,
    status: 'issued',
  });
  trustedInvoices.add(invoice);
  return invoice;
}
