import { expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { describeEachDriver } from '../../test/harness.js';
import {
  applyMigrations,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  type Migration,
  migrate,
  schemaVersion,
} from './migrations.js';

const table = (version: number, name: string): Migration => ({
  version,
  name: `create ${name}`,
  statements: (s) => [`CREATE TABLE ${s}."${name}" (id int PRIMARY KEY)`],
});

describeEachDriver('migrate', (db) => {
  const tables = async (schema: string) =>
    (
      await db().client.query<{ table_name: string }>(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [schema],
      )
    ).rows.map((r) => r.table_name);
  const recorded = async (schema: string) =>
    (
      await db().client.query<{ version: number; name: string }>(
        `SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`,
      )
    ).rows;

  it('creates the schema and applies every migration in order, recording each', async () => {
    const schema = db().newSchema();
    expect(await schemaVersion(db().client, { schema })).toBe(0);
    const result = await migrate(db().client, { schema });
    expect(result).toEqual({ applied: MIGRATIONS.map((m) => m.version), version: LATEST_SCHEMA_VERSION });
    expect(await schemaVersion(db().client, { schema })).toBe(LATEST_SCHEMA_VERSION);
    expect(await recorded(schema)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(await tables(schema)).toEqual(
      expect.arrayContaining([
        'audit_checkpoints',
        'audit_leaves',
        'idempotency_keys',
        'relay_queue',
        'relay_queue_counts',
        'saga_records',
        'saga_runs',
        'schema_migrations',
        'session_entries',
      ]),
    );
  });

  it('is idempotent: a second run applies nothing', async () => {
    const { schema, client } = db(); // already migrated by the harness
    expect(await migrate(client, { schema })).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
    expect(await recorded(schema)).toHaveLength(MIGRATIONS.length);
  });

  it('is safe when several callers migrate at once: each migration applies exactly once', async () => {
    const schema = db().newSchema();
    const second = (await db().openSecond()) ?? db().client;
    const third = (await db().openSecond()) ?? db().client;
    const results = await Promise.all([
      migrate(db().client, { schema }),
      migrate(second, { schema }),
      migrate(third, { schema }),
    ]);
    expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(results.every((r) => r.version === LATEST_SCHEMA_VERSION)).toBe(true);
    expect(await recorded(schema)).toHaveLength(MIGRATIONS.length);
  });

  it('applies only the missing migrations, in order, when the code knows more', async () => {
    const schema = db().newSchema();
    expect(await applyMigrations(db().client, schema, [table(1, 'one')])).toEqual({
      applied: [1],
      version: 1,
    });
    const result = await applyMigrations(db().client, schema, [
      table(1, 'one'),
      table(2, 'two'),
      table(5, 'five'),
    ]);
    expect(result).toEqual({ applied: [2, 5], version: 5 });
    expect(await tables(schema)).toEqual(['five', 'one', 'schema_migrations', 'two']);
  });

  it('rolls a failing migration back entirely, keeping the ones before it', async () => {
    const schema = db().newSchema();
    const broken: Migration = {
      version: 2,
      name: 'half broken',
      statements: (s) => [`CREATE TABLE ${s}."half" (id int)`, 'SELECT * FROM no_such_table'],
    };
    await expectEnablementRejection(
      applyMigrations(db().client, schema, [table(1, 'one'), broken]),
      'PL-500',
    );
    expect(await tables(schema)).toEqual(['one', 'schema_migrations']);
    expect(await recorded(schema)).toEqual([{ version: 1, name: 'create one' }]);
  });

  it('refuses to run, changing nothing, when the database is newer than the code', async () => {
    const schema = db().newSchema();
    await applyMigrations(db().client, schema, [table(1, 'one'), table(2, 'two')]);
    const error = await applyMigrations(db().client, schema, [table(1, 'one')]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'PL-409', message: expect.stringContaining('version 2') });
    expect(await recorded(schema)).toHaveLength(2);
    await db().client.query(
      `INSERT INTO "${db().schema}".schema_migrations (version, name) VALUES (9999, 'future')`,
    );
    try {
      await expectEnablementRejection(migrate(db().client, { schema: db().schema }), 'PL-409');
    } finally {
      await db().client.query(`DELETE FROM "${db().schema}".schema_migrations WHERE version = 9999`);
    }
  });

  it('keeps the schema and its version across a restart (durable drivers)', async () => {
    const { reopen, schema } = db();
    if (reopen === undefined) return;
    const client = await reopen();
    expect(await schemaVersion(client, { schema })).toBe(LATEST_SCHEMA_VERSION);
    expect(await migrate(client, { schema })).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
  });

  it('validates the schema name with PL-400: never spliced into SQL unchecked', async () => {
    for (const schema of [
      'Upper',
      'has space',
      'x"; DROP SCHEMA public; --',
      'pg_catalog',
      '1abc',
      '',
      'a'.repeat(64),
    ]) {
      await expectEnablementRejection(migrate(db().client, { schema }), 'PL-400');
    }
    await expectEnablementRejection(migrate(db().client, { schema: 'ok', extra: true } as never), 'PL-400');
  });
});

describe('MIGRATIONS', () => {
  it('are numbered 1, 2, … with no gaps, and end at LATEST_SCHEMA_VERSION', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });
});
