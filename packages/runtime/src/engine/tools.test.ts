import type { JsonValue } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ToolContext } from '../tools/registry.js';
import { CFO_REQUIREMENT, type Harness, harness, KEYS, settle } from './runtime.test-support.js';
import type { PendingApproval } from './types.js';

interface Transfer {
  amount: number;
  to: string;
  [key: string]: JsonValue;
}

async function withTransferTool(
  overrides: Parameters<typeof harness>[0] = {},
): Promise<Harness & { calls: { args: Transfer; context: ToolContext }[]; pending: PendingApproval[] }> {
  const pending: PendingApproval[] = [];
  const h = await harness({ onApprovalPending: (p) => pending.push(p), ...overrides });
  const calls: { args: Transfer; context: ToolContext }[] = [];
  h.runtime.registerTool<Transfer>({
    name: 'transfer_funds',
    description: 'Move money',
    schema: z.object({ amount: z.number().positive(), to: z.string().min(1) }),
    action: 'funds.transfer',
    resource: (args) => `payments:account:${args.to}`,
    riskFactors: (args) => (args.amount > 10000 ? [{ name: 'large_transfer', severity: 'high' }] : []),
    handler: async (args, context) => {
      calls.push({ args, context });
      return { transferred: args.amount, to: args.to };
    },
  });
  h.driver.scripts.set('transfer 50000', (caps) =>
    caps.callTool('transfer_funds', { amount: 50000, to: 'acme' }),
  );
  return Object.assign(h, { calls, pending });
}

/** Runs the clock forward in small steps until `done()` (the approval wait uses the scheduler). */
async function until(h: Harness, done: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !done(); i++) {
    await settle(2);
    await h.clock.advanceAsync(0);
  }
  expect(done()).toBe(true);
}

describe('tools without oversight', () => {
  it('validates arguments with the schema (RT-400) and authorizes with them as context', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(
      sandbox.callTool('transfer_funds', { amount: -1, to: 'x' }),
      'RT-400',
      /amount/,
    );
    await expectEnablementRejection(sandbox.callTool('transfer_funds', [1, 2]), 'RT-400');
    await expectEnablementRejection(sandbox.callTool('nope', {}), 'RT-400', /unknown tool/);
    const huge = { amount: 1, to: 'x'.repeat(70_000) };
    await expectEnablementRejection(sandbox.callTool('transfer_funds', huge), 'RT-400', /bounded JSON/);
    const result = await sandbox.callTool('transfer_funds', { amount: 500, to: 'acme' });
    expect(result).toEqual({ transferred: 500, to: 'acme' });
    expect(h.calls[0]?.context).toMatchObject({
      sandboxId: sandbox.sandboxId,
      agentNhi: KEYS.agent.identity.nhi,
    });
    expect(h.oversight.requests.size).toBe(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'funds.transfer');
    expect(audit.map((e) => [e.outcome, e.resource])).toEqual([['success', 'payments:account:acme']]);
  });

  it('denies with RT-403 when policy says no, and never runs the handler', async () => {
    const h = await withTransferTool({
      policies: [
        { id: 'spawn', effect: 'permit', action: 'sandbox.spawn' },
        { id: 'funds', effect: 'permit', action: 'funds.transfer' },
        { id: 'no-evil', effect: 'forbid', action: 'funds.transfer', resource: 'payments:account:evil' },
      ],
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(sandbox.callTool('transfer_funds', { amount: 5, to: 'evil' }), 'RT-403');
    expect(h.calls).toHaveLength(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'funds.transfer');
    expect(audit.map((e) => e.outcome)).toEqual(['denied']);
  });

  it('surfaces capability errors to sandbox code with their code', async () => {
    const h = await withTransferTool({
      policies: [{ id: 'spawn', effect: 'permit', action: 'sandbox.spawn' }],
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const result = await sandbox.exec({ code: 'transfer 50000' });
    expect(result).toMatchObject({ outcome: 'error', errorCode: 'RT-403' });
  });

  it('times out a slow handler with RT-408 and hides handler error text (RT-500)', async () => {
    const h = await harness();
    h.runtime.registerTool({
      name: 'echo',
      description: 'slow echo',
      schema: z.object({ mode: z.enum(['hang', 'throw', 'bad']) }),
      timeoutMs: 1000,
      handler: (args) => {
        if (args.mode === 'throw') throw new Error('db password is hunter2');
        if (args.mode === 'bad') return { when: new Date() } as unknown as JsonValue;
        return new Promise<JsonValue>(() => undefined);
      },
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const hanging = expectEnablementRejection(sandbox.callTool('echo', { mode: 'hang' }), 'RT-408');
    await settle();
    await h.clock.advanceAsync(1000);
    await hanging;
    const thrown = await expectEnablementRejection(sandbox.callTool('echo', { mode: 'throw' }), 'RT-500');
    expect(JSON.stringify(thrown.toJSON())).not.toContain('hunter2');
    await expectEnablementRejection(sandbox.callTool('echo', { mode: 'bad' }), 'RT-500', /bounded JSON/);
  });

  it('rejects invalid tool definitions and duplicates', async () => {
    const h = await harness();
    const base = { name: 'x', description: 'd', schema: z.object({}), handler: () => null };
    h.runtime.registerTool(base);
    await expectEnablementRejection(async () => h.runtime.registerTool(base), 'RT-400', /already registered/);
    await expectEnablementRejection(
      async () => h.runtime.registerTool({ ...base, name: 'Bad Name' }),
      'RT-400',
    );
    await expectEnablementRejection(
      async () => h.runtime.registerTool({ ...base, name: 'y', schema: {} as never }),
      'RT-400',
      /schema/,
    );
    expect(h.runtime.listTools()).toEqual([{ name: 'x', description: 'd', action: 'tool.x' }]);
    expect(h.runtime.unregisterTool('x')).toBe(true);
    expect(h.runtime.listTools()).toEqual([]);
  });
});

describe('tools that need approval (spec §4.2, §7.2, §12.2)', () => {
  it('reports pending_approval, then runs only after approval with exactly the approved arguments', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const execution = sandbox.startExec({ code: 'transfer 50000', timeoutMs: 600_000 });
    await until(h, () => execution.state === 'pending_approval');

    const [requestId, request] = h.oversight.latest();
    expect(execution.pendingApproval).toMatchObject({
      requestId,
      sandboxId: sandbox.sandboxId,
      executionId: execution.id,
      action: 'funds.transfer',
      resource: 'payments:account:acme',
      policyId: 'large-transfer',
    });
    expect(h.pending).toHaveLength(1);
    expect(h.runtime.pendingApprovals()).toHaveLength(1);
    expect(request.input).toMatchObject({
      agentNhi: KEYS.agent.identity.nhi,
      action: { name: 'funds.transfer', parameters: { amount: 50000, to: 'acme' } },
      resource: { resourceType: 'payments', resourceId: 'account:acme' },
      policyId: 'large-transfer',
      requirement: CFO_REQUIREMENT,
      sandboxId: sandbox.sandboxId,
      riskFactors: [{ name: 'large_transfer', severity: 'high' }],
      blocking: true,
    });
    expect(h.calls).toHaveLength(0);

    h.oversight.approve(requestId);
    const result = await execution.result;
    expect(execution.state).toBe('completed');
    expect(result).toMatchObject({ outcome: 'ok', value: { transferred: 50000, to: 'acme' } });
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]?.context.oversightRequestId).toBe(requestId);
    expect(h.calls[0]?.context.overrideTokenId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(h.runtime.pendingApprovals()).toHaveLength(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'funds.transfer');
    expect(audit.at(-1)).toMatchObject({ outcome: 'success' });
    expect(audit.at(-1)?.metadata).toMatchObject({
      decisions: ['requires_oversight', 'allow'],
      oversight_request_id: requestId,
    });
  });

  it('runs an approved edit with the edited arguments', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const call = h.runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50000, to: 'acme' });
    await until(h, () => call.state === 'pending_approval');
    h.oversight.approve(h.oversight.latest()[0], { parameters: { amount: 40000, to: 'acme' } });
    expect(await call.result).toEqual({ transferred: 40000, to: 'acme' });
    expect(h.calls.map((c) => c.args)).toEqual([{ amount: 40000, to: 'acme' }]);
  });

  it('refuses a token that binds other arguments: a token for 50000 does not authorise 50001', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const call = h.runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50001, to: 'acme' });
    await until(h, () => call.state === 'pending_approval');
    // A broken (or malicious) approval path: the token binds 50000, the parameters say 50001.
    h.oversight.approve(h.oversight.latest()[0], { tokenFor: { amount: 50000, to: 'acme' } });
    const error = await expectEnablementRejection(call.result, 'RT-403', /override token was refused/);
    expect(error.causedBy?.code).toBe('PL-403');
    expect(call.state).toBe('failed');
    expect(h.calls).toHaveLength(0);
  });

  it('refuses approved arguments that break the schema', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const call = sandbox.callTool('transfer_funds', { amount: 50000, to: 'acme' });
    await until(h, () => h.oversight.requests.size === 1);
    h.oversight.approve(h.oversight.latest()[0], { parameters: { amount: 20000, to: '' } });
    await expectEnablementRejection(call, 'RT-400', /approved arguments/);
    expect(h.calls).toHaveLength(0);
  });

  it.each([
    [
      'denied',
      (h: Harness, id: string) => h.oversight.deny(id, 'not this quarter'),
      /DENIED: not this quarter/,
    ],
    ['expired with auto_deny', (h: Harness, id: string) => h.oversight.expire(id, 'auto_deny'), /auto_deny/],
    ['cancelled', (h: Harness, id: string) => void h.oversight.cancelRequest(id), /CANCELLED/],
  ])('answers RT-403 when the request is %s', async (_name, decide, message) => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const result = sandbox.exec({ code: 'transfer 50000', timeoutMs: 600_000 });
    await until(h, () => h.oversight.requests.size === 1);
    decide(h, h.oversight.latest()[0]);
    expect(await result).toMatchObject({ outcome: 'error', errorCode: 'RT-403' });
    expect((await result).error).toMatch(message);
    expect(h.calls).toHaveLength(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'funds.transfer');
    expect(audit.at(-1)?.outcome).toBe('denied');
  });

  it('runs after an expiry with auto_approve (the token of the requested call)', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const result = sandbox.callTool('transfer_funds', { amount: 50000, to: 'acme' });
    await until(h, () => h.oversight.requests.size === 1);
    h.oversight.expire(h.oversight.latest()[0], 'auto_approve');
    expect(await result).toEqual({ transferred: 50000, to: 'acme' });
  });

  it('gives up after approvalWaitMs with RT-202; the request stays pending', async () => {
    const h = await withTransferTool({ limits: { approvalWaitMs: 60_000 } });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const call = h.runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50000, to: 'acme' });
    await until(h, () => call.state === 'pending_approval');
    await h.clock.advanceAsync(59_999);
    expect(call.state).toBe('pending_approval');
    await h.clock.advanceAsync(1);
    const error = await expectEnablementRejection(call.result, 'RT-202', /stays pending/);
    expect(error.retryable).toBe(true);
    const [, request] = h.oversight.latest();
    expect(request.cancelled).toBe(false);
    expect(request.outcome).toBeUndefined();
    expect(h.calls).toHaveLength(0);
    expect(h.runtime.pendingApprovals()).toHaveLength(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'funds.transfer');
    expect(audit.at(-1)?.outcome).toBe('pending');
  });

  it('stops waiting when the sandbox is terminated', async () => {
    const h = await withTransferTool();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const call = h.runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50000, to: 'acme' });
    await until(h, () => call.state === 'pending_approval');
    await sandbox.terminate('abandoned');
    await expectEnablementRejection(call.result, 'RT-404', /terminated/);
    expect(h.calls).toHaveLength(0);
  });

  it('answers RT-403 when oversight is required but no client is configured', async () => {
    const h = await withTransferTool({ oversight: undefined });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(
      sandbox.callTool('transfer_funds', { amount: 50000, to: 'acme' }),
      'RT-403',
      /no OversightClient/,
    );
  });

  it('sends spawn through the same approval path', async () => {
    const h = await harness({
      policies: [
        { id: 'spawn', effect: 'permit', action: 'sandbox.spawn' },
        {
          id: 'big-sandbox',
          effect: 'require_oversight',
          action: 'sandbox.spawn',
          when: { attr: 'context.memory_bytes', op: 'gt', value: 4_294_967_296 },
          requirement: CFO_REQUIREMENT,
        },
      ],
    });
    const spawn = h.runtime.spawnSandbox({ agent: KEYS.agent, memoryBytes: 8_589_934_592n });
    await until(h, () => h.oversight.requests.size === 1);
    const [requestId, request] = h.oversight.latest();
    expect(request.input.action).toEqual({
      name: 'sandbox.spawn',
      parameters: { cpu_millicores: 1000, memory_bytes: 8_589_934_592, runtime_class: 'quickjs' },
    });
    expect(request.input.resource).toEqual({ resourceType: 'runtime', resourceId: 'sandbox:quickjs' });
    expect(h.driver.created).toHaveLength(0);
    h.oversight.approve(requestId);
    expect((await spawn).state).toBe('running');

    // An approver's edit cannot change what a spawn does: the token no longer matches.
    const second = h.runtime.spawnSandbox({
      agent: KEYS.agent,
      memoryBytes: 8_589_934_592n,
      labels: { n: '2' },
    });
    await until(h, () => h.oversight.requests.size === 2);
    h.oversight.approve(h.oversight.latest()[0], {
      parameters: { cpu_millicores: 1000, memory_bytes: 4_294_967_296, runtime_class: 'quickjs' },
    });
    await expectEnablementRejection(second, 'RT-403');
    expect(h.driver.created).toHaveLength(1);
  });
});
