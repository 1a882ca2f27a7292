import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  MAX_DEAD_LETTER_REASONS,
  parseDeadLetter,
} from './dead-letter.js';
import { createInProcessEventBus, type InProcessEventBus } from './in-process.js';
import type { EventMessage } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A bus on a FakeClock with stream `S` on `s.>` and consumer `c` (1 s ack wait). */
async function fixture(
  consumer: Record<string, unknown> = {},
  stream: Record<string, unknown> = {},
  busOptions: Parameters<typeof createInProcessEventBus>[0] = {},
) {
  const clock = new FakeClock({ start: 1_000_000_000n });
  const bus = createInProcessEventBus({ clock, ...busOptions });
  await bus.addStream({ name: 'S', subjects: ['s.>'], ...stream });
  await bus.addConsumer('S', { name: 'c', ackWaitMs: 1000, ...consumer });
  const settle = async (turns = 3) => {
    for (let i = 0; i < turns; i++) await clock.advanceAsync(0);
  };
  return { clock, bus, settle };
}

async function collectDeadLetters(bus: InProcessEventBus, consumer = 'c'): Promise<EventMessage[]> {
  const letters: EventMessage[] = [];
  await bus.addConsumer(DEAD_LETTER_STREAM, { name: 'ops', filterSubject: deadLetterSubject('S', consumer) });
  await bus.subscribe(DEAD_LETTER_STREAM, 'ops', (m) => {
    letters.push(m);
    m.ack();
  });
  return letters;
}

describe('createInProcessEventBus options', () => {
  it('rejects bad options with PL-400 naming the option', () => {
    expectEnablementError(() => createInProcessEventBus({ clock: {} as never }), 'PL-400', 'clock');
    expectEnablementError(() => createInProcessEventBus({ maxStreams: 0 }), 'PL-400', 'maxStreams');
    expectEnablementError(() => createInProcessEventBus({ deliveryBatch: 1.5 }), 'PL-400', 'deliveryBatch');
    expectEnablementError(() => createInProcessEventBus({ unknown: 1 } as never), 'PL-400');
    expectEnablementError(
      () => createInProcessEventBus({ deadLetter: { maxMessages: 0 } }),
      'PL-400',
      'maxMessages',
    );
  });

  it('bounds streams and consumers per stream with PL-409', async () => {
    const bus = createInProcessEventBus({ clock: new FakeClock(), maxStreams: 2, maxConsumersPerStream: 1 });
    await bus.addStream({ name: 'A', subjects: ['a'] });
    await expectEnablementRejection(bus.addStream({ name: 'B', subjects: ['b'] }), 'PL-409', 'maxStreams');
    await bus.addConsumer('A', { name: 'one' });
    await expectEnablementRejection(bus.addConsumer('A', { name: 'two' }), 'PL-409', 'maxConsumersPerStream');
  });
});

describe('dead-letter stream', () => {
  it('exists from the start, cannot be deleted, and no stream may capture its subjects', async () => {
    const bus = createInProcessEventBus({ clock: new FakeClock() });
    const info = await bus.streamInfo(DEAD_LETTER_STREAM);
    expect(info.config.subjects).toEqual(['$DLQ.>']);
    await expectEnablementRejection(bus.deleteStream(DEAD_LETTER_STREAM), 'PL-409');
    await expectEnablementRejection(bus.addStream({ name: 'X', subjects: ['$DLQ.S.*'] }), 'PL-409');
    await expectEnablementRejection(bus.addStream({ name: 'Y', subjects: ['>'] }), 'PL-409');
  });

  it('keeps the last reasons of every delivery, hides foreign error text, keeps SDK error text', async () => {
    const { bus, clock, settle } = await fixture({ maxDeliver: 7 });
    const letters = await collectDeadLetters(bus);
    await bus.subscribe('S', 'c', (m) => {
      switch (m.deliveryCount) {
        case 1:
          throw new Error('password=hunter2');
        case 2:
          throw new EnablementError('PL-503', 'ledger unavailable');
        case 3:
          return; // never answered: the ack wait expires
        case 4:
          return Promise.reject(new TypeError('secret-token-xyz'));
        case 5:
          m.nak(0, 'x'.repeat(1000));
          return;
        default:
          m.nak(0, `attempt ${m.deliveryCount}`);
      }
    });
    await bus.publish('s.a', bytes('p'));
    await settle();
    await clock.advanceAsync(1000);
    await settle(10);
    expect(letters).toHaveLength(1);
    const info = parseDeadLetter(letters[0]?.headers ?? {});
    expect(info.deliveries).toBe(7);
    expect(info.reasons).toHaveLength(MAX_DEAD_LETTER_REASONS);
    expect(info.reasons.map((r) => r.delivery)).toEqual([3, 4, 5, 6, 7]);
    expect(info.reasons[0]?.reason).toBe('ack wait expired');
    expect(info.reasons[1]?.reason).toBe('handler threw TypeError');
    expect(info.reasons[2]?.reason).toBe(`${'x'.repeat(256)}…`);
    expect(info.reasons[4]?.reason).toBe('attempt 7');
    expect(info.lastDeliveryAt - info.firstDeliveryAt).toBe(1_000_000_000n);
    expect(JSON.stringify(letters[0]?.headers)).not.toContain('secret-token');
    expect((await bus.consumerInfo('S', 'c')).state.deadLettered).toBe(1);
  });

  it('records SDK errors with code and message and drops the text of foreign errors', async () => {
    const { bus, settle } = await fixture({ maxDeliver: 2 });
    const letters = await collectDeadLetters(bus);
    await bus.subscribe('S', 'c', (m) => {
      if (m.deliveryCount === 1) throw new Error('password=hunter2');
      throw new EnablementError('PL-503', 'ledger unavailable');
    });
    await bus.publish('s.a', bytes('p'));
    await settle(6);
    const info = parseDeadLetter(letters[0]?.headers ?? {});
    expect(info.reasons).toEqual([
      { delivery: 1, reason: 'handler threw Error' },
      { delivery: 2, reason: 'handler threw PL-503: ledger unavailable' },
    ]);
    expect(JSON.stringify(letters[0]?.headers)).not.toContain('hunter2');
    // Counted once: the payload plus every header of the dead letter (the original ones included).
    const headerBytes = Object.entries(letters[0]?.headers ?? {}).reduce(
      (n, [k, v]) => n + k.length + v.length + 4,
      0,
    );
    expect((await bus.streamInfo(DEAD_LETTER_STREAM)).state.bytes).toBe(1 + headerBytes);
  });

  it('dead-letters the same sequence again after its stream was deleted and created anew', async () => {
    const { bus, settle } = await fixture({ maxDeliver: 1 });
    const letters = await collectDeadLetters(bus);
    await bus.subscribe('S', 'c', (m) => m.nak());
    await bus.publish('s.a', bytes('first life'));
    await settle(6);
    await bus.deleteStream('S');
    await bus.addStream({ name: 'S', subjects: ['s.>'] });
    await bus.addConsumer('S', { name: 'c', maxDeliver: 1 });
    await bus.subscribe('S', 'c', (m) => m.nak());
    await bus.publish('s.a', bytes('second life'));
    await settle(6);
    expect(letters.map((m) => [text(m.data), parseDeadLetter(m.headers).seq])).toEqual([
      ['first life', 1],
      ['second life', 1],
    ]);
  });

  it('keeps a message pending when the dead-letter stream is full, and dead-letters it once there is room', async () => {
    const { bus, clock, settle } = await fixture(
      { maxDeliver: 1 },
      {},
      { deadLetter: { maxMessages: 1, maxAgeMs: 5000 } },
    );
    await bus.subscribe('S', 'c', (m) => m.nak(0, 'no'));
    await bus.publish('s.a', bytes('first'));
    await bus.publish('s.a', bytes('second'));
    await settle(6);
    expect((await bus.streamInfo(DEAD_LETTER_STREAM)).state.messages).toBe(1);
    expect((await bus.consumerInfo('S', 'c')).state).toMatchObject({ ackPending: 1, deadLettered: 1 });
    // Retries after each ack wait; the first dead letter ages out at 5 s.
    await clock.advanceAsync(6000);
    await settle();
    expect((await bus.consumerInfo('S', 'c')).state).toMatchObject({ ackPending: 0, deadLettered: 2 });
    const letters = await collectDeadLetters(bus);
    await settle();
    expect(letters.map((m) => text(m.data))).toEqual(['second']);
  });
});

describe('delivery mechanics', () => {
  it('uses one clock timer however many deliveries are pending', async () => {
    const { bus, clock, settle } = await fixture({ maxAckPending: 500 });
    await bus.subscribe('S', 'c', () => {});
    for (let i = 0; i < 300; i++) bus.publishSync(`s.${i % 7}`, bytes(String(i)));
    await settle(5);
    expect((await bus.consumerInfo('S', 'c')).state.ackPending).toBe(300);
    expect(clock.pendingTimers).toBe(1);
  });

  it('is deterministic under FakeClock: the same scenario gives the same log', async () => {
    const run = async () => {
      const { bus, clock, settle } = await fixture({ maxDeliver: 3, maxAckPending: 4 });
      const log: string[] = [];
      await bus.subscribe('S', 'c', (m) => {
        log.push(`${m.seq}/${m.deliveryCount}@${clock.now()}`);
        const n = Number(text(m.data));
        if (n % 3 === 0) m.nak(n * 10);
        else if (n % 3 === 1) m.ack();
        // n % 3 === 2: left to expire
      });
      for (let i = 0; i < 12; i++) await bus.publish(`s.${i % 2}`, bytes(String(i)));
      for (let i = 0; i < 10; i++) {
        await clock.advanceAsync(333);
        await settle();
      }
      return log;
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(12);
    expect(await run()).toEqual(first);
  });

  it('yields between batches yet delivers a backlog completely and in order', async () => {
    const { bus, settle } = await fixture({ maxAckPending: 1000 }, {}, { deliveryBatch: 4 });
    for (let i = 0; i < 50; i++) bus.publishSync('s.a', bytes(String(i)));
    const seen: number[] = [];
    await bus.subscribe('S', 'c', (m) => {
      seen.push(Number(text(m.data)));
      m.ack();
    });
    await settle(30);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('drops an unanswered-but-not-outstanding delivery whose message a limit removed', async () => {
    const { bus, clock, settle } = await fixture({}, { maxMessages: 2, discard: 'old' });
    await bus.subscribe('S', 'c', (m) => m.nak(5000));
    bus.publishSync('s.a', bytes('0'));
    await settle();
    expect((await bus.consumerInfo('S', 'c')).state.ackPending).toBe(1);
    bus.publishSync('s.a', bytes('1'));
    bus.publishSync('s.a', bytes('2'));
    await settle();
    // Message 0 (waiting for its nak delay) was discarded: its slot is free, nothing is redelivered.
    const info = await bus.consumerInfo('S', 'c');
    expect(info.state.ackPending).toBe(2);
    await clock.advanceAsync(6000);
    expect((await bus.streamInfo('S')).state.firstSeq).toBe(2);
  });

  it('validates nak delays, and a bad delay thrown from the handler counts as a failure', async () => {
    const { bus, settle } = await fixture({ maxDeliver: 2 });
    const letters = await collectDeadLetters(bus);
    await bus.subscribe('S', 'c', (m) => m.nak(Number.NaN));
    await bus.publish('s.a', bytes('x'));
    await settle(6);
    expect(parseDeadLetter(letters[0]?.headers ?? {}).reasons[0]?.reason).toContain('PL-400');
  });

  it('ignores answers after the consumer is deleted or the bus closed, and releases every timer', async () => {
    const { bus, clock, settle } = await fixture();
    const got: EventMessage[] = [];
    await bus.subscribe('S', 'c', (m) => {
      got.push(m);
    });
    await bus.publish('s.a', bytes('x'));
    await settle();
    await bus.deleteConsumer('S', 'c');
    expect(() => got[0]?.ack()).not.toThrow();
    await expectEnablementRejection(bus.consumerInfo('S', 'c'), 'PL-404');
    await bus.addConsumer('S', { name: 'c2' });
    await bus.subscribe('S', 'c2', (m) => {
      got.push(m);
    });
    await settle();
    expect(got).toHaveLength(2);
    await bus.close();
    await bus.close();
    expect(bus.closed).toBe(true);
    expect(() => got[1]?.nak()).not.toThrow();
    expect(clock.pendingTimers).toBe(0);
    const closed = await expectEnablementRejection(bus.publish('s.a', bytes('x')), 'PL-503', 'closed');
    expect(closed.retryable).toBe(false);
    expectEnablementError(() => bus.publishSync('s.a', bytes('x')), 'PL-503');
  });

  it('deleting a stream removes its consumers and messages', async () => {
    const { bus } = await fixture();
    await bus.publish('s.a', bytes('x'));
    await bus.deleteStream('S');
    await expectEnablementRejection(bus.streamInfo('S'), 'PL-404');
    await expectEnablementRejection(
      bus.publish('s.a', bytes('x')),
      'PL-404',
      "no stream captures subject 's.a'",
    );
    await bus.addStream({ name: 'S', subjects: ['s.>'] });
    expect((await bus.streamInfo('S')).state).toMatchObject({ messages: 0, consumers: 0, lastSeq: 0 });
  });
});

describe('publish validation and bounds', () => {
  it('rejects reserved, malformed, duplicate and too many headers', async () => {
    const { bus } = await fixture();
    for (const headers of [
      { 'creto-dlq-seq': '1' },
      { 'nats-expected-stream': 'S' },
      { 'bad name': 'x' },
      { 'X-A': 'é' },
      { 'X-A': 'a', 'x-a': 'b' },
      { 'X-A': 5 },
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, 'v'])),
      ['x'],
    ]) {
      await expectEnablementRejection(
        bus.publish('s.a', bytes('x'), { headers } as never),
        'PL-400',
        'headers',
      );
    }
    await expectEnablementRejection(
      bus.publish('s.a', bytes('x'), { msgId: 'x'.repeat(257) }),
      'PL-400',
      'msgId',
    );
    await expectEnablementRejection(bus.publish('s.a', bytes('x'), { msgId: 'a\nb' }), 'PL-400', 'msgId');
    expect((await bus.streamInfo('S')).state.messages).toBe(0);
  });

  it('counts headers in the size of a message', async () => {
    const { bus } = await fixture({}, { maxMessageSize: 20, maxBytes: 1000 });
    await bus.publish('s.a', new Uint8Array(20));
    await expectEnablementRejection(
      bus.publish('s.a', new Uint8Array(10), { headers: { 'X-Long': 'abcdef' } }),
      'PL-400',
    );
    const info = await bus.streamInfo('S');
    expect(info.state.bytes).toBe(20);
  });

  it('forgets the oldest msgId when the dedup table is full (best effort, bounded)', async () => {
    const { bus } = await fixture({}, {}, { maxDuplicateIds: 2 });
    const a = await bus.publish('s.a', bytes('a'), { msgId: 'a' });
    await bus.publish('s.a', bytes('b'), { msgId: 'b' });
    expect((await bus.publish('s.a', bytes('b'), { msgId: 'b' })).duplicate).toBe(true);
    await bus.publish('s.a', bytes('c'), { msgId: 'c' });
    const again = await bus.publish('s.a', bytes('a'), { msgId: 'a' });
    expect(again.duplicate).toBe(false);
    expect(again.seq).toBeGreaterThan(a.seq);
  });

  it('publishSync stores synchronously and returns the ack', async () => {
    const { bus } = await fixture();
    expect(bus.publishSync('s.a', bytes('x'))).toEqual({ stream: 'S', seq: 1, duplicate: false });
    expectEnablementError(() => bus.publishSync('s.*', bytes('x')), 'PL-400', 'wildcard');
  });

  it('refuses a message larger than maxBytes even with discard old', async () => {
    const { bus } = await fixture({}, { maxBytes: 10, maxMessageSize: 10, discard: 'old' });
    await bus.publish('s.a', new Uint8Array(6));
    await bus.publish('s.a', new Uint8Array(6));
    expect((await bus.streamInfo('S')).state).toMatchObject({ messages: 1, firstSeq: 2 });
    await expectEnablementRejection(bus.publish('s.a', new Uint8Array(11)), 'PL-400');
  });
});
