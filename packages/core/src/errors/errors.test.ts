import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { canonicalize } from '../canonical/canonicalize.js';
import {
  DEFAULT_QUOTA_RETRY_AFTER_MS,
  EnablementError,
  type EnablementErrorJson,
  ERROR_CATALOGUE,
  type ErrorCode,
  errorCodeInfo,
  isErrorCode,
  PRODUCT_IDS,
  PRODUCT_PREFIX,
  type ProductId,
  retryStrategyFor,
  TRANSIENT_BACKOFF,
} from './index.js';

const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const MAX_DEPTH = 16;

/** A valid wire error, to be broken one field at a time. */
function wire(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    code: 'PL-503',
    message: 'NHI unavailable',
    product: 'platform',
    caused_by: null,
    retryable: true,
    retry_after: null,
    trace_id: null,
    ...overrides,
  };
}

/** A wire chain of `length` errors. */
function wireChain(length: number): Record<string, unknown> {
  let json: Record<string, unknown> | null = null;
  for (let i = 0; i < length; i++) json = wire({ message: `level ${i}`, caused_by: json });
  return json ?? wire();
}

function roundTrip(error: EnablementError): EnablementError {
  return EnablementError.fromJSON(JSON.parse(JSON.stringify(error)));
}

describe('error catalogue', () => {
  it('every code has the prefix of its product and a number in 001-999 (spec §8.1)', () => {
    expect(CODES.length).toBeGreaterThan(30);
    for (const code of CODES) {
      const info = errorCodeInfo(code);
      const match = /^([A-Z]{2})-(\d{3})$/.exec(code);
      expect(match, code).not.toBeNull();
      expect(match?.[1]).toBe(PRODUCT_PREFIX[info.product]);
      expect(Number(match?.[2])).toBeGreaterThanOrEqual(1);
      expect(isErrorCode(code)).toBe(true);
      expect(new EnablementError(code, 'x').product).toBe(info.product);
      expect(new EnablementError(code, 'x').retryable).toBe(info.retryable);
    }
  });

  it('has one distinct two-letter prefix per product', () => {
    expect(PRODUCT_IDS).toEqual(['runtime', 'metering', 'oversight', 'messaging', 'platform']);
    expect(PRODUCT_PREFIX).toEqual({
      runtime: 'RT',
      metering: 'MT',
      oversight: 'OV',
      messaging: 'MS',
      platform: 'PL',
    });
  });

  it('contains the codes the spec names', () => {
    for (const code of [
      'RT-202',
      'RT-403',
      'RT-404',
      'RT-429',
      'MT-401',
      'MT-429',
      'OV-202',
      'OV-403',
      'OV-503',
    ]) {
      expect(isErrorCode(code)).toBe(true);
    }
    for (const code of ['PL-503', 'RT-503', 'MT-503', 'MS-503', 'MS-001'])
      expect(isErrorCode(code)).toBe(true);
  });

  it('isErrorCode rejects non-codes, including inherited property names', () => {
    for (const value of [
      'XX-001',
      'rt-429',
      'RT-429 ',
      'toString',
      '__proto__',
      'constructor',
      429,
      null,
      undefined,
    ]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ERROR_CATALOGUE)).toBe(true);
    expect(Object.isFrozen(ERROR_CATALOGUE['PL-400'])).toBe(true);
  });
});

describe('EnablementError', () => {
  it('takes product and retryability from the catalogue; options override them', () => {
    const e = new EnablementError('OV-403', 'approver not eligible');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('EnablementError');
    expect(e.product).toBe('oversight');
    expect(e.retryable).toBe(false);
    expect(e.causedBy).toBeUndefined();
    const o = new EnablementError('OV-403', 'x', { retryable: true, product: 'platform', traceId: 't' });
    expect([o.retryable, o.product, o.traceId]).toEqual([true, 'platform', 't']);
  });

  it('rejects codes outside the catalogue', () => {
    expect(() => new EnablementError('XX-999' as ErrorCode, 'x')).toThrow(TypeError);
  });

  it('inherits the trace id and retry hint from an EnablementError cause', () => {
    const cause = new EnablementError('MT-429', 'quota', { retryAfterMs: 5_000, traceId: 'trace-1' });
    const e = new EnablementError('RT-429', 'cannot spawn', { cause });
    expect(e.causedBy).toBe(cause);
    expect(e.cause).toBe(cause);
    expect(e.traceId).toBe('trace-1');
    expect(e.retryAfterMs).toBe(5_000);
    expect(e.chain()).toEqual([e, cause]);
    const own = new EnablementError('RT-429', 'x', { cause, traceId: 'mine', retryAfterMs: 1 });
    expect([own.traceId, own.retryAfterMs]).toEqual(['mine', 1]);
  });

  it('ignores retry hints that are not finite non-negative numbers, so toJSON never throws', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 2 ** 60]) {
      const e = new EnablementError('RT-429', 'x', { retryAfterMs: bad });
      expect(e.retryAfterMs).toBeUndefined();
      expect(e.toJSON().retry_after).toBeNull();
      const cause = new EnablementError('MT-429', 'quota', { retryAfterMs: 7 });
      expect(new EnablementError('RT-429', 'x', { cause, retryAfterMs: bad }).retryAfterMs).toBe(7);
    }
  });

  it('converts retry hints to serde durations exactly', () => {
    const cases: [number, { secs: number; nanos: number }][] = [
      [0, { secs: 0, nanos: 0 }],
      [1, { secs: 0, nanos: 1_000_000 }],
      [1.5, { secs: 0, nanos: 1_500_000 }],
      [86_400_000, { secs: 86_400, nanos: 0 }],
      [Number.MAX_SAFE_INTEGER, { secs: 9_007_199_254_740, nanos: 991_000_000 }],
    ];
    for (const [ms, duration] of cases) {
      const e = new EnablementError('MT-429', 'x', { retryAfterMs: ms });
      expect(e.toJSON().retry_after).toEqual(duration);
      expect(roundTrip(e).retryAfterMs).toBe(ms);
    }
  });

  it('truncates long messages, never splitting a surrogate pair', () => {
    expect(new EnablementError('PL-400', 'a'.repeat(4096)).message).toBe('a'.repeat(4096));
    const long = new EnablementError('PL-400', 'b'.repeat(10_000));
    expect(long.message).toBe(`${'b'.repeat(4096)}…`);
    const emoji = new EnablementError('PL-400', `${'a'.repeat(4095)}😀tail`);
    expect(emoji.message).toBe(`${'a'.repeat(4095)}…`);
    expect(() => canonicalize(emoji.toJSON())).not.toThrow();
    // Truncation is stable across a wire round trip.
    expect(roundTrip(long).message).toBe(long.message);
    expect(roundTrip(emoji).message).toBe(emoji.message);
  });

  it('never serializes a non-Enablement cause', () => {
    const secret = new Error('db password is hunter2');
    const e = new EnablementError('PL-500', 'storage failed', { cause: secret });
    expect(e.cause).toBe(secret);
    expect(e.causedBy).toBeUndefined();
    expect(e.toJSON().caused_by).toBeNull();
    expect(JSON.stringify(e)).not.toContain('hunter2');
    // A look-alike plain object is not an EnablementError either.
    const fake = { code: 'MT-429', message: 'hunter2', product: 'metering' };
    const f = new EnablementError('RT-429', 'x', { cause: fake });
    expect(f.causedBy).toBeUndefined();
    expect(JSON.stringify(f)).not.toContain('hunter2');
  });

  it('produces exactly the spec §8.2 example wire JSON', () => {
    const quota = new EnablementError('MT-429', 'Monthly sandbox quota exceeded (100/100)', {
      retryAfterMs: 86_400_000,
      traceId: 'trace-xyz',
    });
    const error = new EnablementError('RT-429', 'Cannot spawn sandbox: quota exceeded', { cause: quota });
    expect(JSON.stringify(error)).toBe(
      '{"code":"RT-429","message":"Cannot spawn sandbox: quota exceeded","product":"runtime",' +
        '"caused_by":{"code":"MT-429","message":"Monthly sandbox quota exceeded (100/100)","product":"metering",' +
        '"caused_by":null,"retryable":false,"retry_after":{"secs":86400,"nanos":0},"trace_id":"trace-xyz"},' +
        '"retryable":false,"retry_after":{"secs":86400,"nanos":0},"trace_id":"trace-xyz"}',
    );
    expect(retryStrategyFor(error)).toEqual({ kind: 'retry_after', delayMs: 86_400_000 });
    const back = roundTrip(error);
    expect(back.causedBy?.code).toBe('MT-429');
    expect(back.toJSON()).toEqual(error.toJSON());
  });

  it('chain() and toJSON() stop at the depth limit; the result still parses', () => {
    let e = new EnablementError('PL-503', 'root');
    for (let i = 1; i < 20; i++) e = new EnablementError('PL-503', `level ${i}`, { cause: e });
    expect(e.chain()).toHaveLength(MAX_DEPTH);
    let depth = 0;
    for (let j: EnablementErrorJson | null = e.toJSON(); j; j = j.caused_by) depth++;
    expect(depth).toBe(MAX_DEPTH);
    expect(roundTrip(e).chain()).toHaveLength(MAX_DEPTH);
  });
});

describe('EnablementError wire round trip', () => {
  const hint = fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: 0, max: 10 ** 15 }).map((ns) => ns / 1e6),
  );
  const link = fc.record({
    code: fc.constantFrom(...CODES),
    message: fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.string({ minLength: 4090, maxLength: 4200 }),
    ),
    retryable: fc.option(fc.boolean(), { nil: undefined }),
    retryAfterMs: hint,
    traceId: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
    product: fc.option(fc.constantFrom<ProductId>(...PRODUCT_IDS), { nil: undefined }),
  });

  it('property: every code, message, hint, trace id and causedBy chain survives toJSON → JSON → fromJSON', () => {
    fc.assert(
      fc.property(fc.array(link, { minLength: 1, maxLength: MAX_DEPTH }), (links) => {
        let error: EnablementError | undefined;
        for (const l of links) {
          error = new EnablementError(l.code, l.message, {
            cause: error,
            retryable: l.retryable,
            retryAfterMs: l.retryAfterMs,
            traceId: l.traceId,
            product: l.product,
          });
        }
        if (error === undefined) return;
        const json = error.toJSON();
        const back = roundTrip(error);
        expect(back).toBeInstanceOf(EnablementError);
        expect(back.toJSON()).toEqual(json);
        expect(JSON.stringify(back)).toBe(JSON.stringify(error));
        const [a, b] = [error.chain(), back.chain()];
        expect(b).toHaveLength(a.length);
        a.forEach((x, i) => {
          const y = b[i] as EnablementError;
          expect([y.code, y.message, y.product, y.retryable, y.traceId]).toEqual([
            x.code,
            x.message,
            x.product,
            x.retryable,
            x.traceId,
          ]);
          if (x.retryAfterMs === undefined || Number.isInteger(x.retryAfterMs)) {
            expect(y.retryAfterMs).toBe(x.retryAfterMs);
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  it('keeps the wire authoritative: a cause hint is not copied onto a parent that had none', () => {
    const json = wire({
      code: 'RT-429',
      product: 'runtime',
      caused_by: wire({
        code: 'MT-429',
        product: 'metering',
        retry_after: { secs: 60, nanos: 0 },
        trace_id: 't',
      }),
    });
    const e = EnablementError.fromJSON(json);
    expect(e.retryAfterMs).toBeUndefined();
    expect(e.traceId).toBeUndefined();
    expect(e.causedBy?.retryAfterMs).toBe(60_000);
    expect(e.toJSON()).toEqual(json);
  });

  it('accepts a chain of exactly the depth limit and rejects one more', () => {
    expect(EnablementError.fromJSON(wireChain(MAX_DEPTH)).chain()).toHaveLength(MAX_DEPTH);
    expectEnablementError(() => EnablementError.fromJSON(wireChain(MAX_DEPTH + 1)), 'PL-400', 'too deep');
    // A hostile, very deep chain fails fast instead of exhausting the stack.
    expectEnablementError(() => EnablementError.fromJSON(wireChain(100_000)), 'PL-400', 'too deep');
  });

  it('rejects hostile input with PL-400 and a reason', () => {
    const cases: [unknown, string][] = [
      [null, 'not an object'],
      [undefined, 'not an object'],
      ['PL-503', 'not an object'],
      [42, 'not an object'],
      [[wire()], 'not an object'],
      [wire({ code: 'XX-999' }), 'unknown code'],
      [wire({ code: 'pl-503' }), 'unknown code'],
      [wire({ code: 'toString' }), 'unknown code'],
      [wire({ code: 503 }), 'unknown code'],
      [wire({ message: 5 }), 'message'],
      [wire({ message: null }), 'message'],
      [wire({ product: 'billing' }), 'unknown product'],
      [wire({ product: '__proto__' }), 'unknown product'],
      [wire({ retryable: 'true' }), 'retryable'],
      [wire({ retryable: undefined }), 'retryable'],
      [wire({ retry_after: 5 }), 'retry_after'],
      [wire({ retry_after: '5s' }), 'retry_after'],
      [wire({ retry_after: [] }), 'retry_after'],
      [wire({ retry_after: { secs: -1, nanos: 0 } }), 'retry_after'],
      [wire({ retry_after: { secs: 1.5, nanos: 0 } }), 'retry_after'],
      [wire({ retry_after: { secs: 1, nanos: 1e9 } }), 'retry_after'],
      [wire({ retry_after: { secs: 1, nanos: -1 } }), 'retry_after'],
      [wire({ retry_after: { secs: '1', nanos: 0 } }), 'retry_after'],
      [wire({ retry_after: { secs: 1 } }), 'retry_after'],
      [wire({ retry_after: { secs: 2 ** 53, nanos: 0 } }), 'retry_after'],
      [wire({ retry_after: { secs: 2 ** 50, nanos: 0 } }), 'retry_after out of range'],
      [wire({ trace_id: 5 }), 'trace_id'],
      [wire({ trace_id: { id: 'x' } }), 'trace_id'],
      [wire({ trace_id: 'x'.repeat(257) }), 'trace_id longer than 256'],
      [wire({ caused_by: 'upstream' }), 'not an object'],
      [wire({ caused_by: [] }), 'not an object'],
      [wire({ caused_by: wire({ code: 'NOPE' }) }), 'unknown code'],
    ];
    for (const [input, reason] of cases) {
      const error = expectEnablementError(() => EnablementError.fromJSON(input), 'PL-400', reason);
      expect(error.message).toMatch(/^invalid EnablementError JSON: /);
    }
  });

  it('accepts trace ids up to the limit and missing optional fields', () => {
    expect(EnablementError.fromJSON(wire({ trace_id: 'x'.repeat(256) })).traceId).toHaveLength(256);
    const minimal = EnablementError.fromJSON({
      code: 'PL-400',
      message: 'm',
      product: 'platform',
      retryable: false,
    });
    expect([minimal.causedBy, minimal.retryAfterMs, minimal.traceId]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('truncates an over-long wire message', () => {
    const e = EnablementError.fromJSON(wire({ message: 'z'.repeat(1_000_000) }));
    expect(e.message).toHaveLength(4097);
  });
});

describe('instanceof across two copies of the module', () => {
  it('recognises errors from either copy in both directions', async () => {
    vi.resetModules();
    const copy = await import('./enablement-error.js');
    expect(copy.EnablementError).not.toBe(EnablementError);

    const fromCopy = new copy.EnablementError('MT-429', 'quota', { retryAfterMs: 10 });
    const fromHere = new EnablementError('RT-404', 'gone');
    expect(fromCopy instanceof EnablementError).toBe(true);
    expect(fromHere instanceof copy.EnablementError).toBe(true);
    expect(EnablementError.is(fromCopy)).toBe(true);
    expect(copy.EnablementError.is(fromHere)).toBe(true);

    // The other copy's errors chain and retry like our own.
    const wrapped = new EnablementError('RT-429', 'cannot spawn', { cause: fromCopy });
    expect(wrapped.causedBy).toBe(fromCopy);
    expect(wrapped.toJSON().caused_by?.code).toBe('MT-429');
    expect(retryStrategyFor(fromCopy)).toEqual({ kind: 'retry_after', delayMs: 10 });

    for (const other of [new Error('x'), { code: 'RT-404' }, null, 'RT-404']) {
      expect(other instanceof copy.EnablementError).toBe(false);
      expect(EnablementError.is(other)).toBe(false);
    }
  });
});

describe('retryStrategyFor (spec §8.4)', () => {
  it('follows the spec mapping for every catalogue code', () => {
    const transient = new Set(['PL-503', 'RT-503', 'MT-503', 'OV-503', 'MS-503']);
    for (const code of CODES) {
      const strategy = retryStrategyFor(new EnablementError(code, 'x'));
      if (transient.has(code)) {
        expect(strategy, code).toEqual({
          kind: 'exponential_backoff',
          initialDelayMs: 100,
          maxDelayMs: 30_000,
          maxAttempts: 5,
        });
      } else if (code === 'MT-429' || code === 'RT-429') {
        expect(strategy, code).toEqual({ kind: 'retry_after', delayMs: DEFAULT_QUOTA_RETRY_AFTER_MS });
      } else {
        expect(strategy, code).toEqual({ kind: 'never' });
      }
    }
    expect(TRANSIENT_BACKOFF).toEqual(retryStrategyFor(new EnablementError('PL-503', 'x')));
    expect(DEFAULT_QUOTA_RETRY_AFTER_MS).toBe(3_600_000);
  });

  it('uses the error retry hint for quota errors', () => {
    expect(retryStrategyFor(new EnablementError('MT-429', 'x', { retryAfterMs: 86_400_000 }))).toEqual({
      kind: 'retry_after',
      delayMs: 86_400_000,
    });
    expect(retryStrategyFor(new EnablementError('RT-429', 'x', { retryAfterMs: 0 }))).toEqual({
      kind: 'retry_after',
      delayMs: 0,
    });
  });

  it('never retries foreign errors, even ones that look like a transient EnablementError', () => {
    for (const foreign of [
      new Error('ECONNRESET'),
      new TypeError('x'),
      { code: 'PL-503', retryable: true },
      'PL-503',
      null,
      undefined,
      EnablementError.fromJSON(wire()).toJSON(),
    ]) {
      expect(retryStrategyFor(foreign)).toEqual({ kind: 'never' });
    }
  });
});
