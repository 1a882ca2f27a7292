import {
  createBufferingPublisher,
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  EnablementError,
  type EventMessage,
  parseDeadLetter,
  sleep,
  systemClock,
} from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateNatsServer, startPrivateNatsServer } from '../../test/nats-server.js';
import { createNatsEventBus, type NatsEventBus } from './nats-event-bus.js';

// Fault tests: each starts its own nats-server (CRETO_NATS_SERVER_BIN or `nats-server` on PATH)
// on a private port and store directory, so that killing it disturbs no other test.

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (await predicate()) return;
    await sleep(systemClock, 20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let server: PrivateNatsServer | undefined;

beforeAll(async () => {
  server = await startPrivateNatsServer();
  if (server === undefined && process.env.CI) {
    throw new Error(
      'nats-server is not installed; CI must run the NATS restart tests (CRETO_NATS_SERVER_BIN)',
    );
  }
});

afterAll(async () => {
  await server?.dispose();
});

/** A bus on the private server that notices an outage and a recovery quickly. */
const busOn = (s: PrivateNatsServer, extra: Partial<Parameters<typeof createNatsEventBus>[0]> = {}) =>
  createNatsEventBus({
    servers: s.url,
    requestTimeoutMs: 500,
    connectionOptions: { reconnectTimeWait: 50, reconnectJitter: 0 },
    ...extra,
  });

describe('NATS event bus across a server restart', () => {
  it('rejects with retryable PL-503 while NATS is down; the buffering publisher flushes in order after the restart, losing and doubling nothing', async (ctx) => {
    if (server === undefined) return ctx.skip();
    const s = server;
    const bus: NatsEventBus = await busOn(s);
    try {
      await bus.addStream({ name: 'EVENTS', subjects: ['events.>'] }); // file storage: survives the restart
      await bus.addConsumer('EVENTS', { name: 'reader', ackWaitMs: 2000, maxAckPending: 1000 });
      const delivered: string[] = [];
      await bus.subscribe('EVENTS', 'reader', (m) => {
        if (m.msgId !== undefined) delivered.push(m.msgId);
        m.ack();
      });

      const publisher = createBufferingPublisher({ bus, initialDelayMs: 20, maxDelayMs: 200 });
      const acknowledged = new Set<number>();
      const stored: Promise<unknown>[] = [];
      const total = 300;
      for (let i = 0; i < total; i++) {
        if (i === 100) {
          await s.kill('SIGKILL');
          await eventually(() => !bus.connected, 'the client to notice the outage');
          const down = await expectEnablementRejection(
            bus.publish('events.e', bytes('direct')),
            'PL-503',
            'down',
          );
          expect(down.retryable).toBe(true);
        }
        if (i === 200) await s.restart();
        const result = await publisher.publish('events.e', bytes(String(i)), { msgId: `e-${i}` });
        if (result.status === 'published') acknowledged.add(i);
        else stored.push(result.stored.then(() => acknowledged.add(i)));
        // Spread the outage's publishes over some real time, as a live producer would.
        if (i >= 100 && i < 200 && i % 10 === 0) await sleep(systemClock, 10);
      }
      expect(publisher.buffered).toBeGreaterThan(0);
      for (let attempt = 0; publisher.buffered > 0; attempt++) {
        if (attempt > 200) throw new Error('the buffer did not drain');
        await publisher.flush().catch((error: unknown) => {
          if (!EnablementError.is(error) || error.code !== 'PL-503') throw error;
        });
        if (publisher.buffered > 0) await sleep(systemClock, 50);
      }
      await Promise.all(stored);
      await publisher.close();
      expect(acknowledged.size).toBe(total);
      expect(publisher.stats.rejected).toBe(0);

      // Every event once, in publish order: the stream holds exactly e-0 … e-299.
      const jsm = await jetstreamManager(bus.connection);
      const info = await jsm.streams.info('EVENTS');
      expect(info.state.messages).toBe(total);
      const order: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage('EVENTS', { seq });
        order.push(`${m?.header.get('Nats-Msg-Id')}=${m === null ? '' : text(m.data)}`);
      }
      expect(order).toEqual(Array.from({ length: total }, (_, i) => `e-${i}=${i}`));

      // The subscription survived the restart too (at least once: every id delivered).
      await eventually(() => new Set(delivered).size === total, 'every event delivered to the subscriber');
    } finally {
      await bus.close();
    }
  });

  it('keeps a message pending while the dead-letter stream is full and dead-letters it once there is room', async (ctx) => {
    if (server === undefined) return ctx.skip();
    // A dead-letter stream with room for one (this server is private to the file): remove the
    // default one, and let the next bus create its own.
    const first = await busOn(server);
    await (await jetstreamManager(first.connection)).streams.delete(DEAD_LETTER_STREAM);
    await first.close();
    const bus = await busOn(server, { deadLetter: { maxMessages: 1 } });
    try {
      const jsm = await jetstreamManager(bus.connection);
      await bus.addStream({ name: 'JOBS', subjects: ['jobs.>'], retention: 'workqueue' });
      await bus.addConsumer('JOBS', { name: 'worker', ackWaitMs: 300, maxDeliver: 1 });
      await bus.subscribe('JOBS', 'worker', (m) => m.nak(0, `refused ${text(m.data)}`));
      await bus.publish('jobs.a', bytes('first'));
      await eventually(
        async () => (await bus.streamInfo(DEAD_LETTER_STREAM)).state.messages === 1,
        'the first dead letter',
      );
      await bus.publish('jobs.a', bytes('second'));
      // The second cannot be dead-lettered: it stays in its stream, not dropped.
      await sleep(systemClock, 800);
      expect((await bus.streamInfo('JOBS')).state.messages).toBe(1);
      expect((await bus.streamInfo(DEAD_LETTER_STREAM)).state.messages).toBe(1);
      // Make room: the retry (after the ack wait) dead-letters it and clears the work queue.
      await jsm.streams.purge(DEAD_LETTER_STREAM);
      await eventually(
        async () => (await bus.streamInfo('JOBS')).state.messages === 0,
        'the retried dead letter',
      );
      await bus.addConsumer(DEAD_LETTER_STREAM, {
        name: 'ops',
        filterSubject: deadLetterSubject('JOBS', 'worker'),
      });
      const letters: EventMessage[] = [];
      await bus.subscribe(DEAD_LETTER_STREAM, 'ops', (m) => {
        letters.push(m);
        m.ack();
      });
      await eventually(() => letters.length === 1, 'the dead letter');
      const letter = letters[0] as EventMessage;
      expect(text(letter.data)).toBe('second');
      expect(parseDeadLetter(letter.headers).reasons[0]).toEqual({ delivery: 1, reason: 'refused second' });
    } finally {
      await bus.close();
    }
  });
});
