import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('./demo.mjs', import.meta.url));
const built = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url));

// The README's main job must keep working: run it exactly as `npm run demo` does (after the build).
describe('npm run demo', () => {
  it('runs every step and rejects every forgery it tries', async () => {
    expect(existsSync(built), 'build the packages first: npm run build').toBe(true);
    const { stdout } = await run(process.execPath, [demo], { timeout: 60_000 });
    expect(stdout).toContain('valid');
    expect(stdout).toMatch(/re-delegates payment\.\* it never had: rejected PL-403/);
    expect(stdout).toMatch(/one bit flipped in a link signature: rejected PL-401/);
    expect(stdout).toContain('verifies: true');
    expect(stdout).toContain('verifies after changing runtime_class: false');
    expect(stdout).toMatch(/metering verified sandbox_allocated: 2147483648 bytes/);
    expect(stdout).toMatch(/memory_bytes raised in transit: rejected MT-401/);
    expect(stdout).toMatch(/malformed event: rejected MT-400 .*cpu_millicores/);
    expect(stdout).toContain('recipient opens: "Payment processed"');
    expect(stdout).toMatch(/transfer 5000: allow/);
    expect(stdout).toMatch(/transfer 50000: requires_oversight/);
    expect(stdout).toMatch(/transfer 50000 with the override token: allow/);
    expect(stdout).toMatch(/the same token replayed: rejected OV-410/);
    expect(stdout).toMatch(/a 50000 token used for 50001: rejected PL-403/);
    expect(stdout).toMatch(/inclusion proof of the approval verifies against the root: true/);
    expect(stdout).toContain('"code": "RT-429"');
    expect(stdout).toContain('Done: every step above ran for real');
  }, 90_000);
});
