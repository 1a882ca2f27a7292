import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

// The platform tour (what `npm run demo` showed before the products existed): every step runs and
// every forgery it tries is rejected with the right code.
describe('examples/platform-tour.mjs', () => {
  it('runs every step and rejects every forgery it tries', async () => {
    const { stdout } = await runExample('platform-tour.mjs');
    expect(stdout).toMatch(/chain .* → .* → .*: valid/);
    expect(stdout).toMatch(/re-delegates payment\.\* it never had: rejected PL-403/);
    expect(stdout).toMatch(/one bit flipped in a link signature: rejected PL-401/);
    expect(stdout).toContain('verifies: true');
    expect(stdout).toContain('verifies after changing runtime_class: false');
    expect(stdout).toMatch(/metering verified sandbox_allocated: 2147483648 bytes/);
    expect(stdout).toMatch(/memory_bytes raised in transit: rejected MT-401/);
    expect(stdout).toMatch(/malformed event: rejected MT-400 .*cpu_millicores/);
    expect(stdout).toContain('recipient opens: "Payment processed"');
    expect(stdout).toMatch(/ciphertext with one bit flipped: rejected PL-401/);
    expect(stdout).toMatch(/transfer 5000: allow/);
    expect(stdout).toMatch(/transfer 50000: requires_oversight/);
    expect(stdout).toMatch(/transfer 50000 with the override token: allow/);
    expect(stdout).toMatch(/the same token replayed: rejected OV-410/);
    expect(stdout).toMatch(/a 50000 token used for 50001: rejected PL-403/);
    expect(stdout).toMatch(/inclusion proof of the approval verifies against the root: true/);
    expect(stdout).toContain('"code": "RT-429"');
    expect(stdout).toMatch(/"caused_by": \{\s+"code": "MT-429"/);
    expect(stdout).toContain('Done: every step above ran for real');
  }, 90_000);
});
