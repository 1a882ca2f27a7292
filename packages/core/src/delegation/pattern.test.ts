import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  assertPattern,
  capabilityCovers,
  capabilityMatches,
  covers,
  isValidPattern,
  MAX_PATTERN_LENGTH,
  MAX_VALUE_LENGTH,
  matchesPattern,
} from './pattern.js';

describe('assertPattern', () => {
  it.each([
    '*',
    'payment.*',
    'payment.approve',
    'network:api.example.com',
    'runtime:sandbox:*',
    'a'.repeat(MAX_PATTERN_LENGTH),
  ])('accepts %s', (pattern) => {
    expect(() => assertPattern(pattern)).not.toThrow();
    expect(isValidPattern(pattern)).toBe(true);
  });

  it.each([
    ['empty', '', /must not be empty/],
    ['two stars', '**', /only allowed once/],
    ['leading star', '*.example.com', /only allowed once/],
    ['inner star', 'network:*.example.com', /only allowed once/],
    ['star then text', 'a*b', /only allowed once/],
    ['too long', 'a'.repeat(MAX_PATTERN_LENGTH + 1), /longer than 256/],
    ['space', 'payment approve', /printable ASCII/],
    ['tab', 'payment\t', /printable ASCII/],
    ['NUL', 'payment\u0000', /printable ASCII/],
    ['non-ASCII', 'paiement.approuvé', /printable ASCII/],
    ['non-string', 42, /expected a string/],
    ['null', null, /expected a string/],
  ])('rejects %s', (_label, pattern, message) => {
    try {
      assertPattern(pattern, 'capabilities[0].action');
      throw new Error('expected a throw');
    } catch (error) {
      expect(EnablementError.is(error) && error.code).toBe('PL-400');
      expect((error as Error).message).toMatch(/^capabilities\[0\]\.action: /);
      expect((error as Error).message).toMatch(message);
    }
    expect(isValidPattern(pattern)).toBe(false);
  });
});

describe('matchesPattern', () => {
  it('matches exact, prefix and * patterns', () => {
    expect(matchesPattern('payment.approve', 'payment.approve')).toBe(true);
    expect(matchesPattern('payment.approve', 'payment.approved')).toBe(false);
    expect(matchesPattern('payment.approve', 'Payment.approve')).toBe(false);
    expect(matchesPattern('payment.*', 'payment.approve')).toBe(true);
    expect(matchesPattern('payment.*', 'payment.')).toBe(true);
    expect(matchesPattern('payment.*', 'payment')).toBe(false);
    expect(matchesPattern('payment.*', 'payments.approve')).toBe(false);
    expect(matchesPattern('*', '')).toBe(true);
    expect(matchesPattern('*', 'anything at all, even ünïcode')).toBe(true);
  });

  it('fails closed on invalid patterns and values', () => {
    expect(matchesPattern('a*b', 'aXb')).toBe(false);
    expect(matchesPattern('', '')).toBe(false);
    expect(matchesPattern('*', 'x'.repeat(MAX_VALUE_LENGTH + 1))).toBe(false);
    expect(matchesPattern('*', 5 as unknown as string)).toBe(false);
  });

  it('matches a capability on both action and resource', () => {
    const capability = { action: 'payment.*', resource: 'invoice:42' };
    expect(capabilityMatches(capability, 'payment.approve', 'invoice:42')).toBe(true);
    expect(capabilityMatches(capability, 'payment.approve', 'invoice:43')).toBe(false);
    expect(capabilityMatches(capability, 'refund.approve', 'invoice:42')).toBe(false);
  });
});

describe('covers', () => {
  it.each([
    ['*', '*', true],
    ['*', 'payment.*', true],
    ['*', 'payment.approve', true],
    ['payment.*', 'payment.approve', true],
    ['payment.*', 'payment.approve.*', true],
    ['payment.*', 'payment.*', true],
    ['payment.*', 'payment.a*', true],
    ['payment.approve', 'payment.approve', true],
    ['payment.approve', 'payment.*', false],
    ['payment.approve', '*', false],
    ['payment.approve', 'payment.approve*', false],
    ['payment.a*', 'payment.*', false],
    ['payment.*', '*', false],
    ['payment.*', 'payment', false],
    ['payment.*', 'refund.*', false],
    ['payment.approve', 'payment.approved', false],
    ['a*b', 'a*b', false],
    ['*', '', false],
  ])('covers(%s, %s) = %s', (parent, child, expected) => {
    expect(covers(parent, child)).toBe(expected);
  });

  it('requires both action and resource for capabilities', () => {
    const parent = { action: 'payment.*', resource: 'invoice:*' };
    expect(capabilityCovers(parent, { action: 'payment.approve', resource: 'invoice:42' })).toBe(true);
    expect(capabilityCovers(parent, { action: 'payment.approve', resource: '*' })).toBe(false);
    expect(capabilityCovers(parent, { action: '*', resource: 'invoice:42' })).toBe(false);
  });

  // A small alphabet makes overlapping patterns (the interesting cases) frequent.
  const text = fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: 4 });
  const pattern = fc.oneof(
    text.map((prefix) => `${prefix}*`),
    text.filter((t) => t.length > 0),
  );

  it('is sound: whatever the child matches, the parent matches', () => {
    fc.assert(
      fc.property(pattern, pattern, fc.array(text, { maxLength: 20 }), (parent, child, values) => {
        if (!covers(parent, child)) return;
        const witnesses = [...values, child.replace('*', ''), `${child.replace('*', '')}ab`];
        for (const value of witnesses) {
          if (matchesPattern(child, value)) expect(matchesPattern(parent, value)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is complete: when it says no, some value matches the child but not the parent', () => {
    fc.assert(
      fc.property(pattern, pattern, (parent, child) => {
        if (covers(parent, child)) return;
        const base = child.endsWith('*') ? child.slice(0, -1) : child;
        const candidates = child.endsWith('*') ? [base, `${base}zz`] : [base];
        const witness = candidates.find((v) => matchesPattern(child, v) && !matchesPattern(parent, v));
        expect(witness).toBeDefined();
      }),
      { numRuns: 200 },
    );
  });

  it('is a preorder (reflexive and transitive)', () => {
    fc.assert(
      fc.property(pattern, pattern, pattern, (a, b, c) => {
        expect(covers(a, a)).toBe(true);
        if (covers(a, b) && covers(b, c)) expect(covers(a, c)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
