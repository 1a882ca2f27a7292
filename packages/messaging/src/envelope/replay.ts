import {
  type Clock,
  createMemoryIdempotencyStore,
  DEFAULT_IDEMPOTENCY_WINDOWS,
  EnablementError,
  type IdempotencyStore,
  idempotencyStoreKey,
  systemClock,
  type Uuid,
} from '@creto/core';

/** The spec §9.2 `send_message` window: a message id is remembered for 30 days. */
export const REPLAY_WINDOW_MS: number =
  DEFAULT_IDEMPOTENCY_WINDOWS.find((w) => w.product === 'messaging' && w.operation === 'send_message')
    ?.windowMs ?? 30 * 86_400_000;

/** Default {@link ReplayGuardOptions.maxEntries} of the in-memory store. */
export const DEFAULT_REPLAY_MAX_ENTRIES = 100_000;

/** How long a reservation holds a message id before a crashed holder stops blocking it, ms. */
export const DEFAULT_REPLAY_LOCK_TTL_MS = 60_000;

/** Options of {@link createReplayGuard}. */
export interface ReplayGuardOptions {
  /**
   * Where seen ids live: core's `IdempotencyStore` port (memory, Redis, …). By default an
   * in-memory store bounded to `maxEntries` ids.
   */
  readonly store?: IdempotencyStore;
  /** Time source of the default store; `systemClock` by default. */
  readonly clock?: Clock;
  /** How long an id is remembered, ms; {@link REPLAY_WINDOW_MS} (30 days, spec §9.2) by default. */
  readonly windowMs?: number;
  /**
   * Bound of the default in-memory store ({@link DEFAULT_REPLAY_MAX_ENTRIES}). At the bound,
   * expired ids are swept; if none has expired, `reserve` fails with a retryable `MS-503`. Ids
   * inside the window are never evicted: forgetting one would let its envelope be replayed.
   */
  readonly maxEntries?: number;
  /**
   * Store operation name, so that several guards can share one store without sharing ids
   * (the relay uses `send_message`, a recipient `receive_message`); `send_message` by default.
   */
  readonly operation?: string;
}

/** A message id held while its envelope is processed. */
export interface ReplayReservation {
  /** Records the id as seen for the whole window (the envelope was accepted). */
  commit(): Promise<void>;
  /** Frees the id (the envelope was refused and may be sent again). */
  release(): Promise<void>;
}

/** Remembers message ids for the replay window (spec §9.2) and refuses ids seen inside it. */
export interface ReplayGuard {
  /**
   * Reserves `messageId`. Rejects with `MS-003` when the id was accepted inside the window or is
   * being processed right now, and `MS-503` (retryable) when the store is full or unreachable.
   */
  reserve(messageId: Uuid): Promise<ReplayReservation>;
  /** True when `messageId` is recorded as seen (or reserved) now. */
  seen(messageId: Uuid): Promise<boolean>;
  /** The window, ms. */
  readonly windowMs: number;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new EnablementError('MS-400', `replay guard: ${name} must be a positive integer`);
  }
  return n;
}

/**
 * A replay guard over core's idempotency store: key `idem:messaging:<operation>:<message id>`.
 * A reservation is a store lock; `commit` turns it into a record that expires after the window.
 */
export function createReplayGuard(options: ReplayGuardOptions = {}): ReplayGuard {
  const windowMs = positiveInteger(options.windowMs, REPLAY_WINDOW_MS, 'windowMs');
  const maxEntries = positiveInteger(options.maxEntries, DEFAULT_REPLAY_MAX_ENTRIES, 'maxEntries');
  const operation = options.operation ?? 'send_message';
  const store =
    options.store ??
    createMemoryIdempotencyStore({
      clock: options.clock ?? systemClock,
      maxKeys: maxEntries,
      maxResultLength: 16,
      maxTotalResultLength: maxEntries * 2,
    });
  const keyOf = (id: Uuid) => {
    try {
      return idempotencyStoreKey('messaging', operation, id);
    } catch (cause) {
      throw new EnablementError('MS-400', 'replay guard: invalid message id or operation', { cause });
    }
  };
  // Any reuse of an id is a replay, whatever the content: one fixed fingerprint.
  const FINGERPRINT = 'message-id';

  const unavailable = (cause: unknown) =>
    EnablementError.is(cause) && cause.code === 'MS-003'
      ? cause
      : new EnablementError('MS-503', 'replay guard: the seen-id store refused the operation', {
          cause,
          retryable: true,
        });

  return Object.freeze({
    windowMs,
    async reserve(messageId: Uuid): Promise<ReplayReservation> {
      const key = keyOf(messageId);
      let begun: Awaited<ReturnType<IdempotencyStore['begin']>>;
      try {
        begun = await store.begin(key, FINGERPRINT, DEFAULT_REPLAY_LOCK_TTL_MS);
      } catch (cause) {
        throw unavailable(cause);
      }
      if (begun.status !== 'acquired') {
        throw new EnablementError('MS-003', `message ${messageId} was already seen (replay)`);
      }
      const { token } = begun;
      let settled = false;
      return Object.freeze({
        async commit() {
          if (settled) return;
          settled = true;
          try {
            await store.complete(key, token, '1', windowMs);
          } catch (cause) {
            throw unavailable(cause);
          }
        },
        async release() {
          if (settled) return;
          settled = true;
          await store.release(key, token);
        },
      });
    },
    async seen(messageId: Uuid): Promise<boolean> {
      return (await store.get(keyOf(messageId))) !== undefined;
    },
  });
}
