import { EnablementError, MAX_DEAD_LETTER_REASONS, MAX_NAK_REASON_LENGTH } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import type { JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  cutReason,
  type DeliveryAnswers,
  type DeliveryHistory,
  handlerFailure,
  NatsDelivery,
  portHeaders,
  recordFailure,
  toNatsHeaders,
} from './delivery.js';

/** A JetStream message that records the answers sent for it. */
function fakeMessage(seq: number, deliveryCount: number) {
  const sent: string[] = [];
  const h = natsHeaders();
  h.set('X-Tenant', 't1');
  h.set('Nats-Msg-Id', 'm-1');
  const message = {
    subject: 'a.b',
    data: new Uint8Array([1, 2, 3]),
    headers: h,
    seq,
    info: { deliveryCount },
    timestampNanos: 123n,
    ack: () => sent.push('ack'),
    nak: (ms?: number) => sent.push(ms === undefined ? 'nak' : `nak ${ms}`),
    term: () => sent.push('term'),
    working: () => sent.push('working'),
  } as unknown as JsMsg;
  return { message, sent };
}

function answers(maxDeliver: number) {
  const log = { settled: [] as number[], exhausted: 0 };
  const a: DeliveryAnswers = {
    maxDeliver,
    settled: (seq) => log.settled.push(seq),
    exhausted: () => {
      log.exhausted++;
    },
  };
  return { a, log };
}

const history = (latest: number): DeliveryHistory => ({
  latest,
  firstDeliveredAt: 1n,
  lastDeliveredAt: 1n,
  failures: [],
});

describe('NatsDelivery', () => {
  it('shows the port view: a copy of the payload, headers without Nats-*, msgId, metadata', () => {
    const { message } = fakeMessage(7, 2);
    const d = new NatsDelivery('S', 'c', message, history(2), answers(5).a);
    expect(d).toMatchObject({
      stream: 'S',
      consumer: 'c',
      subject: 'a.b',
      seq: 7,
      deliveryCount: 2,
      msgId: 'm-1',
    });
    expect(d.headers).toEqual({ 'X-Tenant': 't1' });
    expect(d.timestamp).toBe(123n);
    d.data[0] = 9;
    expect(message.data[0]).toBe(1);
  });

  it('sends only the first answer', () => {
    const { message, sent } = fakeMessage(1, 1);
    const { a, log } = answers(5);
    const d = new NatsDelivery('S', 'c', message, history(1), a);
    d.ack();
    d.nak();
    d.term();
    d.inProgress();
    expect(sent).toEqual(['ack']);
    expect(log.settled).toEqual([1]);
  });

  it('nak records the reason and redelivers, with a delay in whole milliseconds', () => {
    const h = history(1);
    const { message, sent } = fakeMessage(1, 1);
    new NatsDelivery('S', 'c', message, h, answers(5).a).nak(0.2, 'downstream busy');
    expect(sent).toEqual(['nak 1']);
    expect(h.failures).toEqual([{ delivery: 1, reason: 'downstream busy' }]);
    const second = fakeMessage(1, 2);
    h.latest = 2;
    new NatsDelivery('S', 'c', second.message, h, answers(5).a).nak();
    expect(second.sent).toEqual(['nak']);
  });

  it('refuses a bad nak delay with PL-400, answered or not', () => {
    const { message, sent } = fakeMessage(1, 1);
    const d = new NatsDelivery('S', 'c', message, history(1), answers(5).a);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 86_400_001, '5' as unknown as number]) {
      expectEnablementError(() => d.nak(bad), 'PL-400', 'delayMs');
    }
    expect(sent).toEqual([]);
  });

  it('hands the last allowed failure to the dead-letter path instead of naking', () => {
    const { message, sent } = fakeMessage(4, 3);
    const { a, log } = answers(3);
    const h = history(3);
    new NatsDelivery('S', 'c', message, h, a).nak(100, 'still failing');
    expect(sent).toEqual([]);
    expect(log.exhausted).toBe(1);
    expect(h.failures.at(-1)).toEqual({ delivery: 3, reason: 'still failing' });
  });

  it('ignores nak and inProgress from a delivery that was since redelivered, but not ack', () => {
    const h = history(1);
    const old = fakeMessage(1, 1);
    const d = new NatsDelivery('S', 'c', old.message, h, answers(5).a);
    h.latest = 2; // the bus saw delivery 2
    d.inProgress();
    d.nak();
    expect(old.sent).toEqual([]);
    const older = fakeMessage(1, 1);
    new NatsDelivery('S', 'c', older.message, h, answers(5).a).ack();
    expect(older.sent).toEqual(['ack']);
  });

  it('turns a handler failure into a nak whose reason hides foreign error text', () => {
    const h = history(1);
    const { message, sent } = fakeMessage(1, 1);
    new NatsDelivery('S', 'c', message, h, answers(5).a).handlerFailed(new TypeError('secret=abc'));
    expect(sent).toEqual(['nak']);
    expect(h.failures).toEqual([{ delivery: 1, reason: 'handler threw TypeError' }]);
    expect(handlerFailure(new EnablementError('PL-503', 'db down'))).toBe('handler threw PL-503: db down');
    expect(handlerFailure('nope')).toBe('handler threw a string');
  });

  it('inProgress may repeat until answered', () => {
    const { message, sent } = fakeMessage(1, 1);
    const d = new NatsDelivery('S', 'c', message, history(1), answers(5).a);
    d.inProgress();
    d.inProgress();
    d.term('poison');
    d.inProgress();
    expect(sent).toEqual(['working', 'working', 'term']);
  });
});

describe('delivery helpers', () => {
  it('keeps the last failures, one per delivery, in delivery order', () => {
    const h = history(9);
    for (const n of [3, 1, 2, 2, 9, 8, 7, 6]) recordFailure(h, n, `f${n}`);
    expect(h.failures.map((f) => f.delivery)).toEqual([3, 6, 7, 8, 9]);
    expect(h.failures).toHaveLength(MAX_DEAD_LETTER_REASONS);
  });

  it('cuts long reasons without splitting a surrogate pair', () => {
    expect(cutReason(undefined, 'nak')).toBe('nak');
    expect(cutReason('x'.repeat(MAX_NAK_REASON_LENGTH), 'nak')).toHaveLength(MAX_NAK_REASON_LENGTH);
    const cut = cutReason(`${'x'.repeat(MAX_NAK_REASON_LENGTH - 1)}🦀🦀`, 'nak');
    expect(cut.endsWith('x…')).toBe(true);
    expect(cutReason(42, 'nak')).toBe('42');
  });

  it('converts headers both ways, joining repeated values', () => {
    const h = natsHeaders();
    h.append('X-List', 'a');
    h.append('X-List', 'b');
    h.set('nats-expected-stream', 'S');
    expect(portHeaders(h)).toEqual({ 'X-List': 'a, b' });
    expect(portHeaders(undefined)).toEqual({});
    expect(toNatsHeaders({})).toBeUndefined();
    expect(toNatsHeaders({ 'X-A': '1' })?.get('X-A')).toBe('1');
  });
});
