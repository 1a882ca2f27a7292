import { ERROR_CATALOGUE } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { MESSAGING_ERROR_CODES } from './index.js';

describe('MESSAGING_ERROR_CODES', () => {
  it('holds every MS- code of the catalogue and nothing else', () => {
    const expected = Object.keys(ERROR_CATALOGUE).filter((code) => code.startsWith('MS-'));
    expect([...MESSAGING_ERROR_CODES].sort()).toEqual(expected.sort());
  });

  it('includes the codes the spec names for this product', () => {
    expect(MESSAGING_ERROR_CODES).toEqual(expect.arrayContaining(['MS-001', 'MS-503']));
  });

  it('is frozen', () => {
    expect(Object.isFrozen(MESSAGING_ERROR_CODES)).toBe(true);
  });
});
