import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { MAX_CONDITION_DEPTH, MAX_CONDITION_NODES, parsePolicies, parsePolicy } from './policy.js';

const approver = AgentKeyPair.fromSeed(new Uint8Array(32).fill(7), { kind: 'human' }).identity.nhi;
const requirement = {
  tiers: [{ approvers: [approver], quorum: 1, timeoutMs: 7_200_000 }],
  finalAction: 'auto_deny' as const,
};

/** Expects `fn` to throw `PL-400` whose message starts with `path: `. */
function expectPathError(fn: () => unknown, path: string, text?: string): EnablementError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (!EnablementError.is(thrown)) throw new Error(`expected an EnablementError, got ${String(thrown)}`);
  expect(thrown.code).toBe('PL-400');
  expect(thrown.message.startsWith(`${path}: `), thrown.message).toBe(true);
  if (text !== undefined) expect(thrown.message).toContain(text);
  return thrown;
}

const ok = (id: string) => ({ id, effect: 'permit', action: 'a.b' });

describe('parsePolicy: valid policies', () => {
  it('normalizes patterns to arrays with * defaults and freezes the result', () => {
    const policy = parsePolicy({ id: 'p1', effect: 'permit', action: 'network.egress' });
    expect(policy).toEqual({
      id: 'p1',
      effect: 'permit',
      principal: ['*'],
      action: ['network.egress'],
      resource: ['*'],
    });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.action)).toBe(true);
  });

  it('accepts every condition form and keeps it as data (JSON round trip)', () => {
    const input = {
      id: 'org:acme/egress@v2',
      description: 'everything at once',
      effect: 'require_oversight',
      requirement,
      principal: ['agent:*', 'service:*'],
      action: 'funds.*',
      resource: ['payments:*'],
      when: {
        and: [
          { attr: 'context.amount', op: 'gt', value: 10000 },
          { attr: 'context.amount', op: 'le', value: '1000000.00' },
          {
            or: [
              { attr: 'principal.roles', op: 'contains', value: 'treasurer' },
              { attr: 'principal.kind', op: 'eq', value: 'human' },
            ],
          },
          { not: { attr: 'context.currency', op: 'in', value: ['XXX', 'XTS'] } },
          { attr: 'resource.owner', op: 'eq', ref: 'principal.id' },
          { attr: 'context.memo', op: 'like', value: 'invoice-*' },
          { attr: 'context.ticket', op: 'exists' },
          { attr: 'context.flag', op: 'ne', value: null },
          { attr: 'context.limit', op: 'ge', ref: 'context.amount' },
        ],
      },
    };
    const policy = parsePolicy(JSON.parse(JSON.stringify(input)));
    expect(JSON.parse(JSON.stringify(policy))).toEqual({ ...input, action: ['funds.*'] });
    expect(Object.isFrozen(policy.when)).toBe(true);
    expect(Object.isFrozen(policy.requirement?.tiers[0]?.approvers)).toBe(true);
  });
});

describe('parsePolicies: malformed policies are rejected with the path of the error', () => {
  it('names the exact path of a bad operator deep in a condition', () => {
    const bad = {
      id: 'p3',
      effect: 'permit',
      when: {
        and: [
          { attr: 'context.x', op: 'eq', value: 1 },
          { attr: 'context.y', op: 'between', value: 2 },
        ],
      },
    };
    expectPathError(
      () => parsePolicies([ok('p0'), ok('p1'), ok('p2'), bad]),
      'policies[3].when.and[1].op',
      'expected one of',
    );
  });

  const cases: [unknown, string][] = [
    [{ effect: 'permit' }, 'policy.id'],
    [{ id: '', effect: 'permit' }, 'policy.id'],
    [{ id: 'has space', effect: 'permit' }, 'policy.id'],
    [{ id: 'p', effect: 'allow' }, 'policy.effect'],
    [{ id: 'p', effect: 'permit', extra: 1 }, 'policy'],
    [{ id: 'p', effect: 'permit', action: 'a*b' }, 'policy.action'],
    [{ id: 'p', effect: 'permit', action: ['ok', ''] }, 'policy.action[1]'],
    [{ id: 'p', effect: 'permit', resource: [] }, 'policy.resource'],
    [{ id: 'p', effect: 'permit', principal: 42 }, 'policy.principal'],
    [{ id: 'p', effect: 'permit', description: 'x'.repeat(1025) }, 'policy.description'],
    [{ id: 'p', effect: 'require_oversight' }, 'policy.requirement'],
    [{ id: 'p', effect: 'permit', requirement }, 'policy.requirement'],
    [
      { id: 'p', effect: 'require_oversight', requirement: { ...requirement, finalAction: 'maybe' } },
      'policy.requirement.finalAction',
    ],
    [
      {
        id: 'p',
        effect: 'require_oversight',
        requirement: { ...requirement, tiers: [{ approvers: [approver], quorum: 2, timeoutMs: 1 }] },
      },
      'policy.requirement.tiers[0].quorum',
    ],
    [{ id: 'p', effect: 'permit', when: { attr: 'user.x', op: 'eq', value: 1 } }, 'policy.when.attr'],
    [{ id: 'p', effect: 'permit', when: { attr: 'context', op: 'eq', value: 1 } }, 'policy.when.attr'],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a.b.c.d.e.f.g.h.i', op: 'exists' } },
      'policy.when.attr',
    ],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'lt', value: 'ten' } }, 'policy.when.value'],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'lt', value: '1e5' } }, 'policy.when.value'],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'gt', value: true } }, 'policy.when.value'],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'eq', value: { x: 1 } } },
      'policy.when.value',
    ],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'eq' } }, 'policy.when.value'],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'eq', value: 1, ref: 'context.b' } },
      'policy.when.ref',
    ],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'exists', value: 1 } }, 'policy.when.value'],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'like', ref: 'context.b' } },
      'policy.when.ref',
    ],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'like', value: 'a*b*' } },
      'policy.when.value',
    ],
    [{ id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'in', value: [] } }, 'policy.when.value'],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'in', value: [1, [2]] } },
      'policy.when.value[1]',
    ],
    [
      { id: 'p', effect: 'permit', when: { attr: 'context.a', op: 'in', value: new Array(1025).fill(1) } },
      'policy.when.value',
    ],
    [{ id: 'p', effect: 'permit', when: { and: [] } }, 'policy.when.and'],
    [
      { id: 'p', effect: 'permit', when: { and: [{ attr: 'context.a', op: 'exists' }], or: [] } },
      'policy.when',
    ],
    [
      {
        id: 'p',
        effect: 'permit',
        when: { not: { not: { attr: 'context.a', op: 'eq', value: Number.NaN } } },
      },
      'policy.when.not.not.value',
    ],
    [{ id: 'p', effect: 'permit', when: 'context.a > 1' }, 'policy.when'],
  ];
  it.each(cases.map(([input, path]) => ({ input, path })))('case %# → $path', ({ input, path }) => {
    expectPathError(() => parsePolicy(input), path);
  });

  it('rejects duplicate ids, naming the second one', () => {
    expectPathError(() => parsePolicies([ok('a'), ok('b'), ok('a')]), 'policies[2].id', 'duplicate');
  });

  it('rejects a non-array policy set', () => {
    expectPathError(() => parsePolicies({ 0: ok('a') }), 'policies');
  });

  it('bounds nesting depth and node count before zod recurses (no stack overflow on hostile input)', () => {
    let deep: unknown = { attr: 'context.a', op: 'exists' };
    for (let i = 0; i < 100_000; i++) deep = { not: deep };
    const error = expectPathError(
      () => parsePolicy({ id: 'p', effect: 'permit', when: deep }),
      `policy.when${'.not'.repeat(MAX_CONDITION_DEPTH)}`,
    );
    expect(error.message).toContain(`deeper than ${MAX_CONDITION_DEPTH}`);

    let ok16: unknown = { attr: 'context.a', op: 'exists' };
    for (let i = 1; i < MAX_CONDITION_DEPTH; i++) ok16 = { not: ok16 };
    expect(() => parsePolicy({ id: 'p', effect: 'permit', when: ok16 })).not.toThrow();

    const wide = {
      and: Array.from({ length: 60 }, () => ({
        or: Array.from({ length: 60 }, () => ({ attr: 'context.a', op: 'exists' })),
      })),
    };
    const tooMany = expectPathError(
      () => parsePolicy({ id: 'p', effect: 'permit', when: wide }),
      'policy.when',
    );
    expect(tooMany.message).toContain(`${MAX_CONDITION_NODES}`);
  });

  it('does not let a malformed policy leave partial results', () => {
    expect(() => parsePolicies([ok('a'), { id: 'b' }])).toThrow(EnablementError);
  });
});
