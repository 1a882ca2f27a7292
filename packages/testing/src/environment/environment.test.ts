import { EnablementError, type OversightRequirement, policyId } from '@creto/core';
import { afterEach, describe, expect, it } from 'vitest';
import { expectEnablementError, expectEnablementRejection } from '../assertions/index.js';
import type { FakeClock } from '../fake-clock/index.js';
import { ScenarioAssertionError } from '../scenarios/runner.js';
import { createTestEnvironment } from './environment.js';
import { DEFAULT_TEST_SEED, deriveTestAgentKey, normalizeSeed } from './keys.js';
import type { TestEnvironment } from './types.js';

const open: TestEnvironment[] = [];
async function environment(
  options: Parameters<typeof createTestEnvironment>[0] = {},
): Promise<TestEnvironment> {
  const env = await createTestEnvironment(options);
  open.push(env);
  return env;
}
afterEach(async () => {
  for (const env of open.splice(0)) await env.shutdown();
});

function requirement(env: TestEnvironment, approver: string): OversightRequirement {
  return {
    tiers: [{ approvers: [env.nhiOf(approver)], quorum: 1, timeoutMs: 3_600_000 }],
    finalAction: 'auto_deny',
  };
}

async function request(env: TestEnvironment, agent: string, approver: string, action = 'delete_database') {
  await env.agent(agent);
  await env.agent(approver);
  return env.oversight.createRequest({
    agentNhi: env.nhiOf(agent),
    delegationChain: [],
    action: { name: action, parameters: { database: 'prod' } },
    resource: { resourceType: 'database', resourceId: 'prod' },
    policyId: policyId('destructive'),
    requirement: requirement(env, approver),
    actionDescription: 'Delete the production database',
    riskFactors: [],
  });
}

describe('createTestEnvironment: keys', () => {
  it('derives the same NHIs from the same seed in every run, and others from another seed', async () => {
    const a = await environment();
    const agent = await a.agent('test:agent:001');
    expect(a.nhiOf('test:agent:001')).toBe(agent.identity.nhi);
    expect(agent.identity.nhi).toBe(deriveTestAgentKey(DEFAULT_TEST_SEED, 'test:agent:001').identity.nhi);
    expect(a.nameOf(agent.identity.nhi)).toBe('test:agent:001');
    expect(a.nameOf(a.enablement.keys.notificationBot.identity.nhi)).toBe('bot');
    const b = await environment({ seed: 'another seed' });
    expect(b.nhiOf('test:agent:001')).not.toBe(agent.identity.nhi);
    expect(b.enablement.keys.oversightService.identity.nhi).not.toBe(
      a.enablement.keys.oversightService.identity.nhi,
    );
    expect(normalizeSeed('another seed')).toEqual(b.seed);
    const principal = await a.platform.nhi.lookup(agent.identity.nhi);
    expect(principal.displayName).toBe('test:agent:001');
    expect(agent.postQuantum).toBe(true);
  });

  it('registers attributes, keeps a name to one kind, and bounds the number of agents', async () => {
    const env = await environment({ maxAgents: 2 });
    await env.agent('cfo@test.com', { kind: 'human', roles: ['cfo'] });
    await env.agent('cfo@test.com', { groups: ['finance'] });
    const cfo = await env.platform.nhi.lookup(env.nhiOf('cfo@test.com'));
    expect([cfo.kind, cfo.roles, cfo.groups]).toEqual(['human', ['cfo'], ['finance']]);
    await expectEnablementRejection(env.agent('cfo@test.com', { kind: 'agent' }), 'PL-409', 'human');
    await env.agent('test:agent:2');
    await expectEnablementRejection(env.agent('test:agent:3'), 'PL-500', 'more than 2 agents');
    await expectEnablementRejection(env.agent(''), 'PL-400', 'agent name');
    expectEnablementError(() => env.nhiOf('bad\nname'), 'PL-400', 'agent name');
  });

  it('refuses bad options, naming them', async () => {
    await expectEnablementRejection(createTestEnvironment({ seed: new Uint8Array(3) }), 'PL-400', 'seed');
    await expectEnablementRejection(createTestEnvironment({ clock: {} as FakeClock }), 'PL-400', 'clock');
    await expectEnablementRejection(createTestEnvironment({ stepMs: 0 }), 'PL-400', 'stepMs');
  });
});

describe('createTestEnvironment: time and events', () => {
  it('finds events already ingested without moving time, and times out exactly at timeoutMs', async () => {
    const env = await environment();
    const agent = await env.agent('test:agent:001');
    await env.subscribe('test:agent:001');
    const sandbox = await env.runtime.spawnSandbox({ agent, runtimeClass: 'gvisor' });
    await env.settle();
    const before = env.clock.now();
    const event = await env.waitForEvent({
      product: 'metering',
      eventType: 'sandbox_allocated',
      agent: 'test:agent:001',
    });
    expect(env.clock.now()).toBe(before);
    expect(event).toMatchObject({ source: 'usage', agentNhi: agent.identity.nhi });
    expect(event.properties).toMatchObject({
      sandbox_id: sandbox.sandboxId,
      cpu_millicores: '1000',
      runtime_class: 'gvisor',
    });
    // The same event is not returned twice: a second wait has nothing and fails at exactly 1.25 s.
    const timeout = await env
      .waitForEvent({ product: 'metering', eventType: 'sandbox_allocated', timeoutMs: 1_250 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(timeout).toBeInstanceOf(ScenarioAssertionError);
    expect((timeout as Error).message).toBe(
      'waitForEvent: no usage event sandbox_allocated from metering within 1250 ms; seen 1 usage event(s) of types ["sandbox_allocated"] (fake clock advanced 1250 ms)',
    );
    expect(env.clock.now() - before).toBe(1_250_000_000n);
    // The audit log is a source too: the typed kind or the action.
    const audit = await env.waitForEvent({ product: 'runtime', eventType: 'SandboxSpawned' });
    expect(audit).toMatchObject({ source: 'audit', product: 'runtime', agentNhi: agent.identity.nhi });
    await expectEnablementRejection(
      env.waitForEvent({ product: 'metering', eventType: 'x', timeoutMs: -1 }),
      'PL-400',
    );
  });

  it('skips time: the reaper ends a sandbox at its lifetime and Metering bills the whole duration', async () => {
    const env = await environment();
    const agent = await env.agent('test:agent:reaped');
    await env.subscribe('test:agent:reaped');
    await env.runtime.spawnSandbox({ agent, timeoutMs: 600_000 });
    await env.advance(600_000);
    const ended = await env.waitForEvent({
      product: 'metering',
      eventType: 'sandbox_terminated',
      timeoutMs: 0,
    });
    expect(ended.properties.duration_seconds).toBe('600');
    expect(env.usageEvents().map((e) => e.eventType)).toEqual(['sandbox_allocated', 'sandbox_terminated']);
  });

  it('skips hours: an unanswered request escalates to the next tier, then expires (never a denial)', async () => {
    const env = await environment();
    const agent = await env.agent('test:agent:ops');
    const { requestId } = await env.oversight.createRequest({
      agentNhi: agent.identity.nhi,
      delegationChain: [],
      action: { name: 'delete_database', parameters: { database: 'prod' } },
      resource: { resourceType: 'database', resourceId: 'prod' },
      policyId: policyId('destructive'),
      requirement: {
        tiers: [
          { approvers: [env.nhiOf('cfo@test.com')], quorum: 1, timeoutMs: 2 * 3_600_000 },
          { approvers: [env.nhiOf('ceo@test.com')], quorum: 1, timeoutMs: 3_600_000 },
        ],
        finalAction: 'auto_deny',
      },
      actionDescription: 'Delete the production database',
      riskFactors: [],
    });
    const outcome = env.oversight.awaitApproval(requestId);
    await env.advance(2 * 3_600_000);
    expect((await env.oversight.getRequest(requestId)).state).toBe('ESCALATED');
    await env.advance(3_600_000);
    expect(await outcome).toMatchObject({ state: 'EXPIRED', finalAction: 'auto_deny' });
    expect(env.transitions().map((t) => t.to)).toEqual(['PENDING', 'ESCALATED', 'EXPIRED']);
    expect(env.notifications().map((n) => env.nameOf(n.notification.recipient))).toEqual([
      'cfo@test.com',
      'ceo@test.com',
    ]);
  });

  it('serves deterministic-* models, priced, and the call is metered', async () => {
    const env = await environment({
      inference: { responses: [{ lastUserMessage: 'Extract invoice data', reply: '{"total": 42}' }] },
    });
    const agent = await env.agent('test:agent:llm');
    await env.subscribe('test:agent:llm');
    const sandbox = await env.runtime.spawnSandbox({ agent });
    const result = await env.runtime.inference(sandbox.sandboxId, {
      model: 'deterministic-small',
      messages: [{ role: 'user', content: 'Extract invoice data' }],
    });
    expect(result.content).toBe('{"total": 42}');
    expect(result.costUsd.isZero()).toBe(false);
    const call = await env.waitForEvent({ product: 'metering', eventType: 'inference_call' });
    expect(call.properties).toMatchObject({ model_id: 'deterministic-small', provider: 'deterministic' });
    expect(call.properties.cost_usd).toBe(result.costUsd.toString());
  });
});

describe('createTestEnvironment: oversight, audit, notifications and messages', () => {
  it('approveAs / denyAs sign with the approver key; notifications and transitions are recorded', async () => {
    const env = await environment();
    const { requestId } = await request(env, 'test:agent:ops', 'cfo@test.com');
    await env.settle();
    const [notification] = env.notifications();
    expect(notification?.notification).toMatchObject({
      kind: 'approval_required',
      recipient: env.nhiOf('cfo@test.com'),
      subject: 'Approval Required: delete_database',
    });
    // The approver never connected to messaging, so it has no prekeys: the notification is refused
    // (recorded with its error), and the request goes on without it.
    expect(notification?.receipt).toBeUndefined();
    expect(notification?.error?.code).toBe('OV-400');
    expect(notification?.error?.causedBy?.code).toBe('MS-404');
    const pending = await env.waitForEvent({ product: 'oversight', eventType: 'pending' });
    expect(pending.properties).toMatchObject({ requestId, from: null, to: 'PENDING' });
    await expectEnablementRejection(env.approveAs('test:agent:ops', requestId), 'OV-403');
    const result = await env.denyAs('cfo@test.com', requestId, { reason: 'not today' });
    expect(result.state).toBe('DENIED');
    expect(await env.oversight.awaitApproval(requestId)).toMatchObject({
      state: 'DENIED',
      reason: 'not today',
    });
    expect(env.transitions().map((t) => t.to)).toEqual(['PENDING', 'DENIED']);
    await expectEnablementRejection(env.approveAs('cfo@test.com', 'not-a-uuid'), 'PL-400', 'requestId');
  });

  it('expectAuditEvent finds a match, and otherwise shows how the closest events differ', async () => {
    const env = await environment();
    const agent = await env.agent('test:agent:audited');
    await env.runtime.spawnSandbox({ agent });
    const event = await env.expectAuditEvent({
      product: 'runtime',
      kind: 'SandboxSpawned',
      agent: 'test:agent:audited',
    });
    expect(event.outcome).toBe('success');
    const error = await env
      .expectAuditEvent({ product: 'runtime', kind: 'SandboxSpawned', outcome: 'denied' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ScenarioAssertionError);
    expect((error as Error).message).toContain(
      'expectAuditEvent: no audit event matches {"product":"runtime","kind":"SandboxSpawned","outcome":"denied"}',
    );
    expect((error as Error).message).toContain('outcome: expected "denied", got "success"');
  });

  it('messagesFor connects the agent; messages arrive decrypted, with what the relay saw', async () => {
    const env = await environment();
    expect(await env.messagesFor('test:agent:approver')).toEqual([]);
    await request(env, 'test:agent:ops', 'test:agent:approver');
    expect(env.notifications()[0]?.receipt).toMatchObject({ status: 'delivered', channel: 'messaging' });
    const [message] = await env.messagesFor('test:agent:approver');
    expect(message).toMatchObject({
      senderName: 'bot',
      envelopeKind: 'handshake',
      protocol: 'PQXDH',
      relaySawPlaintext: false,
      recipient: env.nhiOf('test:agent:approver'),
    });
    expect(message?.notification?.subject).toBe('Approval Required: delete_database');
    expect(message?.ciphertextBytes).toBeGreaterThan(1088); // holds an ML-KEM-768 ciphertext
    expect(JSON.stringify(message?.envelope)).not.toContain('delete_database');
    // A second notification uses the same PQXDH session (still `handshake` envelopes: the approver
    // has not answered, so the bot's session is unconfirmed).
    await request(env, 'test:agent:ops', 'test:agent:approver', 'drop_table');
    const next = await env.waitForMessage('test:agent:approver', { contains: 'drop_table' });
    expect(next.protocol).toBe('PQXDH');
    expect(next.messageId).not.toBe(message?.messageId);
    expect(env.messages().map((m) => m.messageId)).toEqual([message?.messageId, next.messageId]);
    // waitForMessage hands each message out once: the first one (only read by messagesFor), then none.
    expect((await env.waitForMessage('test:agent:approver', { timeoutMs: 0 })).messageId).toBe(
      message?.messageId,
    );
    const waited = await env
      .waitForMessage('test:agent:approver', { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect((waited as Error).message).toMatch(
      /^waitForMessage: no message to test:agent:approver within 300 ms; received 2/,
    );
  });

  it('shuts down once, and refuses nothing afterwards but does nothing either', async () => {
    const env = await environment();
    await env.messagesFor('test:agent:late');
    await env.shutdown();
    await env.shutdown();
    await env.settle();
    expect((await env.enablement.health()).status).not.toBe('ready');
    open.splice(open.indexOf(env), 1);
    expect(
      EnablementError.is(await env.runtime.spawnSandbox({ agent: await env.agent('x') }).catch((e) => e)),
    ).toBe(true);
  });
});
