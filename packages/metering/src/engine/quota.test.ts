import {
  AgentKeyPair,
  auditEventDetail,
  type CreateOversightRequestInput,
  createPlatform,
  Decimal,
  EnablementError,
  type Notification,
  type Notifier,
  newSandboxId,
  newUuid,
  type OversightClient,
  type RuntimeUsageEvent,
  registrationProof,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createMetering } from './metering.js';
import type { MeteringOptions } from './types.js';

const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(21), { postQuantum: true });
const peer = AgentKeyPair.fromSeed(new Uint8Array(32).fill(22), { postQuantum: true });
const cfo = AgentKeyPair.fromSeed(new Uint8Array(32).fill(23), { kind: 'human' });
const DAY_MS = 86_400_000;
// Signatures are covered by ingest.test.ts; here the many events of a quota scenario are ingested
// from a trusted in-process producer (verifySignatures: false) to keep the file fast.
const UNSIGNED = new Uint8Array(3373);

const PLAN = {
  id: 'daily',
  name: 'Daily',
  currency: 'USD',
  interval: 'day',
  charges: [{ id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '1' } }],
};

function spawn(signer: AgentKeyPair, at: bigint): RuntimeUsageEvent {
  const unsigned = {
    eventId: newUuid(),
    agentNhi: signer.identity.nhi,
    delegationChain: [],
    eventType: 'sandbox_allocated' as const,
    consensusTimestamp: at,
    idempotencyKey: newUuid(),
    properties: {
      type: 'SandboxAllocated' as const,
      sandboxId: newSandboxId(),
      runtimeClass: 'quickjs',
      cpuMillicores: 500,
      memoryBytes: 1024n,
      durationSeconds: 0n,
    },
  };
  return { ...unsigned, signature: UNSIGNED };
}

function recorders() {
  const requests: CreateOversightRequestInput[] = [];
  const notifications: Notification[] = [];
  const oversight: Pick<OversightClient, 'createRequest'> = {
    async createRequest(request) {
      requests.push(request);
      return { requestId: newUuid(), state: 'PENDING', created: true };
    },
  };
  const notifier: Notifier = {
    async notify(notification) {
      notifications.push(notification);
      return { notificationId: notification.id, status: 'delivered', channel: 'test' };
    },
  };
  return { requests, notifications, oversight, notifier };
}

async function setup(extra: Partial<MeteringOptions> = {}) {
  const clock = new FakeClock();
  const platform = createPlatform({ clock });
  for (const pair of [agent, peer])
    await platform.nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
  const rec = recorders();
  const metering = createMetering({
    nhi: platform.nhi,
    clock,
    consensus: platform.consensus,
    audit: platform.audit,
    oversight: rec.oversight,
    quotaOversight: {
      requirement: {
        tiers: [{ approvers: [cfo.identity.nhi], quorum: 1, timeoutMs: 3_600_000 }],
        finalAction: 'auto_approve',
      },
    },
    notifier: rec.notifier,
    verifySignatures: false,
    ...extra,
  });
  await metering.registerPlan(PLAN);
  const sub = await metering.createSubscription({
    organizationId: 'acme',
    planId: 'daily',
    billingContact: 'billing@acme.example',
    agents: [agent.identity.nhi, peer.identity.nhi],
  });
  const spawnMany = async (n: number, signer = agent) => {
    const events = Array.from({ length: n }, () => spawn(signer, clock.now()));
    const results = await metering.ingest(events);
    await metering.flush();
    return results;
  };
  return { clock, platform, metering, sub, spawnMany, ...rec };
}

describe('quota: block (spec §7.3, §8.3)', () => {
  it('blocks once the limit would be exceeded, with MT-429 and retryAfterMs until the period ends', async () => {
    const { metering, sub, spawnMany, clock } = await setup();
    const quota = await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '3',
      overflow: 'block',
    });
    const nhi = agent.identity.nhi;
    expect(metering.checkQuotaSync(nhi, 'sandbox_allocated', 3)).toMatchObject({ decision: 'allow' });
    expect(metering.checkQuotaSync(nhi, 'sandbox_allocated', 4).decision).toBe('block');
    await spawnMany(3);
    expect(metering.checkQuotaSync(nhi, 'sandbox_allocated', 0).decision).toBe('allow');
    const blocked = metering.checkQuotaSync(nhi, 'sandbox_allocated', 1);
    expect(blocked.decision).toBe('block');
    expect(metering.checkQuotaSync(nhi, 'sandbox_allocated').decision).toBe('block'); // nothing left
    expect(metering.checkQuotaSync(peer.identity.nhi, 'sandbox_allocated').decision).toBe('block'); // same subscription
    expect(metering.checkQuotaSync(nhi, 'inference_call', 1)).toMatchObject({
      decision: 'allow',
      reason: 'no quota applies',
    });
    const error = blocked.error;
    if (error === undefined) throw new Error('expected an error');
    expect(error).toBeInstanceOf(EnablementError);
    expect(error.code).toBe('MT-429');
    expect(error.message).toBe('Daily sandbox_allocations quota exceeded (3/3)');
    const status = await metering.quotaStatus(quota.id);
    expect(status).toMatchObject({ percent: 100 });
    expect(error.retryAfterMs).toBe(Number((status.periodEnd - clock.now()) / 1_000_000n));
    // The async port gives the same answer.
    const viaPort = await metering.checkQuota({
      agent: nhi,
      eventType: 'sandbox_allocated',
      amount: Decimal.parse('0.5'),
    });
    expect(viaPort.decision).toBe('block');
    expect(viaPort.error?.code).toBe('MT-429');
    await expectEnablementRejection(
      metering.checkQuota({ agent: nhi, eventType: 'x', amount: 1 as never }),
      'MT-400',
    );
    expectEnablementError(() => metering.checkQuotaSync(nhi, 'sandbox_allocated', 1.5), 'MT-400', /Decimal/);
    expectEnablementError(() => metering.checkQuotaSync(nhi, 'sandbox_allocated', -1), 'MT-400');
  });

  it('counts usage by agent for an agent quota, and the period rolls over on the clock', async () => {
    const { metering, sub, spawnMany, clock } = await setup();
    await metering.setQuota({
      subscriptionId: sub.id,
      agentNhi: agent.identity.nhi,
      meterId: 'sandbox_allocations',
      limit: '2',
      overflow: 'block',
    });
    await spawnMany(2, peer);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 2).decision).toBe('allow');
    expect(metering.checkQuotaSync(peer.identity.nhi, 'sandbox_allocated', 100).decision).toBe('allow');
    await spawnMany(2);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 1).decision).toBe('block');
    await clock.advanceAsync(DAY_MS); // next daily period: the quota starts again
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 2).decision).toBe('allow');
  });

  it('loads current usage when a quota is set after usage, and allows overage for `allow`', async () => {
    const { metering, sub, spawnMany } = await setup();
    await spawnMany(5);
    const quota = await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '4',
      overflow: 'allow',
    });
    expect((await metering.quotaStatus(quota.id)).usage.toString()).toBe('5');
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 10).decision).toBe('allow');
  });

  it('validates quotas', async () => {
    const { metering, sub } = await setup();
    const base = { subscriptionId: sub.id, meterId: 'sandbox_allocations', overflow: 'block' } as const;
    await expectEnablementRejection(metering.setQuota({ ...base, limit: '0' }), 'MT-400', /limit/);
    await expectEnablementRejection(metering.setQuota({ ...base, limit: 5 as never }), 'MT-400', /limit/);
    await expectEnablementRejection(
      metering.setQuota({ ...base, limit: '5', thresholds: ['0.9', '0.5'] }),
      'MT-400',
      /thresholds/,
    );
    await expectEnablementRejection(
      metering.setQuota({ ...base, limit: '5', thresholds: ['1.5'] }),
      'MT-400',
      /thresholds/,
    );
    await expectEnablementRejection(
      metering.setQuota({ ...base, limit: '5', meterId: 'unique_sandboxes' }),
      'MT-400',
      /sum or count/,
    );
    await expectEnablementRejection(metering.setQuota({ ...base, limit: '5', meterId: 'nope' }), 'MT-404');
    await expectEnablementRejection(
      metering.setQuota({ ...base, limit: '5', subscriptionId: 'nope' }),
      'MT-404',
    );
    await expectEnablementRejection(metering.quotaStatus('nope'), 'MT-404');
  });
});

describe('quota: notifications (spec §4.5, §7.3)', () => {
  it('fires each threshold once per period (oversight request + agent warning), and again next period', async () => {
    const { metering, sub, spawnMany, requests, notifications, clock } = await setup();
    const quota = await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '20',
      overflow: 'allow_with_notification',
    });
    await spawnMany(15);
    expect(requests).toHaveLength(0);
    await spawnMany(1); // 16/20 = 80 %
    expect(requests).toHaveLength(1);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated').decision).toBe(
      'allow_with_notification',
    );
    await spawnMany(2); // 18/20 = 90 %: nothing new
    expect(requests).toHaveLength(1);
    await spawnMany(3); // 21/20: 95 % and exceeded
    expect(requests.map((r) => r.action.parameters)).toEqual([
      expect.objectContaining({
        threshold_percent: '80',
        current_usage: '16',
        limit: '20',
        event_type: 'sandbox_allocated',
      }),
      expect.objectContaining({ threshold_percent: '95', current_usage: '19' }),
      expect.objectContaining({ threshold_percent: '100', current_usage: '21' }),
    ]);
    const [first] = requests;
    expect(first).toMatchObject({
      agentNhi: agent.identity.nhi,
      action: { name: 'quota_breach' },
      policyId: 'quota_notification_policy',
      blocking: false,
      resource: { resourceType: 'quota' },
    });
    expect(notifications.map((n) => [n.kind, n.recipient])).toEqual([
      ['quota_warning', agent.identity.nhi],
      ['quota_warning', agent.identity.nhi],
      ['quota_warning', agent.identity.nhi],
    ]);
    expect(notifications[1]?.body).toMatch(/^You've used 95% of quota/);
    // Over the limit the check still allows (allow_with_notification never blocks).
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 5).decision).toBe(
      'allow_with_notification',
    );
    await spawnMany(5);
    expect(requests).toHaveLength(3);

    await clock.advanceAsync(DAY_MS); // the next day: thresholds are armed again
    expect((await metering.quotaStatus(quota.id)).usage.toString()).toBe('0');
    await spawnMany(16);
    expect(requests).toHaveLength(4);
    expect(requests[3]?.action.parameters).toMatchObject({ threshold_percent: '80', current_usage: '16' });
  });

  it('audits the limit being exceeded (QuotaExceeded) once per period', async () => {
    const { metering, sub, spawnMany, platform } = await setup();
    await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '2',
      overflow: 'block',
    });
    await spawnMany(4);
    await metering.flush();
    const page = await platform.audit.query({ product: 'metering' });
    const exceeded = page.events.map((e) => auditEventDetail(e)).filter((d) => d?.kind === 'QuotaExceeded');
    expect(exceeded).toEqual([
      expect.objectContaining({ eventType: 'sandbox_allocated', limit: 2n, overflowAction: 'block' }),
    ]);
  });

  it('never lets a failing oversight service or notifier block ingestion', async () => {
    const errors: unknown[] = [];
    const { metering, sub, spawnMany } = await setup({
      oversight: { createRequest: async () => Promise.reject(new Error('oversight down')) },
      notifier: { notify: () => Promise.reject(new EnablementError('PL-503', 'notifier down')) },
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (_m, fields) => errors.push(fields?.error),
        child() {
          return this;
        },
      },
    });
    await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '2',
      overflow: 'allow_with_notification',
    });
    const results = await spawnMany(3);
    expect(results.every((r) => r.status === 'accepted')).toBe(true);
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });
});

describe('quota: increases (spec §7.3)', () => {
  it('applies an approved increase once per request, re-arms thresholds and audits it', async () => {
    const { metering, sub, spawnMany, requests, platform } = await setup();
    const quota = await metering.setQuota({
      subscriptionId: sub.id,
      meterId: 'sandbox_allocations',
      limit: '10',
      overflow: 'block',
      thresholds: ['0.8'],
    });
    await spawnMany(10);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 1).decision).toBe('block');
    expect(requests).toHaveLength(1);
    const approval = { approvedBy: cfo.identity.nhi, requestId: 'req-1' };
    const raised = await metering.applyQuotaIncrease(quota.id, '20', approval);
    expect(raised.limit.toString()).toBe('20');
    expect(raised.lastIncrease).toMatchObject({ requestId: 'req-1', previousLimit: Decimal.from('10') });
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 5).decision).toBe('allow');
    // A block quota with thresholds warns in the threshold zone before it blocks.
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 10).decision).toBe(
      'allow_with_notification',
    );
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 11).decision).toBe('block');
    // The same approval applied again changes nothing; a lower or equal limit is refused.
    expect((await metering.applyQuotaIncrease(quota.id, '50', approval)).limit.toString()).toBe('20');
    await expectEnablementRejection(metering.raiseQuota(quota.id, '20'), 'MT-409');
    await expectEnablementRejection(
      metering.applyQuotaIncrease('nope', '30', { ...approval, requestId: 'r2' }),
      'MT-404',
    );
    await expectEnablementRejection(
      metering.applyQuotaIncrease(quota.id, '30', { approvedBy: '' } as never),
      'MT-400',
    );
    // 80 % of the new limit fires again.
    await spawnMany(6);
    expect(requests).toHaveLength(2);
    expect(requests[1]?.action.parameters).toMatchObject({ limit: '20', current_usage: '16' });
    await metering.flush();
    const page = await platform.audit.query({ product: 'metering' });
    expect(page.events.filter((e) => e.action === 'quota.increase')).toHaveLength(1);
    expect((await metering.raiseQuota(quota.id, '25')).limit.toString()).toBe('25');
    expect(await metering.removeQuota(quota.id)).toBe(true);
    expect(metering.checkQuotaSync(agent.identity.nhi, 'sandbox_allocated', 1000).decision).toBe('allow');
  });
});
