import {
  AgentKeyPair,
  bytesToUtf8,
  createOverrideTokenValidator,
  createPlatform,
  Decimal,
  EnablementError,
  type OversightRequirement,
  type Platform,
  policyId,
  type RuntimeUsageEvent,
  registrationProof,
} from '@creto/core';
import { createMessagingNotifier, createOversight } from '@creto/oversight';
import { createRuntime, type SandboxDriver } from '@creto/runtime';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { expectEnablementError, expectEnablementRejection } from '../assertions/index.js';
import { FakeClock } from '../fake-clock/index.js';
import {
  BoundedLog,
  createFakeAuthzClient,
  createFakeMessageSender,
  createFakeOversightClient,
  createFakeQuotaClient,
  createRecordingNotifier,
  createRecordingUsageSink,
} from './index.js';

// Keys once per file: ML-DSA key generation is slow.
const seed = (n: number) => new Uint8Array(32).fill(n);
const KEYS = {
  agent: AgentKeyPair.fromSeed(seed(1), { postQuantum: true }),
  host: AgentKeyPair.fromSeed(seed(2), { postQuantum: true, kind: 'service' }),
  oversight: AgentKeyPair.fromSeed(seed(3), { kind: 'service' }),
  cfo: AgentKeyPair.fromSeed(seed(4), { kind: 'human' }),
};
const AGENT = KEYS.agent.identity.nhi;
const CFO = KEYS.cfo.identity.nhi;
const REQUIREMENT: OversightRequirement = {
  tiers: [{ approvers: [CFO], quorum: 1, timeoutMs: 7_200_000 }],
  finalAction: 'auto_deny',
};

/** A driver that runs nothing: the fakes are about the ports, not sandboxes. */
const nullDriver: SandboxDriver = {
  info: { name: 'null', isolation: 'none (test double)', isolated: false },
  async create() {
    return {
      exec: async () => ({
        outcome: 'ok',
        stdout: '',
        stderr: '',
        exitCode: 0,
        truncated: false,
        durationMs: 0,
      }),
      checkpoint: async () => ({}),
      dispose: async () => {},
    };
  },
};

async function platformWith(clock: FakeClock): Promise<Platform> {
  const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [KEYS.oversight.identity.nhi] } });
  await platform.nhi.register({ identity: KEYS.agent.identity, proof: registrationProof(KEYS.agent) });
  await platform.nhi.register({ identity: KEYS.cfo.identity });
  await platform.nhi.register({ identity: KEYS.oversight.identity });
  platform.authz.setPolicies([
    { id: 'spawn', effect: 'permit', action: 'sandbox.spawn' },
    { id: 'funds', effect: 'permit', action: 'funds.transfer' },
    {
      id: 'large_transfer',
      effect: 'require_oversight',
      action: 'funds.transfer',
      when: { attr: 'context.amount', op: 'gt', value: 10000 },
      requirement: REQUIREMENT,
    },
  ]);
  return platform;
}

function request(amount: number) {
  return {
    agentNhi: AGENT,
    delegationChain: [],
    action: { name: 'funds.transfer', parameters: { amount } },
    resource: { resourceType: 'payments', resourceId: 'account:ops' },
    policyId: policyId('large_transfer'),
    requirement: REQUIREMENT,
    actionDescription: `Transfer ${amount}`,
    riskFactors: [],
  };
}

describe('BoundedLog', () => {
  it('keeps the most recent entries and counts what it dropped', () => {
    const log = new BoundedLog<number>(3);
    for (let i = 1; i <= 5; i++) log.push(i);
    expect(log.toArray()).toEqual([3, 4, 5]);
    expect(log.dropped).toBe(2);
    log.clear();
    expect([log.length, log.dropped]).toEqual([0, 0]);
    for (const bad of [0, -1, 1.5, Number.NaN, 1e12]) {
      expectEnablementError(() => new BoundedLog(bad, 'maxCalls'), 'PL-400', 'maxCalls');
    }
  });
});

describe('createFakeQuotaClient', () => {
  it('answers from the script, then the newest matching rule, then the fallback, and records calls', async () => {
    const quota = createFakeQuotaClient({ script: ['allow_with_notification'], maxCalls: 2 });
    quota.when({ eventType: 'sandbox_allocated' }, { decision: 'block', usage: 1, limit: 1 });
    quota.when({ agent: 'other', eventType: 'sandbox_allocated' }, 'allow');
    const q = { agent: AGENT, eventType: 'sandbox_allocated' };
    expect((await quota.checkQuota(q)).decision).toBe('allow_with_notification');
    const blocked = await quota.checkQuota(q);
    expect(blocked).toMatchObject({ decision: 'block', reason: 'fake quota: block' });
    expect(blocked.usage?.toString()).toBe('1');
    expect(blocked.error?.code).toBe('MT-429');
    expect(blocked.error?.message).toBe('sandbox_allocated quota exceeded (1/1)');
    expect(blocked.error?.retryAfterMs).toBe(3_600_000);
    expect((await quota.checkQuota({ agent: 'other', eventType: 'sandbox_allocated' })).decision).toBe(
      'allow',
    );
    expect((await quota.checkQuota({ agent: AGENT, eventType: 'inference_call' })).decision).toBe('allow');
    expect(quota.calls.map((c) => c.agent)).toEqual(['other', AGENT]); // bounded to the last 2
    quota.setFallback(new EnablementError('MT-503', 'metering down'));
    await expectEnablementRejection(quota.checkQuota({ agent: AGENT, eventType: 'x' }), 'MT-503');
    await expectEnablementRejection(quota.checkQuota({ agent: AGENT, eventType: '' }), 'MT-400', 'eventType');
    quota.reset();
    expect(quota.calls).toEqual([]);
  });

  it('drives Runtime: a block becomes RT-429 caused by the fake MT-429 (spec §8.2)', async () => {
    const clock = new FakeClock();
    const platform = await platformWith(clock);
    const quota = createFakeQuotaClient();
    const runtime = createRuntime({
      platform,
      hostKey: KEYS.host,
      quota,
      drivers: { quickjs: nullDriver },
      usage: { publish: async () => {} },
    });
    await runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '1' } });
    quota.enqueue({ decision: 'block', usage: '100', limit: '100', retryAfterMs: 86_400_000 });
    const error = await expectEnablementRejection(
      runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '2' } }),
      'RT-429',
    );
    expect(error.causedBy?.code).toBe('MT-429');
    expect(error.retryAfterMs).toBe(86_400_000);
    expect(quota.calls.map((c) => c.eventType)).toEqual(['sandbox_allocated', 'sandbox_allocated']);
    await runtime.close();
    platform.dispose();
  });
});

describe('createFakeOversightClient', () => {
  it('issues real override tokens that the policy engine accepts exactly once, for exactly the call', async () => {
    const clock = new FakeClock();
    const platform = await platformWith(clock);
    const oversight = createFakeOversightClient({ serviceKey: KEYS.oversight, clock });
    const { requestId, created } = await oversight.createRequest(request(50_000));
    expect(created).toBe(true);
    const waiting = oversight.awaitApproval(requestId);
    const outcome = oversight.approve(undefined, { decidedBy: [CFO], reason: 'ok' });
    expect(await waiting).toBe(outcome);
    if (outcome.state !== 'APPROVED') throw new Error('not approved');
    const call = {
      principal: AGENT,
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      overrideToken: outcome.overrideToken,
    };
    expectEnablementError(() => platform.authz.evaluate({ ...call, context: { amount: 50_001 } }), 'PL-403');
    expect(platform.authz.evaluate({ ...call, context: { amount: 50_000 } }).decision).toBe('allow');
    expectEnablementError(() => platform.authz.evaluate({ ...call, context: { amount: 50_000 } }), 'OV-410');
    expect(oversight.get(requestId).state).toBe('APPROVED');
    expectEnablementError(() => oversight.deny(requestId), 'OV-409');
    platform.dispose();
  });

  it('deduplicates identical requests for 24 hours, times out waits on the clock, honours abort', async () => {
    const clock = new FakeClock();
    const oversight = createFakeOversightClient({ clock });
    const first = await oversight.createRequest(request(20_000));
    expect((await oversight.createRequest(request(20_000))).created).toBe(false);
    expect((await oversight.createRequest(request(20_001))).created).toBe(true);
    const timedOut = expectEnablementRejection(
      oversight.awaitApproval(first.requestId, { timeoutMs: 1_000 }),
      'OV-408',
    );
    await clock.advanceAsync(1_000);
    await timedOut;
    expect(oversight.get(first.requestId).state).toBe('PENDING'); // the request stays pending
    const controller = new AbortController();
    const aborted = oversight.awaitApproval(first.requestId, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await clock.advanceAsync(24 * 3_600_000);
    expect((await oversight.createRequest(request(20_000))).created).toBe(true);
    await expectEnablementRejection(oversight.awaitApproval('nope'), 'OV-404');
    await expectEnablementRejection(
      oversight.createRequest({ ...request(1), agentNhi: 'not-an-nhi' }),
      'OV-400',
      'agent_nhi',
    );
  });

  it('decides automatically per mode, expires with a final action, and bounds its requests', async () => {
    const clock = new FakeClock();
    const oversight = createFakeOversightClient({ clock, mode: 'deny', maxRequests: 2 });
    const denied = await oversight.createRequest(request(1));
    expect((await oversight.awaitApproval(denied.requestId)).state).toBe('DENIED');
    oversight.setMode('manual');
    const open = await oversight.createRequest(request(2));
    // Full: the oldest decided request is forgotten to make room.
    const third = await oversight.createRequest(request(3));
    expect(oversight.requests.map((r) => r.requestId)).toEqual([open.requestId, third.requestId]);
    await expectEnablementRejection(oversight.createRequest(request(4)), 'PL-503');
    const expired = oversight.expire(open.requestId, 'auto_approve');
    expect(expired).toMatchObject({ state: 'EXPIRED', finalAction: 'auto_approve' });
    expect(expired.state === 'EXPIRED' && expired.overrideToken).toMatch(/^fake-override-token\./);
    await oversight.cancelRequest(third.requestId, 'withdrawn');
    expect(oversight.last()?.outcome).toMatchObject({ state: 'CANCELLED', reason: 'withdrawn' });
    expectEnablementError(() => oversight.setMode('sometimes' as never), 'PL-400', 'mode');
    expectEnablementError(() => createFakeOversightClient({ clock: {} as never }), 'PL-400', 'clock');
  });

  it('drives Runtime through the approval gate to a tool call with the approved arguments', async () => {
    const clock = new FakeClock();
    const platform = await platformWith(clock);
    const oversight = createFakeOversightClient({ serviceKey: KEYS.oversight, clock });
    const runtime = createRuntime({
      platform,
      hostKey: KEYS.host,
      oversight,
      drivers: { quickjs: nullDriver },
      usage: { publish: async () => {} },
    });
    runtime.registerTool({
      name: 'transfer_funds',
      description: 'Move money',
      schema: z.object({ amount: z.number() }),
      action: 'funds.transfer',
      resource: () => 'payments:account:ops',
      handler: (args) => ({ transferred: args.amount }),
    });
    const sandbox = await runtime.spawnSandbox({ agent: KEYS.agent });
    const call = runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50_000 });
    for (let i = 0; i < 20 && oversight.last() === undefined; i++) await clock.advanceAsync(0);
    expect(oversight.last()?.input.action).toEqual({
      name: 'funds.transfer',
      parameters: { amount: 50_000 },
    });
    expect(call.state).toBe('pending_approval');
    oversight.approve(undefined, { decidedBy: [CFO] });
    expect(await call.result).toEqual({ transferred: 50_000 });
    await runtime.close();
    platform.dispose();
  });
});

describe('createRecordingUsageSink', () => {
  it('records Runtime usage events with their wire JSON; a failing sink leaves them in the outbox', async () => {
    const clock = new FakeClock();
    const platform = await platformWith(clock);
    const usage = createRecordingUsageSink();
    const runtime = createRuntime({ platform, hostKey: KEYS.host, usage, drivers: { quickjs: nullDriver } });
    usage.fail();
    const sandbox = await runtime.spawnSandbox({ agent: KEYS.agent });
    expect((await runtime.flushUsage()).remaining).toBe(1);
    expect(usage.events).toHaveLength(0);
    usage.recover();
    expect(await runtime.flushUsage()).toEqual({ published: 1, remaining: 0 });
    const [allocated] = usage.ofType('sandbox_allocated');
    expect(allocated?.properties).toMatchObject({ type: 'SandboxAllocated', sandboxId: sandbox.sandboxId });
    expect(usage.wire[0]?.event_type).toBe('sandbox_allocated');
    await runtime.close();
    platform.dispose();
  });

  it('refuses an event Metering could not decode, naming the field, and keeps nothing of it', async () => {
    const usage = createRecordingUsageSink({ maxEvents: 1 });
    const bad = { eventType: 'sandbox_allocated', agentNhi: 'nope' } as unknown as RuntimeUsageEvent;
    await expect(usage.publish(bad)).rejects.toBeInstanceOf(EnablementError);
    expect(usage.events).toEqual([]);
    usage.fail(new EnablementError('PL-503', 'down'));
    await expectEnablementRejection(usage.publish(bad), 'PL-503');
    await expectEnablementRejection(usage.publish(bad), 'PL-503');
    usage.recover();
    expectEnablementError(() => usage.fail(undefined, 0), 'PL-400', 'count');
  });
});

describe('createRecordingNotifier and createFakeMessageSender', () => {
  it('records what Oversight notifies; a queued receipt becomes an OV-202 note on the request', async () => {
    const clock = new FakeClock();
    const platform = await platformWith(clock);
    const notifier = createRecordingNotifier({ mode: 'queued' });
    const oversight = createOversight({ nhi: platform.nhi, serviceKey: KEYS.oversight, clock, notifier });
    const { requestId } = await oversight.createRequest(request(50_000));
    const [sent] = notifier.ofKind('approval_required');
    expect(sent).toMatchObject({ recipient: CFO, subject: 'Approval Required: funds.transfer' });
    expect(notifier.forRecipient(CFO)).toHaveLength(1);
    expect(notifier.receipts[0]).toMatchObject({ status: 'queued', channel: 'recording' });
    const view = await oversight.getRequest(requestId);
    expect(view.notes.map((n) => n.code)).toContain('OV-202');
    notifier.setMode('failing');
    await expectEnablementRejection(notifier.notify({ ...(sent ?? never()), id: 'n2' }), 'PL-503');
    await expectEnablementRejection(notifier.notify({ ...(sent ?? never()), id: '' }), 'PL-400', 'id');
    expect(notifier.notifications).toHaveLength(2); // the invalid one is not recorded
    await oversight.close();
    platform.dispose();
  });

  it('stands in for Messaging under the messaging notifier: payload as text and JSON, queued and failures', async () => {
    const clock = new FakeClock();
    const sender = createFakeMessageSender();
    const notifier = createMessagingNotifier({ sender, clock });
    const notification = {
      id: 'n-1',
      kind: 'approval_required',
      recipient: CFO,
      subject: 'Approval Required: delete_database',
      body: 'please',
    };
    expect((await notifier.notify(notification)).status).toBe('delivered');
    const [message] = sender.sentTo(CFO);
    expect(message?.text).toContain('Approval Required: delete_database');
    expect(message?.json).toMatchObject({ type: 'creto.notification' });
    expect(bytesToUtf8(message?.payload ?? new Uint8Array())).toBe(message?.text);
    sender.setStatus('queued');
    expect((await notifier.notify({ ...notification, id: 'n-2' })).status).toBe('queued');
    sender.fail(new EnablementError('MS-403', 'not permitted'));
    await expectEnablementRejection(notifier.notify({ ...notification, id: 'n-3' }), 'OV-400');
    sender.recover();
    await expectEnablementRejection(sender.send('test:agent:x', new Uint8Array(1)), 'MS-400');
    const loose = createFakeMessageSender({ requireNhiRecipient: false });
    expect((await loose.send('test:agent:x', new Uint8Array([0xff]))).status).toBe('delivered');
    expect(loose.sent[0]?.text).toBeUndefined(); // not UTF-8
    expect(sender.nhi).toBe(createFakeMessageSender().nhi); // a fixed default sender
  });
});

describe('createFakeAuthzClient', () => {
  it('answers by rule (exact or prefix*), script and fallback deny; validates override tokens like the engine', async () => {
    const clock = new FakeClock();
    const oversight = createFakeOversightClient({ serviceKey: KEYS.oversight, clock });
    const authz = createFakeAuthzClient({
      overrideTokens: createOverrideTokenValidator({ trustedIssuers: [KEYS.oversight.identity.nhi], clock }),
      quota: createFakeQuotaClient({ fallback: { decision: 'block', usage: 5, limit: 5 } }),
    });
    authz.when({ action: 'sandbox.*' }, 'allow');
    authz.when(
      { action: 'funds.transfer', resource: 'payments:*' },
      { decision: 'requires_oversight', policyId: 'large_transfer', requirement: REQUIREMENT },
    );
    const call = { principal: AGENT, action: 'funds.transfer', resource: 'payments:account:ops' };
    expect((await authz.check({ ...call, action: 'sandbox.spawn' })).decision).toBe('allow');
    expect((await authz.check({ ...call, action: 'network.egress' })).decision).toBe('deny');
    const pending = await authz.check({ ...call, context: { amount: 50_000 } });
    expect(pending).toMatchObject({ decision: 'requires_oversight', policyId: 'large_transfer' });
    const { requestId } = await oversight.createRequest(request(50_000));
    const outcome = oversight.approve(requestId);
    const overrideToken = outcome.state === 'APPROVED' ? outcome.overrideToken : never();
    await expectEnablementRejection(
      authz.check({ ...call, context: { amount: 1 }, overrideToken }),
      'PL-403',
    );
    const allowed = await authz.check({ ...call, context: { amount: 50_000 }, overrideToken });
    expect(allowed).toMatchObject({ decision: 'allow' });
    authz.enqueue(new EnablementError('PL-503', 'authz down'));
    await expectEnablementRejection(authz.check(call), 'PL-503');
    await expectEnablementRejection(authz.check({ ...call, principal: '' }), 'PL-400', 'principal');
    expect(authz.calls).toHaveLength(6);
    const quota = await authz.checkQuota(KEYS.agent.identity, 'sandbox_allocated', Decimal.parse('1'));
    expect(quota).toMatchObject({ decision: 'block' });
    expect('error' in quota).toBe(false); // the AuthzClient shape carries no error
    authz.reset();
    expect(authz.calls).toEqual([]);
  });
});

function never(): never {
  throw new Error('unreachable');
}
