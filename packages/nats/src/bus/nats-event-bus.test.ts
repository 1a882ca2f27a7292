import {
  DEAD_LETTER_STREAM,
  deadLetterSubject,
  EnablementError,
  type EventMessage,
  type Logger,
  noopLogger,
  parseDeadLetter,
  sleep,
  systemClock,
} from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { natsUrl, portOpen, runId, SKIP_NATS, trackingBus } from '../../test/nats-server.js';
import { createNatsEventBus, type NatsEventBus } from './nats-event-bus.js';

const url = natsUrl();
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

async function eventually(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
): Promise<void> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (await predicate()) return;
    await sleep(systemClock, 20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('createNatsEventBus options', () => {
  it('needs exactly one of servers and connection (PL-400 naming the option)', async () => {
    await expectEnablementRejection(createNatsEventBus({}), 'PL-400', 'servers');
    await expectEnablementRejection(
      createNatsEventBus({ servers: 'nats://127.0.0.1:1', connection: {} as never }),
      'PL-400',
    );
    await expectEnablementRejection(createNatsEventBus({ servers: [] }), 'PL-400', 'servers');
    await expectEnablementRejection(
      createNatsEventBus({ servers: 'nats://127.0.0.1:1', requestTimeoutMs: 0 }),
      'PL-400',
      'requestTimeoutMs',
    );
    await expectEnablementRejection(
      createNatsEventBus({ servers: 'nats://127.0.0.1:1', connectionOptions: { servers: 'x' } as never }),
      'PL-400',
      'connectionOptions',
    );
  });

  it('reports an unreachable server as retryable PL-503', async () => {
    let port = 1;
    while (await portOpen(port)) port++;
    const error = await expectEnablementRejection(
      createNatsEventBus({ servers: `nats://127.0.0.1:${port}`, connectionOptions: { timeout: 500 } }),
      'PL-503',
    );
    expect(error.retryable).toBe(true);
  });
});

if (url === undefined) {
  describe.skip('NATS event bus on a server', () => {
    it(SKIP_NATS, () => {});
  });
} else {
  describe('NATS event bus on a server', () => {
    let raw: NatsEventBus;
    let tracked: ReturnType<typeof trackingBus>;
    let id: string;
    let stream: string;
    const subject = (...rest: string[]) => [`n${id}`, ...rest].join('.');
    const warnings: string[] = [];
    const logger: Logger = {
      ...noopLogger,
      warn: (m) => void warnings.push(m),
      error: (m) => void warnings.push(m),
    };

    beforeEach(async () => {
      id = runId();
      stream = `N${id}`;
      warnings.length = 0;
      raw = await createNatsEventBus({ servers: url, storage: 'memory', logger });
      tracked = trackingBus(raw);
    });
    afterEach(async () => {
      await tracked.cleanup();
    });

    async function deadLetters(consumer: string): Promise<EventMessage[]> {
      const got: EventMessage[] = [];
      await tracked.bus.addConsumer(DEAD_LETTER_STREAM, {
        name: `dlq${stream}`,
        filterSubject: deadLetterSubject(stream, consumer),
      });
      await raw.subscribe(DEAD_LETTER_STREAM, `dlq${stream}`, (m) => {
        got.push(m);
        m.ack();
      });
      return got;
    }

    it('provides the dead-letter stream and keeps it', async () => {
      const info = await raw.streamInfo(DEAD_LETTER_STREAM);
      expect(info.config.subjects).toEqual(['$DLQ.>']);
      await expectEnablementRejection(raw.addStream({ name: DEAD_LETTER_STREAM, subjects: ['x'] }), 'PL-409');
      await expectEnablementRejection(raw.deleteStream(DEAD_LETTER_STREAM), 'PL-409');
    });

    it('maps stream and consumer settings onto JetStream fields', async () => {
      await tracked.bus.addStream({
        name: stream,
        subjects: [subject('>')],
        retention: 'workqueue',
        discard: 'new',
        maxMessages: 500,
        maxBytes: 100_000,
        maxAgeMs: 60_000,
        maxMessageSize: 2000,
        duplicateWindowMs: 30_000,
      });
      await raw.addConsumer(stream, {
        name: 'c1',
        filterSubject: subject('a'),
        ackWaitMs: 1500,
        maxDeliver: 4,
        maxAckPending: 7,
      });
      const jsm = await jetstreamManager(raw.connection);
      const s = await jsm.streams.info(stream);
      expect(s.config).toMatchObject({
        retention: 'workqueue',
        discard: 'new',
        max_msgs: 500,
        max_bytes: 100_000,
        max_age: 60_000_000_000,
        max_msg_size: 2000,
        duplicate_window: 30_000_000_000,
        storage: 'memory',
      });
      const c = await jsm.consumers.info(stream, 'c1');
      expect(c.config).toMatchObject({
        durable_name: 'c1',
        filter_subject: subject('a'),
        deliver_policy: 'all',
        ack_policy: 'explicit',
        ack_wait: 1_500_000_000,
        max_deliver: 4,
        max_ack_pending: 7,
      });
      expect(c.config.deliver_subject).toBeUndefined();
      const info = await raw.consumerInfo(stream, 'c1');
      expect(info.config).toEqual({
        name: 'c1',
        filterSubject: subject('a'),
        deliverPolicy: 'all',
        ackPolicy: 'explicit',
        ackWaitMs: 1500,
        maxDeliver: 4,
        maxAckPending: 7,
      });
    });

    it('fits the duplicate window to JetStream: shortened when defaulted, refused when chosen', async () => {
      const info = await tracked.bus.addStream({ name: stream, subjects: [subject('>')], maxAgeMs: 5000 });
      expect(info.config.duplicateWindowMs).toBe(5000);
      // Adding it again with the same settings finds the same stream.
      expect(
        (await tracked.bus.addStream({ name: stream, subjects: [subject('>')], maxAgeMs: 5000 })).config,
      ).toEqual(info.config);
      await expectEnablementRejection(
        tracked.bus.addStream({
          name: `${stream}b`,
          subjects: [subject('b')],
          maxAgeMs: 5000,
          duplicateWindowMs: 6000,
        }),
        'PL-400',
        'duplicateWindowMs',
      );
      await expectEnablementRejection(
        tracked.bus.addStream({ name: `${stream}c`, subjects: [subject('c')], duplicateWindowMs: 50 }),
        'PL-400',
        '100 ms',
      );
    });

    it('refuses a consumer whose configuration was changed on the server', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      await raw.addConsumer(stream, { name: 'c1', ackWaitMs: 1000 });
      const jsm = await jetstreamManager(raw.connection);
      await jsm.consumers.update(stream, 'c1', { ack_wait: 2_000_000_000 });
      await expectEnablementRejection(
        raw.addConsumer(stream, { name: 'c1', ackWaitMs: 1000 }),
        'PL-409',
        'different',
      );
    });

    it('refuses to bind a push consumer', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      const jsm = await jetstreamManager(raw.connection);
      await jsm.consumers.add(stream, {
        durable_name: 'push',
        deliver_subject: `_INBOX.${id}`,
        ack_policy: 'explicit',
      });
      await expectEnablementRejection(
        raw.subscribe(stream, 'push', () => {}),
        'PL-409',
        'push',
      );
      // The failed bind left nothing behind: another try fails the same way, not as "already bound".
      await expectEnablementRejection(
        raw.subscribe(stream, 'push', () => {}),
        'PL-409',
        'push',
      );
    });

    it('dead-letters an expired last delivery from a work-queue stream and removes it there', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')], retention: 'workqueue' });
      await raw.addConsumer(stream, { name: 'c1', ackWaitMs: 200, maxDeliver: 2 });
      const letters = await deadLetters('c1');
      const seen: number[] = [];
      await raw.subscribe(stream, 'c1', (m) => void seen.push(m.deliveryCount));
      const ack = await raw.publish(subject('a'), bytes('lost'), {
        msgId: 'w-1',
        headers: { 'X-Tenant': 't9' },
      });
      await eventually(() => letters.length === 1, 'the dead letter');
      expect(seen).toEqual([1, 2]);
      const letter = letters[0] as EventMessage;
      expect(text(letter.data)).toBe('lost');
      expect(letter.headers['X-Tenant']).toBe('t9');
      expect(parseDeadLetter(letter.headers)).toMatchObject({
        stream,
        consumer: 'c1',
        seq: ack.seq,
        msgId: 'w-1',
        deliveries: 2,
        reasons: [
          { delivery: 1, reason: 'ack wait expired' },
          { delivery: 2, reason: 'ack wait expired' },
        ],
      });
      await eventually(
        async () => (await raw.streamInfo(stream)).state.messages === 0,
        'removal from the work queue',
      );
      expect((await raw.consumerInfo(stream, 'c1')).state.deadLettered).toBe(1);
    });

    it('keeps only the name of a foreign error in the dead-letter history', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      await raw.addConsumer(stream, { name: 'c1', maxDeliver: 1 });
      const letters = await deadLetters('c1');
      await raw.subscribe(stream, 'c1', () => {
        throw new TypeError('password=hunter2');
      });
      await raw.publish(subject('a'), bytes('x'));
      await eventually(() => letters.length === 1, 'the dead letter');
      const { reasons } = parseDeadLetter((letters[0] as EventMessage).headers);
      expect(reasons).toEqual([{ delivery: 1, reason: 'handler threw TypeError' }]);
      expect(JSON.stringify((letters[0] as EventMessage).headers)).not.toContain('hunter2');
    });

    it('ignores malformed MAX_DELIVERIES advisories and keeps delivering', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      await raw.addConsumer(stream, { name: 'c1', maxDeliver: 3 });
      const letters = await deadLetters('c1');
      const got: string[] = [];
      await raw.subscribe(stream, 'c1', (m) => {
        got.push(text(m.data));
        m.ack();
      });
      const advisory = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.c1`;
      for (const payload of [
        'not json',
        '{"stream":"other","consumer":"c1","stream_seq":1,"deliveries":3}',
        `{"stream":"${stream}","consumer":"c1","stream_seq":-1,"deliveries":3}`,
        `{"stream":"${stream}","consumer":"c1","stream_seq":1,"deliveries":1}`,
      ]) {
        raw.connection.publish(advisory, bytes(payload));
      }
      // A well-formed one for a message that does not exist: nothing to dead-letter.
      raw.connection.publish(
        advisory,
        bytes(`{"stream":"${stream}","consumer":"c1","stream_seq":999,"deliveries":3}`),
      );
      await raw.publish(subject('a'), bytes('fine'));
      await eventually(() => got.length === 1 && warnings.length >= 4, 'the delivery and the warnings');
      await sleep(systemClock, 100);
      expect(letters).toHaveLength(0);
      expect(warnings.every((w) => w.includes('malformed'))).toBe(true);
    });

    it('stops a subscription whose consumer is deleted, and frees its name', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      await raw.addConsumer(stream, { name: 'c1' });
      const sub = await raw.subscribe(stream, 'c1', (m) => m.ack());
      expect((await raw.consumerInfo(stream, 'c1')).state.bound).toBe(true);
      await raw.deleteConsumer(stream, 'c1');
      expect(sub.active).toBe(false);
      await expectEnablementRejection(raw.consumerInfo(stream, 'c1'), 'PL-404');
      await raw.addConsumer(stream, { name: 'c1' });
      const again = await raw.subscribe(stream, 'c1', (m) => m.ack());
      expect(again.active).toBe(true);
    });

    it('stops a subscription whose consumer another client deletes', async () => {
      await tracked.bus.addStream({ name: stream, subjects: [subject('>')] });
      await raw.addConsumer(stream, { name: 'c1' });
      const sub = await raw.subscribe(stream, 'c1', (m) => m.ack());
      const jsm = await jetstreamManager(raw.connection);
      await jsm.consumers.delete(stream, 'c1');
      await eventually(() => !sub.active, 'the subscription to stop');
      await raw.addConsumer(stream, { name: 'c1' });
      expect((await raw.subscribe(stream, 'c1', (m) => m.ack())).active).toBe(true);
    });

    it('closes: later calls reject with PL-503, close is idempotent, a borrowed connection stays open', async () => {
      const nc = await connect({ servers: url });
      try {
        const bus = await createNatsEventBus({ connection: nc });
        await bus.close();
        await bus.close();
        expect(bus.closed).toBe(true);
        const error = await expectEnablementRejection(
          bus.publish(subject('a'), bytes('x')),
          'PL-503',
          'closed',
        );
        expect(error.retryable).toBe(false);
        await expectEnablementRejection(bus.streamInfo(DEAD_LETTER_STREAM), 'PL-503');
        expect(nc.isClosed()).toBe(false);
        await nc.flush();
      } finally {
        await nc.close();
      }
      const owned = await createNatsEventBus({ servers: url });
      await owned.close();
      expect(owned.connection.isClosed()).toBe(true);
      expect(owned.connected).toBe(false);
      const refused = await owned.subscribe(stream, 'c1', () => {}).catch((e: unknown) => e);
      expect(EnablementError.is(refused) && refused.code).toBe('PL-503');
    });
  });
}
