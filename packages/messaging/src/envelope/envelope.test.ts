import {
  AgentKeyPair,
  bytesToBase64url,
  createNhiRegistry,
  EnablementError,
  millisToNanos,
  registrationProof,
  type Uuid,
} from '@creto/core';
import { errorCodeOf, FakeClock, rejectionCodeOf } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertEnvelopeFresh,
  createEnvelope,
  createEnvelopeVerifier,
  createReplayGuard,
  decodeEnvelope,
  ENVELOPE_SIGNING_DOMAIN,
  encodeEnvelope,
  envelopeSigningBytes,
  MAX_CIPHERTEXT_BYTES,
  MAX_ENVELOPE_TTL_MS,
  type MessageEnvelope,
  REPLAY_WINDOW_MS,
  sealEnvelope,
  signEnvelope,
  verifyEnvelopeSender,
} from './index.js';

const seed = (n: number) => new Uint8Array(32).fill(n);
const alice = AgentKeyPair.fromSeed(seed(1), { postQuantum: true });
const bob = AgentKeyPair.fromSeed(seed(2), { postQuantum: true });
const mallory = AgentKeyPair.fromSeed(seed(3), { postQuantum: true });
const DAY_MS = 86_400_000;

async function setup() {
  const clock = new FakeClock();
  const nhi = createNhiRegistry({ clock });
  for (const pair of [alice, bob, mallory]) {
    await nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
  }
  return { clock, nhi };
}

const signed = (clock: FakeClock, extra: Partial<Parameters<typeof sealEnvelope>[0]> = {}) =>
  sealEnvelope({
    sender: alice,
    recipientNhi: bob.identity.nhi,
    timestamp: clock.now(),
    ttlMs: 60_000,
    ciphertext: Uint8Array.of(1, 2, 3, 4, 5),
    ...extra,
  });

describe('envelope codec', () => {
  const clock = new FakeClock();
  const envelope = signed(clock);

  it('round-trips through the snake_case wire shape', () => {
    const wire = encodeEnvelope(envelope);
    expect(wire).toMatchObject({
      version: 1,
      message_id: envelope.messageId,
      kind: 'message',
      sender_nhi: alice.identity.nhi,
      recipient_nhi: bob.identity.nhi,
      timestamp: clock.now().toString(),
      ttl_ms: 60_000,
      ciphertext: 'AQIDBAU',
    });
    expect(wire.signature).toHaveLength(Math.ceil((3373 * 4) / 3));
    const back = decodeEnvelope(JSON.parse(JSON.stringify(wire)));
    expect(back).toEqual(envelope);
    expect(Object.isFrozen(back)).toBe(true);
  });

  it('property: any valid field values round-trip', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.integer({ min: 1, max: MAX_ENVELOPE_TTL_MS }),
        fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
        fc.constantFrom('handshake' as const, 'message' as const),
        (ciphertext, ttlMs, timestamp, kind) => {
          const e = createEnvelope({
            kind,
            senderNhi: alice.identity.nhi,
            recipientNhi: bob.identity.nhi,
            timestamp,
            ttlMs,
            ciphertext,
          });
          expect(decodeEnvelope(JSON.parse(JSON.stringify(encodeEnvelope(e))))).toEqual(e);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects hostile wire input with MS-400 naming the field', () => {
    const wire = encodeEnvelope(envelope);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...wire, extra: 1 }, 'extra'],
      [{ ...wire, version: 2 }, 'version'],
      [{ ...wire, message_id: 'not-a-uuid' }, 'message_id'],
      [{ ...wire, kind: 'other' }, 'kind'],
      [{ ...wire, sender_nhi: 'agent:nhi:ed25519:xyz' }, 'sender_nhi'],
      [{ ...wire, timestamp: 123 }, 'timestamp'],
      [{ ...wire, timestamp: '01' }, 'timestamp'],
      [{ ...wire, ttl_ms: 0 }, 'ttl_ms'],
      [{ ...wire, ttl_ms: MAX_ENVELOPE_TTL_MS + 1 }, 'ttl_ms'],
      [{ ...wire, ciphertext: '' }, 'ciphertext'],
      [{ ...wire, ciphertext: 'AQIDBAU=' }, 'ciphertext'],
      [{ ...wire, ciphertext: 'AQIDBAV' }, 'ciphertext'], // non-canonical tail bits
      [{ ...wire, ciphertext: 'A'.repeat(Math.ceil((MAX_CIPHERTEXT_BYTES * 4) / 3) + 4) }, 'ciphertext'],
      [{ ...wire, signature: bytesToBase64url(new Uint8Array(64)) }, 'signature'],
    ];
    for (const [input, field] of cases) {
      let error: unknown;
      try {
        decodeEnvelope(input);
      } catch (e) {
        error = e;
      }
      expect(EnablementError.is(error) && error.code).toBe('MS-400');
      expect(String((error as Error).message)).toContain(field);
    }
    expect(() => decodeEnvelope(null)).toThrow(EnablementError);
    expect(() => decodeEnvelope('{}')).toThrow(EnablementError);
  });

  it('copies ciphertext: later changes to the caller buffer do not reach the envelope', () => {
    const buffer = Uint8Array.of(9, 9, 9);
    const e = createEnvelope({
      senderNhi: alice.identity.nhi,
      recipientNhi: bob.identity.nhi,
      timestamp: 1n,
      ciphertext: buffer,
    });
    buffer[0] = 0;
    expect(e.ciphertext[0]).toBe(9);
  });
});

describe('signing bytes', () => {
  const clock = new FakeClock();
  const envelope = signed(clock);

  it('are domain-separated JCS of the wire envelope without its signature', () => {
    const bytes = envelopeSigningBytes(envelope);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith(`${ENVELOPE_SIGNING_DOMAIN}\u0000{`)).toBe(true);
    expect(text).not.toContain('"signature"');
    expect(envelopeSigningBytes({ ...envelope, signature: undefined })).toEqual(bytes);
  });

  it('change when any field changes', () => {
    const base = envelopeSigningBytes(envelope);
    const variants: MessageEnvelope[] = [
      { ...envelope, messageId: '00000000-0000-4000-8000-000000000000' as Uuid },
      { ...envelope, kind: 'handshake' },
      { ...envelope, senderNhi: mallory.identity.nhi },
      { ...envelope, recipientNhi: mallory.identity.nhi },
      { ...envelope, timestamp: envelope.timestamp + 1n },
      { ...envelope, ttlMs: envelope.ttlMs + 1 },
      { ...envelope, ciphertext: Uint8Array.of(1, 2, 3, 4, 6) },
    ];
    for (const v of variants) expect(envelopeSigningBytes(v)).not.toEqual(base);
  });

  it('signEnvelope refuses a key pair that is not the sender or has no ML-DSA key', () => {
    expect(() => signEnvelope(envelope, mallory)).toThrow(/not the envelope sender/);
    const classical = AgentKeyPair.fromSeed(seed(1));
    expect(() => signEnvelope(envelope, classical)).toThrow(/ML-DSA-65/);
    expect(() => sealEnvelope({ sender: alice, kind: 'handshake', sign: false, ...base(clock) })).toThrow(
      /always signed/,
    );
  });
});

function base(clock: FakeClock) {
  return { recipientNhi: bob.identity.nhi, timestamp: clock.now(), ciphertext: Uint8Array.of(1) };
}

describe('freshness', () => {
  it('expires at timestamp + ttl against consensus time (MS-002)', () => {
    const e = createEnvelope({ senderNhi: alice.identity.nhi, ...base(new FakeClock()), ttlMs: 1000 });
    expect(() => assertEnvelopeFresh(e, e.timestamp + millisToNanos(999))).not.toThrow();
    expect(errorCodeOf(() => assertEnvelopeFresh(e, e.timestamp + millisToNanos(1000)))).toBe('MS-002');
  });

  it('rejects future-dated envelopes beyond the skew tolerance (PL-425)', () => {
    const e = createEnvelope({ senderNhi: alice.identity.nhi, ...base(new FakeClock()) });
    expect(() => assertEnvelopeFresh(e, e.timestamp - millisToNanos(100))).not.toThrow();
    expect(errorCodeOf(() => assertEnvelopeFresh(e, e.timestamp - millisToNanos(101)))).toBe('PL-425');
  });
});

describe('sender verification', () => {
  it('accepts a valid hybrid signature', async () => {
    const { clock, nhi } = await setup();
    expect(await verifyEnvelopeSender(signed(clock), nhi)).toBe('signature');
  });

  it('rejects a tampered field or signature with MS-001', async () => {
    const { clock, nhi } = await setup();
    const e = signed(clock);
    const sig = e.signature ?? new Uint8Array();
    const flippedEd = sig.slice();
    flippedEd[3] = (flippedEd[3] ?? 0) ^ 1;
    const flippedMl = sig.slice();
    flippedMl[2000] = (flippedMl[2000] ?? 0) ^ 1;
    const tampered: MessageEnvelope[] = [
      { ...e, ciphertext: Uint8Array.of(1, 2, 3, 4, 6) },
      { ...e, ttlMs: e.ttlMs + 1 },
      { ...e, timestamp: e.timestamp + 1n },
      { ...e, recipientNhi: mallory.identity.nhi },
      { ...e, kind: 'handshake' },
      { ...e, signature: flippedEd },
      { ...e, signature: flippedMl },
    ];
    for (const t of tampered) expect(await rejectionCodeOf(verifyEnvelopeSender(t, nhi))).toBe('MS-001');
  });

  it('rejects a sender whose signature or identity does not match (MS-001)', async () => {
    const { clock, nhi } = await setup();
    const e = signed(clock);
    // Mallory re-labels Alice's envelope as his, and signs one claiming to be Alice.
    expect(await rejectionCodeOf(verifyEnvelopeSender({ ...e, senderNhi: mallory.identity.nhi }, nhi))).toBe(
      'MS-001',
    );
    const forged = { ...createEnvelope({ senderNhi: alice.identity.nhi, ...base(clock) }) };
    const bytes = envelopeSigningBytes(forged);
    const { encodeHybridSignature } = await import('@creto/core');
    const withMallorySig = { ...forged, signature: encodeHybridSignature(mallory.signHybrid(bytes)) };
    expect(await rejectionCodeOf(verifyEnvelopeSender(withMallorySig, nhi))).toBe('MS-001');
    // An unregistered or revoked sender fails the same way.
    const stranger = AgentKeyPair.fromSeed(seed(9), { postQuantum: true });
    const fromStranger = sealEnvelope({ sender: stranger, ...base(clock) });
    expect(await rejectionCodeOf(verifyEnvelopeSender(fromStranger, nhi))).toBe('MS-001');
    await nhi.revoke(alice.identity.nhi);
    expect(await rejectionCodeOf(verifyEnvelopeSender(e, nhi))).toBe('MS-001');
  });

  it('applies the signature policy', async () => {
    const { clock, nhi } = await setup();
    const unsigned = sealEnvelope({ sender: alice, sign: false, ...base(clock) });
    expect(await rejectionCodeOf(verifyEnvelopeSender(unsigned, nhi))).toBe('MS-001');
    expect(await verifyEnvelopeSender(unsigned, nhi, 'handshake-only')).toBe('session');
    const handshake = { ...unsigned, kind: 'handshake' as const };
    expect(await rejectionCodeOf(verifyEnvelopeSender(handshake, nhi, 'handshake-only'))).toBe('MS-001');
    // A signature present is checked even when the policy would not require one.
    const bad = { ...signed(clock), ciphertext: Uint8Array.of(7) };
    expect(await rejectionCodeOf(verifyEnvelopeSender(bad, nhi, 'handshake-only'))).toBe('MS-001');
  });

  it('maps an unavailable NHI service to retryable MS-503', async () => {
    const { clock } = await setup();
    const down = {
      lookup: () => Promise.reject(new EnablementError('PL-503', 'down')),
      validateHybridSignature: () => Promise.reject(new EnablementError('PL-503', 'down')),
    };
    let error: unknown;
    try {
      await verifyEnvelopeSender(signed(clock), down);
    } catch (e) {
      error = e;
    }
    expect(EnablementError.is(error) && error.code).toBe('MS-503');
    expect(EnablementError.is(error) && error.retryable).toBe(true);
  });
});

describe('envelope verifier and replay guard', () => {
  it('verifies, then rejects a replay within 30 days and an expired envelope after', async () => {
    const { clock, nhi } = await setup();
    const replay = createReplayGuard({ clock, operation: 'receive_message' });
    const verifier = createEnvelopeVerifier({ nhi, clock, replay, recipientNhi: bob.identity.nhi });
    const e = signed(clock, { ttlMs: MAX_ENVELOPE_TTL_MS });
    const ok = await verifier.verify(e);
    expect(ok.authentication).toBe('signature');
    expect(await rejectionCodeOf(verifier.verify(e))).toBe('MS-003');
    await clock.advanceAsync(29 * DAY_MS);
    expect(await rejectionCodeOf(verifier.verify(e))).toBe('MS-003');
    await clock.advanceAsync(DAY_MS);
    // Past the window the id is forgotten, but the envelope's TTL (≤ window) has run out too.
    expect(await replay.seen(e.messageId)).toBe(false);
    expect(await rejectionCodeOf(verifier.verify(e))).toBe('MS-002');
    expect(REPLAY_WINDOW_MS).toBe(30 * DAY_MS);
  });

  it('does not burn the id of a forged envelope', async () => {
    const { clock, nhi } = await setup();
    const replay = createReplayGuard({ clock });
    const verifier = createEnvelopeVerifier({ nhi, clock, replay });
    const e = signed(clock);
    expect(await rejectionCodeOf(verifier.verify({ ...e, ciphertext: Uint8Array.of(0) }))).toBe('MS-001');
    expect((await verifier.verify(e)).envelope).toBe(e);
  });

  it('refuses an envelope addressed to someone else', async () => {
    const { clock, nhi } = await setup();
    const verifier = createEnvelopeVerifier({
      nhi,
      clock,
      replay: createReplayGuard({ clock }),
      recipientNhi: mallory.identity.nhi,
    });
    expect(await rejectionCodeOf(verifier.verify(signed(clock)))).toBe('MS-400');
  });

  it('is bounded: a full guard refuses new ids (MS-503) rather than forgetting live ones', async () => {
    const clock = new FakeClock();
    const replay = createReplayGuard({ clock, maxEntries: 2 });
    const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'] as Uuid[];
    for (const id of ids) await (await replay.reserve(id)).commit();
    expect(await rejectionCodeOf(replay.reserve('33333333-3333-4333-8333-333333333333' as Uuid))).toBe(
      'MS-503',
    );
    expect(await rejectionCodeOf(replay.reserve(ids[0] as Uuid))).toBe('MS-003');
    await clock.advanceAsync(REPLAY_WINDOW_MS);
    await (await replay.reserve('33333333-3333-4333-8333-333333333333' as Uuid)).commit();
  });

  it('released reservations free the id; concurrent reservations of one id conflict', async () => {
    const replay = createReplayGuard({ clock: new FakeClock() });
    const id = '44444444-4444-4444-8444-444444444444' as Uuid;
    const first = await replay.reserve(id);
    expect(await rejectionCodeOf(replay.reserve(id))).toBe('MS-003');
    await first.release();
    await (await replay.reserve(id)).commit();
    expect(await replay.seen(id)).toBe(true);
  });
});
