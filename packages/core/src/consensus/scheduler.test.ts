import { expectEnablementError, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SystemClock } from '../time/clock.js';
import { createScheduler } from './scheduler.js';

const MS = 1_000_000n;

/** Captures what the scheduler rethrows from microtasks instead of letting it crash the run. */
function captureMicrotasks(): { thrown: unknown[]; flush: () => void } {
  const queued: (() => void)[] = [];
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
    queued.push(task);
  });
  const thrown: unknown[] = [];
  return {
    thrown,
    flush() {
      for (const task of queued.splice(0)) {
        try {
          task();
        } catch (error) {
          thrown.push(error);
        }
      }
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createScheduler', () => {
  it('fires 10,000 timers in deadline order on one clock timer at a time', () => {
    const clock = new FakeClock({ maxTimersPerRun: 50_000 });
    const scheduler = createScheduler({ clock });
    const start = clock.now();
    const fired: number[] = [];
    let maxClockTimers = 0;
    // Deterministic pseudo-random deadlines with many ties, inserted out of order.
    const deadlines: bigint[] = [];
    let x = 12345;
    for (let i = 0; i < 10_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      deadlines.push(start + BigInt(x % 5_000) * MS);
    }
    deadlines.forEach((deadline, i) => {
      scheduler.schedule(deadline, () => {
        expect(clock.now()).toBe(deadline);
        maxClockTimers = Math.max(maxClockTimers, clock.pendingTimers);
        fired.push(i);
      });
      maxClockTimers = Math.max(maxClockTimers, clock.pendingTimers);
    });
    expect(scheduler.pending).toBe(10_000);
    expect(clock.pendingTimers).toBe(1);
    clock.runAll();
    const expected = deadlines
      .map((deadline, i) => ({ deadline, i }))
      .sort((a, b) => (a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : a.i - b.i))
      .map(({ i }) => i);
    expect(fired).toEqual(expected);
    expect(maxClockTimers).toBe(1);
    expect(scheduler.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('re-arms the clock timer when an earlier deadline arrives', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    const t0 = clock.now();
    const order: string[] = [];
    scheduler.schedule(t0 + 100n * MS, () => order.push('late'));
    expect(clock.nextDeadline).toBe(t0 + 100n * MS);
    scheduler.schedule(t0 + 10n * MS, () => order.push('early'));
    expect(clock.nextDeadline).toBe(t0 + 10n * MS);
    expect(clock.pendingTimers).toBe(1);
    expect(scheduler.nextDeadline).toBe(t0 + 10n * MS);
    clock.advance(10);
    expect(order).toEqual(['early']);
    expect(clock.nextDeadline).toBe(t0 + 100n * MS);
    clock.advance(90);
    expect(order).toEqual(['early', 'late']);
  });

  it('never fires cancelled timers and releases the clock timer when nothing is pending', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    const fired: number[] = [];
    const cancels = [1, 2, 3].map((n) => scheduler.scheduleAfter(n * 10, () => fired.push(n)));
    cancels[0]?.();
    cancels[0]?.(); // idempotent
    expect(scheduler.pending).toBe(2);
    // The earliest was cancelled: the armed timer wakes early, finds nothing due and re-arms.
    clock.advance(10);
    expect(fired).toEqual([]);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    expect(fired).toEqual([2]);
    cancels[1]?.(); // after firing: no effect
    cancels[2]?.();
    expect(scheduler.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(fired).toEqual([2]);
  });

  it('fires a past deadline at the next wake-up, never synchronously', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    let fired = 0;
    scheduler.schedule(clock.now() - 5n * MS, () => fired++);
    expect(fired).toBe(0);
    clock.advance(0);
    expect(fired).toBe(1);
  });

  it('isolates a throwing callback and reports it to onError', () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const deadlines: bigint[] = [];
    const scheduler = createScheduler({
      clock,
      onError: (error, info) => {
        errors.push(error);
        deadlines.push(info.deadline);
      },
    });
    const at = clock.now() + MS;
    const fired: string[] = [];
    scheduler.schedule(at, () => fired.push('a'));
    scheduler.schedule(at, () => {
      throw new Error('boom');
    });
    scheduler.schedule(at, () => fired.push('c'));
    expect(() => clock.advance(1)).not.toThrow();
    expect(fired).toEqual(['a', 'c']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
    expect(deadlines).toEqual([at]);
  });

  it('rethrows from a microtask when there is no hook, or when the hook throws', () => {
    const micro = captureMicrotasks();
    const clock = new FakeClock();
    const plain = createScheduler({ clock });
    const hooked = createScheduler({
      clock,
      onError: () => {
        throw new Error('hook failed');
      },
    });
    const fired: string[] = [];
    plain.scheduleAfter(1, () => {
      throw new Error('no hook');
    });
    plain.scheduleAfter(1, () => fired.push('after'));
    hooked.scheduleAfter(1, () => {
      throw new Error('with hook');
    });
    clock.advance(1);
    expect(fired).toEqual(['after']);
    micro.flush();
    expect(micro.thrown.map((e) => (e as Error).message)).toEqual(['no hook', 'hook failed']);
  });

  it('is bounded: at the limit schedule throws PL-409 and schedules nothing', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock, maxPendingTimers: 3 });
    for (let i = 1; i <= 3; i++) scheduler.scheduleAfter(i, () => undefined);
    let ran = false;
    expectEnablementError(() => scheduler.scheduleAfter(0, () => (ran = true)), 'PL-409');
    expect(scheduler.pending).toBe(3);
    clock.advance(1);
    expect(ran).toBe(false);
    expect(scheduler.pending).toBe(2);
    expect(() => scheduler.scheduleAfter(5, () => undefined)).not.toThrow();
  });

  it('runs timers that callbacks schedule for now in the same wake-up, in order', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    const order: string[] = [];
    scheduler.scheduleAfter(10, () => {
      order.push('a');
      scheduler.schedule(clock.now(), () => order.push('a-child'));
      scheduler.scheduleAfter(5, () => order.push('a-later'));
    });
    scheduler.scheduleAfter(10, () => order.push('b'));
    clock.advance(10);
    expect(order).toEqual(['a', 'b', 'a-child']);
    clock.advance(5);
    expect(order).toEqual(['a', 'b', 'a-child', 'a-later']);
  });

  it('yields after maxFiresPerRun so a self-rescheduling callback cannot spin forever', () => {
    const clock = new FakeClock({ maxTimersPerRun: 3 });
    const scheduler = createScheduler({ clock, maxFiresPerRun: 5 });
    let fired = 0;
    const again = () => {
      fired++;
      scheduler.schedule(clock.now(), again);
    };
    scheduler.schedule(clock.now(), again);
    // The fake clock gives up after 3 wake-ups of the scheduler: 3 × 5 callbacks ran.
    expect(() => clock.advance(0)).toThrow(/more than 3 timers/);
    expect(fired).toBe(15);
    scheduler.dispose();
  });

  it('dispose cancels everything and refuses new timers', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    let fired = 0;
    scheduler.scheduleAfter(1, () => fired++);
    scheduler.scheduleAfter(2, () => fired++);
    scheduler.dispose();
    expect(scheduler.disposed).toBe(true);
    expect(scheduler.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10);
    expect(fired).toBe(0);
    expectEnablementError(() => scheduler.scheduleAfter(1, () => undefined), 'PL-409');
  });

  it('dispose from inside a callback stops the run', () => {
    const clock = new FakeClock();
    const scheduler = createScheduler({ clock });
    const fired: number[] = [];
    scheduler.scheduleAfter(1, () => {
      fired.push(1);
      scheduler.dispose();
    });
    scheduler.scheduleAfter(1, () => fired.push(2));
    clock.advance(1);
    expect(fired).toEqual([1]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('leaves nothing behind when the clock refuses a timer', () => {
    const clock = new FakeClock({ maxPendingTimers: 1 });
    clock.schedule(clock.now() + 1_000n * MS, () => undefined); // the clock is now full
    const scheduler = createScheduler({ clock });
    expectEnablementError(() => scheduler.scheduleAfter(1, () => undefined), 'PL-500');
    expect(scheduler.pending).toBe(0);
  });

  it('rejects bad input with PL-400', () => {
    const scheduler = createScheduler({ clock: new FakeClock() });
    expectEnablementError(() => scheduler.schedule(5 as unknown as bigint, () => undefined), 'PL-400');
    expectEnablementError(() => scheduler.schedule(-1n, () => undefined), 'PL-400');
    expectEnablementError(() => scheduler.schedule(2n ** 63n, () => undefined), 'PL-400');
    expectEnablementError(() => scheduler.schedule(0n, 'x' as unknown as () => void), 'PL-400');
    expectEnablementError(() => scheduler.scheduleAfter(-1, () => undefined), 'PL-400');
    expectEnablementError(() => scheduler.scheduleAfter(Number.POSITIVE_INFINITY, () => undefined), 'PL-400');
    expect(() => createScheduler({ maxPendingTimers: 0 })).toThrow(/maxPendingTimers/);
    expect(() => createScheduler({ maxPendingTimers: 1.5 })).toThrow(/maxPendingTimers/);
    expect(() => createScheduler({ onError: 1 as never })).toThrow(/onError/);
    expectEnablementError(() => createScheduler({ clock: null as never }), 'PL-400');
  });

  it('matches a model under random schedule / cancel / advance interleavings', () => {
    const action = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), delayMs: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 200 }), (actions) => {
        const clock = new FakeClock();
        const scheduler = createScheduler({ clock });
        const live = new Map<number, { deadline: bigint; cancel: () => void }>();
        const fired: { id: number; at: bigint }[] = [];
        const deadlineOf = new Map<number, bigint>();
        let next = 0;
        for (const a of actions) {
          if (a.kind === 'add') {
            const id = next++;
            const deadline = clock.now() + BigInt(a.delayMs) * MS;
            deadlineOf.set(id, deadline);
            const cancel = scheduler.schedule(deadline, () => {
              live.delete(id);
              fired.push({ id, at: clock.now() });
            });
            live.set(id, { deadline, cancel });
          } else if (a.kind === 'cancel') {
            const ids = [...live.keys()];
            const id = ids[a.pick % Math.max(ids.length, 1)];
            if (id !== undefined) {
              live.get(id)?.cancel();
              live.delete(id);
            }
          } else {
            clock.advance(a.ms);
          }
          expect(clock.pendingTimers).toBeLessThanOrEqual(1);
          expect(scheduler.pending).toBe(live.size);
          // Nothing overdue is left behind; right after an advance, nothing due is left either.
          for (const { deadline } of live.values()) {
            expect(a.kind === 'advance' ? deadline > clock.now() : deadline >= clock.now()).toBe(true);
          }
        }
        // Each fired at its deadline, in (deadline, id) order.
        for (let i = 0; i < fired.length; i++) {
          const f = fired[i] as { id: number; at: bigint };
          expect(f.at).toBe(deadlineOf.get(f.id));
          const prev = fired[i - 1];
          if (prev) expect(prev.at < f.at || (prev.at === f.at && prev.id < f.id)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('fires on the system clock in order', async () => {
    const clock = new SystemClock();
    const scheduler = createScheduler({ clock });
    const order: number[] = [];
    const done = new Promise<void>((resolve) => {
      scheduler.scheduleAfter(15, () => {
        order.push(3);
        resolve();
      });
    });
    scheduler.scheduleAfter(5, () => order.push(1));
    scheduler.scheduleAfter(10, () => order.push(2));
    await done;
    expect(order).toEqual([1, 2, 3]);
  });
});
