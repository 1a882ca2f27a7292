import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

describe('examples/flow-7.3-quota.mjs', () => {
  it('crosses 95 %, opens a non-blocking request, warns the agent, and applies the edited limit', async () => {
    const { stdout, stderr } = await runExample('flow-7.3-quota.mjs');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/usage 90000 \/ 100000 \(90 %\): below the threshold/);
    expect(stdout).toMatch(/usage 95000 \/ 100000 \(95 %\)/);
    expect(stdout).toMatch(/quota_breach, PENDING, blocking false/);
    expect(stdout).toMatch(/inference_tokens 95000 of 100000 \(95 %\)/);
    expect(stdout).toContain('finance was notified end to end: "Approval Required: quota_breach"');
    expect(stdout).toMatch(/the agent decrypted \(quota_warning\): "You've used 95% of quota/);
    expect(stdout).toMatch(/usage 100000 \/ 100000 \(100 %\)/);
    expect(stdout).toMatch(/limit 100000 → 200000, approved by human:nhi:ed25519:/);
    expect(stdout).toMatch(/usage 100000 \/ 200000 \(50 %\)/);
    expect(stdout).toMatch(/the next call's quota decision: allow\n/);
    expect(stdout).toMatch(/\nDone\./);
  }, 90_000);
});
