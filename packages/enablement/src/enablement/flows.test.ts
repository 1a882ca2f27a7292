/**
 * The four flows of spec §7 through the public API of the wired layer only: spawn, inference and
 * billing (§7.1); a tool call that needs a human (§7.2); a quota at 95 % (§7.3); the whole agent
 * lifecycle ending with an invoice delivered end to end (§7.4).
 */
import { type Decimal, decodeJson, type JsonValue, type Policy, parseUuid, type Uuid } from '@creto/core';
import { decodeInvoice, encodeInvoice } from '@creto/metering';
import { signApprovalResponse } from '@creto/oversight';
import type { ExecutionHandle, Runtime } from '@creto/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  connectInbox,
  keyOf,
  MESSAGING_POLICY,
  newLayer,
  PLAN,
  register,
  SPAWN_POLICY,
} from './enablement.test-support.js';
import { NEW_LIMIT_PARAMETER } from './quota-approvals.js';
import type { Enablement } from './types.js';

const layers: Enablement[] = [];
afterEach(async () => {
  for (const layer of layers.splice(0)) await layer.shutdown();
});

const MINUTE_NS = 60_000_000_000n;
const HOUR_MS = 3_600_000;

const agentKey = keyOf(10);
const cfoKey = keyOf(20, 'human');
const financeKey = keyOf(21, 'human');
const billingKey = keyOf(22);
const accountingKey = keyOf(23);

/** `require_oversight` above 10 000 for `action`, approved by the CFO (spec §7.2 `large_transfer`). */
function approvalPolicy(id: string, action: string): Policy {
  return {
    id,
    effect: 'require_oversight',
    action,
    when: { attr: 'context.amount', op: 'gt', value: 10_000 },
    requirement: {
      tiers: [{ approvers: [cfoKey.identity.nhi], quorum: 1, timeoutMs: 2 * HOUR_MS }],
      finalAction: 'auto_deny',
    },
  };
}

/** Amounts the payment tools paid, in order. */
let payments: number[] = [];
afterEach(() => {
  payments = [];
});

function registerPaymentTool(runtime: Runtime, name: string, action: string): void {
  runtime.registerTool({
    name,
    description: 'Moves money to a vendor',
    schema: z.object({ amount: z.number().int().positive(), vendor: z.string() }),
    action,
    resource: (args) => `payments:vendor:${args.vendor}`,
    riskFactors: () => [{ name: 'large_transfer', severity: 'high' }],
    handler: (args) => {
      payments.push(args.amount);
      return { paid: args.amount, vendor: args.vendor };
    },
  });
}

/** Settles until the execution waits for approval (bounded). */
async function pendingRequestOf(layer: Enablement, handle: ExecutionHandle<JsonValue>): Promise<Uuid> {
  for (let i = 0; i < 20 && handle.pendingApproval === undefined; i++) await layer.settle();
  expect(handle.state).toBe('pending_approval');
  return parseUuid(handle.pendingApproval?.requestId, 'requestId');
}

async function usageOf(
  layer: Enablement,
  subscriptionId: string,
  meterId: string,
  from: bigint,
): Promise<Decimal> {
  const rows = await layer.metering.queryUsage({
    subscriptionId,
    meterId,
    from,
    to: from + 120n * MINUTE_NS,
  });
  expect(rows).toHaveLength(1);
  const value = rows[0]?.value;
  if (value === undefined) throw new Error('no usage row');
  return value;
}

describe('§7.1 agent spawns a sandbox, makes an inference call, triggers billing', () => {
  it('ingests the signed sandbox_allocated and inference_call events into the subscription', async () => {
    const { layer, clock } = await newLayer();
    layers.push(layer);
    const start = clock.now();
    const agent = await register(layer, agentKey);
    await layer.metering.registerPlan(PLAN);
    const sub = await layer.metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: 'billing@acme.example',
      agents: [agent],
    });

    // The spec's scenario names gVisor: served here by the QuickJS driver, and the attestation says so.
    const sandbox = await layer.runtime.spawnSandbox({
      agent: agentKey,
      runtimeClass: 'gvisor',
      image: 'agent-base',
    });
    expect(sandbox.runtimeClass).toBe('gvisor');
    expect(sandbox.attestation).toMatchObject({ runtimeClass: 'gvisor', driver: 'quickjs' });

    const completion = await layer.runtime.inference(sandbox.sandboxId, {
      model: 'deterministic-1',
      messages: [{ role: 'user', content: 'Extract the invoice data, please' }],
    });
    await layer.settle();

    expect((await usageOf(layer, sub.id, 'sandbox_allocations', start)).toString()).toBe('1');
    expect((await usageOf(layer, sub.id, 'inference_tokens', start)).toString()).toBe(
      String(completion.inputTokens + completion.outputTokens),
    );
    expect((await usageOf(layer, sub.id, 'inference_cost_usd', start)).eq(completion.costUsd)).toBe(true);
    const spawned = await layer.platform.audit.query({ agentNhi: agent, action: 'sandbox.spawn' });
    expect(spawned.events).toHaveLength(1);
  });
});

describe('§7.2 agent action requires human approval, sends notification', () => {
  it('holds the call, notifies the approver end to end, and runs it with the approved token', async () => {
    const { layer } = await newLayer({
      policies: [SPAWN_POLICY, approvalPolicy('large_transfer', 'funds.transfer')],
    });
    layers.push(layer);
    const agent = await register(layer, agentKey);
    await register(layer, cfoKey, { displayName: 'CFO' });
    const cfoInbox = await connectInbox(layer, cfoKey);
    await layer.platform.memory.recordReasoning(agent, 'Invoice 2024-118 approved; due 2024-12-31', {
      action: 'funds.transfer',
    });
    registerPaymentTool(layer.runtime, 'transfer_funds', 'funds.transfer');
    const sandbox = await layer.runtime.spawnSandbox({ agent: agentKey });

    // Under the threshold no policy applies, and authz denies by default.
    await expect(
      layer.runtime.callTool(sandbox.sandboxId, 'transfer_funds', { amount: 100, vendor: 'acme' }),
    ).rejects.toMatchObject({ code: 'RT-403' });

    const call = layer.runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', {
      amount: 50_000,
      vendor: 'acme',
    });
    const requestId = await pendingRequestOf(layer, call);
    const request = await layer.oversight.getRequest(requestId);
    expect(request).toMatchObject({ state: 'PENDING', action: 'funds.transfer', policyId: 'large_transfer' });
    expect(request.reasoningContext).toContain('Invoice 2024-118 approved');

    // The approver's notification arrived end to end, from the notification bot.
    await layer.settle();
    const [notification] = cfoInbox.notifications();
    expect(notification).toMatchObject({ kind: 'approval_required', recipient: cfoKey.identity.nhi });
    expect(notification?.subject).toContain('funds.transfer');
    expect(notification?.body).toContain(requestId);
    expect(cfoInbox.messages[0]?.sender).toBe(layer.keys.notificationBot.identity.nhi);

    await layer.oversight.submitResponse(
      signApprovalResponse(cfoKey, {
        requestId,
        decision: 'APPROVE',
        reason: 'Invoice verified',
        respondedAt: layer.platform.clock.now(),
      }),
    );
    await expect(call.result).resolves.toEqual({ paid: 50_000, vendor: 'acme' });
    expect(call.state).toBe('completed');
    // The token was single-use: the identical call again (the same request, spec §9.2) is refused.
    await expect(
      layer.runtime.callTool(sandbox.sandboxId, 'transfer_funds', { amount: 50_000, vendor: 'acme' }),
    ).rejects.toMatchObject({ code: 'RT-403' });
    expect(payments).toEqual([50_000]);
  });
});

describe('§7.3 quota exceeded, oversight triggered, agent notified', () => {
  it('warns the agent at 95 %, asks finance, and raises the limit to the approved new_limit', async () => {
    const { layer, clock } = await newLayer({
      metering: {
        quotaOversight: {
          requirement: {
            tiers: [{ approvers: [financeKey.identity.nhi], quorum: 1, timeoutMs: 24 * HOUR_MS }],
            finalAction: 'auto_approve',
          },
        },
      },
    });
    layers.push(layer);
    const agent = await register(layer, agentKey);
    await register(layer, financeKey, { displayName: 'Finance' });
    const agentInbox = await connectInbox(layer, agentKey);
    const financeInbox = await connectInbox(layer, financeKey);
    await layer.metering.registerPlan(PLAN);
    const sub = await layer.metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: 'billing@acme.example',
      agents: [agent],
    });
    const sandbox = await layer.runtime.spawnSandbox({ agent: agentKey });
    const ask = () =>
      layer.runtime.inference(sandbox.sandboxId, {
        model: 'deterministic-1',
        messages: [{ role: 'user', content: 'Summarise the quarterly invoices for the finance team' }],
      });

    // The same prompt costs the same tokens every time (deterministic provider): two calls land
    // between 95 % and 100 % of a limit of 2t + 1.
    const first = await ask();
    const tokens = first.inputTokens + first.outputTokens;
    const quota = await layer.metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'inference_tokens',
      limit: String(2n * tokens + 1n),
      overflow: 'allow_with_notification',
      thresholds: ['0.95'],
    });
    await layer.settle();
    expect(financeInbox.messages).toHaveLength(0);
    await ask();
    await layer.settle();

    // The agent is warned end to end ("You've used 95% of quota"); finance is asked.
    const [warning] = agentInbox.notifications();
    expect(warning).toMatchObject({ kind: 'quota_warning', recipient: agent });
    expect(warning?.body).toContain("You've used 95% of quota");
    const [approval] = financeInbox.notifications();
    expect(approval?.kind).toBe('approval_required');
    const { requests } = await layer.oversight.listRequests({ agent });
    expect(requests).toHaveLength(1);
    const requestId = parseUuid(requests[0]?.requestId, 'requestId');
    const request = await layer.oversight.getRequest(requestId);
    expect(request).toMatchObject({
      action: 'quota_breach',
      blocking: false,
      policyId: 'quota_notification_policy',
    });
    expect(request.parameters).toMatchObject({ quota_id: quota.id, threshold_percent: '95' });
    expect(request.rules.allowEdits).toBe(true);

    // "Increase quota to 200K": approve with edits; the layer applies the increase.
    await layer.oversight.submitResponse(
      signApprovalResponse(financeKey, {
        requestId,
        decision: 'APPROVE',
        reason: 'Increase quota to 200K',
        editedParameters: {
          ...(request.parameters as Record<string, JsonValue>),
          [NEW_LIMIT_PARAMETER]: '200000',
        },
        respondedAt: clock.now(),
      }),
    );
    await layer.settle();
    const status = await layer.metering.quotaStatus(quota.id);
    expect(status.quota.limit.toString()).toBe('200000');
    expect(status.quota.lastIncrease).toMatchObject({ approvedBy: financeKey.identity.nhi, requestId });
    const raised = await layer.platform.audit.query({ action: 'quota.increase' });
    expect(raised.events).toHaveLength(1);
  });
});

describe('§7.4 full agent workflow with all four products', () => {
  it('runs spawn, exec, inference, approval, messaging, termination and the monthly invoice', async () => {
    const { layer, clock } = await newLayer({
      policies: [SPAWN_POLICY, MESSAGING_POLICY, approvalPolicy('payment_approval', 'payment.approve')],
    });
    layers.push(layer);
    // Human → NHI: register the agent and the people and agents around it.
    const agent = await register(layer, agentKey, { displayName: 'invoice processor' });
    await register(layer, cfoKey);
    const billing = await register(layer, billingKey, { displayName: 'billing' });
    const accounting = await register(layer, accountingKey, { displayName: 'accounting' });
    const cfoInbox = await connectInbox(layer, cfoKey);
    const billingInbox = await connectInbox(layer, billingKey);
    const accountingInbox = await connectInbox(layer, accountingKey);

    // Human → Metering: subscription; the agent → Runtime: sandbox.
    await layer.metering.registerPlan(PLAN);
    const sub = await layer.metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: billing,
      agents: [agent],
    });
    const sandbox = await layer.runtime.spawnSandbox({
      agent: agentKey,
      runtimeClass: 'gvisor',
      image: 'invoice-processor',
      timeoutMs: 2 * HOUR_MS,
    });
    const analysed = await sandbox.exec({
      code: 'const lines = [120, 80, 25]; return lines.reduce((a, b) => a + b, 0);',
    });
    expect(analysed).toMatchObject({ outcome: 'ok', value: 225 });
    const extracted = await layer.runtime.inference(sandbox.sandboxId, {
      model: 'deterministic-1',
      messages: [{ role: 'user', content: 'Extract invoice data' }],
    });

    // exec("approve_payment", amount=25000) → RequiresOversight → the CFO approves.
    registerPaymentTool(layer.runtime, 'approve_payment', 'payment.approve');
    const payment = layer.runtime.startToolCall(sandbox.sandboxId, 'approve_payment', {
      amount: 25_000,
      vendor: 'acme',
    });
    const requestId = await pendingRequestOf(layer, payment);
    await layer.settle();
    expect(cfoInbox.notifications()[0]?.kind).toBe('approval_required');
    await layer.oversight.submitResponse(
      signApprovalResponse(cfoKey, { requestId, decision: 'APPROVE', respondedAt: clock.now() }),
    );
    await expect(payment.result).resolves.toEqual({ paid: 25_000, vendor: 'acme' });

    // The agent tells accounting, end to end.
    const agentClient = await layer.messaging.connect(agentKey);
    await agentClient.send(accounting, new TextEncoder().encode('Payment processed'));
    await layer.settle();
    expect(accountingInbox.texts()).toEqual(['Payment processed']);

    // Ten minutes of work, then termination with its duration.
    await clock.advanceAsync(600_000);
    const ended = await sandbox.terminate('done');
    expect(ended.durationSeconds).toBe(600n);
    await layer.settle();

    // End of month (+ the one-hour grace period): the invoice, delivered to the billing agent.
    const period = await layer.metering.getSubscription(sub.id);
    expect(period.id).toBe(sub.id);
    await clock.advanceToAsync(1_769_904_000_000_000_000n + 2n * 3_600_000_000_000n); // 2026-02-01T02:00Z
    const { invoices, failed } = await layer.metering.generateInvoices();
    expect(failed).toEqual([]);
    expect(invoices).toHaveLength(1);
    const invoice = invoices[0];
    if (invoice === undefined) throw new Error('no invoice');
    const line = (id: string) => invoice.lines.find((l) => l.chargeId === id);
    expect(line('sandboxes')?.quantity.toString()).toBe('1');
    expect(line('tokens')?.quantity.toString()).toBe(String(extracted.inputTokens + extracted.outputTokens));
    await layer.settle();
    const delivered = billingInbox.notifications().find((n) => n.kind === 'invoice');
    expect(delivered?.recipient).toBe(billing);
    expect(delivered?.body).toContain(invoice.total.toFixed(2));
    expect(delivered?.data).toEqual(
      decodeJson(new TextEncoder().encode(JSON.stringify(encodeInvoice(invoice)))),
    );
    expect(decodeInvoice(delivered?.data).total.eq(invoice.total)).toBe(true);

    // Every product wrote the same audit log, delivery receipts included.
    for (const product of ['runtime', 'metering', 'oversight', 'messaging'] as const) {
      expect((await layer.platform.audit.query({ product, limit: 1 })).events.length).toBe(1);
    }
    const receipts = await layer.platform.audit.query({ action: 'messaging.receipt', agentNhi: billing });
    expect(receipts.events.map((e) => (e.metadata as { receipt_type: string }).receipt_type)).toContain(
      'delivered',
    );
  });
});
