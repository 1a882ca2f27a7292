/**
 * `EnablementSaga.provisionAgent` (spec §9.1): subscription → sandbox → welcome message, with the
 * subscription compensated when the sandbox cannot be spawned, a failed welcome only warning,
 * and runs interrupted by a crash compensated by the next layer on the same saga log.
 */
import { createInMemorySagaLog, createPlatform, type LogFields, type Logger } from '@creto/core';
import { createMemoryMeteringStore } from '@creto/metering';
import type { SandboxDriver } from '@creto/runtime';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectInbox,
  KEYS,
  keyOf,
  MESSAGING_POLICY,
  newLayer,
  PLAN,
  register,
  SPAWN_POLICY,
} from './enablement.test-support.js';
import { PROVISION_AGENT_SAGA, SAGA_ID_LABEL, WELCOME_MESSAGE } from './saga.js';
import type { Enablement } from './types.js';

const layers: Enablement[] = [];
afterEach(async () => {
  for (const layer of layers.splice(0)) await layer.shutdown();
});

/** A logger that keeps warnings and errors. */
function recordingLogger(): Logger & {
  readonly lines: { level: string; message: string; fields?: LogFields }[];
} {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const logger = {
    lines,
    debug: () => {},
    info: () => {},
    warn: (message: string, fields?: LogFields) =>
      lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    error: (message: string, fields?: LogFields) =>
      lines.push({ level: 'error', message, ...(fields ? { fields } : {}) }),
    child: () => logger,
  };
  return logger;
}

const input = (agent = keyOf(40)) => ({
  agent,
  planId: 'pro',
  organizationId: 'acme',
  billingContact: 'billing@acme.example',
});

describe('EnablementSaga.provisionAgent (spec §9.1)', () => {
  it('creates the subscription, spawns the sandbox and welcomes the agent', async () => {
    const sagaLog = createInMemorySagaLog();
    const { layer } = await newLayer({ stores: { sagaLog } });
    layers.push(layer);
    await layer.metering.registerPlan(PLAN);
    const agent = keyOf(40);
    await register(layer, agent);
    const inbox = await connectInbox(layer, agent);

    const result = await layer.saga.provisionAgent(input(agent));
    expect(result.welcomeSent).toBe(true);
    const subscription = await layer.metering.getSubscription(result.subscriptionId);
    expect(subscription.agents).toEqual([agent.identity.nhi]);
    const sandbox = layer.runtime.getSandbox(result.sandboxId);
    expect(sandbox).toMatchObject({
      agentNhi: agent.identity.nhi,
      runtimeClass: 'quickjs',
      state: 'running',
    });
    expect(sandbox.labels[SAGA_ID_LABEL]).toBeDefined();
    await layer.settle();
    expect(inbox.texts()).toEqual([WELCOME_MESSAGE]);
    expect(inbox.messages[0]?.sender).toBe(layer.keys.notificationBot.identity.nhi);
    expect(await sagaLog.loadIncomplete(PROVISION_AGENT_SAGA)).toEqual([]);
  });

  it('deletes the subscription when the sandbox cannot be spawned, and surfaces the spawn error', async () => {
    // No policy permits sandbox.spawn: Runtime refuses with RT-403.
    const { layer } = await newLayer({ policies: [MESSAGING_POLICY] });
    layers.push(layer);
    await layer.metering.registerPlan(PLAN);
    const agent = keyOf(41);
    await register(layer, agent);
    const error = await expectEnablementRejection(layer.saga.provisionAgent(input(agent)), 'RT-403');
    expect(error.message).toContain('sandbox.spawn');
    expect(layer.runtime.listSandboxes()).toEqual([]);
    // The compensation deleted the subscription, so the agent is free to be bound again.
    layer.setPolicies([SPAWN_POLICY]);
    const retry = await layer.saga.provisionAgent(input(agent));
    expect((await layer.metering.getSubscription(retry.subscriptionId)).agents).toEqual([agent.identity.nhi]);
  });

  it('only warns when the welcome message fails: the agent is provisioned', async () => {
    const logger = recordingLogger();
    const { layer } = await newLayer({ logger });
    layers.push(layer);
    await layer.metering.registerPlan(PLAN);
    const agent = keyOf(42);
    await register(layer, agent); // never connected: no prekey bundle, the message cannot be sealed
    const result = await layer.saga.provisionAgent(input(agent));
    expect(result.welcomeSent).toBe(false);
    expect(layer.runtime.getSandbox(result.sandboxId).state).toBe('running');
    expect((await layer.metering.getSubscription(result.subscriptionId)).id).toBe(result.subscriptionId);
    const warning = logger.lines.find((l) => l.message.startsWith('welcome message not sent'));
    expect(warning?.level).toBe('warn');
    expect((warning?.fields?.error as { code?: string } | undefined)?.code).toBe('MS-404');
  });

  it('refuses bad input before any step runs', async () => {
    const { layer } = await newLayer();
    layers.push(layer);
    await expectEnablementRejection(layer.saga.provisionAgent({ ...input(), agent: {} as never }), 'PL-400');
    await expectEnablementRejection(layer.saga.provisionAgent({ ...input(), planId: '' }), 'PL-400');
    await expectEnablementRejection(layer.saga.provisionAgent({ ...input(), planId: 'nope' }), 'MT-404');
  });

  it('compensates, on the next start, a run that a crash interrupted mid-spawn', async () => {
    const clock = new FakeClock();
    const platform = createPlatform({
      clock,
      authz: { overrideTokenIssuers: [KEYS.oversightService.identity.nhi] },
    });
    const sagaLog = createInMemorySagaLog();
    const meteringStore = createMemoryMeteringStore();
    let release: (error: Error) => void = () => {};
    const stuck: SandboxDriver = {
      info: { name: 'stuck', isolation: 'none (test double)', isolated: false },
      create: () =>
        new Promise((_, reject) => {
          release = reject;
        }),
    };
    const first = await newLayer({
      clock,
      platform,
      stores: { sagaLog, metering: meteringStore },
      runtime: { drivers: { quickjs: stuck } },
    });
    await first.layer.metering.registerPlan(PLAN);
    const agent = keyOf(43);
    await register(first.layer, agent);
    const running = first.layer.saga.provisionAgent(input(agent));
    running.catch(() => {});
    const bound = () => meteringStore.subscriptionOfAgent(agent.identity.nhi);
    for (let i = 0; i < 10 && (await bound()) === undefined; i++) await first.layer.settle();
    const subscriptionId = await bound();
    expect(subscriptionId).toBeDefined();
    expect(await sagaLog.loadIncomplete(PROVISION_AGENT_SAGA)).toHaveLength(1);

    // "Restart": a new layer on the same log and metering store recovers the run.
    const logger = recordingLogger();
    const second = await createRecoveredLayer(clock, sagaLog, meteringStore, logger);
    layers.push(second);
    expect(await sagaLog.loadIncomplete(PROVISION_AGENT_SAGA)).toEqual([]);
    await expectEnablementRejection(second.metering.getSubscription(subscriptionId ?? ''), 'MT-404');
    expect(await bound()).toBeUndefined();
    expect(logger.lines.some((l) => l.message.includes('interrupted by a restart'))).toBe(true);

    release(new Error('host went away'));
    await running.catch(() => {});
    await first.layer.shutdown();
    platform.dispose();
  });
});

async function createRecoveredLayer(
  clock: FakeClock,
  sagaLog: ReturnType<typeof createInMemorySagaLog>,
  meteringStore: ReturnType<typeof createMemoryMeteringStore>,
  logger: Logger,
): Promise<Enablement> {
  const { layer } = await newLayer({ clock, logger, stores: { sagaLog, metering: meteringStore } });
  return layer;
}
