import { describe, expect, it } from 'vitest';
import { parseScenarios } from '../scenarios/parse.js';
import { formatScenarioReports } from '../scenarios/runner.js';
import { createEnablementScenarioRunner } from './runner.js';

const runner = createEnablementScenarioRunner({
  steps: {
    // A custom step: users extend the vocabulary with their own.
    count_usage: (args, { env }) => {
      const n = env.usageEvents().filter((e) => e.eventType === args.event_type).length;
      if (n !== args.equals)
        throw new Error(`expected ${String(args.equals)} ${String(args.event_type)} events, got ${n}`);
      return n;
    },
  },
});

async function run(yaml: string) {
  const reports = await runner.runAll(parseScenarios(yaml, 'steps.yaml'));
  return { reports, text: formatScenarioReports(reports) };
}

describe('scenario steps beyond the spec files', () => {
  it('calls a tool from sandbox code (QuickJS) and a denial fails it; a call below the bound runs; custom steps run', async () => {
    const { reports, text } = await run(`scenarios:
  - name: from sandbox code
    steps:
      - configure_policy: { rule: "amount >= 1000 requires Treasurer approval" }
      - spawn_sandbox: { agent_nhi: "test:agent:code" }
      - exec_in_sandbox: { command: transfer_funds, args: { amount: 5000, to: acme }, via: code, expect_state: pending_approval }
      - get_oversight_request: { assert_state: PENDING, assert_approver: "treasurer@test.com" }
      - submit_approval: { approver: "treasurer@test.com", decision: DENY, reason: "no" }
      - assert_execution: { result: failure, error: RT-403 }
      - exec_in_sandbox: { command: transfer_funds, args: { amount: 500 } }
      - assert_success
      - count_usage: { event_type: sandbox_allocated, equals: 1 }
`);
    expect(reports[0]?.failure, text).toBeUndefined();
  });

  it('fails each misuse at its step with a message naming what is wrong', async () => {
    const cases: [string, string][] = [
      ['- assert_event_properties: { cpu_millicores: 1 }', 'no last_event yet: run wait_for_event first'],
      ['- configure_policy: { rule: "amount is large" }', 'PL-400: rule: "amount is large" is not'],
      [
        '- configure_policy: { rule: "amount > 1 requires CFO approval", tool: nope }',
        'PL-400: tool: no tool nope',
      ],
      [
        '- wait_for_event: { event_type: sandbox_allocated, timeout: soon }',
        'PL-400: timeout: "soon" is not a duration',
      ],
      [
        '- wait_for_event: { event_type: sandbox_allocated, timeout: 200ms }',
        'waitForEvent: no usage event sandbox_allocated from metering within 200 ms; seen 0 usage event(s) of types [] (fake clock advanced 200 ms)',
      ],
      [
        '- set_quota: { agent_nhi: a, event_type: teleport, limit: 1 }',
        'no count or sum meter counts teleport',
      ],
      ['- spawn_sandbox: { agent_nhi: a, memory_bytes: 1.5 }', 'memory_bytes: 1.5 is not exact'],
      [
        '- spawn_sandbox: { agent_nhi: a, memory_bytes: "2 GiB" }',
        'memory_bytes: expected a non-negative integer',
      ],
      ['- spawn_sandbox: { agent_nhi: a, runtime_class: firecracker }', 'RT-400'],
      [
        '- submit_approval: { approver: a, decision: MAYBE, request_id: x }',
        'decision: expected APPROVE or DENY',
      ],
      [
        '- spawn_sandbox: { agent_nhi: a }\n      - exec_in_sandbox: { command: transfer_funds, args: { amount: 1 }, expect_state: pending_approval }',
        'exec_in_sandbox: transfer_funds: execution state (expected "pending_approval", actual "failed")',
      ],
      [
        '- create_oversight_request: { action: x, approver: b }\n      - wait_for_message: { recipient: b, timeout: 1s }\n      - assert_message: { encrypted: false }',
        'encrypted: messages are always end-to-end encrypted',
      ],
      [
        '- create_oversight_request: { action: x, approver: b }\n      - wait_for_message: { recipient: b }\n      - assert_message: { protocol: X3DH }',
        'key agreement (expected "X3DH", actual "PQXDH")',
      ],
    ];
    const yaml = `scenarios:\n${cases
      .map(([steps], i) => `  - name: case ${i}\n    steps:\n      ${steps}\n`)
      .join('')}`;
    const { reports } = await run(yaml);
    cases.forEach(([steps, message], i) => {
      expect(reports[i]?.passed, steps).toBe(false);
      expect(reports[i]?.failure, steps).toContain(message);
    });
  });
});
