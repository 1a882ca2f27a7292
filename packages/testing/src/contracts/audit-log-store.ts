import { type AuditLogStore, MAX_AUDIT_STORE_BATCH, MAX_AUDIT_STORE_READ } from '@creto/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectEnablementRejection } from '../assertions/index.js';

/** What an {@link AuditLogStoreFactory} returns for one test. */
export interface AuditLogStoreFixture {
  /** An empty log's store (a fresh store, or a fresh log name in a shared database). */
  readonly store: AuditLogStore;
  /**
   * The same log through another connection (another process's view), for the race tests; they
   * race `store` against itself when absent.
   */
  openPeer?(): Promise<AuditLogStore>;
  /**
   * Closes the store and opens the same log again (a process restart), for durable stores;
   * `undefined` for stores whose data dies with them.
   */
  reopen?(): Promise<AuditLogStore>;
  /** Frees what the fixture holds (connections, files), after each test. */
  close?(): Promise<void>;
}

/** Builds a fixture holding an empty log, for one test. */
export type AuditLogStoreFactory = () => AuditLogStoreFixture | Promise<AuditLogStoreFixture>;

/** Leaf texts as the log writes them: canonical JSON, here with the characters that trip storage. */
const leaf = (i: number, extra = ''): string =>
  JSON.stringify({ event_id: `e-${i}`, note: `leaf ${i}${extra}` });

/**
 * The contract every `AuditLogStore` must pass (ARCHITECTURE §4 audit, issue #10): positional
 * append-only leaves written by compare-and-append on the size, exact text round trips, atomic
 * batches, one winner among racing writers, checkpoints that only grow, input validation
 * (`PL-400`, nothing written) and, for durable stores, everything kept across a reopen. Call it
 * at the top level of a test file; it registers one `describe` block.
 *
 * @example
 * ```ts
 * auditLogStoreContract('memory', () => ({ store: createMemoryAuditLogStore() }));
 * ```
 */
export function auditLogStoreContract(name: string, factory: AuditLogStoreFactory): void {
  describe(`AuditLogStore contract: ${name}`, () => {
    let fixture: AuditLogStoreFixture;
    let store: AuditLogStore;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.close?.();
    });

    const readAll = async (s: AuditLogStore = store): Promise<string[]> => {
      const all: string[] = [];
      for (;;) {
        const page = await s.readLeaves(all.length, MAX_AUDIT_STORE_READ);
        all.push(...page);
        if (page.length < MAX_AUDIT_STORE_READ) return all;
      }
    };

    it('starts empty: size 0, no leaves, no checkpoint', async () => {
      expect(await store.size()).toBe(0);
      expect(await store.readLeaves(0, 10)).toEqual([]);
      expect(await store.latestCheckpoint()).toBeUndefined();
    });

    it('appends at the current size and reads leaves back by position, in order', async () => {
      expect(await store.appendLeaves(0, [leaf(0), leaf(1)])).toBe(true);
      expect(await store.appendLeaves(2, [leaf(2)])).toBe(true);
      expect(await store.size()).toBe(3);
      expect(await store.readLeaves(0, 10)).toEqual([leaf(0), leaf(1), leaf(2)]);
      expect(await store.readLeaves(1, 1)).toEqual([leaf(1)]);
      expect(await store.readLeaves(2, 5)).toEqual([leaf(2)]);
      expect(await store.readLeaves(3, 5)).toEqual([]);
      expect(await store.readLeaves(1_000_000, 5)).toEqual([]);
    });

    it('is compare-and-append: a start other than the size writes nothing and answers false', async () => {
      expect(await store.appendLeaves(0, [leaf(0)])).toBe(true);
      // A second writer that also saw an empty log, and one that skips ahead.
      expect(await store.appendLeaves(0, [leaf(99)])).toBe(false);
      expect(await store.appendLeaves(5, [leaf(5)])).toBe(false);
      expect(await store.size()).toBe(1);
      expect(await readAll()).toEqual([leaf(0)]);
    });

    it('keeps leaf text byte for byte: escapes, non-ASCII, astral characters, separators, long text', async () => {
      const texts = [
        JSON.stringify({ s: 'quote " backslash \\ slash / tab \t newline \n' }),
        JSON.stringify({ s: 'café ☃ 日本 😀 \u2028\u2029 \u00a0' }),
        JSON.stringify({ s: '\u0001\u001f escaped controls' }),
        JSON.stringify({ s: 'x'.repeat(100_000) }),
        ' leading and trailing spaces ',
      ];
      expect(await store.appendLeaves(0, texts)).toBe(true);
      const back = await readAll();
      expect(back).toEqual(texts);
      expect(back.map((t) => t.length)).toEqual(texts.map((t) => t.length));
    });

    it('writes a full batch atomically and pages through it', async () => {
      const batch = Array.from({ length: MAX_AUDIT_STORE_BATCH }, (_, i) => leaf(i));
      expect(await store.appendLeaves(0, batch)).toBe(true);
      expect(await store.size()).toBe(MAX_AUDIT_STORE_BATCH);
      expect(await readAll()).toEqual(batch);
      expect(await store.readLeaves(MAX_AUDIT_STORE_BATCH - 2, 10)).toEqual(batch.slice(-2));
    }, 120_000);

    it('refuses bad arguments with PL-400 and writes nothing', async () => {
      await store.appendLeaves(0, [leaf(0)]);
      const badAppends: [unknown, unknown][] = [
        [-1, [leaf(1)]],
        [1.5, [leaf(1)]],
        ['1', [leaf(1)]],
        [1, []],
        [1, 'not an array'],
        [1, [leaf(1), 42]],
        [1, [leaf(1), '']],
        [1, Array.from({ length: MAX_AUDIT_STORE_BATCH + 1 }, (_, i) => leaf(i))],
      ];
      for (const [start, leaves] of badAppends) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.appendLeaves(start as number, leaves as string[])),
          'PL-400',
        );
      }
      const badReads: [unknown, unknown][] = [
        [-1, 1],
        [0, 0],
        [0, MAX_AUDIT_STORE_READ + 1],
        [0, 1.5],
        ['0', 1],
      ];
      for (const [from, limit] of badReads) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.readLeaves(from as number, limit as number)),
          'PL-400',
        );
      }
      for (const bad of [null, {}, { treeSize: -1, note: 'n' }, { treeSize: 1, note: '' }, { treeSize: 1 }]) {
        await expectEnablementRejection(
          Promise.resolve().then(() => store.saveCheckpoint(bad as never)),
          'PL-400',
        );
      }
      expect(await readAll()).toEqual([leaf(0)]);
      expect(await store.latestCheckpoint()).toBeUndefined();
    });

    it('lets exactly one of racing writers at the same size win, without gaps or doubles', async () => {
      const peer = (await fixture.openPeer?.()) ?? store;
      await store.appendLeaves(0, [leaf(0)]);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 === 0 ? store : peer).appendLeaves(1, [leaf(100 + i, 'a'), leaf(100 + i, 'b')]),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await readAll()).toEqual([leaf(0), leaf(100 + winner, 'a'), leaf(100 + winner, 'b')]);
      expect(await peer.size()).toBe(3);
    });

    it('keeps writers that each append at the size they read in one gap-free sequence', async () => {
      const peer = (await fixture.openPeer?.()) ?? store;
      const writer = async (s: AuditLogStore, id: string) => {
        let written = 0;
        while (written < 5) {
          const size = await s.size();
          if (await s.appendLeaves(size, [`${id}-${written}`])) written++;
        }
      };
      await Promise.all([writer(store, 'a'), writer(peer, 'b')]);
      const all = await readAll();
      expect(all).toHaveLength(10);
      expect(all.filter((t) => t.startsWith('a-'))).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
      expect(all.filter((t) => t.startsWith('b-'))).toEqual(['b-0', 'b-1', 'b-2', 'b-3', 'b-4']);
    });

    it('keeps the checkpoint with the largest tree size; smaller or equal ones are no-ops', async () => {
      await store.saveCheckpoint({ treeSize: 2, note: 'note at 2\n' });
      expect(await store.latestCheckpoint()).toEqual({ treeSize: 2, note: 'note at 2\n' });
      await store.saveCheckpoint({ treeSize: 5, note: 'note at 5\n' });
      await store.saveCheckpoint({ treeSize: 3, note: 'note at 3\n' });
      await store.saveCheckpoint({ treeSize: 5, note: 'another note at 5\n' });
      expect(await store.latestCheckpoint()).toEqual({ treeSize: 5, note: 'note at 5\n' });
      await store.saveCheckpoint({ treeSize: 0, note: 'empty\n' });
      expect((await store.latestCheckpoint())?.treeSize).toBe(5);
    });

    it('never moves the checkpoint backwards under racing savers', async () => {
      const peer = (await fixture.openPeer?.()) ?? store;
      const sizes = [4, 9, 1, 7, 12, 3, 11, 2];
      await Promise.all(
        sizes.map((treeSize, i) =>
          (i % 2 === 0 ? store : peer).saveCheckpoint({ treeSize, note: `n${treeSize}\n` }),
        ),
      );
      expect(await store.latestCheckpoint()).toEqual({ treeSize: 12, note: 'n12\n' });
    });

    it('does not share state with the caller: arrays passed in and handed out are not kept', async () => {
      const batch = [leaf(0), leaf(1)];
      await store.appendLeaves(0, batch);
      batch[0] = 'changed';
      const read = (await store.readLeaves(0, 2)) as string[];
      expect(read).toEqual([leaf(0), leaf(1)]);
      read[1] = 'changed too';
      expect(await store.readLeaves(0, 2)).toEqual([leaf(0), leaf(1)]);
    });

    it('keeps leaves and the checkpoint across a reopen (durable stores)', async () => {
      if (fixture.reopen === undefined) return;
      await store.appendLeaves(0, [leaf(0), leaf(1), leaf(2)]);
      await store.saveCheckpoint({ treeSize: 3, note: 'checkpoint\n' });
      const reopened = await fixture.reopen();
      expect(await reopened.size()).toBe(3);
      expect(await readAll(reopened)).toEqual([leaf(0), leaf(1), leaf(2)]);
      expect(await reopened.latestCheckpoint()).toEqual({ treeSize: 3, note: 'checkpoint\n' });
      expect(await reopened.appendLeaves(3, [leaf(3)])).toBe(true);
      expect(await reopened.appendLeaves(3, [leaf(9)])).toBe(false);
    });
  });
}
