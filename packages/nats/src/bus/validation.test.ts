import {
  DEAD_LETTER_STREAM,
  DEFAULT_CONSUMER_SETTINGS,
  DEFAULT_STREAM_LIMITS,
  systemClock,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { assertName, createPortValidator } from './validation.js';

const validator = await createPortValidator(systemClock);
afterAll(() => validator.close());

describe('port validator (core in-process rules)', () => {
  it('resolves a stream configuration with the port defaults', async () => {
    const config = await validator.stream({ name: 'S', subjects: ['a.>'] });
    expect(config).toEqual({
      name: 'S',
      subjects: ['a.>'],
      retention: 'limits',
      discard: 'new',
      ...DEFAULT_STREAM_LIMITS,
    });
  });

  it('refuses what the in-process bus refuses, naming the field', async () => {
    await expectEnablementRejection(validator.stream({ name: 'S', subjects: [] }), 'PL-400', 'subjects');
    await expectEnablementRejection(validator.stream({ name: 'a b', subjects: ['a'] }), 'PL-400', 'name');
    await expectEnablementRejection(validator.stream({ name: 'S', subjects: ['a.>.b'] }), 'PL-400');
    await expectEnablementRejection(
      validator.stream({ name: 'S', subjects: ['a'], maxBytes: 10, maxMessageSize: 11 }),
      'PL-400',
      'maxMessageSize',
    );
    await expectEnablementRejection(
      validator.stream({ name: 'S', subjects: ['a'], extra: 1 } as unknown as Parameters<
        typeof validator.stream
      >[0]),
      'PL-400',
    );
    await expectEnablementRejection(
      validator.stream(null as unknown as Parameters<typeof validator.stream>[0]),
      'PL-400',
    );
  });

  it('keeps the dead-letter stream and its subjects to the bus', async () => {
    await expectEnablementRejection(
      validator.stream({ name: DEAD_LETTER_STREAM, subjects: ['x'] }),
      'PL-409',
    );
    await expectEnablementRejection(validator.stream({ name: 'S', subjects: ['$DLQ.x'] }), 'PL-409');
  });

  it('handles concurrent calls for the same name independently', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => validator.stream({ name: 'SAME', subjects: [`s${i}.>`] })),
    );
    expect(results.map((r) => r.subjects[0])).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}.>`));
  });

  it('resolves a consumer configuration and checks its filter on its own', async () => {
    expect(await validator.consumer({ name: 'c', filterSubject: 'a.*' })).toEqual({
      name: 'c',
      filterSubject: 'a.*',
      deliverPolicy: 'all',
      ackPolicy: 'explicit',
      ...DEFAULT_CONSUMER_SETTINGS,
    });
    expect((await validator.consumer({ name: 'c' })).filterSubject).toBe('>');
    await expectEnablementRejection(
      validator.consumer({ name: 'c', filterSubject: 'a.>.b' }),
      'PL-400',
      'filterSubject',
    );
    await expectEnablementRejection(validator.consumer({ name: 'c', maxDeliver: 0 }), 'PL-400', 'maxDeliver');
    await expectEnablementRejection(validator.consumer({ name: 'c', ackWaitMs: 0 }), 'PL-400', 'ackWaitMs');
    await expectEnablementRejection(validator.consumer({ name: 'bad.name' }), 'PL-400', 'name');
    await expectEnablementRejection(validator.consumer('c' as unknown as { name: string }), 'PL-400');
  });

  it('checks publish input without keeping it', () => {
    const ok = new Uint8Array(4);
    validator.publish('a.b', ok, { msgId: 'id', headers: { 'X-A': '1' } });
    validator.publish('a.b', ok, undefined);
    expectEnablementError(() => validator.publish('a.*', ok, undefined), 'PL-400', 'subject');
    expectEnablementError(() => validator.publish('a.b', 'x', undefined), 'PL-400', 'data');
    expectEnablementError(() => validator.publish('a.b', ok, { msgId: '' }), 'PL-400', 'msgId');
    expectEnablementError(() => validator.publish('a.b', ok, { headers: { 'Nats-Msg-Id': '1' } }), 'PL-400');
    expectEnablementError(
      () => validator.publish('a.b', ok, { headers: { 'Creto-Dlq-Seq': '1' } }),
      'PL-400',
    );
    expectEnablementError(() => validator.publish('a.b', ok, { headers: { X: 'a\r\nY: b' } }), 'PL-400');
    // The same msgId again is not a duplicate error: the validator never deduplicates.
    validator.publish('a.b', ok, { msgId: 'id' });
  });

  it('checks names', () => {
    assertName('S_1-x', 'stream');
    expectEnablementError(() => assertName('', 'stream'), 'PL-400', 'stream');
    expectEnablementError(() => assertName('a.b', 'consumer'), 'PL-400', 'consumer');
    expectEnablementError(() => assertName('x'.repeat(65), 'stream'), 'PL-400');
  });
});
