import { expectEnablementRejection, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as crypto } from '../crypto/noble.js';
import { bytesToUtf8, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { formatNhi } from '../identity/nhi.js';
import { openCheckpoint, signCheckpoint } from './checkpoint.js';
import { type DurableAuditLogOptions, openAuditLog } from './durable-log.js';
import { type AuditReceipt, auditLeafData, createAuditEvent, type UnifiedAuditEvent } from './event.js';
import { hashLeaf } from './hash.js';
import { createAuditLog, type InProcessAuditLog } from './log.js';
import { MerkleTree } from './merkle-tree.js';
import { createEd25519NoteSigner } from './note.js';
import { type AuditLogStore, createMemoryAuditLogStore, type MemoryAuditLogStore } from './store.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

const ORIGIN = 'audit.test.local/log';
const KEY = new Uint8Array(32).fill(11);
const OTHER_KEY = new Uint8Array(32).fill(12);
const AGENTS = [1, 2, 3].map((seed) =>
  formatNhi('agent', crypto.ed25519.generateKeyPair(new Uint8Array(32).fill(seed)).publicKey),
);

const clock = new FakeClock();
const T0 = clock.now();

/** A valid custom event; `i` varies its content and timestamp (all in the past of `clock`). */
const event = (i: number, overrides: Partial<Parameters<typeof createAuditEvent>[0]> = {}) =>
  createAuditEvent({
    product: i % 2 ? 'runtime' : 'metering',
    agentNhi: AGENTS[i % AGENTS.length] as string,
    action: `tool.call.${i % 4}`,
    resource: `runtime:sandbox:sb-${i}`,
    outcome: i % 5 ? 'success' : 'failure',
    timestamp: T0 - 1_000_000_000n + BigInt(i) * 1000n,
    metadata: { i },
    ...overrides,
  });

/** The leaf text the log stores for `e`. */
const leafText = (e: UnifiedAuditEvent) => bytesToUtf8(auditLeafData(e));

const open = (store: AuditLogStore, options: Partial<DurableAuditLogOptions> = {}) =>
  openAuditLog({ store, signingKey: KEY, origin: ORIGIN, clock, ...options });

/** Lets queued microtasks and store promises run (the memory store answers asynchronously). */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A log over a memory store whose `appendLeaves` waits until `release()`; `calls` holds the
 * batch sizes written.
 */
async function gatedLog(options: Partial<DurableAuditLogOptions> = {}) {
  const inner = createMemoryAuditLogStore();
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const calls: number[] = [];
  const store: AuditLogStore = {
    ...inner,
    appendLeaves: async (start, leaves) => {
      calls.push(leaves.length);
      await gate;
      return inner.appendLeaves(start, leaves);
    },
  };
  const log = await open(store, options);
  return { log, inner, calls, release: () => release() };
}

/** A store whose appendLeaves / saveCheckpoint calls are counted (batch sizes). */
function countingStore(inner: MemoryAuditLogStore = createMemoryAuditLogStore()) {
  const appends: number[] = [];
  let saves = 0;
  const store: AuditLogStore = {
    ...inner,
    appendLeaves: (start, leaves) => {
      appends.push(leaves.length);
      return inner.appendLeaves(start, leaves);
    },
    saveCheckpoint: (checkpoint) => {
      saves++;
      return inner.saveCheckpoint(checkpoint);
    },
  };
  return { store, inner, appends, saves: () => saves };
}

/** What the next `appendLeaves` of a {@link faultyStore} does wrong. */
type Fault = 'ok' | 'lost-true' | 'throw-after' | 'throw-before';

/**
 * A memory store whose next `appendLeaves` calls suffer `faults`, in order (then none):
 * `lost-true` writes but answers `false`, `throw-after` writes then throws (a lost answer),
 * `throw-before` throws without writing.
 */
function faultyStore(faults: Fault[] = []) {
  const inner = createMemoryAuditLogStore();
  const refused = new Error('disk on fire');
  const store: AuditLogStore = {
    ...inner,
    appendLeaves: async (start, leaves) => {
      const fault = faults.shift() ?? 'ok';
      if (fault === 'throw-before') throw refused;
      const written = await inner.appendLeaves(start, leaves);
      if (fault === 'throw-after') throw new Error('connection reset');
      return fault === 'lost-true' ? false : written;
    },
  };
  return { store, inner, faults, refused };
}

/** Checks a receipt against the log's tree at the receipt's size. */
/** Whether a receipt verifies on its own (RFC 9162 inclusion in the head it carries). */
const standalone = (r: AuditReceipt) =>
  verifyInclusion(r.leafIndex, r.treeSize, r.leafHash, r.inclusionPath, r.rootHash);

async function expectReceiptInLog(log: InProcessAuditLog, e: UnifiedAuditEvent, receipt: unknown) {
  const r = receipt as AuditReceipt;
  const proof = await log.inclusionProof(r.leafIndex, r.treeSize);
  expect(proof.rootHash).toEqual(r.rootHash);
  expect(proof.path).toEqual(r.inclusionPath);
  expect(standalone(r)).toBe(true);
  expect(r.leafHash).toEqual(hashLeaf(auditLeafData(e)));
}

describe('openAuditLog: restart', () => {
  it('reopens with the same size, roots, receipts, proofs and query results', async () => {
    const store = createMemoryAuditLogStore();
    const log = await open(store);
    const events = Array.from({ length: 40 }, (_, i) => event(i));
    const receipts = [];
    for (const e of events) receipts.push(await log.append(e));
    const before = await log.checkpoint();

    const reopened = await open(store);
    expect(reopened.size).toBe(40);
    for (const size of [0n, 1n, 17n, 40n]) {
      expect((await reopened.consistencyProof(size)).fromRoot).toEqual(
        (await log.consistencyProof(size)).fromRoot,
      );
    }
    expect(await reopened.inclusionProof(5n, 31n)).toEqual(await log.inclusionProof(5n, 31n));
    expect(await reopened.consistencyProof(7n, 33n)).toEqual(await log.consistencyProof(7n, 33n));
    for (const query of [
      { limit: 1000 },
      { agentNhi: AGENTS[1], product: 'runtime' as const },
      { from: T0 - 999_990_000n },
    ]) {
      expect(await reopened.query(query)).toEqual(await log.query(query));
    }
    const page = await reopened.query({ limit: 1000 });
    expect(page.events.map((e) => e.merkleProof)).toEqual(receipts);
    // Appending an event again after the restart gives its original receipt.
    expect(await reopened.append(events[3] as UnifiedAuditEvent)).toEqual(receipts[3]);

    // A checkpoint published before the restart still verifies, and the reopened log proves it
    // extended that head append-only.
    await reopened.append(event(40));
    const opened = openCheckpoint(before.note, [reopened.checkpointVerifier], { origin: ORIGIN });
    const after = await reopened.checkpoint();
    const proof = await reopened.consistencyProof(opened.checkpoint.treeSize);
    expect(
      verifyConsistency(
        opened.checkpoint.treeSize,
        after.checkpoint.treeSize,
        opened.checkpoint.rootHash,
        after.checkpoint.rootHash,
        proof.path,
      ),
    ).toBe(true);
  });

  it('builds exactly the tree the in-memory log builds (one implementation)', async () => {
    const durable = await open(createMemoryAuditLogStore());
    const memory = createAuditLog({ signingKey: KEY, origin: ORIGIN, clock });
    for (let i = 0; i < 12; i++) {
      // A plain (unvalidated) copy on one path exercises the validating branch too.
      const e = event(i);
      expect(await durable.append(i % 2 ? e : { ...e })).toEqual(await memory.append(e));
    }
    expect((await durable.checkpoint()).note).toBe((await memory.checkpoint()).note);
    expect(durable.checkpointVerifier.publicKey).toEqual(memory.checkpointVerifier.publicKey);
  });

  it('opens an empty store, and a store larger than one read page', async () => {
    expect((await open(createMemoryAuditLogStore())).size).toBe(0);
    const inner = createMemoryAuditLogStore();
    const texts = Array.from({ length: 10_050 }, (_, i) => leafText(event(i)));
    await inner.appendLeaves(0, texts.slice(0, 10_000));
    await inner.appendLeaves(10_000, texts.slice(10_000));
    const reads: number[] = [];
    const store: AuditLogStore = {
      ...inner,
      readLeaves: async (from, limit) => {
        reads.push(from);
        return inner.readLeaves(from, limit);
      },
    };
    const log = await open(store);
    expect(log.size).toBe(10_050);
    expect(reads).toEqual([0, 10_000]);
  });
});

describe('openAuditLog: group commit', () => {
  it('writes concurrent appends in one store call, in order, with receipts that verify', async () => {
    const { store, appends } = countingStore();
    const log = await open(store);
    const events = Array.from({ length: 500 }, (_, i) => event(i));
    const receipts = await Promise.all(events.map((e) => log.append(e)));
    expect(appends).toEqual([500]);
    expect(log.size).toBe(500);
    for (const [i, receipt] of receipts.entries()) {
      expect(receipt.leafIndex).toBe(BigInt(i));
      expect(receipt.treeSize).toBe(BigInt(i + 1));
      expect(standalone(receipt)).toBe(true);
    }
    expect((await log.query({ limit: 1000 })).events.map((e) => e.eventId)).toEqual(
      events.map((e) => e.eventId),
    );
  });

  it('batches appends that arrive during a write into the next write', async () => {
    const { log, calls, release } = await gatedLog();
    const first = [event(0), event(1)].map((e) => log.append(e));
    await drain();
    expect(calls).toEqual([2]);
    const second = Array.from({ length: 30 }, (_, i) => log.append(event(i + 2)));
    await drain();
    expect(calls).toEqual([2]); // one write at a time
    release();
    const receipts = await Promise.all([...first, ...second]);
    expect(calls).toEqual([2, 30]);
    expect(receipts.map((r) => r.leafIndex)).toEqual(Array.from({ length: 32 }, (_, i) => BigInt(i)));
  });

  it('shows only committed leaves to queries, proofs and checkpoints', async () => {
    const { log, inner, release } = await gatedLog();
    const pending = log.append(event(0));
    await drain();
    expect(log.size).toBe(0);
    expect((await log.query({})).events).toEqual([]);
    await expectEnablementRejection(log.inclusionProof(0n), 'PL-400');
    expect((await log.checkpoint()).checkpoint.treeSize).toBe(0n);
    release();
    await pending;
    expect(log.size).toBe(1);
    expect(inner.leaves()).toHaveLength(1);
  });

  it('shares one receipt between waiting duplicates and refuses other content under a waiting id', async () => {
    const { log, calls, release } = await gatedLog();
    const e = event(0);
    const a = log.append(e);
    const b = log.append({ ...e }); // same content, not the same object
    await expectEnablementRejection(
      log.append(event(0, { eventId: e.eventId, outcome: 'denied' })),
      'PL-409',
    );
    release();
    const [ra, rb] = await Promise.all([a, b]);
    expect(rb).toBe(ra);
    expect(calls).toEqual([1]);
    // Committed: same content gives the receipt, other content PL-409.
    expect(await log.append(e)).toEqual(ra);
    await expectEnablementRejection(log.append(event(0, { eventId: e.eventId, metadata: 2 })), 'PL-409');
  });

  it('rejects invalid, skewed and conflicting events at once, without touching the store', async () => {
    const { store, appends } = countingStore();
    const log = await open(store);
    await expectEnablementRejection(log.append(null as unknown as UnifiedAuditEvent), 'PL-400');
    await expectEnablementRejection(
      log.append({ ...event(0), action: 'has space' } as UnifiedAuditEvent),
      'PL-400',
      'action',
    );
    await expectEnablementRejection(
      log.append(event(1, { timestamp: clock.now() + 1_000_000_000n })),
      'PL-425',
    );
    expect(appends).toEqual([]);
    expect(log.size).toBe(0);
  });
});

describe('openAuditLog: store answers and failures', () => {
  it('two writers on one store never fork: identical roots, each event once', async () => {
    const store = createMemoryAuditLogStore();
    const a = await open(store);
    const b = await open(store);
    const events = Array.from({ length: 60 }, (_, i) => event(i));
    const given = new Map<string, Promise<unknown>>();
    // Interleaved rounds: each writer's batch races the other's; some events go through both.
    for (let round = 0; round < 3; round++) {
      const slice = events.slice(round * 20, round * 20 + 20);
      const racing = slice.flatMap((e, i) => {
        const writers = i % 5 === 0 ? [a, b] : [i % 2 ? a : b];
        return writers.map((w) => {
          const p = w.append(e);
          given.set(`${e.eventId}:${w === a ? 'a' : 'b'}`, p);
          return p;
        });
      });
      await Promise.all(racing);
    }
    // Bring both up to date: each one's next write reads what the other wrote.
    const sync = [event(100), event(101)];
    await a.append(sync[0] as UnifiedAuditEvent);
    await b.append(sync[1] as UnifiedAuditEvent);
    await a.append(sync[1] as UnifiedAuditEvent); // already written by b: a reads it, writes nothing
    expect(a.size).toBe(b.size);
    expect(a.size).toBe(62);
    expect((await a.checkpoint()).checkpoint.rootHash).toEqual((await b.checkpoint()).checkpoint.rootHash);
    const ids = store.leaves().map((text) => (JSON.parse(text) as { event_id: string }).event_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(62);
    // Every receipt either writer gave is in the common tree.
    const reopened = await open(store);
    for (const [key, receipt] of given) {
      const id = key.split(':')[0];
      await expectReceiptInLog(
        reopened,
        events.find((e) => e.eventId === id) as UnifiedAuditEvent,
        await receipt,
      );
    }
  });

  it('a lost true (the store wrote, then answered false): the append gets its receipt, no second leaf', async () => {
    const { store, inner } = faultyStore(['lost-true']);
    const log = await open(store);
    const e = event(0);
    const receipt = await log.append(e);
    expect(receipt.leafIndex).toBe(0n);
    expect(inner.leaves()).toEqual([leafText(e)]);
    expect(await log.append(e)).toEqual(receipt);
  });

  it('a lost answer (the store wrote, then threw): PL-503, and the retried append returns the original receipt', async () => {
    const { store, inner } = faultyStore(['throw-after']);
    const log = await open(store);
    const e = event(0);
    const error = await expectEnablementRejection(log.append(e), 'PL-503');
    expect(error.retryable).toBe(true);
    expect(log.size).toBe(0);
    const receipt = await log.append(e);
    expect(receipt.leafIndex).toBe(0n);
    expect(inner.leaves()).toEqual([leafText(e)]);
    // And a fresh log over the same store agrees.
    expect(await (await open(inner)).append(e)).toEqual(receipt);
  });

  it('a store that throws: PL-503 with the cause, nothing integrated, later appends fine', async () => {
    const { store, refused } = faultyStore(['throw-before']);
    const log = await open(store);
    const failed = await Promise.allSettled([log.append(event(0)), log.append(event(1))]);
    for (const result of failed) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as EnablementError;
      expect(error.code).toBe('PL-503');
      expect(error.retryable).toBe(true);
      expect(error.cause).toBe(refused);
      expect(error.message).not.toContain('disk on fire');
    }
    expect(log.size).toBe(0);
    expect((await log.query({})).events).toEqual([]);
    const receipt = await log.append(event(2));
    expect(receipt.leafIndex).toBe(0n);
    expect((await log.append(event(0))).leafIndex).toBe(1n);
  });

  it('gives up after three rounds of contention with a retryable PL-503, keeping what others wrote', async () => {
    const inner = createMemoryAuditLogStore();
    let foreign = 1000;
    const store: AuditLogStore = {
      ...inner,
      // Another writer always gets there first.
      appendLeaves: async (start, leaves) => {
        await inner.appendLeaves(await inner.size(), [leafText(event(foreign++))]);
        return inner.appendLeaves(start, leaves);
      },
    };
    const log = await open(store);
    const error = await expectEnablementRejection(log.append(event(0)), 'PL-503', 'contention');
    expect(error.retryable).toBe(true);
    expect(log.size).toBe(3); // the three foreign leaves it read on the way
    expect(inner.leaves()).toHaveLength(3);
  });

  it('settles a waiting event that another writer committed: its receipt, or PL-409 for other content', async () => {
    const { log, inner, release } = await gatedLog();
    const same = event(0);
    const clash = event(1);
    const mine = [log.append(same), log.append(clash), log.append(event(2))];
    await drain();
    // Meanwhile another process writes `same` and a different event under `clash`'s id.
    await inner.appendLeaves(0, [
      leafText(same),
      leafText(event(1, { eventId: clash.eventId, outcome: 'denied' })),
    ]);
    release();
    const [r0, r1, r2] = await Promise.allSettled(mine);
    expect(r0).toMatchObject({ status: 'fulfilled', value: { leafIndex: 0n } });
    expect((r1 as PromiseRejectedResult).reason).toMatchObject({ code: 'PL-409' });
    expect(r2).toMatchObject({ status: 'fulfilled', value: { leafIndex: 2n } });
    expect(inner.leaves()).toHaveLength(3);
  });

  it('never writes a queued event that a catch-up for an earlier batch found already written', async () => {
    const { log, inner, release } = await gatedLog();
    const x = event(0);
    const y = event(1);
    const first = log.append(x);
    await drain(); // x is being written
    const second = log.append(y); // queued behind it
    await inner.appendLeaves(0, [leafText(y)]); // another process writes y first
    release();
    expect((await first).leafIndex).toBe(1n);
    expect((await second).leafIndex).toBe(0n);
    expect(inner.leaves()).toEqual([leafText(y), leafText(x)]);
  });

  it('rejects a corrupt leaf met while catching up with PL-500, and stays closed to writes', async () => {
    const inner = createMemoryAuditLogStore();
    const log = await open(inner);
    await inner.appendLeaves(0, ['{"not":"an event"}']);
    await expectEnablementRejection(log.append(event(0)), 'PL-500', 'leaf 0');
    await expectEnablementRejection(log.append(event(1)), 'PL-500', 'leaf 0');
    expect(log.size).toBe(0);
  });

  it('never loses a receipt, forks or doubles a leaf under random faults and two racing writers (property)', async () => {
    const events = Array.from({ length: 12 }, (_, i) => event(i));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(11), fc.boolean()), { minLength: 1, maxLength: 30 }),
        fc.array(fc.constantFrom<Fault>('ok', 'lost-true', 'throw-after', 'throw-before'), { maxLength: 8 }),
        async (steps, faultPlan) => {
          const { store, inner, faults } = faultyStore([...faultPlan]);
          const writers = [await open(store), await open(store)];
          const byEvent = new Map<string, AuditReceipt>();
          const agree = (e: UnifiedAuditEvent, receipt: AuditReceipt) => {
            const earlier = byEvent.get(e.eventId);
            if (earlier === undefined) byEvent.set(e.eventId, receipt);
            // Every receipt of one event, from either writer, names the same leaf.
            else expect(receipt).toEqual(earlier);
          };
          // Both writers race; the store misbehaves on the first calls.
          const outcomes = await Promise.allSettled(
            steps.map(([which, second]) =>
              (writers[second ? 1 : 0] as InProcessAuditLog).append(events[which] as UnifiedAuditEvent),
            ),
          );
          for (const [k, outcome] of outcomes.entries()) {
            const e = events[(steps[k] as [number, boolean])[0]] as UnifiedAuditEvent;
            if (outcome.status === 'fulfilled') agree(e, outcome.value);
            else expect(outcome.reason).toMatchObject({ code: 'PL-503', retryable: true });
          }
          // Once the store behaves, retrying everything gives every event its one leaf and
          // any earlier receipt again.
          faults.length = 0;
          for (const e of events) agree(e, await (writers[0] as InProcessAuditLog).append(e));
          const ids = inner.leaves().map((t) => (JSON.parse(t) as { event_id: string }).event_id);
          expect(ids).toHaveLength(events.length);
          expect(new Set(ids).size).toBe(events.length);
          const reopened = await open(inner);
          for (const e of events) await expectReceiptInLog(reopened, e, byEvent.get(e.eventId));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('openAuditLog: bounds', () => {
  it('refuses appends beyond maxPendingAppends with a retryable PL-503 and a retry hint', async () => {
    const { log, release } = await gatedLog({ maxPendingAppends: 3 });
    const events = [0, 1, 2, 3].map((i) => event(i));
    const waiting = events.slice(0, 3).map((e) => log.append(e));
    const error = await expectEnablementRejection(
      log.append(events[3] as UnifiedAuditEvent),
      'PL-503',
      'waiting',
    );
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    // A duplicate of a waiting event is not a new append: it shares the waiting receipt.
    const dup = log.append({ ...(events[1] as UnifiedAuditEvent) });
    release();
    const receipts = await Promise.all(waiting);
    expect(receipts.map((r) => r.leafIndex)).toEqual([0n, 1n, 2n]);
    expect(await dup).toBe(receipts[1]);
    expect((await log.append(events[3] as UnifiedAuditEvent)).leafIndex).toBe(3n);
  });

  it('counts waiting appends against maxEvents', async () => {
    const { log, release } = await gatedLog({ limits: { maxEvents: 2 } });
    const waiting = [log.append(event(0)), log.append(event(1))];
    const error = await expectEnablementRejection(log.append(event(2)), 'PL-503', 'full');
    expect(error.retryable).toBe(false);
    release();
    await Promise.all(waiting);
    await expectEnablementRejection(log.append(event(2)), 'PL-503', 'full');
  });

  it('refuses to open a store holding more than maxEvents leaves (PL-503, not retryable)', async () => {
    const store = createMemoryAuditLogStore();
    await store.appendLeaves(
      0,
      [0, 1, 2].map((i) => leafText(event(i))),
    );
    const error = await expectEnablementRejection(open(store, { limits: { maxEvents: 2 } }), 'PL-503');
    expect(error.retryable).toBe(false);
    expect((await open(store, { limits: { maxEvents: 3 } })).size).toBe(3);
  });
});

describe('openAuditLog: checkpoints', () => {
  it('saves each checkpoint in the store once per size, before resolving', async () => {
    const { store, inner, saves } = countingStore();
    const log = await open(store);
    await log.append(event(0));
    const first = await log.checkpoint();
    expect(await inner.latestCheckpoint()).toEqual({ treeSize: 1, note: first.note });
    await log.checkpoint();
    expect(saves()).toBe(1);
    await log.append(event(1));
    await log.checkpoint();
    expect(saves()).toBe(2);
    expect((await inner.latestCheckpoint())?.treeSize).toBe(2);
    // Reopened at a saved size: not saved again.
    await (await open(store)).checkpoint();
    expect(saves()).toBe(2);
  });

  it('turns a failed save into a retryable PL-503', async () => {
    const inner = createMemoryAuditLogStore();
    const store: AuditLogStore = {
      ...inner,
      saveCheckpoint: async () => {
        throw new Error('read-only');
      },
    };
    const log = await open(store);
    const error = await expectEnablementRejection(log.checkpoint(), 'PL-503', 'checkpoint');
    expect(error.retryable).toBe(true);
  });

  it('trusts checkpoints of an earlier key listed in checkpointVerifiers (key rotation)', async () => {
    const store = createMemoryAuditLogStore();
    const old = await open(store);
    await old.append(event(0));
    await old.checkpoint();
    await expectEnablementRejection(open(store, { signingKey: OTHER_KEY }), 'PL-401');
    const rotated = await open(store, {
      signingKey: OTHER_KEY,
      checkpointVerifiers: [old.checkpointVerifier],
    });
    expect(rotated.size).toBe(1);
    await rotated.append(event(1));
    await rotated.checkpoint();
    // The latest checkpoint is now the new key's: the old verifier is no longer needed.
    expect((await open(store, { signingKey: OTHER_KEY })).size).toBe(2);
  });
});

describe('openAuditLog: tamper checks at open', () => {
  /** A store of five events with a checkpoint at size 5, and a way to present it altered. */
  async function checkpointed() {
    const inner = createMemoryAuditLogStore();
    const log = await open(inner);
    const events = Array.from({ length: 5 }, (_, i) => event(i));
    for (const e of events) await log.append(e);
    await log.checkpoint();
    const altered = (patch: Partial<AuditLogStore>): AuditLogStore => ({ ...inner, ...patch });
    const withLeaf = (index: number, text: string) =>
      altered({
        readLeaves: async (from, limit) =>
          (await inner.readLeaves(from, limit)).map((t, k) => (from + k === index ? text : t)),
      });
    return { inner, events, altered, withLeaf };
  }

  it('an altered leaf (valid, canonical, other content): PL-401, the root differs', async () => {
    const { withLeaf } = await checkpointed();
    await expectEnablementRejection(open(withLeaf(2, leafText(event(99)))), 'PL-401', 'root');
  });

  it('a leaf not in canonical form, garbage, or not an event: PL-500 naming the index', async () => {
    const { withLeaf, events } = await checkpointed();
    const text = leafText(events[3] as UnifiedAuditEvent);
    const hostile = [
      text.replace('{', '{ '), // same JSON, other bytes
      '{"event_id": garbage',
      '',
      'null',
      '[]',
      '{"a":1}',
      `${text.slice(0, -1)},"merkle_proof":null}`,
      JSON.stringify({ ...JSON.parse(text), outcome: 'exploded' }),
    ];
    for (const bad of hostile) {
      const error = await expectEnablementRejection(open(withLeaf(3, bad)), 'PL-500', 'leaf 3');
      expect(error).toBeInstanceOf(EnablementError);
    }
    const notString = (await checkpointed()).altered({ readLeaves: async () => [42 as unknown as string] });
    await expectEnablementRejection(open(notString), 'PL-500', 'leaf 0');
  });

  it('an event id stored twice: PL-500', async () => {
    const { withLeaf, events } = await checkpointed();
    await expectEnablementRejection(
      open(withLeaf(4, leafText(events[1] as UnifiedAuditEvent))),
      'PL-500',
      'twice',
    );
  });

  it('leaves lost below the checkpoint: PL-401', async () => {
    const { altered, inner } = await checkpointed();
    const dropped = altered({
      readLeaves: async (from, limit) => (await inner.readLeaves(from, limit)).slice(0, 4 - from),
    });
    await expectEnablementRejection(open(dropped), 'PL-401', 'lost');
  });

  it('a checkpoint signed by another key, of another origin, malformed, or mislabelled: PL-401', async () => {
    const { altered, inner, events } = await checkpointed();
    const saved = await inner.latestCheckpoint();
    const forge = async (origin: string, key: Uint8Array) => {
      const other = createAuditLog({ origin, signingKey: key, clock });
      for (const e of events) await other.append(e);
      return (await other.checkpoint()).note;
    };
    const forgeries = [
      { treeSize: 5, note: await forge(ORIGIN, OTHER_KEY) },
      { treeSize: 5, note: await forge('audit.other.local/log', KEY) },
      { treeSize: 5, note: 'not a note' },
      { treeSize: 5, note: saved?.note.replace('\n5\n', '\n4\n') ?? '' },
      { treeSize: 4, note: saved?.note ?? '' },
      { size: 5 },
    ];
    for (const checkpoint of forgeries) {
      const store = altered({ latestCheckpoint: async () => checkpoint as never });
      await expectEnablementRejection(open(store), 'PL-401');
    }
    // The forger's key, given as trusted, is trusted (that is what checkpointVerifiers means).
    const otherSigner = createEd25519NoteSigner(ORIGIN, OTHER_KEY, crypto);
    const store = altered({ latestCheckpoint: async () => forgeries[0] as never });
    expect((await open(store, { checkpointVerifiers: [otherSigner.verifier()] })).size).toBe(5);
  });

  it('reports store failures at open as retryable PL-503', async () => {
    const { altered } = await checkpointed();
    for (const patch of [
      { readLeaves: async () => Promise.reject(new Error('down')) },
      { latestCheckpoint: async () => Promise.reject(new Error('down')) },
    ]) {
      const error = await expectEnablementRejection(open(altered(patch)), 'PL-503');
      expect(error.retryable).toBe(true);
    }
    await expectEnablementRejection(open(altered({ readLeaves: async () => 'x' as never })), 'PL-500');
  });
});

describe('openAuditLog: leaves covered by the checkpoint', () => {
  /**
   * A memory store holding `texts` as they are, with a checkpoint signed by this log's key over
   * the first `covered` of them (what a writer holding the key vouched for), and the readLeaves
   * calls made on it.
   */
  async function signedStore(texts: readonly string[], covered: number) {
    const inner = createMemoryAuditLogStore();
    await inner.appendLeaves(0, texts);
    const tree = new MerkleTree({ sha256: (d) => crypto.sha256(d) });
    for (const text of texts.slice(0, covered)) tree.appendLeaf(utf8ToBytes(text));
    const signer = createEd25519NoteSigner(ORIGIN, KEY, crypto);
    const checkpoint = { origin: ORIGIN, treeSize: BigInt(covered), rootHash: tree.root(), extensions: [] };
    await inner.saveCheckpoint({ treeSize: covered, note: signCheckpoint(checkpoint, signer) });
    const reads: number[] = [];
    /** The store as read by the log, with leaf `index` replaced by `text` (bytes the signer never saw). */
    const presenting = (index?: number, text?: string): AuditLogStore => ({
      ...inner,
      readLeaves: async (from, limit) => {
        reads.push(from);
        return (await inner.readLeaves(from, limit)).map((t, k) =>
          from + k === index ? (text as string) : t,
        );
      },
    });
    return { inner, reads, presenting };
  }

  const texts = Array.from({ length: 8 }, (_, i) => leafText(event(i)));
  /** Leaf `i`'s text with `patch` merged into its JSON (key order kept, so still canonical). */
  const patched = (i: number, patch: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(texts[i] as string), ...patch });

  it('a tampered covered leaf (well-formed, content changed): PL-401, after a second, full pass finds no corrupt leaf', async () => {
    for (const patch of [{ outcome: 'denied' }, { metadata: { i: 99 } }, { timestamp: String(T0 - 5n) }]) {
      const { presenting, reads } = await signedStore(texts, 6);
      await expectEnablementRejection(open(presenting(2, patched(2, patch))), 'PL-401', 'root');
      expect(reads).toEqual([0, 0]);
    }
  });

  it('a garbage covered leaf: PL-500 naming it at once, from the structural parse, before any root comparison', async () => {
    const hostile = [
      'not json',
      '[]',
      'null',
      '{"a":1}',
      patched(3, { product: 'nope' }),
      patched(3, { timestamp: '12.5' }),
      patched(3, { agent_nhi: 7 }),
      patched(3, { extra: true }),
      patched(3, { merkle_proof: null }),
      // Nested beyond the stack while the stored event is frozen: a PL-500, not a crash.
      (texts[3] as string).replace(
        '"metadata":{"i":3}',
        `"metadata":${'['.repeat(200_000)}${']'.repeat(200_000)}`,
      ),
    ];
    for (const bad of hostile) {
      const { presenting, reads } = await signedStore(texts, 6);
      await expectEnablementRejection(open(presenting(3, bad)), 'PL-500', 'leaf 3');
      expect(reads).toEqual([0]);
    }
  });

  it('a covered leaf that is well-formed but not valid (codec, canonical form): PL-500 naming it, found by the second pass', async () => {
    const hostile: [string, string][] = [
      [(texts[3] as string).replace('{', '{ '), 'canonical'],
      [patched(3, { agent_nhi: 'agent:nhi:ed25519:notakey' }), 'not an audit event'],
      [patched(3, { action: 'has space' }), 'not an audit event'],
    ];
    for (const [bad, why] of hostile) {
      const { presenting, reads } = await signedStore(texts, 6);
      await expectEnablementRejection(open(presenting(3, bad)), 'PL-500', why);
      expect(reads).toEqual([0, 0]);
    }
    // Leaves lost below the checkpoint and a corrupt one among those left: the corrupt one is named.
    const { inner } = await signedStore(texts, 6);
    const shortened: AuditLogStore = {
      ...inner,
      readLeaves: async (from, limit) =>
        (await inner.readLeaves(from, limit))
          .slice(0, 4 - from)
          .map((t, k) => (from + k === 1 ? t.replace('{', '{ ') : t)),
    };
    await expectEnablementRejection(open(shortened), 'PL-500', 'leaf 1');
  });

  it('trusts the signed root for the leaves it covers, and validates every leaf after it in full', async () => {
    // A leaf the codec refuses, signed into a checkpoint with this log's key: the key vouches
    // for the covered bytes, so the log opens (whoever holds the key can sign anything).
    const odd = patched(1, { agent_nhi: 'agent:nhi:ed25519:notakey' });
    const vouched = await signedStore([texts[0] as string, odd, ...texts.slice(2)], 6);
    const log = await open(vouched.presenting());
    expect(log.size).toBe(8);
    expect((await log.query({ agentNhi: 'agent:nhi:ed25519:notakey' })).events).toHaveLength(1);

    // The same leaf, or any invalid one, after the checkpoint: PL-500 naming it.
    const uncovered: [string, string][] = [
      [odd, 'not an audit event'],
      [(texts[6] as string).replace('{', '{ '), 'not in canonical form'],
      [patched(6, { outcome: 'exploded' }), 'not an audit event'],
      ['not json', 'not JSON'],
    ];
    for (const [bad, why] of uncovered) {
      const { presenting } = await signedStore(texts, 6);
      await expectEnablementRejection(open(presenting(6, bad)), 'PL-500', `leaf 6 is corrupt: ${why}`);
    }
    // And a covered leaf repeating an uncovered one's id, or the other way round: PL-500.
    for (const [index, text] of [
      [7, texts[2]],
      [4, texts[7]],
    ] as const) {
      const { presenting } = await signedStore(texts, 6);
      await expectEnablementRejection(open(presenting(index, text)), 'PL-500', 'twice');
    }
  });

  it('gives the receipts, proofs and roots of the log that wrote the leaves, asked for in any order', async () => {
    const count = 1500; // beyond the root cache's first allocation (1024)
    const memory = createAuditLog({ signingKey: KEY, origin: ORIGIN, clock });
    const store = createMemoryAuditLogStore();
    const writer = await open(store);
    const events = Array.from({ length: count }, (_, i) => event(i));
    const receipts = await Promise.all(events.map((e) => writer.append(e)));
    for (const e of events.slice(0, 1000)) await memory.append(e);
    await writer.checkpoint(); // covers all
    for (const e of events.slice(1000)) await memory.append(e);

    const reopened = await open(store);
    const sizes = fc.sample(fc.integer({ min: 0, max: count }), { numRuns: 60, seed: 7 });
    for (const size of [count, ...sizes, 1, count - 1]) {
      const ours = await reopened.consistencyProof(BigInt(size));
      expect(ours).toEqual(await memory.consistencyProof(BigInt(size)));
    }
    const page = await reopened.query({ limit: 1000, cursor: '499' });
    expect(page.events.map((e) => e.merkleProof)).toEqual(receipts.slice(500, 1500));
    expect((await reopened.checkpoint()).note).toBe((await memory.checkpoint()).note);
  });
});

describe('openAuditLog: options', () => {
  it('requires a 32-byte signingKey and a store, and refuses unknown options (PL-400)', async () => {
    const store = createMemoryAuditLogStore();
    const cases: [unknown, string][] = [
      [{ store }, 'signingKey'],
      [{ store, signingKey: new Uint8Array(31) }, 'signingKey'],
      [{ signingKey: KEY }, 'store'],
      [{ store: { size: async () => 0 }, signingKey: KEY }, 'store'],
      [{ store, signingKey: KEY, maxPendingAppends: 0 }, 'maxPendingAppends'],
      [{ store, signingKey: KEY, checkpointVerifiers: [{}] }, 'checkpointVerifiers'],
      [{ store, signingKey: KEY, origin: 'has space' }, 'origin'],
      [{ store, signingKey: KEY, limits: { defaultPageSize: 50, maxPageSize: 10 } }, 'defaultPageSize'],
      [{ store, signingKey: KEY, extra: true }, 'extra'],
      [null, 'openAuditLog'],
    ];
    for (const [options, field] of cases) {
      await expectEnablementRejection(openAuditLog(options as DurableAuditLogOptions), 'PL-400', field);
    }
  });

  it('validates synchronously inside: a bad option never reaches the store', async () => {
    let touched = false;
    const inner = createMemoryAuditLogStore();
    const store: AuditLogStore = {
      ...inner,
      latestCheckpoint: async () => {
        touched = true;
        return undefined;
      },
    };
    await expectEnablementRejection(openAuditLog({ store, signingKey: new Uint8Array(3) }), 'PL-400');
    expect(touched).toBe(false);
  });
});
