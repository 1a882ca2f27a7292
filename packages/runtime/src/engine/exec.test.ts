import { bytesToUtf8, EnablementError, type JsonValue } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createRuntime } from './runtime.js';
import { harness, KEYS, settle } from './runtime.test-support.js';

describe('exec', () => {
  it('runs executions one at a time, in order, and reports their state', async () => {
    const h = await harness();
    const order: string[] = [];
    let release: () => void = () => undefined;
    h.driver.scripts.set('slow', async () => {
      order.push('slow:start');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      order.push('slow:end');
      return 1;
    });
    h.driver.scripts.set('fast', async () => {
      order.push('fast');
      return 2;
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const first = sandbox.startExec({ code: 'slow' });
    const second = sandbox.startExec({ code: 'fast' });
    await settle();
    expect([first.state, second.state]).toEqual(['running', 'running']);
    expect(order).toEqual(['slow:start']);
    release();
    expect((await second.result).value).toBe(2);
    expect(order).toEqual(['slow:start', 'slow:end', 'fast']);
    expect(first.state).toBe('completed');
    expect(await first.result).toMatchObject({
      outcome: 'ok',
      value: 1,
      sandboxId: sandbox.sandboxId,
      executionId: first.id,
    });
  });

  it('reports a timeout in the result, never as RT-408', async () => {
    const h = await harness();
    h.driver.scripts.set('spin', async (_caps, request) => {
      expect(request.timeoutMs).toBe(250);
      return new Promise<JsonValue>(() => undefined);
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent, execTimeoutMs: 250 });
    const execution = sandbox.startExec({ code: 'spin' });
    await settle();
    execution.cancel();
    expect(await execution.result).toMatchObject({ outcome: 'aborted' });
    expect(execution.state).toBe('completed');
  });

  it('validates requests: RT-400 for shape, RT-413 for limits and a full queue', async () => {
    const h = await harness({ limits: { maxQueuedExecs: 2, maxExecTimeoutMs: 60_000 } });
    h.driver.scripts.set('wait', () => new Promise<JsonValue>(() => undefined));
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const id = sandbox.sandboxId;
    expectEnablementError(() => h.runtime.startExec(id, {}), 'RT-400', /exactly one/);
    expectEnablementError(() => h.runtime.startExec(id, { code: 'a', command: 'b' }), 'RT-400');
    expectEnablementError(
      () => h.runtime.startExec(id, { command: 'ls', args: [1] as never }),
      'RT-400',
      /args\[0\]/,
    );
    expectEnablementError(() => h.runtime.startExec(id, { code: 'x', timeoutMs: 0 }), 'RT-400');
    expectEnablementError(() => h.runtime.startExec(id, { code: 'x', timeoutMs: 60_001 }), 'RT-413');
    expectEnablementError(() => h.runtime.startExec(id, { code: 'x', other: 1 } as never), 'RT-400', /other/);
    sandbox.startExec({ code: 'wait' });
    sandbox.startExec({ code: 'wait' });
    expectEnablementError(() => sandbox.startExec({ code: 'wait' }), 'RT-413', /queued/);
  });

  it('passes command, args and stdin to the driver', async () => {
    const h = await harness();
    h.driver.scripts.set('cat', async (_caps, request) => ({
      args: [...(request.args ?? [])],
      stdin: bytesToUtf8(request.stdin ?? new Uint8Array()),
    }));
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const result = await sandbox.exec({ command: 'cat', args: ['-n'], stdin: 'hello' });
    expect(result.value).toEqual({ args: ['-n'], stdin: 'hello' });
  });

  it('fails queued executions of a terminated sandbox with RT-404', async () => {
    const h = await harness();
    h.driver.scripts.set('wait', () => new Promise<JsonValue>(() => undefined));
    h.driver.scripts.set('fast', async () => 1);
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const running = sandbox.startExec({ code: 'wait' });
    const queued = sandbox.startExec({ code: 'fast' });
    await settle();
    await sandbox.terminate();
    expect(await running.result).toMatchObject({ outcome: 'aborted' });
    await expectEnablementRejection(queued.result, 'RT-404');
    expect(queued.state).toBe('failed');
  });
});

describe('checkpoint (spec §3.6)', () => {
  it("stores the driver's snapshot in the agent's memory", async () => {
    const h = await harness();
    h.driver.scripts.set('state', async () => ({ step: 3 }));
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await sandbox.exec({ code: 'state' });
    const ref = await sandbox.checkpoint();
    expect(ref).toMatchObject({ sandboxId: sandbox.sandboxId, sequence: 1 });
    const stored = await h.platform.memory.latestCheckpoint(KEYS.agent.identity, sandbox.sandboxId);
    expect(JSON.parse(bytesToUtf8(stored?.bytes ?? new Uint8Array()))).toEqual({ state: { step: 3 } });
  });

  it('maps a memory refusal to RT-413, and answers RT-503 without memory', async () => {
    const h = await harness({
      memory: {
        storeCheckpoint: async () => {
          throw new EnablementError('PL-400', 'checkpoint too large');
        },
      },
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const error = await expectEnablementRejection(sandbox.checkpoint(), 'RT-413');
    expect(error.causedBy?.code).toBe('PL-400');

    const { nhi, authz, audit, consensus } = h.platform;
    const bare = createRuntime({
      nhi,
      authz,
      audit,
      consensus,
      clock: h.clock,
      hostKey: KEYS.host,
      drivers: { quickjs: h.driver },
      usage: { publish: async () => undefined },
    });
    const other = await bare.spawnSandbox({ agent: KEYS.agent2 });
    await expectEnablementRejection(other.checkpoint(), 'RT-503', /no memory/);
    await bare.close();
  });
});
