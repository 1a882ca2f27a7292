import { FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import type { RetryStrategy } from '../errors/retry-strategy.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { RetryError } from './errors.js';
import { type RetryEvent, retry } from './retry.js';

const unavailable = (retryAfterMs?: number) =>
  new EnablementError('PL-503', 'NHI unavailable', retryAfterMs === undefined ? {} : { retryAfterMs });

/** Runs `retry`, recording attempts and waits; drives the FakeClock until it settles. */
async function drive<T>(
  clock: FakeClock,
  run: (events: RetryEvent[]) => Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; events: RetryEvent[] }> {
  const events: RetryEvent[] = [];
  const promise = run(events);
  const settled = Promise.allSettled([promise]);
  await clock.runAllAsync();
  const [result] = await settled;
  if (result === undefined) throw new Error('unreachable');
  return { result, events };
}

function failing(errors: unknown[]) {
  let calls = 0;
  const fn = async () => {
    const error = errors[Math.min(calls, errors.length - 1)];
    calls++;
    throw error;
  };
  return { fn, calls: () => calls };
}

describe('retry: outcomes', () => {
  it('returns the first success without waiting, passing attempt and signal to fn', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const seen: unknown[] = [];
    const value = await retry(
      (a) => {
        seen.push(a);
        return 42;
      },
      { clock, signal: controller.signal },
    );
    expect(value).toBe(42);
    expect(seen).toEqual([{ attempt: 1, signal: controller.signal }]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('retries a transient error by the spec strategy until it succeeds', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const { result, events } = await drive(clock, (events) =>
      retry(
        async ({ attempt }) => {
          calls++;
          if (attempt < 3) throw unavailable();
          return 'ok';
        },
        { clock, onRetry: (e) => events.push(e) },
      ),
    );
    expect(result).toEqual({ status: 'fulfilled', value: 'ok' });
    expect(calls).toBe(3);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    expect(events[0]?.strategy).toMatchObject({ kind: 'exponential_backoff', initialDelayMs: 100 });
  });

  it('does not retry permanent or foreign errors and rethrows them unchanged', async () => {
    const clock = new FakeClock();
    for (const error of [
      new EnablementError('PL-400', 'bad'),
      new EnablementError('MT-401', 'bad signature'),
      new TypeError('bug'),
    ]) {
      const { fn, calls } = failing([error]);
      await expect(retry(fn, { clock })).rejects.toBe(error);
      expect(calls()).toBe(1);
    }
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up after the strategy’s attempts with a RetryError recording them', async () => {
    const clock = new FakeClock();
    const errors = Array.from(
      { length: 5 },
      (_, i) => new EnablementError('PL-503', `down ${i}`, { traceId: 't' }),
    );
    const { fn, calls } = failing(errors);
    const { result } = await drive(clock, () => retry(fn, { clock }));
    expect(calls()).toBe(5);
    if (result.status !== 'rejected') throw new Error('expected a rejection');
    const error = result.reason as RetryError;
    expect(error).toBeInstanceOf(RetryError);
    expect(error).toBeInstanceOf(EnablementError);
    expect(RetryError.is(error)).toBe(true);
    expect(error.attempts).toBe(5);
    expect(error.code).toBe('PL-503');
    expect(error.retryable).toBe(true);
    expect(error.traceId).toBe('t');
    expect(error.causedBy).toBe(errors[4]);
    expect(error.cause).toBe(errors[4]);
    expect(error.errors).toEqual(errors);
    expect(error.message).toBe('down 4 (gave up after 5 attempts)');
    expect(error.chain().map((e) => e.code)).toEqual(['PL-503', 'PL-503']);
    // instanceof is narrowed to the subclass, unlike EnablementError's own check.
    expect(new EnablementError('PL-503', 'x')).not.toBeInstanceOf(RetryError);
  });

  it('wraps a foreign last error as PL-500 without copying its text', async () => {
    const clock = new FakeClock();
    const secret = new Error('password=hunter2');
    const { fn } = failing([unavailable(), secret]);
    const { result } = await drive(clock, () =>
      retry(fn, { clock, strategy: () => ({ kind: 'fixed_delay', delayMs: 1, maxAttempts: 2 }) }),
    );
    if (result.status !== 'rejected') throw new Error('expected a rejection');
    const error = result.reason as RetryError;
    expect(error.code).toBe('PL-500');
    expect(error.retryable).toBe(false);
    expect(error.cause).toBe(secret);
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error.toJSON())).not.toContain('hunter2');
  });

  it('keeps only the latest attempt errors', async () => {
    const clock = new FakeClock();
    const errors = Array.from({ length: 20 }, (_, i) => new EnablementError('PL-503', `e${i}`));
    const { fn } = failing(errors);
    const { result } = await drive(clock, () =>
      retry(fn, { clock, strategy: { kind: 'fixed_delay', delayMs: 1, maxAttempts: 20 } }),
    );
    const error = (result as PromiseRejectedResult).reason as RetryError;
    expect(error.attempts).toBe(20);
    expect(error.errors).toEqual(errors.slice(4));
  });
});

describe('retry: waits', () => {
  it('draws decorrelated jitter: each wait in [base, min(cap, 3 × previous)]', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 9,
          maxLength: 9,
        }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 20 }),
        async (draws, base, capFactor) => {
          const clock = new FakeClock();
          const cap = base * capFactor;
          const strategy: RetryStrategy = {
            kind: 'exponential_backoff',
            initialDelayMs: base,
            maxDelayMs: cap,
            maxAttempts: 10,
          };
          let i = 0;
          const { fn } = failing([unavailable()]);
          const { events } = await drive(clock, (events) =>
            retry(fn, {
              clock,
              strategy,
              random: () => draws[i++] ?? 0,
              maxDelayMs: Number.MAX_SAFE_INTEGER,
              onRetry: (e) => events.push(e),
            }),
          );
          expect(events).toHaveLength(9);
          let previous = base;
          events.forEach((e, k) => {
            const upper = Math.min(cap, 3 * previous);
            expect(e.delayMs).toBeGreaterThanOrEqual(Math.min(base, cap));
            expect(e.delayMs).toBeLessThanOrEqual(upper);
            expect(e.delayMs).toBeCloseTo(Math.min(cap, base + (draws[k] ?? 0) * (3 * previous - base)), 9);
            previous = e.delayMs;
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('sleeps on the injected clock: the next attempt comes exactly when the wait is over', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const events: RetryEvent[] = [];
    const promise = retry(
      async () => {
        calls++;
        if (calls === 1) throw unavailable();
        return calls;
      },
      { clock, random: () => 0.5, onRetry: (e) => events.push(e) },
    );
    await clock.advanceAsync(0);
    expect(events[0]?.delayMs).toBe(200); // 100 + 0.5 × (300 − 100)
    await clock.advanceAsync(199);
    expect(calls).toBe(1);
    await clock.advanceAsync(1);
    expect(await promise).toBe(2);
  });

  it('honours an error’s retryAfterMs as a floor on the wait', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const promise = retry(
      async () => {
        calls++;
        if (calls === 1) throw unavailable(5_000);
        return 'ok';
      },
      { clock, random: () => 0 },
    );
    await clock.advanceAsync(4_999);
    expect(calls).toBe(1);
    await clock.advanceAsync(1);
    expect(await promise).toBe('ok');
    expect(calls).toBe(2);
  });

  it('retries a quota error once, after its retryAfterMs', async () => {
    const clock = new FakeClock();
    const quota = new EnablementError('MT-429', 'quota', { retryAfterMs: 2_000 });
    const { fn, calls } = failing([quota]);
    const { result, events } = await drive(clock, (events) =>
      retry(fn, { clock, onRetry: (e) => events.push(e) }),
    );
    expect(calls()).toBe(2);
    expect(events.map((e) => e.delayMs)).toEqual([2_000]);
    expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'MT-429', attempts: 2 });
  });

  it('does not sleep past maxDelayMs: an hour-long hint goes back to the caller', async () => {
    const clock = new FakeClock();
    const quota = new EnablementError('RT-429', 'quota'); // spec default: retry after 1 h
    const { fn, calls } = failing([quota]);
    await expect(retry(fn, { clock })).rejects.toBe(quota);
    expect(calls()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    const { fn: fn2, calls: calls2 } = failing([quota]);
    const outcome = retry(fn2, { clock, maxDelayMs: 2 * 3_600_000 }).catch((error: unknown) => error);
    await clock.advanceAsync(3_600_000 - 1);
    expect(calls2()).toBe(1);
    await clock.advanceAsync(1);
    expect(await outcome).toMatchObject({ code: 'RT-429', attempts: 2 });
  });

  it('uses a fixed delay exactly, up to its attempts, and respects maxAttempts', async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing([unavailable()]);
    const { events } = await drive(clock, (events) =>
      retry(fn, {
        clock,
        strategy: { kind: 'fixed_delay', delayMs: 250, maxAttempts: 4 },
        onRetry: (e) => events.push(e),
      }),
    );
    expect(calls()).toBe(4);
    expect(events.map((e) => e.delayMs)).toEqual([250, 250, 250]);
    const capped = failing([unavailable()]);
    await drive(clock, () => retry(capped.fn, { clock, maxAttempts: 2 }));
    expect(capped.calls()).toBe(2);
  });

  it('asks a strategy function per failure', async () => {
    const clock = new FakeClock();
    const seen: [string, number][] = [];
    const { fn, calls } = failing([new EnablementError('PL-400', 'x')]);
    await drive(clock, () =>
      retry(fn, {
        clock,
        strategy: (error, attempt) => {
          seen.push([(error as EnablementError).code, attempt]);
          return attempt < 3 ? { kind: 'fixed_delay', delayMs: 10, maxAttempts: 10 } : { kind: 'never' };
        },
      }),
    );
    expect(calls()).toBe(3);
    expect(seen).toEqual([
      ['PL-400', 1],
      ['PL-400', 2],
      ['PL-400', 3],
    ]);
  });
});

describe('retry: abort', () => {
  it('stops a wait at once with the signal’s reason and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const { fn, calls } = failing([unavailable()]);
    const promise = retry(fn, { clock, signal: controller.signal });
    await clock.advanceAsync(0);
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('shutdown');
    controller.abort(reason);
    await expect(promise).rejects.toBe(reason);
    expect(calls()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not start when already aborted', async () => {
    let called = false;
    const reason = new Error('gone');
    await expect(
      retry(
        () => {
          called = true;
        },
        { clock: new FakeClock(), signal: AbortSignal.abort(reason) },
      ),
    ).rejects.toBe(reason);
    expect(called).toBe(false);
  });

  it('ends with the abort reason when an attempt fails after the abort', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const reason = new Error('stop');
    const promise = retry(
      async () => {
        controller.abort(reason);
        throw unavailable();
      },
      { clock, signal: controller.signal },
    );
    await expect(promise).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('retry: validation and hooks', () => {
  it('lets an onRetry exception end the retrying', async () => {
    const clock = new FakeClock();
    const { fn, calls } = failing([unavailable()]);
    const hookError = new Error('hook');
    await expect(
      retry(fn, {
        clock,
        onRetry: () => {
          throw hookError;
        },
      }),
    ).rejects.toBe(hookError);
    expect(calls()).toBe(1);
  });

  it('rejects bad options and strategies with PL-400', async () => {
    const clock = new FakeClock();
    const ok = async () => 1;
    const bad: [unknown, string][] = [
      [{ strategy: { kind: 'sometimes' } }, 'strategy.kind'],
      [{ strategy: { kind: 'fixed_delay', delayMs: -1, maxAttempts: 2 } }, 'delayMs'],
      [
        { strategy: { kind: 'exponential_backoff', initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 0 } },
        'maxAttempts',
      ],
      [{ strategy: 'fast' }, 'strategy'],
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ maxDelayMs: Number.NaN }, 'maxDelayMs'],
      [{ signal: {} }, 'signal'],
      [{ random: 3 }, 'random'],
    ];
    for (const [options, field] of bad) {
      await expect(retry(ok, { clock, ...(options as object) })).rejects.toThrow(field);
    }
    await expect(retry('fn' as never)).rejects.toThrow('fn');
    const { fn } = failing([unavailable()]);
    await expect(retry(fn, { clock, random: () => 1 })).rejects.toThrow('random must return');
  });
});

describe('retry with a circuit breaker', () => {
  it('waits out an open breaker using its retryAfterMs, then succeeds through the trial call', async () => {
    const clock = new FakeClock();
    const breaker = createCircuitBreaker({
      name: 'nhi',
      clock,
      consecutiveFailures: 1,
      openDurationMs: 10_000,
    });
    await expect(breaker.execute(() => Promise.reject(unavailable()))).rejects.toMatchObject({
      code: 'PL-503',
    });
    let calls = 0;
    const events: RetryEvent[] = [];
    const promise = retry(
      () =>
        breaker.execute(async () => {
          calls++;
          return 'up';
        }),
      { clock, random: () => 0, onRetry: (e) => events.push(e) },
    );
    await clock.advanceAsync(10_000);
    expect(await promise).toBe('up');
    expect(calls).toBe(1);
    expect(events.map((e) => e.delayMs)).toEqual([10_000]);
    expect(breaker.state).toBe('closed');
  });
});
