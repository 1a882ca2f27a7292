/**
 * End to end: two agents on the real platform services (`createPlatform`), the real relay and the
 * in-process transport. The README's two-agent example is this test, trimmed.
 */
import { AgentKeyPair, base64urlToBytes, createPlatform, registrationProof, utf8ToBytes } from '@creto/core';
import { FakeClock, rejectionCodeOf } from '@creto/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createMessagingClient, type ReceivedMessage } from './client/index.js';
import type { MessageEnvelopeWire } from './envelope/index.js';
import { decodeDeliveryReceiptPayload, verifyDeliveryReceipt } from './receipts/index.js';
import { createMessagingRelay } from './relay/index.js';
import { createInMemorySessionStore } from './session/index.js';
import { connectInProcessTransport, type RelayEndpoint } from './transport/index.js';

const text = (s: string) => utf8ToBytes(s);
const read = (m: ReceivedMessage) => new TextDecoder().decode(m.payload);

/** True when `needle` occurs anywhere in `haystack`. */
function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const disposers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) await dispose();
});

async function setup() {
  // --- platform: NHI registry, policy engine, audit log, consensus clock -----------------------
  const clock = new FakeClock();
  const platform = createPlatform({ clock });
  platform.authz.setPolicies([
    {
      id: 'agents-may-message-agents',
      effect: 'permit',
      action: 'messaging:send',
      resource: 'agent:*',
      when: { attr: 'principal.roles', op: 'contains', value: 'messenger' },
    },
  ]);
  const alice = AgentKeyPair.generate({ postQuantum: true });
  const bob = AgentKeyPair.generate({ postQuantum: true });
  const carol = AgentKeyPair.generate({ postQuantum: true }); // registered, but not a messenger
  for (const [pair, roles] of [
    [alice, ['messenger']],
    [bob, ['messenger']],
    [carol, []],
  ] as const) {
    await platform.nhi.register({
      identity: pair.identity,
      proof: registrationProof(pair),
      roles: [...roles],
    });
  }

  // --- relay: authz, NHI, consensus time, a hybrid service key that signs receipts ------------
  const relayKey = AgentKeyPair.generate({ kind: 'service', postQuantum: true });
  const published: Uint8Array[] = [];
  const relay = createMessagingRelay({
    authz: platform.authz,
    nhi: platform.nhi,
    clock,
    consensus: platform.consensus,
    serviceKey: relayKey,
    audit: platform.audit,
    eventBus: {
      async publish(_subject, data) {
        published.push(data);
        return { stream: 'RECEIPTS', seq: published.length, duplicate: false };
      },
    },
  });
  // What crosses the relay's port: every envelope submitted to it and every one it hands out.
  const seenByRelay: MessageEnvelopeWire[] = [];
  const endpoint: RelayEndpoint = {
    challenge: (nhi) => relay.challenge(nhi),
    async connect(request, deliver) {
      const connection = await relay.connect(request, (wire) => {
        seenByRelay.push(structuredClone(wire));
        return deliver(wire);
      });
      return {
        nhi: connection.nhi,
        submit: (wire) => {
          seenByRelay.push(structuredClone(wire));
          return connection.submit(wire);
        },
        markRead: (id) => connection.markRead(id),
        close: () => connection.close(),
      };
    },
  };

  // --- clients ---------------------------------------------------------------------------------
  const stores = new Map([alice, bob, carol].map((pair) => [pair, createInMemorySessionStore()]));
  const start = async (pair: AgentKeyPair) => {
    const inbox: ReceivedMessage[] = [];
    const client = await createMessagingClient({
      identity: pair, // identityDhKey defaults to pair.x25519KeyPair()
      nhi: platform.nhi,
      transport: (onEnvelope) => connectInProcessTransport({ relay: endpoint, keyPair: pair, onEnvelope }),
      sessionStore: stores.get(pair) ?? createInMemorySessionStore(),
      clock,
    });
    client.onMessage((m) => inbox.push(m));
    disposers.push(() => client.close());
    return { client, inbox };
  };
  disposers.push(
    () => relay.close(),
    () => platform.dispose(),
  );
  const receipts = () => published.map((data) => decodeDeliveryReceiptPayload(data));
  return { clock, platform, relay, relayKey, alice, bob, carol, start, seenByRelay, receipts };
}

describe('two agents through the real relay', () => {
  it('handshakes, exchanges messages in order, and the relay only sees ciphertext', async () => {
    const t = await setup();
    const a = await t.start(t.alice);
    const b = await t.start(t.bob);

    const outgoing = ['hello bob', 'invoice 42 is approved', 'please confirm'];
    for (const m of outgoing) await a.client.send(b.client.nhi, text(m));
    await t.relay.whenIdle();
    expect(b.inbox.map(read)).toEqual(outgoing);
    expect(b.inbox.every((m) => m.sender === a.client.nhi)).toBe(true);

    await b.client.send(a.client.nhi, text('confirmed'));
    await a.client.send(b.client.nhi, text('thanks'));
    await t.relay.whenIdle();
    expect(a.inbox.map(read)).toEqual(['confirmed']);
    expect(b.inbox.map(read)).toEqual([...outgoing, 'thanks']);

    // The first envelope is the PQXDH handshake; Bob's reply is an ordinary ratchet message.
    const submitted = t.seenByRelay.filter(
      (w, i, all) => all.findIndex((x) => x.message_id === w.message_id) === i,
    );
    expect(submitted[0]?.kind).toBe('handshake');
    expect(submitted.find((w) => w.sender_nhi === b.client.nhi)?.kind).toBe('message');

    // The relay never saw a plaintext: not in the ciphertext bytes, not anywhere in the wire JSON.
    expect(t.seenByRelay.length).toBeGreaterThanOrEqual(10);
    for (const plain of [...outgoing, 'confirmed', 'thanks']) {
      for (const wire of t.seenByRelay) {
        expect(containsBytes(base64urlToBytes(wire.ciphertext), text(plain))).toBe(false);
        expect(JSON.stringify(wire)).not.toContain(plain);
      }
    }
  });

  it('publishes signed delivery and read receipts', async () => {
    const t = await setup();
    const a = await t.start(t.alice);
    const b = await t.start(t.bob);
    const id = await a.client.send(b.client.nhi, text('ping'));
    await t.relay.whenIdle();
    const received = b.inbox[0];
    expect(received?.messageId).toBe(id);
    await b.client.markRead(id);

    const receipts = t.receipts().filter((r) => r.messageId === id);
    expect(receipts.map((r) => r.receiptType)).toEqual(['delivered', 'read']);
    for (const receipt of receipts) {
      expect(receipt.recipientNhi).toBe(b.client.nhi);
      expect(verifyDeliveryReceipt(receipt, t.relayKey.identity)).toBe(true);
      expect(verifyDeliveryReceipt(receipt, t.alice.identity)).toBe(false);
    }
  });

  it('refuses a sender the policies do not permit with MS-403', async () => {
    const t = await setup();
    await t.start(t.bob);
    const c = await t.start(t.carol);
    expect(await rejectionCodeOf(c.client.send(t.bob.identity.nhi, text('let me in')))).toBe('MS-403');
    expect(
      t.platform.authz.evaluate({
        principal: t.carol.identity.nhi,
        action: 'messaging:send',
        resource: `agent:${t.bob.identity.nhi}`,
      }).decision,
    ).toBe('deny');
    expect(t.relay.queueDepth(t.bob.identity.nhi)).toBe(0);
  });

  it('queues for an offline recipient and delivers on connect', async () => {
    const t = await setup();
    const a = await t.start(t.alice);
    const b1 = await t.start(t.bob); // publishes Bob's prekey bundle
    await a.client.send(t.bob.identity.nhi, text('first'));
    await t.relay.whenIdle();
    expect(b1.inbox.map(read)).toEqual(['first']);
    await b1.client.close(); // Bob goes offline

    await a.client.send(t.bob.identity.nhi, text('while you were away 1'));
    await a.client.send(t.bob.identity.nhi, text('while you were away 2'));
    expect(t.relay.queueDepth(t.bob.identity.nhi)).toBe(2);

    const b2 = await t.start(t.bob); // same session store: the session survives the restart
    await t.relay.whenIdle();
    expect(b2.inbox.map(read)).toEqual(['while you were away 1', 'while you were away 2']);
    expect(t.relay.queueDepth(t.bob.identity.nhi)).toBe(0);
  });
});
