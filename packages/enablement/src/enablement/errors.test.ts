/**
 * Spec §8 across the wired products: RT-429 caused by MT-429 with one trace id (§8.2), RT-202
 * while an approval is pending, OV-503 when memory is down, OV-202 when the approver is offline
 * (§8.3); notification routing by recipient; the delivery-receipt audit consumer against forged
 * and malformed receipts (§5.2).
 */
import {
  EnablementError,
  type EnablementError as EnablementErrorType,
  encodeDeliveryReceipt,
  encodeJson,
  type MemoryClient,
  type Notification,
  type NotificationReceipt,
  newUuid,
  type Policy,
  parseUuid,
  policyId,
  SUBJECTS,
} from '@creto/core';
import { publishDeliveryReceipt, signDeliveryReceipt } from '@creto/messaging';
import { signApprovalResponse } from '@creto/oversight';
import { expectEnablementRejection } from '@creto/testing';
import { createTelemetryHarness } from '@creto/testing/telemetry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  connectInbox,
  KEYS,
  keyOf,
  newLayer,
  PLAN,
  register,
  SPAWN_POLICY,
} from './enablement.test-support.js';
import { RECEIPT_AUDIT_ACTION } from './receipts.js';
import type { Enablement } from './types.js';

// The OpenTelemetry SDK is registered only in this test: the packages use the API alone.
const telemetry = createTelemetryHarness();
beforeAll(() => telemetry.install());
afterAll(() => telemetry.shutdown());

const layers: Enablement[] = [];
afterEach(async () => {
  for (const layer of layers.splice(0)) await layer.shutdown();
  telemetry.reset();
});

const HOUR_MS = 3_600_000;
const agentKey = keyOf(30);
const approverKey = keyOf(31, 'human');
const strangerKey = keyOf(32, 'human'); // registered, never connected: no prekey bundle

const transferPolicy = (approvers: string[]): Policy => ({
  id: 'large_transfer',
  effect: 'require_oversight',
  action: 'funds.transfer',
  when: { attr: 'context.amount', op: 'gt', value: 10_000 },
  requirement: { tiers: [{ approvers, quorum: 1, timeoutMs: 2 * HOUR_MS }], finalAction: 'auto_deny' },
});

async function transferLayer(options: Parameters<typeof newLayer>[0] = {}) {
  const t = await newLayer({
    policies: [SPAWN_POLICY, transferPolicy([approverKey.identity.nhi])],
    ...options,
  });
  layers.push(t.layer);
  await register(t.layer, agentKey);
  await register(t.layer, approverKey);
  t.layer.runtime.registerTool({
    name: 'transfer_funds',
    description: 'Moves money',
    schema: z.object({ amount: z.number().int() }),
    action: 'funds.transfer',
    handler: (args) => ({ paid: args.amount }),
  });
  const sandbox = await t.layer.runtime.spawnSandbox({ agent: agentKey });
  return { ...t, sandboxId: sandbox.sandboxId };
}

async function settleUntil(layer: Enablement, done: () => boolean): Promise<void> {
  for (let i = 0; i < 20 && !done(); i++) await layer.settle();
  expect(done()).toBe(true);
}

describe('§8.2 RT-429 caused by MT-429, one trace id', () => {
  it('chains Metering’s quota error under Runtime’s, with the retry hint and the spawn’s trace id', async () => {
    const { layer } = await newLayer();
    layers.push(layer);
    const agent = await register(layer, agentKey);
    await layer.metering.registerPlan(PLAN);
    const sub = await layer.metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: 'billing@acme.example',
      agents: [agent],
    });
    await layer.metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '1',
      overflow: 'block',
    });
    await layer.runtime.spawnSandbox({ agent: agentKey, labels: { n: '1' } });
    await layer.settle(); // the sandbox_allocated event is ingested: usage 1/1
    telemetry.reset();

    const error = await expectEnablementRejection(
      layer.runtime.spawnSandbox({ agent: agentKey, labels: { n: '2' } }),
      'RT-429',
    );
    const cause = error.causedBy as EnablementErrorType;
    expect(cause.code).toBe('MT-429');
    expect(cause.message).toContain('sandbox_allocations quota exceeded (1/1)');
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBe(cause.retryAfterMs);
    const spawnSpan = telemetry.finishedSpans().find((s) => s.name === 'runtime.spawn_sandbox');
    expect(spawnSpan).toBeDefined();
    expect(error.traceId).toBe(spawnSpan?.spanContext().traceId);
    expect(cause.traceId).toBe(error.traceId);
    expect(error.toJSON()).toMatchObject({
      code: 'RT-429',
      product: 'runtime',
      trace_id: error.traceId,
      caused_by: { code: 'MT-429', product: 'metering', trace_id: error.traceId },
    });
  });
});

describe('§8.3 RT-202 while the approval is pending', () => {
  it('answers RT-202 (retryable) when the wait ends, and the request stays pending', async () => {
    const { layer, clock, sandboxId } = await transferLayer({
      runtime: { limits: { approvalWaitMs: 60_000 } },
    });
    const call = layer.runtime.callTool(sandboxId, 'transfer_funds', { amount: 50_000 });
    // Observed at once: it rejects while the clock advances, before the assertion below awaits it.
    const outcome = call.then(
      () => Promise.reject(new Error('expected RT-202')),
      (error: unknown) => Promise.reject(error),
    );
    outcome.catch(() => {});
    await settleUntil(layer, () => layer.runtime.pendingApprovals().length === 1);
    const [pending] = layer.runtime.pendingApprovals();
    await clock.advanceAsync(60_000);
    const error = await expectEnablementRejection(outcome, 'RT-202');
    expect(error.retryable).toBe(true);
    expect((await layer.oversight.getRequest(pending?.requestId ?? '')).state).toBe('PENDING');
  });
});

describe('§8.3 OV-503: memory down, the request proceeds without reasoning', () => {
  it('creates the request degraded, notifies, and the approval still runs the call', async () => {
    const failing: Pick<MemoryClient, 'fetchReasoningContext'> = {
      fetchReasoningContext: async () => {
        throw new EnablementError('PL-503', 'memory service unavailable');
      },
    };
    const { layer, clock, sandboxId } = await transferLayer({ oversight: { memory: failing } });
    const inbox = await connectInbox(layer, approverKey);
    const call = layer.runtime.startToolCall(sandboxId, 'transfer_funds', { amount: 50_000 });
    await settleUntil(layer, () => call.pendingApproval !== undefined);
    const requestId = parseUuid(call.pendingApproval?.requestId, 'requestId');
    const request = await layer.oversight.getRequest(requestId);
    expect(request.degraded).toBe(true);
    expect(request.reasoningContext).toBe('');
    expect(request.notes.map((n) => n.code)).toContain('OV-503');
    await layer.settle();
    expect(inbox.notifications().map((n) => n.kind)).toEqual(['approval_required']);
    await layer.oversight.submitResponse(
      signApprovalResponse(approverKey, { requestId, decision: 'APPROVE', respondedAt: clock.now() }),
    );
    await expect(call.result).resolves.toEqual({ paid: 50_000 });
  });
});

describe('§8.3 OV-202: the approver is offline', () => {
  it('queues the notification at the relay, notes OV-202, and delivers it when the approver connects', async () => {
    const { layer, clock, sandboxId } = await transferLayer();
    // The approver has used messaging before (its prekeys are published), and is offline now.
    const first = await layer.messaging.connect(approverKey);
    await first.close();
    const call = layer.runtime.startToolCall(sandboxId, 'transfer_funds', { amount: 50_000 });
    await settleUntil(layer, () => call.pendingApproval !== undefined);
    const requestId = parseUuid(call.pendingApproval?.requestId, 'requestId');
    const request = await layer.oversight.getRequest(requestId);
    expect(request.state).toBe('PENDING');
    expect(request.notes).toEqual([
      expect.objectContaining({ code: 'OV-202', recipient: approverKey.identity.nhi }),
    ]);
    expect(layer.messaging.relay.queueDepth(approverKey.identity.nhi)).toBe(1);

    const inbox = await connectInbox(layer, approverKey);
    await layer.settle();
    expect(inbox.notifications().map((n) => n.kind)).toEqual(['approval_required']);
    expect(layer.messaging.relay.queueDepth(approverKey.identity.nhi)).toBe(0);
    await layer.oversight.submitResponse(
      signApprovalResponse(approverKey, { requestId, decision: 'APPROVE', respondedAt: clock.now() }),
    );
    await expect(call.result).resolves.toEqual({ paid: 50_000 });
  });
});

describe('notification routing (spec §4.4)', () => {
  it('routes NHIs to messaging, webhook prefixes to their webhook, and the rest to the log', async () => {
    const seen: { recipient: string; channel?: string; status?: string; code?: string }[] = [];
    const record = (n: Notification, receipt?: NotificationReceipt, error?: EnablementErrorType) =>
      seen.push({
        recipient: n.recipient,
        ...(receipt === undefined ? {} : { channel: receipt.channel, status: receipt.status }),
        ...(error === undefined ? {} : { code: error.code }),
      });
    const secret = `whsec_${Buffer.from(new Uint8Array(32).fill(7)).toString('base64')}`;
    const { layer } = await transferLayer({
      onNotification: record,
      // Nothing listens on port 9 of the loopback: the webhook fails transiently and queues.
      webhooks: [{ recipientPrefix: 'role:finance', url: 'https://127.0.0.1:9/hooks', secret }],
    });
    await register(layer, strangerKey);
    const agent = agentKey.identity.nhi;
    const { requestId } = await layer.oversight.createRequest({
      agentNhi: agent,
      delegationChain: [],
      action: { name: 'budget.review', parameters: { quarter: 'Q1' } },
      resource: { resourceType: 'budget', resourceId: 'q1' },
      policyId: policyId('budget_review'),
      requirement: {
        tiers: [
          {
            approvers: ['role:cfo', 'role:finance', strangerKey.identity.nhi],
            quorum: 1,
            timeoutMs: HOUR_MS,
          },
        ],
        finalAction: 'auto_deny',
      },
      actionDescription: 'Review the Q1 budget',
      riskFactors: [],
    });
    await layer.settle();
    const byRecipient = Object.fromEntries(seen.map((s) => [s.recipient, s]));
    expect(byRecipient['role:cfo']).toEqual({ recipient: 'role:cfo', channel: 'log', status: 'delivered' });
    expect(byRecipient['role:finance']).toEqual({
      recipient: 'role:finance',
      channel: 'webhook',
      status: 'queued',
    });
    // Never connected: no prekey bundle, so messaging refuses it; the request goes on regardless.
    expect(byRecipient[strangerKey.identity.nhi]?.code).toBe('OV-400');
    const request = await layer.oversight.getRequest(requestId);
    expect(request.state).toBe('PENDING');
    expect(request.notes.map((n) => `${n.recipient}:${n.code}`).sort()).toEqual(
      [`role:finance:OV-202`, `${strangerKey.identity.nhi}:OV-400`].sort(),
    );
  });
});

describe('delivery receipts → audit (spec §5.2)', () => {
  it('audits receipts signed by the relay once, and drops forged and malformed ones', async () => {
    const { layer, clock } = await newLayer();
    layers.push(layer);
    const recipient = await register(layer, agentKey);
    const receipt = (signer = layer.keys.relayService) =>
      signDeliveryReceipt(
        { messageId: newUuid(), recipientNhi: recipient, receiptType: 'delivered', timestamp: clock.now() },
        signer,
      );
    const genuine = receipt();
    await publishDeliveryReceipt(layer.bus, genuine);
    // The same receipt republished under another message id (a retry after a crash): one event.
    await layer.bus.publish(SUBJECTS.messagingDeliveryReceipts, encodeJson(encodeDeliveryReceipt(genuine)), {
      msgId: 'republished',
    });
    await layer.bus.publish(SUBJECTS.messagingDeliveryReceipts, encodeJson({ message_id: 'not a receipt' }));
    await publishDeliveryReceipt(layer.bus, receipt(KEYS.runtimeHost)); // signed, but not by the relay
    await layer.settle();
    const audited = await layer.platform.audit.query({ action: RECEIPT_AUDIT_ACTION });
    expect(audited.events).toHaveLength(1);
    expect(audited.events[0]).toMatchObject({
      product: 'messaging',
      agentNhi: recipient,
      outcome: 'success',
      resource: `messaging:message:${genuine.messageId}`,
    });
    const info = await layer.bus.consumerInfo('MESSAGING_RECEIPTS', 'audit');
    expect(info.state).toMatchObject({ numPending: 0, ackPending: 0, deadLettered: 0 });
  });
});
