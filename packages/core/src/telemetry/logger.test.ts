import { FakeClock } from '@creto/testing';
import { createTelemetryHarness } from '@creto/testing/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  createJsonLogger,
  isSecretFieldName,
  type JsonLoggerOptions,
  type LogRecord,
  noopLogger,
  REDACTED,
  sanitizeLogValue,
  withSpan,
} from './index.js';

// The active span's ids reach the log lines only with an SDK registered.
const telemetry = createTelemetryHarness();
beforeAll(() => telemetry.install());
afterAll(() => telemetry.shutdown());

// 2025-12-26T10:30:00.123456789Z, the instant of the spec §10.3 example.
const START = 1_766_745_000_123_456_789n;

function capture(options: JsonLoggerOptions = {}) {
  const lines: string[] = [];
  const clock = new FakeClock({ start: START });
  const log = createJsonLogger({ clock, sink: (line) => lines.push(line), ...options });
  const records = () => lines.map((line) => JSON.parse(line) as LogRecord);
  return { log, lines, records, clock };
}

describe('createJsonLogger: the spec §10.3 shape', () => {
  it('writes the spec example line, key for key', () => {
    const { log, records } = capture({ product: 'runtime' });
    log.info('Sandbox spawned successfully', {
      agentNhi: 'agent:nhi:ed25519:xxx',
      operation: 'spawn_sandbox',
      durationMs: 1523,
      sandbox_id: 'sb-abc123',
      runtime_class: 'gvisor',
      cpu_millicores: 1000,
      memory_bytes: 2147483648,
    });
    expect(records()).toEqual([
      {
        timestamp: '2025-12-26T10:30:00.123456Z',
        level: 'INFO',
        product: 'runtime',
        agent_nhi: 'agent:nhi:ed25519:xxx',
        operation: 'spawn_sandbox',
        message: 'Sandbox spawned successfully',
        duration_ms: 1523,
        attributes: {
          sandbox_id: 'sb-abc123',
          runtime_class: 'gvisor',
          cpu_millicores: 1000,
          memory_bytes: 2147483648,
        },
      },
    ]);
  });

  it('takes the timestamp from the Clock, one JSON object per line', () => {
    const { log, lines, records, clock } = capture();
    log.info('a');
    clock.advance(1.5);
    log.info('b');
    expect(records().map((r) => r.timestamp)).toEqual([
      '2025-12-26T10:30:00.123456Z',
      '2025-12-26T10:30:00.124956Z',
    ]);
    for (const line of lines) expect(line).not.toContain('\n');
    expect(records()[0]).toEqual({ timestamp: '2025-12-26T10:30:00.123456Z', level: 'INFO', message: 'a' });
  });

  it('adds trace_id and span_id of the active span', async () => {
    const { log, records } = capture();
    let ids: { traceId: string; spanId: string } | undefined;
    await withSpan('test.log', {}, async (span) => {
      ids = span.spanContext();
      await Promise.resolve();
      log.warn('inside');
    });
    log.warn('outside');
    const [inside, outside] = records();
    expect(inside?.trace_id).toBe(ids?.traceId);
    expect(inside?.span_id).toBe(ids?.spanId);
    expect(inside?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(inside?.level).toBe('WARN');
    expect(outside).not.toHaveProperty('trace_id');
    expect(outside).not.toHaveProperty('span_id');
  });

  it('filters by level and writes levels in upper case', () => {
    const { log, records } = capture({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(records().map((r) => [r.level, r.message])).toEqual([
      ['WARN', 'w'],
      ['ERROR', 'e'],
    ]);
    const all = capture({ level: 'debug' });
    all.log.debug('d');
    expect(all.records()[0]?.level).toBe('DEBUG');
  });

  it('child loggers merge bindings; call fields win', () => {
    const { log, records } = capture({ product: 'oversight', bindings: { region: 'eu' } });
    const child = log
      .child({ operation: 'create_request', request_id: 'req-1' })
      .child({ request_id: 'req-2' });
    child.info('created', { durationMs: 3, region: 'us' });
    expect(records()[0]).toMatchObject({
      product: 'oversight',
      operation: 'create_request',
      duration_ms: 3,
      attributes: { region: 'us', request_id: 'req-2' },
    });
  });

  it('logs an EnablementError as its spec §8.2 JSON and other throwables safely', () => {
    const { log, records } = capture();
    const cause = new EnablementError('MT-429', 'quota');
    log.error('spawn failed', { error: new EnablementError('RT-429', 'cannot spawn', { cause }) });
    log.error('oops', { error: new RangeError('bad range') });
    log.error('odd', { error: 'a string' });
    const [a, b, c] = records();
    expect(a?.attributes?.error).toMatchObject({
      code: 'RT-429',
      caused_by: { code: 'MT-429' },
      product: 'runtime',
    });
    expect(b?.attributes?.error).toEqual({ name: 'RangeError', message: 'bad range' });
    expect(c?.attributes?.error).toEqual({ value: 'a string' });
  });
});

describe('redaction and bounds', () => {
  it('recognises secret-looking field names by word', () => {
    for (const name of [
      'secret',
      'clientSecret',
      'private_key',
      'privateKey',
      'PASSWORD',
      'db-password',
      'access_token',
      'refreshToken',
      'override_token',
      'seed',
      'seedPhrase',
      'apiKey',
      'x-api-key',
      'Authorization',
      'sharedSecrets',
      'passphrase',
    ]) {
      expect(isSecretFieldName(name), name).toBe(true);
    }
    for (const name of [
      'input_tokens',
      'outputTokens',
      'tokenizer',
      'public_key',
      'sandbox_id',
      'seeds_planted',
      'keyId',
    ]) {
      expect(isSecretFieldName(name), name).toBe(false);
    }
  });

  it('replaces secret fields at any depth, bytes by their length, PEM private keys by REDACTED', () => {
    const { log, lines, records } = capture({ bindings: { apiKey: 'sk-live-123' } });
    log.info('connect', {
      password: 'hunter2',
      config: { db: { user: 'app', password: 'hunter2' }, tokens: [{ refresh_token: 'r-1' }] },
      key_bytes: new Uint8Array([1, 2, 3]),
      pem: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
      input_tokens: 17,
    });
    expect(lines[0]).not.toContain('hunter2');
    expect(lines[0]).not.toContain('sk-live-123');
    expect(lines[0]).not.toContain('r-1');
    expect(lines[0]).not.toContain('MIIB');
    expect(records()[0]?.attributes).toEqual({
      apiKey: REDACTED,
      password: REDACTED,
      config: { db: { user: 'app', password: REDACTED }, tokens: [{ refresh_token: REDACTED }] },
      key_bytes: '[3 bytes]',
      pem: REDACTED,
      input_tokens: 17,
    });
  });

  it('bounds strings, arrays, keys, depth, message and the whole line', () => {
    const { log, lines, records } = capture({
      limits: { maxStringLength: 10, maxArrayLength: 3, maxKeys: 2, maxDepth: 2, maxMessageLength: 20 },
    });
    log.info('m'.repeat(100), {
      s: 'x'.repeat(100),
      list: [1, 2, 3, 4, 5],
      deep: { a: { b: { c: 1 } } },
    });
    const [r] = records();
    expect(r?.message).toBe(`${'m'.repeat(20)}…`);
    expect(r?.attributes).toEqual({
      s: `${'x'.repeat(10)}…`,
      list: [1, 2, 3, '[2 more]'],
      '…': '[1 more keys]',
    });
    log.info('deep', { deep: { a: { b: 1 } } });
    expect(records()[1]?.attributes).toEqual({ deep: { a: '[depth limit]' } });

    const big = capture({ limits: { maxLineLength: 2048, maxArrayLength: 1000 } });
    big.log.info('huge', { list: Array.from({ length: 1000 }, (_, i) => `item-${i}`), operation: 'op' });
    const line = big.lines[0] ?? '';
    expect(line.length).toBeLessThanOrEqual(2048);
    expect(JSON.parse(line)).toMatchObject({
      message: 'huge',
      operation: 'op',
      attributes: { truncated: expect.any(String) },
    });
    expect(lines).toHaveLength(2);
  });

  it('survives hostile values: cycles, bigint, NaN, class instances, throwing toJSON', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    class Holder {
      readonly visible = 'secret-material';
    }
    const value = sanitizeLogValue({
      cyclic,
      big: 2n ** 70n,
      nan: Number.NaN,
      fn: () => 1,
      sym: Symbol('s'),
      undef: undefined,
      holder: new Holder(),
      badJson: { toJSON: 1 },
      throwing: Object.assign(
        Object.create({
          toJSON: () => {
            throw new Error('no');
          },
        }) as object,
        {},
      ),
    }) as Record<string, unknown>;
    expect(value.big).toBe('1180591620717411303424');
    expect(value.nan).toBe('NaN');
    expect(value).not.toHaveProperty('fn');
    expect(value).not.toHaveProperty('sym');
    expect(value).not.toHaveProperty('undef');
    expect(value.holder).toBe('[Holder]');
    expect(value.throwing).toBe('[unserializable]');
    expect(JSON.stringify(value)).toContain('[depth limit]');
    expect(JSON.stringify(value)).not.toContain('secret-material');
  });

  it('never throws into the caller, even when the sink does', () => {
    const log = createJsonLogger({
      sink: () => {
        throw new Error('disk full');
      },
    });
    expect(() => log.error('x', { a: 1 })).not.toThrow();
  });

  it('rejects bad options with PL-400 naming the option', () => {
    expect(() => createJsonLogger({ level: 'loud' as never })).toThrow(
      expect.objectContaining({ code: 'PL-400', message: expect.stringContaining('level') }),
    );
    expect(() => createJsonLogger({ sink: 'stdout' as never })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('sink') }),
    );
    expect(() => createJsonLogger({ limits: { maxKeys: 0 } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('limits.maxKeys') }),
    );
    expect(() => createJsonLogger({ limits: { maxLineLength: 100 } })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('maxLineLength') }),
    );
  });
});

describe('noopLogger', () => {
  it('accepts every call and children of itself', () => {
    expect(() => noopLogger.info('x', { password: 'p' })).not.toThrow();
    expect(noopLogger.child({ a: 1 })).toBe(noopLogger);
  });
});
