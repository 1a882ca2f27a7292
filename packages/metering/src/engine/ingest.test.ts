import {
  AgentKeyPair,
  auditEventDetail,
  type CryptoProvider,
  createInProcessEventBus,
  createPlatform,
  DEAD_LETTER_STREAM,
  Decimal,
  delegationLinkId,
  EnablementError,
  encodeHybridSignature,
  encodeJson,
  encodeRuntimeUsageEvent,
  issueDelegation,
  KEY_DERIVATION_LABELS,
  newSandboxId,
  newUuid,
  nobleCryptoProvider,
  parseDeadLetter,
  type RuntimeUsageEvent,
  registrationProof,
  SUBJECTS,
  type UnsignedRuntimeUsageEvent,
  usageEventSigningBytes,
  utf8ToBytes,
} from '@creto/core';
import { expectEnablementError, FakeClock } from '@creto/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMeteringStore } from '../store/memory.js';
import type { MeteringStore } from '../store/types.js';
import { createMetering } from './metering.js';
import type { IngestResult, Metering, MeteringOptions } from './types.js';

// PQ keys are slow to make: once per file.
const SEED = new Uint8Array(32).fill(11);
const agent = AgentKeyPair.fromSeed(SEED, { postQuantum: true });
const other = AgentKeyPair.fromSeed(new Uint8Array(32).fill(12), { postQuantum: true });
const stranger = AgentKeyPair.fromSeed(new Uint8Array(32).fill(13), { postQuantum: true });
const human = AgentKeyPair.fromSeed(new Uint8Array(32).fill(14), { kind: 'human' });
const provider: CryptoProvider = nobleCryptoProvider;
// The agent's ML-DSA-65 secret, derived as AgentKeyPair.fromSeed derives it (for ML-DSA-only signatures).
const mlDsaSecret = provider.mlDsa65.generateKeyPair(
  provider.hkdfSha256(SEED, new Uint8Array(0), utf8ToBytes(KEY_DERIVATION_LABELS.mlDsa65), 32),
).secretKey;

const PLAN = {
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '10.00',
  charges: [
    { id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '0.50' } },
    {
      id: 'tokens',
      meterId: 'inference_input_tokens',
      groupBy: ['model'],
      model: { type: 'per_unit', unitPrice: '0.000015' },
    },
  ],
};

let counter = 0;

function inference(
  signer: AgentKeyPair,
  options: { key?: string; tokens?: bigint; at?: bigint; chain?: string[]; model?: string } = {},
): UnsignedRuntimeUsageEvent {
  counter++;
  return {
    eventId: newUuid(),
    agentNhi: signer.identity.nhi,
    delegationChain: options.chain ?? [],
    eventType: 'inference_call',
    consensusTimestamp: options.at ?? 1_767_225_600_000_000_000n,
    idempotencyKey: options.key ?? `call-${counter}`,
    properties: {
      type: 'InferenceCall',
      sandboxId: newSandboxId(),
      modelId: options.model ?? 'claude-3',
      provider: 'anthropic',
      inputTokens: options.tokens ?? 100n,
      outputTokens: 200n,
      costUsd: Decimal.parse('0.0015'),
    },
  };
}

function hybrid(unsigned: UnsignedRuntimeUsageEvent, signer: AgentKeyPair = agent): RuntimeUsageEvent {
  const signature = encodeHybridSignature(signer.signHybrid(usageEventSigningBytes(unsigned)));
  return { ...unsigned, signature } as RuntimeUsageEvent;
}

function mlDsa(unsigned: UnsignedRuntimeUsageEvent): RuntimeUsageEvent {
  const signature = provider.mlDsa65.sign(mlDsaSecret, usageEventSigningBytes(unsigned));
  return { ...unsigned, signature } as RuntimeUsageEvent;
}

/** The wire JSON of an event, as it travels. */
const wire = (event: RuntimeUsageEvent) => JSON.parse(JSON.stringify(encodeRuntimeUsageEvent(event)));

async function setup(
  extra: Partial<MeteringOptions> = {},
  store: MeteringStore = createMemoryMeteringStore(),
) {
  const clock = new FakeClock();
  const platform = createPlatform({ clock });
  const bus = createInProcessEventBus({ clock });
  await platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
  await platform.nhi.register({ identity: other.identity, proof: registrationProof(other) });
  await platform.nhi.register({ identity: human.identity });
  const metering = createMetering({
    nhi: platform.nhi,
    clock,
    consensus: platform.consensus,
    audit: platform.audit,
    scheduler: platform.scheduler,
    store,
    bus,
    ...extra,
  });
  await metering.registerPlan(PLAN);
  const sub = await metering.createSubscription({
    organizationId: 'acme',
    planId: 'pro',
    billingContact: 'billing@acme.example',
    agents: [agent.identity.nhi],
  });
  return { clock, platform, metering, sub, store, bus };
}

async function usage(metering: Metering, subscriptionId: string, meterId = 'inference_input_tokens') {
  const rows = await metering.queryUsage({ subscriptionId, meterId, from: 0n, to: 2n ** 62n });
  return rows.reduce((sum, r) => sum.add(r.value), Decimal.ZERO).toString();
}

const statuses = (results: readonly IngestResult[]) => results.map((r) => r.status);

/** A signed delegation link `issuer` → `subject`, valid for an hour. */
const delegate = (issuer: AgentKeyPair, subject: AgentKeyPair, clock: FakeClock) =>
  issueDelegation({
    issuer,
    subject: subject.identity,
    capabilities: [{ action: '*', resource: '*' }],
    expiresAt: clock.now() + 3_600_000_000_000n,
    clock,
  });

const codeOf = (result: IngestResult | undefined) =>
  result?.status === 'rejected' ? [result.error.code, result.error.retryable] : result?.status;

describe('ingest: signatures (spec §4.1 step 1)', () => {
  let env: Awaited<ReturnType<typeof setup>>;
  beforeAll(async () => {
    env = await setup();
  });

  it('accepts hybrid and ML-DSA-65 signed events, from wire JSON or decoded', async () => {
    const results = await env.metering.ingest([
      wire(hybrid(inference(agent, { tokens: 100n }))),
      wire(mlDsa(inference(agent, { tokens: 20n }))),
      hybrid(inference(agent, { tokens: 3n })),
    ]);
    expect(statuses(results)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(results[0]).toMatchObject({ subscriptionId: env.sub.id, kind: 'regular' });
    expect(await usage(env.metering, env.sub.id)).toBe('123');
  });

  it('rejects a tampered event with MT-401 and audits the rejection', async () => {
    const event = wire(hybrid(inference(agent, { tokens: 5n })));
    event.properties.input_tokens = '5000000'; // raised in transit
    const [result] = await env.metering.ingest([event]);
    expect(result?.status).toBe('rejected');
    if (result?.status !== 'rejected') throw new Error('unreachable');
    expect(result.error.code).toBe('MT-401');
    await env.metering.flush();
    const page = await env.platform.audit.query({ product: 'metering' });
    const denied = page.events.filter((e) => e.outcome === 'denied');
    expect(denied).toHaveLength(1);
    expect(denied[0]?.resource).toBe(`metering:event:${event.event_id}`);
    expect(denied[0]?.metadata).toMatchObject({ code: 'MT-401', reason: 'signature_invalid' });
    expect(await usage(env.metering, env.sub.id)).toBe('123');
  });

  it('verifies and counts one snapshot of the input: a getter cannot swap content after verification', async () => {
    const local = await setup();
    const signed = wire(hybrid(inference(agent, { tokens: 5n })));
    const inflated = { ...signed.properties, input_tokens: '5000000' };
    let reads = 0;
    const hostile = { ...signed };
    Object.defineProperty(hostile, 'properties', {
      enumerable: true,
      get: () => (reads++ === 0 ? signed.properties : inflated),
    });
    const [result] = await local.metering.ingest([hostile]);
    expect(result?.status).toBe('accepted');
    expect(await usage(local.metering, local.sub.id)).toBe('5');
    const [unclonable] = await local.metering.ingest([{ ...signed, extra: () => 1 }]);
    expect(unclonable?.status === 'rejected' && unclonable.error.code).toBe('MT-400');
  });

  it('rejects a signature by another registered agent, an unsigned-looking one and one by a revoked agent', async () => {
    const byOther = hybrid(inference(agent), other); // agent_nhi says agent, other signed
    const zeros = { ...hybrid(inference(agent)), signature: new Uint8Array(3309) };
    const results = await env.metering.ingest([byOther, zeros]);
    expect(results.map((r) => r.status === 'rejected' && r.error.code)).toEqual(['MT-401', 'MT-401']);
  });

  it('asks for hybrid signatures when configured', async () => {
    const strict = await setup({ requireHybridSignatures: true });
    const [a, b] = await strict.metering.ingest([mlDsa(inference(agent)), hybrid(inference(agent))]);
    expect(a?.status === 'rejected' && a.error.code).toBe('MT-401');
    expect(b?.status).toBe('accepted');
  });

  it('treats a revoked agent as an invalid signature', async () => {
    const local = await setup();
    await local.platform.nhi.revoke(agent.identity.nhi);
    const [result] = await local.metering.ingest([hybrid(inference(agent))]);
    expect(result?.status === 'rejected' && result.error.code).toBe('MT-401');
  });

  it('can skip verification for a trusted in-process producer (not the default)', async () => {
    const trusted = await setup({ verifySignatures: false });
    const forged = { ...hybrid(inference(agent)), signature: new Uint8Array(3373) };
    expect(statuses(await trusted.metering.ingest([forged]))).toEqual(['accepted']);
    expect(statuses(await env.metering.ingest([forged]))).toEqual(['rejected']);
  });
});

describe('ingest: batches, schema and idempotency (steps 2–3)', () => {
  it('rejects a malformed event with MT-400 naming the field, without affecting the others', async () => {
    const { metering, sub } = await setup();
    const good1 = wire(hybrid(inference(agent, { tokens: 1n })));
    const bad = {
      ...wire(hybrid(inference(agent))),
      properties: { type: 'InferenceCall', input_tokens: -1 },
    };
    const good2 = wire(hybrid(inference(agent, { tokens: 2n })));
    const results = await metering.ingest([good1, bad, 'not an event', null, good2]);
    expect(statuses(results)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'accepted']);
    const rejected = results[1];
    if (rejected?.status !== 'rejected') throw new Error('unreachable');
    expect(rejected.error.code).toBe('MT-400');
    expect(rejected.error.message).toMatch(/properties/);
    expect(await usage(metering, sub.id)).toBe('3');
  });

  it('rejects a chain that does not end with the agent and an event older than the 7-day window', async () => {
    const { metering, clock } = await setup();
    const badChain = hybrid(inference(agent, { chain: [agent.identity.nhi, human.identity.nhi] }));
    const old = hybrid(inference(agent, { at: clock.now() - 8n * 86_400_000_000_000n }));
    const results = await metering.ingest([badChain, old]);
    expect(results.map((r) => r.status === 'rejected' && r.error.message)).toEqual([
      expect.stringMatching(/delegation_chain/),
      expect.stringMatching(/consensus_timestamp.*7-day/),
    ]);
    await expect(metering.ingest('x' as never)).rejects.toThrow(/array/);
  });

  it('counts an event once: a retry in the same batch, a later retry and two concurrent ingest calls', async () => {
    const { metering, sub } = await setup();
    const event = hybrid(inference(agent, { key: 'once', tokens: 7n }));
    const [a, b] = await Promise.all([metering.ingest([event, event]), metering.ingest([wire(event)])]);
    const all = [...(a ?? []), ...(b ?? [])];
    expect(all.filter((r) => r.status === 'accepted')).toHaveLength(1);
    expect(all.filter((r) => r.status === 'duplicate')).toHaveLength(2);
    expect(statuses(await metering.ingest([event]))).toEqual(['duplicate']);
    expect(await usage(metering, sub.id)).toBe('7');
  });

  it('scopes keys to the producing agent: the same key from two agents counts twice', async () => {
    const { metering, sub } = await setup();
    await metering.bindAgent(sub.id, other.identity.nhi);
    const results = await metering.ingest([
      hybrid(inference(agent, { key: 'shared', tokens: 1n })),
      hybrid(inference(other, { key: 'shared', tokens: 1n }), other),
    ]);
    expect(statuses(results)).toEqual(['accepted', 'accepted']);
  });

  it('forgets a key after 7 days (events that old are refused anyway)', async () => {
    const { metering, clock } = await setup();
    const first = hybrid(inference(agent, { key: 'weekly', at: clock.now() }));
    expect(statuses(await metering.ingest([first]))).toEqual(['accepted']);
    await clock.advanceAsync(6 * 86_400_000);
    expect(statuses(await metering.ingest([first]))).toEqual(['duplicate']);
    await clock.advanceAsync(2 * 86_400_000);
    const [replay] = await metering.ingest([first]);
    expect(replay?.status === 'rejected' && replay.error.message).toMatch(/7-day/);
  });
});

describe('ingest: consensus time and attribution (steps 4–6)', () => {
  it('never trusts the producer clock: a future timestamp is billed at ingestion time', async () => {
    const { metering, sub, clock, store } = await setup();
    const future = hybrid(inference(agent, { at: clock.now() + 400n * 86_400_000_000_000n }));
    const [result] = await metering.ingest([future]);
    expect(result).toMatchObject({ status: 'accepted', usagePeriodStart: sub.startsAt });
    const [stored] = await store.listEvents({ subscriptionId: sub.id });
    expect(stored?.occurredAt).toBe(future.consensusTimestamp);
    expect(stored?.billedAt).toBe(stored?.ingestedAt);
    expect(stored?.ingestedAt).toBeGreaterThanOrEqual(clock.now());
  });

  it('attributes an agent through its delegation chain (the org root is bound) and learns it for quotas', async () => {
    const { metering, platform, clock } = await setup();
    const org = await metering.createSubscription({
      organizationId: 'org-2',
      planId: 'pro',
      billingContact: 'ap@org2.example',
      agents: [human.identity.nhi],
    });
    await metering.setQuota({
      subscriptionId: org.id,
      meterId: 'inference_calls',
      limit: '1',
      overflow: 'block',
    });
    expect(metering.checkQuotaSync(other.identity.nhi, 'inference_call', 1).decision).toBe('allow');
    // The signed link human → other, validated by NHI (as Runtime does at spawn).
    await platform.nhi.validateDelegationChain([delegate(human, other, clock)]);
    const chain = [human.identity.nhi, other.identity.nhi];
    const [result] = await metering.ingest([hybrid(inference(other, { chain }), other)]);
    expect(result).toMatchObject({ status: 'accepted', subscriptionId: org.id });
    expect(metering.checkQuotaSync(other.identity.nhi, 'inference_call', 1).decision).toBe('block');
  });

  it('rejects an unknown agent with a retryable MT-404', async () => {
    const { metering, platform } = await setup();
    await platform.nhi.register({ identity: stranger.identity, proof: registrationProof(stranger) });
    const [known, unregistered] = await metering.ingest([
      hybrid(inference(stranger), stranger),
      hybrid(inference(AgentKeyPair.fromSeed(new Uint8Array(32).fill(99), { postQuantum: true }))),
    ]);
    for (const r of [known, unregistered]) {
      expect(r?.status === 'rejected' && [r.error.code, r.error.retryable]).toEqual(['MT-404', true]);
    }
  });

  it('records host usage against a subscription or an agent, deduplicated, with validated input', async () => {
    const { metering, sub } = await setup();
    metering.registerMeter({
      id: 'api_calls',
      eventType: 'api_call',
      aggregation: 'sum',
      valuePath: 'value',
    });
    const a = await metering.recordUsage({
      subscriptionId: sub.id,
      eventType: 'api_call',
      value: '3',
      idempotencyKey: 'k1',
    });
    const b = await metering.recordUsage({
      agentNhi: agent.identity.nhi,
      eventType: 'api_call',
      idempotencyKey: 'k2',
    });
    const dup = await metering.recordUsage({
      subscriptionId: sub.id,
      eventType: 'api_call',
      value: '3',
      idempotencyKey: 'k1',
    });
    expect([a.status, b.status, dup.status]).toEqual(['accepted', 'accepted', 'duplicate']);
    expect(await usage(metering, sub.id, 'api_calls')).toBe('4');
    const bad = await metering.recordUsage({
      subscriptionId: sub.id,
      agentNhi: agent.identity.nhi,
      eventType: 'api_call',
      idempotencyKey: 'k3',
    });
    expect(bad.status === 'rejected' && bad.error.message).toMatch(/exactly one/);
    const negative = await metering.recordUsage({
      subscriptionId: sub.id,
      eventType: 'api_call',
      value: '-1',
      idempotencyKey: 'k4',
    });
    expect(negative.status === 'rejected' && negative.error.code).toBe('MT-400');
    const unknown = await metering.recordUsage({
      subscriptionId: 'nope',
      eventType: 'api_call',
      idempotencyKey: 'k5',
    });
    expect(unknown.status === 'rejected' && unknown.error.code).toBe('MT-404');
  });

  it('audits accepted events when asked (EventIngested)', async () => {
    const { metering, platform } = await setup({ auditIngestedEvents: true });
    const event = hybrid(inference(agent, { tokens: 9n }));
    await metering.ingest([event]);
    await metering.flush();
    const page = await platform.audit.query({ product: 'metering' });
    const detail = page.events.map((e) => auditEventDetail(e)).find((d) => d?.kind === 'EventIngested');
    expect(detail).toMatchObject({ eventId: event.eventId, eventType: 'inference_call' });
  });
});

describe('ingest: attribution trusts only verified delegation links (spec §6.2)', () => {
  /** A second organisation whose subscription is bound to its root, the human. */
  async function withOrg(extra: Partial<MeteringOptions> = {}) {
    const env = await setup(extra);
    await env.platform.nhi.register({ identity: stranger.identity, proof: registrationProof(stranger) });
    const org = await env.metering.createSubscription({
      organizationId: 'org-2',
      planId: 'pro',
      billingContact: 'ap@org2.example',
      agents: [human.identity.nhi],
    });
    await env.metering.setQuota({
      subscriptionId: org.id,
      meterId: 'inference_calls',
      limit: '1',
      overflow: 'block',
    });
    return { ...env, org };
  }

  it('does not bill a foreign organisation that an agent merely names as its root', async () => {
    const { metering, org } = await withOrg();
    // stranger is registered, on no subscription, and claims the org's root as its ancestor.
    const chain = [human.identity.nhi, stranger.identity.nhi];
    const [result] = await metering.ingest([hybrid(inference(stranger, { chain, tokens: 1000n }), stranger)]);
    expect(codeOf(result)).toEqual(['MT-404', true]);
    expect(result?.status === 'rejected' && result.error.message).toMatch(/could not be verified/);
    expect(await usage(metering, org.id)).toBe('0');
    // Nothing learned: the org's quota does not apply to the stranger.
    expect(metering.checkQuotaSync(stranger.identity.nhi, 'inference_call', 1).decision).toBe('allow');
    // Through an intermediate that is really delegated: the forged last hop still fails.
    const { metering: m2, platform, clock, org: org2 } = await withOrg();
    await platform.nhi.validateDelegationChain([delegate(human, other, clock)]);
    const longer = [human.identity.nhi, other.identity.nhi, stranger.identity.nhi];
    const [r2] = await m2.ingest([hybrid(inference(stranger, { chain: longer }), stranger)]);
    expect(codeOf(r2)).toEqual(['MT-404', true]);
    expect(await usage(m2, org2.id)).toBe('0');
  });

  it('attributes through a multi-hop chain validated by NHI, to the nearest subscribed ancestor', async () => {
    const { metering, platform, clock, org } = await withOrg();
    await platform.nhi.validateDelegationChain([
      delegate(human, other, clock),
      delegate(other, stranger, clock),
    ]);
    const chain = [human.identity.nhi, other.identity.nhi, stranger.identity.nhi];
    const [result] = await metering.ingest([hybrid(inference(stranger, { chain }), stranger)]);
    expect(result).toMatchObject({ status: 'accepted', subscriptionId: org.id });
    expect(metering.checkQuotaSync(stranger.identity.nhi, 'inference_call', 1).decision).toBe('block');
    // An intermediate with its own subscription wins, and needs only its own hop.
    const mid = await metering.createSubscription({
      organizationId: 'team',
      planId: 'pro',
      billingContact: 'team@org2.example',
      agents: [other.identity.nhi],
    });
    const [nearest] = await metering.ingest([hybrid(inference(stranger, { chain }), stranger)]);
    expect(nearest).toMatchObject({ status: 'accepted', subscriptionId: mid.id });
  });

  it('stops attributing once a link or a principal of the chain is revoked, or the link expires', async () => {
    for (const what of ['link', 'root', 'expiry'] as const) {
      const { metering, platform, clock, org } = await withOrg();
      const link = delegate(human, stranger, clock);
      await platform.nhi.validateDelegationChain([link]);
      const chain = [human.identity.nhi, stranger.identity.nhi];
      const [before] = await metering.ingest([hybrid(inference(stranger, { chain }), stranger)]);
      expect(before).toMatchObject({ status: 'accepted', subscriptionId: org.id });
      if (what === 'link') await platform.nhi.revokeLink(delegationLinkId(link));
      if (what === 'root') await platform.nhi.revoke(human.identity);
      if (what === 'expiry') await clock.advanceAsync(3_600_000); // the link's validity ends
      const [after] = await metering.ingest([hybrid(inference(stranger, { chain }), stranger)]);
      expect(codeOf(after)).toEqual(['MT-404', true]);
    }
  });

  it('asks NHI nothing for an agent bound directly, and retries (MT-503) when NHI cannot answer', async () => {
    const env = await withOrg();
    const calls: string[] = [];
    let down = false;
    const nhi = {
      lookup: env.platform.nhi.lookup,
      validateHybridSignature: env.platform.nhi.validateHybridSignature,
      verifyDelegation: async (parent: string, child: string) => {
        calls.push(`${parent}→${child}`);
        if (down) throw new EnablementError('PL-503', 'NHI service unavailable', { retryable: true });
        return env.platform.nhi.verifyDelegation(parent, child);
      },
    };
    const metering = createMetering({ nhi, clock: env.clock, consensus: env.platform.consensus });
    await metering.registerPlan(PLAN);
    await metering.createSubscription({
      organizationId: 'acme',
      planId: 'pro',
      billingContact: 'billing@acme.example',
      agents: [agent.identity.nhi, human.identity.nhi],
    });
    const direct = [human.identity.nhi, agent.identity.nhi];
    expect(statuses(await metering.ingest([hybrid(inference(agent, { chain: direct }))]))).toEqual([
      'accepted',
    ]);
    expect(calls).toEqual([]);
    await env.platform.nhi.validateDelegationChain([delegate(human, stranger, env.clock)]);
    const chain = [human.identity.nhi, stranger.identity.nhi];
    const event = hybrid(inference(stranger, { chain }), stranger);
    down = true;
    const [failed] = await metering.ingest([event]);
    expect(codeOf(failed)).toEqual(['MT-503', true]);
    down = false;
    // Not consumed: the retry of the same event is accepted, not a duplicate.
    expect(statuses(await metering.ingest([event]))).toEqual(['accepted']);
    // A port that throws something else is also a retryable outage, never a misattribution.
    nhi.verifyDelegation = async () => {
      throw new Error('socket hang up');
    };
    const [odd] = await metering.ingest([hybrid(inference(stranger, { chain }), stranger)]);
    expect(codeOf(odd)).toEqual(['MT-503', true]);
  });

  it('needs an NHI client with verifyDelegation', () => {
    const { lookup, validateHybridSignature } = createPlatform({ clock: new FakeClock() }).nhi;
    expectEnablementError(
      () => createMetering({ nhi: { lookup, validateHybridSignature } as never }),
      'PL-400',
      /verifyDelegation/,
    );
  });
});

describe('the bus consumer (metering.events.runtime)', () => {
  const withBus = (store: MeteringStore = createMemoryMeteringStore()) => setup({}, store);

  const publish = (bus: ReturnType<typeof createInProcessEventBus>, event: RuntimeUsageEvent) =>
    bus.publish(SUBJECTS.meteringEventsRuntime, encodeJson(encodeRuntimeUsageEvent(event)));

  async function settle(clock: FakeClock, ms = 0) {
    for (let i = 0; i < 20; i++) await clock.advanceAsync(ms);
  }

  it('consumes, acknowledges and counts; duplicates racing through two consumers count once', async () => {
    const store = createMemoryMeteringStore();
    const { bus, clock, platform, sub, metering } = await withBus(store);
    const second = createMetering({
      nhi: platform.nhi,
      clock,
      consensus: platform.consensus,
      store,
      bus,
      busOptions: { consumer: 'metering-b' },
    });
    const first = createMetering({ nhi: platform.nhi, clock, consensus: platform.consensus, store, bus });
    await Promise.all([first.start(), second.start()]);
    const event = hybrid(inference(agent, { key: 'raced', tokens: 40n }));
    await publish(bus, event);
    await publish(bus, { ...event, eventId: newUuid() } as RuntimeUsageEvent); // a producer retry, new id
    await publish(bus, hybrid(inference(agent, { tokens: 2n })));
    await settle(clock);
    expect(await usage(metering, sub.id)).toBe('42');
    for (const consumer of ['metering', 'metering-b']) {
      const info = await bus.consumerInfo('METERING', consumer);
      expect(info.state.ackPending).toBe(0);
      expect(info.state.numPending).toBe(0);
    }
    await first.stop();
    await second.close();
    await first.start(); // restartable
    await first.close();
  });

  it('terms forged and malformed events, and retries an unknown agent 3× before the dead-letter queue', async () => {
    const { bus, clock, metering, platform } = await withBus();
    await metering.start();
    await metering.start(); // idempotent
    await platform.nhi.register({ identity: stranger.identity, proof: registrationProof(stranger) });
    const forged = { ...hybrid(inference(agent)), signature: new Uint8Array(3373).fill(1) };
    await publish(bus, forged);
    await bus.publish(SUBJECTS.meteringEventsRuntime, utf8ToBytes('{not json'));
    await publish(bus, hybrid(inference(stranger, { key: 'who-am-i' }), stranger));
    await settle(clock, 5_000);
    const info = await bus.consumerInfo('METERING', 'metering');
    expect(info.state.ackPending).toBe(0);
    expect(info.state.deadLettered).toBe(1);
    expect(info.config.maxDeliver).toBe(4);
    await bus.addConsumer(DEAD_LETTER_STREAM, { name: 'review' });
    const letters: ReturnType<typeof parseDeadLetter>[] = [];
    const sub = await bus.subscribe(DEAD_LETTER_STREAM, 'review', (m) => {
      letters.push(parseDeadLetter(m.headers));
      m.ack();
    });
    await settle(clock);
    await sub.unsubscribe();
    expect(letters).toHaveLength(1);
    expect(letters[0]?.deliveries).toBe(4);
    expect(letters[0]?.reasons.at(-1)?.reason).toMatch(/MT-404/);
    await metering.close();
  });

  it('needs a bus to start', async () => {
    const { metering } = await setup({ bus: undefined });
    await expect(metering.start()).rejects.toMatchObject({ code: 'MT-409' });
  });
});

describe('createMetering options', () => {
  it('rejects bad options with PL-400 naming the option', async () => {
    const { platform } = await setup();
    expectEnablementError(
      () => createMetering({ nhi: platform.nhi, gracePeriodMs: -1 }),
      'PL-400',
      /gracePeriodMs/,
    );
    expectEnablementError(() => createMetering({} as never), 'PL-400', /nhi/);
    expectEnablementError(
      () => createMetering({ nhi: platform.nhi, oversight: { createRequest: async () => ({}) as never } }),
      'PL-400',
      /quotaOversight/,
    );
  });
});
