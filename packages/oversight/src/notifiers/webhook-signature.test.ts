import { EnablementError, utf8ToBytes } from '@creto/core';
import { expectEnablementError, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseWebhookSecret, signWebhookPayload, verifyWebhookSignature } from './index.js';

// The published Standard Webhooks test vector.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const S = 1_000_000_000n;
const clockAt = (seconds: number) => new FakeClock({ start: BigInt(seconds) * S });
const headers = (overrides: Record<string, string | string[] | undefined> = {}) => ({
  'webhook-id': ID,
  'webhook-timestamp': String(TIMESTAMP),
  'webhook-signature': SIGNATURE,
  ...overrides,
});

describe('signWebhookPayload', () => {
  it('reproduces the Standard Webhooks test vector', () => {
    expect(signWebhookPayload({ secret: SECRET, id: ID, timestamp: TIMESTAMP, body: BODY })).toBe(SIGNATURE);
    const key = parseWebhookSecret(SECRET);
    expect(signWebhookPayload({ secret: key, id: ID, timestamp: TIMESTAMP, body: utf8ToBytes(BODY) })).toBe(
      SIGNATURE,
    );
  });

  it('refuses bad ids and timestamps', () => {
    expectEnablementError(
      () => signWebhookPayload({ secret: SECRET, id: 'a b', timestamp: 1, body: '' }),
      'PL-400',
      'id',
    );
    expectEnablementError(
      () => signWebhookPayload({ secret: SECRET, id: 'a', timestamp: 1.5, body: '' }),
      'PL-400',
      'timestamp',
    );
  });
});

describe('parseWebhookSecret', () => {
  it('accepts whsec_ + base64 and raw bytes of 16 to 1024 bytes', () => {
    expect(parseWebhookSecret(SECRET)).toHaveLength(24);
    expect(parseWebhookSecret(new Uint8Array(16))).toHaveLength(16);
  });

  it('refuses anything else without echoing it', () => {
    for (const bad of [
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', // no prefix
      'whsec_not*base64*at*all',
      'whsec_c2hvcnQ=', // 5 bytes
      new Uint8Array(15),
      42,
      undefined,
    ]) {
      const error = expectEnablementError(() => parseWebhookSecret(bad), 'PL-400', 'secret');
      if (typeof bad === 'string') expect(JSON.stringify(error.toJSON()) + error.message).not.toContain(bad);
    }
  });
});

describe('verifyWebhookSignature', () => {
  it('accepts the test vector within the tolerance and returns id and timestamp', () => {
    const verified = verifyWebhookSignature({
      secret: SECRET,
      headers: headers(),
      body: BODY,
      clock: clockAt(TIMESTAMP + 299),
    });
    expect(verified).toEqual({ id: ID, timestamp: TIMESTAMP });
  });

  it('reads fetch Headers and Node-style records case-insensitively', () => {
    const clock = clockAt(TIMESTAMP);
    expect(
      verifyWebhookSignature({ secret: SECRET, headers: new Headers(headers()), body: BODY, clock }).id,
    ).toBe(ID);
    const mixed = {
      'Webhook-Id': ID,
      'WEBHOOK-TIMESTAMP': [String(TIMESTAMP)],
      'webhook-signature': SIGNATURE,
    };
    expect(verifyWebhookSignature({ secret: SECRET, headers: mixed, body: BODY, clock }).id).toBe(ID);
  });

  it('accepts any matching v1 entry (key rotation) and ignores other versions', () => {
    const clock = clockAt(TIMESTAMP);
    const rotated = headers({ 'webhook-signature': `v1a,abcd v1,bm9wZQ== ${SIGNATURE}` });
    expect(verifyWebhookSignature({ secret: SECRET, headers: rotated, body: BODY, clock }).id).toBe(ID);
    const onlyOther = headers({ 'webhook-signature': SIGNATURE.replace('v1,', 'v2,') });
    expectEnablementError(
      () => verifyWebhookSignature({ secret: SECRET, headers: onlyOther, body: BODY, clock }),
      'PL-401',
      'no webhook-signature entry matches',
    );
  });

  const rejections: [string, Record<string, string | string[] | undefined>, string, number?][] = [
    ['a tampered body', headers(), 'matches', TIMESTAMP],
    ['an old timestamp', headers(), 'tolerance', TIMESTAMP + 301],
    ['a timestamp from the future', headers(), 'tolerance', TIMESTAMP - 301],
    ['a missing id', headers({ 'webhook-id': undefined }), 'missing webhook-id'],
    ['a missing timestamp', headers({ 'webhook-timestamp': undefined }), 'missing webhook-timestamp'],
    ['a missing signature', headers({ 'webhook-signature': undefined }), 'missing webhook-signature'],
    ['a malformed timestamp', headers({ 'webhook-timestamp': '1614265330.5' }), 'malformed'],
    ['a repeated header', headers({ 'webhook-id': [ID, 'other'] }), 'more than one'],
    [
      'a forged timestamp (signed for another)',
      headers({ 'webhook-timestamp': String(TIMESTAMP + 1) }),
      'matches',
    ],
    ['a forged id', headers({ 'webhook-id': 'msg_other' }), 'matches'],
    ['a truncated signature', headers({ 'webhook-signature': SIGNATURE.slice(0, -4) }), 'matches'],
    ['a huge signature header', headers({ 'webhook-signature': 'v1,x '.repeat(5000) }), 'longer than'],
  ];
  for (const [name, h, message, now] of rejections) {
    it(`refuses ${name} with PL-401`, () => {
      const body = name === 'a tampered body' ? BODY.replace('2432232314', '2432232315') : BODY;
      expectEnablementError(
        () => verifyWebhookSignature({ secret: SECRET, headers: h, body, clock: clockAt(now ?? TIMESTAMP) }),
        'PL-401',
        message,
      );
    });
  }

  it('refuses a signature made with another secret', () => {
    const other = `whsec_${btoa('another secret, 24 bytes')}`;
    const signature = signWebhookPayload({ secret: other, id: ID, timestamp: TIMESTAMP, body: BODY });
    expectEnablementError(
      () =>
        verifyWebhookSignature({
          secret: SECRET,
          headers: headers({ 'webhook-signature': signature }),
          body: BODY,
          clock: clockAt(TIMESTAMP),
        }),
      'PL-401',
    );
  });

  it('refuses bad arguments with PL-400, never echoing the secret', () => {
    const clock = clockAt(TIMESTAMP);
    expectEnablementError(
      () => verifyWebhookSignature({ secret: SECRET, headers: headers(), body: 5 as never, clock }),
      'PL-400',
      'body',
    );
    expectEnablementError(
      () =>
        verifyWebhookSignature({ secret: SECRET, headers: headers(), body: BODY, clock, toleranceMs: -1 }),
      'PL-400',
      'toleranceMs',
    );
    expectEnablementError(
      () => verifyWebhookSignature({ secret: SECRET, headers: null as never, body: BODY, clock }),
      'PL-400',
      'headers',
    );
    const error = expectEnablementError(
      () => verifyWebhookSignature({ secret: 'whsec_!!', headers: headers(), body: BODY, clock }),
      'PL-400',
    );
    expect(error.message).not.toContain('whsec_!!');
  });

  it('property: what the signer signs verifies, and any changed byte of the body does not', () => {
    const clock = clockAt(TIMESTAMP);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.nat(), (body, index) => {
        const signature = signWebhookPayload({ secret: SECRET, id: ID, timestamp: TIMESTAMP, body });
        const h = headers({ 'webhook-signature': signature });
        expect(verifyWebhookSignature({ secret: SECRET, headers: h, body, clock }).id).toBe(ID);
        const tampered = body.slice();
        const i = index % tampered.length;
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        let code: string | undefined;
        try {
          verifyWebhookSignature({ secret: SECRET, headers: h, body: tampered, clock });
        } catch (error) {
          code = EnablementError.is(error) ? error.code : 'other';
        }
        expect(code).toBe('PL-401');
      }),
      { numRuns: 100 },
    );
  });
});
