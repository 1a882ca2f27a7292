import { EnablementError } from '../errors/enablement-error.js';
import { isClock } from '../options/options.js';
import {
  type Clock,
  type ConsensusTimestamp,
  millisToNanos,
  NANOS_PER_MILLI,
  systemClock,
} from '../time/clock.js';
import {
  assertStoreString,
  assertStoreTtl,
  type IdempotencyBeginResult,
  type IdempotencyEntry,
  type IdempotencyStore,
  MAX_IDEMPOTENCY_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_STORE_KEY_LENGTH,
} from './store.js';

/** Default {@link MemoryIdempotencyStoreOptions.maxKeys}. */
export const DEFAULT_IDEMPOTENCY_MAX_KEYS = 100_000;
/** Default {@link MemoryIdempotencyStoreOptions.maxResultLength}: 64 Ki characters. */
export const DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH = 65_536;
/** Default {@link MemoryIdempotencyStoreOptions.maxTotalResultLength}: 64 Mi characters. */
export const DEFAULT_IDEMPOTENCY_MAX_TOTAL_RESULT_LENGTH = 67_108_864;

/** Options of {@link createMemoryIdempotencyStore}. */
export interface MemoryIdempotencyStoreOptions {
  /** Source of time for lock and result expiry; the system clock by default. */
  clock?: Clock;
  /**
   * Most keys held at once, locks and results together ({@link DEFAULT_IDEMPOTENCY_MAX_KEYS} by
   * default). When full, expired records are swept; if none has expired, `begin` on a new key
   * throws `PL-503` (retryable, `retryAfterMs` = time until the earliest record expires).
   * Unexpired records are never evicted: evicting one would let a duplicate run twice.
   */
  maxKeys?: number;
  /** Longest result `complete` accepts, in UTF-16 code units; longer ones throw `PL-400`. */
  maxResultLength?: number;
  /**
   * Most result characters held at once, so memory stays bounded whatever `maxKeys` ×
   * `maxResultLength` would allow. A `complete` that would exceed it (after a sweep) throws
   * `PL-503` and stores nothing.
   */
  maxTotalResultLength?: number;
}

/** The in-memory store, with its size for tests and monitoring. */
export interface MemoryIdempotencyStore extends IdempotencyStore {
  /** Records currently held, including expired ones not yet swept. */
  readonly size: number;
  /** Drops every expired record now (otherwise done lazily, on access and when full). */
  sweep(): void;
}

interface LockRecord {
  readonly kind: 'lock';
  readonly fingerprint: string;
  readonly token: string;
  readonly expiresAt: ConsensusTimestamp;
}

interface ResultRecord {
  readonly kind: 'result';
  readonly fingerprint: string;
  readonly result: string;
  readonly expiresAt: ConsensusTimestamp;
}

type StoredRecord = LockRecord | ResultRecord;

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new EnablementError('PL-400', `memory idempotency store: ${name} must be a positive integer`);
  }
  return value;
}

/** Remaining time in whole milliseconds, rounded up so that a live record never reports 0. */
function remainingMs(expiresAt: ConsensusTimestamp, now: ConsensusTimestamp): number {
  return Number((expiresAt - now + NANOS_PER_MILLI - 1n) / NANOS_PER_MILLI);
}

class MemoryStore implements MemoryIdempotencyStore {
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #maxResultLength: number;
  readonly #maxTotalResultLength: number;
  readonly #records = new Map<string, StoredRecord>();
  #totalResultLength = 0;
  #seq = 0;
  // When the store is full of live records, sweeping again before the earliest of them expires
  // would free nothing: remembering that instant keeps a full store from costing O(n) per call.
  #nextSweepAt: ConsensusTimestamp | undefined;

  constructor(options: MemoryIdempotencyStoreOptions) {
    this.#clock = options.clock ?? systemClock;
    if (!isClock(this.#clock)) {
      throw new EnablementError('PL-400', 'memory idempotency store: clock must implement Clock');
    }
    this.#maxKeys = positiveInteger(options.maxKeys, DEFAULT_IDEMPOTENCY_MAX_KEYS, 'maxKeys');
    this.#maxResultLength = positiveInteger(
      options.maxResultLength,
      DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH,
      'maxResultLength',
    );
    this.#maxTotalResultLength = positiveInteger(
      options.maxTotalResultLength,
      DEFAULT_IDEMPOTENCY_MAX_TOTAL_RESULT_LENGTH,
      'maxTotalResultLength',
    );
  }

  get size(): number {
    return this.#records.size;
  }

  async begin(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyBeginResult> {
    assertStoreString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    assertStoreString(fingerprint, 'fingerprint', MAX_IDEMPOTENCY_FINGERPRINT_LENGTH);
    assertStoreTtl(lockTtlMs, 'lockTtlMs');
    const now = this.#clock.now();
    const record = this.#live(key, now);
    if (record !== undefined) {
      if (record.fingerprint !== fingerprint) return { status: 'mismatch' };
      if (record.kind === 'result') return { status: 'completed', result: record.result };
      return { status: 'in_flight', retryAfterMs: remainingMs(record.expiresAt, now) };
    }
    this.#ensureRoom(now, 1, 0);
    this.#seq += 1;
    const token = `lock-${this.#seq}`;
    this.#set(key, { kind: 'lock', fingerprint, token, expiresAt: now + millisToNanos(lockTtlMs) });
    return { status: 'acquired', token };
  }

  async complete(key: string, token: string, result: string, ttlMs: number): Promise<boolean> {
    assertStoreString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    assertStoreString(token, 'token', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    if (typeof result !== 'string') {
      throw new EnablementError('PL-400', 'idempotency store: result must be a string');
    }
    if (result.length > this.#maxResultLength) {
      throw new EnablementError(
        'PL-400',
        `idempotency store: result is longer than ${this.#maxResultLength} characters`,
      );
    }
    assertStoreTtl(ttlMs, 'ttlMs');
    const now = this.#clock.now();
    const record = this.#live(key, now);
    if (record?.kind !== 'lock' || record.token !== token) return false;
    this.#ensureRoom(now, 0, result.length);
    // A sweep cannot have removed this record: it is live.
    this.#set(key, {
      kind: 'result',
      fingerprint: record.fingerprint,
      result,
      expiresAt: now + millisToNanos(ttlMs),
    });
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    assertStoreString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    assertStoreString(token, 'token', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    const record = this.#live(key, this.#clock.now());
    if (record?.kind !== 'lock' || record.token !== token) return false;
    this.#records.delete(key);
    return true;
  }

  async get(key: string): Promise<IdempotencyEntry | undefined> {
    assertStoreString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
    const now = this.#clock.now();
    const record = this.#live(key, now);
    if (record === undefined) return undefined;
    const expiresInMs = remainingMs(record.expiresAt, now);
    return record.kind === 'lock'
      ? { status: 'in_flight', fingerprint: record.fingerprint, expiresInMs }
      : { status: 'completed', fingerprint: record.fingerprint, result: record.result, expiresInMs };
  }

  sweep(): void {
    this.#sweep(this.#clock.now());
  }

  /** The record under `key` if it has not expired; an expired one is dropped on the way. */
  #live(key: string, now: ConsensusTimestamp): StoredRecord | undefined {
    const record = this.#records.get(key);
    if (record === undefined) return undefined;
    if (now < record.expiresAt) return record;
    this.#delete(key, record);
    return undefined;
  }

  #set(key: string, record: StoredRecord): void {
    this.#records.set(key, record);
    if (record.kind === 'result') this.#totalResultLength += record.result.length;
    // Keep the "nothing expires before" mark honest when a shorter-lived record arrives.
    if (this.#nextSweepAt !== undefined && record.expiresAt < this.#nextSweepAt) {
      this.#nextSweepAt = record.expiresAt;
    }
  }

  #delete(key: string, record: StoredRecord): void {
    this.#records.delete(key);
    if (record.kind === 'result') this.#totalResultLength -= record.result.length;
  }

  /** Drops expired records; returns the earliest expiry among those kept. */
  #sweep(now: ConsensusTimestamp): ConsensusTimestamp | undefined {
    let earliest: ConsensusTimestamp | undefined;
    for (const [key, record] of this.#records) {
      if (now >= record.expiresAt) this.#delete(key, record);
      else if (earliest === undefined || record.expiresAt < earliest) earliest = record.expiresAt;
    }
    this.#nextSweepAt = earliest;
    return earliest;
  }

  /** Makes room for `keys` more records and `chars` more result characters, or throws `PL-503`. */
  #ensureRoom(now: ConsensusTimestamp, keys: number, chars: number): void {
    const fits = () =>
      this.#records.size + keys <= this.#maxKeys &&
      this.#totalResultLength + chars <= this.#maxTotalResultLength;
    if (fits()) return;
    if (this.#nextSweepAt === undefined || now >= this.#nextSweepAt) this.#sweep(now);
    if (fits()) return;
    const retryAfterMs = this.#nextSweepAt === undefined ? undefined : remainingMs(this.#nextSweepAt, now);
    throw new EnablementError(
      'PL-503',
      `memory idempotency store is full (${this.#maxKeys} keys, ${this.#maxTotalResultLength} result characters)`,
      retryAfterMs === undefined ? {} : { retryAfterMs },
    );
  }
}

/**
 * An {@link IdempotencyStore} in process memory: one `Map`, expiry checked against the injected
 * `Clock` on every access (so `FakeClock` drives it and no timer is left running), bounded by
 * `maxKeys` and `maxTotalResultLength` (see {@link MemoryIdempotencyStoreOptions}). Each method
 * runs synchronously inside its promise, so every operation is atomic.
 *
 * @example
 * ```ts
 * const store = createMemoryIdempotencyStore({ clock, maxKeys: 10_000 });
 * const guard = createIdempotencyGuard({ store, clock });
 * ```
 */
export function createMemoryIdempotencyStore(
  options: MemoryIdempotencyStoreOptions = {},
): MemoryIdempotencyStore {
  return new MemoryStore(options);
}
