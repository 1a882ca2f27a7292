import { formatNhi, type Notification, nobleCryptoProvider, utf8ToBytes } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES,
  decodeNotificationPayload,
  describeRecipient,
  encodeNotificationPayload,
  parseNotification,
} from './index.js';

const approver = formatNhi('human', nobleCryptoProvider.ed25519.publicKey(new Uint8Array(32).fill(7)));

const notification: Notification = {
  id: 'b3f1c9de-5a3e-4c51-9d7e-0f6f3b0b7a11',
  kind: 'approval_required',
  recipient: approver,
  subject: 'Approval Required: delete_database',
  body: 'The agent wants to drop the production database.\nApprove or deny: https://oversight.example/r/1',
  data: {
    request_id: 'b3f1c9de-5a3e-4c51-9d7e-0f6f3b0b7a11',
    risk: [{ name: 'data_loss', severity: 'critical' }],
  },
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

const bytesOf = (value: unknown): Uint8Array => utf8ToBytes(JSON.stringify(value));
const envelope = (overrides: Record<string, unknown> = {}) => ({
  type: 'creto.notification',
  v: 1,
  id: 'n-1',
  kind: 'approval_required',
  recipient: approver,
  subject: 'Approval Required: x',
  body: 'b',
  ...overrides,
});

describe('notification payload', () => {
  it('round-trips through the versioned envelope, in canonical JSON', () => {
    const bytes = encodeNotificationPayload(notification);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"body":')).toBe(true); // RFC 8785: members sorted
    expect(JSON.parse(text)).toMatchObject({
      type: 'creto.notification',
      v: 1,
      trace_id: notification.traceId,
    });
    expect(decodeNotificationPayload(bytes)).toEqual(notification);
  });

  it('omits data and trace_id when absent, and decodes without them', () => {
    const { data: _data, traceId: _traceId, ...bare } = notification;
    const bytes = encodeNotificationPayload(bare);
    const json = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    expect('data' in json || 'trace_id' in json).toBe(false);
    expect(decodeNotificationPayload(bytes)).toEqual(bare);
  });

  it('property: every valid notification round-trips', () => {
    const text = fc
      .string({ maxLength: 40 })
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the wire forbids these; skip them
      .filter((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(s));
    fc.assert(
      fc.property(
        fc.record({
          id: fc.stringMatching(/^[!-~]{1,40}$/),
          kind: fc.stringMatching(/^[a-z_]{1,20}$/),
          recipient: text.filter((s) => s.length > 0),
          subject: text.filter((s) => s.length > 0 && !/[\r\n]/.test(s)),
          body: text,
          data: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
        }),
        (raw) => {
          const input: Notification = {
            id: raw.id,
            kind: raw.kind,
            recipient: raw.recipient,
            subject: raw.subject,
            body: raw.body,
            ...(raw.data === undefined ? {} : { data: JSON.parse(JSON.stringify(raw.data)) }),
          };
          expect(decodeNotificationPayload(encodeNotificationPayload(input))).toEqual(input);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses invalid notifications with OV-400 naming the field', () => {
    expectEnablementError(() => parseNotification({ ...notification, id: 'has space' }), 'OV-400', 'id');
    expectEnablementError(
      () => parseNotification({ ...notification, subject: 'two\nlines' }),
      'OV-400',
      'subject',
    );
    expectEnablementError(() => parseNotification({ ...notification, recipient: '' }), 'OV-400', 'recipient');
    expectEnablementError(() => parseNotification({ ...notification, body: 'bell\u0007' }), 'OV-400', 'body');
    expectEnablementError(
      () => parseNotification({ ...notification, data: { n: Number.NaN } }),
      'OV-400',
      'data',
    );
    expectEnablementError(() => parseNotification({ ...notification, data: new Date(0) }), 'OV-400', 'data');
    expectEnablementError(() => parseNotification(null), 'OV-400');
  });

  it('copies the input, so later mutation by the caller changes nothing', () => {
    const data = { count: 1 };
    const parsed = parseNotification({ ...notification, data });
    const bytes = encodeNotificationPayload(parsed);
    data.count = 2;
    expect(decodeNotificationPayload(bytes).data).toEqual({ count: 1 });
  });

  it('refuses a payload above the size bound when encoding', () => {
    const big = { ...notification, body: 'x'.repeat(2000) };
    expectEnablementError(() => encodeNotificationPayload(big, 1000), 'OV-400', 'more than 1000');
  });
});

describe('decodeNotificationPayload with hostile input', () => {
  const cases: [string, unknown, string][] = [
    ['not bytes', 'a string', 'Uint8Array'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'UTF-8'],
    ['truncated JSON', utf8ToBytes('{"type":"creto.notification","v":1,'), 'not JSON'],
    ['an array', bytesOf([1, 2]), 'object'],
    ['null', bytesOf(null), 'object'],
    ['the wrong type', bytesOf(envelope({ type: 'other' })), 'type'],
    ['a future version', bytesOf(envelope({ v: 2 })), 'version'],
    ['a version as a string', bytesOf(envelope({ v: '1' })), 'version'],
    ['an unknown member', bytesOf(envelope({ admin: true })), 'admin'],
    ['a missing subject', bytesOf(envelope({ subject: undefined })), 'subject'],
    ['a wrong-typed body', bytesOf(envelope({ body: 42 })), 'body'],
    ['a control character in the subject', bytesOf(envelope({ subject: 'a\u001bb' })), 'subject'],
    ['a too long id', bytesOf(envelope({ id: 'a'.repeat(129) })), 'id'],
    [
      'data nested too deep',
      bytesOf(envelope({ data: JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`) })),
      'data',
    ],
  ];
  for (const [name, input, message] of cases) {
    it(`refuses ${name} with OV-400`, () => {
      expectEnablementError(() => decodeNotificationPayload(input as Uint8Array), 'OV-400', message);
    });
  }

  it('refuses a payload over the bound before parsing it', () => {
    const huge = new Uint8Array(DEFAULT_MAX_NOTIFICATION_PAYLOAD_BYTES + 1).fill(0x20);
    expectEnablementError(() => decodeNotificationPayload(huge), 'OV-400', 'more than');
    expectEnablementError(
      () => decodeNotificationPayload(bytesOf(envelope()), { maxBytes: 10 }),
      'OV-400',
      '10',
    );
    expectEnablementError(
      () => decodeNotificationPayload(bytesOf(envelope()), { maxBytes: 0 }),
      'PL-400',
      'maxBytes',
    );
  });

  it('survives deeply nested JSON without blowing the stack', () => {
    const deep = utf8ToBytes(
      `{"type":"creto.notification","v":1,"data":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
    );
    expectEnablementError(() => decodeNotificationPayload(deep), 'OV-400');
  });

  it('keeps a __proto__ member as plain data, never as a prototype', () => {
    const text = JSON.stringify(envelope()).replace(/}$/, ',"data":{"__proto__":{"polluted":true}}}');
    const decoded = decodeNotificationPayload(utf8ToBytes(text));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(decoded.data)).toBe(Object.prototype);
  });

  it('property: random bytes never decode to anything but a notification or OV-400', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeNotificationPayload(bytes);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('OV-400');
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('describeRecipient', () => {
  it('shows only the origin of a URL (webhook paths often hold secrets)', () => {
    expect(describeRecipient('https://hooks.slack.com/services/T0/B0/s3cr3t')).toBe(
      'https://hooks.slack.com/…',
    );
    expect(describeRecipient('https://user:pw@example.com/x')).toBe('https://example.com/…');
  });

  it('cuts long recipients and keeps short ones', () => {
    expect(describeRecipient(approver)).toBe(approver);
    expect(describeRecipient('a'.repeat(300))).toHaveLength(128);
  });
});
