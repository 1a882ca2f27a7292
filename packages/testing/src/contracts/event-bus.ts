import {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  EnablementError,
  type EventBus,
  type EventMessage,
  parseDeadLetter,
  type Subscription,
} from '@creto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What an {@link EventBusFactory} returns for one test. */
export interface EventBusFixture {
  /**
   * A bus whose streams do not collide with another fixture's: fresh, or on a shared server
   * (the suite names every stream and subject uniquely per test).
   */
  readonly bus: EventBus;
  /**
   * Moves the bus's time forward by `ms` and lets due deliveries run: `FakeClock.advanceAsync`
   * for an in-process bus, a real wait for a server.
   */
  advance(ms: number): Promise<void>;
  /**
   * Lets pending deliveries and handlers run without moving fake time: a few event-loop turns
   * for an in-process bus, a short real wait (a fraction of the unit) for a server.
   */
  settle(): Promise<void>;
  /** Frees what the fixture holds (connections, streams), after each test. */
  close?(): Promise<void>;
}

/** Builds a fresh fixture for each test. */
export type EventBusFactory = () => EventBusFixture | Promise<EventBusFixture>;

/** Options of {@link eventBusContract}. */
export interface EventBusContractOptions {
  /**
   * The suite's time unit in ms (100 by default): ack waits are 10 units, nak delays 4, duplicate
   * windows 20. A bus on a real server needs a unit well above its timer resolution and network
   * latency; a `FakeClock`-driven bus runs at any unit without waiting.
   */
  readonly unitMs?: number;
  /** Most `settle()` calls spent waiting for an expected delivery (50 by default). */
  readonly settleSteps?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);

/** Deliveries seen by one subscription, and what the handler did. */
interface Recorder {
  readonly received: EventMessage[];
  readonly sub: Subscription;
}

/**
 * The contract every {@link EventBus} implementation must pass (ARCHITECTURE §5, spec §4.1,
 * docs/events.md): asynchronous delivery, redelivery after the ack wait, `inProgress`, nak with
 * and without delay, term, handler failures, ordering per subject with `maxAckPending: 1`, the
 * `maxAckPending` bound, deduplication inside and after the window, dead-lettering after
 * `maxDeliver` with the delivery history, durable resume after unsubscribe, wildcard filters,
 * stream limits and discard policies, work-queue retention and input validation. It relies only
 * on the port, so an in-process bus and a NATS adapter run the same suite. Call it at the top
 * level of a test file; it registers one `describe` block.
 *
 * @example
 * ```ts
 * eventBusContract('in-process', () => {
 *   const clock = new FakeClock();
 *   const bus = createInProcessEventBus({ clock });
 *   return {
 *     bus,
 *     advance: async (ms) => void (await clock.advanceAsync(ms)),
 *     settle: async () => void (await clock.advanceAsync(0)),
 *     close: () => bus.close(),
 *   };
 * });
 * ```
 */
export function eventBusContract(
  name: string,
  factory: EventBusFactory,
  options: EventBusContractOptions = {},
): void {
  const unit = options.unitMs ?? 100;
  const settleSteps = options.settleSteps ?? 50;
  const ackWait = 10 * unit;
  const nakDelay = 4 * unit;
  const window = 20 * unit;

  describe(`EventBus contract: ${name}`, () => {
    let fixture: EventBusFixture;
    let bus: EventBus;
    // Unique per test, so that a shared server never mixes two tests' streams and subjects.
    let stream: string;
    let prefix: string;
    const subject = (...rest: string[]) => [prefix, ...rest].join('.');

    beforeEach(async () => {
      fixture = await factory();
      bus = fixture.bus;
      const id = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 12);
      stream = `S${id}`;
      prefix = `c${id}`;
    });

    afterEach(async () => {
      await fixture.close?.();
    });

    async function eventually(predicate: () => boolean, what: string): Promise<void> {
      for (let i = 0; i < settleSteps; i++) {
        if (predicate()) return;
        await fixture.settle();
      }
      if (!predicate()) throw new Error(`timed out waiting for ${what}`);
    }

    async function setup(
      consumer: Parameters<EventBus['addConsumer']>[1] = { name: 'c1' },
      streamConfig: Partial<Parameters<EventBus['addStream']>[0]> = {},
    ): Promise<void> {
      await bus.addStream({ name: stream, subjects: [subject('>')], ...streamConfig });
      await bus.addConsumer(stream, { ackWaitMs: ackWait, ...consumer });
    }

    async function record(
      consumer = 'c1',
      behave: (m: EventMessage) => void | Promise<void> = (m) => m.ack(),
    ): Promise<Recorder> {
      const received: EventMessage[] = [];
      const sub = await bus.subscribe(stream, consumer, (m) => {
        received.push(m);
        return behave(m);
      });
      return { received, sub };
    }

    const seqs = (r: Recorder) => r.received.map((m) => m.seq);

    describe('publish and delivery', () => {
      it('stores with increasing sequences and delivers subject, payload, headers and metadata', async () => {
        await setup();
        const a = await bus.publish(subject('a'), bytes('one'), {
          headers: { 'X-Trace': 't1' },
          msgId: 'm-1',
        });
        const b = await bus.publish(subject('b'), bytes('two'));
        expect(a).toEqual({ stream, seq: a.seq, duplicate: false });
        expect(b.seq).toBeGreaterThan(a.seq);
        const r = await record();
        await eventually(() => r.received.length === 2, 'two deliveries');
        const [first, second] = r.received;
        expect(first?.subject).toBe(subject('a'));
        expect(text(first?.data ?? new Uint8Array())).toBe('one');
        expect(first?.data).toBeInstanceOf(Uint8Array);
        expect(first?.headers['X-Trace']).toBe('t1');
        expect(first?.msgId).toBe('m-1');
        expect(first?.seq).toBe(a.seq);
        expect(first?.stream).toBe(stream);
        expect(first?.consumer).toBe('c1');
        expect(first?.deliveryCount).toBe(1);
        expect(typeof first?.timestamp).toBe('bigint');
        expect(second?.msgId).toBeUndefined();
        expect(second?.seq).toBe(b.seq);
      });

      it('never runs a handler inside publish or subscribe', async () => {
        await setup();
        await bus.publish(subject('a'), bytes('before'));
        let calls = 0;
        const pending = bus.subscribe(stream, 'c1', (m) => {
          calls++;
          m.ack();
        });
        expect(calls).toBe(0);
        await pending;
        await eventually(() => calls === 1, 'the first delivery');
        const published = bus.publish(subject('a'), bytes('after'));
        expect(calls).toBe(1);
        await published;
        await eventually(() => calls === 2, 'the second delivery');
      });

      it('copies payloads: mutating the published buffer or a delivered one changes nothing stored', async () => {
        await setup({ name: 'c1' });
        await bus.addConsumer(stream, { name: 'c2', ackWaitMs: ackWait });
        const data = bytes('abc');
        await bus.publish(subject('a'), data);
        data[0] = 0x7a;
        const r1 = await record('c1', (m) => {
          m.data[1] = 0x7a;
          m.ack();
        });
        await eventually(() => r1.received.length === 1, 'c1 delivery');
        const r2 = await record('c2');
        await eventually(() => r2.received.length === 1, 'c2 delivery');
        expect(text(r2.received[0]?.data ?? new Uint8Array())).toBe('abc');
      });

      it('does not redeliver an acked message, and ignores answers after the first', async () => {
        await setup();
        const r = await record('c1', (m) => {
          m.ack();
          m.nak();
          m.term();
        });
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the delivery');
        await fixture.advance(3 * ackWait);
        expect(r.received).toHaveLength(1);
        expect((await bus.consumerInfo(stream, 'c1')).state.ackPending).toBe(0);
      });

      it('rejects bad input with PL-400 and subjects without a stream with PL-404', async () => {
        await setup();
        await expectEnablementRejection(bus.publish(subject('*'), bytes('x')), 'PL-400');
        await expectEnablementRejection(bus.publish(subject('>'), bytes('x')), 'PL-400');
        await expectEnablementRejection(bus.publish(`${prefix}..a`, bytes('x')), 'PL-400');
        await expectEnablementRejection(bus.publish('', bytes('x')), 'PL-400');
        await expectEnablementRejection(bus.publish(subject('a b'), bytes('x')), 'PL-400');
        await expectEnablementRejection(bus.publish(subject('a'), 'x' as unknown as Uint8Array), 'PL-400');
        await expectEnablementRejection(
          bus.publish(subject('a'), bytes('x'), { headers: { 'Nats-Msg-Id': '1' } }),
          'PL-400',
        );
        await expectEnablementRejection(
          bus.publish(subject('a'), bytes('x'), { headers: { 'X-A': 'line\r\nX-B: 1' } }),
          'PL-400',
        );
        await expectEnablementRejection(bus.publish(subject('a'), bytes('x'), { msgId: '' }), 'PL-400');
        await expectEnablementRejection(bus.publish(`z${prefix}.nostream`, bytes('x')), 'PL-404');
        await expectEnablementRejection(
          bus.subscribe(stream, 'missing', () => {}),
          'PL-404',
        );
        await expectEnablementRejection(bus.consumerInfo(`X${stream}`, 'c1'), 'PL-404');
        expect((await bus.streamInfo(stream)).state.messages).toBe(0);
      });
    });

    describe('acknowledgement and redelivery', () => {
      it('redelivers an unanswered message after ackWait, not before, counting deliveries', async () => {
        await setup();
        const r = await record('c1', () => {});
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the first delivery');
        await fixture.advance(ackWait / 2);
        expect(r.received).toHaveLength(1);
        await fixture.advance(ackWait);
        await eventually(() => r.received.length === 2, 'the redelivery');
        expect(r.received[1]?.deliveryCount).toBe(2);
        expect(r.received[1]?.seq).toBe(r.received[0]?.seq);
        r.received[1]?.ack();
        await fixture.advance(2 * ackWait);
        expect(r.received).toHaveLength(2);
        expect((await bus.consumerInfo(stream, 'c1')).state.redelivered).toBeGreaterThanOrEqual(1);
      });

      it('accepts an ack from an older delivery (JetStream acks name the sequence)', async () => {
        await setup();
        const r = await record('c1', () => {});
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the first delivery');
        await fixture.advance(ackWait + unit);
        await eventually(() => r.received.length === 2, 'the redelivery');
        r.received[0]?.ack();
        await fixture.advance(2 * ackWait);
        expect(r.received).toHaveLength(2);
      });

      it('inProgress restarts the ack wait', async () => {
        await setup();
        const r = await record('c1', () => {});
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the first delivery');
        await fixture.advance(0.6 * ackWait);
        r.received[0]?.inProgress();
        await fixture.advance(0.6 * ackWait);
        expect(r.received).toHaveLength(1);
        await fixture.advance(0.8 * ackWait);
        await eventually(() => r.received.length === 2, 'the redelivery');
      });

      it('nak() redelivers promptly; nak(delay) waits for the delay', async () => {
        await setup();
        const r = await record('c1', (m) => {
          if (m.deliveryCount === 1) m.nak();
          else if (m.deliveryCount === 2) m.nak(nakDelay);
          else m.ack();
        });
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 2, 'the prompt redelivery');
        await fixture.advance(nakDelay / 2);
        expect(r.received).toHaveLength(2);
        await fixture.advance(nakDelay);
        await eventually(() => r.received.length === 3, 'the delayed redelivery');
        expect(r.received.map((m) => m.deliveryCount)).toEqual([1, 2, 3]);
      });

      it('term stops redelivery without dead-lettering', async () => {
        await setup({ name: 'c1', maxDeliver: 2 });
        const r = await record('c1', (m) => m.term('poison'));
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the delivery');
        await fixture.advance(3 * ackWait);
        expect(r.received).toHaveLength(1);
        await bus.addConsumer(DEAD_LETTER_STREAM, {
          name: `dlq${stream}`,
          filterSubject: deadLetterSubject(stream, 'c1'),
          ackWaitMs: ackWait,
        });
        expect((await bus.consumerInfo(DEAD_LETTER_STREAM, `dlq${stream}`)).state.numPending).toBe(0);
      });

      it('treats a handler that throws or rejects as a nak', async () => {
        await setup();
        const r = await record('c1', async (m) => {
          if (m.deliveryCount === 1) throw new Error('boom');
          if (m.deliveryCount === 2) throw new EnablementError('PL-503', 'downstream unavailable');
          m.ack();
        });
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 3, 'two redeliveries');
        await fixture.advance(2 * ackWait);
        expect(r.received.map((m) => m.deliveryCount)).toEqual([1, 2, 3]);
      });
    });

    describe('ordering and flow control', () => {
      it('with maxAckPending 1 delivers in stream order, a failed message redelivered before the next', async () => {
        await setup({ name: 'c1', maxAckPending: 1 });
        const published: number[] = [];
        for (let i = 0; i < 6; i++) {
          published.push((await bus.publish(subject(i % 2 === 0 ? 'even' : 'odd'), bytes(String(i)))).seq);
        }
        const r = await record('c1', (m) => {
          if (m.seq === published[2] && m.deliveryCount === 1) m.nak();
          else if (m.seq === published[4] && m.deliveryCount === 1) m.nak(nakDelay);
          else m.ack();
        });
        await eventually(() => r.received.length === 6, 'the deliveries up to the delayed nak');
        await fixture.advance(nakDelay + unit);
        await eventually(() => r.received.length === 8, 'every delivery');
        const p = published;
        expect(seqs(r)).toEqual([p[0], p[1], p[2], p[2], p[3], p[4], p[4], p[5]]);
        for (const part of ['even', 'odd']) {
          const perSubject = r.received
            .filter((m) => m.subject === subject(part) && m.deliveryCount === 1)
            .map((m) => text(m.data));
          expect(perSubject).toEqual([...perSubject].sort());
        }
      });

      it('never has more than maxAckPending messages unanswered', async () => {
        await setup({ name: 'c1', maxAckPending: 3 });
        for (let i = 0; i < 10; i++) await bus.publish(subject('a'), bytes(String(i)));
        const r = await record('c1', () => {});
        await eventually(() => r.received.length === 3, 'three deliveries');
        await fixture.settle();
        await fixture.settle();
        expect(r.received).toHaveLength(3);
        expect((await bus.consumerInfo(stream, 'c1')).state.ackPending).toBe(3);
        r.received[0]?.ack();
        await eventually(() => r.received.length === 4, 'one more after an ack');
        await fixture.settle();
        expect(r.received).toHaveLength(4);
        expect(text(r.received[3]?.data ?? new Uint8Array())).toBe('3');
      });
    });

    describe('deduplication', () => {
      it('stores a msgId once inside the window and returns the first sequence', async () => {
        await setup({ name: 'c1', ackWaitMs: ackWait });
        const first = await bus.publish(subject('a'), bytes('x'), { msgId: 'dup-1' });
        await fixture.advance(window / 2);
        const again = await bus.publish(subject('a'), bytes('changed'), { msgId: 'dup-1' });
        expect(again).toEqual({ stream, seq: first.seq, duplicate: true });
        const other = await bus.publish(subject('a'), bytes('y'), { msgId: 'dup-2' });
        expect(other.duplicate).toBe(false);
        expect((await bus.streamInfo(stream)).state.messages).toBe(2);
        const r = await record();
        await eventually(() => r.received.length === 2, 'two deliveries');
        await fixture.settle();
        expect(r.received.map((m) => text(m.data))).toEqual(['x', 'y']);
      });

      it('stores a msgId again once the window has passed', async () => {
        await setup({ name: 'c1' }, { duplicateWindowMs: window });
        const first = await bus.publish(subject('a'), bytes('x'), { msgId: 'dup-1' });
        await fixture.advance(window + 2 * unit);
        const later = await bus.publish(subject('a'), bytes('x'), { msgId: 'dup-1' });
        expect(later.duplicate).toBe(false);
        expect(later.seq).toBeGreaterThan(first.seq);
        expect((await bus.streamInfo(stream)).state.messages).toBe(2);
      });
    });

    describe('dead letters', () => {
      async function deadLetters(consumer: string): Promise<Recorder> {
        const dlq = `dlq${stream}`;
        await bus.addConsumer(DEAD_LETTER_STREAM, {
          name: dlq,
          filterSubject: deadLetterSubject(stream, consumer),
          ackWaitMs: ackWait,
        });
        const received: EventMessage[] = [];
        const sub = await bus.subscribe(DEAD_LETTER_STREAM, dlq, (m) => {
          received.push(m);
          m.ack();
        });
        return { received, sub };
      }

      it('after maxDeliver naks publishes the message to $DLQ.<stream>.<consumer> with its history', async () => {
        await setup({ name: 'c1', maxDeliver: 3 });
        const dlq = await deadLetters('c1');
        const r = await record('c1', (m) => m.nak(0, `failure ${m.deliveryCount}`));
        const ack = await bus.publish(subject('a'), bytes('payload'), {
          msgId: 'dl-1',
          headers: { 'X-Tenant': 't1' },
        });
        await eventually(() => dlq.received.length === 1, 'the dead letter');
        await fixture.advance(3 * ackWait);
        expect(r.received.map((m) => m.deliveryCount)).toEqual([1, 2, 3]);
        const letter = dlq.received[0];
        expect(letter?.subject).toBe(deadLetterSubject(stream, 'c1'));
        expect(text(letter?.data ?? new Uint8Array())).toBe('payload');
        expect(letter?.headers['X-Tenant']).toBe('t1');
        const info = parseDeadLetter(letter?.headers ?? {});
        expect(info).toMatchObject({
          stream,
          consumer: 'c1',
          subject: subject('a'),
          seq: ack.seq,
          msgId: 'dl-1',
          deliveries: 3,
        });
        expect(info.firstDeliveryAt <= info.lastDeliveryAt).toBe(true);
        expect(info.publishedAt <= info.firstDeliveryAt).toBe(true);
        expect(info.reasons.at(-1)).toEqual({ delivery: 3, reason: 'failure 3' });
        expect(dlq.received).toHaveLength(1);
        expect((await bus.consumerInfo(stream, 'c1')).state.ackPending).toBe(0);
      });

      it('dead-letters after maxDeliver expired ack waits', async () => {
        await setup({ name: 'c1', maxDeliver: 2 });
        const dlq = await deadLetters('c1');
        const r = await record('c1', () => {});
        await bus.publish(subject('a'), bytes('x'));
        await eventually(() => r.received.length === 1, 'the delivery');
        await fixture.advance(ackWait + unit);
        await eventually(() => r.received.length === 2, 'the redelivery');
        await fixture.advance(ackWait + unit);
        await eventually(() => dlq.received.length === 1, 'the dead letter');
        await fixture.advance(3 * ackWait);
        expect(r.received).toHaveLength(2);
        expect(parseDeadLetter(dlq.received[0]?.headers ?? {}).deliveries).toBe(2);
      });
    });

    describe('durable consumers', () => {
      it('resume after unsubscribe: acked messages are not redelivered, unacked ones are, new ones follow', async () => {
        await setup({ name: 'c1', maxAckPending: 10 });
        for (let i = 0; i < 4; i++) await bus.publish(subject('a'), bytes(String(i)));
        const r1 = await record('c1', (m) => {
          if (text(m.data) !== '3') m.ack();
        });
        await eventually(() => r1.received.length === 4, 'four deliveries');
        await r1.sub.unsubscribe();
        expect(r1.sub.active).toBe(false);
        await bus.publish(subject('a'), bytes('4'));
        await fixture.settle();
        expect(r1.received).toHaveLength(4);
        // Re-creating with the same configuration binds to the same durable state.
        await bus.addConsumer(stream, { name: 'c1', ackWaitMs: ackWait, maxAckPending: 10 });
        const r2 = await record('c1');
        await eventually(() => r2.received.some((m) => text(m.data) === '4'), 'the new message');
        await fixture.advance(ackWait + unit);
        await eventually(() => r2.received.length === 2, 'the unacked message');
        const seen = r2.received.map((m) => [text(m.data), m.deliveryCount]);
        expect(seen).toContainEqual(['3', 2]);
        expect(seen).toContainEqual(['4', 1]);
        expect(seen.some(([t]) => ['0', '1', '2'].includes(String(t)))).toBe(false);
      });

      it('binds one subscription at a time and refuses a changed configuration', async () => {
        await setup();
        const r = await record();
        await expectEnablementRejection(
          bus.subscribe(stream, 'c1', () => {}),
          'PL-409',
        );
        await expectEnablementRejection(
          bus.addConsumer(stream, { name: 'c1', ackWaitMs: ackWait * 2 }),
          'PL-409',
        );
        await r.sub.unsubscribe();
        const again = await bus.subscribe(stream, 'c1', (m) => m.ack());
        expect(again.active).toBe(true);
      });

      it('deliverPolicy new skips messages stored before the consumer was created', async () => {
        await bus.addStream({ name: stream, subjects: [subject('>')] });
        await bus.publish(subject('a'), bytes('old'));
        await bus.addConsumer(stream, { name: 'c1', deliverPolicy: 'new', ackWaitMs: ackWait });
        await bus.publish(subject('a'), bytes('new'));
        const r = await record();
        await eventually(() => r.received.length === 1, 'the new message');
        await fixture.settle();
        expect(r.received.map((m) => text(m.data))).toEqual(['new']);
      });

      it('stops delivering after unsubscribe', async () => {
        await setup();
        const r = await record();
        await r.sub.unsubscribe();
        await bus.publish(subject('a'), bytes('x'));
        await fixture.advance(unit);
        expect(r.received).toHaveLength(0);
        expect((await bus.consumerInfo(stream, 'c1')).state.numPending).toBe(1);
      });
    });

    describe('subjects and wildcards', () => {
      it('delivers only what the filter matches: * is one token, > one or more', async () => {
        await bus.addStream({ name: stream, subjects: [subject('>')] });
        await bus.addConsumer(stream, {
          name: 'star',
          filterSubject: subject('*', 'created'),
          ackWaitMs: ackWait,
        });
        await bus.addConsumer(stream, { name: 'tail', filterSubject: subject('a', '>'), ackWaitMs: ackWait });
        for (const s of ['a.created', 'b.deleted', 'a.b.created', 'c.created', 'a']) {
          await bus.publish(subject(...s.split('.')), bytes(s));
        }
        const star = await record('star');
        const tail = await record('tail');
        await eventually(() => star.received.length === 2 && tail.received.length === 2, 'both consumers');
        await fixture.settle();
        expect(star.received.map((m) => text(m.data))).toEqual(['a.created', 'c.created']);
        expect(tail.received.map((m) => text(m.data))).toEqual(['a.created', 'a.b.created']);
      });

      it('rejects invalid filters, filters outside the stream and overlapping streams', async () => {
        await bus.addStream({ name: stream, subjects: [subject('a', '>')] });
        await expectEnablementRejection(
          bus.addConsumer(stream, { name: 'x', filterSubject: subject('>', 'a') }),
          'PL-400',
        );
        await expectEnablementRejection(
          bus.addConsumer(stream, { name: 'x', filterSubject: subject('a*') }),
          'PL-400',
        );
        await expectEnablementRejection(
          bus.addConsumer(stream, { name: 'x', filterSubject: subject('b', '>') }),
          'PL-400',
        );
        await expectEnablementRejection(bus.addConsumer(stream, { name: 'bad.name' }), 'PL-400');
        await expectEnablementRejection(
          bus.addStream({ name: `${stream}x`, subjects: [subject('*', 'z')] }),
          'PL-409',
        );
        await expectEnablementRejection(bus.addStream({ name: stream, subjects: [subject('q')] }), 'PL-409');
        const same = await bus.addStream({ name: stream, subjects: [subject('a', '>')] });
        expect(same.config.name).toBe(stream);
      });
    });

    describe('limits', () => {
      it('discard new (default): a full stream refuses with retryable PL-503 and keeps what it stored', async () => {
        await setup({ name: 'c1' }, { maxMessages: 3 });
        for (let i = 0; i < 3; i++) await bus.publish(subject('a'), bytes(String(i)));
        const refused = await expectEnablementRejection(bus.publish(subject('a'), bytes('3')), 'PL-503');
        expect(refused.retryable).toBe(true);
        const r = await record();
        await eventually(() => r.received.length === 3, 'the stored messages');
        expect(r.received.map((m) => text(m.data))).toEqual(['0', '1', '2']);
      });

      it('discard old removes the oldest messages to make room', async () => {
        await setup({ name: 'c1' }, { maxMessages: 3, discard: 'old' });
        for (let i = 0; i < 5; i++) await bus.publish(subject('a'), bytes(String(i)));
        const info = await bus.streamInfo(stream);
        expect(info.state.messages).toBe(3);
        const r = await record();
        await eventually(() => r.received.length === 3, 'the kept messages');
        expect(r.received.map((m) => text(m.data))).toEqual(['2', '3', '4']);
      });

      it('enforces maxBytes and maxMessageSize', async () => {
        // Sizes leave room for a broker's per-message overhead (subject, headers, framing).
        await setup({ name: 'c1' }, { maxBytes: 1000, maxMessageSize: 500 });
        await expectEnablementRejection(bus.publish(subject('a'), new Uint8Array(501)), 'PL-400');
        await bus.publish(subject('a'), new Uint8Array(400));
        await bus.publish(subject('a'), new Uint8Array(400));
        await expectEnablementRejection(bus.publish(subject('a'), new Uint8Array(400)), 'PL-503');
        const { state } = await bus.streamInfo(stream);
        expect(state.messages).toBe(2);
        expect(state.bytes).toBeGreaterThanOrEqual(800);
        expect(state.bytes).toBeLessThanOrEqual(1000);
      });

      it('removes messages older than maxAgeMs', async () => {
        await setup({ name: 'c1' }, { maxAgeMs: 10 * unit });
        await bus.publish(subject('a'), bytes('old'));
        await fixture.advance(6 * unit);
        await bus.publish(subject('a'), bytes('young'));
        await fixture.advance(6 * unit);
        expect((await bus.streamInfo(stream)).state.messages).toBe(1);
        const r = await record();
        await eventually(() => r.received.length === 1, 'the young message');
        expect(text(r.received[0]?.data ?? new Uint8Array())).toBe('young');
      });

      it('work-queue retention removes settled messages and refuses overlapping consumers', async () => {
        await setup({ name: 'c1', filterSubject: subject('a') }, { retention: 'workqueue' });
        await expectEnablementRejection(
          bus.addConsumer(stream, { name: 'c2', filterSubject: subject('*'), ackWaitMs: ackWait }),
          'PL-409',
        );
        await bus.publish(subject('a'), bytes('x'));
        await bus.publish(subject('a'), bytes('y'));
        const r = await record('c1', (m) => (text(m.data) === 'x' ? m.ack() : m.term()));
        await eventually(() => r.received.length === 2, 'both deliveries');
        await fixture.settle();
        expect((await bus.streamInfo(stream)).state.messages).toBe(0);
      });

      it('rejects out-of-range configuration with PL-400', async () => {
        await expectEnablementRejection(bus.addStream({ name: stream, subjects: [] }), 'PL-400');
        await expectEnablementRejection(
          bus.addStream({ name: stream, subjects: [subject('>')], maxMessages: 0 }),
          'PL-400',
        );
        await expectEnablementRejection(
          bus.addStream({ name: 'has space', subjects: [subject('>')] }),
          'PL-400',
        );
        await bus.addStream({ name: stream, subjects: [subject('>')] });
        await expectEnablementRejection(bus.addConsumer(stream, { name: 'c1', maxDeliver: 0 }), 'PL-400');
        await expectEnablementRejection(bus.addConsumer(stream, { name: 'c1', maxAckPending: 0 }), 'PL-400');
        await expectEnablementRejection(bus.addConsumer(stream, { name: 'c1', ackWaitMs: -1 }), 'PL-400');
      });
    });
  });
}
