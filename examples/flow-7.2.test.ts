import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

describe('examples/flow-7.2-approval.mjs', () => {
  it('holds the transfer for the CFO, notifies end to end, and runs it once approved', async () => {
    const { stdout, stderr } = await runExample('flow-7.2-approval.mjs');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/amount 50000 → requires_oversight \(policy large_transfer\)/);
    expect(stdout).toMatch(/CreateRequest → [0-9a-f-]{36}; the agent waits \(RT-202\)/);
    expect(stdout).toMatch(/state PENDING, tier 1 of 1: human:nhi:ed25519:\w{6}…, 2 h timeout/);
    expect(stdout).toMatch(/- Due date: 2024-12-31\n +- Invoice approved/);
    expect(stdout).toContain('"Approval Required: funds.transfer"');
    expect(stdout).toMatch(/quorum 1\/1 met → APPROVED; override token issued/);
    expect(stdout).toContain('ran the tool: {"status":"transferred","amount":50000,"to":"acme-supplies"}');
    expect(stdout).toMatch(/the agent tries 50001 next: a new request/);
    expect(stdout).toMatch(/the call ends error with RT-403/);
    expect(stdout).toMatch(/PENDING → APPROVED, decided by human:nhi:ed25519:/);
    expect(stdout).toMatch(/\nDone\./);
  }, 90_000);
});
