import { ERROR_CATALOGUE } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { METERING_ERROR_CODES } from './index.js';

describe('METERING_ERROR_CODES', () => {
  it('holds every MT- code of the catalogue and nothing else', () => {
    const expected = Object.keys(ERROR_CATALOGUE).filter((code) => code.startsWith('MT-'));
    expect([...METERING_ERROR_CODES].sort()).toEqual(expected.sort());
  });

  it('includes the codes the spec names for this product', () => {
    expect(METERING_ERROR_CODES).toEqual(expect.arrayContaining(['MT-401', 'MT-429', 'MT-503']));
  });

  it('is frozen', () => {
    expect(Object.isFrozen(METERING_ERROR_CODES)).toBe(true);
  });
});
