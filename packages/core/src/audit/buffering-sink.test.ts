import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as crypto } from '../crypto/noble.js';
import { EnablementError } from '../errors/enablement-error.js';
import { formatNhi } from '../identity/nhi.js';
import type { CancelTimer, Clock } from '../time/clock.js';
import { createBufferingAuditSink } from './buffering-sink.js';
import { type AuditReceipt, createAuditEvent, type UnifiedAuditEvent } from './event.js';
import { type AuditLog, createAuditLog, type InProcessAuditLog } from './log.js';

const START = 1_767_225_600_000_000_000n;
const MS = 1_000_000n;
const AGENT = formatNhi('agent', crypto.ed25519.generateKeyPair(new Uint8Array(32).fill(8)).publicKey);

/** A clock moved by the test; records every timer it is asked for. */
class ManualClock implements Clock {
  t = START;
  readonly requested: bigint[] = [];
  #timers: { at: bigint; cb: () => void; live: boolean }[] = [];

  now(): bigint {
    return this.t;
  }

  schedule(at: bigint, cb: () => void): CancelTimer {
    this.requested.push(at - this.t);
    const timer = { at, cb, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promises settle. */
  async advance(ms: number): Promise<void> {
    const target = this.t + BigInt(ms) * MS;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.live && t.at <= target)
        .sort((a, b) => (a.at < b.at ? -1 : 1))[0];
      if (due === undefined) break;
      due.live = false;
      this.t = due.at;
      due.cb();
      await settle();
    }
    this.t = target;
    await settle();
  }
}

/** Lets every pending promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** An in-process log whose availability and answers the test controls. */
function faultyLog(): InProcessAuditLog & {
  down: boolean;
  calls: number;
  refuse: Set<string>;
  failAfterWrite: boolean;
} {
  const inner = createAuditLog({ limits: { maxFutureSkewMs: 86_400_000 } });
  const state = { down: false, calls: 0, refuse: new Set<string>(), failAfterWrite: false };
  const wrapped: AuditLog = {
    append: async (event: UnifiedAuditEvent): Promise<AuditReceipt> => {
      state.calls++;
      if (state.down) throw new EnablementError('PL-503', 'audit log unreachable');
      if (state.refuse.has(event.eventId)) throw new EnablementError('PL-409', 'refused');
      const receipt = await inner.append(event);
      if (state.failAfterWrite) {
        state.failAfterWrite = false;
        throw new EnablementError('PL-503', 'timed out after the write');
      }
      return receipt;
    },
    query: (q) => inner.query(q),
    inclusionProof: (i, s) => inner.inclusionProof(i, s),
    consistencyProof: (a, b) => inner.consistencyProof(a, b),
    checkpoint: () => inner.checkpoint(),
  };
  Object.assign(state, wrapped, { origin: inner.origin, checkpointVerifier: inner.checkpointVerifier });
  Object.defineProperty(state, 'size', { get: () => inner.size });
  return state as never;
}

let counter = 0;
const event = () =>
  createAuditEvent({
    product: 'runtime',
    agentNhi: AGENT,
    action: 'sandbox.exec',
    resource: 'runtime:sandbox:sb-1',
    outcome: 'success',
    timestamp: START,
    metadata: { n: counter++ },
  });

async function idsInLog(log: AuditLog): Promise<string[]> {
  return (await log.query({ limit: 1000 })).events.map((e) => e.eventId);
}

async function rejection(promise: Promise<unknown>): Promise<EnablementError> {
  try {
    await promise;
  } catch (error) {
    if (EnablementError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('createBufferingAuditSink (degraded mode, spec §2.3)', () => {
  it('appends straight through while the log is healthy', async () => {
    const log = faultyLog();
    const sink = createBufferingAuditSink({ log, clock: new ManualClock() });
    const e = event();
    const result = await sink.append(e);
    expect(result.status).toBe('appended');
    expect(result.status === 'appended' && result.receipt.leafIndex).toBe(0n);
    expect(sink.bufferedCount).toBe(0);
    expect(await idsInLog(log)).toEqual([e.eventId]);
  });

  it('buffers while the log is down, retries with backoff on the clock, flushes in order', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 1 });
    log.down = true;
    const events = [event(), event(), event()];
    for (const [i, e] of events.entries()) {
      expect(await sink.append(e)).toEqual({ status: 'buffered', buffered: i + 1 });
    }
    expect(sink.bufferedCount).toBe(3);
    expect(clock.requested).toEqual([100n * MS]);
    await clock.advance(100); // retry 1 fails → 200 ms
    await clock.advance(200); // retry 2 fails → 400 ms
    expect(clock.requested).toEqual([100n * MS, 200n * MS, 400n * MS]);
    expect(log.size).toBe(0);
    log.down = false;
    // Back up, but the retry timer has not fired: new events still queue behind the old ones.
    const late = event();
    expect((await sink.append(late)).status).toBe('buffered');
    await clock.advance(400);
    expect(sink.bufferedCount).toBe(0);
    expect(await idsInLog(log)).toEqual([...events, late].map((e) => e.eventId));
    // Healthy again: straight through, no timer.
    expect((await sink.append(event())).status).toBe('appended');
    expect(clock.pending).toBe(0);
  });

  it('caps the backoff at maxBackoffMs', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({
      log,
      clock,
      initialBackoffMs: 100,
      maxBackoffMs: 300,
      random: () => 1,
    });
    log.down = true;
    await sink.append(event());
    for (const ms of [100, 200, 300, 300]) await clock.advance(ms);
    expect(clock.requested).toEqual([100n, 200n, 300n, 300n, 300n].map((ms) => ms * MS));
  });

  it('jitters each delay within [d/2, d]', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 0 });
    log.down = true;
    await sink.append(event());
    await clock.advance(50);
    await clock.advance(100);
    expect(clock.requested).toEqual([50n * MS, 100n * MS, 200n * MS]);
  });

  it('refuses new events with PL-503 when the buffer is full, and drops nothing', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, maxBuffered: 3, random: () => 1 });
    log.down = true;
    const kept = [event(), event(), event()];
    for (const e of kept) await sink.append(e);
    const error = await rejection(sink.append(event()));
    expect(error.code).toBe('PL-503');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('full');
    expect(sink.bufferedCount).toBe(3);
    log.down = false;
    await clock.advance(100);
    expect(await idsInLog(log)).toEqual(kept.map((e) => e.eventId));
    expect((await sink.append(event())).status).toBe('appended');
  });

  it('flush() appends now, or rejects with PL-503 and keeps the events', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 1 });
    expect(await sink.flush()).toEqual({ appended: 0, remaining: 0 });
    log.down = true;
    await sink.append(event());
    await sink.append(event());
    const error = await rejection(sink.flush());
    expect(error.code).toBe('PL-503');
    expect(EnablementError.is(error.causedBy)).toBe(true);
    expect(sink.bufferedCount).toBe(2);
    log.down = false;
    expect(await sink.flush()).toEqual({ appended: 2, remaining: 0 });
    expect(log.size).toBe(2);
    expect(clock.pending).toBe(0); // the flush cancelled the retry timer
  });

  it('passes a permanent refusal to the waiting caller and goes on', async () => {
    const log = faultyLog();
    const sink = createBufferingAuditSink({ log, clock: new ManualClock() });
    const refused = event();
    log.refuse.add(refused.eventId);
    const first = sink.append(refused);
    const second = sink.append(event());
    expect((await rejection(first)).code).toBe('PL-409');
    expect((await second).status).toBe('appended');
    expect(sink.bufferedCount).toBe(0);
    expect(sink.rejectedCount).toBe(0);
  });

  it('hands a buffered event the log refuses for good to onRejected, keeping the order of the rest', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const rejected: [string, string][] = [];
    const sink = createBufferingAuditSink({
      log,
      clock,
      random: () => 1,
      onRejected: (e, error) => rejected.push([e.eventId, (error as EnablementError).code]),
    });
    log.down = true;
    const [a, b, c] = [event(), event(), event()];
    for (const e of [a, b, c]) await sink.append(e);
    log.refuse.add(b.eventId);
    log.down = false;
    await clock.advance(100);
    expect(rejected).toEqual([[b.eventId, 'PL-409']]);
    expect(sink.rejectedCount).toBe(1);
    expect(await idsInLog(log)).toEqual([a.eventId, c.eventId]);
  });

  it('without onRejected, keeps retrying a refused event rather than dropping it', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, maxBuffered: 2, random: () => 1 });
    log.down = true;
    const [a, b] = [event(), event()];
    await sink.append(a);
    await sink.append(b);
    log.refuse.add(a.eventId);
    log.down = false;
    await clock.advance(100);
    await clock.advance(200);
    expect(sink.bufferedCount).toBe(2);
    expect(log.size).toBe(0);
    expect((await rejection(sink.append(event()))).code).toBe('PL-503'); // full: loud, not lossy
    log.refuse.clear();
    await clock.advance(400);
    expect(await idsInLog(log)).toEqual([a.eventId, b.eventId]);
  });

  it('a retry after an ambiguous failure does not duplicate the event (the log is idempotent)', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 1 });
    const e = event();
    log.failAfterWrite = true;
    expect((await sink.append(e)).status).toBe('buffered');
    await clock.advance(100);
    expect(sink.bufferedCount).toBe(0);
    expect(await idsInLog(log)).toEqual([e.eventId]);
  });

  it('validates events up front: a bad one is refused, not buffered', async () => {
    const log = faultyLog();
    const sink = createBufferingAuditSink({ log, clock: new ManualClock() });
    log.down = true;
    const bad = { ...event(), action: 'has space' };
    expect((await rejection(sink.append(bad))).code).toBe('PL-400');
    expect(sink.bufferedCount).toBe(0);
    expect(log.calls).toBe(0);
  });

  it('keeps a frozen copy of each buffered event', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 1 });
    log.down = true;
    const metadata = { n: 1 };
    const e = { ...event(), metadata } as UnifiedAuditEvent;
    await sink.append(e);
    metadata.n = 2;
    log.down = false;
    await clock.advance(100);
    expect((await log.query({})).events[0]?.metadata).toEqual({ n: 1 });
  });

  it('close() stops retries and refuses new events; flush() still drains', async () => {
    const log = faultyLog();
    const clock = new ManualClock();
    const sink = createBufferingAuditSink({ log, clock, random: () => 1 });
    log.down = true;
    await sink.append(event());
    sink.close();
    log.down = false;
    const calls = log.calls;
    await clock.advance(10_000);
    expect(log.calls).toBe(calls);
    expect((await rejection(sink.append(event()))).code).toBe('PL-503');
    expect(await sink.flush()).toEqual({ appended: 1, remaining: 0 });
  });

  it('validates its options', () => {
    const log = faultyLog();
    expect(() => createBufferingAuditSink({ log, maxBuffered: 0 })).toThrow(/maxBuffered/);
    expect(() => createBufferingAuditSink({ log, maxBuffered: 2_000_000 })).toThrow(/maxBuffered/);
    expect(() => createBufferingAuditSink({ log: {} as AuditLog })).toThrow(/log/);
    expect(() => createBufferingAuditSink({ log, initialBackoffMs: 0 })).toThrow(/initialBackoffMs/);
  });
});
