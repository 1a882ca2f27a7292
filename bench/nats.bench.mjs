// NATS JetStream event bus (@creto/nats) against the in-process bus, in the same run: publish →
// deliver → ack round trips, bursts, and publishing alone. Skipped (no suites) when no NATS server
// answers at CRETO_NATS_URL (default nats://127.0.0.1:4222).

import { createConnection } from 'node:net';
import { createInProcessEventBus, systemClock } from '@creto/core';
import { createNatsEventBus } from '@creto/nats';

const URL_TEXT = process.env.CRETO_NATS_URL || 'nats://127.0.0.1:4222';
const PAYLOAD = new Uint8Array(256).map((_, i) => (i * 31) & 0xff);
const BURST = 100;
const RUN = globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 8);
// The bench holds a connection only while its cases run: after this long without a call it
// deletes its streams and closes, so the process can exit when the harness is done.
const IDLE_CLOSE_MS = 2000;

/** Whether something accepts TCP connections at the URL's host and port (no NATS handshake). */
function reachable(text) {
  const url = new URL(text);
  return new Promise((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 4222) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * A work-queue stream with one consumer whose handler acks at once and wakes whoever waits for
 * that many acks (as in bench/events.bench.mjs), plus a stream for publishing alone.
 */
async function pipelines(bus, tag, maxAckPending) {
  const name = `BENCH${tag}${RUN}`;
  await bus.addStream({ name, subjects: [`bench.${tag}.${RUN}.>`], retention: 'workqueue' });
  await bus.addStream({
    name: `${name}P`,
    subjects: [`benchp.${tag}.${RUN}.>`],
    discard: 'old',
    maxMessages: 10_000,
  });
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
    acked >= target ? Promise.resolve() : new Promise((resolve) => (waiting = { target, resolve }));
  return {
    streams: [name, `${name}P`],
    subject: `bench.${tag}.${RUN}.usage`,
    storeSubject: `benchp.${tag}.${RUN}.a`,
    ackedCount: () => acked,
    untilAcked,
  };
}

/** A bus set up on first use and torn down after {@link IDLE_CLOSE_MS} without use. */
function lazy(create) {
  let state;
  let timer;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const current = state;
      state = undefined;
      const { bus, p } = await current;
      for (const stream of p.streams) await bus.deleteStream(stream).catch(() => undefined);
      await bus.close();
    }, IDLE_CLOSE_MS);
    timer.unref?.();
  };
  return async () => {
    touch();
    state ??= create();
    return state;
  };
}

async function roundTrip({ bus, p }) {
  const target = p.ackedCount() + 1;
  await bus.publish(p.subject, PAYLOAD);
  await p.untilAcked(target);
}

async function burstOf({ bus, p }) {
  const target = p.ackedCount() + BURST;
  await Promise.all(Array.from({ length: BURST }, () => bus.publish(p.subject, PAYLOAD)));
  await p.untilAcked(target);
}

let suitesFound = [];
if (await reachable(URL_TEXT)) {
  const inProcess = lazy(async () => {
    const bus = createInProcessEventBus({ clock: systemClock });
    return { bus, p: await pipelines(bus, 'mem', 1000) };
  });
  const nats = lazy(async () => {
    const bus = await createNatsEventBus({ servers: URL_TEXT, storage: 'memory' });
    return { bus, p: await pipelines(bus, 'nats', 1000) };
  });
  const natsFile = lazy(async () => {
    const bus = await createNatsEventBus({ servers: URL_TEXT, storage: 'file' });
    return { bus, p: await pipelines(bus, 'natsf', 1000) };
  });
  let msgSeq = 0;
  suitesFound = [
    {
      id: 'nats',
      title: 'NATS JetStream event bus vs in-process bus',
      description: `
\`createNatsEventBus\` (@creto/nats) on the \`nats-server\` at \`CRETO_NATS_URL\` (loopback in the
reference run), compared in the same run with \`createInProcessEventBus\`; 256-byte payloads.
*Round trip*: one \`publish\` (JetStream PubAck awaited), the delivery to a subscribed durable pull
consumer, the handler's ack, awaited before the next: per-message latency. *Burst*: ${BURST}
publishes in flight at once, then wait until all are acked; divide by ${BURST} for the per-message
cost under load. *Publish only*: stored into a stream with no consumer (discard old at 10 000),
with a \`msgId\` (the JetStream duplicate window). NATS rows use memory storage, except the \`file\`
variant (JetStream's default, what survives a restart). The in-process bus is the baseline: the
ratio is the price of a real broker (network round trips, persistence).`,
      baseline: 'in-process',
      cases: [
        {
          name: 'round trip: publish → deliver → ack',
          variant: 'in-process',
          fn: async () => roundTrip(await inProcess()),
        },
        {
          name: 'round trip: publish → deliver → ack',
          variant: 'nats (memory)',
          fn: async () => roundTrip(await nats()),
        },
        {
          name: 'round trip: publish → deliver → ack',
          variant: 'nats (file)',
          fn: async () => roundTrip(await natsFile()),
        },
        {
          name: `burst of ${BURST}: publish all, then ack all`,
          variant: 'in-process',
          fn: async () => burstOf(await inProcess()),
        },
        {
          name: `burst of ${BURST}: publish all, then ack all`,
          variant: 'nats (memory)',
          fn: async () => burstOf(await nats()),
        },
        {
          name: `burst of ${BURST}: publish all, then ack all`,
          variant: 'nats (file)',
          fn: async () => burstOf(await natsFile()),
        },
        {
          name: 'publish only, with msgId',
          variant: 'in-process',
          fn: async () => {
            const { bus, p } = await inProcess();
            return bus.publish(p.storeSubject, PAYLOAD, { msgId: `m-${++msgSeq}` });
          },
        },
        {
          name: 'publish only, with msgId',
          variant: 'nats (memory)',
          fn: async () => {
            const { bus, p } = await nats();
            return bus.publish(p.storeSubject, PAYLOAD, { msgId: `m-${++msgSeq}` });
          },
        },
      ],
    },
  ];
} else {
  console.warn(`nats bench skipped: no NATS server at ${URL_TEXT} (set CRETO_NATS_URL)`);
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = suitesFound;
