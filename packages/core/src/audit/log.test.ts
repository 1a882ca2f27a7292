import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as crypto } from '../crypto/noble.js';
import { nodeCryptoProvider } from '../crypto/node.js';
import { bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { ProductId } from '../errors/product.js';
import { formatNhi } from '../identity/nhi.js';
import { sandboxId } from '../ids/sandbox-id.js';
import type { Clock } from '../time/clock.js';
import { assertCheckpointConsistency, openCheckpoint } from './checkpoint.js';
import {
  AuditEvents,
  type AuditOutcome,
  auditLeafData,
  createAuditEvent,
  encodeAuditEvent,
  type UnifiedAuditEvent,
} from './event.js';
import { hashLeaf } from './hash.js';
import { type AuditQuery, createAuditLog, type InProcessAuditLog } from './log.js';
import { createEd25519NoteVerifier, formatNoteVerifierKey, parseNoteVerifierKey } from './note.js';
import { verifyConsistency, verifyInclusion } from './verify.js';

const START = 1_767_225_600_000_000_000n;

/** A clock that stands still unless the test moves it. */
function stillClock(start = START): Clock & { now(): bigint; set(t: bigint): void } {
  let t = start;
  return {
    now: () => t,
    set: (value: bigint) => {
      t = value;
    },
    schedule: () => () => {},
  };
}

const AGENTS = [1, 2, 3, 4, 5].map((seed) =>
  formatNhi('agent', crypto.ed25519.generateKeyPair(new Uint8Array(32).fill(seed)).publicKey),
);
const AGENT = AGENTS[0] as string;

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<EnablementError> {
  try {
    await promise;
  } catch (error) {
    expect(EnablementError.is(error)).toBe(true);
    expect((error as EnablementError).code).toBe(code);
    return error as EnablementError;
  }
  throw new Error(`expected a ${code} rejection`);
}

const custom = (i: number, overrides: Partial<Parameters<typeof createAuditEvent>[0]> = {}) =>
  createAuditEvent({
    product: 'runtime',
    agentNhi: AGENT,
    action: 'tool.call',
    resource: `runtime:sandbox:sb-${i}`,
    outcome: 'success',
    timestamp: START - 1_000_000_000n + BigInt(i),
    metadata: { i },
    ...overrides,
  });

describe('createAuditLog: append and receipts', () => {
  it('returns receipts that verify standalone and hash the canonical event', async () => {
    const log = createAuditLog({ clock: stillClock() });
    for (let i = 0; i < 20; i++) {
      const event = custom(i);
      const receipt = await log.append(event);
      expect(receipt.leafIndex).toBe(BigInt(i));
      expect(receipt.treeSize).toBe(BigInt(i + 1));
      expect(receipt.leafHash).toEqual(hashLeaf(auditLeafData(event)));
      // The same leaf as computed from the wire form (the path any outside verifier takes).
      expect(receipt.leafHash).toEqual(hashLeaf(auditLeafData(encodeAuditEvent(event))));
      expect(
        verifyInclusion(
          receipt.leafIndex,
          receipt.treeSize,
          receipt.leafHash,
          receipt.inclusionPath,
          receipt.rootHash,
        ),
      ).toBe(true);
    }
    expect(log.size).toBe(20);
  });

  it('keeps every receipt provable against later tree heads (consistency from the receipt size)', async () => {
    const log = createAuditLog({ clock: stillClock() });
    const receipts = [];
    for (let i = 0; i < 13; i++) receipts.push(await log.append(custom(i)));
    const { checkpoint } = await log.checkpoint();
    for (const r of receipts) {
      const c = await log.consistencyProof(r.treeSize);
      expect(c.fromRoot).toEqual(r.rootHash);
      expect(
        verifyConsistency(r.treeSize, checkpoint.treeSize, r.rootHash, checkpoint.rootHash, c.path),
      ).toBe(true);
      const p = await log.inclusionProof(r.leafIndex);
      expect(verifyInclusion(p.leafIndex, p.treeSize, r.leafHash, p.path, checkpoint.rootHash)).toBe(true);
    }
  });

  it('is idempotent for the identical event and refuses another event under the same id', async () => {
    const log = createAuditLog({ clock: stillClock() });
    const event = custom(1);
    const first = await log.append(event);
    await log.append(custom(2));
    const again = await log.append(event);
    expect(again.leafIndex).toBe(first.leafIndex);
    // A plain copy is not known to the module: it is validated afresh, and hashes the same.
    expect((await log.append({ ...event })).leafHash).toEqual(first.leafHash);
    expect(again.rootHash).toEqual(first.rootHash);
    // An event read back from a query (it carries its receipt) is still the same event.
    const page = await log.query({ limit: 1 });
    expect((await log.append(page.events[0] as UnifiedAuditEvent)).leafIndex).toBe(0n);
    expect(log.size).toBe(2);
    await rejectsWith(log.append({ ...event, outcome: 'failure' }), 'PL-409');
    expect(log.size).toBe(2);
  });

  it('rejects invalid events with PL-400 and keeps its state', async () => {
    const log = createAuditLog({ clock: stillClock() });
    await log.append(custom(0));
    const { checkpoint } = await log.checkpoint();
    const bad: unknown[] = [
      null,
      { ...custom(1), agentNhi: 'agent:nhi:ed25519:xyz' },
      { ...custom(1), action: 'with space' },
      { ...custom(1), timestamp: 2n ** 63n },
      { ...custom(1), metadata: { f: () => 1 } },
      { ...custom(1), eventId: 'abc' },
      { ...custom(1), extra: true },
    ];
    for (const event of bad) await rejectsWith(log.append(event as UnifiedAuditEvent), 'PL-400');
    expect(log.size).toBe(1);
    expect((await log.checkpoint()).checkpoint.rootHash).toEqual(checkpoint.rootHash);
    await log.append(custom(1));
    expect(log.size).toBe(2);
  });

  it('stores a frozen copy: changing the caller object later changes nothing', async () => {
    const log = createAuditLog({ clock: stillClock() });
    const metadata = { list: [1, 2] };
    const event = { ...custom(0), metadata } as UnifiedAuditEvent;
    const receipt = await log.append(event);
    metadata.list.push(3);
    const [stored] = (await log.query({})).events;
    expect(stored?.metadata).toEqual({ list: [1, 2] });
    expect(Object.isFrozen(stored)).toBe(true);
    expect(hashLeaf(auditLeafData(stored as UnifiedAuditEvent))).toEqual(receipt.leafHash);
  });

  it('rejects timestamps ahead of its clock beyond the tolerance (PL-425)', async () => {
    const clock = stillClock();
    const log = createAuditLog({ clock, limits: { maxFutureSkewMs: 100 } });
    await log.append(custom(0, { timestamp: START + 100_000_000n })); // exactly at the bound
    await rejectsWith(log.append(custom(1, { timestamp: START + 100_000_001n })), 'PL-425');
    await log.append(custom(2, { timestamp: START - 3_600_000_000_000n })); // late events are fine
    clock.set(START + 1_000_000_000n);
    await log.append(custom(1, { timestamp: START + 100_000_001n }));
    expect(log.size).toBe(3);
  });

  it('refuses appends past maxEvents with a non-retryable PL-503', async () => {
    const log = createAuditLog({ clock: stillClock(), limits: { maxEvents: 3 } });
    const first = custom(0);
    await log.append(first);
    for (let i = 1; i < 3; i++) await log.append(custom(i));
    const error = await rejectsWith(log.append(custom(3)), 'PL-503');
    expect(error.retryable).toBe(false);
    expect(log.size).toBe(3);
    // Re-appending a stored event is still answered.
    expect((await log.append(first)).leafIndex).toBe(0n);
  });

  it('works with the node:crypto provider and gives the same roots', async () => {
    const a = createAuditLog({ clock: stillClock() });
    const b = createAuditLog({ clock: stillClock(), crypto: nodeCryptoProvider });
    for (let i = 0; i < 9; i++) {
      const event = custom(i);
      expect((await b.append(event)).rootHash).toEqual((await a.append(event)).rootHash);
    }
  });
});

describe('createAuditLog: proofs', () => {
  it('serves inclusion and consistency proofs for every earlier size', async () => {
    const log = createAuditLog({ clock: stillClock() });
    const roots: Uint8Array[] = [(await log.checkpoint()).checkpoint.rootHash];
    const leaves: Uint8Array[] = [];
    for (let i = 0; i < 17; i++) {
      const r = await log.append(custom(i));
      roots.push(r.rootHash);
      leaves.push(r.leafHash);
    }
    for (let n = 1; n <= 17; n++) {
      for (let m = 0; m < n; m++) {
        const p = await log.inclusionProof(BigInt(m), BigInt(n));
        expect(p.rootHash).toEqual(roots[n]);
        expect(
          verifyInclusion(BigInt(m), BigInt(n), leaves[m] as Uint8Array, p.path, roots[n] as Uint8Array),
        ).toBe(true);
      }
      for (let m = 0; m <= n; m++) {
        const c = await log.consistencyProof(BigInt(m), BigInt(n));
        expect(c.fromRoot).toEqual(roots[m]);
        expect(c.toRoot).toEqual(roots[n]);
        expect(verifyConsistency(BigInt(m), BigInt(n), c.fromRoot, c.toRoot, c.path)).toBe(true);
      }
    }
  });

  it('rejects out-of-range proof requests with PL-400', async () => {
    const log = createAuditLog({ clock: stillClock() });
    await rejectsWith(log.inclusionProof(0n), 'PL-400'); // empty tree
    for (let i = 0; i < 4; i++) await log.append(custom(i));
    await rejectsWith(log.inclusionProof(4n), 'PL-400'); // index == size
    await rejectsWith(log.inclusionProof(2n, 2n), 'PL-400'); // index == treeSize
    await rejectsWith(log.inclusionProof(0n, 5n), 'PL-400'); // treeSize > size
    await rejectsWith(log.inclusionProof(-1n), 'PL-400');
    await rejectsWith(log.inclusionProof(1 as unknown as bigint), 'PL-400');
    await rejectsWith(log.consistencyProof(3n, 2n), 'PL-400');
    await rejectsWith(log.consistencyProof(1n, 5n), 'PL-400');
    expect((await log.consistencyProof(4n)).path).toEqual([]);
  });
});

describe('createAuditLog: checkpoints', () => {
  it('signs C2SP checkpoints that open with the published verifier key', async () => {
    const signingKey = new Uint8Array(32).fill(42);
    const origin = 'audit.example.com/test';
    const log = createAuditLog({ clock: stillClock(), origin, signingKey });
    const vkey = formatNoteVerifierKey(origin, log.checkpointVerifier.publicKey, crypto);
    const verifier = parseNoteVerifierKey(vkey, crypto);

    const empty = await log.checkpoint();
    expect(empty.note.split('\n').slice(0, 3)).toEqual([
      origin,
      '0',
      '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', // base64 of SHA-256("")
    ]);
    for (let i = 0; i < 6; i++) await log.append(custom(i));
    const six = await log.checkpoint();
    const opened = openCheckpoint(six.note, [verifier], { origin }).checkpoint;
    expect(opened.treeSize).toBe(6n);
    expect(opened.rootHash).toEqual(six.checkpoint.rootHash);
    for (let i = 6; i < 11; i++) await log.append(custom(i));
    const eleven = openCheckpoint((await log.checkpoint()).note, [verifier], { origin }).checkpoint;
    const proof = await log.consistencyProof(6n, 11n);
    expect(() => assertCheckpointConsistency(opened, eleven, proof.path)).not.toThrow();
    expect(() =>
      assertCheckpointConsistency(openCheckpoint(empty.note, [verifier]).checkpoint, eleven, []),
    ).not.toThrow();
  });

  it('uses a random key when none is given, and never shows the secret', async () => {
    const a = createAuditLog({ clock: stillClock() });
    const b = createAuditLog({ clock: stillClock() });
    expect(bytesToHex(a.checkpointVerifier.publicKey)).not.toBe(bytesToHex(b.checkpointVerifier.publicKey));
    const { note } = await a.checkpoint();
    expect(() => openCheckpoint(note, [b.checkpointVerifier])).toThrow(
      expect.objectContaining({ code: 'PL-401' }),
    );
    expect(openCheckpoint(note, [a.checkpointVerifier]).checkpoint.origin).toBe(a.origin);

    const signingKey = new Uint8Array(32).fill(0x5a);
    const c = createAuditLog({ clock: stillClock(), signingKey });
    expect(JSON.stringify(c)).not.toContain('5a5a');
    expect(JSON.stringify(c)).not.toContain('"90,90');
    // The log copied the key: wiping the caller's buffer does not change its signatures.
    signingKey.fill(0);
    const v = createEd25519NoteVerifier(c.origin, c.checkpointVerifier.publicKey, crypto);
    expect(openCheckpoint((await c.checkpoint()).note, [v]).checkpoint.treeSize).toBe(0n);
  });

  it('validates its options with PL-400 naming the option', () => {
    const cases: [unknown, string][] = [
      [{ origin: 'has space' }, 'origin'],
      [{ origin: 'a+b' }, 'origin'],
      [{ signingKey: new Uint8Array(31) }, 'signingKey'],
      [{ limits: { maxEvents: 0 } }, 'limits.maxEvents'],
      [{ limits: { maxPageSize: 1.5 } }, 'limits.maxPageSize'],
      [{ limits: { maxPageSize: 10, defaultPageSize: 20 } }, 'defaultPageSize'],
      [{ clock: {} }, 'clock'],
      [{ crypto: { name: 'fake' } }, 'crypto'],
      [{ colour: 'blue' }, 'colour'],
    ];
    for (const [options, name] of cases) {
      expect(() => createAuditLog(options as never)).toThrow(expect.objectContaining({ code: 'PL-400' }));
      expect(() => createAuditLog(options as never)).toThrow(new RegExp(name.replace('.', '\\.')));
    }
  });
});

describe('createAuditLog: queries', () => {
  const PRODUCTS: ProductId[] = ['runtime', 'metering', 'oversight', 'messaging'];
  const ACTIONS = ['a.one', 'a.two', 'a.three'];
  const OUTCOMES: AuditOutcome[] = ['success', 'failure', 'denied', 'pending'];

  async function populated(
    n: number,
    maxPageSize = 50,
  ): Promise<{ log: InProcessAuditLog; all: UnifiedAuditEvent[] }> {
    const log = createAuditLog({ clock: stillClock(), limits: { maxPageSize, defaultPageSize: 10 } });
    const all: UnifiedAuditEvent[] = [];
    for (let i = 0; i < n; i++) {
      // Timestamps mostly increase but jump back now and then (events from several producers).
      const jitter = BigInt(((i * 7919) % 13) - 6) * 1_000n;
      const event = custom(i, {
        product: PRODUCTS[i % 4] as ProductId,
        agentNhi: AGENTS[(i * 3) % 5] as string,
        action: ACTIONS[i % 3] as string,
        outcome: OUTCOMES[(i >> 1) % 4] as AuditOutcome,
        timestamp: START - 10_000_000n + BigInt(i) * 1_000n + jitter,
      });
      await log.append(event);
      all.push(event);
    }
    return { log, all };
  }

  const brute = (all: UnifiedAuditEvent[], q: AuditQuery) =>
    all.filter(
      (e) =>
        (q.agentNhi === undefined || e.agentNhi === q.agentNhi) &&
        (q.product === undefined || e.product === q.product) &&
        (q.action === undefined || e.action === q.action) &&
        (q.outcome === undefined || e.outcome === q.outcome) &&
        (q.from === undefined || e.timestamp >= q.from) &&
        (q.to === undefined || e.timestamp < q.to),
    );

  async function allPages(log: InProcessAuditLog, q: AuditQuery): Promise<UnifiedAuditEvent[]> {
    const out: UnifiedAuditEvent[] = [];
    let cursor: string | undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const page = await log.query({ ...q, ...(cursor === undefined ? {} : { cursor }) });
      expect(page.events.length).toBeLessThanOrEqual(q.limit ?? 10);
      out.push(...page.events);
      if (page.nextCursor === undefined) return out;
      expect(page.events.length).toBe(q.limit ?? 10);
      cursor = page.nextCursor;
    }
    throw new Error('pagination did not end');
  }

  it('property: every filter combination, paged to the end, equals a brute-force scan in log order', async () => {
    const { log, all } = await populated(240);
    const ts = (k: number) => START - 10_000_000n + BigInt(k) * 1_000n;
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            agentNhi: fc.constantFrom(...AGENTS),
            product: fc.constantFrom(...PRODUCTS),
            action: fc.constantFrom(...ACTIONS),
            outcome: fc.constantFrom(...OUTCOMES),
            from: fc.integer({ min: -10, max: 250 }).map(ts),
            to: fc.integer({ min: -10, max: 250 }).map(ts),
            limit: fc.integer({ min: 1, max: 50 }),
          },
          { requiredKeys: [] },
        ),
        async (q) => {
          if (q.from !== undefined && q.to !== undefined && q.from > q.to) return;
          const got = await allPages(log, q);
          const want = brute(all, q);
          expect(got.map((e) => e.eventId)).toEqual(want.map((e) => e.eventId));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('returns events with receipts that verify', async () => {
    const { log } = await populated(30);
    const page = await log.query({ agentNhi: AGENTS[1] as string, limit: 50 });
    expect(page.events.length).toBeGreaterThan(0);
    for (const e of page.events) {
      const r = e.merkleProof;
      expect(r).toBeDefined();
      if (r === undefined) continue;
      expect(r.leafHash).toEqual(hashLeaf(auditLeafData(e)));
      expect(verifyInclusion(r.leafIndex, r.treeSize, r.leafHash, r.inclusionPath, r.rootHash)).toBe(true);
    }
  });

  it('answers unknown values with an empty page and bounds the page size', async () => {
    const { log } = await populated(30, 20);
    expect((await log.query({ agentNhi: 'agent:nhi:ed25519:unknown' })).events).toEqual([]);
    expect((await log.query({ action: 'never.done' })).events).toEqual([]);
    expect((await log.query({})).events).toHaveLength(10); // defaultPageSize
    expect((await log.query({ limit: 20 })).events).toHaveLength(20);
    await rejectsWith(log.query({ limit: 21 }), 'PL-400');
    await rejectsWith(log.query({ limit: 0 }), 'PL-400');
    await rejectsWith(log.query({ limit: 2.5 }), 'PL-400');
    await rejectsWith(log.query({ cursor: '30' }), 'PL-400');
    await rejectsWith(log.query({ cursor: 'abc' }), 'PL-400');
    await rejectsWith(log.query({ cursor: '-1' }), 'PL-400');
    await rejectsWith(log.query({ from: START, to: START - 1n }), 'PL-400');
    await rejectsWith(log.query({ product: 'billing' as ProductId }), 'PL-400');
    await rejectsWith(log.query({ outcome: 'ok' as AuditOutcome }), 'PL-400');
    await rejectsWith(log.query({ colour: 'blue' } as AuditQuery), 'PL-400');
    await rejectsWith(log.query({ from: 5 as unknown as bigint }), 'PL-400');
  });

  it('pages see events appended between pages (the cursor is a log position)', async () => {
    const { log } = await populated(12);
    const first = await log.query({ limit: 10 });
    expect(first.nextCursor).toBeDefined();
    await log.append(custom(99));
    const second = await log.query({ limit: 10, cursor: first.nextCursor as string });
    expect(second.events.map((e) => e.merkleProof?.leafIndex)).toEqual([10n, 11n, 12n]);
    expect(second.nextCursor).toBeUndefined();
  });

  it('typed events are queryable by their mapped fields', async () => {
    const log = createAuditLog({ clock: stillClock() });
    const sb = sandboxId('sb-q');
    await log.append(
      AuditEvents.egressAttempt(
        { sandboxId: sb, agentNhi: AGENT, destination: 'evil.example', decision: 'deny' },
        { timestamp: START },
      ),
    );
    await log.append(
      AuditEvents.sandboxSpawned(
        { sandboxId: sb, agentNhi: AGENT, attestationHash: new Uint8Array(32) },
        { timestamp: START },
      ),
    );
    const denied = await log.query({ outcome: 'denied', product: 'runtime' });
    expect(denied.events.map((e) => e.action)).toEqual(['network.egress']);
  });
});
