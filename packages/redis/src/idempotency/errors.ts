import { EnablementError } from '@creto/core';

/** Reply-error prefixes (Redis's error codes) that mean "try again shortly". */
const TRANSIENT = [
  'OOM',
  'BUSY',
  'LOADING',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'READONLY',
  'MOVED',
  'ASK',
];
/** Reply-error prefixes of an authentication or ACL refusal. */
const FORBIDDEN = ['NOAUTH', 'NOPERM', 'WRONGPASS'];

const prefixOf = (message: string): string => message.split(' ', 1)[0] ?? '';

/**
 * Maps a failure of ioredis or Redis to an `EnablementError`:
 *
 * | failure | code |
 * | --- | --- |
 * | the key holds another type, or a hash that is not an idempotency record | `PL-409` |
 * | connection lost, retries exhausted, command timeout, `OOM`, `BUSY`, `LOADING`, `READONLY`, … | `PL-503`, retryable |
 * | `NOAUTH`, `NOPERM`, `WRONGPASS` | `PL-403` |
 * | anything else | `PL-500` |
 *
 * Only Redis's error code (the first word of a reply error) reaches the message; the foreign
 * error itself is kept as the standard `cause`, never serialized.
 */
export function fromRedisError(error: unknown, what: string): EnablementError {
  if (EnablementError.is(error)) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : '';
  if (name === 'ReplyError') {
    const code = prefixOf(message);
    if (code === 'CRETOFOREIGN' || code === 'WRONGTYPE') {
      return new EnablementError(
        'PL-409',
        `${what}: the key holds a value that is not an idempotency record`,
        {
          cause: error,
        },
      );
    }
    if (TRANSIENT.includes(code)) {
      return new EnablementError('PL-503', `${what}: Redis is unavailable (${code})`, {
        cause: error,
        retryable: true,
      });
    }
    if (FORBIDDEN.includes(code)) {
      return new EnablementError('PL-403', `${what}: Redis refused the command (${code})`, { cause: error });
    }
    return new EnablementError(
      'PL-500',
      `${what}: Redis error ${code.replace(/[^A-Z_-]/g, '').slice(0, 32)}`,
      {
        cause: error,
      },
    );
  }
  // Connection-level failures: the command did not run, or (timeout) its outcome is unknown.
  if (
    name === 'MaxRetriesPerRequestError' ||
    name === 'AbortError' ||
    name === 'ClusterAllFailedError' ||
    message === 'Connection is closed.' ||
    message === 'Command timed out' ||
    message.startsWith("Stream isn't writeable") ||
    message.startsWith("Cluster isn't ready") ||
    (error as { code?: unknown } | null)?.code === 'ECONNREFUSED'
  ) {
    return new EnablementError('PL-503', `${what}: Redis is unreachable`, { cause: error, retryable: true });
  }
  return new EnablementError('PL-500', `${what}: unexpected Redis failure (${name || typeof error})`, {
    cause: error,
  });
}
