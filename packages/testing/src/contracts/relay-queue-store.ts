import { AgentKeyPair, type ConsensusTimestamp, INT64_MAX, newUuid, type Uuid } from '@creto/core';
import {
  MAX_RELAY_QUEUE_LOAD,
  MAX_RELAY_QUEUE_REMOVE,
  type RelayQueueEntry,
  type RelayQueueStore,
} from '@creto/messaging';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What a test needs from the store a {@link RelayQueueStoreFactory} builds. */
export interface RelayQueueStoreNeeds {
  /** The bound on entries held, when the test checks it; `undefined`: the store's default. */
  readonly maxEntries?: number;
}

/** What a {@link RelayQueueStoreFactory} returns for one test. */
export interface RelayQueueStoreFixture {
  /** An empty store (a fresh one, or a fresh relay name in a shared database). */
  readonly store: RelayQueueStore;
  /** The same queues through another connection, for the race tests; they race `store` itself when absent. */
  openPeer?(): Promise<RelayQueueStore>;
  /** Closes the store and opens the same queues again (a restart); `undefined` when data dies with it. */
  reopen?(): Promise<RelayQueueStore>;
  /** Frees what the fixture holds, after each test. */
  close?(): Promise<void>;
}

/** Builds a fixture holding an empty store, for one test. */
export type RelayQueueStoreFactory = (
  needs: RelayQueueStoreNeeds,
) => RelayQueueStoreFixture | Promise<RelayQueueStoreFixture>;

let parties: { sender: string; alice: string; bob: string } | undefined;
// Derived on first use (Ed25519 only: cheap), so that importing the contracts derives no key.
const nhis = () => {
  parties ??= {
    sender: AgentKeyPair.fromSeed(new Uint8Array(32).fill(11)).identity.nhi,
    alice: AgentKeyPair.fromSeed(new Uint8Array(32).fill(12)).identity.nhi,
    bob: AgentKeyPair.fromSeed(new Uint8Array(32).fill(13)).identity.nhi,
  };
  return parties;
};

/** An entry as the relay writes it: the envelope is opaque to the store but must round-trip exactly. */
function entry(
  acceptedAt: ConsensusTimestamp,
  recipientNhi = nhis().alice,
  overrides: Partial<RelayQueueEntry> = {},
): RelayQueueEntry {
  const messageId = overrides.messageId ?? newUuid();
  const timestamp = acceptedAt;
  return {
    messageId,
    recipientNhi,
    acceptedAt,
    expiresAt: timestamp + 60_000_000_000n,
    envelope: {
      version: 1,
      message_id: messageId,
      kind: 'message',
      sender_nhi: nhis().sender,
      recipient_nhi: recipientNhi,
      timestamp: String(timestamp),
      ttl_ms: 60_000,
      ciphertext: 'q83vEjRWeJA_-w',
      signature: 'c2lnbmF0dXJl',
    },
    ...overrides,
  };
}

/**
 * The contract every messaging `RelayQueueStore` must pass (issue #10, spec §5.2): entries kept
 * exactly (bigint instants, the envelope JSON), loaded in acceptance order in pages, a message id
 * held once (`MS-003`), removal by id, the bound (`MS-413`) exact under racing puts, input
 * validation (`MS-400`, nothing stored) and, for durable stores, everything kept across a reopen.
 *
 * @example
 * ```ts
 * relayQueueStoreContract('memory', ({ maxEntries }) => ({
 *   store: createMemoryRelayQueueStore(maxEntries === undefined ? {} : { maxEntries }),
 * }));
 * ```
 */
export function relayQueueStoreContract(name: string, factory: RelayQueueStoreFactory): void {
  describe(`RelayQueueStore contract: ${name}`, () => {
    const fixtures: RelayQueueStoreFixture[] = [];
    let store: RelayQueueStore;

    const open = async (needs: RelayQueueStoreNeeds = {}) => {
      const fixture = await factory(needs);
      fixtures.push(fixture);
      return fixture;
    };

    beforeEach(async () => {
      store = (await open()).store;
    });

    afterEach(async () => {
      for (const fixture of fixtures.splice(0)) await fixture.close?.();
    });

    const loadAll = async (s: RelayQueueStore = store, pageSize = MAX_RELAY_QUEUE_LOAD) => {
      const all: RelayQueueEntry[] = [];
      for (;;) {
        const page = await s.load(pageSize, all.at(-1)?.messageId);
        all.push(...page);
        if (page.length < pageSize) return all;
      }
    };
    const ids = (entries: readonly RelayQueueEntry[]) => entries.map((e) => e.messageId);

    it('starts empty', async () => {
      expect(await store.load(10)).toEqual([]);
    });

    it('keeps entries exactly and loads them in acceptance order, whatever the put order', async () => {
      const first = entry(1_000n);
      const second = entry(2_000n, nhis().bob);
      const third = entry(3_000n);
      for (const e of [third, first, second]) await store.put(e);
      const loaded = await store.load(10);
      expect(loaded).toEqual([first, second, third]);
      expect(typeof loaded[0]?.acceptedAt).toBe('bigint');
    });

    it('breaks acceptance-time ties by insertion order', async () => {
      const a = entry(5_000n);
      const b = entry(5_000n);
      const c = entry(5_000n);
      for (const e of [a, b, c]) await store.put(e);
      expect(ids(await store.load(10))).toEqual(ids([a, b, c]));
    });

    it('round-trips extreme instants and envelopes with and without a signature', async () => {
      const early = entry(0n, nhis().alice, { expiresAt: 0n });
      const late = entry(INT64_MAX, nhis().alice, { expiresAt: INT64_MAX });
      const unsigned = entry(7n);
      const { signature: _dropped, ...envelope } = unsigned.envelope;
      const bare = { ...unsigned, envelope };
      for (const e of [late, bare, early]) await store.put(e);
      expect(await store.load(10)).toEqual([early, bare, late]);
    });

    it('pages through the queue after a cursor; an unknown cursor is MS-400', async () => {
      const all = Array.from({ length: 7 }, (_, i) =>
        entry(BigInt(100 + i), i % 2 ? nhis().bob : nhis().alice),
      );
      for (const e of all) await store.put(e);
      expect(ids(await store.load(3))).toEqual(ids(all.slice(0, 3)));
      expect(ids(await store.load(3, all[2]?.messageId))).toEqual(ids(all.slice(3, 6)));
      expect(ids(await store.load(3, all[5]?.messageId))).toEqual(ids(all.slice(6)));
      expect(await store.load(3, all[6]?.messageId)).toEqual([]);
      expect(ids(await loadAll(store, 2))).toEqual(ids(all));
      await expectEnablementRejection(store.load(3, newUuid()), 'MS-400');
    });

    it('holds a message id once: a second put is MS-003 and changes nothing', async () => {
      const original = entry(10n);
      await store.put(original);
      const again = entry(20n, nhis().bob, { messageId: original.messageId });
      await expectEnablementRejection(store.put({ ...again, envelope: { ...again.envelope } }), 'MS-003');
      expect(await store.load(10)).toEqual([original]);
    });

    it('removes by id; unknown ids and an empty list are fine', async () => {
      const [a, b, c] = [entry(1n), entry(2n), entry(3n)];
      for (const e of [a, b, c]) await store.put(e);
      await store.remove([b.messageId, newUuid()]);
      await store.remove([]);
      expect(ids(await store.load(10))).toEqual(ids([a, c]));
      await store.remove([a.messageId, c.messageId]);
      expect(await store.load(10)).toEqual([]);
      // A removed id may be queued again (the relay's replay guard decides that, not the store).
      await store.put(a);
      expect(ids(await store.load(10))).toEqual([a.messageId]);
    });

    it('does not share state with the caller', async () => {
      const e = entry(1n);
      await store.put(e);
      (e.envelope as { ciphertext: string }).ciphertext = 'changed';
      const [loaded] = await store.load(1);
      expect(loaded?.envelope.ciphertext).toBe('q83vEjRWeJA_-w');
      if (loaded) (loaded.envelope as { ciphertext: string }).ciphertext = 'changed too';
      expect((await store.load(1))[0]?.envelope.ciphertext).toBe('q83vEjRWeJA_-w');
    });

    it('refuses bad input with MS-400 and stores nothing', async () => {
      const good = entry(1n);
      const bad: unknown[] = [
        null,
        'entry',
        { ...good, messageId: good.messageId.toUpperCase() },
        { ...good, messageId: 'not-a-uuid' },
        { ...good, recipientNhi: 'nobody' },
        { ...good, acceptedAt: 1 },
        { ...good, acceptedAt: -1n },
        { ...good, expiresAt: INT64_MAX + 1n },
        { ...good, envelope: null },
        { ...good, envelope: { ...good.envelope, message_id: newUuid() } },
        { ...good, envelope: { ...good.envelope, recipient_nhi: nhis().bob } },
      ];
      for (const value of bad) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.put(value as RelayQueueEntry)),
          'MS-400',
        );
      }
      for (const [limit, after] of [
        [0, undefined],
        [MAX_RELAY_QUEUE_LOAD + 1, undefined],
        [1.5, undefined],
        [1, 'nope'],
      ] as const) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.load(limit, after as Uuid | undefined)),
          'MS-400',
        );
      }
      for (const value of [
        'id',
        [42],
        ['NOT-A-UUID'],
        Array.from({ length: MAX_RELAY_QUEUE_REMOVE + 1 }, () => newUuid()),
      ]) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.remove(value as Uuid[])),
          'MS-400',
        );
      }
      expect(await store.load(10)).toEqual([]);
    });

    it('is bounded: a put beyond maxEntries is MS-413 until an entry leaves', async () => {
      const bounded = (await open({ maxEntries: 3 })).store;
      const held = [entry(1n), entry(2n), entry(3n)];
      for (const e of held) await bounded.put(e);
      await expectEnablementRejection(bounded.put(entry(4n)), 'MS-413');
      await bounded.remove([held[0]?.messageId as Uuid]);
      const fourth = entry(5n);
      await bounded.put(fourth);
      expect(ids(await bounded.load(10))).toEqual(ids([held[1], held[2], fourth] as RelayQueueEntry[]));
    });

    it('holds the bound exactly under racing puts', async () => {
      const fixture = await open({ maxEntries: 4 });
      const peer = (await fixture.openPeer?.()) ?? fixture.store;
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? peer : fixture.store).put(entry(BigInt(i)))),
      );
      expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
      for (const r of settled) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'MS-413' });
      }
      expect(await fixture.store.load(10)).toHaveLength(4);
    });

    it('lets exactly one of racing puts of the same id in', async () => {
      const fixture = await open();
      const peer = (await fixture.openPeer?.()) ?? fixture.store;
      const e = entry(1n);
      const settled = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => (i % 2 ? peer : fixture.store).put(structuredClone(e))),
      );
      expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of settled) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'MS-003' });
      }
      expect(await fixture.store.load(10)).toEqual([e]);
    });

    it('keeps the queues across a reopen (durable stores)', async () => {
      const fixture = await open();
      if (fixture.reopen === undefined) return;
      const kept = [entry(1n), entry(2n, nhis().bob)];
      for (const e of kept) await fixture.store.put(e);
      const reopened = await fixture.reopen();
      expect(await reopened.load(10)).toEqual(kept);
      await reopened.remove([kept[0]?.messageId as Uuid]);
      expect(await reopened.load(10)).toEqual([kept[1]]);
    });
  });
}
