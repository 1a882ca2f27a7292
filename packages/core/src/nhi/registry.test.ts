import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeHybridSignature } from '../crypto/hybrid.js';
import { DelegationChain } from '../delegation/chain.js';
import { type DelegationLink, delegationLinkId, issueDelegation } from '../delegation/link.js';
import { utf8ToBytes } from '../encoding/bytes.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import type { PrincipalKind } from '../identity/nhi.js';
import { registrationProof, registrationProofBytes } from './principal.js';
import { createNhiRegistry, type NhiRegistryOptions, type RevocationEvent } from './registry.js';

const HOUR = 3_600_000_000_000n;
const pair = (n: number, kind: PrincipalKind = 'agent', postQuantum = false) =>
  AgentKeyPair.fromSeed(new Uint8Array(32).fill(n), { kind, postQuantum });

const HUMAN = pair(1, 'human');
const A = pair(2);
const B = pair(3);
const C = pair(4);
const PQ = pair(5, 'agent', true);
const MALLORY_PQ = pair(6, 'agent', true);
const MESSAGE = utf8ToBytes('{"event":"usage"}');

function registry(options: NhiRegistryOptions = {}) {
  const clock = new FakeClock();
  return { clock, nhi: createNhiRegistry({ clock, ...options }) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('NHI registry: principals', () => {
  it('registers and looks up principals with their attributes', async () => {
    const { clock, nhi } = registry();
    const registered = await nhi.register({
      identity: HUMAN.identity,
      displayName: 'Ada',
      roles: ['finance-approver', 'finance-approver', 'admin'],
      groups: ['team:payments'],
      attributes: { region: 'eu', level: 3, oncall: true },
    });
    expect(registered).toMatchObject({
      nhi: HUMAN.identity.nhi,
      kind: 'human',
      displayName: 'Ada',
      roles: ['finance-approver', 'admin'],
      groups: ['team:payments'],
      attributes: { region: 'eu', level: 3, oncall: true },
      registeredAt: clock.now(),
    });
    expect(Object.isFrozen(registered)).toBe(true);
    expect(Object.isFrozen(registered.roles)).toBe(true);
    expect(await nhi.lookup(HUMAN.identity.nhi)).toBe(registered);
    expect(nhi.lookupSync(HUMAN.identity)).toBe(registered);
    expect(nhi.status(HUMAN.identity)).toBe('active');
    expect(nhi.status(A.identity)).toBe('unknown');
    expect(nhi.status('garbage')).toBe('unknown');
    expect(nhi.size).toBe(1);

    clock.advance(1);
    const updated = await nhi.updateAttributes(HUMAN.identity, { roles: ['viewer'] });
    expect(updated).toMatchObject({ roles: ['viewer'], displayName: 'Ada', updatedAt: clock.now() });
    expect(updated.registeredAt).toBe(registered.registeredAt);
  });

  it('answers PL-404 for unknown, PL-400 for malformed, PL-409 for duplicates and when full', async () => {
    const { nhi } = registry({ maxPrincipals: 2 });
    await expectEnablementRejection(nhi.lookup(A.identity), 'PL-404');
    await expectEnablementRejection(nhi.lookup('agent:nhi:ed25519:0OIl'), 'PL-400');
    await expectEnablementRejection(nhi.lookup(42 as never), 'PL-400');
    await nhi.register({ identity: A.identity.nhi });
    await expectEnablementRejection(nhi.register({ identity: A.identity }), 'PL-409');
    await nhi.register({ identity: B.identity });
    await expectEnablementRejection(nhi.register({ identity: C.identity }), 'PL-409');
    await expectEnablementRejection(nhi.register({ identity: {} as never }), 'PL-400');
    await expectEnablementRejection(nhi.register(null as never), 'PL-400');
    await expectEnablementRejection(nhi.updateAttributes(C.identity, { roles: [] }), 'PL-404');
  });

  it('rejects hostile attributes with PL-400 and registers nothing', async () => {
    const { nhi } = registry();
    const hostile = [
      { attributes: JSON.parse('{"__proto__": "x"}') },
      { attributes: { constructor: 'x' } },
      { attributes: { 'bad name': 'x' } },
      { attributes: { n: Number.NaN } },
      { attributes: { o: { nested: true } } as never },
      { attributes: ['a'] as never },
      { roles: Array.from({ length: 65 }, (_, i) => `r${i}`) },
      { roles: [''] },
      { roles: 'admin' as never },
      { groups: ['x'.repeat(129)] },
      { displayName: 'x'.repeat(257) },
      { displayName: 7 as never },
    ];
    for (const attrs of hostile) {
      await expectEnablementRejection(nhi.register({ identity: A.identity, ...attrs }), 'PL-400');
    }
    expect(nhi.size).toBe(0);
    const ok = await nhi.register({ identity: A.identity, attributes: { 'team.name': 'x', _n: 1 } });
    expect(Object.getPrototypeOf(ok.attributes)).toBe(Object.prototype);
  });

  it('requires proof of possession for an ML-DSA-65 key', async () => {
    const { nhi } = registry();
    await expectEnablementRejection(nhi.register({ identity: PQ.identity }), 'PL-401');
    // Mallory pairs PQ's Ed25519 key (its NHI) with her own ML-DSA-65 key and signs with her keys.
    const paired = AgentIdentity.fromPublicKeys(
      'agent',
      PQ.identity.publicKeyEd25519,
      MALLORY_PQ.identity.publicKeyMlDsa65,
    );
    const malloryProof = MALLORY_PQ.signHybrid(registrationProofBytes(paired));
    await expectEnablementRejection(nhi.register({ identity: paired, proof: malloryProof }), 'PL-401');
    // A proof for another identity does not transfer.
    await expectEnablementRejection(
      nhi.register({ identity: PQ.identity, proof: registrationProof(MALLORY_PQ) }),
      'PL-401',
    );
    await expectEnablementRejection(nhi.register({ identity: PQ.identity, proof: {} as never }), 'PL-401');
    await expectEnablementRejection(
      nhi.register({ identity: A.identity, proof: registrationProof(PQ) }),
      'PL-400',
    );
    const registered = await nhi.register({ identity: PQ.identity, proof: registrationProof(PQ) });
    expect(registered.identity.hasPostQuantumKey).toBe(true);
  });
});

describe('NHI registry: signatures', () => {
  it('validates Ed25519 signatures with the registered key', async () => {
    const { nhi } = registry();
    await nhi.register({ identity: A.identity });
    expect((await nhi.validateSignature(A.identity, MESSAGE, A.sign(MESSAGE))).nhi).toBe(A.identity.nhi);
    expect(nhi.validateSignatureSync(A.identity.nhi, MESSAGE, A.sign(MESSAGE)).nhi).toBe(A.identity.nhi);
    // Forged: signed by another key; tampered message; truncated or garbage signature.
    await expectEnablementRejection(nhi.validateSignature(A.identity, MESSAGE, B.sign(MESSAGE)), 'PL-401');
    await expectEnablementRejection(
      nhi.validateSignature(A.identity, utf8ToBytes('{"event":"usagf"}'), A.sign(MESSAGE)),
      'PL-401',
    );
    await expectEnablementRejection(
      nhi.validateSignature(A.identity, MESSAGE, A.sign(MESSAGE).slice(1)),
      'PL-401',
    );
    await expectEnablementRejection(nhi.validateSignature(A.identity, MESSAGE, new Uint8Array(64)), 'PL-401');
    await expectEnablementRejection(nhi.validateSignature(A.identity, MESSAGE, 'sig' as never), 'PL-400');
    await expectEnablementRejection(
      nhi.validateSignature(A.identity, 'msg' as never, A.sign(MESSAGE)),
      'PL-400',
    );
    await expectEnablementRejection(nhi.validateSignature(B.identity, MESSAGE, B.sign(MESSAGE)), 'PL-404');
  });

  it('validates hybrid signatures only with a registered ML-DSA-65 key, never downgraded', async () => {
    const { nhi } = registry();
    await nhi.register({ identity: PQ.identity, proof: registrationProof(PQ) });
    await nhi.register({ identity: A.identity });
    const signature = PQ.signHybrid(MESSAGE);
    await nhi.validateHybridSignature(PQ.identity, MESSAGE, signature);
    nhi.validateHybridSignatureSync(PQ.identity, MESSAGE, encodeHybridSignature(signature));
    // The caller's identity object carries no weight: the registry's keys are used.
    const otherHalf = MALLORY_PQ.signHybrid(MESSAGE);
    const mixed = { ed25519: signature.ed25519, mlDsa65: otherHalf.mlDsa65 };
    await expectEnablementRejection(nhi.validateHybridSignature(PQ.identity, MESSAGE, mixed), 'PL-401');
    await expectEnablementRejection(
      nhi.validateHybridSignature(PQ.identity, MESSAGE, new Uint8Array(3372)),
      'PL-401',
    );
    await expectEnablementRejection(
      nhi.validateHybridSignature(PQ.identity, utf8ToBytes('x'), signature),
      'PL-401',
    );
    await expectEnablementRejection(nhi.validateHybridSignature(A.identity, MESSAGE, signature), 'PL-401');
    await expectEnablementRejection(
      nhi.validateHybridSignature(PQ.identity, MESSAGE, null as never),
      'PL-400',
    );
  });
});

describe('NHI registry: revocation', () => {
  it('makes every later check of a revoked principal fail with PL-410 and tells listeners once', async () => {
    const { clock, nhi } = registry();
    await nhi.register({ identity: A.identity });
    await nhi.bindIdentity('sb-1', A.identity);
    const events: RevocationEvent[] = [];
    const unsubscribe = nhi.onRevocation((event) => events.push(event));
    await nhi.revoke(A.identity, { reason: 'key compromised' });
    await nhi.revoke(A.identity); // idempotent
    expect(events).toEqual([
      { ref: { kind: 'principal', nhi: A.identity.nhi }, at: clock.now(), reason: 'key compromised' },
    ]);
    await expectEnablementRejection(nhi.lookup(A.identity), 'PL-410');
    await expectEnablementRejection(nhi.validateSignature(A.identity, MESSAGE, A.sign(MESSAGE)), 'PL-410');
    await expectEnablementRejection(nhi.bindIdentity('sb-2', A.identity), 'PL-410');
    await expectEnablementRejection(nhi.updateAttributes(A.identity, {}), 'PL-410');
    await expectEnablementRejection(nhi.register({ identity: A.identity }), 'PL-410');
    expect(await nhi.boundIdentity('sb-1')).toBeUndefined();
    expect(nhi.status(A.identity)).toBe('revoked');
    expect(await nhi.isRevoked({ kind: 'principal', nhi: A.identity.nhi })).toBe(true);
    expect(nhi.revocationChecker.isRevoked({ kind: 'principal', nhi: A.identity.nhi })).toBe(true);
    unsubscribe();
    await nhi.revoke(B.identity);
    expect(events).toHaveLength(1);
  });

  it('revokes unregistered principals pre-emptively and refuses their registration', async () => {
    const { nhi } = registry();
    await nhi.revoke(B.identity.nhi);
    expect(nhi.status(B.identity)).toBe('revoked');
    await expectEnablementRejection(nhi.register({ identity: B.identity }), 'PL-410');
    await expectEnablementRejection(nhi.revoke('not an nhi'), 'PL-400');
    await expectEnablementRejection(nhi.revoke(A.identity, { reason: 'x'.repeat(257) }), 'PL-400');
    expect(nhi.status(A.identity)).toBe('unknown');
  });

  it('isolates a throwing listener and reports it', async () => {
    const reported: unknown[] = [];
    const { nhi } = registry({ onListenerError: (error) => reported.push(error) });
    const seen: string[] = [];
    nhi.onRevocation(() => {
      throw new Error('listener broke');
    });
    nhi.onRevocation((event) => seen.push(event.ref.kind));
    await nhi.revoke(A.identity);
    expect(seen).toEqual(['principal']);
    expect((reported[0] as Error).message).toBe('listener broke');
    expectEnablementError(() => nhi.onRevocation('x' as never), 'PL-400');
  });

  it('rethrows a listener error from a microtask when there is no hook', async () => {
    const queued: (() => void)[] = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      queued.push(task);
    });
    const { nhi } = registry();
    nhi.onRevocation(() => {
      throw new Error('unhandled listener error');
    });
    nhi.revokeLink('a'.repeat(64));
    vi.restoreAllMocks();
    expect(queued).toHaveLength(1);
    expect(() => queued[0]?.()).toThrow('unhandled listener error');
  });

  it('bounds the revocation list and listeners', async () => {
    const { nhi } = registry({ maxRevocations: 1 });
    await nhi.revoke(A.identity);
    await expectEnablementRejection(nhi.revoke(B.identity), 'PL-409');
    expect(nhi.status(B.identity)).toBe('unknown');
    const many = registry().nhi;
    for (let i = 0; i < 1024; i++) many.onRevocation(() => undefined);
    expectEnablementError(() => many.onRevocation(() => undefined), 'PL-409');
  });
});

describe('NHI registry: sandbox binding', () => {
  it('binds one agent per sandbox', async () => {
    const { nhi } = registry({ maxSandboxBindings: 2 });
    await nhi.register({ identity: A.identity });
    await nhi.register({ identity: B.identity });
    await nhi.bindIdentity('sb-1', A.identity);
    await nhi.bindIdentity('sb-1', A.identity.nhi); // idempotent
    await expectEnablementRejection(nhi.bindIdentity('sb-1', B.identity), 'PL-409');
    expect((await nhi.boundIdentity('sb-1'))?.equals(A.identity)).toBe(true);
    await nhi.bindIdentity('sb-2', A.identity); // one agent, many sandboxes
    await expectEnablementRejection(nhi.bindIdentity('sb-3', B.identity), 'PL-409'); // full
    expect(await nhi.unbindIdentity('sb-1')).toBe(true);
    expect(await nhi.unbindIdentity('sb-1')).toBe(false);
    await nhi.bindIdentity('sb-1', B.identity);
    expect((await nhi.boundIdentity('sb-1'))?.equals(B.identity)).toBe(true);
    await expectEnablementRejection(nhi.bindIdentity('sb-4', C.identity), 'PL-404');
    await expectEnablementRejection(nhi.bindIdentity('sandbox-1', A.identity), 'PL-400');
    await expectEnablementRejection(nhi.boundIdentity('sb-1:x'), 'PL-400');
  });
});

describe('NHI registry: delegation chains', () => {
  async function setup() {
    const { clock, nhi } = registry();
    for (const p of [HUMAN, A, B, C]) await nhi.register({ identity: p.identity });
    const t0 = clock.now();
    const issue = (issuer: AgentKeyPair, subject: AgentKeyPair, action: string): DelegationLink =>
      issueDelegation({
        issuer,
        subject: subject.identity,
        capabilities: [{ action, resource: 'invoice:*' }],
        expiresAt: t0 + HOUR,
        clock,
      });
    const links = [
      issue(HUMAN, A, 'payment.*'),
      issue(A, B, 'payment.approve'),
      issue(B, C, 'payment.approve'),
    ];
    return { clock, nhi, links };
  }

  it('validates a 3-link chain with registry revocation and the registry clock', async () => {
    const { clock, nhi, links } = await setup();
    const chain = await nhi.validateDelegationChain(links);
    expect(chain.current().nhi).toBe(C.identity.nhi);
    nhi.validateDelegationChainSync(DelegationChain.from(links), { requireRegistered: 'all' });
    clock.advance(3_600_000); // the links expire on the registry clock
    await expectEnablementRejection(nhi.validateDelegationChain(links), 'PL-403');
  });

  it('fails with PL-410 when a principal or a link of the chain is revoked', async () => {
    const { nhi, links } = await setup();
    await nhi.revoke(B.identity);
    await expectEnablementRejection(nhi.validateDelegationChain(links), 'PL-410');
    expectEnablementError(() => nhi.validateDelegationChainSync(links), 'PL-410');
    // The registry is the delegation module's RevocationChecker port.
    await expectEnablementRejection(
      DelegationChain.from(links).validate({ clock: new FakeClock(), revocation: nhi }),
      'PL-410',
    );
    const fresh = await setup();
    await fresh.nhi.revokeLink(delegationLinkId(fresh.links[1] as DelegationLink));
    await expectEnablementRejection(fresh.nhi.validateDelegationChain(fresh.links), 'PL-410');
    await expectEnablementRejection(fresh.nhi.revokeLink('XYZ'), 'PL-400');
  });

  it('fails with PL-401 for a forged link', async () => {
    const { nhi, links } = await setup();
    const [first, second, third] = links as [DelegationLink, DelegationLink, DelegationLink];
    const forged = { ...second, signature: new Uint8Array(64).fill(1) };
    await expectEnablementRejection(nhi.validateDelegationChain([first, forged, third]), 'PL-401');
  });

  it('requires the root (or, on request, every principal) to be registered', async () => {
    const { clock, nhi } = registry();
    await nhi.register({ identity: A.identity });
    const selfMinted = pair(9, 'human'); // anyone can mint a human: NHI
    const link = issueDelegation({
      issuer: selfMinted,
      subject: A.identity,
      capabilities: [{ action: '*', resource: '*' }],
      expiresAt: clock.now() + HOUR,
      clock,
    });
    await expectEnablementRejection(nhi.validateDelegationChain([link]), 'PL-403');
    await nhi.register({ identity: selfMinted.identity });
    await nhi.validateDelegationChain([link]);
    const toUnknown = issueDelegation({
      issuer: A,
      subject: B.identity,
      capabilities: [{ action: 'x', resource: 'y' }],
      expiresAt: clock.now() + HOUR,
      clock,
    });
    await nhi.validateDelegationChain([link, toUnknown]);
    await expectEnablementRejection(
      nhi.validateDelegationChain([link, toUnknown], { requireRegistered: 'all' }),
      'PL-403',
    );
    await expectEnablementRejection(
      nhi.validateDelegationChain([link], { requireRegistered: 'some' as never }),
      'PL-400',
    );
    await expectEnablementRejection(
      nhi.validateDelegationChain([link], { trustedRoots: [HUMAN.identity.nhi] }),
      'PL-403',
    );
    await expectEnablementRejection(nhi.validateDelegationChain([]), 'PL-403');
  });
});

describe('NHI registry: verifyDelegation (spec §6.2)', () => {
  async function setup(options: NhiRegistryOptions = {}) {
    const { clock, nhi } = registry(options);
    await nhi.register({ identity: HUMAN.identity });
    const t0 = clock.now();
    const issue = (issuer: AgentKeyPair, subject: AgentKeyPair, expiresAt = t0 + HOUR): DelegationLink =>
      issueDelegation({
        issuer,
        subject: subject.identity,
        capabilities: [{ action: 'payment.*', resource: 'invoice:*' }],
        expiresAt,
        clock,
      });
    return { clock, nhi, issue };
  }

  it('is true only for links of a chain the registry validated', async () => {
    const { nhi, issue } = await setup();
    const links = [issue(HUMAN, A), issue(A, B)];
    // Nothing validated yet: names alone prove nothing.
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(false);
    await nhi.validateDelegationChain(links);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(true);
    expect(await nhi.verifyDelegation(A.identity, B.identity)).toBe(true);
    expect(nhi.verifyDelegationSync(A.identity.nhi, B.identity.nhi)).toBe(true);
    // Direction, skipped levels and strangers do not verify.
    expect(await nhi.verifyDelegation(A.identity.nhi, HUMAN.identity.nhi)).toBe(false);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, B.identity.nhi)).toBe(false);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, C.identity.nhi)).toBe(false);
    // Malformed names were never recorded; a non-reference is PL-400.
    expect(await nhi.verifyDelegation('garbage', A.identity.nhi)).toBe(false);
    await expectEnablementRejection(nhi.verifyDelegation(42 as never, A.identity.nhi), 'PL-400');
    expectEnablementError(() => nhi.verifyDelegationSync(HUMAN.identity.nhi, null as never), 'PL-400');
  });

  it('records nothing from a chain that fails validation (forged, unregistered root, revoked)', async () => {
    const { nhi, issue } = await setup();
    const good = issue(HUMAN, A);
    const forged = { ...issue(A, B), signature: new Uint8Array(64).fill(1) };
    await expectEnablementRejection(nhi.validateDelegationChain([good, forged]), 'PL-401');
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(false);
    const selfMinted = pair(9, 'human');
    await expectEnablementRejection(nhi.validateDelegationChain([issue(selfMinted, A)]), 'PL-403');
    expect(await nhi.verifyDelegation(selfMinted.identity.nhi, A.identity.nhi)).toBe(false);
    expectEnablementError(() => nhi.validateDelegationChainSync([issue(HUMAN, A), forged]), 'PL-401');
    expect(nhi.verifyDelegationSync(HUMAN.identity.nhi, A.identity.nhi)).toBe(false);
  });

  it('stops verifying when the link, the parent or the child is revoked', async () => {
    for (const revoke of ['link', 'parent', 'child'] as const) {
      const { nhi, issue } = await setup();
      const links = [issue(HUMAN, A), issue(A, B)];
      await nhi.validateDelegationChain(links);
      if (revoke === 'link') await nhi.revokeLink(delegationLinkId(links[1] as DelegationLink));
      if (revoke === 'parent') await nhi.revoke(A.identity);
      if (revoke === 'child') await nhi.revoke(B.identity);
      expect(await nhi.verifyDelegation(A.identity.nhi, B.identity.nhi)).toBe(false);
      expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(revoke !== 'parent');
    }
  });

  it('stops verifying when the link expires; another unexpired link of the pair still verifies', async () => {
    const { clock, nhi, issue } = await setup();
    const t0 = clock.now();
    const short = issue(HUMAN, A, t0 + 1_000_000n); // 1 ms
    await nhi.validateDelegationChain([short]);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(true);
    clock.advance(1);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(false);
    const long = issue(HUMAN, A, clock.now() + HOUR);
    await nhi.validateDelegationChain([long]);
    await nhi.validateDelegationChain([long]); // again: recorded once
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(true);
    expect(nhi.verifiedLinks).toBe(1);
  });

  it('holds at most maxVerifiedLinks, evicting the least recently validated', async () => {
    const { nhi, issue } = await setup({ maxVerifiedLinks: 2 });
    const toA = issue(HUMAN, A);
    const toB = issue(HUMAN, B);
    const toC = issue(HUMAN, C);
    await nhi.validateDelegationChain([toA]);
    await nhi.validateDelegationChain([toB]);
    await nhi.validateDelegationChain([toA]); // refreshed: B is now the oldest
    await nhi.validateDelegationChain([toC]);
    expect(nhi.verifiedLinks).toBe(2);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, A.identity.nhi)).toBe(true);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, B.identity.nhi)).toBe(false);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, C.identity.nhi)).toBe(true);
    // Validating the evicted link again records it again.
    await nhi.validateDelegationChain([toB]);
    expect(await nhi.verifyDelegation(HUMAN.identity.nhi, B.identity.nhi)).toBe(true);
    expect(() => createNhiRegistry({ maxVerifiedLinks: 0 })).toThrow(/maxVerifiedLinks/);
  });
});

describe('createNhiRegistry options', () => {
  it('validates options, naming the option', () => {
    expect(() => createNhiRegistry({ maxPrincipals: 0 })).toThrow(/maxPrincipals/);
    expect(() => createNhiRegistry({ maxOneTimePrekeys: 10_001 })).toThrow(/maxOneTimePrekeys/);
    expect(() => createNhiRegistry({ clock: { now: () => 0n } as never })).toThrow(/clock/);
    expect(() => createNhiRegistry({ provider: {} as never })).toThrow(/provider/);
    expect(() => createNhiRegistry({ maxUsers: 1 } as never)).toThrow(/maxUsers/);
    expectEnablementError(() => createNhiRegistry({ maxPrincipals: -1 }), 'PL-400');
  });
});
