// In-process event bus: publish → deliver → ack throughput, per-message latency, and the cost of
// publishing alone (with and without a msgId) and through the buffering publisher.

import { createBufferingPublisher, createInProcessEventBus, systemClock } from '@creto/core';

const PAYLOAD = new Uint8Array(256).map((_, i) => (i * 31) & 0xff);
const BURST = 1000;

/**
 * A work-queue stream (acked messages leave it, so it never fills) with one consumer whose
 * handler acks at once and wakes whoever waits for that sequence.
 */
async function pipeline(name, maxAckPending) {
  const bus = createInProcessEventBus({ clock: systemClock });
  await bus.addStream({ name, subjects: [`${name}.>`], retention: 'workqueue' });
  await bus.addConsumer(name, { name: 'worker', maxAckPending });
  let acked = 0;
  let waiting;
  await bus.subscribe(name, 'worker', (m) => {
    m.ack();
    acked += 1;
    if (waiting !== undefined && acked >= waiting.target) {
      const { resolve } = waiting;
      waiting = undefined;
      resolve();
    }
  });
  const untilAcked = (target) =>
    acked >= target
      ? Promise.resolve()
      : new Promise((resolve) => {
          waiting = { target, resolve };
        });
  return { bus, subject: `${name}.usage`, ackedCount: () => acked, untilAcked };
}

const single = await pipeline('ONE', 1000);
const burst = await pipeline('BURST', 1000);
const ordered = await pipeline('ORDERED', 1);

// Publishing alone: discard old keeps the stream at its bound instead of filling up.
const store = createInProcessEventBus({ clock: systemClock });
await store.addStream({ name: 'STORE', subjects: ['store.>'], discard: 'old', maxMessages: 10_000 });
let msgSeq = 0;

const publisher = createBufferingPublisher({ bus: single.bus, clock: systemClock });

/** One message through publish, delivery and ack; resolves when the handler has acked it. */
async function roundTrip(p) {
  const target = p.ackedCount() + 1;
  p.bus.publishSync(p.subject, PAYLOAD);
  await p.untilAcked(target);
}

/** `BURST` messages published back to back, then awaited until all are acked. */
async function burstOf(p) {
  const target = p.ackedCount() + BURST;
  for (let i = 0; i < BURST; i++) p.bus.publishSync(p.subject, PAYLOAD);
  await p.untilAcked(target);
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'events',
    title: 'In-process event bus: throughput',
    description: `
\`createInProcessEventBus\` on the system clock, 256-byte payloads. A *round trip* is one
\`publishSync\`, the asynchronous delivery to a subscribed durable consumer (explicit ack, 30 s ack
wait armed on the scheduler and cancelled by the ack) and the ack, awaited before the next one: its
time is the per-message latency including one promise and microtask hop. A *burst* publishes
${BURST} messages back to back, then waits until all are acked; divide its time by ${BURST} for the
per-message cost under load (deliveries are made in batches of 256 per event-loop turn). With
\`maxAckPending: 1\` each message is acked before the next is delivered (strict ordering).
"publishSync only" stores into a stream with no consumer (discard old at 10 000 messages);
"with msgId" adds the duplicate-window lookup and insert. The buffering publisher row is a round
trip through \`createBufferingPublisher\` while the bus is up (its pass-through overhead).`,
    cases: [
      { name: 'round trip: publish → deliver → ack', fn: () => roundTrip(single) },
      { name: `burst of ${BURST}: publish all, then deliver and ack all`, fn: () => burstOf(burst) },
      { name: `burst of ${BURST}, maxAckPending 1 (strict order)`, fn: () => burstOf(ordered) },
      { name: 'publishSync only (no consumer)', fn: () => store.publishSync('store.a', PAYLOAD) },
      {
        name: 'publishSync only, with msgId (dedup window)',
        fn: () => {
          msgSeq += 1;
          return store.publishSync('store.a', PAYLOAD, { msgId: `m-${msgSeq}` });
        },
      },
      {
        name: 'round trip via the buffering publisher',
        fn: async () => {
          const target = single.ackedCount() + 1;
          await publisher.publish(single.subject, PAYLOAD);
          await single.untilAcked(target);
        },
      },
    ],
  },
  {
    id: 'events-latency',
    title: 'In-process event bus: per-message latency',
    description: `
The round trip of the throughput section measured one message per sample (no batching), so the
median and p99 are those of single messages, not of batch averages: time from \`publishSync\` to
the moment the awaiting caller sees the handler's ack. The \`hrtime\` read (~100 ns) is included.`,
    options: { targetSampleNs: 1, minSamples: 1000, maxSamples: 20_000, maxTimeMs: 1000 },
    cases: [
      { name: 'round trip, one message per sample', fn: () => roundTrip(single) },
      { name: 'round trip, maxAckPending 1', fn: () => roundTrip(ordered) },
    ],
  },
];
