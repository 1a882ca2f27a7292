import { getEventListeners } from 'node:events';
import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  type CancelTimer,
  type Clock,
  millisToNanos,
  NANOS_PER_MILLI,
  NANOS_PER_SECOND,
  nanosToMillis,
  SystemClock,
  sleep,
  systemClock,
} from './index.js';

/** Waits `ms` of real time (test scaffolding only). */
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('SystemClock', () => {
  it('reads Unix nanoseconds close to the wall clock', () => {
    const clock = new SystemClock();
    const wallNs = BigInt(Date.now()) * NANOS_PER_MILLI;
    const diff = clock.now() - wallNs;
    expect(diff < 0n ? -diff : diff).toBeLessThan(1_000n * NANOS_PER_MILLI);
  });

  it('never goes backwards', () => {
    let previous = systemClock.now();
    for (let i = 0; i < 10_000; i++) {
      const next = systemClock.now();
      expect(next >= previous).toBe(true);
      previous = next;
    }
  });

  it('fires a scheduled callback once, no earlier than its deadline', async () => {
    const clock = new SystemClock();
    const at = clock.now() + 20n * NANOS_PER_MILLI;
    const firedAt: bigint[] = [];
    const fired = new Promise<void>((resolve) => {
      clock.schedule(at, () => {
        firedAt.push(clock.now());
        resolve();
      });
    });
    await fired;
    await wait(30);
    expect(firedAt).toHaveLength(1);
    expect((firedAt[0] as bigint) >= at).toBe(true);
  });

  it('fires a past deadline asynchronously, not inside schedule', async () => {
    const clock = new SystemClock();
    let fired = false;
    clock.schedule(clock.now() - NANOS_PER_SECOND, () => {
      fired = true;
    });
    expect(fired).toBe(false);
    await wait(10);
    expect(fired).toBe(true);
  });

  it('cancel stops the callback, and is harmless after firing or twice', async () => {
    const clock = new SystemClock();
    let cancelledRan = false;
    const cancel = clock.schedule(clock.now() + 10n * NANOS_PER_MILLI, () => {
      cancelledRan = true;
    });
    cancel();
    cancel();
    let ran = 0;
    const done = clock.schedule(clock.now(), () => ran++);
    await wait(40);
    done();
    expect(cancelledRan).toBe(false);
    expect(ran).toBe(1);
  });

  it('handles deadlines beyond the 2^31 ms setTimeout limit without firing early', async () => {
    const clock = new SystemClock();
    let fired = false;
    const cancel = clock.schedule(clock.now() + 30n * 86_400n * NANOS_PER_SECOND, () => {
      fired = true;
    });
    await wait(30);
    expect(fired).toBe(false);
    cancel();
  });
});

describe('sleep', () => {
  it('resolves after the requested time on the system clock', async () => {
    const start = systemClock.now();
    await sleep(systemClock, 20);
    expect(systemClock.now() - start >= 20n * NANOS_PER_MILLI).toBe(true);
  });

  it('rejects at once with the reason of an already-aborted signal', async () => {
    const reason = new Error('cancelled');
    const started = systemClock.now();
    await expect(sleep(systemClock, 10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(systemClock.now() - started < NANOS_PER_SECOND).toBe(true);
  });

  it('rejects with the abort reason when aborted while sleeping, and cancels its timer', async () => {
    const cancelled: string[] = [];
    const clock: Clock = {
      now: () => 0n,
      schedule: (): CancelTimer => () => cancelled.push('timer'),
    };
    const controller = new AbortController();
    const slept = sleep(clock, 1_000, controller.signal);
    controller.abort();
    await expect(slept).rejects.toMatchObject({ name: 'AbortError' });
    expect(cancelled).toEqual(['timer']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('removes its abort listener once it resolves', async () => {
    const controller = new AbortController();
    await sleep(systemClock, 1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
  });

  it('leaves no listener behind with a clock that fires synchronously or refuses the timer', async () => {
    const syncClock: Clock = {
      now: () => 0n,
      schedule: (_at, callback) => {
        callback();
        return () => {};
      },
    };
    const controller = new AbortController();
    await sleep(syncClock, 5, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    const refusal = new EnablementError('PL-500', 'too many timers');
    const refusingClock: Clock = {
      now: () => 0n,
      schedule: () => {
        throw refusal;
      },
    };
    await expect(sleep(refusingClock, 5, controller.signal)).rejects.toBe(refusal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects a non-finite duration with PL-400', async () => {
    await expect(sleep(systemClock, Number.NaN)).rejects.toMatchObject({ code: 'PL-400' });
  });
});

describe('nanosecond helpers', () => {
  it('millisToNanos converts and rounds to the nearest nanosecond', () => {
    expect(millisToNanos(0)).toBe(0n);
    expect(millisToNanos(1)).toBe(NANOS_PER_MILLI);
    expect(millisToNanos(1.5)).toBe(1_500_000n);
    expect(millisToNanos(0.0000004)).toBe(0n);
    expect(millisToNanos(0.0000006)).toBe(1n);
    expect(millisToNanos(-2)).toBe(-2_000_000n);
    expect(millisToNanos(86_400_000)).toBe(86_400n * NANOS_PER_SECOND);
  });

  it('millisToNanos rejects non-finite input with PL-400', () => {
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1e303,
      '5' as unknown as number,
    ]) {
      expectEnablementError(() => millisToNanos(bad), 'PL-400', 'finite number of milliseconds');
    }
  });

  it('nanosToMillis is the inverse for whole nanoseconds', () => {
    expect(nanosToMillis(1_500_000n)).toBe(1.5);
    expect(nanosToMillis(millisToNanos(250))).toBe(250);
    expect(NANOS_PER_SECOND).toBe(1_000n * NANOS_PER_MILLI);
  });
});
