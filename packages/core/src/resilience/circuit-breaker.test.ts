import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  type CircuitBreakerOptions,
  type CircuitStateChange,
  createCircuitBreaker,
  isDependencyFailure,
  MAX_CIRCUIT_LISTENERS,
} from './circuit-breaker.js';
import { CircuitOpenError } from './errors.js';

const down = () => new EnablementError('PL-503', 'audit unavailable');
const fail = () => Promise.reject(down());
const ok = () => Promise.resolve('ok');

function setup(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new FakeClock({ start: 0n });
  const changes: CircuitStateChange[] = [];
  const breaker = createCircuitBreaker({
    name: 'creto-audit',
    clock,
    openDurationMs: 10_000,
    onStateChange: (c) => changes.push(c),
    ...options,
  });
  const transitions = () => changes.map((c) => `${c.from}->${c.to}`);
  return { clock, breaker, changes, transitions };
}

async function failTimes(breaker: { execute: (fn: () => Promise<string>) => Promise<string> }, n: number) {
  for (let i = 0; i < n; i++) await breaker.execute(fail).catch(() => {});
}

/** A promise with its resolve and reject, to hold a call in flight. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('circuit breaker: closed', () => {
  it('passes results and errors through unchanged', async () => {
    const { breaker } = setup();
    expect(await breaker.execute(() => 7)).toBe(7);
    const error = down();
    await expect(breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
    const sync = new TypeError('sync throw');
    await expect(
      breaker.execute(() => {
        throw sync;
      }),
    ).rejects.toBe(sync);
    expect(breaker.state).toBe('closed');
  });

  it('opens after the consecutive-failure threshold and rejects without calling', async () => {
    const { breaker, clock, changes } = setup({ consecutiveFailures: 3 });
    await failTimes(breaker, 2);
    expect(breaker.stats).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    clock.advance(5);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([{ breaker: 'creto-audit', from: 'closed', to: 'open', at: 5_000_000n }]);
    let called = false;
    const error = await expectEnablementRejection(
      breaker.execute(async () => {
        called = true;
      }),
      'PL-503',
    );
    expect(called).toBe(false);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(10_000);
    expect(error.message).toContain('"creto-audit"');
    expect((error as CircuitOpenError).breaker).toBe('creto-audit');
    expect((error as CircuitOpenError).rejection).toBe('open');
    clock.advance(2_500);
    expect((await expectEnablementRejection(breaker.execute(ok), 'PL-503')).retryAfterMs).toBe(7_500);
  });

  it('resets the count on success, and on errors that are not dependency failures', async () => {
    const { breaker } = setup({ consecutiveFailures: 3 });
    await failTimes(breaker, 2);
    await breaker.execute(ok);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe('closed');
    for (const answer of [
      new EnablementError('PL-400', 'bad input'),
      new EnablementError('RT-202', 'pending approval'),
      new TypeError('caller bug'),
    ]) {
      await breaker.execute(() => Promise.reject(answer)).catch(() => {});
      expect(breaker.stats.consecutiveFailures).toBe(0);
      await failTimes(breaker, 2);
    }
    expect(breaker.state).toBe('closed');
  });

  it('uses 5 consecutive failures by default', async () => {
    const { breaker } = setup({});
    await failTimes(breaker, 4);
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
  });

  it('counts what isFailure says; a throwing predicate counts as a failure', async () => {
    const { breaker } = setup({ consecutiveFailures: 2, isFailure: (e) => e instanceof TypeError });
    await failTimes(breaker, 5);
    expect(breaker.state).toBe('closed');
    await breaker.execute(() => Promise.reject(new TypeError('x'))).catch(() => {});
    await breaker.execute(() => Promise.reject(new TypeError('x'))).catch(() => {});
    expect(breaker.state).toBe('open');
    const throwing = setup({
      consecutiveFailures: 1,
      isFailure: () => {
        throw new Error('predicate bug');
      },
    });
    await throwing.breaker.execute(() => Promise.reject(new Error('any'))).catch(() => {});
    expect(throwing.breaker.state).toBe('open');
  });
});

describe('circuit breaker: half-open and the single trial', () => {
  it('moves to half-open after the open duration, on the clock', async () => {
    const { breaker, clock, transitions } = setup({ consecutiveFailures: 1 });
    await failTimes(breaker, 1);
    clock.advance(9_999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half_open');
    expect(transitions()).toEqual(['closed->open', 'open->half_open']);
  });

  it('lets exactly one trial through, rejects concurrent calls, and closes on its success', async () => {
    const { breaker, clock, transitions } = setup({ consecutiveFailures: 1 });
    await failTimes(breaker, 1);
    clock.advance(10_000);
    const gate = deferred<string>();
    let calls = 0;
    const trial = breaker.execute(() => {
      calls++;
      return gate.promise;
    });
    const rejected = await Promise.all(
      Array.from({ length: 10 }, () =>
        expectEnablementRejection(
          breaker.execute(async () => {
            calls++;
          }),
          'PL-503',
        ),
      ),
    );
    expect(calls).toBe(1);
    for (const error of rejected) {
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).rejection).toBe('trial_in_progress');
      expect(error.retryable).toBe(true);
      expect(error.retryAfterMs).toBeUndefined();
    }
    gate.resolve('recovered');
    expect(await trial).toBe('recovered');
    expect(breaker.state).toBe('closed');
    expect(transitions()).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
    expect(await breaker.execute(ok)).toBe('ok');
  });

  it('reopens for a full duration when the trial fails', async () => {
    const { breaker, clock, transitions } = setup({ consecutiveFailures: 1 });
    await failTimes(breaker, 1);
    clock.advance(10_000);
    await breaker.execute(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    expect((await expectEnablementRejection(breaker.execute(ok), 'PL-503')).retryAfterMs).toBe(10_000);
    clock.advance(10_000);
    expect(await breaker.execute(ok)).toBe('ok');
    expect(transitions()).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->open',
      'open->half_open',
      'half_open->closed',
    ]);
  });

  it('closes when the trial ends with an error that is not a dependency failure', async () => {
    const { breaker, clock } = setup({ consecutiveFailures: 1 });
    await failTimes(breaker, 1);
    clock.advance(10_000);
    await breaker.execute(() => Promise.reject(new EnablementError('PL-404', 'no such key'))).catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('ignores calls that started under an earlier state', async () => {
    const { breaker, clock } = setup({ consecutiveFailures: 1 });
    const slow = deferred<string>();
    const early = breaker.execute(() => slow.promise);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe('open');
    // The slow call from before the opening succeeds: that says nothing about now.
    slow.resolve('late');
    expect(await early).toBe('late');
    expect(breaker.state).toBe('open');
    clock.advance(10_000);
    const slowFail = deferred<string>();
    const trial = breaker.execute(() => slowFail.promise);
    breaker.reset();
    slowFail.reject(down());
    await trial.catch(() => {});
    expect(breaker.state).toBe('closed');
  });
});

describe('circuit breaker: sampling', () => {
  const sampling = { failureRateThreshold: 0.5, windowMs: 10_000, minimumThroughput: 10, buckets: 10 };

  it('opens on the failure rate once the window has the minimum throughput', async () => {
    const { breaker } = setup({ sampling });
    // Alternate so that no run of consecutive failures matters (none configured anyway).
    for (let i = 0; i < 4; i++) {
      await breaker.execute(ok);
      await failTimes(breaker, 1);
    }
    await failTimes(breaker, 1); // 9 calls, 5 failures: below the minimum throughput
    expect(breaker.stats).toMatchObject({ state: 'closed', windowCalls: 9, windowFailures: 5 });
    await breaker.execute(ok); // 10 calls, 5 failures, but a success never opens
    expect(breaker.state).toBe('closed');
    await failTimes(breaker, 1); // 11 calls, 6 failures ≥ 50 %
    expect(breaker.state).toBe('open');
  });

  it('stays closed below the rate', async () => {
    const { breaker } = setup({ sampling });
    for (let i = 0; i < 20; i++) {
      await breaker.execute(ok);
      await breaker.execute(ok);
      await failTimes(breaker, 1);
    }
    expect(breaker.stats).toMatchObject({ state: 'closed', windowCalls: 60, windowFailures: 20 });
  });

  it('forgets calls older than the window, slice by slice', async () => {
    const { breaker, clock } = setup({ sampling });
    await failTimes(breaker, 8);
    clock.advance(5_000);
    await breaker.execute(ok);
    expect(breaker.stats).toMatchObject({ windowCalls: 9, windowFailures: 8 });
    clock.advance(5_000); // the first slice has left the window
    expect(breaker.stats).toMatchObject({ windowCalls: 1, windowFailures: 0 });
    await failTimes(breaker, 8); // 9 calls: below the minimum
    expect(breaker.state).toBe('closed');
    clock.advance(60_000);
    expect(breaker.stats).toMatchObject({ windowCalls: 0, windowFailures: 0 });
  });

  it('combines with a consecutive threshold when both are set', async () => {
    const { breaker } = setup({ sampling, consecutiveFailures: 3 });
    await failTimes(breaker, 3);
    expect(breaker.state).toBe('open');
  });

  it('starts the window afresh when the breaker closes', async () => {
    const { breaker, clock } = setup({ sampling });
    await failTimes(breaker, 10);
    expect(breaker.state).toBe('open');
    clock.advance(10_000);
    await breaker.execute(ok);
    expect(breaker.stats).toMatchObject({ state: 'closed', windowCalls: 0, windowFailures: 0 });
  });
});

describe('circuit breaker: listeners, reset and options', () => {
  it('adds and removes listeners, contains their exceptions, and bounds them', async () => {
    const { breaker } = setup({ consecutiveFailures: 1 });
    const seen: string[] = [];
    const off = breaker.onStateChange((c) => seen.push(c.to));
    breaker.onStateChange(() => {
      throw new Error('listener bug');
    });
    await failTimes(breaker, 1);
    off();
    breaker.reset();
    expect(seen).toEqual(['open']);
    expect(breaker.state).toBe('closed');
    for (let i = 2; i < MAX_CIRCUIT_LISTENERS; i++) breaker.onStateChange(() => {});
    expect(() => breaker.onStateChange(() => {})).toThrow('listeners');
  });

  it('rejects bad options with PL-400 naming the option', () => {
    const clock = new FakeClock();
    const bad: [Partial<CircuitBreakerOptions>, string][] = [
      [{ name: '' }, 'name'],
      [{ name: 'x'.repeat(129) }, 'name'],
      [{ name: 'new\nline' }, 'name'],
      [{ consecutiveFailures: 0 }, 'consecutiveFailures'],
      [{ openDurationMs: 1.5 }, 'openDurationMs'],
      [{ sampling: { failureRateThreshold: 0, windowMs: 1, minimumThroughput: 1 } }, 'failureRateThreshold'],
      [
        { sampling: { failureRateThreshold: 1.1, windowMs: 1, minimumThroughput: 1 } },
        'failureRateThreshold',
      ],
      [{ sampling: { failureRateThreshold: 0.5, windowMs: 0, minimumThroughput: 1 } }, 'windowMs'],
      [{ sampling: { failureRateThreshold: 0.5, windowMs: 1, minimumThroughput: 0 } }, 'minimumThroughput'],
      [
        { sampling: { failureRateThreshold: 0.5, windowMs: 1, minimumThroughput: 1, buckets: 1001 } },
        'buckets',
      ],
      [{ isFailure: 'yes' as never }, 'isFailure'],
      [{ clock: {} as FakeClock }, 'clock'],
    ];
    for (const [options, field] of bad) {
      let thrown: unknown;
      try {
        createCircuitBreaker({ name: 'b', clock, ...options });
      } catch (error) {
        thrown = error;
      }
      expect(EnablementError.is(thrown) && thrown.code).toBe('PL-400');
      expect((thrown as Error).message).toContain(field);
    }
  });

  it('classifies dependency failures by default', () => {
    expect(isDependencyFailure(new EnablementError('PL-503', 'x'))).toBe(true);
    expect(isDependencyFailure(new EnablementError('MT-503', 'x', { retryable: false }))).toBe(true);
    expect(isDependencyFailure(new EnablementError('OV-408', 'x'))).toBe(true);
    expect(isDependencyFailure(new EnablementError('RT-202', 'x'))).toBe(false);
    expect(isDependencyFailure(new EnablementError('PL-400', 'x'))).toBe(false);
    expect(isDependencyFailure(new EnablementError('MT-429', 'x'))).toBe(false);
    expect(isDependencyFailure(new Error('x'))).toBe(false);
    expect(isDependencyFailure(undefined)).toBe(false);
  });
});
