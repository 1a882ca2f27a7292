import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

// `npm run demo` runs examples/demo.mjs (the §7.4 flow) after the build; run it the same way and
// check each block of its timeline.
describe('npm run demo (spec §7.4, the full agent lifecycle)', () => {
  it('runs every step of the lifecycle, in order, and exits 0', async () => {
    const { stdout, stderr } = await runExample('demo.mjs');
    expect(stderr).toBe('');
    const sections = [...stdout.matchAll(/^── (\d+)\. /gm)].map((m) => Number(m[1]));
    expect(sections).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    // 1–2. identities (NHIs shortened) and the subscription
    expect(stdout).toMatch(/cfo \(human:nhi:ed25519:\w{6}…\) +Ed25519 \+ ML-DSA-65, role cfo/);
    expect(stdout).toMatch(/invoice-agent \(agent:nhi:ed25519:\w{6}…\) +Ed25519 \+ ML-DSA-65/);
    expect(stdout).toMatch(
      /oversightService \(service:nhi:ed25519:\w{6}…\) +the layer's own service identity/,
    );
    expect(stdout).toMatch(/subscription [0-9a-f-]{36}: acme-corp on plan "team"/);

    // 3. spawn: authz, NHI binding, attestation, and §8.2 propagation on the second spawn
    expect(stdout).toMatch(/authz sandbox\.spawn on runtime:sandbox:gvisor → allow \[policy agents-spawn\]/);
    expect(stdout).toMatch(/sb-[0-9a-f-]{36}: running; class gvisor, driver quickjs/);
    expect(stdout).toMatch(/NHI bind_identity → invoice-agent/);
    expect(stdout).toMatch(/attestation by runtimeHost .* verifies: true/);
    expect(stdout).toMatch(/a second sandbox this month: RT-429 "Cannot spawn sandbox: quota exceeded"/);
    expect(stdout).toMatch(
      /caused by MT-429 "Monthly sandbox_allocations quota exceeded \(1\/1\)", retry in 19\.6 days/,
    );

    // 4–5. code in the sandbox and a metered model call
    expect(stdout).toContain('outcome ok: {"invoice":"INV-1182","items":2,"total":"25000.00"}');
    expect(stdout).toMatch(/quota check for inference_call → allow/);
    expect(stdout).toMatch(/deterministic\/claude-3-haiku → \{"vendor":"ACME Office Supplies GmbH"/);

    // 6. the approval: decision, request, reasoning, E2E notification, forgeries, token
    expect(stdout).toMatch(
      /authz payment\.approve, amount 25000 → requires_oversight \[policy large-payment\]/,
    );
    expect(stdout).toMatch(/the call waits \(RT-202\); request PENDING, tier 1\/1/);
    expect(stdout).toContain('- Invoice INV-1182 matches purchase order PO-7781');
    expect(stdout).toMatch(/Oversight → Messaging → cfo .*: "Approval Required: payment\.approve"/);
    expect(stdout).toMatch(/the agent approves its own request: rejected OV-403/);
    expect(stdout).toMatch(/decision changed to APPROVE: rejected OV-401/);
    expect(stdout).toMatch(/09:07 {2}the CFO signs APPROVE: request APPROVED, override token issued/);
    expect(stdout).toMatch(
      /the tool ran, its call re-checked with the token: \{"paid":true,"invoice":"INV-1182"/,
    );
    expect(stdout).toMatch(/the same call again, without a token → requires_oversight/);

    // 7. end-to-end message: the relay saw ciphertext only
    expect(stdout).toMatch(
      /authz messaging:send on agent:accounting-agent .* → allow \[policy accounts-payable\]/,
    );
    expect(stdout).toMatch(/the relay saw \d+ bytes of ciphertext; plaintext visible to it: no/);
    expect(stdout).toContain(
      'decrypted: "Payment processed: INV-1182, 25000.00 USD to ACME Office Supplies GmbH"',
    );

    // 8. termination and the usage ingested
    expect(stdout).toMatch(/terminated after 600 s → usage event sandbox_terminated/);
    expect(stdout).toMatch(/sandbox_allocations +1\n/);
    expect(stdout).toMatch(/sandbox_seconds +600\n/);
    expect(stdout).toMatch(/inference_tokens +77\n/);

    // 9. the invoice table, exact money, delivered end to end
    expect(stdout).toMatch(/Base fee: Team +1 +49\.00 +49\.00/);
    expect(stdout).toMatch(/sandbox-seconds +600 +0\.0002 +0\.12/);
    expect(stdout).toMatch(/Total \(USD\) +49\.18/);
    expect(stdout).toMatch(
      /Metering → Messaging → billing-agent .*, end to end: "Invoice [0-9a-f-]{36} for 2026-01-01 to 2026-02-01"/,
    );

    // 10. the audit log: a signed checkpoint and a verified inclusion proof
    expect(stdout).toMatch(/\d+ events: .*runtime \d+.*oversight \d+.*messaging \d+.*metering \d+/);
    expect(stdout).toMatch(/signed checkpoint: tree size \d+, root [0-9a-f]{64}/);
    expect(stdout).toMatch(
      /the CFO's approval is leaf \d+; its inclusion proof \(\d+ hashes\) verifies: true/,
    );
    expect(stdout).toMatch(/rewritten to "denied" verifies: false/);
    expect(stdout).toMatch(/\nDone\./);
  }, 120_000);
});
