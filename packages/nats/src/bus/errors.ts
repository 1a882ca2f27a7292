import { EnablementError } from '@creto/core';
import { JetStreamApiError } from '@nats-io/jetstream';

/**
 * JetStream API error codes (`err_code`) the adapter maps to a port error code. The numbers are
 * nats-server's `JSErrCode`s; anything not listed falls back on the HTTP-like `code`.
 */
export const JETSTREAM_ERROR_CODES = Object.freeze({
  /** `consumer not found`. */
  consumerNotFound: 10014,
  /** `stream not found`. */
  streamNotFound: 10059,
  /** `JetStream not enabled for account`. */
  notEnabledForAccount: 10039,
  /** `JetStream system temporarily unavailable`. */
  temporarilyUnavailable: 10008,
  /** `invalid stream config` (e.g. duplicate window larger than max age). */
  invalidStreamConfig: 10052,
  /** `message size exceeds maximum allowed`. */
  messageTooLarge: 10054,
  /** `stream name already in use with a different configuration`. */
  streamNameInUse: 10058,
  /** `subjects overlap with an existing stream`. */
  subjectsOverlap: 10065,
  /** Store failure: `maximum messages exceeded`, `maximum bytes exceeded`, … (discard `new`). */
  storeFailed: 10077,
  /** `consumer filter subject is not a valid subset of the interest subjects`. */
  filterNotSubset: 10093,
  /** `multiple non-filtered consumers not allowed on workqueue stream`. */
  workQueueMultipleUnfiltered: 10099,
  /** `filtered consumer not unique on workqueue stream`. */
  workQueueFilterNotUnique: 10100,
  /** `consumer must be deliver all on workqueue stream`. */
  workQueueDeliverAll: 10101,
  /** `consumer already exists` (servers ≥ 2.10 with the create action). */
  consumerExists: 10148,
});

const name = (error: unknown): string =>
  typeof error === 'object' && error !== null && typeof (error as Error).name === 'string'
    ? (error as Error).name
    : '';

/**
 * Whether `error` is the NATS client's "no responders" failure: nothing subscribes to the
 * request subject. On a JetStream publish it means no stream captures the subject *or* JetStream
 * is down; the caller tells the two apart (see the bus's publish).
 */
export function isNoResponders(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const n = name(e);
    if (n === 'NoResponders' || n === 'NoRespondersError') return true;
    // The client wraps "no responders" on a JetStream request in JetStreamNotEnabled, with the
    // RequestError as its cause: the loop follows causes to find it.
    if (n === 'RequestError' && typeof (e as { isNoResponders?: unknown }).isNoResponders === 'function') {
      if ((e as { isNoResponders: () => boolean }).isNoResponders()) return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether `error` is a JetStream API error with `err_code` `code`. */
export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

function api(error: JetStreamApiError, what: string): EnablementError {
  const codes = JETSTREAM_ERROR_CODES;
  // The server's description is protocol text (no payloads, no credentials): safe to repeat.
  const text = `${what}: JetStream refused: ${error.message} (err_code ${error.code})`;
  switch (error.code) {
    case codes.streamNotFound:
    case codes.consumerNotFound:
      return new EnablementError('PL-404', text, { cause: error });
    case codes.streamNameInUse:
    case codes.subjectsOverlap:
    case codes.workQueueMultipleUnfiltered:
    case codes.workQueueFilterNotUnique:
    case codes.consumerExists:
      return new EnablementError('PL-409', text, { cause: error });
    case codes.invalidStreamConfig:
    case codes.messageTooLarge:
    case codes.filterNotSubset:
    case codes.workQueueDeliverAll:
      return new EnablementError('PL-400', text, { cause: error });
    case codes.storeFailed:
    case codes.temporarilyUnavailable:
      // §4.1: a full stream (discard `new`) refuses rather than drops; the publisher retries.
      return new EnablementError('PL-503', text, { cause: error, retryable: true });
    case codes.notEnabledForAccount:
      return new EnablementError('PL-503', text, { cause: error, retryable: false });
  }
  const status = error.status;
  if (status === 404) return new EnablementError('PL-404', text, { cause: error });
  if (status === 409) return new EnablementError('PL-409', text, { cause: error });
  if (status >= 500) return new EnablementError('PL-503', text, { cause: error, retryable: true });
  if (status >= 400) return new EnablementError('PL-400', text, { cause: error });
  return new EnablementError('PL-500', text, { cause: error });
}

/**
 * Maps a failure of the NATS client or of JetStream to an `EnablementError` (an
 * `EnablementError` passes through unchanged):
 *
 * | NATS failure | code |
 * | --- | --- |
 * | JetStream API error | by `err_code`: not found `PL-404`; name in use, overlap, work-queue conflict `PL-409`; invalid config, message too large `PL-400`; store full `PL-503` (retryable) |
 * | timeout, connection lost, no responders (JetStream down) | `PL-503`, retryable |
 * | connection closed or draining | `PL-503`, not retryable |
 * | permission or authorization violation | `PL-403` |
 * | invalid argument or subject (client-side check) | `PL-400` |
 * | anything else | `PL-500` |
 *
 * The foreign error is kept as the standard `cause` only: its text is never copied into the
 * message, since it may hold connection details (the rule `EnablementError` applies).
 */
export function fromNatsError(error: unknown, what: string): EnablementError {
  if (EnablementError.is(error)) return error;
  if (error instanceof JetStreamApiError) return api(error, what);
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (name(error) === 'JetStreamNotEnabled' && cause instanceof JetStreamApiError) return api(cause, what);
  switch (name(error)) {
    case 'TimeoutError':
      // Ambiguous: the request may have been applied. Retrying a publish is safe with a msgId.
      return new EnablementError('PL-503', `${what}: NATS request timed out`, {
        cause: error,
        retryable: true,
      });
    case 'ConnectionError':
    case 'ProtocolError':
    case 'JetStreamStatusError':
      return new EnablementError('PL-503', `${what}: NATS connection failed`, {
        cause: error,
        retryable: true,
      });
    case 'ClosedConnectionError':
    case 'DrainingConnectionError':
      return new EnablementError('PL-503', `${what}: the NATS connection is closed`, {
        cause: error,
        retryable: false,
      });
    case 'PermissionViolationError':
    case 'AuthorizationError':
    case 'UserAuthenticationExpiredError':
      return new EnablementError('PL-403', `${what}: NATS refused the operation (permissions)`, {
        cause: error,
      });
    case 'InvalidArgumentError':
    case 'InvalidSubjectError':
    case 'InvalidNameError':
      return new EnablementError('PL-400', `${what}: the NATS client refused the argument`, {
        cause: error,
      });
  }
  if (isNoResponders(error)) {
    return new EnablementError('PL-503', `${what}: JetStream did not answer (no responders)`, {
      cause: error,
      retryable: true,
    });
  }
  return new EnablementError('PL-500', `${what}: unexpected NATS failure (${name(error) || typeof error})`, {
    cause: error,
  });
}
