import {
  AgentKeyPair,
  type Clock,
  createNhiRegistry,
  nobleCryptoProvider as provider,
  registrationProof,
  utf8ToBytes,
} from '@creto/core';
import { describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '../envelope/index.js';
import { createInMemorySessionStore, type SessionStore } from '../session/store.js';
import type { MessageTransport } from '../transport/index.js';
import { createMessagingClient, type MessagingClient } from './client.js';

const clock: Clock = { now: () => 1_700_000_000_000_000_000n, schedule: () => () => {} };
const code = (c: string) => expect.objectContaining({ code: c });
const text = (s: string) => utf8ToBytes(s);

/** A fake relay: records envelopes per recipient; tests deliver them in any order. */
function network() {
  const inbox = new Map<string, MessageEnvelope[]>();
  const transport = (nhi: string): MessageTransport => ({
    nhi,
    async send(envelope) {
      const list = inbox.get(envelope.recipientNhi) ?? [];
      list.push(envelope);
      inbox.set(envelope.recipientNhi, list);
      return { messageId: envelope.messageId, status: 'queued', acceptedAt: clock.now() };
    },
    async markRead() {},
    async close() {},
  });
  const take = (nhi: string) => {
    const list = inbox.get(nhi) ?? [];
    inbox.set(nhi, []);
    return list;
  };
  return { transport, take };
}

async function setup(oneTimePrekeys = 3) {
  const nhi = createNhiRegistry({ provider });
  const net = network();
  const agents = await Promise.all(
    [1, 2, 3].map(async (n) => {
      const seed = new Uint8Array(32).fill(n);
      const keyPair = AgentKeyPair.fromSeed(seed, { postQuantum: true });
      await nhi.register({ identity: keyPair.identity, proof: registrationProof(keyPair) });
      return { seed, keyPair, store: createInMemorySessionStore() };
    }),
  );
  const start = (i: number, store?: SessionStore) => {
    const agent = agents[i];
    if (agent === undefined) throw new Error('no agent');
    return createMessagingClient({
      identity: agent.keyPair,
      // Agent 0 passes its X25519 identity key explicitly; the others use the default.
      ...(i === 0 ? { identityDhKey: agent.keyPair.x25519KeyPair() } : {}),
      nhi,
      transport: net.transport(agent.keyPair.identity.nhi),
      sessionStore: store ?? agent.store,
      clock,
      provider,
      signaturePolicy: 'handshake-only',
      oneTimePrekeys,
      replenishBelow: 1,
    });
  };
  return { nhi, net, agents, start };
}

async function pump(net: ReturnType<typeof network>, client: MessagingClient) {
  const out = [];
  for (const envelope of net.take(client.nhi)) out.push(await client.receive(envelope));
  return out;
}

describe('MessagingClient', () => {
  it('opens a PQXDH session, exchanges messages both ways, delivers to callback and iterator', async () => {
    const { net, start } = await setup();
    const alice = await start(0);
    const bob = await start(1);
    const seen: string[] = [];
    bob.onMessage((m) => seen.push(new TextDecoder().decode(m.payload)));
    const id = await alice.send(bob.nhi, text('hi bob'), { ttlMs: 60_000 });
    await alice.send(bob.nhi, text('second'));
    const received = await pump(net, bob);
    expect(received.map((m) => m.messageId)[0]).toBe(id);
    expect(seen).toEqual(['hi bob', 'second']);
    const iterator = bob.messages();
    expect((await iterator.next()).value?.sender).toBe(alice.nhi);
    await bob.send(alice.nhi, text('hi alice'));
    expect((await pump(net, alice))[0]?.payload).toEqual(text('hi alice'));
    await alice.send(bob.nhi, text('third'));
    const [third] = net.take(bob.nhi);
    expect(third?.kind).toBe('message'); // session confirmed: no more handshake
    if (third === undefined) throw new Error('missing');
    await bob.receive(third);
    await expect(bob.receive(third)).rejects.toThrow(code('MS-003')); // replayed envelope
    await bob.close();
    expect((await iterator.next()).done).toBe(false); // buffered second message still readable
  });

  it('sendMessage reports the relay status (queued for an offline recipient) with the message id', async () => {
    const { net, start } = await setup();
    const alice = await start(0);
    const bob = await start(1);
    const result = await alice.sendMessage(bob.nhi, text('are you there?'));
    expect(result.status).toBe('queued');
    expect(result.acceptedAt).toBe(clock.now());
    const [received] = await pump(net, bob);
    expect(received?.messageId).toBe(result.messageId);
    expect(received?.payload).toEqual(text('are you there?'));
    await expect(alice.sendMessage('not-an-nhi', text('x'))).rejects.toThrow();
  });

  it('continues every session after a restart (serialize, drop objects, reload)', async () => {
    const { net, start } = await setup();
    let alice = await start(0);
    let bob = await start(1);
    await alice.send(bob.nhi, text('1'));
    await pump(net, bob);
    await bob.send(alice.nhi, text('2'));
    await alice.send(bob.nhi, text('in flight'));
    // both processes restart, sessions reloaded from their stores
    alice = await start(0);
    bob = await start(1);
    expect((await pump(net, alice))[0]?.payload).toEqual(text('2'));
    expect((await pump(net, bob))[0]?.payload).toEqual(text('in flight'));
    await bob.send(alice.nhi, text('after restart'));
    expect((await pump(net, alice))[0]?.payload).toEqual(text('after restart'));
  });

  it('falls back to the last-resort KEM prekey when one-time prekeys are exhausted', async () => {
    const { nhi, net, start, agents } = await setup(1);
    const bob = await start(1);
    const alice = await start(0);
    const carol = await start(2);
    await alice.send(bob.nhi, text('from alice')); // uses the only one-time prekeys
    const bobNhi = agents[1]?.keyPair.identity.nhi ?? '';
    expect((await nhi.prekeyCounts(bobNhi)).oneTimeKemPrekeys).toBe(0);
    await carol.send(bob.nhi, text('from carol')); // last-resort path
    const got = await pump(net, bob);
    expect(got.map((m) => new TextDecoder().decode(m.payload)).sort()).toEqual(['from alice', 'from carol']);
    await new Promise((r) => setTimeout(r, 50));
    expect((await nhi.prekeyCounts(bobNhi)).oneTimeKemPrekeys).toBeGreaterThan(0); // replenished
  });

  it('concurrent sends from both sides (simultaneous session setup) all decrypt', async () => {
    const { net, start } = await setup();
    const alice = await start(0);
    const bob = await start(1);
    await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => alice.send(bob.nhi, text(`a${i}`))),
      ...Array.from({ length: 5 }, (_, i) => bob.send(alice.nhi, text(`b${i}`))),
    ]);
    const toBob = await pump(net, bob);
    const toAlice = await pump(net, alice);
    expect(toBob.map((m) => new TextDecoder().decode(m.payload)).sort()).toEqual([
      'a0',
      'a1',
      'a2',
      'a3',
      'a4',
    ]);
    expect(toAlice.map((m) => new TextDecoder().decode(m.payload)).sort()).toEqual([
      'b0',
      'b1',
      'b2',
      'b3',
      'b4',
    ]);
    // and the conversation continues both ways afterwards
    await alice.send(bob.nhi, text('later'));
    expect((await pump(net, bob))[0]?.payload).toEqual(text('later'));
    await bob.send(alice.nhi, text('later too'));
    expect((await pump(net, alice))[0]?.payload).toEqual(text('later too'));
  });

  it('rejects a message delivered to the wrong recipient, and a corrupt stored session', async () => {
    const { net, start, agents } = await setup();
    const alice = await start(0);
    const bob = await start(1);
    const carol = await start(2);
    await alice.send(bob.nhi, text('for bob'));
    const [envelope] = net.take(bob.nhi);
    if (envelope === undefined) throw new Error('missing');
    await expect(carol.receive(envelope)).rejects.toThrow(); // addressed to bob
    await bob.receive(envelope);
    const store = agents[0]?.store;
    if (store === undefined) throw new Error('missing');
    await store.set(`session:${bob.nhi}`, text('{"type":"creto.messaging.session-record","version":1'));
    await expect(alice.send(bob.nhi, text('x'))).rejects.toThrow(code('MS-400'));
  });

  it('refuses an identityDhKey that is not the identity key', async () => {
    const { start, agents } = await setup();
    await start(0);
    const agent = agents[0];
    if (agent === undefined) throw new Error('missing');
    await expect(
      createMessagingClient({
        identity: agent.keyPair,
        identityDhKey: provider.x25519.generateKeyPair(),
        nhi: createNhiRegistry({ provider }),
        transport: network().transport(agent.keyPair.identity.nhi),
        sessionStore: createInMemorySessionStore(),
        clock,
      }),
    ).rejects.toThrow(/identityDhKey/);
  });

  it('opens a handshake made against a previous signed prekey after a restart republished the bundle', async () => {
    const { net, agents, start } = await setup(0);
    const alice = await start(0);
    const bob = await start(1);
    const carol = await start(2);
    await alice.send(bob.nhi, text('sent while bob was away'));
    await carol.send(bob.nhi, text('sent much earlier'));
    const [handshake, stale] = net.take(bob.nhi);
    if (handshake === undefined || stale === undefined) throw new Error('no handshakes');
    await bob.close();

    // Bob restarts against a directory that lost his bundle (e.g. an in-memory NHI service that
    // restarted too): the client publishes a new signed prekey, keeping the previous secrets.
    const restart = async () => {
      const directory = createNhiRegistry({ provider });
      for (const a of agents)
        await directory.register({ identity: a.keyPair.identity, proof: registrationProof(a.keyPair) });
      const client = await createMessagingClient({
        identity: agents[1]?.keyPair as AgentKeyPair,
        nhi: directory,
        transport: net.transport(bob.nhi),
        sessionStore: agents[1]?.store as SessionStore,
        clock,
        provider,
        signaturePolicy: 'handshake-only',
        oneTimePrekeys: 0,
      });
      return { directory, client };
    };
    const { client: restarted } = await restart();
    expect((await restarted.receive(handshake)).payload).toEqual(text('sent while bob was away'));
    await restarted.close();

    // Three more rotations push that signed prekey out: a handshake still naming it is refused.
    for (let i = 0; i < 3; i++) await (await restart()).client.close();
    const { client: late } = await restart();
    await expect(late.receive(stale)).rejects.toThrow(
      expect.objectContaining({
        code: 'MS-003',
        message: expect.stringContaining('prekeys already used or unknown'),
      }),
    );
  });

  it('frees the id when processing fails after the signature check: the redelivery is received', async () => {
    const { net, start } = await setup();
    const alice = await start(0);
    const inner = createInMemorySessionStore();
    let failNextSave = false;
    const flaky: SessionStore = {
      get: (key) => inner.get(key),
      delete: (key) => inner.delete(key),
      async set(key, value) {
        if (failNextSave && key !== 'prekeys') {
          failNextSave = false;
          throw new Error('session store unavailable');
        }
        return inner.set(key, value);
      },
    };
    const bob = await start(1, flaky);
    await alice.send(bob.nhi, text('first try fails'));
    const [envelope] = net.take(bob.nhi);
    if (envelope === undefined) throw new Error('no envelope');
    failNextSave = true;
    await expect(bob.receive(envelope)).rejects.toThrow('session store unavailable');
    expect((await bob.receive(envelope)).payload).toEqual(text('first try fails'));
    // Once processed, the id is recorded: a third delivery is a replay.
    await expect(bob.receive(envelope)).rejects.toThrow(code('MS-003'));
  });
});
