import {
  type AgentKeyPair,
  createHybridLogicalClock,
  createMemoryIdempotencyStore,
  EnablementError,
  type Uuid,
  utf8ToBytes,
} from '@creto/core';
import { rejectionCodeOf } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createMessagingClient } from '../client/index.js';
import {
  createEnvelopeVerifier,
  createReplayGuard,
  encodeEnvelope,
  type MessageEnvelope,
} from '../envelope/index.js';
import { createInMemorySessionStore } from '../session/index.js';
import { connectInProcessTransport } from '../transport/index.js';
import {
  createMemoryRelayQueueStore,
  createMessagingRelay,
  type DurableMessagingRelayOptions,
  MAX_RELAY_QUEUE_REMOVE,
  type MessagingRelay,
  openMessagingRelay,
  type RelayQueueEntry,
  type RelayQueueStore,
} from './index.js';
import { alice, bob, carol, createRelayFixture, service } from './relay.test-support.js';

/** A store whose methods a test can replace (faults, delays), over the in-memory reference. */
function hookable(inner = createMemoryRelayQueueStore()) {
  const hooks: Partial<RelayQueueStore> = {};
  const store: RelayQueueStore = {
    load: (limit, after) => (hooks.load ?? inner.load)(limit, after),
    put: (entry) => (hooks.put ?? inner.put)(entry),
    remove: (ids) => (hooks.remove ?? inner.remove)(ids),
  };
  return { inner, hooks, store };
}

/** Puts held until the test releases them (in any order). */
function holdPuts(target: ReturnType<typeof hookable>) {
  const held: { entry: RelayQueueEntry; release: () => void }[] = [];
  target.hooks.put = (entry) =>
    new Promise<void>((resolve, reject) => {
      held.push({ entry, release: () => void target.inner.put(entry).then(resolve, reject) });
    });
  return held;
}

/** Lets promise continuations run until `condition` holds (a bounded wait, never a timed one). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

/** Relays opened over one queue store and one seen-id store, as restarts of one process. */
async function setup() {
  const f = await createRelayFixture();
  const queue = hookable();
  // Shared by every relay "process" of a test, as a Redis or PostgreSQL store would be.
  const replayStore = createMemoryIdempotencyStore({ clock: f.clock });
  const open = (overrides: Partial<DurableMessagingRelayOptions> = {}) =>
    openMessagingRelay({ ...f.relayOptions(), replayStore, queueStore: queue.store, ...overrides });
  const send = (relay: MessagingRelay, e: MessageEnvelope) => relay.submit(e.senderNhi, encodeEnvelope(e));
  return { ...f, queue, replayStore, open, send };
}

describe('openMessagingRelay: restart', () => {
  it('keeps queued envelopes across close + reopen and delivers them in order, then forgets them', async () => {
    const t = await setup();
    const first = await t.open();
    const sent = [t.envelope(), t.envelope({ ciphertext: Uint8Array.of(7) }), t.envelope()];
    for (const e of sent) expect((await t.send(first, e)).status).toBe('queued');
    expect(t.queue.inner.size).toBe(3);
    await first.close();
    expect(t.queue.inner.size).toBe(3); // close keeps them

    const second = await t.open();
    expect(second.queueDepth(bob.identity.nhi)).toBe(3);
    expect(second.stats()).toMatchObject({ queued: 3, recipients: 1 });
    const bobInbox = t.inbox(second, bob);
    await bobInbox.connect();
    await second.whenIdle();
    expect(bobInbox.ids()).toEqual(sent.map((e) => e.messageId));
    expect(t.queue.inner.size).toBe(0);
    expect(t.receipts().map((r) => [r.messageId, r.receiptType])).toEqual(
      sent.map((e) => [e.messageId, 'delivered']),
    );
    expect(t.errors).toEqual([]);
  });

  it('still refuses a seen id after a restart (MS-003): the replay store, or else the queue store', async () => {
    const t = await setup();
    const first = await t.open();
    const queued = t.envelope();
    await t.send(first, queued);
    const toCarol = t.envelope({ recipientNhi: carol.identity.nhi }); // Carol stays offline
    await t.send(first, toCarol);
    const bobInbox = t.inbox(first, bob);
    await bobInbox.connect();
    await first.whenIdle();
    const delivered = t.envelope();
    expect((await t.send(first, delivered)).status).toBe('delivered');
    await first.close();

    const second = await t.open();
    expect(await rejectionCodeOf(t.send(second, queued))).toBe('MS-003');
    expect(await rejectionCodeOf(t.send(second, delivered))).toBe('MS-003');
    // Without the shared seen-id store, the queue store still refuses an id it holds.
    const forgetful = await t.open({ replayStore: createMemoryIdempotencyStore({ clock: t.clock }) });
    expect(await rejectionCodeOf(t.send(forgetful, toCarol))).toBe('MS-003');
    expect(forgetful.queueDepth(carol.identity.nhi)).toBe(1);
  });

  it('expires an envelope whose TTL ran out while the relay was down: a failed receipt, out of the store', async () => {
    const t = await setup();
    const first = await t.open();
    const short = t.envelope({ ttlMs: 5_000 });
    const long = t.envelope({ ttlMs: 600_000 });
    await t.send(first, short);
    await t.send(first, long);
    await first.close();
    await t.clock.advanceAsync(10_000);

    const second = await t.open();
    await t.clock.advanceAsync(0); // the sweep was armed at the (past) earliest expiry
    expect(await second.sweepExpired()).toBe(0); // the timer already did it
    expect(second.queueDepth(bob.identity.nhi)).toBe(1);
    expect((await t.queue.inner.load(10)).map((e) => e.messageId)).toEqual([long.messageId]);
    const failed = t.receipts().find((r) => r.messageId === short.messageId);
    expect(failed).toMatchObject({ receiptType: 'failed' });
    expect(t.published.find((p) => p.msgId === `${short.messageId}:failed`)).toBeDefined();
  });

  it('removes the expired of one sweep in batches of at most MAX_RELAY_QUEUE_REMOVE ids', async () => {
    const t = await setup();
    // Written straight to the store (unsigned: the relay does not re-verify what it restores).
    const start = t.clock.now();
    for (let i = 0; i < MAX_RELAY_QUEUE_REMOVE + 1; i++) {
      const e = t.envelope({ sign: false, ttlMs: 1_000 });
      await t.queue.inner.put({
        messageId: e.messageId,
        recipientNhi: e.recipientNhi,
        acceptedAt: start + BigInt(i),
        expiresAt: start + 1_000_000_000n,
        envelope: encodeEnvelope(e),
      });
    }
    const batches: number[] = [];
    t.queue.hooks.remove = async (ids) => {
      batches.push(ids.length);
      await t.queue.inner.remove(ids);
    };
    // No event bus: thousands of ML-DSA-signed receipts would only slow the test down.
    const relay = await t.open({ eventBus: undefined });
    expect(relay.stats().queued).toBe(MAX_RELAY_QUEUE_REMOVE + 1);
    await t.clock.advanceAsync(1_000);
    await until(() => t.queue.inner.size === 0, 'the store emptied');
    expect(batches).toEqual([MAX_RELAY_QUEUE_REMOVE, 1]);
    expect(relay.stats().queued).toBe(0);
  });

  it('keeps every stored entry beyond the bounds at open, refusing new ones until drained', async () => {
    const t = await setup();
    const first = await t.open();
    const sent = [t.envelope(), t.envelope(), t.envelope()];
    for (const e of sent) await t.send(first, e);
    await first.close();

    const second = await t.open({ maxQueuePerRecipient: 2, maxQueuedTotal: 2 });
    expect(second.queueDepth(bob.identity.nhi)).toBe(3);
    expect(await rejectionCodeOf(t.send(second, t.envelope()))).toBe('MS-413');
    // The total is over its bound too: another recipient waits as well.
    expect(await rejectionCodeOf(t.send(second, t.envelope({ recipientNhi: carol.identity.nhi })))).toBe(
      'MS-413',
    );
    const bobInbox = t.inbox(second, bob);
    await bobInbox.connect();
    await second.whenIdle();
    expect(bobInbox.ids()).toEqual(sent.map((e) => e.messageId));
    expect((await t.send(second, t.envelope({ recipientNhi: carol.identity.nhi }))).status).toBe('queued');
  });
});

describe('openMessagingRelay: writes', () => {
  it('counts in-flight writes against the bounds: N concurrent submits, exactly the bound accepted', async () => {
    const cases = [
      { bounds: { maxQueuePerRecipient: 2 }, to: () => bob },
      { bounds: { maxQueuedTotal: 2 }, to: (i: number) => (i % 2 === 0 ? bob : carol) },
    ];
    for (const { bounds, to } of cases) {
      const t = await setup();
      const held = holdPuts(t.queue);
      const relay = await t.open(bounds);
      const envelopes = [0, 1, 2, 3, 4].map((i) => t.envelope({ recipientNhi: to(i).identity.nhi }));
      const outcomes: string[] = [];
      const submits = envelopes.map((e) =>
        t.send(relay, e).then(
          (result) => outcomes.push(result.status),
          (error: unknown) => outcomes.push(EnablementError.is(error) ? error.code : 'other'),
        ),
      );
      await until(() => held.length === 2 && outcomes.length === 3, 'two writes held, three refused');
      expect(outcomes).toEqual(['MS-413', 'MS-413', 'MS-413']);
      expect(relay.stats().queued).toBe(0); // nothing is queued before it is durable
      for (const h of held) h.release();
      await Promise.all(submits);
      expect(outcomes.filter((o) => o === 'queued')).toHaveLength(2);
      expect(t.queue.inner.size).toBe(2);
      expect(relay.stats().queued).toBe(2);
    }
  });

  it('keeps the queue in acceptedAt order when writes finish out of order', async () => {
    const t = await setup();
    const held = holdPuts(t.queue);
    const relay = await t.open();
    const sent = [t.envelope(), t.envelope(), t.envelope()];
    const submits = sent.map((e) => t.send(relay, e));
    await until(() => held.length === 3, 'three writes held');
    // Release the latest acceptance first.
    const byAcceptance = [...held].sort((a, b) => (a.entry.acceptedAt < b.entry.acceptedAt ? -1 : 1));
    let done = 0;
    for (const h of [...byAcceptance].reverse()) {
      h.release();
      done++;
      await until(() => relay.stats().queued === done, 'the released write queued');
    }
    await Promise.all(submits);
    const bobInbox = t.inbox(relay, bob);
    await bobInbox.connect();
    await relay.whenIdle();
    expect(bobInbox.ids()).toEqual(byAcceptance.map((h) => h.entry.messageId));
  });

  it('refuses with MS-503 when the write fails: nothing queued, the id free for a retry', async () => {
    const t = await setup();
    const relay = await t.open();
    const e = t.envelope();
    t.queue.hooks.put = async () => {
      throw new Error('disk full of bees');
    };
    const error = await t.send(relay, e).catch((caught: unknown) => caught);
    expect(EnablementError.is(error) && [error.code, error.retryable]).toEqual(['MS-503', true]);
    expect(relay.stats().queued).toBe(0);
    expect(t.queue.inner.size).toBe(0);
    expect(t.published).toEqual([]);
    t.queue.hooks.put = undefined;
    expect((await t.send(relay, e)).status).toBe('queued');
    expect(t.queue.inner.size).toBe(1);
  });

  it("passes the store's MS-413 (full) through, and frees the id", async () => {
    const t = await setup();
    const small = hookable(createMemoryRelayQueueStore({ maxEntries: 1 }));
    const relay = await t.open({ queueStore: small.store });
    await t.send(relay, t.envelope());
    const e = t.envelope();
    expect(await rejectionCodeOf(t.send(relay, e))).toBe('MS-413');
    expect(relay.stats().queued).toBe(1);
    await t.inbox(relay, bob).connect();
    await relay.whenIdle();
    expect((await t.send(relay, e)).status).toBe('delivered');
  });

  it('accepts an envelope whose write finishes after close: it is durable, for the next open', async () => {
    const t = await setup();
    const held = holdPuts(t.queue);
    const relay = await t.open();
    const e = t.envelope();
    const submit = t.send(relay, e);
    await until(() => held.length === 1, 'the write held');
    await relay.close();
    held[0]?.release();
    expect((await submit).status).toBe('queued');
    expect((await t.open()).queueDepth(bob.identity.nhi)).toBe(1);
  });
});

describe('openMessagingRelay: removal and duplicates', () => {
  it('reports a failed removal without undoing the delivery; the redelivered duplicate is dropped by id', async () => {
    const t = await setup();
    // Bob checks ids as the messaging client does (its envelope verifier and replay guard).
    const verifier = createEnvelopeVerifier({
      nhi: t.nhi,
      clock: t.clock,
      replay: createReplayGuard({ clock: t.clock, operation: 'receive_message' }),
      recipientNhi: bob.identity.nhi,
    });
    const first = await t.open();
    const bobInbox = t.inbox(first, bob, (e) => verifier.verify(e));
    const bobTransport = await bobInbox.connect();
    t.queue.hooks.remove = async () => {
      throw new Error('store went away');
    };
    const e1 = t.envelope();
    expect((await t.send(first, e1)).status).toBe('delivered');
    expect(bobInbox.ids()).toEqual([e1.messageId]);
    expect(t.reported('queue.remove').map((r) => r.messageId)).toEqual([e1.messageId]);
    expect(first.queueDepth(bob.identity.nhi)).toBe(0); // delivery not undone
    expect(t.queue.inner.size).toBe(1);

    t.queue.hooks.remove = undefined;
    await bobTransport.close();
    const e2 = t.envelope();
    expect((await t.send(first, e2)).status).toBe('queued');
    await first.close(); // a crash, as far as the store is concerned

    const second = await t.open();
    expect(second.queueDepth(bob.identity.nhi)).toBe(2); // e1 is offered again: at-least-once
    const again = t.inbox(second, bob, (e) => verifier.verify(e));
    await again.connect();
    await second.whenIdle();
    // Bob refused e1 (MS-003): the relay took that as delivered, and e2 was not blocked behind it.
    expect(again.ids()).toEqual([e2.messageId]);
    expect(t.queue.inner.size).toBe(0);
    expect(t.reported('deliver')).toEqual([]);
    const e1Receipts = t.published.filter((p) => p.msgId === `${e1.messageId}:delivered`);
    expect(e1Receipts).toHaveLength(2); // repeated with the same msgId: the bus deduplicates it
  });

  it('a MessagingClient that restarted too drops the redelivered duplicates (its ratchet refuses them)', async () => {
    const t = await setup();
    const sessionStores = new Map([alice, bob].map((pair) => [pair, createInMemorySessionStore()]));
    const start = async (pair: AgentKeyPair, relay: MessagingRelay) => {
      const inbox: string[] = [];
      const client = await createMessagingClient({
        identity: pair,
        nhi: t.nhi,
        transport: (onEnvelope) => connectInProcessTransport({ relay, keyPair: pair, onEnvelope }),
        sessionStore: sessionStores.get(pair) ?? createInMemorySessionStore(),
        clock: t.clock,
      });
      client.onMessage((m) => inbox.push(new TextDecoder().decode(m.payload)));
      return { client, inbox };
    };
    const first = await t.open();
    const sender = await start(alice, first);
    const recipient = await start(bob, first);
    t.queue.hooks.remove = async () => {
      throw new Error('store went away');
    };
    await sender.client.send(bob.identity.nhi, utf8ToBytes('one'));
    await sender.client.send(bob.identity.nhi, utf8ToBytes('two'));
    expect(recipient.inbox).toEqual(['one', 'two']);
    t.queue.hooks.remove = undefined;
    await recipient.client.close();
    await first.close();

    const second = await t.open();
    expect(second.queueDepth(bob.identity.nhi)).toBe(2);
    const restarted = await start(bob, second);
    await second.whenIdle();
    expect(restarted.inbox).toEqual([]); // nothing shown twice
    expect(second.queueDepth(bob.identity.nhi)).toBe(0);
    expect(t.queue.inner.size).toBe(0);
    expect(t.reported('deliver')).toEqual([]);
  });

  it('keeps an envelope whose handler failed otherwise, for the next connection', async () => {
    const t = await setup();
    const relay = await t.open();
    const failing = t.inbox(relay, bob, () => {
      throw new EnablementError('MS-004', 'cannot decrypt');
    });
    await failing.connect();
    expect((await t.send(relay, t.envelope())).status).toBe('queued');
    expect(t.reported('deliver')).toHaveLength(1);
    expect(t.queue.inner.size).toBe(1);
  });
});

describe('openMessagingRelay: what it loads', () => {
  it('reports a corrupt stored entry (queue.load), skips it and leaves it in the store', async () => {
    const t = await setup();
    const first = await t.open();
    const good = t.envelope();
    await t.send(first, good);
    await first.close();
    // A row this relay cannot decode (a corrupted ciphertext), stored before the good one.
    const bad = t.envelope();
    await t.queue.inner.put({
      messageId: bad.messageId,
      recipientNhi: bad.recipientNhi,
      acceptedAt: 1n,
      expiresAt: bad.timestamp + 60_000_000_000n,
      envelope: { ...encodeEnvelope(bad), ciphertext: '!not base64url!' },
    });
    // And what a broken store might hand back: no object, a duplicate id.
    const loadInner = t.queue.inner.load;
    t.queue.hooks.load = async (limit, after) => {
      const page = await loadInner(limit, after);
      return [null, ...page, ...page.slice(-1)] as unknown as RelayQueueEntry[];
    };

    const second = await t.open();
    const reported = t.reported('queue.load');
    expect(reported.map((r) => EnablementError.is(r.error) && r.error.code)).toEqual([
      'MS-400',
      'MS-400',
      'MS-400',
    ]);
    expect(reported.map((r) => r.messageId)).toEqual([undefined, bad.messageId, good.messageId]);
    expect(second.queueDepth(bob.identity.nhi)).toBe(1);
    const bobInbox = t.inbox(second, bob);
    await bobInbox.connect();
    await second.whenIdle();
    expect(bobInbox.ids()).toEqual([good.messageId]);
    expect((await t.queue.inner.load(10)).map((e) => e.messageId)).toEqual([bad.messageId]);
  });

  it('fails the open with MS-503 when the store cannot be read, or answers nonsense', async () => {
    const t = await setup();
    t.queue.hooks.load = async () => {
      throw new Error('connection refused');
    };
    expect(await rejectionCodeOf(t.open())).toBe('MS-503');
    t.queue.hooks.load = async () => 'rows' as unknown as RelayQueueEntry[];
    expect(await rejectionCodeOf(t.open())).toBe('MS-503');
  });

  it('pages through a store with more than one page of entries', async () => {
    const t = await setup();
    const start = t.clock.now();
    const ids: Uuid[] = [];
    for (let i = 0; i < 1_001; i++) {
      const e = t.envelope({ sign: false, recipientNhi: (i % 2 === 0 ? bob : carol).identity.nhi });
      ids.push(e.messageId);
      await t.queue.inner.put({
        messageId: e.messageId,
        recipientNhi: e.recipientNhi,
        acceptedAt: start - BigInt(1_001 - i),
        expiresAt: e.timestamp + 60_000_000_000n,
        envelope: encodeEnvelope(e),
      });
    }
    const calls: (Uuid | undefined)[] = [];
    t.queue.hooks.load = async (limit, after) => {
      calls.push(after);
      return t.queue.inner.load(limit, after);
    };
    const relay = await t.open({ maxQueuedTotal: 10 });
    expect(calls).toEqual([undefined, ids[999]]);
    expect(relay.stats()).toMatchObject({ queued: 1_001, recipients: 2 });
  });

  it('validates its options and the store (MS-400), before reading anything', async () => {
    const t = await setup();
    t.queue.hooks.load = async () => {
      throw new Error('must not be read');
    };
    const missing = { load: async () => [] } as unknown as RelayQueueStore;
    await expect(t.open({ queueStore: missing })).rejects.toThrow(/openMessagingRelay: queueStore must have/);
    await expect(t.open({ maxQueuedTotal: 0 })).rejects.toThrow(/openMessagingRelay: maxQueuedTotal/);
    // The in-memory factory refuses a store rather than ignore it.
    const { queueStore, ...rest } = {
      authz: t.authz,
      nhi: t.nhi,
      clock: t.clock,
      consensus: createHybridLogicalClock({ clock: t.clock }),
      serviceKey: service,
      queueStore: t.queue.store,
    };
    expect(() =>
      createMessagingRelay({ ...rest, queueStore } as Parameters<typeof createMessagingRelay>[0]),
    ).toThrow(/use openMessagingRelay/);
    expect(() => createMessagingRelay(rest)).not.toThrow();
  });
});
