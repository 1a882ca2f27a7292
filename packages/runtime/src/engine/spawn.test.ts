import {
  AgentIdentity,
  auditEventDetail,
  DelegationChain,
  decodeHybridSignature,
  decodeRuntimeUsageEvent,
  delegationLinkId,
  EnablementError,
  encodeHybridSignature,
  encodeRuntimeUsageEvent,
  issueDelegation,
  type RuntimeUsageEvent,
  usageEventSigningBytes,
  verifyIdentityHybrid,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { verifyAttestation } from '../attestation/attestation.js';
import { fakeQuota, harness, KEYS } from './runtime.test-support.js';

function verifyUsage(event: RuntimeUsageEvent, agent: AgentIdentity): boolean {
  // What Metering does: decode the wire JSON, recompute the signing bytes, verify the hybrid signature.
  const decoded = decodeRuntimeUsageEvent(JSON.parse(JSON.stringify(encodeRuntimeUsageEvent(event))));
  return verifyIdentityHybrid(
    agent,
    usageEventSigningBytes(decoded),
    decodeHybridSignature(decoded.signature),
  );
}

describe('spawnSandbox', () => {
  it('authorizes, binds the NHI, attests, meters and audits', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({
      agent: KEYS.agent,
      runtimeClass: 'gvisor',
      labels: { team: 'a' },
    });

    expect(sandbox.state).toBe('running');
    expect(sandbox.runtimeClass).toBe('gvisor');
    expect(sandbox.driver).toBe('quickjs');
    expect(sandbox.cpuMillicores).toBe(1000);
    expect(sandbox.memoryBytes).toBe(2_147_483_648n);
    expect(h.driver.created[0]?.sandboxId).toBe(sandbox.sandboxId);
    expect(h.driver.created[0]?.limits.memoryBytes).toBe(2_147_483_648n);
    expect((await h.platform.nhi.boundIdentity(sandbox.sandboxId))?.nhi).toBe(KEYS.agent.identity.nhi);

    // Usage event (spec §4.1, §12.2 "Sandbox allocation generates billing event").
    expect(h.events).toHaveLength(1);
    const [event] = h.events;
    expect(event?.eventType).toBe('sandbox_allocated');
    expect(event?.idempotencyKey).toBe(`${sandbox.sandboxId}:allocated`);
    expect(event?.properties).toEqual({
      type: 'SandboxAllocated',
      sandboxId: sandbox.sandboxId,
      runtimeClass: 'gvisor',
      cpuMillicores: 1000,
      memoryBytes: 2_147_483_648n,
      durationSeconds: 0n,
    });
    expect(event && verifyUsage(event, KEYS.agent.identity)).toBe(true);
    expect(event && verifyUsage(event, KEYS.agent2.identity)).toBe(false);

    // Attestation, audit.
    expect(verifyAttestation(sandbox.attestation, KEYS.host.identity)).toBe(true);
    expect(sandbox.attestation).toMatchObject({
      sandboxId: sandbox.sandboxId,
      runtimeClass: 'gvisor',
      driver: 'quickjs',
      agentNhi: KEYS.agent.identity.nhi,
      hostNhi: KEYS.host.identity.nhi,
      specHash: sandbox.specHash,
      imageOrCodeHash: null,
    });
    const spawned = (await h.auditEvents()).find((e) => e.action === 'sandbox.spawn');
    expect(spawned?.resource).toBe(`runtime:sandbox:${sandbox.sandboxId}`);
    expect(spawned && auditEventDetail(spawned)?.kind).toBe('SandboxSpawned');

    expect(h.runtime.getSandbox(sandbox.sandboxId)).toBe(sandbox);
    expect(h.runtime.listSandboxes({ agent: KEYS.agent.identity })).toEqual([sandbox]);
    expect(h.runtime.listSandboxes({ agent: KEYS.agent2.identity.nhi })).toEqual([]);
    expect(h.runtime.listSandboxes({ labels: { team: 'b' } })).toEqual([]);
  });

  it('is idempotent on agent + spec for an hour (spec §9.2), then spawns anew', async () => {
    const h = await harness();
    const first = await h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'invoice-processor' });
    const again = await h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'invoice-processor' });
    expect(again).toBe(first);
    const [a, b] = await Promise.all([
      h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'other' }),
      h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'other' }),
    ]);
    expect(a).toBe(b);
    expect(a.sandboxId).not.toBe(first.sandboxId);
    expect(a.attestation.imageOrCodeHash).not.toBe(first.attestation.imageOrCodeHash);
    expect(h.driver.created).toHaveLength(2);
    expect(h.events.filter((e) => e.eventType === 'sandbox_allocated')).toHaveLength(2);

    // A duplicate after termination returns the same (now terminated) sandbox.
    await first.terminate('done');
    const late = await h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'invoice-processor' });
    expect(late.sandboxId).toBe(first.sandboxId);
    expect(late.state).toBe('terminated');
    await expectEnablementRejection(late.exec({ code: 'x' }), 'RT-404');

    await h.clock.advanceAsync(3_600_001);
    const fresh = await h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'invoice-processor' });
    expect(fresh.sandboxId).not.toBe(first.sandboxId);
    expect(fresh.state).toBe('running');
  });

  it('blocks on quota with RT-429 caused by MT-429 (spec §8.2, §12.2)', async () => {
    const quota = fakeQuota(1);
    const h = await harness({ quota });
    await h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '1' } });
    const error = await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '2' } }),
      'RT-429',
      /quota exceeded/,
    );
    expect(error.causedBy?.code).toBe('MT-429');
    expect(error.retryAfterMs).toBe(86_400_000);
    expect(error.traceId).toBe('trace-xyz');
    expect(error.retryable).toBe(false);
    expect(error.toJSON().caused_by?.code).toBe('MT-429');
    expect(quota.queries.at(-1)).toMatchObject({
      agent: KEYS.agent.identity.nhi,
      eventType: 'sandbox_allocated',
    });
    // Nothing was created, bound or metered for the refused spawn.
    expect(h.driver.created).toHaveLength(1);
    expect(h.events).toHaveLength(1);
    expect(h.runtime.stats().sandboxes).toBe(1);
  });

  it('denies by policy with RT-403 and audits the denial', async () => {
    const h = await harness({ policies: [] });
    await expectEnablementRejection(h.runtime.spawnSandbox({ agent: KEYS.agent }), 'RT-403');
    expect(h.driver.created).toHaveLength(0);
    const denied = (await h.auditEvents()).find((e) => e.action === 'sandbox.spawn');
    expect(denied?.outcome).toBe('denied');
    expect(denied?.resource).toBe('runtime:sandbox:quickjs');
  });

  it('passes cpu, memory and class to authz as context', async () => {
    const h = await harness({
      policies: [
        {
          id: 'small-only',
          effect: 'permit',
          action: 'sandbox.spawn',
          resource: 'runtime:sandbox:quickjs',
          when: {
            and: [
              { attr: 'context.memory_bytes', op: 'le', value: 1_073_741_824 },
              { attr: 'context.cpu_millicores', op: 'le', value: 500 },
              { attr: 'context.runtime_class', op: 'eq', value: 'quickjs' },
            ],
          },
        },
      ],
    });
    await expectEnablementRejection(h.runtime.spawnSandbox({ agent: KEYS.agent }), 'RT-403');
    const ok = await h.runtime.spawnSandbox({
      agent: KEYS.agent,
      memoryBytes: 1_073_741_824n,
      cpuMillicores: 500,
    });
    expect(ok.state).toBe('running');
  });

  it('rejects bad specs with RT-400 naming the field, and limits with RT-413', async () => {
    const h = await harness();
    await expectEnablementRejection(h.runtime.spawnSandbox({ agent: KEYS.classical }), 'RT-400', /ML-DSA-65/);
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent.identity }),
      'RT-400',
      /signer: required/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, runtimeClass: 'Firecracker' }),
      'RT-400',
      /runtimeClass/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, runtimeClass: 'firecracker' }),
      'RT-400',
      /no driver serves firecracker/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, cpuMillicores: 1.5 }),
      'RT-400',
      /cpuMillicores/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, env: { 'BAD KEY': 'x' } }),
      'RT-400',
      /env/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, network: { allowOut: ['not a host'] } }),
      'RT-400',
      /network\.allowOut\[0\]/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, image: 'a', code: 'b' }),
      'RT-400',
      /not both/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, memoryBytes: 1n << 40n }),
      'RT-413',
      /memoryBytes/,
    );
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ ...({ agent: KEYS.agent, extra: 1 } as object) } as never),
      'RT-400',
    );
    expect(h.driver.created).toHaveLength(0);
  });

  it('refuses an unregistered agent (NHI binding) with RT-403 and leaves nothing behind', async () => {
    const h = await harness();
    const stranger = (await import('@creto/core')).AgentKeyPair.fromSeed(new Uint8Array(32).fill(9), {
      postQuantum: true,
    });
    const error = await expectEnablementRejection(h.runtime.spawnSandbox({ agent: stranger }), 'RT-403');
    expect(error.causedBy?.code).toBe('PL-404');
    expect(h.runtime.stats().sandboxes).toBe(0);
    expect(h.events).toHaveLength(0);
  });

  it('validates the delegation chain through NHI, which records its links (spec §6.2)', async () => {
    const h = await harness();
    const link = (clockNow: bigint) =>
      issueDelegation({
        issuer: KEYS.cfo,
        subject: KEYS.agent.identity,
        capabilities: [{ action: '*', resource: '*' }],
        expiresAt: clockNow + 3_600_000_000_000n,
        clock: h.clock,
      });
    const chain = DelegationChain.from([link(h.clock.now())]);
    // The root is not a registered principal: authz alone would accept the chain, NHI does not.
    const refused = await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, delegationChain: chain }),
      'RT-403',
    );
    expect(refused.causedBy?.code).toBe('PL-403');
    expect(h.driver.created).toHaveLength(0);
    expect((await h.auditEvents()).find((e) => e.action === 'sandbox.spawn')?.outcome).toBe('denied');
    expect(await h.platform.nhi.verifyDelegation(KEYS.cfo.identity, KEYS.agent.identity)).toBe(false);

    await h.platform.nhi.register({ identity: KEYS.cfo.identity });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent, delegationChain: chain });
    expect(sandbox.state).toBe('running');
    expect(await h.platform.nhi.verifyDelegation(KEYS.cfo.identity, KEYS.agent.identity)).toBe(true);
    expect(h.events[0]?.delegationChain).toEqual([KEYS.cfo.identity.nhi, KEYS.agent.identity.nhi]);

    // A revoked link is refused at spawn as well.
    const revoked = DelegationChain.from([link(h.clock.now())]);
    const [only] = revoked.links;
    if (only === undefined) throw new Error('unreachable');
    await h.platform.nhi.revokeLink(delegationLinkId(only));
    const error = await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, delegationChain: revoked }),
      'RT-403',
    );
    expect(error.causedBy?.code).toBe('PL-410');
  });

  it('fails a spawn with a retryable RT-503 when NHI cannot validate the chain', async () => {
    const base = await harness();
    await base.platform.nhi.register({ identity: KEYS.cfo.identity });
    const nhi = {
      bindIdentity: base.platform.nhi.bindIdentity,
      validateDelegationChain: async () => {
        throw new Error('connection refused');
      },
    };
    const h = await harness({ nhi });
    const chain = DelegationChain.from([
      issueDelegation({
        issuer: KEYS.cfo,
        subject: KEYS.agent.identity,
        capabilities: [{ action: '*', resource: '*' }],
        expiresAt: h.clock.now() + 3_600_000_000_000n,
        clock: h.clock,
      }),
    ]);
    const error = await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, delegationChain: chain }),
      'RT-503',
    );
    expect(error.retryable).toBe(true);
    expect(h.driver.created).toHaveLength(0);
    // Without a chain NHI validation is not needed.
    expect((await h.runtime.spawnSandbox({ agent: KEYS.agent })).state).toBe('running');
  });

  it('rolls back when the driver fails: RT-500, NHI unbound, no usage event', async () => {
    const h = await harness();
    h.driver.failNextCreate = new Error('wasm exploded at 0xdeadbeef');
    const error = await expectEnablementRejection(h.runtime.spawnSandbox({ agent: KEYS.agent }), 'RT-500');
    expect(error.message).not.toContain('0xdeadbeef');
    h.driver.failNextCreate = new EnablementError('RT-413', 'cannot give 2 GiB');
    await expectEnablementRejection(h.runtime.spawnSandbox({ agent: KEYS.agent }), 'RT-413');
    expect(h.events).toHaveLength(0);
    expect(h.runtime.stats()).toMatchObject({ sandboxes: 0, spawned: 0 });
    // The same spec spawns once the driver works (the failure was not cached).
    const ok = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    expect(ok.state).toBe('running');
  });

  it('bounds live sandboxes (RT-413), globally and per agent', async () => {
    const h = await harness({ limits: { maxSandboxes: 3, maxSandboxesPerAgent: 2 } });
    await h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '1' } });
    const second = await h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '2' } });
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '3' } }),
      'RT-413',
      /agent/,
    );
    await h.runtime.spawnSandbox({ agent: KEYS.agent2, labels: { n: '1' } });
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent2, labels: { n: '2' } }),
      'RT-413',
      /maximum of 3/,
    );
    await second.terminate();
    const third = await h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '3' } });
    expect(third.state).toBe('running');
  });

  it('accepts an external signer and verifies its signatures before use', async () => {
    const h = await harness();
    const good = await h.runtime.spawnSandbox({
      agent: KEYS.agent.identity,
      signer: async (bytes) => encodeHybridSignature(KEYS.agent.signHybrid(bytes)),
    });
    expect(h.events[0] && verifyUsage(h.events[0], KEYS.agent.identity)).toBe(true);
    expect(good.state).toBe('running');
    // A signer that signs with the wrong key is caught before the event leaves.
    await expectEnablementRejection(
      h.runtime.spawnSandbox({
        agent: KEYS.agent.identity,
        signer: (bytes) => encodeHybridSignature(KEYS.agent2.signHybrid(bytes)),
        labels: { n: '2' },
      }),
      'RT-500',
      /does not verify/,
    );
    expect(h.events).toHaveLength(1);
  });

  it('runs start-up code and fails the spawn when it fails', async () => {
    const h = await harness();
    h.driver.scripts.set('init-ok', async () => 'ready');
    h.driver.scripts.set('init-bad', async () => {
      throw new Error('boom');
    });
    const ok = await h.runtime.spawnSandbox({ agent: KEYS.agent, code: 'init-ok' });
    expect(ok.attestation.imageOrCodeHash).toMatch(/^[0-9a-f]{64}$/);
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, code: 'init-bad' }),
      'RT-400',
      /boom/,
    );
    expect(h.driver.disposed).toHaveLength(1);
  });

  it('validates options with PL-400 naming the option', async () => {
    const { createRuntime } = await import('./runtime.js');
    const h = await harness();
    expectEnablementError(
      () => createRuntime({ platform: h.platform, hostKey: KEYS.classical }),
      'PL-400',
      /hostKey/,
    );
    expectEnablementError(
      () => createRuntime({ hostKey: KEYS.host, drivers: { quickjs: h.driver } }),
      'PL-400',
      /nhi: required/,
    );
    expectEnablementError(
      () =>
        createRuntime({
          platform: h.platform,
          hostKey: KEYS.host,
          drivers: { quickjs: h.driver },
          aliases: { gvisor: 'kata' },
        }),
      'PL-400',
      /aliases\.gvisor/,
    );
    expectEnablementError(
      () =>
        createRuntime({
          platform: h.platform,
          hostKey: KEYS.host,
          drivers: { quickjs: h.driver },
          limits: { maxSandboxes: 0 },
        }),
      'PL-400',
      /limits\.maxSandboxes/,
    );
    expect(AgentIdentity.fromNhi(h.runtime.hostIdentity.nhi).nhi).toBe(KEYS.host.identity.nhi);
  });
});

describe('terminate and the reaper', () => {
  it('terminate emits sandbox_terminated with the duration, audits, disposes and unbinds', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await h.clock.advanceAsync(600_000); // §7.4: duration=600s
    const result = await h.runtime.terminate(sandbox.sandboxId, 'task finished');
    expect(result).toMatchObject({
      sandboxId: sandbox.sandboxId,
      reason: 'task finished',
      durationSeconds: 600n,
    });
    expect(sandbox.state).toBe('terminated');
    expect(h.driver.disposed).toEqual([sandbox.sandboxId]);
    expect(await h.platform.nhi.boundIdentity(sandbox.sandboxId)).toBeUndefined();
    const event = h.events.find((e) => e.eventType === 'sandbox_terminated');
    expect(event?.idempotencyKey).toBe(`${sandbox.sandboxId}:terminated`);
    expect(event?.properties).toMatchObject({
      type: 'SandboxAllocated',
      durationSeconds: 600n,
      cpuMillicores: 1000,
    });
    expect(event && verifyUsage(event, KEYS.agent.identity)).toBe(true);
    const audit = (await h.auditEvents()).find((e) => e.action === 'sandbox.terminate');
    expect(audit && auditEventDetail(audit)).toMatchObject({
      kind: 'SandboxTerminated',
      reason: 'task finished',
    });

    await expectEnablementRejection(h.runtime.terminate(sandbox.sandboxId), 'RT-404');
    expectEnablementError(() => h.runtime.getSandbox(sandbox.sandboxId), 'RT-404');
  });

  it('rounds a partial second up and shares one termination between concurrent calls', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await h.clock.advanceAsync(1_400);
    const [a, b] = await Promise.all([sandbox.terminate('x'), sandbox.terminate('y')]);
    expect(a).toBe(b);
    expect(a.durationSeconds).toBe(2n);
    expect(h.events.filter((e) => e.eventType === 'sandbox_terminated')).toHaveLength(1);
  });

  it('reaps a sandbox at its timeout with reason "timeout"', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent, timeoutMs: 60_000 });
    expect(sandbox.expiresAt - sandbox.createdAt).toBe(60_000_000_000n);
    await h.clock.advanceAsync(59_999);
    expect(sandbox.state).toBe('running');
    await h.clock.advanceAsync(1);
    for (let i = 0; i < 5 && sandbox.state !== 'terminated'; i++) await h.clock.advanceAsync(0);
    expect(sandbox.state).toBe('terminated');
    const audit = (await h.auditEvents()).find((e) => e.action === 'sandbox.terminate');
    expect(audit && auditEventDetail(audit)).toMatchObject({ reason: 'timeout' });
    expect(h.events.find((e) => e.eventType === 'sandbox_terminated')?.properties).toMatchObject({
      durationSeconds: 60n,
    });
  });

  it('terminates the sandboxes of a revoked agent', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await h.platform.nhi.revoke(KEYS.agent.identity, { reason: 'compromised' });
    for (let i = 0; i < 5 && sandbox.state !== 'terminated'; i++) await h.clock.advanceAsync(0);
    expect(sandbox.state).toBe('terminated');
  });

  it('rejects a bad reason with RT-400 and terminates nothing', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(h.runtime.terminate(sandbox.sandboxId, 'x'.repeat(257)), 'RT-400');
    await expectEnablementRejection(h.runtime.terminate(sandbox.sandboxId, 'a\nb'), 'RT-400');
    expect(sandbox.state).toBe('running');
  });

  it('close terminates everything and stops the reaper', async () => {
    const h = await harness();
    const a = await h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '1' } });
    const b = await h.runtime.spawnSandbox({ agent: KEYS.agent2 });
    await h.runtime.close();
    expect([a.state, b.state]).toEqual(['terminated', 'terminated']);
    await expectEnablementRejection(
      h.runtime.spawnSandbox({ agent: KEYS.agent, labels: { n: '9' } }),
      'RT-503',
    );
    await h.runtime.close();
  });
});

describe('unknown sandboxes', () => {
  it('answers RT-404 everywhere', async () => {
    const h = await harness();
    const id = 'sb-00000000-0000-4000-8000-000000000000';
    expectEnablementError(() => h.runtime.getSandbox(id), 'RT-404');
    expectEnablementError(() => h.runtime.getSandbox(42 as unknown as string), 'RT-404');
    await expectEnablementRejection(h.runtime.exec(id, { code: 'x' }), 'RT-404');
    expectEnablementError(() => h.runtime.startExec(id, { code: 'x' }), 'RT-404');
    await expectEnablementRejection(h.runtime.callTool(id, 'echo', {}), 'RT-404');
    await expectEnablementRejection(
      h.runtime.fetch(id, { url: 'http://127.0.0.1/', method: 'GET', headers: {} }),
      'RT-404',
    );
    await expectEnablementRejection(
      h.runtime.inference(id, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      'RT-404',
    );
    await expectEnablementRejection(h.runtime.checkpoint(id), 'RT-404');
    await expectEnablementRejection(h.runtime.terminate(id), 'RT-404');
  });
});
