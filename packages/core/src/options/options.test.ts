import { expectEnablementError, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { systemClock } from '../time/clock.js';
import { clockSchema, cryptoProviderSchema, isClock, isCryptoProvider, parseOptions } from './index.js';

const noop = () => undefined;

describe('isClock', () => {
  it('accepts objects with now and schedule functions', () => {
    expect(isClock(systemClock)).toBe(true);
    expect(isClock(new FakeClock())).toBe(true);
    expect(isClock({ now: () => 0n, schedule: () => noop })).toBe(true);
  });

  it('refuses everything else', () => {
    for (const value of [undefined, null, 0, 'clock', noop, {}, { now: () => 0n }, { schedule: noop }]) {
      expect(isClock(value)).toBe(false);
    }
    expect(isClock({ now: 0n, schedule: noop })).toBe(false);
  });
});

describe('isCryptoProvider', () => {
  it('accepts a provider', () => {
    expect(isCryptoProvider(nobleCryptoProvider)).toBe(true);
  });

  it('refuses values without an ed25519 object', () => {
    for (const value of [undefined, null, 1, 'noble', {}, { ed25519: noop }, { sha256: noop }]) {
      expect(isCryptoProvider(value)).toBe(false);
    }
  });
});

describe('parseOptions', () => {
  const schema = z.strictObject({
    clock: clockSchema.optional(),
    provider: cryptoProviderSchema.optional(),
    limit: z.number().int().min(1).optional(),
  });

  it('returns the parsed options, keeping the ports themselves', () => {
    const clock = new FakeClock();
    const parsed = parseOptions(schema, { clock, provider: nobleCryptoProvider, limit: 3 }, 'createWidget');
    expect(parsed.clock).toBe(clock);
    expect(parsed.provider).toBe(nobleCryptoProvider);
    expect(parsed.limit).toBe(3);
    expect(parseOptions(schema, {}, 'createWidget')).toEqual({});
  });

  it('throws PL-400 naming the factory and the failing option', () => {
    expectEnablementError(
      () => parseOptions(schema, { clock: {} }, 'createWidget'),
      'PL-400',
      'invalid createWidget options: clock: expected a Clock',
    );
    expectEnablementError(
      () => parseOptions(schema, { provider: {} }, 'createWidget'),
      'PL-400',
      'provider: expected a CryptoProvider',
    );
    expectEnablementError(() => parseOptions(schema, { limit: 0 }, 'createWidget'), 'PL-400', 'limit:');
    expectEnablementError(() => parseOptions(schema, { extra: 1 }, 'createWidget'), 'PL-400', 'extra');
    expectEnablementError(() => parseOptions(schema, null, 'createWidget'), 'PL-400', '(root)');
  });

  it('keeps the zod error as the cause', () => {
    const error = expectEnablementError(() => parseOptions(schema, { clock: 1 }, 'createWidget'), 'PL-400');
    expect(error.cause).toBeInstanceOf(z.ZodError);
  });
});
