import { EnablementError } from '@creto/core';
import { JetStreamApiError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidSubjectError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { fromNatsError, isNoResponders, JETSTREAM_ERROR_CODES } from './errors.js';

const api = (err_code: number, code: number, description = 'refused') =>
  new JetStreamApiError({ code, err_code, description });

describe('fromNatsError', () => {
  it('maps JetStream API errors by err_code', () => {
    const c = JETSTREAM_ERROR_CODES;
    const cases: [JetStreamApiError, string, boolean][] = [
      [api(c.streamNotFound, 404), 'PL-404', false],
      [api(c.consumerNotFound, 404), 'PL-404', false],
      [api(c.streamNameInUse, 400), 'PL-409', false],
      [api(c.subjectsOverlap, 400), 'PL-409', false],
      [api(c.workQueueFilterNotUnique, 400), 'PL-409', false],
      [api(c.workQueueMultipleUnfiltered, 400), 'PL-409', false],
      [api(c.consumerExists, 400), 'PL-409', false],
      [api(c.messageTooLarge, 400), 'PL-400', false],
      [api(c.invalidStreamConfig, 500), 'PL-400', false],
      [api(c.filterNotSubset, 400), 'PL-400', false],
      [api(c.workQueueDeliverAll, 400), 'PL-400', false],
      [api(c.storeFailed, 503, 'maximum messages exceeded'), 'PL-503', true],
      [api(c.temporarilyUnavailable, 503), 'PL-503', true],
      [api(c.notEnabledForAccount, 503), 'PL-503', false],
    ];
    for (const [error, code, retryable] of cases) {
      const mapped = fromNatsError(error, 'op');
      expect([error.code, mapped.code, mapped.retryable]).toEqual([error.code, code, retryable]);
      expect(mapped.cause).toBe(error);
    }
  });

  it('falls back on the status of unknown JetStream errors', () => {
    expect(fromNatsError(api(99_991, 404), 'op').code).toBe('PL-404');
    expect(fromNatsError(api(99_992, 409), 'op').code).toBe('PL-409');
    expect(fromNatsError(api(99_993, 400), 'op').code).toBe('PL-400');
    expect(fromNatsError(api(99_994, 500), 'op')).toMatchObject({ code: 'PL-503', retryable: true });
  });

  it('maps client failures: timeouts and lost connections retryable, closed connections not', () => {
    expect(fromNatsError(new TimeoutError(), 'publish')).toMatchObject({ code: 'PL-503', retryable: true });
    expect(fromNatsError(new ConnectionError('refused'), 'x')).toMatchObject({
      code: 'PL-503',
      retryable: true,
    });
    expect(fromNatsError(new ClosedConnectionError(), 'x')).toMatchObject({
      code: 'PL-503',
      retryable: false,
    });
    expect(fromNatsError(new DrainingConnectionError(), 'x')).toMatchObject({
      code: 'PL-503',
      retryable: false,
    });
    expect(fromNatsError(new PermissionViolationError('no', 'publish', 'a.b'), 'x').code).toBe('PL-403');
    expect(fromNatsError(new InvalidSubjectError('a b'), 'x').code).toBe('PL-400');
    const noResponders = new RequestError('no responders', { cause: new NoRespondersError('a.b') });
    expect(fromNatsError(noResponders, 'x')).toMatchObject({ code: 'PL-503', retryable: true });
    expect(fromNatsError(new Error('weird'), 'x').code).toBe('PL-500');
    expect(fromNatsError('a string', 'x').code).toBe('PL-500');
  });

  it('never copies foreign error text into the message', () => {
    const secret = new Error('password=hunter2 at nats://user:hunter2@host');
    secret.name = 'ConnectionError';
    const mapped = fromNatsError(secret, 'connect');
    expect(mapped.message).not.toContain('hunter2');
    expect(JSON.stringify(mapped.toJSON())).not.toContain('hunter2');
    expect(fromNatsError(new Error('token=abc'), 'x').message).not.toContain('abc');
  });

  it('passes an EnablementError through', () => {
    const original = new EnablementError('PL-409', 'conflict');
    expect(fromNatsError(original, 'x')).toBe(original);
  });
});

describe('isNoResponders', () => {
  it('finds "no responders" through the wrappers of the JetStream client', () => {
    const wrapped = new Error('jetstream is not enabled', {
      cause: new RequestError('no responders', { cause: new NoRespondersError('s') }),
    });
    wrapped.name = 'JetStreamNotEnabled';
    expect(isNoResponders(wrapped)).toBe(true);
    expect(isNoResponders(new NoRespondersError('s'))).toBe(true);
    const account = new Error('not enabled', { cause: api(JETSTREAM_ERROR_CODES.notEnabledForAccount, 503) });
    account.name = 'JetStreamNotEnabled';
    expect(isNoResponders(account)).toBe(false);
    expect(isNoResponders(new TimeoutError())).toBe(false);
    expect(isNoResponders(undefined)).toBe(false);
  });
});
