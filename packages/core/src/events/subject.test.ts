import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertFilter,
  assertSubject,
  filterContains,
  filtersOverlap,
  isValidFilter,
  isValidSubject,
  MAX_SUBJECT_LENGTH,
  MAX_SUBJECT_TOKENS,
  subjectMatches,
} from './subject.js';

/** Reference semantics: NATS matching, written independently as a regular expression. */
function reference(filter: string, subject: string): boolean {
  const pattern = filter
    .split('.')
    .map((t) =>
      t === '*' ? '[^.]+' : t === '>' ? '[^.]+(\\.[^.]+)*' : t.replace(/[$^|+?()[\]{}\\]/g, '\\$&'),
    )
    .join('\\.');
  return new RegExp(`^${pattern}$`).test(subject);
}

const token = fc.constantFrom('a', 'b', 'c');
const subjectArb = fc.array(token, { minLength: 1, maxLength: 4 }).map((t) => t.join('.'));
const filterArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', '*'), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([t, tail]) => (tail ? [...t.slice(0, -1), '>'] : t).join('.'));
// Every subject of up to 5 tokens over the small alphabet: enough to witness any overlap of
// filters of at most 4 tokens (a '>' needs one token beyond the other filter's length).
const allSubjects: string[] = [];
for (let n = 1; n <= 5; n++) {
  const walk = (prefix: string[]) => {
    if (prefix.length === n) return void allSubjects.push(prefix.join('.'));
    for (const t of ['a', 'b', 'c']) walk([...prefix, t]);
  };
  walk([]);
}

describe('subject validation', () => {
  it('accepts literal subjects, including $-prefixed system tokens', () => {
    for (const s of [
      'a',
      'metering.events.runtime',
      '$DLQ.S.c',
      'a-b_c.D9',
      'x'.repeat(MAX_SUBJECT_LENGTH),
    ]) {
      expect(() => assertSubject(s)).not.toThrow();
      expect(isValidSubject(s)).toBe(true);
    }
  });

  it('rejects empty tokens, wildcards, whitespace, non-ASCII and oversize subjects, naming the field', () => {
    expectEnablementError(() => assertSubject('', 'subject'), 'PL-400', 'subject: must not be empty');
    expectEnablementError(() => assertSubject('a..b'), 'PL-400', 'empty token');
    expectEnablementError(() => assertSubject('.a'), 'PL-400', 'empty token');
    expectEnablementError(() => assertSubject('a.'), 'PL-400', 'empty token');
    expectEnablementError(() => assertSubject('a.*'), 'PL-400', 'wildcard');
    expectEnablementError(() => assertSubject('a.>'), 'PL-400', 'wildcard');
    expectEnablementError(() => assertSubject('a b'), 'PL-400', 'printable ASCII');
    expectEnablementError(() => assertSubject('a\tb'), 'PL-400', 'printable ASCII');
    expectEnablementError(() => assertSubject('é'), 'PL-400', 'printable ASCII');
    expectEnablementError(() => assertSubject('a*'), 'PL-400', 'printable ASCII');
    expectEnablementError(() => assertSubject('x'.repeat(MAX_SUBJECT_LENGTH + 1)), 'PL-400', 'longer than');
    expectEnablementError(
      () =>
        assertSubject(
          Array(MAX_SUBJECT_TOKENS + 1)
            .fill('a')
            .join('.'),
        ),
      'PL-400',
      'tokens',
    );
    expectEnablementError(() => assertSubject(5, 'topic'), 'PL-400', 'topic: expected a string');
    expect(isValidSubject('a.*')).toBe(false);
  });

  it('accepts * anywhere and > only last in filters', () => {
    for (const f of ['>', '*', 'a.*.c', 'a.>', '*.*.>']) {
      expect(() => assertFilter(f)).not.toThrow();
      expect(isValidFilter(f)).toBe(true);
    }
    expectEnablementError(() => assertFilter('a.>.b'), 'PL-400', "'>' must be the last token");
    expectEnablementError(() => assertFilter('a.b*'), 'PL-400', 'printable ASCII');
    expect(isValidFilter('a..b')).toBe(false);
  });
});

describe('subject matching', () => {
  it('follows NATS rules on examples', () => {
    expect(subjectMatches('metering.events.*', 'metering.events.runtime')).toBe(true);
    expect(subjectMatches('metering.*', 'metering.events.runtime')).toBe(false);
    expect(subjectMatches('metering.>', 'metering.events.runtime')).toBe(true);
    expect(subjectMatches('metering.>', 'metering')).toBe(false);
    expect(subjectMatches('>', 'a')).toBe(true);
    expect(subjectMatches('a.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false);
    expectEnablementError(() => subjectMatches('a', 'a.*'), 'PL-400', 'wildcard');
  });

  it('property: agrees with an independent regular-expression model', () => {
    fc.assert(
      fc.property(filterArb, subjectArb, (f, s) => {
        expect(subjectMatches(f, s)).toBe(reference(f, s));
      }),
      { numRuns: 200 },
    );
  });

  it('property: two filters overlap exactly when some subject matches both', () => {
    fc.assert(
      fc.property(filterArb, filterArb, (a, b) => {
        const witness = allSubjects.some((s) => reference(a, s) && reference(b, s));
        expect(filtersOverlap(a, b)).toBe(witness);
        expect(filtersOverlap(b, a)).toBe(witness);
      }),
      { numRuns: 200 },
    );
  });

  it('property: filterContains holds exactly when every subject of the inner filter matches the outer', () => {
    fc.assert(
      fc.property(filterArb, filterArb, (outer, inner) => {
        // 'c' never appears in the filters, so a subject with 'c' stands for "any other token".
        const counter = allSubjects.some((s) => reference(inner, s) && !reference(outer, s));
        expect(filterContains(outer, inner)).toBe(!counter);
      }),
      { numRuns: 200 },
    );
  });
});
