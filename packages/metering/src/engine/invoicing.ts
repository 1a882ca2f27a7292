import { canonicalize, Decimal, newUuid } from '@creto/core';
import { buildInvoice, type Invoice, type InvoiceLine } from '../invoice/index.js';
import type { Meter } from '../meters/types.js';
import type { ChargeUsage, Plan } from '../plans/types.js';
import { mergeInto, newAccumulator, snapshot } from '../store/aggregate.js';
import type { PeriodAggregateRow } from '../store/types.js';
import { type BillingPeriod, formatUtcDate } from '../subscriptions/periods.js';

/**
 * The quantity of every charge of `plan` and group, from per-period aggregate rows: rows of the
 * charge's meter are merged (across agents and the dimensions the charge does not group by) with
 * the meter's aggregation. A charge without usage and without `groupBy` gets a zero quantity, so
 * the invoice can show it.
 */
export function chargeUsages(
  plan: Plan,
  meters: ReadonlyMap<string, Meter>,
  rows: readonly PeriodAggregateRow[],
): ChargeUsage[] {
  const out: ChargeUsage[] = [];
  for (const charge of plan.charges) {
    const dims = charge.groupBy ?? [];
    const groups = new Map<
      string,
      { groups: Record<string, string>; acc: ReturnType<typeof newAccumulator> }
    >();
    for (const row of rows) {
      if (row.meterId !== charge.meterId) continue;
      const projected: Record<string, string> = {};
      for (const d of [...dims].sort()) projected[d] = row.groups[d] ?? '(none)';
      const key = canonicalize(projected);
      let entry = groups.get(key);
      if (entry === undefined) {
        const aggregation = meters.get(charge.meterId)?.aggregation ?? row.state.aggregation;
        entry = { groups: projected, acc: newAccumulator(aggregation) };
        groups.set(key, entry);
      }
      mergeInto(entry.acc, row.state);
    }
    if (groups.size === 0 && dims.length === 0) {
      out.push({ chargeId: charge.id, groups: {}, quantity: Decimal.ZERO });
    }
    for (const key of [...groups.keys()].sort()) {
      const entry = groups.get(key);
      if (entry === undefined) continue;
      out.push({ chargeId: charge.id, groups: entry.groups, quantity: snapshot(entry.acc).value });
    }
  }
  return out;
}

function withoutBaseFee(plan: Plan): Plan {
  const { baseFee: _baseFee, ...rest } = plan;
  return rest;
}

/**
 * Adjustment lines for usage of an earlier period `usagePeriod` that arrived after its invoice
 * (or its grace period): for each charge and group, the difference between pricing everything
 * billed so far plus the late usage and pricing what was billed so far, each line rounded as
 * `buildInvoice` rounds it. So the earlier invoice plus every adjustment equals the price of the
 * whole usage, tiers included, to the cent. Quantities are the late usage; a negative amount is a
 * credit (possible with volume pricing, where more units can cost less).
 */
export function adjustmentLines(input: {
  readonly plan: Plan;
  readonly meters: ReadonlyMap<string, Meter>;
  readonly subscriptionId: string;
  readonly organizationId: string;
  readonly usagePeriod: BillingPeriod;
  readonly billedRows: readonly PeriodAggregateRow[];
  readonly lateRows: readonly PeriodAggregateRow[];
  readonly issuedAt: bigint;
}): InvoiceLine[] {
  const plan = withoutBaseFee(input.plan);
  const build = (rows: readonly PeriodAggregateRow[]) =>
    buildInvoice({
      invoiceId: newUuid(),
      subscriptionId: input.subscriptionId,
      organizationId: input.organizationId,
      plan,
      periodStart: input.usagePeriod.start,
      periodEnd: input.usagePeriod.end,
      issuedAt: input.issuedAt,
      usage: chargeUsages(plan, input.meters, rows),
    });
  const before = build(input.billedRows);
  const after = build([...input.billedRows, ...input.lateRows]);
  const lineKey = (line: InvoiceLine) => `${line.chargeId ?? ''}\u0000${canonicalize(line.groups)}`;
  const previous = new Map(before.lines.map((line) => [lineKey(line), line]));
  const label = `${formatUtcDate(input.usagePeriod.start)} to ${formatUtcDate(input.usagePeriod.end)}`;
  const out: InvoiceLine[] = [];
  for (const line of after.lines) {
    const was = previous.get(lineKey(line));
    const amount = line.amount.sub(was?.amount ?? Decimal.ZERO);
    const quantity = line.quantity.sub(was?.quantity ?? Decimal.ZERO);
    if (amount.isZero() && quantity.isZero()) continue;
    out.push({
      chargeId: line.chargeId,
      description: `Adjustment (late usage, ${label}): ${line.description}`,
      groups: line.groups,
      quantity,
      unitPrice: null,
      amount,
    });
  }
  return out;
}

/** `invoice` with `lines` appended and its subtotal and total moved by their amounts. */
export function withLines(invoice: Invoice, lines: readonly InvoiceLine[]): Invoice {
  if (lines.length === 0) return invoice;
  const delta = Decimal.sum(lines.map((l) => l.amount));
  return Object.freeze({
    ...invoice,
    lines: Object.freeze([...invoice.lines, ...lines]),
    subtotal: invoice.subtotal.add(delta),
    total: invoice.total.add(delta),
  });
}
