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

describe('package exports', () => {
  it('exposes the engine, the store, the policy, the responses and the notifiers', async () => {
    const pkg = await import('./index.js');
    for (const name of [
      'createOversight',
      'createMemoryOversightStore',
      'signApprovalResponse',
      'verifyApprovalResponse',
      'validateRequirement',
      'tally',
    ]) {
      expect(typeof (pkg as Record<string, unknown>)[name], name).toBe('function');
    }
    const notifierFactories = Object.keys(pkg).filter((name) => /^create\w+Notifier$/.test(name));
    expect(notifierFactories.length).toBeGreaterThan(0);
  });
});
