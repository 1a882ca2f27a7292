import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../delegation/pattern.js';
import { parsePolicies } from './policy.js';
import { PatternIndex, PolicyIndex } from './policy-index.js';

const P1 = 'agent:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP';
const P2 = 'human:nhi:ed25519:Dzk6SJCZGHJd9Xd332QB6N6gMNWEceSrLuSHunrLcugz';

const segment = fc.constantFrom('a', 'ab', 'b', 'x.y', 'net:');
const pattern = fc.oneof(
  { weight: 1, arbitrary: fc.constant('*') },
  { weight: 3, arbitrary: fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('')) },
  {
    weight: 3,
    arbitrary: fc.array(segment, { minLength: 1, maxLength: 2 }).map((parts) => `${parts.join('')}*`),
  },
);
const value = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
const principalPattern = fc.constantFrom('*', 'agent:*', 'human:*', P1, P2);

describe('PatternIndex', () => {
  it('returns exactly the items whose pattern matches', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 30 }), value, (patterns, v) => {
        const index = new PatternIndex<number>();
        patterns.forEach((p, i) => {
          index.add(p, i);
        });
        const found: number[] = [];
        index.collect(v, found);
        const expected = patterns.flatMap((p, i) => (matchesPattern(p, v) ? [i] : []));
        expect([...found].sort((a, b) => a - b)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PolicyIndex', () => {
  it('finds exactly the policies a linear scan with matchesPattern finds, in set order', () => {
    const policy = fc.record({
      principal: fc.array(principalPattern, { minLength: 1, maxLength: 2 }),
      action: fc.array(pattern, { minLength: 1, maxLength: 3 }),
      resource: fc.array(pattern, { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(policy, { maxLength: 40 }),
        fc.constantFrom(P1, P2),
        value,
        value,
        (raw, principal, action, resource) => {
          const policies = parsePolicies(raw.map((p, i) => ({ id: `p${i}`, effect: 'permit', ...p })));
          const index = new PolicyIndex(policies);
          const expected = policies
            .filter(
              (p) =>
                p.principal.some((x) => matchesPattern(x, principal)) &&
                p.action.some((x) => matchesPattern(x, action)) &&
                p.resource.some((x) => matchesPattern(x, resource)),
            )
            .map((p) => p.id);
          expect(index.candidates(principal, action, resource).map((c) => c.id)).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('looks only at candidates: 1,000 policies on 100 actions', () => {
    const policies = parsePolicies(
      Array.from({ length: 1000 }, (_, i) => ({
        id: `p${i}`,
        effect: 'permit',
        action: `svc${i % 100}.call`,
        resource: `svc${i % 100}:tenant-${Math.floor(i / 100)}:*`,
      })),
    );
    const index = new PolicyIndex(policies);
    expect(index.candidates(P1, 'svc7.call', 'svc7:tenant-3:x').map((c) => c.id)).toEqual(['p307']);
    expect(index.candidates(P1, 'svc7.call', 'svc8:tenant-3:x')).toEqual([]);
    expect(index.candidates(P1, 'svc700.call', 'svc7:tenant-3:x')).toEqual([]);
  });
});
