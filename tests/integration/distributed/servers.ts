// Test support for the distributed integration tests: which servers are configured. Same rule as
// the adapter packages: a missing URL skips the suite with a message, except in CI (`CI` set),
// where it is an error, because there the suites must run.
import { createPgClient, migrate, type SqlClient } from '@creto/postgres';
import { afterAll, beforeAll, describe, it } from 'vitest';

/** The URL of `variable`, `undefined` to skip; throws in CI when it is missing. */
export function serverUrl(
  variable: 'CRETO_NATS_URL' | 'CRETO_REDIS_URL' | 'CRETO_POSTGRES_URL',
): string | undefined {
  const url = process.env[variable];
  if (url !== undefined && url !== '') return url;
  if (process.env.CI) {
    throw new Error(
      `${variable} is not set; CI must run the distributed integration tests against real servers`,
    );
  }
  return undefined;
}

/** A skip title naming what to set. */
export const skipTitle = (variables: readonly string[]): string =>
  `skipped: set ${variables.join(', ')} (e.g. CRETO_NATS_URL=nats://127.0.0.1:4222, ` +
  'CRETO_REDIS_URL=redis://127.0.0.1:6379, CRETO_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres) ' +
  'to run the distributed integration tests';

/** A name no other run uses (streams, consumers, schemas). */
export const runId = (): string => globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 12);

/** A migrated schema of its own on the configured PostgreSQL server, for one `describe` block. */
export interface PostgresSchema {
  /** The server URL (for more clients: another process's pool). */
  readonly url: string;
  /** A client on it (closed after the block). */
  readonly client: SqlClient;
  /** The schema the block owns (dropped after it). */
  readonly schema: string;
}

/**
 * `describe(title)` with a fresh migrated schema (`<prefix>_<run id>`) on `CRETO_POSTGRES_URL`,
 * dropped afterwards; `db()` gives it. Without the URL the block is skipped with a title naming it
 * (and in CI that is an error, see {@link serverUrl}).
 */
export function describePostgres(
  title: string,
  prefix: string,
  body: (db: () => PostgresSchema) => void,
): void {
  const url = serverUrl('CRETO_POSTGRES_URL');
  if (url === undefined) {
    describe(title, () => {
      it.skip(skipTitle(['CRETO_POSTGRES_URL']), () => {});
    });
    return;
  }
  describe(title, () => {
    const schema = `${prefix}_${runId()}`;
    let client: SqlClient | undefined;
    beforeAll(async () => {
      client = createPgClient({ connectionString: url });
      await migrate(client, { schema });
    });
    afterAll(async () => {
      await client?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
      await client?.close();
    });
    body(() => {
      if (client === undefined) throw new Error('the PostgreSQL schema is not open');
      return { url, client, schema };
    });
  });
}
