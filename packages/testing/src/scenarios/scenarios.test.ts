import { readFileSync } from 'node:fs';
import { EnablementError } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { expectEnablementError } from '../assertions/index.js';
import { parseDuration } from './duration.js';
import { parseScenarios } from './parse.js';
import {
  createScenarioRunner,
  formatScenarioReports,
  ScenarioAssertionError,
  type StepHandler,
} from './runner.js';

const specFile = (name: string) =>
  new URL(`../../../../tests/integration/cross-product/${name}`, import.meta.url);

describe('parseDuration', () => {
  it('reads the units the scenarios use', () => {
    expect(parseDuration('5s')).toBe(5_000);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration(250)).toBe(250);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['5', 's', '-1s', '1e3s', '5 sec', '', {}, null, Number.NaN, -1, '9999d']) {
      expectEnablementError(() => parseDuration(bad, 'timeout'), 'PL-400');
    }
  });
});

describe('parseScenarios', () => {
  it('parses the three §12.2 files verbatim, with step names, arguments and lines', () => {
    const text = readFileSync(specFile('runtime-metering.yaml'), 'utf8');
    const [allocation, quota] = parseScenarios(text, 'runtime-metering.yaml');
    expect(allocation?.name).toBe('Sandbox allocation generates billing event');
    expect(allocation?.steps.map((s) => s.name)).toEqual([
      'spawn_sandbox',
      'wait_for_event',
      'assert_event_properties',
      'terminate_sandbox',
      'assert_event',
    ]);
    expect(allocation?.steps[0]?.args).toEqual({ agent_nhi: 'test:agent:001', runtime_class: 'gvisor' });
    expect(allocation?.steps[2]?.args).toEqual({
      agent_nhi: 'test:agent:001',
      cpu_millicores: 1000,
      memory_bytes: 2147483648,
    });
    expect(allocation?.steps[3]).toMatchObject({ name: 'terminate_sandbox', args: {}, line: 16 });
    expect(quota?.steps[3]?.args).toEqual({
      agent_nhi: 'test:agent:002',
      expect_error: 'RT-429',
      error_message: 'quota exceeded',
    });
    const oversight = parseScenarios(readFileSync(specFile('runtime-oversight.yaml'), 'utf8'));
    expect(oversight[0]?.steps[2]?.args).toEqual({
      command: 'transfer_funds',
      args: { amount: 50000 },
      expect_state: 'pending_approval',
    });
    const messaging = parseScenarios(readFileSync(specFile('oversight-messaging.yaml'), 'utf8'));
    expect(messaging[0]?.steps[2]?.args).toMatchObject({ encrypted: true, protocol: 'PQXDH' });
  });

  it('rejects malformed files with file and line', () => {
    const cases: [string, string][] = [
      ['scenarios: [', 'invalid YAML'],
      ['- a', 'expected a map'],
      ['scenarios: 3', 'must be a list'],
      ['scenarios:\n  - steps: []', 'needs a `name`'],
      ['scenarios:\n  - name: x\n    steps: {}', '`steps` must be a list'],
      ['scenarios:\n  - name: x\n    steps:\n      - a: 1\n        b: 2', 'exactly one key'],
      ['scenarios:\n  - name: x\n    steps:\n      - a: [1]', 'arguments must be a map'],
      ['scenarios:\n  - name: x\n    steps:\n      - a: {k: 1, k: 2}', 'invalid YAML'],
    ];
    for (const [text, message] of cases) {
      const error = expectEnablementError(() => parseScenarios(text, 'bad.yaml'), 'PL-400');
      expect(error.message).toContain(message);
      expect(error.message).toMatch(/^bad\.yaml:\d+: /);
    }
  });

  it('bounds alias expansion (billion laughs)', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'scenarios: []',
    ].join('\n');
    expectEnablementError(() => parseScenarios(bomb, 'bomb.yaml'), 'PL-400');
  });
});

describe('createScenarioRunner', () => {
  const text = `scenarios:
  - name: counts
    steps:
      - add: { n: 2 }
      - add: { n: 3 }
      - assert_total: { equals: 5 }
      - fail_with: { code: MT-429 }
      - expect_error: { code: MT-429 }
      - fail_with: { code: RT-429, message: "Cannot spawn: quota exceeded" }
        `;
  type Env = { total: number; disposed: boolean };
  const steps: Record<string, StepHandler<Env>> = {
    add: (args, { env }) => {
      env.total += Number(args.n);
      return env.total;
    },
    assert_total: (args, { env }) => {
      if (env.total !== args.equals)
        throw new ScenarioAssertionError('total differs', args.equals, env.total);
    },
    fail_with: (args) => {
      throw new EnablementError(String(args.code) as 'MT-429', String(args.message ?? 'quota exceeded'));
    },
  };
  const envs: Env[] = [];
  const runner = createScenarioRunner<Env>({
    steps,
    createEnvironment: () => {
      const env = { total: 0, disposed: false };
      envs.push(env);
      return env;
    },
    disposeEnvironment: (env) => {
      env.disposed = true;
    },
  });

  it('passes steps, expected errors inline and as a following step, and reports each step', async () => {
    const withInline = text.replace(
      'message: "Cannot spawn: quota exceeded" }',
      'message: "Cannot spawn: quota exceeded", expect_error: RT-429, error_message: QUOTA EXCEEDED }',
    );
    const [scenario] = parseScenarios(
      withInline.replace('      - assert_success_never: {}\n', ''),
      'ok.yaml',
    );
    if (scenario === undefined) throw new Error('no scenario');
    const report = await runner.run(scenario);
    expect(report.failure).toBeUndefined();
    expect(report.passed).toBe(true);
    expect(report.steps.map((s) => s.status)).toEqual(Array(6).fill('passed'));
    expect(envs.at(-1)?.disposed).toBe(true);
  });

  it('fails precisely: file, line, step, expected and actual; later steps skipped', async () => {
    const [scenario] = parseScenarios(text.replace('equals: 5', 'equals: 6'), 'bad.yaml');
    if (scenario === undefined) throw new Error('no scenario');
    const report = await runner.run(scenario);
    expect(report.passed).toBe(false);
    expect(report.failure).toBe('bad.yaml:6: assert_total: total differs (expected 6, actual 5)');
    expect(report.steps.map((s) => s.status)).toEqual([
      'passed',
      'passed',
      'failed',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(formatScenarioReports([report])).toContain('0/1 scenarios passed');
  });

  it('fails a step whose expected error does not come, or comes with another code or message', async () => {
    const cases: [string, string][] = [
      ['      - add: { n: 1, expect_error: RT-429 }', 'expected an EnablementError "RT-429", got success'],
      ['      - fail_with: { code: MT-429, expect_error: RT-429 }', 'expected error RT-429, got MT-429'],
      [
        '      - fail_with: { code: RT-429, expect_error: RT-429, error_message: other }',
        'expected error message to contain "other"',
      ],
      ['      - add: { n: 1 }\n      - expect_error: { code: RT-429 }', 'got success'],
      [
        '      - nope: {}',
        'unknown step (known: add, assert_success, assert_total, expect_error, fail_with)',
      ],
      ['      - fail_with: { code: MT-429 }\n      - assert_success', 'MT-429: quota exceeded'],
    ];
    for (const [stepsText, message] of cases) {
      const [scenario] = parseScenarios(`scenarios:\n  - name: x\n    steps:\n${stepsText}\n`, 'c.yaml');
      if (scenario === undefined) throw new Error('no scenario');
      const report = await runner.run(scenario);
      expect(report.passed, stepsText).toBe(false);
      expect(report.failure).toContain(message);
    }
  });

  it('reports an environment that cannot be built', async () => {
    const broken = createScenarioRunner<Env>({
      steps,
      createEnvironment: () => {
        throw new EnablementError('PL-503', 'platform down');
      },
    });
    const [scenario] = parseScenarios(text, 'env.yaml');
    if (scenario === undefined) throw new Error('no scenario');
    const [report] = await broken.runAll([scenario]);
    expect(report?.failure).toBe('env.yaml:2: environment for "counts" failed: PL-503: platform down');
    expect(report?.steps.every((s) => s.status === 'skipped')).toBe(true);
  });
});
