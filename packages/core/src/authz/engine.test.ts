import { expectEnablementError, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { Decimal } from '../decimal/decimal.js';
import { DelegationChain } from '../delegation/chain.js';
import { issueDelegation } from '../delegation/link.js';
import type { Capability } from '../delegation/pattern.js';
import type { RevocationRef } from '../delegation/revocation.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import type { PrincipalKind } from '../identity/nhi.js';
import type { Clock } from '../time/clock.js';
import { createPolicyEngine, type PolicyEngineOptions } from './engine.js';
import { issueOverrideToken } from './override-token.js';
import type { Policy } from './policy.js';
import type { Attributes, AuthzDecision, AuthzRequest, QuotaSource } from './types.js';

const SECOND = 1_000_000_000n;
const HOUR = 3600n * SECOND;
const T0 = 1_767_225_600n * SECOND;

const pair = (n: number, kind: PrincipalKind = 'agent') =>
  AgentKeyPair.fromSeed(new Uint8Array(32).fill(n), { kind });
const human = pair(10, 'human');
const agentKeys = pair(11);
const agent = agentKeys.identity.nhi;
const otherAgent = pair(12).identity.nhi;
const oversight = pair(13, 'service');
const cfo = pair(14, 'human').identity.nhi;

const requirement = {
  tiers: [{ approvers: [cfo], quorum: 1, timeoutMs: 7_200_000 }],
  finalAction: 'auto_deny' as const,
};

const transfer = (amount: unknown, extra: Partial<AuthzRequest> = {}): AuthzRequest => ({
  principal: agent,
  action: 'funds.transfer',
  resource: 'payments:account:ops',
  context: { amount },
  ...extra,
});

const egress = (host: string, principal = agent): AuthzRequest => ({
  principal,
  action: 'network.egress',
  resource: `network:${host}`,
});

function engineWith(policies: Policy[], options: Partial<PolicyEngineOptions> = {}) {
  const clock = new FakeClock({ start: T0 });
  const engine = createPolicyEngine({
    policies,
    clock,
    overrideTokenIssuers: [oversight.identity.nhi],
    ...options,
  });
  return { engine, clock };
}

async function rejection(promise: Promise<unknown>): Promise<EnablementError> {
  try {
    await promise;
  } catch (error) {
    if (EnablementError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

const permitTransfers: Policy = { id: 'transfers', effect: 'permit', action: 'funds.transfer' };
const largeTransfer: Policy = {
  id: 'large-transfer',
  effect: 'require_oversight',
  action: 'funds.transfer',
  when: { attr: 'context.amount', op: 'gt', value: 10000 },
  requirement,
};

describe('combination rules', () => {
  it('denies by default, with no determining policy', () => {
    const { engine } = engineWith([]);
    const decision = engine.evaluate(egress('api.example.com'));
    expect(decision).toEqual({
      decision: 'deny',
      reason: 'no policy permits network.egress on network:api.example.com (default deny)',
      policyIds: [],
    });
    expect(Object.isFrozen(decision)).toBe(true);
  });

  it('permits with the permitting policies, in set order', () => {
    const { engine } = engineWith([
      { id: 'all-egress', effect: 'permit', action: 'network.*' },
      { id: 'unrelated', effect: 'permit', action: 'funds.transfer' },
      { id: 'api', effect: 'permit', action: 'network.egress', resource: 'network:api.*' },
    ]);
    expect(engine.evaluate(egress('api.example.com'))).toEqual({
      decision: 'allow',
      reason: 'permitted by policy all-egress, api',
      policyIds: ['all-egress', 'api'],
    });
  });

  it('forbid overrides permit and require_oversight', () => {
    const { engine } = engineWith([
      permitTransfers,
      { ...largeTransfer, when: undefined } as Policy,
      { id: 'frozen-account', effect: 'forbid', resource: 'payments:account:ops' },
    ]);
    expect(engine.evaluate(transfer(5))).toMatchObject({ decision: 'deny', policyIds: ['frozen-account'] });
  });

  it('require_oversight overrides permit and carries the requirement', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer]);
    expect(engine.evaluate(transfer(5000))).toMatchObject({ decision: 'allow', policyIds: ['transfers'] });
    expect(engine.evaluate(transfer(50000))).toEqual({
      decision: 'requires_oversight',
      reason: 'requires oversight by policy large-transfer',
      policyIds: ['large-transfer'],
      policyId: 'large-transfer',
      requirement,
    });
  });

  it('uses the first matching require_oversight policy for the requirement', () => {
    const other = { ...requirement, finalAction: 'auto_approve' as const };
    const { engine } = engineWith([
      { id: 'o1', effect: 'require_oversight', action: 'funds.*', requirement },
      { id: 'o2', effect: 'require_oversight', action: 'funds.transfer', requirement: other },
    ]);
    const decision = engine.evaluate(transfer(1));
    expect(decision).toMatchObject({
      decision: 'requires_oversight',
      policyId: 'o1',
      policyIds: ['o1', 'o2'],
    });
  });

  it('matches principal and resource patterns, and the built-in attributes', () => {
    const { engine } = engineWith([
      { id: 'agents-only', effect: 'permit', principal: 'agent:*', action: 'network.egress' },
      { id: 'no-paste', effect: 'forbid', action: 'network.egress', resource: 'network:paste*' },
      {
        id: 'humans-runtime',
        effect: 'permit',
        action: 'sandbox.spawn',
        when: {
          and: [
            { attr: 'principal.kind', op: 'eq', value: 'human' },
            { attr: 'resource.type', op: 'eq', value: 'runtime' },
            { attr: 'resource.id', op: 'like', value: 'runtime:sandbox:*' },
          ],
        },
      },
    ]);
    expect(engine.evaluate(egress('api.example.com')).decision).toBe('allow');
    expect(engine.evaluate(egress('pastebin.com')).decision).toBe('deny');
    expect(engine.evaluate(egress('api.example.com', human.identity.nhi)).decision).toBe('deny');
    const spawn = { action: 'sandbox.spawn', resource: 'runtime:sandbox:sb-1' };
    expect(engine.evaluate({ principal: human.identity.nhi, ...spawn }).decision).toBe('allow');
    expect(engine.evaluate({ principal: agent, ...spawn }).decision).toBe('deny');
  });
});

describe('override tokens', () => {
  function token(clock: Clock, amount: unknown, maxUses = 1): string {
    return issueOverrideToken({
      signer: oversight,
      principal: agent,
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      arguments: { amount },
      expiresAt: clock.now() + 600n * SECOND,
      maxUses,
      requestId: 'req-1',
      clock,
    });
  }

  it('turns requires_oversight into allow for exactly the approved call, once', () => {
    const { engine, clock } = engineWith([permitTransfers, largeTransfer]);
    const t = token(clock, 50000);
    const decision = engine.evaluate(transfer(50000, { overrideToken: t }));
    expect(decision).toMatchObject({ decision: 'allow', policyIds: ['large-transfer'] });
    expect(decision.decision === 'allow' && decision.overrideTokenId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(decision.reason).toContain('req-1');
    expectEnablementError(() => engine.evaluate(transfer(50000, { overrideToken: t })), 'OV-410');
    expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
  });

  it('rejects a token for another amount, principal or issuer', () => {
    const { engine, clock } = engineWith([largeTransfer]);
    const t = token(clock, 50000);
    expectEnablementError(
      () => engine.evaluate(transfer(50001, { overrideToken: t })),
      'PL-403',
      'arguments',
    );
    const other = { ...transfer(50000, { overrideToken: t }), principal: otherAgent };
    expectEnablementError(() => engine.evaluate(other), 'PL-403', 'principal');
    const untrusted = createPolicyEngine({ policies: [largeTransfer], clock });
    expectEnablementError(
      () => untrusted.evaluate(transfer(50000, { overrideToken: t })),
      'PL-401',
      'not trusted',
    );
    expect(engine.evaluate(transfer(50000, { overrideToken: t })).decision).toBe('allow'); // nothing consumed
  });

  it('expires with the clock', () => {
    const { engine, clock } = engineWith([largeTransfer]);
    const t = token(clock, 50000);
    clock.advanceNs(600n * SECOND);
    expectEnablementError(() => engine.evaluate(transfer(50000, { overrideToken: t })), 'OV-410', 'expired');
  });

  it('is neither consulted nor consumed when no oversight policy applies', () => {
    const { engine, clock } = engineWith([
      permitTransfers,
      largeTransfer,
      { id: 'f', effect: 'forbid', when: { attr: 'context.block', op: 'eq', value: true } },
    ]);
    const t = token(clock, 500);
    expect(engine.evaluate(transfer(500, { overrideToken: t }))).toMatchObject({
      decision: 'allow',
      policyIds: ['transfers'],
    });
    expect(engine.evaluate(transfer(500, { overrideToken: 'garbage' })).decision).toBe('allow');
    const blocked = { ...transfer(500), context: { amount: 500, block: true }, overrideToken: t };
    expect(engine.evaluate(blocked).decision).toBe('deny');
    // Still unused: the one use it has is spent here.
    expect(
      engine.validateOverrideToken(t, {
        principal: agent,
        action: 'funds.transfer',
        resource: 'payments:account:ops',
        arguments: { amount: 500 },
      }).requestId,
    ).toBe('req-1');
  });

  it('never serves requests with a token from the cache', () => {
    const { engine, clock } = engineWith([permitTransfers, largeTransfer]);
    engine.evaluate(transfer(50000));
    engine.evaluate(transfer(50000));
    const before = engine.stats();
    expect(before.hits).toBe(1);
    engine.evaluate(transfer(50000, { overrideToken: token(clock, 50000) }));
    const after = engine.stats();
    expect(after.hits).toBe(before.hits);
    expect(after.misses).toBe(before.misses + 1);
  });
});

describe('delegation chains', () => {
  function chain(capabilities: Capability[], expiresAt = T0 + HOUR, subject = agent): DelegationChain {
    const clock = new FakeClock({ start: T0 });
    return DelegationChain.from([
      issueDelegation({ issuer: human, subject, capabilities, expiresAt, clock }),
    ]);
  }
  const permitAll: Policy = { id: 'all', effect: 'permit' };

  it("bounds the principal by the chain's capabilities", () => {
    const { engine } = engineWith([permitAll]);
    const c = chain([{ action: 'network.egress', resource: 'network:*' }]);
    expect(engine.evaluate({ ...egress('api.example.com'), delegationChain: c }).decision).toBe('allow');
    const denied = engine.evaluate({ ...transfer(1), delegationChain: c });
    expect(denied).toEqual({
      decision: 'deny',
      reason: 'delegation chain does not grant funds.transfer on payments:account:ops',
      policyIds: [],
    });
    expect(engine.evaluate(transfer(1)).decision).toBe('allow'); // without a chain, policies alone decide
  });

  it('requires the leaf to be the principal', () => {
    const { engine } = engineWith([permitAll]);
    const c = chain([{ action: '*', resource: '*' }], T0 + HOUR, otherAgent);
    const decision = engine.evaluate({ ...egress('x'), delegationChain: c });
    expect(decision.decision).toBe('deny');
    expect(decision.reason).toContain('is not the principal');
  });

  it('denies a chain that does not validate (forged, expired), with the reason', () => {
    const { engine, clock } = engineWith([permitAll]);
    const good = chain([{ action: '*', resource: '*' }], T0 + HOUR);
    const [link] = good.links;
    if (link === undefined) throw new Error('no link');
    const forged = DelegationChain.from([
      {
        ...link,
        capabilities: [
          { action: '*', resource: '*' },
          { action: 'x', resource: 'y' },
        ],
      },
    ]);
    const bad = engine.evaluate({ ...egress('x'), delegationChain: forged });
    expect(bad.decision).toBe('deny');
    expect(bad.reason).toContain('signature does not verify');

    expect(engine.evaluate({ ...egress('x'), delegationChain: good }).decision).toBe('allow');
    clock.advanceTo(T0 + HOUR); // the link's expiresAt (exclusive): trust ends, and re-validation fails
    const expired = engine.evaluate({ ...egress('x'), delegationChain: good });
    expect(expired.decision).toBe('deny');
    expect(expired.reason).toContain('expired');
  });

  it('trusts a validated chain by id: a re-decoded copy skips signature verification', () => {
    let verifications = 0;
    const counting: CryptoProvider = {
      ...nobleCryptoProvider,
      ed25519: {
        ...nobleCryptoProvider.ed25519,
        verify: (...args) => {
          verifications++;
          return nobleCryptoProvider.ed25519.verify(...args);
        },
      },
    };
    const { engine } = engineWith([permitAll], { provider: counting });
    const c = chain([{ action: '*', resource: '*' }]);
    engine.evaluate({ ...egress('x'), delegationChain: c });
    expect(verifications).toBe(1);
    engine.evaluate({ ...egress('y'), delegationChain: c });
    engine.evaluate({ ...egress('x'), delegationChain: DelegationChain.from(c.links) });
    expect(verifications).toBe(1);
    expect(engine.stats().trustedChains).toBe(1);
  });

  it('with an asynchronous revocation port: evaluate() asks for check(), check() validates', async () => {
    const revoked = new Set<string>();
    const revocation = {
      isRevoked: async (ref: RevocationRef) => ref.kind === 'principal' && revoked.has(ref.nhi),
    };
    const { engine } = engineWith([permitAll], { delegation: { revocation } });
    const c = chain([{ action: '*', resource: '*' }]);
    const request = { ...egress('x'), delegationChain: c };
    const first = engine.evaluate(request);
    expect(first.decision).toBe('deny');
    expect(first.reason).toContain('call check()');
    expect((await engine.check(request)).decision).toBe('allow');
    expect(engine.evaluate(request).decision).toBe('allow'); // now trusted

    revoked.add(human.identity.nhi);
    engine.invalidate(); // the host's revocation hook
    const after = await engine.check(request);
    expect(after.decision).toBe('deny');
    expect(after.reason).toContain('revoked');
  });

  it('rejects, rather than denies, when the revocation port is down', async () => {
    const revocation = { isRevoked: async () => Promise.reject(new Error('connection refused')) };
    const { engine } = engineWith([permitAll], { delegation: { revocation } });
    const error = await rejection(
      engine.check({ ...egress('x'), delegationChain: chain([{ action: '*', resource: '*' }]) }),
    );
    expect(error.code).toBe('PL-503');
  });

  it('honours trustedRoots', () => {
    const { engine } = engineWith([permitAll], { delegation: { trustedRoots: [cfo] } });
    const decision = engine.evaluate({
      ...egress('x'),
      delegationChain: chain([{ action: '*', resource: '*' }]),
    });
    expect(decision.decision).toBe('deny');
    expect(decision.reason).toContain('not a trusted root');
  });
});

describe('revocation', () => {
  it('denies a revoked principal at once, cached decisions included', () => {
    const { engine } = engineWith([{ id: 'all', effect: 'permit' }]);
    expect(engine.evaluate(egress('x')).decision).toBe('allow');
    expect(engine.evaluate(egress('x')).decision).toBe('allow');
    engine.revoke(agent);
    const decision = engine.evaluate(egress('x'));
    expect(decision).toMatchObject({ decision: 'deny', reason: `principal ${agent} is revoked` });
    expect(engine.evaluate(egress('x', otherAgent)).decision).toBe('allow');
    expect(engine.stats().revocationEpoch).toBe(1);
  });

  it('revokes a chain through its root or one of its links', () => {
    const { engine } = engineWith([{ id: 'all', effect: 'permit' }]);
    const clock = new FakeClock({ start: T0 });
    const link = issueDelegation({
      issuer: human,
      subject: agent,
      capabilities: [{ action: '*', resource: '*' }],
      expiresAt: T0 + HOUR,
      clock,
    });
    const c = DelegationChain.from([link]);
    expect(engine.evaluate({ ...egress('x'), delegationChain: c }).decision).toBe('allow');
    engine.revoke(human.identity.nhi);
    expect(engine.evaluate({ ...egress('x'), delegationChain: c }).reason).toContain('revoked');
    expect(engine.evaluate(egress('x')).decision).toBe('allow'); // the agent itself is not revoked
  });

  it('rejects a malformed target', () => {
    const { engine } = engineWith([]);
    expectEnablementError(() => engine.revoke('agent:nobody'), 'PL-400');
    expectEnablementError(() => engine.revoke({ kind: 'link', id: 'xyz' }), 'PL-400');
  });
});

describe('decision cache', () => {
  it('serves repeated requests from the cache', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer]);
    const first = engine.evaluate(transfer(50000));
    expect(engine.evaluate(transfer(50000))).toBe(first);
    expect(engine.evaluate(egress('a'))).toBe(engine.evaluate(egress('a')));
    expect(engine.stats()).toMatchObject({ hits: 2, misses: 2, cachedPlans: 2, cachedDecisions: 1 });
  });

  it('never serves a stale decision after a policy change', () => {
    const { engine } = engineWith([permitTransfers]);
    expect(engine.evaluate(transfer(50000)).decision).toBe('allow');
    const v = engine.addPolicy(largeTransfer);
    expect(v).toBe(2);
    expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
    engine.addPolicy({ id: 'stop', effect: 'forbid', action: 'funds.*' });
    expect(engine.evaluate(transfer(50000)).decision).toBe('deny');
    expect(engine.removePolicy('stop')).toBe(true);
    expect(engine.removePolicy('stop')).toBe(false);
    expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
    engine.setPolicies([]);
    expect(engine.evaluate(transfer(50000)).decision).toBe('deny');
    expect(engine.version).toBe(5);
  });

  it('never serves a stale decision after an attribute change', () => {
    const principals = new Map<string, Attributes>([[agent, { roles: ['treasurer'], limit: '100000' }]]);
    const resources = new Map<string, Attributes>([
      ['payments:account:ops', { owner: agent, frozen: false }],
    ]);
    const { engine } = engineWith(
      [
        {
          id: 'treasurers',
          effect: 'permit',
          action: 'funds.transfer',
          when: {
            and: [
              { attr: 'principal.roles', op: 'contains', value: 'treasurer' },
              { attr: 'context.amount', op: 'le', ref: 'principal.limit' },
              { attr: 'resource.owner', op: 'eq', ref: 'principal.id' },
            ],
          },
        },
        { id: 'frozen', effect: 'forbid', when: { attr: 'resource.frozen', op: 'eq', value: true } },
      ],
      { principalAttributes: (nhi) => principals.get(nhi), resourceAttributes: (uri) => resources.get(uri) },
    );
    expect(engine.evaluate(transfer(500)).decision).toBe('allow');
    expect(engine.evaluate(transfer(500)).decision).toBe('allow');
    principals.set(agent, { roles: ['intern'], limit: '100000' });
    expect(engine.evaluate(transfer(500)).decision).toBe('deny');
    principals.set(agent, { roles: ['treasurer'], limit: '100' });
    expect(engine.evaluate(transfer(500)).decision).toBe('deny');
    principals.set(agent, { roles: ['treasurer'], limit: '1000' });
    expect(engine.evaluate(transfer(500)).decision).toBe('allow');
    resources.set('payments:account:ops', { owner: agent, frozen: true });
    expect(engine.evaluate(transfer(500))).toMatchObject({ decision: 'deny', policyIds: ['frozen'] });
    resources.set('payments:account:ops', { owner: otherAgent, frozen: false });
    expect(engine.evaluate(transfer(500)).decision).toBe('deny');
    // The same array mutated in place is seen too: values are read on every request.
    const roles = ['treasurer'];
    principals.set(agent, { roles, limit: '1000' });
    resources.set('payments:account:ops', { owner: agent });
    expect(engine.evaluate(transfer(500)).decision).toBe('allow');
    roles[0] = 'intern';
    expect(engine.evaluate(transfer(500)).decision).toBe('deny');
  });

  it('never serves a stale decision after a context change', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer]);
    for (let i = 0; i < 3; i++) {
      expect(engine.evaluate(transfer(5000)).decision).toBe('allow');
      expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
      expect(engine.evaluate(transfer('10000.01')).decision).toBe('requires_oversight');
      expect(engine.evaluate(transfer('10000')).decision).toBe('allow');
      expect(engine.evaluate(transfer(undefined)).decision).toBe('allow');
    }
    const context = { amount: 5000 };
    expect(engine.evaluate({ ...transfer(0), context }).decision).toBe('allow');
    context.amount = 50000;
    expect(engine.evaluate({ ...transfer(0), context }).decision).toBe('requires_oversight');
    expect(engine.stats().hits).toBeGreaterThan(10);
  });

  it('keys on exactly what the candidate policies read: unrelated context does not split the cache', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer]);
    engine.evaluate({ ...transfer(5), context: { amount: 5, note: 'a' } });
    const decision = engine.evaluate({ ...transfer(5), context: { amount: 5, note: 'b', trace: [1, 2] } });
    expect(decision.decision).toBe('allow');
    expect(engine.stats()).toMatchObject({ hits: 1, cachedDecisions: 1 });
  });

  it('decides uncacheable values without the cache, and snapshots objects it caches', () => {
    const { engine } = engineWith([
      { id: 'p', effect: 'permit', when: { attr: 'context.tags', op: 'contains', value: 'ok' } },
    ]);
    expect(engine.evaluate({ ...egress('x'), context: { tags: ['ok', () => 1] } }).decision).toBe('allow');
    expect(engine.evaluate({ ...egress('x'), context: { tags: ['ok', 1n] } }).decision).toBe('allow');
    let reads = 0;
    const liar = {
      get tags() {
        reads++;
        return reads === 1 ? ['ok'] : ['no'];
      },
    };
    expect(engine.evaluate({ ...egress('x'), context: liar }).decision).toBe('allow');
    expect(reads).toBe(1); // read once: the key and the decision saw the same value
    expect(engine.evaluate({ ...egress('x'), context: { tags: ['no'] } }).decision).toBe('deny');
  });

  it('never confuses a string value with the encoding of an array', () => {
    const { engine } = engineWith([
      { id: 'p', effect: 'permit', when: { attr: 'context.tags', op: 'contains', value: 'ok' } },
    ]);
    expect(engine.evaluate({ ...egress('x'), context: { tags: ['ok'] } }).decision).toBe('allow');
    expect(engine.evaluate({ ...egress('x'), context: { tags: '[1:s2:ok]' } }).decision).toBe('deny');
    expect(engine.evaluate({ ...egress('x'), context: { tags: ['ok'] } }).decision).toBe('allow');
    expect(engine.stats().hits).toBe(1);
  });

  it('works with caching disabled', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer], { cacheSize: 0 });
    expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
    expect(engine.evaluate(transfer(50000)).decision).toBe('requires_oversight');
    expect(engine.stats()).toMatchObject({ hits: 0, misses: 2, cachedPlans: 0 });
  });

  it('bounds both caches by cacheSize', () => {
    const { engine } = engineWith([permitTransfers, largeTransfer], { cacheSize: 8 });
    for (let i = 0; i < 100; i++) {
      engine.evaluate(transfer(i));
      engine.evaluate(egress(`h${i}`));
    }
    const stats = engine.stats();
    expect(stats.cachedPlans).toBeLessThanOrEqual(8);
    expect(stats.cachedDecisions).toBeLessThanOrEqual(8);
  });

  it('gives the same decisions as an uncached engine under random changes (property)', () => {
    const roles = ['admin', 'dev', 'intern'];
    const policyPool: Policy[] = [
      { id: 'p-egress', effect: 'permit', action: 'network.*', resource: 'network:api.*' },
      { id: 'f-paste', effect: 'forbid', action: 'network.egress', resource: 'network:paste*' },
      {
        id: 'p-transfer',
        effect: 'permit',
        action: 'funds.transfer',
        when: { attr: 'principal.roles', op: 'contains', value: 'admin' },
      },
      {
        id: 'o-large',
        effect: 'require_oversight',
        action: 'funds.*',
        when: { attr: 'context.amount', op: 'gt', value: '100' },
        requirement,
      },
      {
        id: 'f-intern',
        effect: 'forbid',
        when: { attr: 'principal.roles', op: 'contains', value: 'intern' },
      },
      { id: 'p-owner', effect: 'permit', when: { attr: 'resource.owner', op: 'eq', ref: 'principal.id' } },
      {
        id: 'p-all-dev',
        effect: 'permit',
        principal: 'agent:*',
        when: { not: { attr: 'context.amount', op: 'exists' } },
      },
    ];
    const principals = [agent, otherAgent];
    const requests: AuthzRequest[] = [];
    for (const principal of principals) {
      for (const [action, resource] of [
        ['network.egress', 'network:api.example.com'],
        ['network.egress', 'network:pastebin.com'],
        ['funds.transfer', 'payments:account:ops'],
        ['funds.refund', 'payments:account:ops'],
      ] as const) {
        requests.push({ principal, action, resource });
        for (const amount of [5, 500, '100', '100.01'])
          requests.push({ principal, action, resource, context: { amount } });
      }
    }
    const op = fc.oneof(
      fc.record({ kind: fc.constant('eval' as const), i: fc.nat(requests.length - 1) }),
      fc.record({ kind: fc.constant('policies' as const), mask: fc.nat(2 ** policyPool.length - 1) }),
      fc.record({ kind: fc.constant('role' as const), who: fc.nat(1), role: fc.nat(roles.length - 1) }),
      fc.record({ kind: fc.constant('owner' as const), who: fc.nat(1) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const principalAttrs = new Map<string, Attributes>();
        const resourceAttrs = new Map<string, Attributes>();
        const make = (cacheSize: number) =>
          createPolicyEngine({
            cacheSize,
            principalAttributes: (nhi) => principalAttrs.get(nhi),
            resourceAttributes: (uri) => resourceAttrs.get(uri),
          });
        const cached = make(64);
        const plain = make(0);
        for (const step of ops) {
          if (step.kind === 'eval') {
            const request = requests[step.i] as AuthzRequest;
            expect(cached.evaluate(request)).toEqual(plain.evaluate(request));
          } else if (step.kind === 'policies') {
            const chosen = policyPool.filter((_, i) => (step.mask >> i) & 1);
            cached.setPolicies(chosen);
            plain.setPolicies(chosen);
          } else if (step.kind === 'role') {
            principalAttrs.set(principals[step.who] as string, { roles: [roles[step.role]] });
          } else {
            resourceAttrs.set('payments:account:ops', { owner: principals[step.who] });
          }
        }
        return cached.stats().hits >= 0;
      }),
      { numRuns: 100 },
    );
  });
});

describe('input validation', () => {
  it('rejects bad options with PL-400 naming the option', () => {
    expectEnablementError(() => createPolicyEngine({ cacheSize: -1 }), 'PL-400', 'options.cacheSize');
    expectEnablementError(() => createPolicyEngine({ cacheSize: 1.5 }), 'PL-400', 'options.cacheSize');
    expectEnablementError(() => createPolicyEngine({ clock: {} as Clock }), 'PL-400', 'options.clock');
    expectEnablementError(
      () => createPolicyEngine({ principalAttributes: {} as never }),
      'PL-400',
      'options.principalAttributes',
    );
    expectEnablementError(() => createPolicyEngine({ colour: 'red' } as never), 'PL-400', 'options');
    expectEnablementError(
      () => createPolicyEngine({ overrideTokenIssuers: ['x'] }),
      'PL-400',
      'options.overrideTokenIssuers[0]',
    );
    expectEnablementError(
      () => createPolicyEngine({ delegation: { maxLength: 0 } }),
      'PL-400',
      'options.delegation.maxLength',
    );
    expectEnablementError(
      () => createPolicyEngine({ delegation: { trustedRoots: ['x'] } }),
      'PL-400',
      'options.delegation.trustedRoots[0]',
    );
    expectEnablementError(
      () => createPolicyEngine({ policies: [{ id: 'p', effect: 'allow' } as unknown as Policy] }),
      'PL-400',
      'policies[0].effect',
    );
  });

  it('rejects malformed requests with PL-400 naming the field', () => {
    const { engine } = engineWith([{ id: 'all', effect: 'permit' }]);
    expectEnablementError(() => engine.evaluate(null as unknown as AuthzRequest), 'PL-400', 'request');
    expectEnablementError(() => engine.evaluate({ ...egress('x'), principal: 'bob' }), 'PL-400', 'principal');
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), principal: 5 as unknown as string }),
      'PL-400',
      'principal',
    );
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), action: 'network egress' }),
      'PL-400',
      'action',
    );
    expectEnablementError(() => engine.evaluate({ ...egress('x'), action: '' }), 'PL-400', 'action');
    expectEnablementError(() => engine.evaluate({ ...egress('x'), resource: 'a\nb' }), 'PL-400', 'resource');
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), resource: 'r'.repeat(1025) }),
      'PL-400',
      'resource',
    );
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), context: [] as never }),
      'PL-400',
      'context',
    );
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), delegationChain: {} as never }),
      'PL-400',
      'delegationChain',
    );
    expectEnablementError(
      () => engine.evaluate({ ...egress('x'), overrideToken: 5 as never }),
      'PL-400',
      'overrideToken',
    );
    // A malformed request is never cached: asking again fails again.
    expectEnablementError(() => engine.evaluate({ ...egress('x'), principal: 'bob' }), 'PL-400', 'principal');
  });

  it('keeps the accepted policy set when a change is invalid', () => {
    const { engine } = engineWith([permitTransfers]);
    expectEnablementError(
      () => engine.setPolicies([permitTransfers, { id: 'x', effect: 'nope' } as never]),
      'PL-400',
      'policies[1].effect',
    );
    expectEnablementError(() => engine.addPolicy({ ...permitTransfers }), 'PL-409');
    expectEnablementError(() => engine.addPolicy({ id: 'y' } as never), 'PL-400', 'policy.effect');
    expect(engine.version).toBe(1);
    expect(engine.policies.map((p) => p.id)).toEqual(['transfers']);
    expect(engine.evaluate(transfer(1)).decision).toBe('allow');
  });

  it('reports a failing attribute source as PL-503, and reads each source at most once per request', () => {
    let calls = 0;
    const { engine } = engineWith(
      [
        {
          id: 'p',
          effect: 'permit',
          when: {
            and: [
              { attr: 'principal.a', op: 'exists' },
              { attr: 'principal.b', op: 'exists' },
            ],
          },
        },
      ],
      {
        principalAttributes: (nhi) => {
          calls++;
          if (nhi === otherAgent) throw new Error('registry down');
          return { a: 1, b: 2 };
        },
      },
    );
    expect(engine.evaluate(egress('x')).decision).toBe('allow');
    expect(calls).toBe(1);
    const error = expectEnablementError(
      () => engine.evaluate(egress('x', otherAgent)),
      'PL-503',
      'principalAttributes',
    );
    expect(error.retryable).toBe(true);
  });
});

describe('check() and the AuthzClient port', () => {
  it('check() answers like evaluate()', async () => {
    const { engine } = engineWith([permitTransfers, largeTransfer]);
    const decision: AuthzDecision = await engine.check(transfer(50000));
    expect(decision).toEqual(engine.evaluate(transfer(50000)));
    expect((await rejection(engine.check({ ...transfer(1), principal: 'x' }))).code).toBe('PL-400');
  });
});

describe('checkQuota', () => {
  it('allows everything when no quota source is configured', async () => {
    const { engine } = engineWith([]);
    expect(await engine.checkQuota(agent, 'inference_tokens')).toEqual({
      decision: 'allow',
      reason: 'no quota configured',
    });
    expect(await engine.checkQuota(agentKeys.identity, 'inference_tokens', '12.5')).toMatchObject({
      decision: 'allow',
    });
  });

  it('delegates to the quota source with an exact amount', async () => {
    const seen: unknown[] = [];
    const quotaSource: QuotaSource = {
      checkQuota: async (query) => {
        seen.push(query);
        return {
          decision: 'allow_with_notification',
          usage: Decimal.parse('95000'),
          limit: Decimal.parse('100000'),
          reason: '95% of the monthly quota',
        };
      },
    };
    const { engine } = engineWith([], { quotaSource });
    const decision = await engine.checkQuota(agentKeys.identity, 'inference_tokens', 1000n);
    expect(decision.decision).toBe('allow_with_notification');
    expect(decision.usage?.toString()).toBe('95000');
    expect(seen).toEqual([{ agent, eventType: 'inference_tokens', amount: Decimal.parse('1000') }]);
  });

  it('validates input and the source answer', async () => {
    const answers: unknown[] = [
      { decision: 'maybe', reason: 'x' },
      { decision: 'block', usage: 5, reason: 'x' },
      null,
    ];
    const quotaSource = { checkQuota: () => answers.shift() as never };
    const { engine } = engineWith([], { quotaSource });
    for (let i = 0; i < 3; i++) expect((await rejection(engine.checkQuota(agent, 'e'))).code).toBe('PL-500');
    expect((await rejection(engine.checkQuota('bob', 'e'))).message).toContain('agent');
    expect((await rejection(engine.checkQuota(agent, ''))).message).toContain('eventType');
    expect((await rejection(engine.checkQuota(agent, 'e', 5 as never))).message).toContain('amount');
    const failing = engineWith([], {
      quotaSource: { checkQuota: () => Promise.reject(new Error('down')) },
    }).engine;
    const error = await rejection(failing.checkQuota(agent, 'e'));
    expect(error.code).toBe('PL-503');
    expect(error.retryable).toBe(true);
  });
});
