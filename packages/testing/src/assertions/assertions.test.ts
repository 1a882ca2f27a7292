import { EnablementError } from '@creto/core';
import { describe, expect, it } from 'vitest';
import { errorCodeOf, expectEnablementError, expectEnablementRejection, rejectionCodeOf } from './index.js';

const fail = (message = 'clock: expected a Clock') => new EnablementError('PL-400', message);
const thrower = (error: unknown) => () => {
  throw error;
};

describe('expectEnablementError', () => {
  it('returns the error when the code matches', () => {
    const error = fail();
    expect(expectEnablementError(thrower(error), 'PL-400')).toBe(error);
  });

  it('checks the message: a string is a substring, a RegExp a pattern (global flags too)', () => {
    expect(expectEnablementError(thrower(fail()), 'PL-400', 'expected a Clock').code).toBe('PL-400');
    expect(expectEnablementError(thrower(fail()), 'PL-400', /^clock: /).code).toBe('PL-400');
    const global = /Clock/g;
    expectEnablementError(thrower(fail()), 'PL-400', global);
    expectEnablementError(thrower(fail()), 'PL-400', global);
  });

  it('fails when nothing is thrown', () => {
    expect(() => expectEnablementError(() => 1, 'PL-400')).toThrow(
      'expected a throw of EnablementError PL-400, but it returned',
    );
  });

  it('fails on another error, keeping it as the cause', () => {
    const other = new TypeError('boom');
    let failure: unknown;
    try {
      expectEnablementError(thrower(other), 'PL-400');
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe(
      'expected a throw of EnablementError PL-400, got TypeError: boom',
    );
    expect((failure as Error).cause).toBe(other);
    expect(() => expectEnablementError(thrower('text'), 'PL-400')).toThrow('got text');
  });

  it('fails on another code or message', () => {
    expect(() => expectEnablementError(thrower(fail()), 'PL-409')).toThrow(
      'got PL-400: clock: expected a Clock',
    );
    expect(() => expectEnablementError(thrower(fail()), 'PL-400', 'CryptoProvider')).toThrow(
      'with a message matching CryptoProvider, got: clock: expected a Clock',
    );
    expect(() => expectEnablementError(thrower(fail()), 'PL-400', /^Clock/)).toThrow('/^Clock/');
  });
});

describe('expectEnablementRejection', () => {
  it('resolves to the error of a rejected promise', async () => {
    const error = fail();
    await expect(expectEnablementRejection(Promise.reject(error), 'PL-400', 'Clock')).resolves.toBe(error);
  });

  it('accepts a function: its rejection or its synchronous throw', async () => {
    const error = fail();
    await expect(expectEnablementRejection(async () => Promise.reject(error), 'PL-400')).resolves.toBe(error);
    await expect(expectEnablementRejection(thrower(error), 'PL-400')).resolves.toBe(error);
  });

  it('fails when the promise resolves, or rejects with something else', async () => {
    await expect(expectEnablementRejection(Promise.resolve(1), 'PL-400')).rejects.toThrow(
      'expected a rejection of EnablementError PL-400, but it resolved',
    );
    await expect(expectEnablementRejection(Promise.reject(new Error('x')), 'PL-400')).rejects.toThrow(
      'got Error: x',
    );
    await expect(expectEnablementRejection(Promise.reject(fail()), 'PL-503')).rejects.toThrow('got PL-400');
    await expect(expectEnablementRejection(Promise.reject(fail()), 'PL-400', 'nope')).rejects.toThrow(
      'with a message matching nope',
    );
  });
});

describe('errorCodeOf and rejectionCodeOf', () => {
  const fail = () => {
    throw new EnablementError('MS-403', 'denied');
  };
  const foreign = () => {
    throw new TypeError('not ours');
  };

  it('return the code of an EnablementError, or undefined when the call succeeds', async () => {
    expect(errorCodeOf(fail)).toBe('MS-403');
    expect(errorCodeOf(() => 42)).toBeUndefined();
    expect(await rejectionCodeOf(Promise.reject(new EnablementError('PL-503', 'down')))).toBe('PL-503');
    expect(await rejectionCodeOf(fail)).toBe('MS-403'); // a synchronous throw counts as a rejection
    expect(await rejectionCodeOf(Promise.resolve(1))).toBeUndefined();
  });

  it('rethrow anything that is not an EnablementError', async () => {
    expect(() => errorCodeOf(foreign)).toThrow(TypeError);
    await expect(rejectionCodeOf(foreign)).rejects.toThrow(TypeError);
  });
});
