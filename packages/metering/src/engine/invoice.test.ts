import {
  AgentKeyPair,
  auditEventDetail,
  createPlatform,
  Decimal,
  type Notification,
  newSandboxId,
  newUuid,
  type RuntimeUsageEvent,
} from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { decodeInvoice, type Invoice } from '../invoice/index.js';
import { createMetering } from './metering.js';
import type { MeteringOptions } from './types.js';

const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(31));
const second = AgentKeyPair.fromSeed(new Uint8Array(32).fill(32));
const MS = 1_000_000n;
const MINUTE = 60_000n * MS;
const HOUR = 60n * MINUTE;
const DAY = 24n * HOUR;
const JAN_1 = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z, the FakeClock's start
const FEB_1 = JAN_1 + 31n * DAY;
const MAR_1 = FEB_1 + 28n * DAY;
// Invoices do not depend on signatures (ingest.test.ts covers them): a trusted in-process producer.
const UNSIGNED = new Uint8Array(3373);

const PRO = {
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '10.00',
  charges: [
    {
      id: 'sandboxes',
      meterId: 'sandbox_allocations',
      description: 'Sandboxes',
      model: { type: 'per_unit', unitPrice: '0.50' },
    },
    {
      id: 'tokens',
      meterId: 'inference_input_tokens',
      description: 'Input tokens',
      groupBy: ['model'],
      model: { type: 'per_unit', unitPrice: '0.000015' },
    },
  ],
};

const TIERED = {
  id: 'tiered',
  name: 'Tiered',
  currency: 'USD',
  interval: 'month',
  charges: [
    {
      id: 'tokens',
      meterId: 'inference_input_tokens',
      model: {
        type: 'graduated',
        tiers: [
          { upTo: '1000', unitPrice: '0' },
          { upTo: null, unitPrice: '0.001' },
        ],
      },
    },
  ],
};

function inference(options: {
  at: bigint;
  tokens?: bigint;
  model?: string;
  signer?: AgentKeyPair;
  key?: string;
}): RuntimeUsageEvent {
  return {
    eventId: newUuid(),
    agentNhi: (options.signer ?? agent).identity.nhi,
    delegationChain: [],
    eventType: 'inference_call',
    consensusTimestamp: options.at,
    idempotencyKey: options.key ?? newUuid(),
    signature: UNSIGNED,
    properties: {
      type: 'InferenceCall',
      sandboxId: newSandboxId(),
      modelId: options.model ?? 'claude-3',
      provider: 'anthropic',
      inputTokens: options.tokens ?? 100n,
      outputTokens: 1n,
      costUsd: Decimal.parse('0.01'),
    },
  };
}

function spawn(at: bigint): RuntimeUsageEvent {
  return {
    eventId: newUuid(),
    agentNhi: agent.identity.nhi,
    delegationChain: [],
    eventType: 'sandbox_allocated',
    consensusTimestamp: at,
    idempotencyKey: newUuid(),
    signature: UNSIGNED,
    properties: {
      type: 'SandboxAllocated',
      sandboxId: newSandboxId(),
      runtimeClass: 'gvisor',
      cpuMillicores: 1000,
      memoryBytes: 1n,
      durationSeconds: 0n,
    },
  };
}

async function setup(planId = 'pro', extra: Partial<MeteringOptions> = {}) {
  const clock = new FakeClock();
  const platform = createPlatform({ clock });
  const notifications: Notification[] = [];
  const metering = createMetering({
    nhi: platform.nhi,
    clock,
    consensus: platform.consensus,
    audit: platform.audit,
    verifySignatures: false,
    notifier: {
      async notify(n) {
        notifications.push(n);
        return { notificationId: n.id, status: 'delivered', channel: 'test' };
      },
    },
    ...extra,
  });
  await metering.registerPlan(PRO);
  await metering.registerPlan(TIERED);
  const sub = await metering.createSubscription({
    organizationId: 'acme',
    planId,
    billingContact: 'billing@acme.example',
    agents: [agent.identity.nhi],
  });
  const ingest = async (events: RuntimeUsageEvent[]) => {
    const results = await metering.ingest(events);
    for (const r of results)
      if (r.status !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(r)}`);
    return results;
  };
  return { clock, platform, metering, sub, notifications, ingest };
}

function expectBalanced(invoice: Invoice): void {
  const sum = Decimal.sum(invoice.lines.map((l) => l.amount));
  expect(invoice.subtotal.eq(sum)).toBe(true);
  expect(invoice.total.eq(invoice.subtotal)).toBe(true);
  for (const line of invoice.lines) expect(line.amount.scale).toBeLessThanOrEqual(2);
}

const amounts = (invoice: Invoice) => invoice.lines.map((l) => [l.description, l.amount.toString()]);

describe('invoices (spec §7.4)', () => {
  it('aggregates usage per charge and group, balances to the cent, and is generated once', async () => {
    const { metering, sub, clock, ingest, notifications, platform } = await setup();
    await ingest([
      spawn(JAN_1 + HOUR),
      spawn(JAN_1 + HOUR),
      spawn(JAN_1 + 2n * HOUR),
      inference({ at: JAN_1 + HOUR, tokens: 1234n }),
      inference({ at: JAN_1 + HOUR, tokens: 1000n, model: 'gpt-4' }),
    ]);
    await expectEnablementRejection(metering.generateInvoice(sub.id), 'MT-409'); // December: before the start
    await expectEnablementRejection(metering.generateInvoice(sub.id, JAN_1), 'MT-409', /not ended/);
    await clock.advanceToAsync(FEB_1 + 2n * HOUR);
    const invoice = await metering.generateInvoice(sub.id);
    expect(invoice).toMatchObject({
      subscriptionId: sub.id,
      organizationId: 'acme',
      planId: 'pro',
      currency: 'USD',
    });
    expect([invoice.periodStart, invoice.periodEnd]).toEqual([JAN_1, FEB_1]);
    expect(amounts(invoice)).toEqual([
      [expect.any(String), '10.00'],
      ['Sandboxes', '1.50'],
      ['Input tokens (model: claude-3)', '0.02'], // 0.018510 → 0.02
      ['Input tokens (model: gpt-4)', '0.02'], // 0.015000 → 0.02 (half-even)
    ]);
    expect(invoice.total.toString()).toBe('11.54');
    expectBalanced(invoice);

    // Idempotent: the same invoice, however it is asked for; delivered and audited once.
    expect(await metering.generateInvoice(sub.id, JAN_1)).toBe(invoice);
    const run = await metering.generateInvoices(FEB_1 + 2n * HOUR);
    expect(run).toEqual({ invoices: [], failed: [] }); // nothing left to invoice
    expect(await metering.listInvoices(sub.id)).toEqual([invoice]);
    expect((await metering.getSubscription(sub.id)).invoicedThrough).toBe(FEB_1);
    await metering.flush();
    expect(notifications).toHaveLength(1);
    const [note] = notifications;
    expect(note).toMatchObject({ kind: 'invoice', recipient: 'billing@acme.example', id: invoice.invoiceId });
    expect(note?.body).toContain('11.54');
    expect(decodeInvoice(note?.data).total.toString()).toBe('11.54');
    const audited = (await platform.audit.query({ product: 'metering' })).events
      .map((e) => auditEventDetail(e))
      .filter((d) => d?.kind === 'InvoiceGenerated');
    expect(audited).toEqual([expect.objectContaining({ subscriptionId: sub.id, currency: 'USD' })]);
  });

  it('invoices every ended period of every subscription, and only those', async () => {
    const { metering, sub, clock, ingest } = await setup();
    const other = await metering.createSubscription({
      organizationId: 'beta',
      planId: 'pro',
      billingContact: 'b@beta.example',
    });
    await ingest([spawn(JAN_1 + HOUR)]);
    await clock.advanceToAsync(MAR_1 + HOUR);
    const { invoices } = await metering.generateInvoices(MAR_1);
    expect(invoices.map((i) => [i.subscriptionId, i.periodStart])).toEqual(
      expect.arrayContaining([
        [sub.id, JAN_1],
        [sub.id, FEB_1],
        [other.id, JAN_1],
        [other.id, FEB_1],
      ]),
    );
    expect(invoices).toHaveLength(4);
    const feb = invoices.find((i) => i.subscriptionId === sub.id && i.periodStart === FEB_1);
    expect(feb?.total.toString()).toBe('10.00');
    await expectEnablementRejection(metering.generateInvoice(sub.id, JAN_1 + 1n), 'MT-400', /period start/);
    await expectEnablementRejection(metering.generateInvoice('nope'), 'MT-404');
  });
});

describe('late events (grace period, then adjustments)', () => {
  it('counts a late event in its own period within the grace period, while the period has no invoice', async () => {
    const { metering, sub, clock, ingest } = await setup();
    await clock.advanceToAsync(FEB_1 + 30n * MINUTE); // grace is one hour by default
    const [result] = await ingest([spawn(FEB_1 - MINUTE)]);
    expect(result).toMatchObject({ kind: 'regular', usagePeriodStart: JAN_1, invoicePeriodStart: JAN_1 });
    const jan = await metering.generateInvoice(sub.id, JAN_1);
    expect(amounts(jan)[1]).toEqual(['Sandboxes', '0.50']);
  });

  it('carries an event that arrives after its invoice into the next invoice as an adjustment priced on the tiers', async () => {
    const { metering, sub, clock, ingest } = await setup('tiered');
    await ingest([inference({ at: JAN_1 + HOUR, tokens: 900n })]);
    await clock.advanceToAsync(FEB_1 + 10n * MINUTE);
    const jan = await metering.generateInvoice(sub.id, JAN_1);
    expect(jan.total.toString()).toBe('0.00'); // 900 tokens in the free tier
    // Arrives inside the grace period, but January is already invoiced: an adjustment.
    const [late] = await ingest([inference({ at: FEB_1 - HOUR, tokens: 300n })]);
    expect(late).toMatchObject({ kind: 'adjustment', usagePeriodStart: JAN_1, invoicePeriodStart: FEB_1 });
    await ingest([inference({ at: FEB_1 + DAY, tokens: 1500n })]);
    await clock.advanceToAsync(MAR_1 + HOUR);
    const feb = await metering.generateInvoice(sub.id, FEB_1);
    expect(amounts(feb)).toEqual([
      ['tokens', '0.50'], // February's own 1500 tokens: 500 above the free tier
      ['Adjustment (late usage, 2026-01-01 to 2026-02-01): tokens', '0.20'], // 1200 − 900: only 200 above the tier
    ]);
    expect(feb.lines[1]?.quantity.toString()).toBe('300');
    expectBalanced(feb);
    // January's invoice is unchanged, and January + its adjustment = the price of all its usage.
    expect(await metering.generateInvoice(sub.id, JAN_1)).toBe(jan);
  });

  it('treats an event that arrives after the grace period as an adjustment even without an invoice', async () => {
    const { metering, sub, clock, ingest } = await setup();
    await clock.advanceToAsync(FEB_1 + 2n * HOUR);
    const [result] = await ingest([spawn(FEB_1 - MINUTE), spawn(FEB_1 - MINUTE)]);
    expect(result).toMatchObject({ kind: 'adjustment', invoicePeriodStart: FEB_1 });
    const jan = await metering.generateInvoice(sub.id, JAN_1);
    expect(amounts(jan)[1]).toEqual(['Sandboxes', '0.00']);
    await clock.advanceToAsync(MAR_1);
    const feb = await metering.generateInvoice(sub.id, FEB_1);
    expect(amounts(feb)).toEqual([
      [expect.any(String), '10.00'],
      ['Sandboxes', '0.00'],
      ['Input tokens', '0.00'],
      ['Adjustment (late usage, 2026-01-01 to 2026-02-01): Sandboxes', '1.00'],
    ]);
    expect(feb.total.toString()).toBe('11.00');
  });
});

describe('subscriptions', () => {
  it('changes plan from the next period, and refuses a plan with another interval', async () => {
    const { metering, sub, clock, ingest } = await setup();
    await metering.registerPlan({ ...PRO, id: 'pro-2', baseFee: '20.00' });
    await metering.registerPlan({ ...PRO, id: 'daily', interval: 'day' });
    const changed = await metering.changePlan(sub.id, 'pro-2');
    expect(changed.phases).toEqual([
      { planId: 'pro', from: JAN_1 },
      { planId: 'pro-2', from: FEB_1 },
    ]);
    await expectEnablementRejection(metering.changePlan(sub.id, 'daily'), 'MT-409', /per day/);
    await ingest([spawn(JAN_1 + HOUR)]);
    await clock.advanceToAsync(MAR_1);
    const { invoices } = await metering.generateInvoices();
    expect(invoices.map((i) => [i.planId, i.total.toString()])).toEqual([
      ['pro', '10.50'],
      ['pro-2', '20.00'],
    ]);
  });

  it('cancels at the end of the period: later usage is not attributed, the last invoice is generated', async () => {
    const { metering, sub, clock, ingest } = await setup();
    const canceled = await metering.cancelSubscription(sub.id);
    expect(canceled).toMatchObject({ status: 'canceled', endsAt: FEB_1 });
    expect(await metering.cancelSubscription(sub.id)).toEqual(canceled);
    await ingest([spawn(JAN_1 + HOUR)]);
    await clock.advanceToAsync(FEB_1 + 2n * HOUR);
    const [after] = await metering.ingest([spawn(FEB_1 + HOUR)]);
    expect(after?.status === 'rejected' && after.error.code).toBe('MT-404');
    await clock.advanceToAsync(MAR_1 + HOUR);
    const { invoices } = await metering.generateInvoices();
    expect(invoices.map((i) => i.periodStart)).toEqual([JAN_1]);
  });

  it('deletes a subscription and everything attributed to it (saga compensation)', async () => {
    const { metering, sub, ingest } = await setup();
    await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '1',
      overflow: 'block',
    });
    await ingest([spawn(JAN_1 + HOUR), spawn(JAN_1 + HOUR)]);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 1).decision).toBe('block');
    expect(await metering.deleteSubscription(sub.id)).toBe(true);
    expect(await metering.deleteSubscription(sub.id)).toBe(false);
    await expectEnablementRejection(metering.getSubscription(sub.id), 'MT-404');
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 1).decision).toBe('allow');
    // The agent is free to join another subscription.
    const next = await metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: 'x@acme.example',
      agents: [agent.identity.nhi],
    });
    expect(next.agents).toEqual([agent.identity.nhi]);
  });

  it('refuses an agent bound to another subscription and validates input', async () => {
    const { metering, sub } = await setup();
    await expectEnablementRejection(
      metering.createSubscription({
        organizationId: 'b',
        planId: 'pro',
        billingContact: 'b',
        agents: [agent.identity.nhi],
      }),
      'MT-409',
      /already bound/,
    );
    await expectEnablementRejection(
      metering.createSubscription({ organizationId: 'b', planId: 'nope', billingContact: 'b' }),
      'MT-404',
    );
    await expectEnablementRejection(
      metering.createSubscription({ organizationId: '', planId: 'pro', billingContact: 'b' }),
      'MT-400',
      /organizationId/,
    );
    await expectEnablementRejection(metering.bindAgent(sub.id, 'not-an-nhi'), 'MT-400');
    const bound = await metering.bindAgent(sub.id, second.identity.nhi);
    expect(bound.agents).toContain(second.identity.nhi);
    expect((await metering.unbindAgent(sub.id, second.identity.nhi)).agents).not.toContain(
      second.identity.nhi,
    );
  });

  it('rejects a plan whose charges name unknown meters or dimensions', async () => {
    const { metering } = await setup();
    await expectEnablementRejection(
      metering.registerPlan({
        ...PRO,
        id: 'x',
        charges: [{ id: 'c', meterId: 'nope', model: { type: 'per_unit', unitPrice: '1' } }],
      }),
      'MT-400',
      /charges\.0\.meterId/,
    );
    await expectEnablementRejection(
      metering.registerPlan({
        ...PRO,
        id: 'y',
        charges: [
          {
            id: 'c',
            meterId: 'sandbox_allocations',
            groupBy: ['model'],
            model: { type: 'per_unit', unitPrice: '1' },
          },
        ],
      }),
      'MT-400',
      /groupBy/,
    );
    await expectEnablementRejection(metering.registerPlan({ ...PRO, baseFee: '11.00' }), 'MT-409');
    expect((await metering.registerPlan(PRO)).id).toBe('pro'); // the same plan again is fine
    await expectEnablementRejection(metering.getPlan('nope'), 'MT-404');
  });
});

describe('usage queries', () => {
  it('splits by window and group, filters by agent, and bounds the answer', async () => {
    const { metering, sub, clock, ingest } = await setup();
    await metering.bindAgent(sub.id, second.identity.nhi);
    await clock.advanceToAsync(JAN_1 + 3n * HOUR);
    await ingest([
      inference({ at: JAN_1 + 5n * MINUTE, tokens: 10n }),
      inference({ at: JAN_1 + 50n * MINUTE, tokens: 20n, model: 'gpt-4' }),
      inference({ at: JAN_1 + HOUR + MINUTE, tokens: 30n }),
      inference({ at: JAN_1 + 2n * HOUR, tokens: 40n, signer: second }),
    ]);
    const base = {
      subscriptionId: sub.id,
      meterId: 'inference_input_tokens',
      from: JAN_1,
      to: JAN_1 + 3n * HOUR,
    };
    const hourly = await metering.queryUsage({ ...base, window: 'hour' });
    expect(hourly.map((r) => [r.windowStart - JAN_1, r.value.toString(), r.events])).toEqual([
      [0n, '30', 2n],
      [HOUR, '30', 1n],
      [2n * HOUR, '40', 1n],
    ]);
    const byModel = await metering.queryUsage({ ...base, groupBy: ['model'] });
    expect(byModel.map((r) => [r.groups, r.value.toString()])).toEqual([
      [{ model: 'claude-3' }, '80'],
      [{ model: 'gpt-4' }, '20'],
    ]);
    const minute = await metering.queryUsage({
      ...base,
      window: 'minute',
      groupBy: ['model'],
      agentNhi: agent.identity.nhi,
    });
    expect(minute.map((r) => [r.windowStart - JAN_1, r.groups.model, r.value.toString()])).toEqual([
      [5n * MINUTE, 'claude-3', '10'],
      [50n * MINUTE, 'gpt-4', '20'],
      [HOUR + MINUTE, 'claude-3', '30'],
    ]);
    const daily = await metering.queryUsage({ ...base, window: 'day' });
    expect(daily.map((r) => [r.windowStart, r.windowEnd, r.value.toString()])).toEqual([
      [JAN_1, JAN_1 + DAY, '100'],
    ]);
    await expectEnablementRejection(
      metering.queryUsage({ ...base, groupBy: ['region'] }),
      'MT-400',
      /region/,
    );
    await expectEnablementRejection(metering.queryUsage({ ...base, from: base.to }), 'MT-400');
    await expectEnablementRejection(
      metering.queryUsage({ ...base, to: JAN_1 + 30n * DAY, window: 'minute' }),
      'MT-400',
      /windows/,
    );
    await expectEnablementRejection(metering.queryUsage({ ...base, meterId: 'nope' }), 'MT-404');
  });
});
