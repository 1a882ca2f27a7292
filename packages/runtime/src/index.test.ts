import { ERROR_CATALOGUE } from '@creto/core';
import { describe, expect, it } from 'vitest';
import * as runtime from './index.js';
import { RUNTIME_ERROR_CODES } from './index.js';

describe('RUNTIME_ERROR_CODES', () => {
  it('holds every RT- code of the catalogue and nothing else', () => {
    const expected = Object.keys(ERROR_CATALOGUE).filter((code) => code.startsWith('RT-'));
    expect([...RUNTIME_ERROR_CODES].sort()).toEqual(expected.sort());
  });

  it('includes the codes the spec names for this product', () => {
    expect(RUNTIME_ERROR_CODES).toEqual(
      expect.arrayContaining(['RT-202', 'RT-403', 'RT-404', 'RT-429', 'RT-503']),
    );
  });

  it('is frozen', () => {
    expect(Object.isFrozen(RUNTIME_ERROR_CODES)).toBe(true);
  });
});

describe('the package entry', () => {
  it('re-exports every folder: engine, attestation, tools, egress, usage, drivers, inference', () => {
    for (const name of [
      'createRuntime',
      'verifyAttestation',
      'decodeAttestation',
      'createToolRegistry',
      'normalizeHost',
      'createUsageOutbox',
      'keyPairUsageSigner',
      'createQuickJsDriver',
      'createInferenceRouter',
      'DEFAULT_RUNTIME_LIMITS',
    ]) {
      expect(typeof (runtime as Record<string, unknown>)[name], name).not.toBe('undefined');
    }
  });
});
