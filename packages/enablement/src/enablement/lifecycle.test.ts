import {
  AgentKeyPair,
  createInProcessEventBus,
  createPlatform,
  EnablementError,
  type MemoryClient,
  registrationProof,
} from '@creto/core';
import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createEnablement } from './create.js';
import {
  KEYS,
  keyOf,
  MESSAGING_POLICY,
  newLayer,
  register,
  SEED,
  SPAWN_POLICY,
} from './enablement.test-support.js';
import { NOTIFICATION_BOT_POLICY_ID } from './policies.js';
import type { Enablement } from './types.js';

const layers: Enablement[] = [];
afterEach(async () => {
  for (const layer of layers.splice(0)) await layer.shutdown();
});
async function track(pending: Promise<{ layer: Enablement; clock: FakeClock }>) {
  const t = await pending;
  layers.push(t.layer);
  return t;
}

/** A memory service that is down: every call fails as a remote one would. */
const downMemory: Pick<MemoryClient, 'fetchReasoningContext'> = {
  fetchReasoningContext: async () => {
    throw new EnablementError('PL-503', 'memory service unavailable');
  },
};

describe('createEnablement options (PL-400 naming the option)', () => {
  it.each([
    [{ colour: 'blue' }, 'colour: unknown option'],
    [{ clock: {} }, 'clock: expected a Clock'],
    [{ seed: new Uint8Array(31) }, 'seed: expected 32 bytes'],
    [
      { runtime: { hostKey: KEYS.runtimeHost } },
      'runtime.hostKey: set by createEnablement; use keys.runtimeHost',
    ],
    [{ oversight: { serviceKey: KEYS.oversightService } }, 'oversight.serviceKey'],
    [{ metering: { store: {} } }, 'metering.store: set by createEnablement; use stores'],
    [{ stores: { idempotency: {} } }, 'stores.idempotency: expected an IdempotencyStore'],
    [{ stores: { cache: {} } }, 'stores.cache: unknown store'],
    [{ keys: { runtimeHost: keyOf(1) } }, "keys.runtimeHost: expected a key pair of kind 'service'"],
    [{ webhooks: [{ recipientPrefix: '', url: 'https://x', secret: 's' }] }, 'webhooks[0].recipientPrefix'],
    [
      { policies: [{ id: 'creto.mine', effect: 'permit' }] },
      "policies[0].id: the 'creto.' prefix is reserved for system policies",
    ],
    [{ policies: [{ id: 'p', effect: 'allow' }] }, 'policies[0].effect'],
  ])('refuses %j', async (options, message) => {
    const error = await expectEnablementRejection(createEnablement(options as never), 'PL-400');
    expect(error.message).toContain(message);
  });

  it('refuses a classical service key and names it', async () => {
    const classical = AgentKeyPair.fromSeed(new Uint8Array(32).fill(9), { kind: 'service' });
    const error = await expectEnablementRejection(
      createEnablement({ keys: { relayService: classical } }),
      'PL-400',
    );
    expect(error.message).toContain('keys.relayService: expected a post-quantum key pair');
  });
});

describe('service identities and policies', () => {
  it('derives the four service keys from the seed, post-quantum, and registers them with their kinds', async () => {
    const { layer } = await track(newLayer({ keys: undefined, seed: SEED }));
    for (const name of ['runtimeHost', 'oversightService', 'relayService', 'notificationBot'] as const) {
      expect(layer.keys[name].identity.nhi).toBe(KEYS[name].identity.nhi);
      expect(layer.keys[name].postQuantum).toBe(true);
      const principal = await layer.platform.nhi.lookup(layer.keys[name].identity.nhi);
      expect(principal.kind).toBe(name === 'notificationBot' ? 'agent' : 'service');
    }
    expect(layer.runtime.hostIdentity.nhi).toBe(KEYS.runtimeHost.identity.nhi);
    expect(layer.oversight.serviceNhi).toBe(KEYS.oversightService.identity.nhi);
  });

  it('keeps the system policy in front of the host policies through setPolicies', async () => {
    const { layer } = await track(newLayer());
    const bot = layer.keys.notificationBot.identity.nhi;
    const agent = await register(layer, keyOf(1));
    const canMessage = (principal: string) =>
      layer.platform.authz.evaluate({ principal, action: 'messaging:send', resource: `agent:${agent}` })
        .decision;
    expect(layer.platform.authz.policies.map((p) => p.id)).toEqual([
      NOTIFICATION_BOT_POLICY_ID,
      SPAWN_POLICY.id,
      MESSAGING_POLICY.id,
    ]);
    layer.setPolicies([SPAWN_POLICY]);
    expect(layer.policies.map((p) => p.id)).toEqual([SPAWN_POLICY.id]);
    expect(canMessage(bot)).toBe('allow');
    // The bot is the only principal the system policies grant anything.
    expect(canMessage(await register(layer, keyOf(2)))).toBe('deny');
    expect(() => layer.setPolicies([{ id: 'creto.x', effect: 'permit' }])).toThrow(/reserved/);
    expect(layer.policies.map((p) => p.id)).toEqual([SPAWN_POLICY.id]);
  });
});

describe('health (spec §2.2, §2.3, §11.2)', () => {
  it('is ready with every dependency up', async () => {
    const { layer } = await track(newLayer());
    const health = await layer.health();
    expect(health.status).toBe('ready');
    for (const product of ['runtime', 'metering', 'oversight', 'messaging'] as const) {
      expect(health.products[product].status).toBe('ready');
      expect(health.products[product].product).toBe(product);
    }
    expect(health.products.metering.dependencies.map((d) => `${d.name}:${d.kind}`)).toEqual([
      'engine:hard',
      'creto-nhi:hard',
      'creto-authz:hard',
      'creto-consensus:hard',
      'creto-audit:soft',
    ]);
  });

  it('starts Oversight degraded when its memory is down: no reasoning context shown', async () => {
    const { layer } = await track(newLayer({ oversight: { memory: downMemory } }));
    const health = await layer.health();
    expect(health.status).toBe('degraded');
    expect(health.products.oversight.status).toBe('degraded');
    const memory = health.products.oversight.dependencies.find((d) => d.name === 'creto-memory');
    expect(memory).toMatchObject({
      status: 'down',
      kind: 'soft',
      degradedBehavior: 'No reasoning context shown',
    });
    expect(memory?.error).toContain('PL-503');
    expect(health.products.runtime.status).toBe('ready');
  });

  it('refuses to start when a hard platform dependency is down, and closes what it built', async () => {
    const platform = createPlatform({ clock: new FakeClock() });
    const bus = createInProcessEventBus({ clock: platform.clock });
    const broken = {
      ...platform,
      consensus: {
        ...platform.consensus,
        getTimestamp: async () => {
          throw new EnablementError('PL-503', 'consensus unreachable');
        },
      },
    };
    const error = await expectEnablementRejection(
      createEnablement({ platform: broken, bus, keys: KEYS }),
      'PL-503',
    );
    expect(error.message).toContain('creto-consensus');
    // The host's bus and platform are the host's: not closed.
    await expect(bus.addStream({ name: 'STILL_OPEN', subjects: ['x.>'] })).resolves.toBeDefined();
    await bus.close();
    platform.dispose();
  });
});

describe('lifecycle', () => {
  it('settles at once when idle, and shutdown is idempotent and stops everything', async () => {
    const { layer } = await newLayer();
    await layer.settle();
    const agent = keyOf(3);
    await register(layer, agent);
    const client = await layer.messaging.connect(agent);
    expect(await layer.messaging.connect(agent)).toBe(client); // one connection per agent
    const first = layer.shutdown();
    expect(layer.shutdown()).toBe(first);
    await first;
    await layer.shutdown();
    const health = await layer.health();
    expect(health.status).toBe('not_ready');
    expect(health.products.runtime.dependencies.find((d) => d.name === 'engine')?.status).toBe('down');
    await expectEnablementRejection(layer.messaging.connect(agent), 'PL-503');
    await expectEnablementRejection(
      layer.saga.provisionAgent({ agent, planId: 'p', organizationId: 'o', billingContact: 'b' }),
      'PL-503',
    );
    await layer.settle(); // a no-op once stopped
    await expectEnablementRejection(layer.bus.streamInfo('METERING'), 'PL-503'); // our bus: closed
  });

  it('uses a host platform and bus without disposing or closing them', async () => {
    const clock = new FakeClock();
    const platform = createPlatform({
      clock,
      authz: { overrideTokenIssuers: [KEYS.oversightService.identity.nhi] },
    });
    const bus = createInProcessEventBus({ clock });
    const host = keyOf(4);
    await platform.nhi.register({ identity: host.identity, proof: registrationProof(host) });
    platform.authz.setPolicies([SPAWN_POLICY]);
    const layer = await createEnablement({ platform, bus, keys: KEYS });
    expect(layer.platform).toBe(platform);
    expect(layer.policies.map((p) => p.id)).toEqual([SPAWN_POLICY.id]); // the host's policies kept
    await layer.shutdown();
    expect((await bus.streamInfo('METERING')).config.subjects).toEqual(['metering.events.>']);
    expect(platform.nhi.status(host.identity.nhi)).toBe('active');
    // A second layer on the same platform and bus finds its keys registered and its streams there.
    const again = await createEnablement({ platform, bus, keys: KEYS });
    await again.shutdown();
    await bus.close();
    platform.dispose();
  });

  it('refuses to connect an unregistered agent or the bot', async () => {
    const { layer } = await track(newLayer());
    await expectEnablementRejection(layer.messaging.connect(keyOf(5)), 'PL-404');
    await expectEnablementRejection(layer.messaging.connect(layer.keys.notificationBot), 'PL-409');
  });
});
