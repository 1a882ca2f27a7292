// Fault injection: throwing handlers, slow consumers, a consumer crash between delivery and ack,
// and a bus that fails mid-way under the buffering publisher.
import { FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import { sleep } from '../time/clock.js';
import { createBufferingPublisher } from './buffering-publisher.js';
import { createInProcessEventBus } from './in-process.js';
import type { EventMessage, PublishAck, PublishOptions } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function setup(consumer: Record<string, unknown> = {}) {
  const clock = new FakeClock({ start: 0n });
  const bus = createInProcessEventBus({ clock });
  await bus.addStream({ name: 'EVENTS', subjects: ['events.>'] });
  await bus.addConsumer('EVENTS', { name: 'worker', ackWaitMs: 10_000, ...consumer });
  const settle = async (turns = 5) => {
    for (let i = 0; i < turns; i++) await clock.advanceAsync(0);
  };
  return { clock, bus, settle };
}

describe('fault injection', () => {
  it('a handler that throws is nak’d: with maxAckPending 1 every event is handled once successfully, in order', async () => {
    const { bus, settle } = await setup({ maxAckPending: 1 });
    const handled: string[] = [];
    const attempts = new Map<string, number>();
    await bus.subscribe('EVENTS', 'worker', (m) => {
      const n = text(m.data);
      attempts.set(n, (attempts.get(n) ?? 0) + 1);
      if (Number(n) % 3 === 0 && m.deliveryCount === 1) throw new Error('transient');
      handled.push(n);
      m.ack();
    });
    for (let i = 0; i < 20; i++) await bus.publish(`events.${i % 4}`, bytes(String(i)));
    await settle(40);
    expect(handled).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    for (const [n, count] of attempts) expect(count).toBe(Number(n) % 3 === 0 ? 2 : 1);
  });

  it('a slow consumer is held at maxAckPending while publishers carry on, and catches up without loss', async () => {
    const { bus, clock, settle } = await setup({ maxAckPending: 5 });
    let inFlight = 0;
    let peak = 0;
    const done: string[] = [];
    await bus.subscribe('EVENTS', 'worker', async (m) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await sleep(clock, 3000); // slow work, well inside the 10 s ack wait
      inFlight--;
      done.push(text(m.data));
      m.ack();
    });
    for (let i = 0; i < 50; i++)
      expect((await bus.publish('events.a', bytes(String(i)))).duplicate).toBe(false);
    await settle();
    expect(inFlight).toBe(5);
    expect((await bus.consumerInfo('EVENTS', 'worker')).state).toMatchObject({
      ackPending: 5,
      numPending: 45,
    });
    for (let i = 0; i < 10; i++) {
      await clock.advanceAsync(3000);
      await settle();
    }
    expect(peak).toBe(5);
    expect(done).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect((await bus.consumerInfo('EVENTS', 'worker')).state).toMatchObject({
      ackPending: 0,
      redelivered: 0,
    });
  });

  it('work longer than the ack wait is redelivered unless the handler reports progress', async () => {
    for (const reportProgress of [false, true]) {
      const { bus, clock, settle } = await setup({ maxAckPending: 1 });
      const deliveries: number[] = [];
      await bus.subscribe('EVENTS', 'worker', async (m) => {
        deliveries.push(m.deliveryCount);
        for (let elapsed = 0; elapsed < 25_000; elapsed += 5000) {
          await sleep(clock, 5000);
          if (reportProgress) m.inProgress();
        }
        m.ack();
      });
      await bus.publish('events.a', bytes('long job'));
      await settle();
      for (let i = 0; i < 6; i++) await clock.advanceAsync(5000);
      await settle();
      expect(deliveries.length > 1).toBe(!reportProgress);
    }
  });

  it('a consumer that crashes between delivery and ack gets the event again after restarting by durable name', async () => {
    const { bus, clock, settle } = await setup();
    const config = { name: 'worker', ackWaitMs: 10_000 };
    const first: EventMessage[] = [];
    const crashed = await bus.subscribe('EVENTS', 'worker', (m) => {
      first.push(m); // starts work… and the process dies before answering
    });
    const published = await bus.publish('events.a', bytes('invoice-42'), { msgId: 'inv-42' });
    await settle();
    expect(first).toHaveLength(1);
    // The crash: the subscription and its handler are gone; nothing was acked.
    await crashed.unsubscribe();
    first.length = 0;

    // Restart: the same durable consumer, by name and configuration.
    await bus.addConsumer('EVENTS', config);
    const again: EventMessage[] = [];
    await bus.subscribe('EVENTS', 'worker', (m) => {
      again.push(m);
      m.ack();
    });
    await settle();
    expect(again).toHaveLength(0); // still inside the ack wait of the lost delivery
    await clock.advanceAsync(10_000);
    await settle();
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ seq: published.seq, deliveryCount: 2, msgId: 'inv-42' });
    expect(text(again[0]?.data ?? new Uint8Array())).toBe('invoice-42');
    await clock.advanceAsync(30_000);
    expect(again).toHaveLength(1);
  });

  it('a bus failing mid-way under the buffering publisher loses nothing and keeps order end to end', async () => {
    const clock = new FakeClock({ start: 0n });
    const bus = createInProcessEventBus({ clock });
    await bus.addStream({ name: 'EVENTS', subjects: ['events.>'] });
    await bus.addConsumer('EVENTS', { name: 'worker', maxAckPending: 1 });
    const received: string[] = [];
    await bus.subscribe('EVENTS', 'worker', (m) => {
      received.push(text(m.data));
      m.ack();
    });
    // Calls 10–29 fail: the first 5 of them after storing (the reply is lost), the rest before.
    let calls = 0;
    const flaky = {
      async publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
        const call = calls++;
        if (call >= 15 && call < 30) throw new EnablementError('PL-503', 'connection refused');
        const ack = await bus.publish(subject, data, options);
        if (call >= 10 && call < 15) throw new EnablementError('PL-503', 'timeout waiting for PubAck');
        return ack;
      },
    };
    const publisher = createBufferingPublisher({ bus: flaky, clock, random: () => 0.5, maxDelayMs: 1000 });
    const statuses: string[] = [];
    for (let i = 0; i < 60; i++) {
      const result = await publisher.publish('events.usage', bytes(String(i)), { msgId: `evt-${i}` });
      statuses.push(result.status);
      await clock.advanceAsync(20);
    }
    const closing = publisher.close();
    await clock.advanceAsync(60_000);
    await closing;
    for (let i = 0; i < 20; i++) await clock.advanceAsync(0);
    expect(statuses).toContain('buffered');
    expect(publisher.stats).toMatchObject({ buffered: 0, published: 60, rejected: 0 });
    expect(received).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
    expect((await bus.streamInfo('EVENTS')).state.messages).toBe(60);
  });
});
