import { type Clock, EnablementError, INT64_MAX, sleep } from '@creto/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectEnablementError } from '../assertions/index.js';
import { DEFAULT_FAKE_CLOCK_START, FakeClock } from './index.js';

const MS = 1_000_000n;

/** Runs `fn`, expects an `AggregateError`, and returns it. */
function expectAggregate(fn: () => unknown): AggregateError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AggregateError);
    return error as AggregateError;
  }
  throw new Error('expected an AggregateError');
}

/** Lets queued promise continuations run (real macrotask turn). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('FakeClock construction', () => {
  it('starts at the documented instant, 2026-01-01T00:00:00Z, by default', () => {
    const clock = new FakeClock();
    expect(clock.now()).toBe(DEFAULT_FAKE_CLOCK_START);
    expect(DEFAULT_FAKE_CLOCK_START).toBe(BigInt(Date.UTC(2026, 0, 1)) * MS);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextDeadline).toBeUndefined();
  });

  it('starts where told and implements the Clock port', () => {
    const clock: Clock = new FakeClock({ start: 5n });
    expect(clock.now()).toBe(5n);
  });

  it('rejects bad options with PL-400', () => {
    expectEnablementError(() => new FakeClock({ start: 5 as unknown as bigint }), 'PL-400', 'start');
    expectEnablementError(() => new FakeClock({ start: INT64_MAX + 1n }), 'PL-400', 'start');
    expectEnablementError(() => new FakeClock({ maxTimersPerRun: 0 }), 'PL-400', 'maxTimersPerRun');
    expectEnablementError(() => new FakeClock({ maxPendingTimers: 1.5 }), 'PL-400', 'maxPendingTimers');
  });
});

describe('FakeClock advance', () => {
  it('fires due timers in deadline order, ties in scheduling order, with now() at each deadline', () => {
    const clock = new FakeClock({ start: 0n });
    const log: string[] = [];
    const at = (name: string, t: bigint) => clock.schedule(t, () => log.push(`${name}@${clock.now()}`));
    at('c', 30n * MS);
    at('a1', 10n * MS);
    at('b', 20n * MS);
    at('a2', 10n * MS);
    at('late', 51n * MS);
    expect(clock.pendingTimers).toBe(5);
    expect(clock.nextDeadline).toBe(10n * MS);

    expect(clock.advance(50)).toBe(4);
    expect(log).toEqual(['a1@10000000', 'a2@10000000', 'b@20000000', 'c@30000000']);
    expect(clock.now()).toBe(50n * MS);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDeadline).toBe(51n * MS);

    clock.advanceNs(1n * MS);
    expect(log.at(-1)).toBe('late@51000000');
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer exactly at its deadline, not before', () => {
    const clock = new FakeClock({ start: 0n });
    let fired = false;
    clock.schedule(100n, () => {
      fired = true;
    });
    clock.advanceTo(99n);
    expect(fired).toBe(false);
    clock.advanceTo(100n);
    expect(fired).toBe(true);
  });

  it('fires timers scheduled by callbacks when they fall inside the window', () => {
    const clock = new FakeClock({ start: 0n });
    const log: string[] = [];
    clock.schedule(10n, () => {
      log.push(`first@${clock.now()}`);
      clock.schedule(clock.now() + 5n, () => log.push(`inside@${clock.now()}`));
      clock.schedule(clock.now(), () => log.push(`same-instant@${clock.now()}`));
      clock.schedule(clock.now() + 100n, () => log.push('outside'));
    });
    clock.schedule(10n, () => log.push(`sibling@${clock.now()}`));
    expect(clock.advanceTo(20n)).toBe(4);
    // The sibling was scheduled before the callback's timers, so it goes first at t=10.
    expect(log).toEqual(['first@10', 'sibling@10', 'same-instant@10', 'inside@15']);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDeadline).toBe(110n);
  });

  it('treats a deadline in the past as now: it fires on the next advance, never spontaneously', async () => {
    const clock = new FakeClock({ start: 1_000n });
    const seen: bigint[] = [];
    clock.schedule(1n, () => seen.push(clock.now()));
    expect(clock.nextDeadline).toBe(1_000n);
    await turn();
    expect(seen).toEqual([]);
    expect(clock.advance(0)).toBe(1);
    expect(seen).toEqual([1_000n]);
  });

  it('converts milliseconds to nanoseconds, rounding to the nanosecond', () => {
    const clock = new FakeClock({ start: 0n });
    clock.advance(1.5);
    expect(clock.now()).toBe(1_500_000n);
    clock.advance(0.0000004);
    expect(clock.now()).toBe(1_500_000n);
  });

  it('never goes backwards: negative or non-finite steps and past targets throw PL-400', () => {
    const clock = new FakeClock({ start: 1_000n });
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      expectEnablementError(() => clock.advance(ms), 'PL-400', 'never goes backwards');
    }
    expectEnablementError(() => clock.advanceNs(-1n), 'PL-400', 'never goes backwards');
    expectEnablementError(() => clock.advanceTo(999n), 'PL-400', 'never goes backwards');
    expectEnablementError(() => clock.advanceTo(1_000 as unknown as bigint), 'PL-400', 'bigint');
    expectEnablementError(() => clock.advanceTo(INT64_MAX + 1n), 'PL-400', 'int64');
    expect(clock.now()).toBe(1_000n);
    expect(clock.advanceTo(1_000n)).toBe(0);
  });

  it('validates schedule arguments', () => {
    const clock = new FakeClock();
    expectEnablementError(() => clock.schedule(5 as unknown as bigint, () => {}), 'PL-400', 'bigint');
    expectEnablementError(() => clock.schedule(1n, 'x' as unknown as () => void), 'PL-400', 'callback');
    expect(clock.pendingTimers).toBe(0);
  });

  it('bounds pending timers', () => {
    const clock = new FakeClock({ maxPendingTimers: 3 });
    for (let i = 0; i < 3; i++) clock.schedule(clock.now() + 1n, () => {});
    expectEnablementError(
      () => clock.schedule(clock.now() + 1n, () => {}),
      'PL-500',
      'more than 3 pending timers',
    );
    clock.advanceNs(1n);
    expect(() => clock.schedule(clock.now() + 1n, () => {})).not.toThrow();
  });
});

describe('FakeClock cancellation', () => {
  it('a cancelled timer never fires and stops counting as pending', () => {
    const clock = new FakeClock({ start: 0n });
    const log: string[] = [];
    const cancelA = clock.schedule(10n, () => log.push('a'));
    clock.schedule(20n, () => log.push('b'));
    cancelA();
    expect(clock.pendingTimers).toBe(1);
    cancelA();
    expect(clock.pendingTimers).toBe(1);
    clock.advanceTo(30n);
    expect(log).toEqual(['b']);
  });

  it('cancelling after the timer fired does nothing', () => {
    const clock = new FakeClock({ start: 0n });
    let count = 0;
    const cancel = clock.schedule(1n, () => count++);
    const other = clock.schedule(5n, () => count++);
    clock.advanceTo(1n);
    cancel();
    expect(clock.pendingTimers).toBe(1);
    clock.advanceTo(10n);
    expect(count).toBe(2);
    other();
  });

  it('a callback can cancel a timer due at the same instant', () => {
    const clock = new FakeClock({ start: 0n });
    const log: string[] = [];
    let cancelSecond: () => void = () => {};
    clock.schedule(10n, () => {
      log.push('first');
      cancelSecond();
    });
    cancelSecond = clock.schedule(10n, () => log.push('second'));
    clock.schedule(10n, () => log.push('third'));
    clock.advanceTo(10n);
    expect(log).toEqual(['first', 'third']);
  });

  it('property: fires exactly the uncancelled timers, sorted by (deadline, scheduling order)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ deadline: fc.bigInt(0n, 50n), cancel: fc.boolean() }), { maxLength: 80 }),
        fc.bigInt(0n, 60n),
        (plan, target) => {
          const clock = new FakeClock({ start: 0n });
          const fired: number[] = [];
          const cancels = plan.map((t, i) => clock.schedule(t.deadline, () => fired.push(i)));
          plan.forEach((t, i) => {
            if (t.cancel) cancels[i]?.();
          });
          clock.advanceTo(target);
          const expected = plan
            .map((t, i) => ({ ...t, i }))
            .filter((t) => !t.cancel && t.deadline <= target)
            .sort((a, b) => (a.deadline === b.deadline ? a.i - b.i : a.deadline < b.deadline ? -1 : 1))
            .map((t) => t.i);
          expect(fired).toEqual(expected);
          expect(clock.pendingTimers).toBe(plan.filter((t) => !t.cancel && t.deadline > target).length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('FakeClock errors in callbacks', () => {
  it('keeps firing after a callback throws and rethrows all errors as an AggregateError', () => {
    const clock = new FakeClock({ start: 0n });
    const log: string[] = [];
    const boom1 = new Error('boom 1');
    const boom2 = new EnablementError('RT-500', 'boom 2');
    clock.schedule(1n, () => {
      throw boom1;
    });
    clock.schedule(2n, () => log.push('ok'));
    clock.schedule(3n, () => {
      throw boom2;
    });
    const error = expectAggregate(() => clock.advanceTo(10n));
    expect(error.errors).toEqual([boom1, boom2]);
    expect(error.message).toContain('2 timer callback(s) threw');
    expect(log).toEqual(['ok']);
    expect(clock.now()).toBe(10n);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses to advance from inside a callback (PL-409)', () => {
    const clock = new FakeClock({ start: 0n });
    clock.schedule(1n, () => clock.advance(1));
    const error = expectAggregate(() => clock.advanceTo(5n));
    expect(error.errors).toHaveLength(1);
    expect((error.errors[0] as EnablementError).code).toBe('PL-409');
    expect(clock.now()).toBe(5n);
    // The guard is released afterwards.
    expect(clock.advance(1)).toBe(0);
  });
});

describe('FakeClock runAll', () => {
  it('fires every timer, following chains, and stops at the last deadline', () => {
    const clock = new FakeClock({ start: 0n });
    const log: bigint[] = [];
    let remaining = 3;
    const tick = () => {
      log.push(clock.now());
      if (--remaining > 0) clock.schedule(clock.now() + 1_000n, tick);
    };
    clock.schedule(500n, tick);
    clock.schedule(10n, () => log.push(clock.now()));
    expect(clock.runAll()).toBe(4);
    expect(log).toEqual([10n, 500n, 1_500n, 2_500n]);
    expect(clock.now()).toBe(2_500n);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.runAll()).toBe(0);
  });

  it('fails with PL-500 on a runaway loop instead of hanging, and keeps the timer pending', () => {
    const clock = new FakeClock({ start: 0n, maxTimersPerRun: 50 });
    let runs = 0;
    const again = () => {
      runs++;
      clock.schedule(clock.now() + 1n, again);
    };
    clock.schedule(0n, again);
    expectEnablementError(() => clock.runAll(), 'PL-500', 'more than 50 timers');
    expect(runs).toBe(50);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.now()).toBe(49n);
  });

  it('bounds advance too: a zero-delay loop inside the window fails with PL-500', () => {
    const clock = new FakeClock({ start: 0n, maxTimersPerRun: 20 });
    const spin = () => {
      clock.schedule(clock.now(), spin);
    };
    clock.schedule(1n, spin);
    const error = expectEnablementError(() => clock.advanceTo(100n), 'PL-500');
    expect(error.cause).toBeUndefined();
    expect(clock.now()).toBe(1n);
  });

  it('attaches callback errors collected before a runaway as the cause', () => {
    const clock = new FakeClock({ start: 0n, maxTimersPerRun: 5 });
    const spin = () => {
      clock.schedule(clock.now(), spin);
      throw new Error('spin');
    };
    clock.schedule(0n, spin);
    const error = expectEnablementError(() => clock.runAll(), 'PL-500');
    expect(error.cause).toBeInstanceOf(AggregateError);
    expect((error.cause as AggregateError).errors).toHaveLength(5);
    // Foreign causes never reach the wire form.
    expect(error.toJSON().caused_by).toBeNull();
  });
});

describe('FakeClock with sleep from core', () => {
  it('resolves sleep when the test advances far enough', async () => {
    const clock = new FakeClock({ start: 0n });
    let done = false;
    const slept = sleep(clock, 250).then(() => {
      done = true;
    });
    await clock.advanceAsync(249);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    await slept;
    expect(done).toBe(true);
    expect(clock.now()).toBe(250n * MS);
  });

  it('advanceAsync lets chains of await sleep run inside one advance', async () => {
    const clock = new FakeClock({ start: 0n });
    const seen: bigint[] = [];
    const worker = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 100);
        seen.push(clock.now() / MS);
      }
    })();
    expect(await clock.advanceAsync(250)).toBe(2);
    expect(seen).toEqual([100n, 200n]);
    expect(clock.pendingTimers).toBe(1);
    await clock.advanceAsync(50);
    await worker;
    expect(seen).toEqual([100n, 200n, 300n]);
  });

  it('the sync advance does not run continuations between timers', async () => {
    const clock = new FakeClock({ start: 0n });
    const seen: bigint[] = [];
    const worker = (async () => {
      await sleep(clock, 100);
      seen.push(clock.now() / MS);
      await sleep(clock, 100);
      seen.push(clock.now() / MS);
    })();
    clock.advance(250);
    await turn();
    // The second sleep was scheduled only after the advance, from t=250.
    expect(seen).toEqual([250n]);
    expect(clock.nextDeadline).toBe(350n * MS);
    await clock.runAllAsync();
    await worker;
    expect(seen).toEqual([250n, 350n]);
  });

  it('runAllAsync drives a whole async workflow to completion', async () => {
    const clock = new FakeClock({ start: 0n });
    const worker = (async () => {
      let total = 0;
      for (const ms of [10, 20, 30, 40]) {
        await sleep(clock, ms);
        total += ms;
      }
      return total;
    })();
    expect(await clock.runAllAsync()).toBe(4);
    expect(await worker).toBe(100);
    expect(clock.now()).toBe(100n * MS);
  });

  it('sleep(clock, 0) resolves on advanceAsync(0)', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    let done = false;
    void sleep(clock, 0).then(() => {
      done = true;
    });
    await turn();
    expect(done).toBe(false);
    await clock.advanceAsync(0);
    expect(done).toBe(true);
    expect(clock.now()).toBe(start);
  });

  it('an aborted sleep rejects with the reason and cancels its timer', async () => {
    const clock = new FakeClock({ start: 0n });
    const controller = new AbortController();
    const slept = sleep(clock, 1_000, controller.signal);
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(slept).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    expect(await clock.advanceAsync(2_000)).toBe(0);
  });

  it('a sleep on an already-aborted signal rejects without scheduling', async () => {
    const clock = new FakeClock();
    const reason = new Error('already');
    await expect(sleep(clock, 10, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
  });

  it('aborting after the sleep resolved changes nothing', async () => {
    const clock = new FakeClock({ start: 0n });
    const controller = new AbortController();
    const slept = sleep(clock, 5, controller.signal);
    await clock.advanceAsync(5);
    controller.abort();
    await expect(slept).resolves.toBeUndefined();
  });

  it('rejects a second advance while an async one is running (PL-409)', async () => {
    const clock = new FakeClock({ start: 0n });
    clock.schedule(2n * MS, () => {});
    const first = clock.advanceAsync(1);
    await expect(clock.advanceAsync(1)).rejects.toMatchObject({ code: 'PL-409' });
    expect(() => clock.runAll()).toThrow(/another one is running/);
    expect(await first).toBe(0);
    expect(clock.now()).toBe(MS);
  });

  it('async variants collect callback errors into an AggregateError after the advance', async () => {
    const clock = new FakeClock({ start: 0n });
    const boom = new Error('boom');
    let later = false;
    clock.schedule(1n, () => {
      throw boom;
    });
    clock.schedule(2n, () => {
      later = true;
    });
    const failure = clock.advanceNsAsync(10n).then(
      () => undefined,
      (error: unknown) => error,
    );
    const error = await failure;
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toEqual([boom]);
    expect(later).toBe(true);
    expect(clock.now()).toBe(10n);
  });

  it('async variants reject bad input with PL-400 (as a rejection, never a synchronous throw)', async () => {
    const clock = new FakeClock({ start: 10n });
    await expect(clock.advanceAsync(-1)).rejects.toMatchObject({ code: 'PL-400' });
    await expect(clock.advanceNsAsync(-1n)).rejects.toMatchObject({ code: 'PL-400' });
    await expect(clock.advanceToAsync(9n)).rejects.toMatchObject({ code: 'PL-400' });
    expect(clock.now()).toBe(10n);
  });
});

describe('README example', () => {
  it('retries every 100 ms', async () => {
    const clock = new FakeClock();
    const attempts: bigint[] = [];
    const worker = (async () => {
      for (let i = 0; i < 3; i++) {
        attempts.push(clock.now());
        await sleep(clock, 100);
      }
    })();
    await clock.advanceAsync(300);
    await worker;
    const start = attempts[0] ?? 0n;
    expect(attempts).toEqual([start, start + 100_000_000n, start + 200_000_000n]);
  });
});
