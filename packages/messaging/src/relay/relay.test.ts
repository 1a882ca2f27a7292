import {
  AgentKeyPair,
  auditEventDetail,
  createHybridLogicalClock,
  createInProcessEventBus,
  type DeliveryReceipt,
  decodeDeliveryReceipt,
  EnablementError,
  type EnablementMetrics,
  METRICS,
  SUBJECTS,
  type UnifiedAuditEvent,
} from '@creto/core';
import { FakeClock, rejectionCodeOf } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, MAX_ENVELOPE_TTL_MS, type MessageEnvelope } from '../envelope/index.js';
import { verifyDeliveryReceipt } from '../receipts/index.js';
import { relayConnectProofBytes } from '../transport/index.js';
import { createMessagingRelay, type MessagingRelayOptions } from './index.js';
import { alice, bob, carol, createRelayFixture, seed, service } from './relay.test-support.js';

const DAY_MS = 86_400_000;

/** One in-memory relay with an audit sink, over the shared fixture. */
async function setup(overrides: Partial<MessagingRelayOptions> = {}) {
  const f = await createRelayFixture();
  const relay = createMessagingRelay({ ...f.relayOptions(), audit: f.audit, ...overrides });
  const inbox = (pair: AgentKeyPair, handle?: (e: MessageEnvelope) => unknown) =>
    f.inbox(relay, pair, handle);
  return { ...f, relay, inbox };
}

describe('messaging relay: delivery', () => {
  it('delivers to a connected recipient, with a signed receipt and audit events', async () => {
    const t = await setup();
    const bobInbox = t.inbox(bob);
    await bobInbox.connect();
    const sender = await t.inbox(alice).connect();
    const e = t.envelope();
    const result = await sender.send(e);
    expect(result).toMatchObject({ messageId: e.messageId, status: 'delivered' });
    expect(bobInbox.got).toEqual([e]);
    expect(t.authzCalls).toEqual([
      { principal: alice.identity.nhi, action: 'messaging:send', resource: `agent:${bob.identity.nhi}` },
    ]);

    expect(t.published).toHaveLength(1);
    expect(t.published[0]?.subject).toBe(SUBJECTS.messagingDeliveryReceipts);
    expect(t.published[0]?.msgId).toBe(`${e.messageId}:delivered`);
    const [receipt] = t.receipts();
    expect(receipt).toMatchObject({
      messageId: e.messageId,
      recipientNhi: bob.identity.nhi,
      receiptType: 'delivered',
    });
    // Decoded with core's codec straight from the JSON too, and verifiable with the relay's key only.
    const viaCore = decodeDeliveryReceipt(JSON.parse(new TextDecoder().decode(t.published[0]?.data)));
    expect(verifyDeliveryReceipt(viaCore, service.identity)).toBe(true);
    expect(verifyDeliveryReceipt(viaCore, alice.identity)).toBe(false);
    const forged = { ...viaCore, recipientNhi: carol.identity.nhi } as DeliveryReceipt;
    expect(verifyDeliveryReceipt(forged, service.identity)).toBe(false);

    expect(t.kinds()).toEqual(['MessageSent', 'MessageDelivered']);
    const sent = auditEventDetail(t.auditEvents[0] as UnifiedAuditEvent);
    expect(sent).toMatchObject({ messageId: e.messageId, sender: alice.identity.nhi, encryptedSize: 3 });
    expect(t.errors).toEqual([]);
  });

  it('queues for an offline recipient, tells the sender, and delivers on connect', async () => {
    const t = await setup();
    const sender = await t.inbox(alice).connect();
    const first = t.envelope();
    const second = t.envelope({ ciphertext: Uint8Array.of(9) });
    expect((await sender.send(first)).status).toBe('queued');
    expect((await sender.send(second)).status).toBe('queued');
    expect(t.relay.queueDepth(bob.identity.nhi)).toBe(2);
    expect(t.receipts()).toEqual([]);

    const bobInbox = t.inbox(bob);
    await bobInbox.connect();
    await t.relay.whenIdle();
    expect(bobInbox.got.map((m) => m.messageId)).toEqual([first.messageId, second.messageId]);
    expect(t.relay.queueDepth(bob.identity.nhi)).toBe(0);
    expect(t.receipts().map((r) => r.receiptType)).toEqual(['delivered', 'delivered']);
  });

  it('keeps an envelope queued when the recipient handler fails, and redelivers later', async () => {
    const t = await setup();
    let failing = true;
    const bobInbox = t.inbox(bob, () => {
      if (failing) throw new Error('handler failed');
    });
    const bobTransport = await bobInbox.connect();
    const sender = await t.inbox(alice).connect();
    expect((await sender.send(t.envelope())).status).toBe('queued');
    expect(t.relay.queueDepth(bob.identity.nhi)).toBe(1);
    expect(t.errors).toHaveLength(1);
    await bobTransport.close();
    failing = false;
    await bobInbox.connect();
    await t.relay.whenIdle();
    expect(bobInbox.got).toHaveLength(1);
  });

  it('publishes read receipts only for messages delivered to the reader', async () => {
    const t = await setup();
    const bobTransport = await t.inbox(bob).connect();
    const carolTransport = await t.inbox(carol).connect();
    const sender = await t.inbox(alice).connect();
    const e = t.envelope();
    await sender.send(e);
    expect(await rejectionCodeOf(carolTransport.markRead(e.messageId))).toBe('MS-404');
    await bobTransport.markRead(e.messageId);
    expect(t.receipts().map((r) => r.receiptType)).toEqual(['delivered', 'read']);
    expect(await rejectionCodeOf(bobTransport.markRead(e.messageId))).toBe('MS-404');
  });

  it('works with core in-process event bus', async () => {
    const clock = new FakeClock();
    const bus = createInProcessEventBus({ clock });
    await bus.addStream({ name: 'RECEIPTS', subjects: [SUBJECTS.messagingDeliveryReceipts] });
    const t = await setup({ eventBus: bus });
    await t.inbox(bob).connect();
    await (await t.inbox(alice).connect()).send(t.envelope());
    expect((await bus.streamInfo('RECEIPTS')).state.messages).toBe(1);
    await bus.close();
  });
});

describe('messaging relay: refusals', () => {
  it('rejects an expired envelope (MS-002) and expires queued ones with a failed receipt', async () => {
    const t = await setup();
    const sender = await t.inbox(alice).connect();
    const old = t.envelope({ ttlMs: 1000 });
    await t.clock.advanceAsync(1000);
    expect(await rejectionCodeOf(sender.send(old))).toBe('MS-002');

    const queued = t.envelope({ ttlMs: 5000 });
    await sender.send(queued);
    await t.clock.advanceAsync(5000);
    await t.relay.whenIdle();
    await Promise.resolve();
    expect(await t.relay.sweepExpired()).toBe(0); // the clock timer already swept it
    expect(t.relay.queueDepth(bob.identity.nhi)).toBe(0);
    const failed = t.receipts().find((r) => r.messageId === queued.messageId);
    expect(failed).toMatchObject({ receiptType: 'failed' });
    expect(failed?.receiptType === 'failed' && failed.failureReason).toMatch(/expired/);
  });

  it('rejects a replay (MS-003) for 30 days; by then the TTL has run out too', async () => {
    const t = await setup();
    const sender = await t.inbox(alice).connect();
    await t.inbox(bob).connect();
    const e = t.envelope({ ttlMs: MAX_ENVELOPE_TTL_MS });
    expect((await sender.send(e)).status).toBe('delivered');
    expect(await rejectionCodeOf(sender.send(e))).toBe('MS-003');
    await t.clock.advanceAsync(29 * DAY_MS);
    expect(await rejectionCodeOf(sender.send(e))).toBe('MS-003');
    await t.clock.advanceAsync(DAY_MS);
    expect(await rejectionCodeOf(sender.send(e))).toBe('MS-002');
  });

  it('rejects tampered fields and signatures (MS-001) without burning the id', async () => {
    const t = await setup();
    const e = t.envelope();
    const wire = encodeEnvelope(e);
    const sig = e.signature ?? new Uint8Array();
    const badSig = sig.slice();
    badSig[100] = (badSig[100] ?? 0) ^ 0x40;
    const tampered = [
      { ...wire, ciphertext: 'AQID_w' },
      { ...wire, ttl_ms: wire.ttl_ms + 1 },
      { ...wire, recipient_nhi: carol.identity.nhi },
      { ...wire, kind: 'handshake' as const },
      encodeEnvelope({ ...e, signature: badSig }),
      encodeEnvelope({ ...e, signature: undefined }),
    ];
    for (const w of tampered)
      expect(await rejectionCodeOf(t.relay.submit(alice.identity.nhi, w))).toBe('MS-001');
    expect((await t.relay.submit(alice.identity.nhi, wire)).status).toBe('queued');
    expect(t.kinds()).toEqual(['MessageSent']);
  });

  it('rejects a sender that is not the connected principal, or a forged claimed sender (MS-001)', async () => {
    const t = await setup();
    const carolTransport = await t.inbox(carol).connect();
    expect(await rejectionCodeOf(carolTransport.send(t.envelope()))).toBe('MS-001'); // Alice's envelope via Carol
    const wire = encodeEnvelope(t.envelope());
    expect(
      await rejectionCodeOf(t.relay.submit(carol.identity.nhi, { ...wire, sender_nhi: carol.identity.nhi })),
    ).toBe('MS-001');
  });

  it('refuses delivery when authz denies (MS-403), leaving the id free', async () => {
    const t = await setup();
    const sender = await t.inbox(alice).connect();
    const e = t.envelope();
    t.denied.add(alice.identity.nhi);
    expect(await rejectionCodeOf(sender.send(e))).toBe('MS-403');
    expect(t.relay.queueDepth(bob.identity.nhi)).toBe(0);
    expect(t.auditEvents).toEqual([]);
    t.denied.clear();
    expect((await sender.send(e)).status).toBe('queued');
  });

  it('maps an authz outage to retryable MS-503 and an unknown recipient to MS-404', async () => {
    const t = await setup({
      authz: { check: () => Promise.reject(new EnablementError('PL-503', 'down')) },
    });
    const sender = await t.inbox(alice).connect();
    expect(await rejectionCodeOf(sender.send(t.envelope()))).toBe('MS-503');
    const stranger = AgentKeyPair.fromSeed(seed(8));
    expect(await rejectionCodeOf(sender.send(t.envelope({ recipientNhi: stranger.identity.nhi })))).toBe(
      'MS-404',
    );
  });

  it('bounds queues per recipient and in total (MS-413) and never drops accepted envelopes', async () => {
    const t = await setup({ maxQueuePerRecipient: 2, maxQueuedTotal: 3 });
    const sender = await t.inbox(alice).connect();
    const toBob = [t.envelope(), t.envelope(), t.envelope()];
    expect((await sender.send(toBob[0] as MessageEnvelope)).status).toBe('queued');
    expect((await sender.send(toBob[1] as MessageEnvelope)).status).toBe('queued');
    expect(await rejectionCodeOf(sender.send(toBob[2] as MessageEnvelope))).toBe('MS-413');
    await sender.send(t.envelope({ recipientNhi: carol.identity.nhi }));
    expect(await rejectionCodeOf(sender.send(t.envelope({ recipientNhi: carol.identity.nhi })))).toBe(
      'MS-413',
    );
    expect(t.relay.stats()).toMatchObject({ queued: 3, recipients: 2 });

    const bobInbox = t.inbox(bob);
    await bobInbox.connect();
    await t.relay.whenIdle();
    expect(bobInbox.got.map((m) => m.messageId)).toEqual([toBob[0]?.messageId, toBob[1]?.messageId]);
    // The refused one was never recorded: it can be sent now that there is room.
    expect((await sender.send(toBob[2] as MessageEnvelope)).status).toBe('delivered');
  });
});

describe('messaging relay: handshake-only policy and connections', () => {
  it('requires a signed handshake for the pair before unsigned envelopes', async () => {
    const t = await setup({ signaturePolicy: 'handshake-only' });
    const sender = await t.inbox(alice).connect();
    const unsigned = () => t.envelope({ sign: false });
    expect(await rejectionCodeOf(sender.send(unsigned()))).toBe('MS-001');
    // An unsigned handshake (built by hand: sealEnvelope refuses to) is refused too.
    const unsignedHandshake = encodeEnvelope({ ...unsigned(), kind: 'handshake' });
    expect(await rejectionCodeOf(t.relay.submit(alice.identity.nhi, unsignedHandshake))).toBe('MS-001');
    await sender.send(t.envelope({ kind: 'handshake' }));
    expect((await sender.send(unsigned())).status).toBe('queued');
    // Bob may answer unsigned inside the same session; Carol may not.
    const bobTransport = await t.inbox(bob).connect();
    expect(
      (await bobTransport.send(t.envelope({ sender: bob, recipientNhi: alice.identity.nhi, sign: false })))
        .status,
    ).toBe('delivered');
    expect(t.kinds()).toContain('SessionEstablished');
    const carolTransport = await t.inbox(carol).connect();
    expect(
      await rejectionCodeOf(
        carolTransport.send(t.envelope({ sender: carol, recipientNhi: bob.identity.nhi, sign: false })),
      ),
    ).toBe('MS-001');
  });

  it('requires a fresh single-use challenge signed by the NHI key to connect', async () => {
    const t = await setup();
    const nhi = alice.identity.nhi;
    const challenge = await t.relay.challenge(nhi);
    const deliver = () => undefined;
    const wrongKey = carol.sign(relayConnectProofBytes(nhi, challenge));
    expect(await rejectionCodeOf(t.relay.connect({ nhi, challenge, signature: wrongKey }, deliver))).toBe(
      'MS-001',
    );
    // The challenge is spent even by a failed attempt.
    const good = alice.sign(relayConnectProofBytes(nhi, challenge));
    expect(await rejectionCodeOf(t.relay.connect({ nhi, challenge, signature: good }, deliver))).toBe(
      'MS-001',
    );
    const fresh = await t.relay.challenge(nhi);
    await t.clock.advanceAsync(30_000);
    const late = alice.sign(relayConnectProofBytes(nhi, fresh));
    expect(await rejectionCodeOf(t.relay.connect({ nhi, challenge: fresh, signature: late }, deliver))).toBe(
      'MS-001',
    );
    expect(await rejectionCodeOf(t.relay.challenge('not-an-nhi'))).toBe('MS-400');
  });

  it('validates its options', async () => {
    const t = await setup();
    const base = {
      authz: { check: async () => ({ decision: 'allow' as const, reason: '', policyIds: [] }) },
    };
    const clock = t.clock;
    const consensus = createHybridLogicalClock({ clock });
    expect(() =>
      createMessagingRelay({
        ...base,
        nhi: t.nhi,
        clock,
        consensus,
        serviceKey: AgentKeyPair.fromSeed(seed(5)),
      }),
    ).toThrow(/serviceKey/);
    expect(() =>
      createMessagingRelay({ ...base, nhi: t.nhi, clock, consensus, serviceKey: service, maxQueuedTotal: 0 }),
    ).toThrow(/maxQueuedTotal/);
  });
});

describe('messaging relay: metrics', () => {
  it('counts sent messages and records delivery latency under the spec §10.2 metrics', async () => {
    const recorded: [string, number, Record<string, unknown>][] = [];
    const metrics = {
      messagingMessagesSent: {
        add: (value: number, labels: Record<string, unknown>) =>
          recorded.push([METRICS.messagingMessagesSent.name, value, labels]),
      },
      messagingDeliveryLatency: {
        record: (value: number, labels: Record<string, unknown>) =>
          recorded.push([METRICS.messagingDeliveryLatency.name, value, labels]),
      },
    } as unknown as EnablementMetrics;
    const t = await setup({ metrics });
    const sender = await t.inbox(alice).connect();
    await sender.send(t.envelope());
    await t.clock.advanceAsync(1500);
    await t.inbox(bob).connect();
    await t.relay.whenIdle();
    expect(recorded[0]).toEqual(['messaging_messages_sent_total', 1, { protocol: 'double_ratchet' }]);
    expect(recorded[1]?.[0]).toBe('messaging_delivery_latency_seconds');
    expect(recorded[1]?.[1]).toBeCloseTo(1.5, 2);
    expect(recorded[1]?.[2]).toEqual({ channel_type: 'direct' });
  });
});
