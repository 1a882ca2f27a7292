// Consensus: hybrid-logical-clock timestamps (spec §3.5 target: acquisition < 1 ms p99) and the
// deadline scheduler (many timers on one clock timer).

import { createHybridLogicalClock, createScheduler, systemClock } from '@creto/core';

/**
 * A minimal manual clock (the bench imports only the built @creto/core): it holds the pending
 * clock timers and `drain()` jumps time to each deadline in turn, as `FakeClock.runAll` does.
 */
function manualClock(start) {
  let time = start;
  const timers = new Set();
  return {
    now: () => time,
    schedule(at, callback) {
      const timer = { at, callback };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    drain() {
      let wakeUps = 0;
      while (timers.size > 0) {
        let next;
        for (const t of timers) if (next === undefined || t.at < next.at) next = t;
        timers.delete(next);
        if (next.at > time) time = next.at;
        next.callback();
        wakeUps++;
      }
      return wakeUps;
    },
  };
}

const START = 1_767_225_600_000_000_000n;
const MS = 1_000_000n;

const hlc = createHybridLogicalClock({ clock: systemClock });
const frozen = createHybridLogicalClock({ clock: manualClock(START) }); // counter path: same µs

// 100 000 deadlines over 10 s of virtual time, pseudo-random order, many ties.
const TIMERS = 100_000;
const offsets = new Array(TIMERS);
for (let i = 0, x = 12345; i < TIMERS; i++) {
  x = (x * 1103515245 + 12345) % 2 ** 31;
  offsets[i] = BigInt(x % 10_000) * MS;
}

function insertAndFire() {
  const clock = manualClock(START);
  const scheduler = createScheduler({ clock, maxPendingTimers: TIMERS });
  let fired = 0;
  const callback = () => {
    fired++;
  };
  for (let i = 0; i < TIMERS; i++) scheduler.schedule(START + offsets[i], callback);
  clock.drain();
  if (fired !== TIMERS) throw new Error(`fired ${fired} of ${TIMERS}`);
  return fired;
}

const steady = createScheduler({ clock: manualClock(START) });
let n = 0;

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'consensus-hlc',
    title: 'Consensus: hybrid logical clock (spec §3.5)',
    description:
      'Spec §3.5 target: timestamp acquisition < 1 ms (p99). `now()` reads the system clock and ' +
      'packs `(l, c)` into Unix nanoseconds; the frozen-clock case exercises the counter path (every ' +
      'call in the same microsecond).',
    cases: [
      { name: 'now() (sync twin)', fn: () => hlc.now() },
      { name: 'getTimestamp() (async port)', fn: () => hlc.getTimestamp() },
      { name: 'now(), physical clock frozen (counter path)', fn: () => frozen.now() },
      { name: 'merge(remote) within skew', fn: () => hlc.merge(systemClock.now()) },
    ],
  },
  {
    id: 'consensus-scheduler',
    title: 'Consensus: deadline scheduler',
    description:
      'One binary heap and one armed clock timer. *Insert + fire 100 000 timers* schedules 100 000 ' +
      'timers (10 000 distinct deadlines over 10 s, pseudo-random order) on a manual clock, then ' +
      'drives the clock through every deadline; the time is for the whole batch. *schedule + cancel* ' +
      'is one timer scheduled and cancelled on a scheduler already holding none.',
    options: { maxTimeMs: 3000, minSamples: 10 },
    cases: [
      { name: 'insert + fire 100 000 timers (whole batch)', fn: insertAndFire },
      {
        name: 'schedule + cancel, one timer',
        fn: () => steady.schedule(START + BigInt(n++ % 1000) * MS, () => undefined)(),
      },
    ],
  },
];
