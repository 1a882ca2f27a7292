import { FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
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
});
