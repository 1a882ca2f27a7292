import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEAD_LETTER_HEADERS,
  type DeadLetterInfo,
  deadLetterHeaders,
  deadLetterSubject,
  MAX_DEAD_LETTER_REASONS,
  parseDeadLetter,
} from './dead-letter.js';
import { decodeJson, encodeJson, publishJson } from './json.js';

const info: DeadLetterInfo = {
  stream: 'METERING',
  consumer: 'ingest',
  subject: 'metering.events.runtime',
  seq: 42,
  msgId: 'idem-1',
  publishedAt: 1_767_225_600_000_000_000n,
  deliveries: 3,
  firstDeliveryAt: 1_767_225_600_100_000_000n,
  lastDeliveryAt: 1_767_225_660_100_000_000n,
  reasons: [
    { delivery: 1, reason: 'ack wait expired' },
    { delivery: 2, reason: 'unknown agent_nhi' },
  ],
};

describe('dead-letter format', () => {
  it('names the subject $DLQ.<stream>.<consumer>', () => {
    expect(deadLetterSubject('METERING', 'ingest')).toBe('$DLQ.METERING.ingest');
  });

  it('round-trips through headers, keeping the original headers', () => {
    const headers = deadLetterHeaders(info, { 'X-Tenant': 't1' });
    expect(headers['X-Tenant']).toBe('t1');
    expect(headers[DEAD_LETTER_HEADERS.seq]).toBe('42');
    expect(headers[DEAD_LETTER_HEADERS.publishedAt]).toBe('1767225600000000000');
    expect(parseDeadLetter(headers)).toEqual(info);
    const withoutId = deadLetterHeaders({ ...info, msgId: undefined }, {});
    expect(withoutId[DEAD_LETTER_HEADERS.msgId]).toBeUndefined();
    expect(parseDeadLetter(withoutId).msgId).toBeUndefined();
  });

  it('property: any reasons survive as printable-ASCII headers within the 4096-character value limit', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 400 }), { maxLength: 8 }), (texts) => {
        const reasons = texts.map((reason, i) => ({ delivery: i + 1, reason }));
        const headers = deadLetterHeaders({ ...info, reasons }, {});
        const value = headers[DEAD_LETTER_HEADERS.reasons] ?? '';
        expect(value).toMatch(/^[\x20-\x7e]*$/);
        expect(value.length).toBeLessThanOrEqual(4096);
        const parsed = parseDeadLetter(headers).reasons;
        expect(parsed.length).toBe(Math.min(reasons.length, MAX_DEAD_LETTER_REASONS));
        for (const [i, r] of parsed.entries()) {
          const original = reasons[reasons.length - parsed.length + i];
          expect(r.delivery).toBe(original?.delivery);
          // Short reasons are kept exactly; long ones are cut to a prefix marked with '…'.
          if (r.reason !== original?.reason) {
            expect(r.reason.endsWith('…')).toBe(true);
            expect(original?.reason.startsWith(r.reason.slice(0, -1))).toBe(true);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('rejects headers that are missing or malformed with PL-400', () => {
    const good = deadLetterHeaders(info, {});
    const without = (name: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== name));
    expectEnablementError(() => parseDeadLetter({}), 'PL-400', 'missing');
    expectEnablementError(
      () => parseDeadLetter(without(DEAD_LETTER_HEADERS.consumer)),
      'PL-400',
      DEAD_LETTER_HEADERS.consumer,
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.seq]: '-1' }),
      'PL-400',
      'decimal',
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.seq]: '01' }),
      'PL-400',
      'decimal',
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.deliveries]: '99999999999999999' }),
      'PL-400',
      'range',
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.reasons]: '{' }),
      'PL-400',
      'not JSON',
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.reasons]: '{}' }),
      'PL-400',
      'array',
    );
    expectEnablementError(
      () => parseDeadLetter({ ...good, [DEAD_LETTER_HEADERS.reasons]: '[1]' }),
      'PL-400',
      '{delivery, reason}',
    );
    expectEnablementError(
      () =>
        parseDeadLetter({
          ...good,
          [DEAD_LETTER_HEADERS.reasons]: JSON.stringify(Array(6).fill({ delivery: 1, reason: '' })),
        }),
      'PL-400',
      'at most',
    );
  });
});

describe('JSON payload helpers', () => {
  it('encode and decode UTF-8 JSON', () => {
    const value = { a: [1, 'é', null], b: { c: true } };
    const data = encodeJson(value);
    expect(new TextDecoder().decode(data)).toBe('{"a":[1,"é",null],"b":{"c":true}}');
    expect(decodeJson(data)).toEqual(value);
  });

  it('reject what has no JSON form and what is not UTF-8 JSON, with PL-400', () => {
    expectEnablementError(() => encodeJson({ n: 1n }), 'PL-400', 'decimal strings');
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expectEnablementError(() => encodeJson(cycle), 'PL-400', 'no JSON form');
    expectEnablementError(() => encodeJson(undefined), 'PL-400', 'no JSON form');
    expectEnablementError(() => decodeJson(new Uint8Array([0xff, 0xfe])), 'PL-400', 'UTF-8');
    expectEnablementError(() => decodeJson(new TextEncoder().encode('{"a":')), 'PL-400', 'not valid JSON');
    expectEnablementError(() => decodeJson('{}' as unknown as Uint8Array), 'PL-400', 'Uint8Array');
  });

  it('publishJson encodes, or rejects without calling the bus', async () => {
    const calls: [string, string][] = [];
    const bus = {
      publish: async (subject: string, data: Uint8Array) => {
        calls.push([subject, new TextDecoder().decode(data)]);
        return { stream: 'S', seq: 1, duplicate: false };
      },
    };
    await expect(publishJson(bus, 's.a', { x: 1 })).resolves.toEqual({
      stream: 'S',
      seq: 1,
      duplicate: false,
    });
    await expect(publishJson(bus, 's.a', { x: 1n })).rejects.toMatchObject({ code: 'PL-400' });
    expect(calls).toEqual([['s.a', '{"x":1}']]);
  });
});
