import { ERROR_CATALOGUE } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { OVERSIGHT_ERROR_CODES } from './index.js';

describe('OVERSIGHT_ERROR_CODES', () => {
  it('holds every OV- code of the catalogue and nothing else', () => {
    const expected = Object.keys(ERROR_CATALOGUE).filter((code) => code.startsWith('OV-'));
    expect([...OVERSIGHT_ERROR_CODES].sort()).toEqual(expected.sort());
  });

  it('includes the codes the spec names for this product', () => {
    expect(OVERSIGHT_ERROR_CODES).toEqual(expect.arrayContaining(['OV-202', 'OV-403', 'OV-503']));
  });

  it('is frozen', () => {
    expect(Object.isFrozen(OVERSIGHT_ERROR_CODES)).toBe(true);
  });
});
