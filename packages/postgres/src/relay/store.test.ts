import { AgentKeyPair, EnablementError, INT64_MAX, newUuid, type Uuid } from '@creto/core';
import type { MessageEnvelopeWire, RelayQueueEntry, RelayQueueStore } from '@creto/messaging';
import { expectEnablementRejection } from '@creto/testing';
import { relayQueueStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { describeEachDriver, inertSqlClient } from '../../test/harness.js';
import type { SqlClient } from '../sql/index.js';
import {
  createPostgresRelayQueueStore,
  MAX_POSTGRES_RELAY_ENVELOPE_LENGTH,
  type RelayQueueStoreLike,
} from './store.js';

// Type-level checks that the structural port is messaging's: the store is assignable to
// `RelayQueueStore` when the target type infers the envelope, and with it given explicitly.
const inferred = (client: SqlClient): RelayQueueStore => createPostgresRelayQueueStore({ client });
const explicit = (client: SqlClient): RelayQueueStore =>
  createPostgresRelayQueueStore<MessageEnvelopeWire>({ client });
// And messaging's in-memory store fits the structural port (the two describe one contract).
const back = (store: RelayQueueStore): RelayQueueStoreLike<MessageEnvelopeWire> => store;
void [inferred, explicit, back];

const alice = AgentKeyPair.fromSeed(new Uint8Array(32).fill(21)).identity.nhi;
const bob = AgentKeyPair.fromSeed(new Uint8Array(32).fill(22)).identity.nhi;
/** A relay name no other test uses, so tests sharing a schema never see each other's queues. */
const relayName = () => `relay-${globalThis.crypto.randomUUID()}`;

function entry(acceptedAt: bigint, overrides: Partial<MessageEnvelopeWire> = {}): RelayQueueEntry {
  const messageId = newUuid();
  const envelope: MessageEnvelopeWire = {
    version: 1,
    message_id: messageId,
    kind: 'message',
    sender_nhi: bob,
    recipient_nhi: alice,
    timestamp: String(acceptedAt),
    ttl_ms: 60_000,
    ciphertext: 'q83vEjRWeJA_-w',
    ...overrides,
  };
  return { messageId, recipientNhi: alice, acceptedAt, expiresAt: acceptedAt + 1n, envelope };
}

describeEachDriver('PostgresRelayQueueStore', (db, driver) => {
  const storeOn = (client: SqlClient, relay: string, maxEntries?: number): RelayQueueStore =>
    createPostgresRelayQueueStore({
      client,
      schema: db().schema,
      relay,
      ...(maxEntries === undefined ? {} : { maxEntries }),
    });
  const rows = async (relay: string) => {
    const { rows: found } = await db().client.query<{ n: bigint }>(
      `SELECT count(*) AS n FROM "${db().schema}".relay_queue WHERE relay = $1`,
      [relay],
    );
    return found[0]?.n;
  };
  const counter = async (relay: string) => {
    const { rows: found } = await db().client.query<{ entries: bigint }>(
      `SELECT entries FROM "${db().schema}".relay_queue_counts WHERE relay = $1`,
      [relay],
    );
    return found[0]?.entries;
  };

  // Every fixture is a fresh relay name in the suite's schema; the peer is another connection on
  // PostgreSQL, and the reopen a restart of the durable drivers.
  relayQueueStoreContract(driver.name, ({ maxEntries }) => {
    const relay = relayName();
    const { reopen } = db();
    return {
      store: storeOn(db().client, relay, maxEntries),
      openPeer: async () => storeOn((await db().openSecond()) ?? db().client, relay, maxEntries),
      ...(reopen === undefined ? {} : { reopen: async () => storeOn(await reopen(), relay, maxEntries) }),
    };
  });

  it('keeps relays of one schema apart: the same message id may sit in two relays', async () => {
    const [a, b] = [storeOn(db().client, relayName(), 1), storeOn(db().client, relayName(), 1)];
    const e = entry(1n);
    await a.put(e);
    expect(await b.load(10)).toEqual([]);
    await b.put(e); // b's bound is its own
    await b.remove([e.messageId]);
    expect(await a.load(10)).toEqual([e]);
    await expectEnablementRejection(
      a.load(1, e.messageId).then(() => b.load(1, e.messageId)),
      'MS-400',
    );
  });

  it('round-trips every string of the envelope exactly, NUL and lone surrogates included', async () => {
    const store = storeOn(db().client, relayName());
    const hostile = entry(1n, {
      ciphertext: `nul \u0000 lone \uD800 low \uDC00 astral 😀 quote " backslash \\ ${'z'.repeat(350_000)}`,
      signature: '\u2028\u2029\u0001',
    });
    const extra = { ...entry(2n), envelope: { ...entry(2n).envelope } };
    const nested = {
      ...extra,
      envelope: {
        ...extra.envelope,
        message_id: extra.messageId,
        extension: { list: [1, 'two', null, true, { deep: -1.5e-300 }] },
      },
    };
    await store.put(hostile);
    await store.put(nested);
    const loaded = await store.load(10);
    expect(loaded).toEqual([hostile, nested]);
    expect(loaded[0]?.envelope.ciphertext).toBe(hostile.envelope.ciphertext);
  });

  it('round-trips int64 instants exactly, beyond 2^53', async () => {
    const store = storeOn(db().client, relayName());
    const at = 2n ** 53n + 1n;
    const e = { ...entry(at), expiresAt: INT64_MAX - 1n };
    await store.put(e);
    const [loaded] = await store.load(1);
    expect(loaded?.acceptedAt).toBe(at);
    expect(loaded?.expiresAt).toBe(INT64_MAX - 1n);
  });

  it('refuses envelopes that would not come back exactly (MS-400) or are too long (MS-413)', async () => {
    const relay = relayName();
    const store = storeOn(db().client, relay);
    const good = entry(1n);
    class Box {
      value = 1;
    }
    for (const extension of [
      1n,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -0,
      new Box(),
      () => 1,
      [undefined],
      new Date(0),
    ]) {
      await expectEnablementRejection(
        store.put({ ...good, envelope: { ...good.envelope, extension } as MessageEnvelopeWire }),
        'MS-400',
      );
    }
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = [deep];
    await expectEnablementRejection(
      store.put({ ...good, envelope: { ...good.envelope, deep } as MessageEnvelopeWire }),
      'MS-400',
    );
    await expectEnablementRejection(
      store.put({ ...good, envelope: [] as unknown as MessageEnvelopeWire }),
      'MS-400',
    );
    await expectEnablementRejection(
      store.put({
        ...good,
        envelope: { ...good.envelope, ciphertext: 'c'.repeat(MAX_POSTGRES_RELAY_ENVELOPE_LENGTH) },
      }),
      'MS-413',
    );
    expect(await store.load(10)).toEqual([]);
    expect(await rows(relay)).toBe(0n);
    // An undefined member is dropped, as a copy would drop it.
    await store.put({ ...good, envelope: { ...good.envelope, signature: undefined } });
    expect((await store.load(1))[0]?.envelope).toEqual(good.envelope);
  });

  it('keeps the counter equal to the rows through puts, refusals and removes', async () => {
    const relay = relayName();
    const store = storeOn(db().client, relay, 3);
    const held = [entry(1n), entry(2n), entry(3n)];
    for (const e of held) await store.put(e);
    await expectEnablementRejection(store.put(held[0] as RelayQueueEntry), 'MS-003');
    await expectEnablementRejection(store.put(entry(4n)), 'MS-413');
    expect([await rows(relay), await counter(relay)]).toEqual([3n, 3n]);
    const ids = held.map((e) => e.messageId);
    await store.remove([ids[0] as Uuid, ids[0] as Uuid, newUuid()]);
    expect([await rows(relay), await counter(relay)]).toEqual([2n, 2n]);
    await store.remove(ids);
    expect([await rows(relay), await counter(relay)]).toEqual([0n, 0n]);
  });

  it('holds the bound and the counter under racing puts and removes from two connections', async () => {
    const relay = relayName();
    const second = (await db().openSecond()) ?? db().client;
    const [s1, s2] = [storeOn(db().client, relay, 5), storeOn(second, relay, 5)];
    const first = [entry(1n), entry(2n), entry(3n)];
    for (const e of first) await s1.put(e);
    const settled = await Promise.allSettled([
      ...Array.from({ length: 10 }, (_, i) => (i % 2 ? s2 : s1).put(entry(BigInt(10 + i)))),
      s2.remove(first.map((e) => e.messageId)),
    ]);
    const puts = settled.slice(0, 10);
    expect(settled[10]?.status).toBe('fulfilled');
    for (const r of puts) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'MS-413' });
    const n = await rows(relay);
    expect(n).toBeLessThanOrEqual(5n);
    expect(await counter(relay)).toBe(n);
    expect(BigInt(puts.filter((r) => r.status === 'fulfilled').length)).toBe(n);
  });

  it('reports an unavailable database as retryable MS-503', async () => {
    const down = () => Promise.reject(new EnablementError('PL-503', 'down', { retryAfterMs: 25 }));
    const broken = storeOn({ ...db().client, query: down, transaction: down }, relayName());
    for (const call of [
      () => broken.load(1),
      () => broken.load(1, newUuid()),
      () => broken.put(entry(1n)),
      () => broken.remove([newUuid()]),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'MS-503', retryable: true, retryAfterMs: 25 });
    }
  });
});

describe('createPostgresRelayQueueStore options', () => {
  const client = inertSqlClient;

  it('validates its options with PL-400 naming the option', () => {
    for (const [options, field] of [
      [{}, 'client'],
      [{ client, relay: '' }, 'relay'],
      [{ client, relay: 'r'.repeat(256) }, 'relay'],
      [{ client, relay: 'a\u0000b' }, 'relay'],
      [{ client, relay: 'lone\uDBFF' }, 'relay'],
      [{ client, maxEntries: 0 }, 'maxEntries'],
      [{ client, maxEntries: 1.5 }, 'maxEntries'],
      [{ client, schema: 'pg_catalog' }, 'schema'],
      [{ client, other: 1 }, 'other'],
    ] as const) {
      expect(() => createPostgresRelayQueueStore(options as never)).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining(field) }),
      );
    }
  });

  it('takes the default relay name and schema when none is given', async () => {
    const seen: { text: string; params: unknown[] }[] = [];
    const recording = {
      ...client,
      query: async (text: string, params: unknown[]) => {
        seen.push({ text, params });
        return { rows: [], rowCount: 0 };
      },
    } as unknown as SqlClient;
    expect(await createPostgresRelayQueueStore({ client: recording }).load(5)).toEqual([]);
    expect(seen[0]?.text).toContain('"creto"."relay_queue"');
    expect(seen[0]?.params).toEqual(['default', 5]);
  });
});
