import { expectEnablementError, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { openAuditLog } from '../audit/durable-log.js';
import { createAuditEvent } from '../audit/event.js';
import { createAuditLog } from '../audit/log.js';
import { createMemoryAuditLogStore } from '../audit/store.js';
import { DelegationChain } from '../delegation/chain.js';
import { delegationLinkId, issueDelegation } from '../delegation/link.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { createPlatform } from './platform.js';

const HOUR_NS = 3_600_000_000_000n;

function setup() {
  const clock = new FakeClock();
  const platform = createPlatform({ clock });
  const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(7));
  const cfo = AgentKeyPair.fromSeed(new Uint8Array(32).fill(9), { kind: 'human' });
  platform.authz.setPolicies([
    {
      id: 'payments-team',
      effect: 'permit',
      action: 'payment.*',
      resource: 'invoice:*',
      when: { attr: 'principal.roles', op: 'contains', value: 'payments' },
    },
  ]);
  const request = { principal: agent.identity.nhi, action: 'payment.approve', resource: 'invoice:42' };
  return { clock, platform, agent, cfo, request };
}

describe('createPlatform', () => {
  it('shares one clock and provider across the services', () => {
    const { clock, platform } = setup();
    expect(platform.clock).toBe(clock);
    expect(platform.consensus.now()).toBeGreaterThanOrEqual(clock.now() - 1000n);
    expect(platform.provider.name).toBe('noble');
  });

  it('feeds principal attributes from the NHI registry into policies', async () => {
    const { platform, agent, request } = setup();
    expect(platform.authz.evaluate(request).decision).toBe('deny'); // unknown principal: no roles
    await platform.nhi.register({ identity: agent.identity, roles: ['payments'] });
    expect(platform.authz.evaluate(request).decision).toBe('allow');
    await platform.nhi.updateAttributes(agent.identity.nhi, { roles: ['support'] });
    expect(platform.authz.evaluate(request).decision).toBe('deny');
  });

  it('never serves a cached allow after the registry revokes the principal', async () => {
    const { platform, agent, request } = setup();
    await platform.nhi.register({ identity: agent.identity, roles: ['payments'] });
    expect(platform.authz.evaluate(request).decision).toBe('allow');
    expect(platform.authz.evaluate(request).decision).toBe('allow'); // now cached
    await platform.nhi.revoke(agent.identity.nhi, { reason: 'key leaked' });
    expect(platform.authz.evaluate(request).decision).toBe('deny');
  });

  it('validates delegation chains against registry revocations', async () => {
    const { clock, platform, agent, cfo, request } = setup();
    await platform.nhi.register({ identity: cfo.identity });
    await platform.nhi.register({ identity: agent.identity, roles: ['payments'] });
    const link = issueDelegation({
      issuer: cfo,
      subject: agent.identity,
      clock,
      expiresAt: clock.now() + HOUR_NS,
      capabilities: [{ action: 'payment.*', resource: 'invoice:*' }],
    });
    const delegationChain = DelegationChain.from([link]);
    const withChain = { ...request, delegationChain };
    expect((await platform.authz.check(withChain)).decision).toBe('allow');
    await platform.nhi.revokeLink(delegationLinkId(link));
    expect((await platform.authz.check(withChain)).decision).toBe('deny');
  });

  it('dispose is idempotent and stops the scheduler', () => {
    const { platform } = setup();
    let fired = false;
    platform.scheduler.schedule(platform.clock.now() + 1000n, () => {
      fired = true;
    });
    platform.dispose();
    platform.dispose();
    expect(fired).toBe(false);
  });

  it('rejects options that are not an object with PL-400', () => {
    expect(() => createPlatform(null as never)).toThrow(expect.objectContaining({ code: 'PL-400' }));
  });

  it('uses an audit log the caller opened (a durable one) as platform.audit', async () => {
    const clock = new FakeClock();
    const store = createMemoryAuditLogStore();
    const signingKey = new Uint8Array(32).fill(3);
    const auditLog = await openAuditLog({ store, signingKey, clock });
    const platform = createPlatform({ clock, auditLog });
    expect(platform.audit).toBe(auditLog);
    const event = createAuditEvent({
      product: 'platform',
      agentNhi: AgentKeyPair.fromSeed(new Uint8Array(32).fill(7)).identity.nhi,
      action: 'tool.call',
      resource: 'tool:search',
      outcome: 'success',
      timestamp: clock.now(),
    });
    const receipt = await platform.audit.append(event);
    platform.dispose();
    // A restarted platform over the same store sees the event.
    const restarted = createPlatform({ clock, auditLog: await openAuditLog({ store, signingKey, clock }) });
    expect(await restarted.audit.append(event)).toEqual(receipt);
    expect(restarted.audit.size).toBe(1);
  });

  it('refuses audit settings together with auditLog, and an auditLog that is not one (PL-400)', () => {
    const auditLog = createAuditLog();
    expectEnablementError(
      () => createPlatform({ auditLog, audit: { origin: 'x.example/log' } }),
      'PL-400',
      'auditLog',
    );
    expectEnablementError(() => createPlatform({ auditLog: {} as never }), 'PL-400', 'auditLog');
    expect(createPlatform({ audit: { origin: 'x.example/log' } }).audit.origin).toBe('x.example/log');
  });
});
