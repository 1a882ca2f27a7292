// Test support for the distributed integration tests: which servers are configured. Same rule as
// the adapter packages: a missing URL skips the suite with a message, except in CI (`CI` set),
// where it is an error, because there the suites must run.

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
