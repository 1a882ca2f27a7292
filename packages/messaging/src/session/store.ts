import { EnablementError } from '@creto/core';

/**
 * Where serialized session state lives. Values are opaque versioned bytes that contain secret
 * keys (ratchet state, prekey secrets): an implementation must store them as confidentially as
 * the identity's own secrets. Writes replace the whole value atomically, so a crash leaves
 * either the old or the new state, never a mix.
 */
export interface SessionStore {
  /** The value under `key`, or `undefined`. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Replaces the value under `key`. */
  set(key: string, value: Uint8Array): Promise<void>;
  /** Removes `key`; idempotent. */
  delete(key: string): Promise<void>;
}

/** Default bound on entries of {@link createInMemorySessionStore}: one per peer plus a few. */
export const DEFAULT_MAX_SESSION_STORE_ENTRIES = 10_000;

/** Options of {@link createInMemorySessionStore}. */
export interface InMemorySessionStoreOptions {
  /** Most keys held; a new key beyond it is refused with `MS-413`. Default 10,000. */
  readonly maxEntries?: number;
}

/**
 * An in-memory {@link SessionStore} (copies in and out, so callers never share buffers with it).
 * Survives a client being dropped and re-created in the same process, which is how tests model
 * a restart; a real deployment backs the port with durable storage.
 */
export function createInMemorySessionStore(options: InMemorySessionStoreOptions = {}): SessionStore {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_SESSION_STORE_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new EnablementError('MS-400', 'maxEntries: expected a positive integer');
  }
  const entries = new Map<string, Uint8Array>();
  const checkKey = (key: unknown): string => {
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
      throw new EnablementError('MS-400', 'key: expected a non-empty string of at most 512 characters');
    }
    return key;
  };
  return Object.freeze({
    async get(key: string) {
      return entries.get(checkKey(key))?.slice();
    },
    async set(key: string, value: Uint8Array) {
      checkKey(key);
      if (!(value instanceof Uint8Array)) throw new EnablementError('MS-400', 'value: expected a Uint8Array');
      if (!entries.has(key) && entries.size >= maxEntries) {
        throw new EnablementError('MS-413', `session store is full (${maxEntries} entries)`);
      }
      entries.set(key, value.slice());
    },
    async delete(key: string) {
      entries.delete(checkKey(key));
    },
  });
}
