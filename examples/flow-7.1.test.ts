import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

describe('examples/flow-7.1-sandbox-inference-billing.mjs', () => {
  it('spawns, infers and bills with the spec numbers, and Metering refuses a replay and a tampered event', async () => {
    const { stdout, stderr } = await runExample('flow-7.1-sandbox-inference-billing.mjs');
    expect(stderr).toBe('');
    expect(stdout).toMatch(/authz sandbox\.spawn → allow \[agents-spawn\]/);
    expect(stdout).toMatch(/attestation verifies against the runtime host key: true/);
    expect(stdout).toMatch(/bus ← sandbox_allocated \(SandboxAllocated\)/);
    expect(stdout).toMatch(
      /runtime_class=gvisor, cpu_millicores=1000, memory_bytes=2147483648, duration_seconds=0/,
    );
    expect(stdout).toMatch(/input_tokens=100, output_tokens=200, cost_usd=0\.0033\n/);
    expect(stdout).toMatch(/bus ← inference_call \(InferenceCall\)/);
    expect(stdout).toMatch(/signed Ed25519 ‖ ML-DSA-65 \(3373 bytes\)/);
    expect(stdout).toMatch(/inference_input_tokens +100 +events: 1/);
    expect(stdout).toMatch(/inference_output_tokens +200 +events: 1/);
    expect(stdout).toMatch(/inference_cost_usd +0\.0033 +events: 1/);
    expect(stdout).toContain('the inference event delivered again: duplicate');
    expect(stdout).toContain('output_tokens lowered to 20 in transit: rejected MT-401');
    expect(stdout).toMatch(/\nDone\./);
  }, 90_000);
});
