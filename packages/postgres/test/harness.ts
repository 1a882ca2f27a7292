// Test support (not published): the databases each suite runs on. Every suite runs on PGlite in
// memory and on PGlite with a data directory, and on a PostgreSQL server when CRETO_POSTGRES_URL
// is set; each suite uses its own schema and drops it (or the whole database) afterwards.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { migrate } from '../src/migrations/index.js';
import type { SqlClient } from '../src/sql/index.js';
import { createPGliteClient, createPgClient } from '../src/sql/index.js';

/** How long opening a database may take: PGlite's first start runs initdb in WebAssembly. */
export const OPEN_TIMEOUT_MS = 180_000;

/**
 * The PostgreSQL URL the tests use (`CRETO_POSTGRES_URL`), or `undefined` to skip the server
 * suites. In CI (`CI` set) a missing URL is an error: the suites must run there, never skip.
 */
export function postgresUrl(): string | undefined {
  const url = process.env.CRETO_POSTGRES_URL;
  if (url !== undefined && url !== '') return url;
  if (process.env.CI) {
    throw new Error(
      'CRETO_POSTGRES_URL is not set; CI must run the @creto/postgres tests against PostgreSQL',
    );
  }
  return undefined;
}

/** Why the PostgreSQL suites were skipped, as a test title. */
export const SKIP_POSTGRES =
  'skipped: set CRETO_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:15432/postgres) to run against a PostgreSQL server';

/** A schema name no other run uses. */
export const uniqueSchema = (): string =>
  `creto_test_${globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;

// ---------------------------------------------------------------------------------------------
// PGlite template. A fresh PGlite runs initdb (seconds, tens of seconds on a loaded machine); a
// copy of an initdb'd data directory starts in a fraction of that. The template is built once per
// machine and PGlite version, under a lock directory so that parallel test files build it once.

// The package's entry is <package>/dist/index.cjs; its package.json (not exported) sits above.
const PGLITE_VERSION = (
  JSON.parse(
    readFileSync(
      join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..', 'package.json'),
      'utf8',
    ),
  ) as { version: string }
).version;
const TEMPLATE_ROOT = join(tmpdir(), `creto-pglite-template-${PGLITE_VERSION}`);
const TEMPLATE_DIR = join(TEMPLATE_ROOT, 'data');
const TEMPLATE_TAR = join(TEMPLATE_ROOT, 'data.tar');
const TEMPLATE_LOCK = `${TEMPLATE_ROOT}.lock`;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function ensureTemplate(): Promise<void> {
  const deadline = performance.now() + OPEN_TIMEOUT_MS;
  while (!existsSync(TEMPLATE_TAR)) {
    let locked = false;
    try {
      mkdirSync(TEMPLATE_LOCK);
      locked = true;
    } catch {
      // Another file is building it; a lock older than the open timeout belongs to a dead run.
      try {
        if (Date.now() - statSync(TEMPLATE_LOCK).mtimeMs > OPEN_TIMEOUT_MS)
          rmSync(TEMPLATE_LOCK, { recursive: true, force: true });
      } catch {}
    }
    if (locked) {
      try {
        if (!existsSync(TEMPLATE_TAR)) {
          const building = `${TEMPLATE_ROOT}.building-${process.pid}`;
          rmSync(building, { recursive: true, force: true });
          mkdirSync(building, { recursive: true });
          const db = await PGlite.create({ dataDir: join(building, 'data') });
          const tar = await db.dumpDataDir('none');
          await db.close();
          writeFileSync(join(building, 'data.tar'), new Uint8Array(await tar.arrayBuffer()));
          rmSync(TEMPLATE_ROOT, { recursive: true, force: true });
          renameSync(building, TEMPLATE_ROOT);
        }
      } finally {
        rmSync(TEMPLATE_LOCK, { recursive: true, force: true });
      }
      return;
    }
    if (performance.now() > deadline) throw new Error('timed out waiting for the PGlite template');
    await pause(250);
  }
}

/** A fresh in-memory PGlite, loaded from the template. */
async function freshMemoryPGlite(): Promise<PGlite> {
  await ensureTemplate();
  return PGlite.create({ loadDataDir: new Blob([readFileSync(TEMPLATE_TAR)]) });
}

/** A fresh data directory, copied from the template. */
async function freshDataDir(): Promise<string> {
  await ensureTemplate();
  const dataDir = mkdtempSync(join(tmpdir(), 'creto-pglite-'));
  cpSync(TEMPLATE_DIR, dataDir, { recursive: true });
  return dataDir;
}

// ---------------------------------------------------------------------------------------------

/** The drivers a suite runs on. */
export type DriverName = 'pglite-memory' | 'pglite-dir' | 'postgres';

/** One database opened for a suite, migrated in its own schema. */
export interface TestDatabase {
  /** The driver's name. */
  readonly driver: DriverName;
  /** A migrated client (a new one after `reopen`). */
  readonly client: SqlClient;
  /** The schema the suite owns. */
  readonly schema: string;
  /** Another unique schema name (not created), dropped with the database on `close()`. */
  newSchema(): string;
  /**
   * Another client on the same database (another pool: another process's view), or `undefined`
   * on PGlite, which one client at a time opens.
   */
  openSecond(): Promise<SqlClient | undefined>;
  /**
   * Closes the client and opens the same database again (a process restart); `undefined` for
   * PGlite in memory, whose data dies with it.
   */
  readonly reopen: (() => Promise<SqlClient>) | undefined;
  /** Drops the schema (server), closes every client, removes temporary files. */
  close(): Promise<void>;
}

async function openPGliteMemory(): Promise<TestDatabase> {
  const pglite = await freshMemoryPGlite();
  const client = await createPGliteClient({ pglite });
  const schema = uniqueSchema();
  await migrate(client, { schema });
  return {
    driver: 'pglite-memory',
    client,
    schema,
    newSchema: uniqueSchema,
    openSecond: async () => undefined,
    reopen: undefined,
    async close() {
      await client.close();
      await pglite.close();
    },
  };
}

async function openPGliteDir(): Promise<TestDatabase> {
  const dataDir = await freshDataDir();
  let client = await createPGliteClient({ dataDir });
  const schema = uniqueSchema();
  await migrate(client, { schema });
  return {
    driver: 'pglite-dir',
    get client() {
      return client;
    },
    schema,
    newSchema: uniqueSchema,
    openSecond: async () => undefined,
    async reopen() {
      await client.close();
      client = await createPGliteClient({ dataDir });
      return client;
    },
    async close() {
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function openPostgres(url: string): Promise<TestDatabase> {
  const open = () => createPgClient({ connectionString: url, maxConnections: 4 });
  let client = open();
  const extra: SqlClient[] = [];
  const schema = uniqueSchema();
  const schemas = [schema];
  await migrate(client, { schema });
  return {
    driver: 'postgres',
    get client() {
      return client;
    },
    schema,
    newSchema() {
      const name = uniqueSchema();
      schemas.push(name);
      return name;
    },
    async openSecond() {
      const second = open();
      extra.push(second);
      return second;
    },
    async reopen() {
      await client.close();
      client = open();
      return client;
    },
    async close() {
      try {
        for (const name of schemas) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      } finally {
        await Promise.all([client, ...extra].map((c) => c.close()));
      }
    },
  };
}

/** A driver and how to open a database on it. */
export interface TestDriver {
  /** Its name. */
  readonly name: DriverName;
  /** Opens a fresh, migrated database (schema) on it. */
  open(): Promise<TestDatabase>;
}

/** The drivers available in this run: PGlite always, PostgreSQL when `CRETO_POSTGRES_URL` is set. */
export function testDrivers(): TestDriver[] {
  const drivers: TestDriver[] = [
    { name: 'pglite-memory', open: openPGliteMemory },
    { name: 'pglite-dir', open: openPGliteDir },
  ];
  const url = postgresUrl();
  if (url !== undefined) drivers.push({ name: 'postgres', open: () => openPostgres(url) });
  return drivers;
}

/** Opens a fresh template-based in-memory PGlite for tests that need a raw database. */
export async function openScratchPGlite(): Promise<{ client: SqlClient; close(): Promise<void> }> {
  const pglite = await freshMemoryPGlite();
  const client = await createPGliteClient({ pglite });
  return {
    client,
    async close() {
      await client.close();
      await pglite.close();
    },
  };
}

/** A fresh data directory copied from the template, and how to remove it. */
export async function scratchDataDir(): Promise<{ dataDir: string; remove(): void }> {
  const dataDir = await freshDataDir();
  return { dataDir, remove: () => rmSync(dataDir, { recursive: true, force: true }) };
}

/**
 * Registers `body` once per available driver, inside `describe('<title> on <driver>')`, with the
 * database opened (and migrated) before the block's tests and closed after them; `db()` returns
 * it. Adds a skipped placeholder naming `CRETO_POSTGRES_URL` when the server is not configured.
 */
export function describeEachDriver(
  title: string,
  body: (db: () => TestDatabase, driver: TestDriver) => void,
): void {
  for (const driver of testDrivers()) {
    describe(`${title} on ${driver.name}`, () => {
      let database: TestDatabase | undefined;
      beforeAll(async () => {
        database = await driver.open();
      }, OPEN_TIMEOUT_MS);
      afterAll(async () => {
        await database?.close();
      }, OPEN_TIMEOUT_MS);
      body(() => {
        if (database === undefined) throw new Error(`the ${driver.name} database is not open`);
        return database;
      }, driver);
    });
  }
  if (postgresUrl() === undefined) {
    describe.skip(`${title} on postgres`, () => {
      it(SKIP_POSTGRES, () => {});
    });
  }
}

/**
 * A client that answers every query with no rows and never fails: enough for option validation,
 * which must refuse bad options before touching the database.
 */
export const inertSqlClient = {
  driver: 'pglite',
  query: async () => ({ rows: [], rowCount: 0 }),
  transaction: async () => undefined,
  close: async () => {},
} as unknown as SqlClient;
