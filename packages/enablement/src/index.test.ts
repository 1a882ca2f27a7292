import { describe, expect, it } from 'vitest';
import { HARD_DEPENDENCIES, STARTUP_PHASES } from './index.js';

describe('startup order (spec §2.2, §11.1)', () => {
  it('starts every hard dependency of a product in an earlier phase', () => {
    const [platform, products] = STARTUP_PHASES;
    for (const product of products) {
      for (const dependency of HARD_DEPENDENCIES[product]) {
        expect(platform).toContain(dependency);
      }
    }
  });

  it('matches the spec: runtime needs nhi, authz and crypto; metering needs consensus', () => {
    expect(HARD_DEPENDENCIES.runtime).toEqual(['nhi', 'authz', 'crypto']);
    expect(HARD_DEPENDENCIES.metering).toContain('consensus');
    expect(HARD_DEPENDENCIES.oversight).not.toContain('memory');
  });
});
