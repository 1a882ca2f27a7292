import { FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import type { LogFields, Logger } from '../telemetry/logger.js';
import {
  createHealthRegistry,
  DEPENDENCY_DEFAULTS,
  dependencyDefaults,
  type HealthCheckFn,
  healthHttpResponse,
  registerDependencyChecks,
} from './index.js';

const START = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A dependency whose health the test flips. */
function flag(initial: boolean) {
  const state = { up: initial, calls: 0 };
  const check: HealthCheckFn = () => {
    state.calls++;
    if (!state.up) throw new EnablementError('PL-503', 'connection refused');
  };
  return { state, check };
}

function setup() {
  const clock = new FakeClock({ start: START });
  const logged: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (message, fields) => logged.push({ level: 'info', message, fields }),
    warn: (message, fields) => logged.push({ level: 'warn', message, fields }),
    error: () => {},
    child: () => logger,
  };
  const health = createHealthRegistry({ clock, product: 'oversight', logger });
  return { clock, health, logged };
}

describe('createHealthRegistry: status transitions', () => {
  it('is ready with every dependency up, degraded with a soft one down, not_ready with a hard one down', async () => {
    const { health, logged } = setup();
    const nhi = flag(true);
    const memory = flag(true);
    health.register({ name: 'creto-nhi', kind: 'hard', check: nhi.check });
    health.register({
      name: 'creto-memory',
      kind: 'soft',
      check: memory.check,
      degradedBehavior: 'No reasoning context shown',
    });

    expect((await health.check()).status).toBe('ready');

    memory.state.up = false;
    const degraded = await health.check();
    expect(degraded.status).toBe('degraded');
    expect(degraded.live).toBe(true);
    expect(degraded.dependencies[1]).toMatchObject({
      name: 'creto-memory',
      kind: 'soft',
      status: 'down',
      error: 'PL-503: connection refused',
      degradedBehavior: 'No reasoning context shown',
    });

    nhi.state.up = false;
    const down = await health.check();
    expect(down.status).toBe('not_ready');
    // It was up once: not ready, but still live (a restart would not bring nhi back).
    expect(down.live).toBe(true);

    nhi.state.up = true;
    memory.state.up = true;
    const back = await health.check();
    expect(back.status).toBe('ready');
    expect(
      back.dependencies.every(
        (d) => d.status === 'up' && d.error === undefined && d.degradedBehavior === undefined,
      ),
    ).toBe(true);

    expect(logged.map((l) => [l.level, l.message])).toEqual([
      ['info', 'health: unknown -> ready'],
      ['warn', 'health: ready -> degraded'],
      ['warn', 'health: degraded -> not_ready'],
      ['info', 'health: not_ready -> ready'],
    ]);
    expect(logged[1]?.fields).toMatchObject({ product: 'oversight', down: ['creto-memory'] });
  });

  it('counts a dependency never checked as down, and an empty registry as ready', async () => {
    const { health } = setup();
    expect(health.report().status).toBe('ready');
    health.register({ name: 'creto-nhi', kind: 'hard', check: () => true });
    expect(health.report()).toMatchObject({
      status: 'not_ready',
      dependencies: [{ status: 'down', error: 'not checked yet' }],
    });
    expect((await health.check()).status).toBe('ready');
  });

  it('reads false as down and hides foreign error text (it may hold credentials)', async () => {
    const { health } = setup();
    health.register({ name: 'a', kind: 'hard', check: () => false });
    health.register({
      name: 'b',
      kind: 'hard',
      check: () => {
        throw new Error('connect ECONNREFUSED postgres://app:hunter2@db');
      },
    });
    const report = await health.check();
    expect(report.dependencies.map((d) => d.error)).toEqual(['check reported down', 'check failed']);
    expect(JSON.stringify(healthHttpResponse(report, 'ready'))).not.toContain('hunter2');
  });
});

describe('createHealthRegistry: timeouts', () => {
  it('times a check out on the Clock, aborts its signal, and reports it down', async () => {
    const { clock, health } = setup();
    let signal: AbortSignal | undefined;
    health.register({
      name: 'creto-memory',
      kind: 'soft',
      timeoutMs: 2_000,
      check: (s) => {
        signal = s;
        return new Promise(() => {});
      },
    });
    const pending = health.check();
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    clock.advance(1_999);
    await turn();
    expect(settled).toBe(false);
    clock.advance(1);
    const report = await pending;
    expect(report.status).toBe('degraded');
    expect(report.dependencies[0]).toMatchObject({
      status: 'down',
      error: 'timed out after 2000 ms',
      durationMs: 2000,
    });
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('cancels the timeout timer of a check that answered in time', async () => {
    const { clock, health } = setup();
    health.register({ name: 'a', kind: 'hard', check: () => true });
    await health.check();
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not start a check twice while it is still running', async () => {
    const { clock, health } = setup();
    let calls = 0;
    let finish: () => void = () => {};
    health.register({
      name: 'slow',
      kind: 'hard',
      timeoutMs: 10_000,
      check: () => {
        calls++;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    const first = health.check();
    const second = health.check();
    await turn();
    expect(calls).toBe(1);
    clock.advance(5);
    finish();
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe('ready');
    expect(b.status).toBe('ready');
    expect(a.dependencies[0]?.durationMs).toBe(5);
  });

  it('marks the engine not live once a hard dependency misses its startup timeout without ever being up', async () => {
    const { clock, health } = setup();
    const nhi = flag(false);
    const audit = flag(false);
    health.register({ name: 'creto-nhi', kind: 'hard', check: nhi.check, startupTimeoutMs: 30_000 });
    health.register({ name: 'creto-audit', kind: 'soft', check: audit.check, startupTimeoutMs: 10_000 });
    clock.advance(29_999);
    let report = await health.check();
    expect(report).toMatchObject({ status: 'not_ready', live: true });
    expect(report.dependencies[1]?.startupTimedOut).toBe(true); // soft: reported only
    expect(healthHttpResponse(report, 'health').statusCode).toBe(200);
    clock.advance(1);
    report = await health.check();
    expect(report).toMatchObject({ status: 'not_ready', live: false });
    expect(report.dependencies[0]?.startupTimedOut).toBe(true);
    expect(healthHttpResponse(report, 'health').statusCode).toBe(503);
    // Coming up late revives it.
    nhi.state.up = true;
    report = await health.check();
    expect(report).toMatchObject({ status: 'degraded', live: true });
  });
});

describe('createHealthRegistry: registration', () => {
  it('validates registrations with PL-400 naming the field; duplicates and overflow are PL-409', () => {
    const clock = new FakeClock();
    const health = createHealthRegistry({ clock, maxChecks: 2 });
    const ok = { name: 'a', kind: 'hard' as const, check: () => true };
    const bad = (registration: unknown, text: string) =>
      expect(() => health.register(registration as never)).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining(text) }),
      );
    bad(null, 'registration');
    bad({ ...ok, name: 'has space' }, 'name');
    bad({ ...ok, kind: 'medium' }, 'a.kind');
    bad({ ...ok, check: 'ping' }, 'a.check');
    bad({ ...ok, timeoutMs: 0 }, 'a.timeoutMs');
    bad({ ...ok, startupTimeoutMs: Number.POSITIVE_INFINITY }, 'a.startupTimeoutMs');
    bad({ ...ok, degradedBehavior: 'x'.repeat(300) }, 'a.degradedBehavior');
    const unregister = health.register(ok);
    expect(() => health.register(ok)).toThrow(expect.objectContaining({ code: 'PL-409' }));
    health.register({ ...ok, name: 'b' });
    expect(() => health.register({ ...ok, name: 'c' })).toThrow(expect.objectContaining({ code: 'PL-409' }));
    unregister();
    unregister();
    expect(() => health.register({ ...ok, name: 'c' })).not.toThrow();
    expect(health.report().dependencies.map((d) => d.name)).toEqual(['b', 'c']);
  });

  it('rejects bad options', () => {
    expect(() => createHealthRegistry({} as never)).toThrow(
      expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('clock') }),
    );
    expect(() => createHealthRegistry({ clock: new FakeClock(), maxChecks: 0 })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('maxChecks') }),
    );
  });
});

describe('spec §2.2 / §2.3 defaults', () => {
  it('holds the §2.2 hard dependencies with their startup timeouts', () => {
    const hard = DEPENDENCY_DEFAULTS.filter((d) => d.kind === 'hard').map(
      (d) => `${d.product} ${d.name} ${d.startupTimeoutMs}`,
    );
    expect(hard).toEqual([
      'runtime creto-nhi 30000',
      'runtime creto-authz 30000',
      'runtime creto-crypto 30000',
      'metering creto-nhi 30000',
      'metering creto-authz 10000',
      'metering creto-consensus 30000',
      'oversight creto-nhi 30000',
      'oversight creto-authz 10000',
      'messaging creto-nhi 30000',
      'messaging creto-crypto 30000',
    ]);
  });

  it('holds the §2.3 soft dependencies with their degraded behaviour (memory soft for Oversight, 60 s)', () => {
    const soft = (product: 'runtime' | 'metering' | 'oversight' | 'messaging', name: string) =>
      dependencyDefaults(product).find((d) => d.name === name);
    expect(soft('runtime', 'creto-audit')).toMatchObject({
      kind: 'soft',
      degradedBehavior: 'Logs buffered locally',
      recovery: 'Flush on reconnect',
    });
    expect(soft('metering', 'creto-audit')).toMatchObject({
      kind: 'soft',
      degradedBehavior: 'Events queued',
    });
    expect(soft('oversight', 'creto-memory')).toMatchObject({
      kind: 'soft',
      startupTimeoutMs: 60_000,
      degradedBehavior: 'No reasoning context shown',
    });
    expect(soft('messaging', 'creto-audit')).toMatchObject({
      kind: 'soft',
      degradedBehavior: 'Receipt logging delayed',
    });
  });

  it('registerDependencyChecks wires the defaults of a product, and only those', async () => {
    const clock = new FakeClock();
    const health = createHealthRegistry({ clock, product: 'oversight' });
    const unregister = registerDependencyChecks(health, 'oversight', {
      'creto-nhi': () => true,
      'creto-memory': () => false,
    });
    const report = await health.check();
    expect(report.status).toBe('degraded');
    expect(report.dependencies).toEqual([
      expect.objectContaining({ name: 'creto-nhi', kind: 'hard', startupTimeoutMs: 30_000 }),
      expect.objectContaining({
        name: 'creto-memory',
        kind: 'soft',
        startupTimeoutMs: 60_000,
        degradedBehavior: 'No reasoning context shown',
      }),
    ]);
    unregister();
    expect(health.report().dependencies).toEqual([]);
    expect(() => registerDependencyChecks(health, 'oversight', { 'creto-crypto': () => true })).toThrow(
      expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('checks.creto-crypto') }),
    );
    expect(health.report().dependencies).toEqual([]);
  });
});

describe('healthHttpResponse', () => {
  it('serves /ready as 200 when ready or degraded and 503 when not ready, with the JSON report', async () => {
    const { clock, health } = setup();
    const nhi = flag(true);
    const memory = flag(false);
    health.register({ name: 'creto-nhi', kind: 'hard', check: nhi.check });
    health.register({
      name: 'creto-memory',
      kind: 'soft',
      check: memory.check,
      degradedBehavior: 'No reasoning context shown',
    });
    clock.advance(1.5);
    const degraded = healthHttpResponse(await health.check(), 'ready');
    expect(degraded.statusCode).toBe(200);
    expect(degraded.headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(degraded.body)).toEqual({
      status: 'degraded',
      live: true,
      product: 'oversight',
      checked_at: '2026-01-01T00:00:00.001500Z',
      dependencies: [
        {
          name: 'creto-nhi',
          kind: 'hard',
          status: 'up',
          error: null,
          duration_ms: 0,
          last_up_at: '2026-01-01T00:00:00.001500Z',
          startup_timed_out: false,
          degraded_behavior: null,
        },
        {
          name: 'creto-memory',
          kind: 'soft',
          status: 'down',
          error: 'PL-503: connection refused',
          duration_ms: 0,
          last_up_at: null,
          startup_timed_out: false,
          degraded_behavior: 'No reasoning context shown',
        },
      ],
    });
    nhi.state.up = false;
    const notReady = await health.check();
    expect(healthHttpResponse(notReady, 'ready').statusCode).toBe(503);
    expect(healthHttpResponse(notReady, 'health').statusCode).toBe(200);
  });
});
