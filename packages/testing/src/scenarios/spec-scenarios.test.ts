/**
 * The cross-product scenarios of spec §12.2, run VERBATIM from
 * `tests/integration/cross-product/*.yaml` on the whole layer (`createTestEnvironment`), with the
 * step report printed; and a deliberately broken copy, which must fail with a precise message.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createEnablementScenarioRunner } from '../enablement-scenarios/index.js';
import { parseScenarios } from './parse.js';
import { formatScenarioReports } from './runner.js';

const SPEC_FILES = ['runtime-metering.yaml', 'runtime-oversight.yaml', 'oversight-messaging.yaml'] as const;
const read = (name: string) =>
  readFileSync(new URL(`../../../../tests/integration/cross-product/${name}`, import.meta.url), 'utf8');

describe('spec §12.2 cross-product scenarios', () => {
  for (const file of SPEC_FILES) {
    it(`${file} passes verbatim`, async () => {
      const runner = createEnablementScenarioRunner();
      const reports = await runner.runAll(parseScenarios(read(file), file));
      const report = formatScenarioReports(reports);
      console.log(report);
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) expect(r.failure, report).toBeUndefined();
      // Every step ran (none skipped) and passed.
      expect(reports.flatMap((r) => r.steps.map((s) => s.status)).every((s) => s === 'passed')).toBe(true);
    });
  }
});

describe('a broken scenario', () => {
  it('fails at the first wrong expectation with file, line, step, expected and actual', async () => {
    const broken = read('runtime-metering.yaml').replace('cpu_millicores: 1000', 'cpu_millicores: 999');
    const [allocation] = parseScenarios(broken, 'broken.yaml');
    if (allocation === undefined) throw new Error('no scenario');
    const report = await createEnablementScenarioRunner().run(allocation);
    expect(report.passed).toBe(false);
    expect(report.failure).toBe(
      'broken.yaml:12: assert_event_properties: sandbox_allocated event #0: properties.cpu_millicores: expected 999, got "1000"',
    );
    expect(report.steps.map((s) => s.status)).toEqual(['passed', 'passed', 'failed', 'skipped', 'skipped']);
  });

  it('reports an approver the policy does not name, and an error that did not come', async () => {
    const wrongApprover = read('runtime-oversight.yaml').replace(
      'assert_approver: "cfo@test.com"',
      'assert_approver: "ceo@test.com"',
    );
    const [oversight] = parseScenarios(wrongApprover, 'approver.yaml');
    const noQuota = read('runtime-metering.yaml').replace('limit: 1', 'limit: 5');
    const [, quota] = parseScenarios(noQuota, 'quota.yaml');
    if (oversight === undefined || quota === undefined) throw new Error('no scenario');
    const runner = createEnablementScenarioRunner();
    const [approverReport, quotaReport] = await runner.runAll([oversight, quota]);
    expect(approverReport?.failure).toMatch(
      /^approver\.yaml:13: get_oversight_request: request [0-9a-f-]{36}: ceo@test\.com \(agent:nhi:ed25519:\w+\) is not an approver of tier 1 \(expected "agent:nhi:ed25519:\w+", actual \["cfo@test\.com"\]\)$/,
    );
    expect(quotaReport?.failure).toBe(
      'quota.yaml:29: spawn_sandbox: expected an EnablementError "RT-429", got success',
    );
  });
});
