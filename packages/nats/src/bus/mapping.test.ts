import type { ResolvedConsumerConfig, ResolvedStreamConfig } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import type { ConsumerConfig as JsConsumerConfig, StreamConfig as JsStreamConfig } from '@nats-io/jetstream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fitDuplicateWindow,
  fromJetStreamConsumer,
  fromJetStreamConsumerInfo,
  fromJetStreamStream,
  rfc3339ToNanos,
  sameConsumerConfig,
  sameStreamConfig,
  toJetStreamConsumer,
  toJetStreamStream,
} from './mapping.js';

const stream: ResolvedStreamConfig = Object.freeze({
  name: 'METERING',
  subjects: Object.freeze(['metering.events.>', 'metering.audit']),
  retention: 'workqueue',
  discard: 'new',
  maxMessages: 1000,
  maxBytes: 1_048_576,
  maxAgeMs: 86_400_000,
  maxMessageSize: 65_536,
  duplicateWindowMs: 120_000,
});

const consumer: ResolvedConsumerConfig = Object.freeze({
  name: 'ingest',
  filterSubject: 'metering.events.runtime',
  deliverPolicy: 'all',
  ackPolicy: 'explicit',
  ackWaitMs: 10_000,
  maxDeliver: 3,
  maxAckPending: 100,
});

/** What the server echoes back: the sent configuration plus its own defaults. */
const served = (sent: Partial<JsStreamConfig>): JsStreamConfig =>
  ({ max_consumers: -1, sealed: false, allow_direct: false, ...sent }) as JsStreamConfig;

describe('stream mapping', () => {
  it('maps every port setting to its JetStream field (durations in ns)', () => {
    expect(toJetStreamStream(stream, { storage: 'file', replicas: 3 })).toEqual({
      name: 'METERING',
      subjects: ['metering.events.>', 'metering.audit'],
      retention: 'workqueue',
      discard: 'new',
      max_msgs: 1000,
      max_bytes: 1_048_576,
      max_age: 86_400_000_000_000,
      max_msg_size: 65_536,
      duplicate_window: 120_000_000_000,
      storage: 'file',
      num_replicas: 3,
    });
  });

  it('round-trips a port configuration through JetStream', () => {
    expect(
      fromJetStreamStream(served(toJetStreamStream(stream, { storage: 'memory', replicas: 1 }))),
    ).toEqual(stream);
  });

  it('reads JetStream-only settings as the nearest port words', () => {
    const config = fromJetStreamStream(
      served({
        name: 'X',
        subjects: ['x.>'],
        retention: 'interest',
        discard: 'old',
        max_msgs: -1,
        max_bytes: -1,
        max_msg_size: -1,
      }),
    );
    expect(config).toMatchObject({ retention: 'limits', discard: 'old', maxAgeMs: 0, duplicateWindowMs: 0 });
    expect(config.maxMessages).toBe(Number.POSITIVE_INFINITY);
    expect(config.maxMessageSize).toBe(Number.POSITIVE_INFINITY);
  });

  it('compares configurations in JetStream terms: subjects as a set, deployment settings ignored', () => {
    const wanted = toJetStreamStream(stream, { storage: 'file', replicas: 1 });
    const actual = served({
      ...wanted,
      subjects: ['metering.audit', 'metering.events.>'],
      storage: 'memory',
      num_replicas: 3,
    });
    expect(sameStreamConfig(wanted, actual)).toBe(true);
    for (const change of [
      { subjects: ['metering.events.>'] },
      { retention: 'limits' as const },
      { discard: 'old' as const },
      { max_msgs: 1001 },
      { max_bytes: 1 },
      { max_age: 0 },
      { max_msg_size: 1 },
      { duplicate_window: 60_000_000_000 },
    ]) {
      expect(sameStreamConfig(wanted, served({ ...wanted, ...change }))).toBe(false);
    }
  });

  it('shortens a defaulted duplicate window to maxAgeMs, refuses a chosen one, and JetStream minimums', () => {
    const aged = { ...stream, maxAgeMs: 500 };
    expect(fitDuplicateWindow(aged, false).duplicateWindowMs).toBe(500);
    expectEnablementError(() => fitDuplicateWindow(aged, true), 'PL-400', 'duplicateWindowMs');
    expectEnablementError(
      () => fitDuplicateWindow({ ...stream, duplicateWindowMs: 99 }, true),
      'PL-400',
      '100 ms',
    );
    expectEnablementError(() => fitDuplicateWindow({ ...stream, duplicateWindowMs: 0 }, true), 'PL-400');
    expectEnablementError(() => fitDuplicateWindow({ ...stream, maxAgeMs: 50 }, false), 'PL-400', 'maxAgeMs');
    expect(fitDuplicateWindow(stream, true)).toBe(stream);
  });
});

describe('consumer mapping', () => {
  const servedConsumer = (sent: Partial<JsConsumerConfig>): JsConsumerConfig =>
    ({
      replay_policy: 'instant',
      max_waiting: 512,
      num_replicas: 0,
      name: sent.durable_name,
      ...sent,
    }) as JsConsumerConfig;

  it('maps to a durable pull consumer with explicit acks', () => {
    expect(toJetStreamConsumer(consumer)).toEqual({
      durable_name: 'ingest',
      filter_subject: 'metering.events.runtime',
      deliver_policy: 'all',
      ack_policy: 'explicit',
      ack_wait: 10_000_000_000,
      max_deliver: 3,
      max_ack_pending: 100,
      replay_policy: 'instant',
    });
    // `>` (every subject) is JetStream's "no filter".
    expect(toJetStreamConsumer({ ...consumer, filterSubject: '>' })).not.toHaveProperty('filter_subject');
  });

  it('round-trips, with no filter read as `>` and unlimited deliveries as -1', () => {
    expect(fromJetStreamConsumer(servedConsumer(toJetStreamConsumer(consumer)))).toEqual(consumer);
    const unlimited = { ...consumer, filterSubject: '>', maxDeliver: -1 };
    expect(
      fromJetStreamConsumer(servedConsumer({ ...toJetStreamConsumer(unlimited), filter_subject: '' })),
    ).toEqual(unlimited);
  });

  it('treats a changed setting or a push consumer as a different configuration', () => {
    const wanted = toJetStreamConsumer(consumer);
    expect(sameConsumerConfig(wanted, servedConsumer(wanted))).toBe(true);
    for (const change of [
      { filter_subject: 'metering.>' },
      { deliver_policy: 'new' as const },
      { ack_wait: 20_000_000_000 },
      { max_deliver: -1 },
      { max_ack_pending: 1 },
      { deliver_subject: '_INBOX.push' },
    ]) {
      expect(sameConsumerConfig(wanted, servedConsumer({ ...wanted, ...change }))).toBe(false);
    }
  });

  it('reports progress with the local counters JetStream does not keep', () => {
    const info = fromJetStreamConsumerInfo(
      {
        stream_name: 'S',
        name: 'ingest',
        created: '2026-01-01T00:00:00Z',
        config: servedConsumer(toJetStreamConsumer(consumer)),
        delivered: { consumer_seq: 0, stream_seq: 41, last_active: 0 },
        ack_floor: { consumer_seq: 0, stream_seq: 0, last_active: 0 },
        num_ack_pending: 2,
        num_redelivered: 1,
        num_waiting: 0,
        num_pending: 7,
        push_bound: false,
        pause_remaining: 0,
      },
      { redelivered: 5, deadLettered: 2, bound: false },
    );
    // Before any delivery JetStream reports its start position; the port says 0.
    expect(info.state).toEqual({
      deliveredSeq: 0,
      ackPending: 2,
      numPending: 7,
      redelivered: 5,
      deadLettered: 2,
      bound: false,
    });
  });
});

describe('rfc3339ToNanos', () => {
  it('keeps nanoseconds that Date drops', () => {
    expect(rfc3339ToNanos('2026-11-26T01:11:32.241680811Z')).toBe(1_795_655_492_241_680_811n);
    expect(rfc3339ToNanos('1970-01-01T00:00:01Z')).toBe(1_000_000_000n);
    expect(rfc3339ToNanos('1970-01-01T01:00:00.5+01:00')).toBe(500_000_000n);
  });

  it('refuses what is not an RFC 3339 timestamp', () => {
    for (const bad of [
      '',
      'yesterday',
      '2026-11-26T01:11:32',
      '2026-11-26T01:11:32.1234567891Z',
      '2026-13-45T99:99:99Z',
    ]) {
      expect(rfc3339ToNanos(bad)).toBeUndefined();
    }
  });

  it('agrees with Date to the millisecond for any instant', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.integer({ min: 0, max: 999_999 }),
        (ms, sub) => {
          const iso = new Date(ms).toISOString().replace('Z', `${String(sub).padStart(6, '0')}Z`);
          expect(rfc3339ToNanos(iso)).toBe(BigInt(ms) * 1_000_000n + BigInt(sub));
        },
      ),
      { numRuns: 200 },
    );
  });
});
