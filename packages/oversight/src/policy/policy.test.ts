import { AgentKeyPair, type OversightRequirement } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OVERSIGHT_RULES,
  entryMatches,
  matchingTiers,
  namedPrincipals,
  type OversightRules,
  openTiers,
  parseApproverEntry,
  type TallyVote,
  tally,
  validateRequirement,
} from './index.js';

const nhi = (n: number) => AgentKeyPair.fromSeed(new Uint8Array(32).fill(n), { kind: 'human' }).identity.nhi;
const [a, b, c, d] = [nhi(1), nhi(2), nhi(3), nhi(4)];

const req = (tiers: OversightRequirement['tiers']): OversightRequirement => ({
  tiers,
  finalAction: 'auto_deny',
});
const rules = (patch: Partial<OversightRules> = {}): OversightRules => ({
  ...DEFAULT_OVERSIGHT_RULES,
  ...patch,
});
const vote = (
  approver: string,
  decision: 'APPROVE' | 'DENY',
  tiers: number[],
  extra: Partial<TallyVote> = {},
) => ({
  approver,
  decision,
  tiers,
  ...extra,
});

describe('approver entries', () => {
  it('parses NHIs, role: and group: entries, and matches them against a profile', () => {
    expect(parseApproverEntry(a)).toEqual({ kind: 'principal', nhi: a });
    expect(parseApproverEntry('role:cfo')).toEqual({ kind: 'role', name: 'cfo' });
    expect(parseApproverEntry('group:team:payments')).toEqual({ kind: 'group', name: 'team:payments' });
    const profile = { nhi: a, roles: ['cfo'], groups: ['team:payments'] };
    expect(entryMatches(parseApproverEntry('role:cfo'), profile)).toBe(true);
    expect(entryMatches(parseApproverEntry('role:ceo'), profile)).toBe(false);
    expect(entryMatches(parseApproverEntry('group:team:payments'), profile)).toBe(true);
    expect(entryMatches(parseApproverEntry(a), profile)).toBe(true);
    expect(entryMatches(parseApproverEntry(b), profile)).toBe(false);
  });

  it('rejects anything else with OV-400 naming the field', () => {
    for (const bad of [
      'role:',
      'group:',
      `role:${'x'.repeat(129)}`,
      'role:a\nb',
      'cfo@example.com',
      42,
      'agent:nhi:ed25519:1',
    ]) {
      expectEnablementError(
        () => parseApproverEntry(bad, 'tiers[0].approvers[1]'),
        'OV-400',
        'tiers[0].approvers[1]',
      );
    }
  });

  it('finds the tiers naming a profile among the open ones', () => {
    const requirement = req([
      { approvers: [a], quorum: 1, timeoutMs: 1 },
      { approvers: ['role:cfo', b], quorum: 1, timeoutMs: 1 },
      { approvers: [a], quorum: 1, timeoutMs: 1 },
    ]);
    const profile = { nhi: a, roles: ['cfo'], groups: [] };
    expect(matchingTiers(requirement, profile, [0, 1, 2])).toEqual([0, 1, 2]);
    expect(matchingTiers(requirement, profile, [1])).toEqual([1]);
    expect(matchingTiers(requirement, { nhi: c, roles: [], groups: [] }, [0, 1, 2])).toEqual([]);
    expect(namedPrincipals(requirement).sort()).toEqual([a, b].sort());
  });
});

describe('validateRequirement', () => {
  it('returns a frozen copy of a valid requirement', () => {
    const input = req([{ approvers: [a, 'role:cfo'], quorum: 5, timeoutMs: 1000 }]);
    const out = validateRequirement(input);
    expect(out).toEqual(input);
    expect(Object.isFrozen(out.tiers[0])).toBe(true);
    (input.tiers[0] as { quorum: number }).quorum = 1;
    expect(out.tiers[0]?.quorum).toBe(5);
  });

  it('rejects bad requirements with OV-400 and the path', () => {
    const t = (over: object) => ({ approvers: [a], quorum: 1, timeoutMs: 1, ...over });
    const cases: [unknown, string][] = [
      [null, 'requirement'],
      [{ tiers: [], finalAction: 'auto_deny' }, 'requirement.tiers'],
      [{ tiers: Array(9).fill(t({})), finalAction: 'auto_deny' }, 'requirement.tiers'],
      [{ tiers: [t({})], finalAction: 'maybe' }, 'requirement.finalAction'],
      [{ tiers: [t({})], finalAction: 'auto_deny', extra: 1 }, 'extra'],
      [{ tiers: [t({ quorum: 2 })], finalAction: 'auto_deny' }, 'requirement.tiers[0].quorum'],
      [{ tiers: [t({ quorum: 0 })], finalAction: 'auto_deny' }, 'requirement.tiers[0].quorum'],
      [{ tiers: [t({ quorum: 1.5 })], finalAction: 'auto_deny' }, 'requirement.tiers[0].quorum'],
      [{ tiers: [t({ timeoutMs: 0 })], finalAction: 'auto_deny' }, 'requirement.tiers[0].timeoutMs'],
      [{ tiers: [t({ timeoutMs: 31 * 86_400_000 })], finalAction: 'auto_deny' }, 'timeoutMs'],
      [{ tiers: [t({ approvers: [a, a] })], finalAction: 'auto_deny' }, 'duplicate'],
      [{ tiers: [t({ approvers: [] })], finalAction: 'auto_deny' }, 'approvers'],
      [
        {
          tiers: [t({ approvers: Array.from({ length: 33 }, (_, i) => `role:r${i}`) })],
          finalAction: 'auto_deny',
        },
        'approvers',
      ],
      [{ tiers: [t({ approvers: ['nobody'] })], finalAction: 'auto_deny' }, 'approvers[0]'],
      [{ tiers: [t({ extra: true })], finalAction: 'auto_deny' }, 'extra'],
    ];
    for (const [input, path] of cases)
      expectEnablementError(() => validateRequirement(input), 'OV-400', path);
  });
});

describe('tally', () => {
  const twoOfThree = req([{ approvers: [a, b, c], quorum: 2, timeoutMs: 1 }]);
  const requested = { amount: 1 };

  it('approves when a tier reaches its quorum with votes agreeing on the parameters', () => {
    expect(tally(twoOfThree, [vote(a, 'APPROVE', [0])], rules(), [0], requested)).toEqual({ kind: 'open' });
    expect(
      tally(
        twoOfThree,
        [vote(a, 'APPROVE', [0]), vote(b, 'APPROVE', [0], { reason: 'ok' })],
        rules(),
        [0],
        requested,
      ),
    ).toEqual({ kind: 'approved', tier: 0, approvers: [a, b], parameters: requested, reason: 'ok' });
    // An edit equal to the request agrees with a plain approval (RFC 8785 equality).
    expect(
      tally(
        twoOfThree,
        [vote(a, 'APPROVE', [0]), vote(b, 'APPROVE', [0], { editedParameters: { amount: 1 } })],
        rules(),
        [0],
        requested,
      ).kind,
    ).toBe('approved');
    expect(
      tally(
        twoOfThree,
        [vote(a, 'APPROVE', [0]), vote(b, 'APPROVE', [0], { editedParameters: { amount: 2 } })],
        rules(),
        [0],
        requested,
      ).kind,
    ).toBe('open');
  });

  it('deny rule any vetoes; deny rule quorum needs a quorum of denials', () => {
    const votes = [vote(a, 'APPROVE', [0]), vote(b, 'DENY', [0], { reason: 'no' })];
    expect(tally(twoOfThree, votes, rules(), [0], requested)).toEqual({
      kind: 'denied',
      tier: 0,
      approvers: [b],
      reason: 'no',
    });
    expect(tally(twoOfThree, votes, rules({ denyRule: 'quorum' }), [0], requested)).toEqual({ kind: 'open' });
    expect(
      tally(twoOfThree, [...votes, vote(c, 'DENY', [0])], rules({ denyRule: 'quorum' }), [0], requested),
    ).toMatchObject({ kind: 'denied', approvers: [b, c] });
  });

  it('counts each tier over its own approvers, and only open tiers', () => {
    const requirement = req([
      { approvers: [a, b], quorum: 2, timeoutMs: 1 },
      { approvers: [c, d], quorum: 1, timeoutMs: 1 },
    ]);
    // a approved in tier 0; escalation must not let a lone tier-0 vote satisfy tier 1's quorum.
    expect(tally(requirement, [vote(a, 'APPROVE', [0])], rules(), [0, 1], requested)).toEqual({
      kind: 'open',
    });
    expect(
      tally(requirement, [vote(a, 'APPROVE', [0]), vote(c, 'APPROVE', [1])], rules(), [0, 1], requested),
    ).toMatchObject({
      kind: 'approved',
      tier: 1,
      approvers: [c],
    });
    expect(tally(requirement, [vote(a, 'DENY', [0])], rules(), [1], requested)).toEqual({ kind: 'open' });
    expect(openTiers(2, rules())).toEqual([0, 1, 2]);
    expect(openTiers(2, rules({ earlierTiersStayEligible: false }))).toEqual([2]);
  });

  it('property: never decides with fewer distinct approvals than some open tier’s quorum', () => {
    const pool = [a, b, c, d];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.uniqueArray(fc.constantFrom(...pool), { minLength: 0, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.constantFrom('any' as const, 'quorum' as const),
        (quorum, voters, approves, denyRule) => {
          const requirement = req([{ approvers: pool, quorum, timeoutMs: 1 }]);
          const votes = voters.map((v, i) => vote(v, approves[i] ? 'APPROVE' : 'DENY', [0]));
          const result = tally(requirement, votes, rules({ denyRule }), [0], requested);
          const yes = votes.filter((v) => v.decision === 'APPROVE').length;
          const no = votes.length - yes;
          if (result.kind === 'approved') {
            expect(result.approvers).toHaveLength(quorum);
            expect(yes).toBeGreaterThanOrEqual(quorum);
            if (denyRule === 'any') expect(no).toBe(0);
          }
          if (result.kind === 'denied') expect(no).toBeGreaterThanOrEqual(denyRule === 'any' ? 1 : quorum);
          if (result.kind === 'open') {
            expect(yes).toBeLessThan(quorum);
            expect(no).toBeLessThan(denyRule === 'any' ? 1 : quorum);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
