import { EnablementError, RetryError } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { describe, expect, it, vi } from 'vitest';
import { describeEachDriver, postgresUrl } from '../../test/harness.js';
import { isSerializationFailure, type SqlClient, sqlStateOf, toSqlError } from './client.js';
import { createPgClient } from './pg-client.js';
import { createPGliteClient } from './pglite-client.js';
import { withSerializationRetry } from './transaction.js';

/** A driver error as `pg` and PGlite raise them: an Error with a SQLSTATE `code`. */
function dbError(code: string, message = 'relation "secret_table" has value password=hunter2'): Error {
  return Object.assign(new Error(message), { code });
}

describeEachDriver('SqlClient', (db) => {
  const client = () => db().client;
  const table = () => `"${db().schema}".sql_test`;

  it('normalises values the same way on every driver', async () => {
    const { rows } = await client().query(
      `SELECT 9223372036854775807::int8 AS big, 42::int4 AS small, 1.50::numeric AS money,
              '\\x00ff10'::bytea AS bytes, '{"b":1,"a":[1.0]}'::jsonb AS doc, '{"z":1,"a":2}'::json AS raw,
              true AS yes, NULL::text AS nothing, 'é🦀' AS text`,
    );
    const [row] = rows;
    expect(row).toEqual({
      big: 9223372036854775807n,
      small: 42,
      money: '1.50',
      bytes: new Uint8Array([0, 255, 16]),
      doc: '{"a": [1.0], "b": 1}',
      raw: '{"z":1,"a":2}',
      yes: true,
      nothing: null,
      text: 'é🦀',
    });
    // A plain Uint8Array, not a Buffer viewing pooled memory.
    expect(Object.getPrototypeOf(row?.bytes)).toBe(Uint8Array.prototype);
  });

  it('sends parameters exactly: bigint to int8, a Uint8Array view as just its bytes', async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const view = backing.subarray(2, 5);
    const { rows } = await client().query<{ n: bigint; b: Uint8Array; t: string }>(
      'SELECT $1::int8 + 1 AS n, $2::bytea AS b, $3::text AS t',
      [9223372036854775806n, view, 'a\'"; DROP TABLE x; --'],
    );
    expect(rows[0]).toEqual({
      n: 9223372036854775807n,
      b: new Uint8Array([1, 2, 3]),
      t: 'a\'"; DROP TABLE x; --',
    });
  });

  it('refuses parameters a driver would serialize silently, and empty statements, before the database', async () => {
    for (const bad of [
      { a: 1 },
      new Date(0),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      undefined,
      [1, 2],
      Symbol('s'),
    ]) {
      await expectEnablementRejection(client().query('SELECT $1', [bad as never]), 'PL-400');
    }
    await expectEnablementRejection(client().query('   '), 'PL-400');
    await expectEnablementRejection(client().query(42 as never), 'PL-400');
    await expectEnablementRejection(client().query('SELECT 1', 'x' as never), 'PL-400');
  });

  it('maps a failing statement to an EnablementError that keeps the SQLSTATE but not the driver text', async () => {
    const error = await client()
      .query('SELECT $1::int4', ['not a number, secret=abc'])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(EnablementError);
    expect(error).toMatchObject({ code: 'PL-500', message: expect.stringContaining('22P02') });
    expect((error as Error).message).not.toContain('secret');
    expect(sqlStateOf(error)).toBe('22P02');
  });

  describe('transactions', () => {
    const setup = async () => {
      await client().query(`CREATE TABLE IF NOT EXISTS ${table()} (id text PRIMARY KEY, n int8 NOT NULL)`);
      await client().query(`DELETE FROM ${table()}`);
    };
    const ids = async () =>
      (await client().query<{ id: string }>(`SELECT id FROM ${table()} ORDER BY id`)).rows.map((r) => r.id);

    it('commits every statement of fn together and returns its result', async () => {
      await setup();
      const result = await client().transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('a', 1)`);
        await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('b', 2)`);
        return 'done';
      });
      expect(result).toBe('done');
      expect(await ids()).toEqual(['a', 'b']);
    });

    it('leaves nothing behind when fn throws midway, and rethrows what fn threw unchanged', async () => {
      await setup();
      const boom = new Error('killed midway');
      const thrown = await client()
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('x', 1)`);
          await tx.query(`UPDATE ${table()} SET n = n + 1`);
          throw boom;
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(thrown).toBe(boom);
      const domain = new EnablementError('PL-409', 'conflict');
      await expect(
        client().transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('y', 1)`);
          throw domain;
        }),
      ).rejects.toBe(domain);
      expect(await ids()).toEqual([]);
      // The connection is usable afterwards.
      await client().transaction((tx) => tx.query(`INSERT INTO ${table()} (id, n) VALUES ('z', 1)`));
      expect(await ids()).toEqual(['z']);
    });

    it('rolls back, and says so, when fn swallowed a failed statement', async () => {
      await setup();
      await expectEnablementRejection(
        client().transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('kept?', 1)`);
          await tx.query(`INSERT INTO ${table()} (id, n) VALUES ('kept?', 2)`).catch(() => undefined);
          return 'pretends all is well';
        }),
        'PL-500',
      );
      expect(await ids()).toEqual([]);
    });

    it('refuses the transaction handle once the transaction has ended', async () => {
      let escaped: { query: SqlClient['query'] } | undefined;
      await client().transaction(async (tx) => {
        escaped = tx;
      });
      if (escaped === undefined) throw new Error('no handle');
      await expectEnablementRejection(escaped.query('SELECT 1'), 'PL-500');
    });

    it('sets the isolation level, and validates the options', async () => {
      const level = await client().transaction(
        async (tx) =>
          (await tx.query<{ transaction_isolation: string }>('SHOW transaction_isolation')).rows[0],
        { isolation: 'serializable' },
      );
      expect(level?.transaction_isolation).toBe('serializable');
      await expectEnablementRejection(
        client().transaction(async () => 1, { isolation: 'chaos' as never }),
        'PL-400',
      );
      for (const maxAttempts of [0, 1.5, 51]) {
        await expectEnablementRejection(
          client().transaction(async () => 1, { maxAttempts }),
          'PL-400',
        );
      }
      await expectEnablementRejection(client().transaction('no' as never), 'PL-400');
    });
  });

  it('listen: hears NOTIFYs committed after it resolves, per channel, until unlisten', async () => {
    const listen = client().listen?.bind(client());
    if (listen === undefined) throw new Error('both drivers can listen');
    const channel = `${db().schema}_listen`;
    const heard: string[] = [];
    const again: string[] = [];
    const stop = await listen(channel, (payload) => heard.push(payload));
    const stopAgain = await listen(channel, (payload) => again.push(payload));
    const stopOther = await listen(`${db().schema}_other`, () => {
      throw new Error('a throwing handler is ignored');
    });
    await client().transaction(async (tx) => {
      await tx.query('SELECT pg_notify($1, $2)', [channel, 'one']);
    });
    await client().query('SELECT pg_notify($1, $2)', [`${db().schema}_other`, 'x']);
    await client().query('SELECT pg_notify($1, $2)', [channel, 'two']);
    await vi.waitFor(() => expect(heard).toEqual(['one', 'two']), { timeout: 10_000 });
    await stop();
    await stop();
    await client().query('SELECT pg_notify($1, $2)', [channel, 'three']);
    await vi.waitFor(() => expect(again).toEqual(['one', 'two', 'three']), { timeout: 10_000 });
    expect(heard).toEqual(['one', 'two']);
    await stopAgain();
    await stopOther();
    for (const bad of ['Upper', 'with space', '"quoted"', 'x'.repeat(64), '', 7]) {
      await expectEnablementRejection(
        listen(bad as string, () => undefined),
        'PL-400',
        'channel',
      );
    }
    await expectEnablementRejection(listen(channel, 'no' as never), 'PL-400', 'handler');
  });
});

const url = postgresUrl();

describe.skipIf(url === undefined)('SqlClient on postgres: what only a server can show', () => {
  const open = () => createPgClient({ connectionString: url ?? '', maxConnections: 2 });

  it('re-runs serializable transactions that conflict, until both commit', async () => {
    const a = open();
    const b = open();
    const name = `creto_test_ser_${globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
    try {
      await a.query(`CREATE TABLE ${name} (id int PRIMARY KEY, total int8 NOT NULL)`);
      await a.query(`INSERT INTO ${name} VALUES (1, 0)`);
      let runs = 0;
      // Both read, then both wait until the other has read, then both write: a classic
      // read-write conflict that SERIALIZABLE turns into a 40001 for one of them.
      let arrived = 0;
      let release: () => void = () => {};
      const barrier = new Promise<void>((resolve) => {
        release = resolve;
      });
      const increment = (client: SqlClient) =>
        client.transaction(
          async (tx) => {
            runs += 1;
            const { rows } = await tx.query<{ total: bigint }>(`SELECT total FROM ${name} WHERE id = 1`);
            arrived += 1;
            if (arrived === 2) release();
            await Promise.race([barrier, new Promise((resolve) => setTimeout(resolve, 500))]);
            await tx.query(`UPDATE ${name} SET total = $1 WHERE id = 1`, [(rows[0]?.total ?? 0n) + 1n]);
          },
          { isolation: 'serializable', maxAttempts: 10 },
        );
      await Promise.all([increment(a), increment(b)]);
      expect(runs).toBeGreaterThan(2);
      const { rows } = await a.query<{ total: bigint }>(`SELECT total FROM ${name} WHERE id = 1`);
      expect(rows[0]?.total).toBe(2n);

      // Without retries, the loser sees a retryable PL-503 that is a serialization failure.
      arrived = 0;
      const failures = await Promise.allSettled([
        a.transaction(
          async (tx) => {
            await tx.query(`SELECT total FROM ${name} WHERE id = 1`);
            await new Promise((resolve) => setTimeout(resolve, 100));
            await tx.query(`UPDATE ${name} SET total = total + 1 WHERE id = 1`);
          },
          { isolation: 'serializable', maxAttempts: 1 },
        ),
        b.transaction(
          async (tx) => {
            await tx.query(`SELECT total FROM ${name} WHERE id = 1`);
            await new Promise((resolve) => setTimeout(resolve, 100));
            await tx.query(`UPDATE ${name} SET total = total + 1 WHERE id = 1`);
          },
          { isolation: 'serializable', maxAttempts: 1 },
        ),
      ]);
      const rejected = failures.filter((f) => f.status === 'rejected');
      expect(rejected).toHaveLength(1);
      const reason = (rejected[0] as PromiseRejectedResult).reason;
      expect(reason).toMatchObject({ code: 'PL-503', retryable: true });
      expect(isSerializationFailure(reason)).toBe(true);
    } finally {
      await a.query(`DROP TABLE IF EXISTS ${name}`);
      await a.close();
      await b.close();
    }
  });

  it('loses nothing but the transaction when its connection is killed midway', async () => {
    const client = open();
    const name = `creto_test_kill_${globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
    try {
      await client.query(`CREATE TABLE ${name} (id text PRIMARY KEY)`);
      const error = await client
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${name} VALUES ('half')`);
          await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
          await tx.query(`INSERT INTO ${name} VALUES ('other half')`);
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: 'PL-503', retryable: true });
      expect((await client.query(`SELECT id FROM ${name}`)).rows).toEqual([]);
      // The pool replaced the dead connection.
      await client.transaction((tx) => tx.query(`INSERT INTO ${name} VALUES ('after')`));
      expect((await client.query(`SELECT id FROM ${name}`)).rows).toEqual([{ id: 'after' }]);
    } finally {
      await client.query(`DROP TABLE IF EXISTS ${name}`);
      await client.close();
    }
  });

  it('leaves a pool it was given open on close()', async () => {
    const pg = await import('pg');
    const pool = new pg.default.Pool({ connectionString: url, max: 1 });
    try {
      const client = createPgClient({ pool });
      await client.close();
      await expectEnablementRejection(client.query('SELECT 1'), 'PL-500');
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describe('SqlClient without a database', () => {
  it('listen on a closed client is PL-500', async () => {
    const closed = createPgClient({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    await closed.close();
    await expectEnablementRejection(
      closed.listen?.('creto_x', () => undefined) ?? Promise.reject(new Error('no listen')),
      'PL-500',
      'closed',
    );
  });

  it('listen on an unreachable server is a retryable PL-503, and leaves nothing behind', async () => {
    const unreachable = createPgClient({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    const error = await expectEnablementRejection(
      unreachable.listen?.('creto_x', () => undefined) ?? Promise.reject(new Error('no listen')),
      'PL-503',
    );
    expect(error.message).not.toContain('nobody');
    await unreachable.close();
  });

  it('reports an unreachable server as retryable PL-503, without the connection string', async () => {
    const client = createPgClient({ connectionString: 'postgres://user:hunter2@127.0.0.1:1/db' });
    try {
      const error = await client.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'PL-503', retryable: true });
      expect(JSON.stringify((error as EnablementError).toJSON())).not.toContain('hunter2');
      await expectEnablementRejection(
        client.transaction(async () => 1),
        'PL-503',
      );
    } finally {
      await client.close();
    }
    await client.close(); // twice is fine
    await expectEnablementRejection(client.query('SELECT 1'), 'PL-500');
  });

  it('validates client options with PL-400 naming the option', async () => {
    const bad: [() => unknown, string][] = [
      [() => createPgClient({}), 'connectionString'],
      [() => createPgClient({ connectionString: 'mysql://x' }), 'connectionString'],
      [() => createPgClient({ connectionString: 'postgres://x', pool: {} as never }), 'pool'],
      [() => createPgClient({ connectionString: 'postgres://x', maxConnections: 0 }), 'maxConnections'],
      [() => createPgClient({ connectionString: 'postgres://x', extra: 1 } as never), 'extra'],
    ];
    for (const [make, field] of bad) {
      expect(make).toThrow(
        expect.objectContaining({ code: 'PL-400', message: expect.stringContaining(field) }),
      );
    }
    await expect(createPGliteClient({ dataDir: '' })).rejects.toMatchObject({
      code: 'PL-400',
      message: expect.stringContaining('dataDir'),
    });
    await expect(createPGliteClient({ pglite: {} as never })).rejects.toMatchObject({
      code: 'PL-400',
      message: expect.stringContaining('pglite'),
    });
  });

  it('maps driver errors by SQLSTATE class, never copying driver text into the message', () => {
    const cases: [unknown, string, boolean][] = [
      [dbError('08006'), 'PL-503', true],
      [dbError('57P01'), 'PL-503', true],
      [dbError('53300'), 'PL-503', true],
      [dbError('40001'), 'PL-503', true],
      [dbError('40P01'), 'PL-503', true],
      [dbError('23505'), 'PL-500', false],
      [dbError('42P01'), 'PL-500', false],
      [new Error('connect ECONNREFUSED password=hunter2'), 'PL-503', true],
    ];
    for (const [error, code, retryable] of cases) {
      const mapped = toSqlError(error, 'query');
      expect(mapped).toMatchObject({ code, retryable });
      expect(mapped.message).not.toContain('hunter2');
      expect(mapped.cause).toBe(error);
    }
    const own = new EnablementError('PL-409', 'mine');
    expect(toSqlError(own, 'query')).toBe(own);
    expect(isSerializationFailure(toSqlError(dbError('40001'), 'q'))).toBe(true);
    expect(isSerializationFailure(toSqlError(dbError('23505'), 'q'))).toBe(false);
    expect(sqlStateOf('nope')).toBeUndefined();
  });

  it('withSerializationRetry re-runs only serialization failures, and gives up with the last code', async () => {
    let calls = 0;
    const result = await withSerializationRetry(async () => {
      calls += 1;
      if (calls < 3) throw toSqlError(dbError('40001'), 'commit');
      return 'ok';
    });
    expect([result, calls]).toEqual(['ok', 3]);

    calls = 0;
    const other = toSqlError(dbError('23505'), 'insert');
    await expect(
      withSerializationRetry(async () => {
        calls += 1;
        throw other;
      }),
    ).rejects.toBe(other);
    expect(calls).toBe(1);

    calls = 0;
    const gaveUp = await withSerializationRetry(
      async () => {
        calls += 1;
        throw toSqlError(dbError('40P01'), 'commit');
      },
      { maxAttempts: 3 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(calls).toBe(3);
    expect(gaveUp).toBeInstanceOf(RetryError);
    expect(gaveUp).toMatchObject({ code: 'PL-503', attempts: 3 });
    await expectEnablementRejection(
      withSerializationRetry(async () => 1, { maxAttempts: 0 }),
      'PL-400',
    );
  });
});
