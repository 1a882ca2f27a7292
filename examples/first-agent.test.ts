import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.js';

// The program docs/getting-started.md shows as "your first agent" must keep working as printed there.
describe('examples/first-agent.mjs', () => {
  it('runs a tool from sandboxed code, makes a metered model call and reports the usage', async () => {
    const { stdout, stderr } = await runExample('first-agent.mjs');
    expect(stderr).toBe('');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('ok Order A-17 is shipped');
    expect(lines[1]).toMatch(/^.+ \((\d+)\+(\d+) tokens, 0\.\d+ USD\)$/);
    const [, input, output] = /\((\d+)\+(\d+) tokens/.exec(lines[1] ?? '') ?? [];
    expect(lines[2]).toBe(`tokens metered: ${Number(input) + Number(output)}, audit events: 3`);
  }, 90_000);
});
