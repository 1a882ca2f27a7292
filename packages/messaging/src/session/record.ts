import {
  base64urlToBytes,
  bytesToBase64url,
  bytesToUtf8,
  type CryptoProvider,
  EnablementError,
  utf8ToBytes,
} from '@creto/core';
import { DoubleRatchet } from '../protocol/double-ratchet.js';
import type { InitialKeyAgreement } from '../protocol/pqxdh.js';
import { decodeSessionMessage, encodeSessionMessage } from './wire.js';

/**
 * Most sessions kept per peer. Two arise when both sides initiate at the same moment (each
 * answers the other's handshake); a few more cover a peer that re-handshakes after losing state.
 * The oldest beyond the bound is dropped, so its in-flight messages no longer decrypt.
 */
export const MAX_SESSIONS_PER_PEER = 4;

/** Serialization `type` tag of a {@link SessionRecord}. */
export const SESSION_RECORD_TYPE = 'creto.messaging.session-record';
/** Serialization version of a {@link SessionRecord}. */
export const SESSION_RECORD_VERSION = 1;

/** One session with a peer. */
export interface Session {
  /** `base64url(EK_A)`: the handshake's ephemeral key names the session on both sides. */
  readonly id: string;
  /** The ratchet. */
  readonly ratchet: DoubleRatchet;
  /**
   * Initiator only, until the first reply: the key agreement every message repeats, so the
   * responder can set up from whichever message arrives first (PQXDH §3.3, as Signal's
   * PreKeySignalMessage).
   */
  pending: InitialKeyAgreement | undefined;
}

/**
 * Every session with one peer, the active one first (it sends). Serialized as one versioned
 * value, so saving a record is atomic in the store.
 */
export class SessionRecord {
  /** The peer NHI. */
  readonly peer: string;
  readonly #sessions: Session[];

  constructor(peer: string, sessions: Session[] = []) {
    this.peer = peer;
    this.#sessions = sessions;
  }

  /** Sessions, active first. */
  get sessions(): readonly Session[] {
    return this.#sessions;
  }

  /** The session that sends, if any. */
  get active(): Session | undefined {
    return this.#sessions[0];
  }

  /** The session named `id`. */
  find(id: string): Session | undefined {
    return this.#sessions.find((s) => s.id === id);
  }

  /** Makes `session` the active one (adding it when new), dropping the oldest beyond the bound. */
  promote(session: Session): void {
    const index = this.#sessions.indexOf(session);
    if (index >= 0) this.#sessions.splice(index, 1);
    this.#sessions.unshift(session);
    while (this.#sessions.length > MAX_SESSIONS_PER_PEER) this.#sessions.pop()?.ratchet.dispose();
  }

  /** Versioned bytes (UTF-8 JSON); contains secret keys. */
  serialize(): Uint8Array {
    return utf8ToBytes(
      JSON.stringify({
        type: SESSION_RECORD_TYPE,
        version: SESSION_RECORD_VERSION,
        peer: this.peer,
        sessions: this.#sessions.map((s) => ({
          id: s.id,
          ratchet: bytesToBase64url(s.ratchet.serialize()),
          // the pending agreement is stored in its wire form, with an empty message after it
          pending:
            s.pending === undefined
              ? null
              : bytesToBase64url(
                  encodeSessionMessage({
                    initial: s.pending,
                    message: { header: PLACEHOLDER_HEADER, ciphertext: new Uint8Array(16) },
                  }),
                ),
        })),
      }),
    );
  }

  /**
   * Restores a record; everything is validated before anything is returned, so corrupt state
   * throws `MS-400` naming the field and never yields a half-loaded record.
   */
  static deserialize(provider: CryptoProvider, bytes: Uint8Array, expectedPeer: string): SessionRecord {
    const fail = (field: string, why: string, cause?: unknown) =>
      new EnablementError('MS-400', `session record of ${expectedPeer}: ${field}: ${why}`, { cause });
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytesToUtf8(bytes));
    } catch (cause) {
      throw fail('bytes', 'not valid UTF-8 JSON (corrupt state)', cause);
    }
    if (typeof parsed !== 'object' || parsed === null) throw fail('bytes', 'expected an object');
    const o = parsed as Record<string, unknown>;
    if (o.type !== SESSION_RECORD_TYPE) throw fail('type', `expected ${SESSION_RECORD_TYPE}`);
    if (o.version !== SESSION_RECORD_VERSION)
      throw fail('version', `unsupported (expected ${SESSION_RECORD_VERSION})`);
    if (o.peer !== expectedPeer) throw fail('peer', 'belongs to another peer');
    if (!Array.isArray(o.sessions) || o.sessions.length > MAX_SESSIONS_PER_PEER) {
      throw fail('sessions', `expected at most ${MAX_SESSIONS_PER_PEER} sessions`);
    }
    const sessions: Session[] = o.sessions.map((raw: unknown, i: number) => {
      if (typeof raw !== 'object' || raw === null) throw fail(`sessions[${i}]`, 'expected an object');
      const s = raw as Record<string, unknown>;
      if (typeof s.id !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(s.id))
        throw fail(`sessions[${i}].id`, 'bad id');
      if (typeof s.ratchet !== 'string') throw fail(`sessions[${i}].ratchet`, 'expected base64url');
      let ratchet: DoubleRatchet;
      let pending: InitialKeyAgreement | undefined;
      try {
        ratchet = DoubleRatchet.deserialize(provider, base64urlToBytes(s.ratchet));
        if (s.pending !== null) {
          if (typeof s.pending !== 'string') throw new Error('pending: expected base64url or null');
          pending = decodeSessionMessage(base64urlToBytes(s.pending)).initial;
          if (pending === undefined) throw new Error('pending: not a handshake');
        }
      } catch (cause) {
        throw fail(`sessions[${i}]`, cause instanceof Error ? cause.message : 'corrupt', cause);
      }
      return { id: s.id, ratchet, pending };
    });
    return new SessionRecord(expectedPeer, sessions);
  }
}

const PLACEHOLDER_HEADER = (() => {
  const header = new Uint8Array(41);
  header[0] = 1;
  return header;
})();
