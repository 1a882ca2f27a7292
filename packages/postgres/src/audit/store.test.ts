import { type AuditLogStore, EnablementError } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { auditLogStoreContract } from '@creto/testing/contracts';
import { describe, expect, it } from 'vitest';
import { describeEachDriver, inertSqlClient } from '../../test/harness.js';
import type { SqlClient, SqlRow, SqlValue } from '../sql/index.js';
import { createPostgresAuditLogStore, MAX_POSTGRES_AUDIT_LEAF_LENGTH } from './store.js';

/** A log name no other test uses, so tests sharing a schema never see each other's leaves. */
const logName = () => `audit.test/${globalThis.crypto.randomUUID()}`;

describeEachDriver('PostgresAuditLogStore', (db, driver) => {
  const storeOn = (client: SqlClient, log: string, schema = db().schema): AuditLogStore =>
    createPostgresAuditLogStore({ client, schema, log });

  // Every fixture is a fresh log in the suite's schema; the peer is another connection (another
  // process) on PostgreSQL, and the reopen a restart of the durable drivers.
  auditLogStoreContract(driver.name, () => {
    const log = logName();
    const { reopen } = db();
    return {
      store: storeOn(db().client, log),
      openPeer: async () => storeOn((await db().openSecond()) ?? db().client, log),
      ...(reopen === undefined ? {} : { reopen: async () => storeOn(await reopen(), log) }),
    };
  });

  it('keeps logs of one schema apart: sizes, leaves and checkpoints are per log name', async () => {
    const a = storeOn(db().client, logName());
    const b = storeOn(db().client, logName());
    expect(await a.appendLeaves(0, ['a0', 'a1'])).toBe(true);
    await a.saveCheckpoint({ treeSize: 2, note: 'a at 2\n' });
    expect(await b.size()).toBe(0);
    expect(await b.readLeaves(0, 10)).toEqual([]);
    expect(await b.latestCheckpoint()).toBeUndefined();
    expect(await b.appendLeaves(0, ['b0'])).toBe(true);
    await b.saveCheckpoint({ treeSize: 1, note: 'b at 1\n' });
    expect(await a.readLeaves(0, 10)).toEqual(['a0', 'a1']);
    expect(await a.latestCheckpoint()).toEqual({ treeSize: 2, note: 'a at 2\n' });
    expect(await b.latestCheckpoint()).toEqual({ treeSize: 1, note: 'b at 1\n' });
  });

  it('writes a batch larger than one statement in one transaction, in order', async () => {
    // Five leaves of ~1 Mi characters: more than one statement's budget, so several INSERTs.
    const big = (i: number) => `${i}:${'x'.repeat(MAX_POSTGRES_AUDIT_LEAF_LENGTH - 2)}`;
    const store = storeOn(db().client, logName());
    expect(await store.appendLeaves(0, ['first'])).toBe(true);
    const batch = [0, 1, 2, 3, 4].map(big);
    expect(await store.appendLeaves(1, batch)).toBe(true);
    expect(await store.size()).toBe(6);
    const back = await store.readLeaves(0, 10);
    expect(back.map((t) => t.slice(0, 2))).toEqual(['fi', '0:', '1:', '2:', '3:', '4:']);
    expect(back.slice(1)).toEqual(batch);
  }, 60_000);

  it('rolls the whole batch back when a later statement fails: nothing is written', async () => {
    const log = logName();
    const inner = db().client;
    let inserts = 0;
    const failing: SqlClient = {
      driver: inner.driver,
      query: (text, params) => inner.query(text, params),
      close: async () => {},
      transaction: (fn, options) =>
        inner.transaction(
          (tx) =>
            fn({
              query: (text, params) => {
                if (text.includes('INSERT') && ++inserts === 2) {
                  return Promise.reject(new EnablementError('PL-503', 'connection lost'));
                }
                return tx.query(text, params);
              },
            }),
          options,
        ),
    };
    const big = (i: number) => `${i}:${'y'.repeat(MAX_POSTGRES_AUDIT_LEAF_LENGTH - 2)}`;
    await expect(
      createPostgresAuditLogStore({ client: failing, schema: db().schema, log }).appendLeaves(
        0,
        [0, 1, 2, 3, 4].map(big),
      ),
    ).rejects.toMatchObject({ code: 'PL-503', retryable: true });
    expect(inserts).toBe(2);
    const store = storeOn(inner, log);
    expect(await store.size()).toBe(0);
    expect(await store.appendLeaves(0, ['after'])).toBe(true);
  }, 60_000);

  it('answers false and writes nothing when an index of the batch is taken after the size was read', async () => {
    // A row written around the store's lock (another tool, a bug) between the size read and the
    // insert: the batch is refused whole rather than written around it.
    const log = logName();
    const store = storeOn(db().client, log);
    await store.appendLeaves(0, ['l0']);
    const sneaky = storeOn(
      {
        ...db().client,
        transaction: (fn, options) =>
          db().client.transaction(
            (tx) =>
              fn({
                query: async <R extends SqlRow>(text: string, params?: readonly SqlValue[]) => {
                  const result = await tx.query<R>(text, params);
                  if (text.includes('max(leaf_index)')) {
                    await tx.query(
                      `INSERT INTO "${db().schema}".audit_leaves (log, leaf_index, leaf) VALUES ($1, 2, 'theirs')`,
                      [log],
                    );
                  }
                  return result;
                },
              }),
            options,
          ),
      },
      log,
    );
    expect(await sneaky.appendLeaves(1, ['a', 'b', 'c'])).toBe(false);
    expect(await store.readLeaves(0, 10)).toEqual(['l0']);
    expect(await store.appendLeaves(1, ['a'])).toBe(true);
  });

  it('refuses text PostgreSQL cannot hold exactly, and over-long leaves, with PL-400', async () => {
    const store = storeOn(db().client, logName());
    for (const leaf of [
      'nul \u0000 inside',
      'lone \uD800 high',
      'lone \uDC00 low',
      'x'.repeat(MAX_POSTGRES_AUDIT_LEAF_LENGTH + 1),
    ]) {
      await expectEnablementRejection(store.appendLeaves(0, ['ok', leaf]), 'PL-400');
    }
    for (const note of ['a\u0000b\n', '\uDFFF\n']) {
      await expectEnablementRejection(store.saveCheckpoint({ treeSize: 1, note }), 'PL-400');
    }
    expect(await store.size()).toBe(0);
    expect(await store.latestCheckpoint()).toBeUndefined();
    // Astral characters (paired surrogates) are fine.
    expect(await store.appendLeaves(0, ['😀 \uD83D\uDE00'])).toBe(true);
    expect(await store.readLeaves(0, 1)).toEqual(['😀 😀']);
  });

  it('keeps two concurrent logs’ racing writers apart (two connections)', async () => {
    const second = (await db().openSecond()) ?? db().client;
    const [la, lb] = [logName(), logName()];
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        storeOn(i % 2 ? second : db().client, i < 3 ? la : lb).appendLeaves(0, [`w${i}`]),
      ),
    );
    expect(results.slice(0, 3).filter(Boolean)).toHaveLength(1);
    expect(results.slice(3).filter(Boolean)).toHaveLength(1);
    expect(await storeOn(db().client, la).size()).toBe(1);
    expect(await storeOn(db().client, lb).size()).toBe(1);
  });

  it('reports an unavailable database as retryable PL-503', async () => {
    const down = () => Promise.reject(new EnablementError('PL-503', 'down'));
    const broken = storeOn({ ...db().client, query: down, transaction: down }, logName());
    for (const call of [
      () => broken.size(),
      () => broken.readLeaves(0, 1),
      () => broken.appendLeaves(0, ['x']),
      () => broken.saveCheckpoint({ treeSize: 1, note: 'n\n' }),
      () => broken.latestCheckpoint(),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'PL-503', retryable: true });
    }
  });

  it('reports a schema that was never migrated as PL-500 naming migrate()', async () => {
    const store = storeOn(db().client, logName(), db().newSchema());
    await expect(store.size()).rejects.toMatchObject({
      code: 'PL-500',
      message: expect.stringContaining('migrate()'),
    });
  });
});

describe('createPostgresAuditLogStore options', () => {
  const client = inertSqlClient;

  it('validates its options with PL-400 naming the option', () => {
    for (const [options, field] of [
      [{}, 'client'],
      [{ client: { query: 1 } }, 'client'],
      [{ client, log: '' }, 'log'],
      [{ client, log: 'x'.repeat(256) }, 'log'],
      [{ client, log: 'a\u0000b' }, 'log'],
      [{ client, log: '\uD800' }, 'log'],
      [{ client, log: 42 }, 'log'],
      [{ client, schema: 'No Way' }, 'schema'],
      [{ client, extra: true }, 'extra'],
    ] as const) {
      expect(() => createPostgresAuditLogStore(options as never)).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining(field) }),
      );
    }
  });

  it('takes the default log name and schema when none is given', async () => {
    const texts: string[] = [];
    const params: unknown[] = [];
    const recording = {
      ...client,
      query: async (text: string, values: unknown[]) => {
        texts.push(text);
        params.push(...values);
        return { rows: [], rowCount: 0 };
      },
    } as unknown as SqlClient;
    await createPostgresAuditLogStore({ client: recording }).size();
    expect(texts[0]).toContain('"creto"."audit_leaves"');
    expect(params).toEqual(['audit.creto.local/log']);
  });
});
