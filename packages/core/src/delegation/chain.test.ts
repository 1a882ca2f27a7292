import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../errors/catalogue.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import type { PrincipalKind } from '../identity/nhi.js';
import type { Clock } from '../time/clock.js';
import { DelegationChain, MAX_CHAIN_LINKS } from './chain.js';
import { type DelegationLink, delegationLinkId, issueDelegation } from './link.js';
import type { Capability } from './pattern.js';
import { createRevocationList, type RevocationChecker, type RevocationRef } from './revocation.js';

const T0 = 1_700_000_000_000_000_000n;
const HOUR = 3_600_000_000_000n;

function clockAt(t: bigint): Clock {
  return { now: () => t, schedule: () => () => undefined };
}

const issueClock = clockAt(T0);
const now = clockAt(T0 + HOUR);

function pair(n: number, kind: PrincipalKind = 'agent'): AgentKeyPair {
  return AgentKeyPair.fromSeed(new Uint8Array(32).fill(n), { kind });
}

const H = pair(1, 'human');
const A = pair(2);
const B = pair(3);
const C = pair(4);
const S = pair(5, 'service');
const H2 = pair(6, 'human');

function link(
  issuer: AgentKeyPair,
  subject: AgentKeyPair,
  capabilities: Capability[],
  window: { notBefore?: bigint; expiresAt?: bigint } = {},
): DelegationLink {
  return issueDelegation({
    issuer,
    subject: subject.identity,
    capabilities,
    notBefore: window.notBefore ?? T0,
    expiresAt: window.expiresAt ?? T0 + 10n * HOUR,
    clock: issueClock,
  });
}

const HA = link(H, A, [
  { action: 'payment.*', resource: 'invoice:*' },
  { action: 'messaging:send', resource: 'agent:*' },
]);
const AB = link(A, B, [{ action: 'payment.approve', resource: 'invoice:*' }], { expiresAt: T0 + 5n * HOUR });
const BC = link(B, C, [{ action: 'payment.approve', resource: 'invoice:42' }], {
  notBefore: T0 + 1n,
  expiresAt: T0 + 2n * HOUR,
});
const VALID = DelegationChain.from([HA, AB, BC]);

/** Both validators must fail the same way. */
async function expectInvalid(
  chain: DelegationChain,
  code: ErrorCode,
  message: RegExp,
  options: { clock?: Clock; maxLength?: number; trustedRoots?: string[] } = {},
): Promise<void> {
  const opts = { clock: now, ...options };
  const asyncError = await expectEnablementRejection(chain.validate(opts), code, message);
  const syncError = expectEnablementError(() => chain.validateSync(opts), code);
  expect(syncError.message).toBe(asyncError.message);
}

describe('DelegationChain basics', () => {
  it('validates a well-formed chain', async () => {
    await expect(VALID.validate({ clock: now })).resolves.toBeUndefined();
    expect(() => VALID.validateSync({ clock: now })).not.toThrow();
    expect(VALID.length).toBe(3);
    expect(VALID.root().equals(H.identity)).toBe(true);
    expect(VALID.current().equals(C.identity)).toBe(true);
    expect(String(VALID)).toContain(H.identity.nhi);
  });

  it('accepts a service root and a single link', async () => {
    await expect(DelegationChain.from([link(S, A, [])]).validate({ clock: now })).resolves.toBeUndefined();
  });

  it('extends into a new chain and leaves the original unchanged', async () => {
    const short = DelegationChain.from([HA]);
    const longer = short.extend(AB);
    expect(short.length).toBe(1);
    expect(longer.length).toBe(2);
    expect(longer.current().equals(B.identity)).toBe(true);
    await expect(longer.validate({ clock: now })).resolves.toBeUndefined();
  });

  it('is not changed by mutating the input links or the returned links', () => {
    const input = { ...HA, signature: HA.signature.slice(), nonce: HA.nonce.slice() };
    const chain = DelegationChain.from([input]);
    input.signature.fill(0);
    input.nonce.fill(0);
    const out = chain.links[0] as DelegationLink;
    out.signature.fill(0);
    expect(Object.isFrozen(chain.links)).toBe(true);
    expect(() => chain.validateSync({ clock: now })).not.toThrow();
  });

  it('rejects non-array input and more than MAX_CHAIN_LINKS links at construction', () => {
    expect(() => DelegationChain.from('links' as never)).toThrow(/links: expected an array/);
    const tooMany = Array.from({ length: MAX_CHAIN_LINKS + 1 }, () => HA);
    expectEnablementError(() => DelegationChain.from(tooMany), 'PL-400');
    const full = DelegationChain.from(tooMany.slice(1));
    expectEnablementError(() => full.extend(HA), 'PL-400');
  });

  it('reports which link is structurally invalid', () => {
    expectEnablementError(
      () => DelegationChain.from([HA, { ...AB, nonce: new Uint8Array(3) }]),
      'PL-400',
      /^links\[1\]\.nonce: /,
    );
  });
});

describe('DelegationChain.validate failures', () => {
  it('rejects an empty chain', async () => {
    const empty = DelegationChain.from([]);
    await expectInvalid(empty, 'PL-403', /empty/);
    expectEnablementError(() => empty.root(), 'PL-403');
    expectEnablementError(() => empty.current(), 'PL-403');
  });

  it('rejects chains longer than maxLength (default 16)', async () => {
    const pairs = [H, ...Array.from({ length: 17 }, (_, i) => pair(100 + i))];
    const links = pairs.slice(1).map((subject, i) => link(pairs[i] as AgentKeyPair, subject, []));
    const chain = DelegationChain.from(links);
    await expectInvalid(chain, 'PL-403', /17 links, more than the maximum of 16/);
    await expect(chain.validate({ clock: now, maxLength: 17 })).resolves.toBeUndefined();
    await expectInvalid(DelegationChain.from(links.slice(0, 3)), 'PL-403', /more than the maximum of 2/, {
      maxLength: 2,
    });
  });

  it('rejects invalid options with PL-400', async () => {
    for (const maxLength of [0, MAX_CHAIN_LINKS + 1, 1.5, Number.NaN]) {
      await expectInvalid(VALID, 'PL-400', /maxLength/, { maxLength });
    }
    await expectInvalid(VALID, 'PL-400', /clock/, { clock: {} as Clock });
  });

  it('rejects a root that is an agent', async () => {
    await expectInvalid(
      DelegationChain.from([AB, BC]),
      'PL-403',
      /link 0 of 2 .*root issuer must be a human or service principal, not agent/,
    );
  });

  it('rejects a root outside trustedRoots when they are given', async () => {
    await expectInvalid(VALID, 'PL-403', /not a trusted root/, { trustedRoots: [H2.identity.nhi] });
    await expect(VALID.validate({ clock: now, trustedRoots: [H.identity.nhi] })).resolves.toBeUndefined();
  });

  it('rejects a broken issuer/subject alignment', async () => {
    await expectInvalid(
      DelegationChain.from([HA, BC]),
      'PL-403',
      /link 1 of 2 .*issuer is not the subject of link 0/,
    );
  });

  it('rejects an expired link, exactly at expiresAt', async () => {
    await expectInvalid(VALID, 'PL-403', /link 2 of 3 .*expired at/, { clock: clockAt(T0 + 2n * HOUR) });
    await expect(VALID.validate({ clock: clockAt(T0 + 2n * HOUR - 1n) })).resolves.toBeUndefined();
  });

  it('rejects a link that is not valid yet, until exactly notBefore', async () => {
    await expectInvalid(VALID, 'PL-403', /link 2 of 3 .*not valid before/, { clock: clockAt(T0) });
    await expect(VALID.validate({ clock: clockAt(T0 + 1n) })).resolves.toBeUndefined();
  });

  it("rejects a child window outside its parent's", async () => {
    const endsLater = link(A, B, [], { expiresAt: T0 + 11n * HOUR });
    await expectInvalid(DelegationChain.from([HA, endsLater]), 'PL-403', /link 1 of 2 .*not inside link 0/);
    const parent = link(H, A, [], { notBefore: T0 + 1n });
    const startsEarlier = link(A, B, [], { notBefore: T0 });
    await expectInvalid(DelegationChain.from([parent, startsEarlier]), 'PL-403', /not inside link 0/);
  });

  it('rejects an over-broad child capability', async () => {
    const narrow = link(H, A, [{ action: 'payment.approve', resource: '*' }]);
    const broad = link(A, B, [{ action: 'payment.*', resource: '*' }]);
    await expectInvalid(
      DelegationChain.from([narrow, broad]),
      'PL-403',
      /link 1 of 2 .*capability \{ action: payment\.\*, resource: \* \} is not covered by link 0/,
    );
    const otherResource = link(A, B, [
      { action: 'payment.approve', resource: 'invoice:1' },
      { action: 'x', resource: 'y' },
    ]);
    await expectInvalid(DelegationChain.from([narrow, otherResource]), 'PL-403', /action: x, resource: y/);
  });

  it('rejects a link replayed from another chain', async () => {
    // Alignment: B→C belongs after A→B, not after H→A.
    await expectInvalid(DelegationChain.from([HA, BC]), 'PL-403', /issuer is not the subject/);
    // Same subject, different parent: the replayed link carries no power its new parent lacks.
    const messagingOnly = link(H2, A, [{ action: 'messaging:send', resource: '*' }]);
    await expectInvalid(DelegationChain.from([messagingOnly, AB]), 'PL-403', /not covered by link 0/);
    // ...nor a longer life.
    const shortParent = link(H2, A, [{ action: '*', resource: '*' }], { expiresAt: T0 + 2n * HOUR });
    await expectInvalid(DelegationChain.from([shortParent, AB]), 'PL-403', /not inside link 0/);
  });

  it('rejects a link whose signature was made by someone else', async () => {
    const forged = { ...link(B, C, [{ action: '*', resource: '*' }]), issuer: H.identity.nhi };
    await expectInvalid(DelegationChain.from([forged]), 'PL-401', /link 0 of 1 .*signature does not verify/);
  });

  it('checks the signature before anything else in the link', async () => {
    // Forged link that is also expired, misaligned and over-broad: the signature is what fails.
    const forged = {
      ...AB,
      issuer: B.identity.nhi,
      expiresAt: T0 + 100n * HOUR,
      capabilities: [{ action: '*', resource: '*' }],
    };
    await expectInvalid(
      DelegationChain.from([HA, forged]),
      'PL-401',
      /link 1 of 2 .*signature does not verify/,
    );
  });
});

type Field = 'issuer' | 'subject' | 'action' | 'resource' | 'notBefore' | 'expiresAt' | 'nonce' | 'signature';

function flipBit(
  original: DelegationLink,
  field: Field,
  position: number,
  bit: number,
): Record<string, unknown> {
  const flipChar = (text: string) => {
    const i = position % text.length;
    return text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ (1 << (bit % 16))) + text.slice(i + 1);
  };
  const flipBytes = (bytes: Uint8Array) => {
    const copy = bytes.slice();
    const i = position % copy.length;
    copy[i] = (copy[i] as number) ^ (1 << (bit % 8));
    return copy;
  };
  const caps = original.capabilities.map((c) => ({ ...c }));
  const cap = caps[position % caps.length] as { action: string; resource: string };
  switch (field) {
    case 'issuer':
    case 'subject':
      return { ...original, [field]: flipChar(original[field]) };
    case 'action':
    case 'resource':
      cap[field] = flipChar(cap[field]);
      return { ...original, capabilities: caps };
    case 'notBefore':
    case 'expiresAt':
      return { ...original, [field]: original[field] ^ (1n << BigInt(bit % 63)) };
    case 'nonce':
    case 'signature':
      return { ...original, [field]: flipBytes(original[field]) };
  }
}

describe('tampering', () => {
  it('a flipped bit anywhere in any link fails (PL-400 at construction or PL-401)', () => {
    const links = [HA, AB, BC];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.constantFrom<Field>(
          'issuer',
          'subject',
          'action',
          'resource',
          'notBefore',
          'expiresAt',
          'nonce',
          'signature',
        ),
        fc.nat({ max: 1000 }),
        fc.nat({ max: 62 }),
        (index, field, position, bit) => {
          const mutated = links.map((l, i) => (i === index ? flipBit(l, field, position, bit) : l));
          let chain: DelegationChain;
          try {
            chain = DelegationChain.from(mutated as unknown as DelegationLink[]);
          } catch (error) {
            expect(EnablementError.is(error) && error.code).toBe('PL-400');
            return;
          }
          expectEnablementError(
            () => chain.validateSync({ clock: now }),
            'PL-401',
            `delegation link ${index} of 3`,
          );
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe('revocation', () => {
  it.each<[string, (list: ReturnType<typeof createRevocationList>) => void, RegExp]>([
    [
      'the root',
      (l) => l.revoke({ kind: 'principal', nhi: H.identity.nhi }),
      /link 0 of 3 .*issuer human:nhi:.* is revoked/,
    ],
    [
      'an intermediate agent',
      (l) => l.revoke({ kind: 'principal', nhi: B.identity.nhi }),
      /link 1 of 3 .*subject agent:nhi:.* is revoked/,
    ],
    [
      'the leaf',
      (l) => l.revoke({ kind: 'principal', nhi: C.identity.nhi }),
      /link 2 of 3 .*subject .* is revoked/,
    ],
    [
      'a link',
      (l) => l.revoke({ kind: 'link', id: delegationLinkId(AB) }),
      /link 1 of 3 .*link [0-9a-f]{64} is revoked/,
    ],
  ])('rejects a chain when %s is revoked (PL-410)', async (_label, revoke, message) => {
    const list = createRevocationList();
    revoke(list);
    const asyncError = await expectEnablementRejection(
      VALID.validate({ clock: now, revocation: list }),
      'PL-410',
      message,
    );
    const syncError = expectEnablementError(
      () => VALID.validateSync({ clock: now, revocation: list }),
      'PL-410',
    );
    expect(syncError.message).toBe(asyncError.message);
  });

  it('ignores revocations of unrelated principals and links', async () => {
    const list = createRevocationList();
    list.revoke({ kind: 'principal', nhi: H2.identity.nhi });
    list.revoke({ kind: 'link', id: delegationLinkId(link(H, A, [])) });
    await expect(VALID.validate({ clock: now, revocation: list })).resolves.toBeUndefined();
    expect(() => VALID.validateSync({ clock: now, revocation: list })).not.toThrow();
  });

  it('asks an async port about every principal and link', async () => {
    const asked: RevocationRef[] = [];
    const port: RevocationChecker = {
      isRevoked: async (ref) => {
        asked.push(ref);
        return false;
      },
    };
    await VALID.validate({ clock: now, revocation: port });
    const principals = asked
      .filter((r) => r.kind === 'principal')
      .map((r) => (r.kind === 'principal' ? r.nhi : ''));
    expect(new Set(principals)).toEqual(new Set([H, A, B, C].map((p) => p.identity.nhi)));
    const ids = asked.filter((r) => r.kind === 'link').map((r) => (r.kind === 'link' ? r.id : ''));
    expect(ids).toEqual([HA, AB, BC].map((l) => delegationLinkId(l)));
  });

  it('uses the async answer', async () => {
    const port: RevocationChecker = {
      isRevoked: async (ref) => ref.kind === 'link' && ref.id === delegationLinkId(BC),
    };
    await expectEnablementRejection(VALID.validate({ clock: now, revocation: port }), 'PL-410');
  });

  it('fails closed when the port fails or answers nonsense', async () => {
    const down: RevocationChecker = {
      isRevoked: async () => {
        throw new Error('connection refused');
      },
    };
    const downError = await expectEnablementRejection(
      VALID.validate({ clock: now, revocation: down }),
      'PL-503',
    );
    expect(downError.retryable).toBe(true);

    const typed: RevocationChecker = {
      isRevoked: () => {
        throw new EnablementError('PL-404', 'unknown principal');
      },
    };
    await expectEnablementRejection(VALID.validate({ clock: now, revocation: typed }), 'PL-404');

    const nonsense = { isRevoked: () => 'no' as unknown as boolean };
    await expectEnablementRejection(VALID.validate({ clock: now, revocation: nonsense }), 'PL-500');
    expectEnablementError(() => VALID.validateSync({ clock: now, revocation: nonsense }), 'PL-500');
  });

  it('refuses an async port in validateSync', () => {
    const port = { isRevoked: async () => false } as unknown as { isRevoked: () => boolean };
    expectEnablementError(
      () => VALID.validateSync({ clock: now, revocation: port }),
      'PL-500',
      /use validate\(\)/,
    );
  });
});

describe('allows', () => {
  it('answers for exact, prefix and * patterns at the leaf', () => {
    expect(VALID.allows('payment.approve', 'invoice:42')).toBe(true);
    expect(VALID.allows('payment.approve', 'invoice:43')).toBe(false);
    expect(VALID.allows('payment.refund', 'invoice:42')).toBe(false);
    const ab = DelegationChain.from([HA, AB]);
    expect(ab.allows('payment.approve', 'invoice:7')).toBe(true); // prefix resource
    expect(ab.allows('payment.approve', 'invoice:')).toBe(true);
    expect(ab.allows('payment.approve', 'invoices')).toBe(false);
    const ha = DelegationChain.from([HA]);
    expect(ha.allows('payment.refund', 'invoice:1')).toBe(true); // prefix action
    expect(ha.allows('messaging:send', 'agent:x')).toBe(true);
    expect(ha.allows('messaging:send', 'human:x')).toBe(false);
    const star = DelegationChain.from([link(H, A, [{ action: '*', resource: '*' }])]);
    expect(star.allows('anything', 'at all')).toBe(true);
    expect(star.allows('', '')).toBe(true);
  });

  it('allows nothing for an empty chain or a link without capabilities', () => {
    expect(DelegationChain.from([]).allows('*', '*')).toBe(false);
    expect(DelegationChain.from([link(H, A, [])]).allows('payment.approve', 'invoice:1')).toBe(false);
  });

  it('never grants more than every link grants, even on an unvalidated over-broad chain', () => {
    const narrow = link(H, A, [{ action: 'payment.approve', resource: '*' }]);
    const broad = link(A, B, [{ action: '*', resource: '*' }]);
    const chain = DelegationChain.from([narrow, broad]);
    expect(chain.allows('payment.refund', 'invoice:1')).toBe(false);
    expect(chain.allows('payment.approve', 'invoice:1')).toBe(true);
  });
});
