import {
  type AeadAlgorithm,
  base64urlToBytes,
  bytesToBase64url,
  bytesToUtf8,
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  EnablementError,
  type KeyPair,
  utf8ToBytes,
  zeroize,
} from '@creto/core';
import { decodeHeader, encodeHeader } from './header.js';
import { kdfChainKey, kdfRootKey, openWithMessageKey, sealWithMessageKey } from './kdf.js';

/**
 * Largest forward jump in one receiving chain that one message may cause (`MAX_SKIP`, Double
 * Ratchet §3.2). Each skipped position costs one HMAC now and one stored key, so the bound caps
 * the work and memory one hostile header can force. 2,000 matches Olm's total and sits well below
 * libsignal's 25,000: agents exchange far fewer messages per chain than human chat does, and a
 * peer that is further ahead must wait for the next DH ratchet step (which resets the chain).
 */
export const DEFAULT_MAX_SKIP = 2000;

/**
 * Largest number of stored skipped message keys per session (libsignal keeps 2,000, Olm 40 per
 * chain). Beyond it the oldest keys are deleted first (FIFO): a message delayed past 2,000 later
 * ones is then undecryptable, which is the price of a bounded state (~200 KB serialized).
 */
export const DEFAULT_MAX_SKIPPED_KEYS = 2000;

/** How many previous receiving ratchet keys are remembered to tell a replay from a forgery. */
const MAX_PREVIOUS_CHAINS = 32;

/** Serialization `type` tag. */
export const RATCHET_STATE_TYPE = 'creto.messaging.ratchet';
/** Serialization version; bumped on any incompatible change, older versions are refused. */
export const RATCHET_STATE_VERSION = 1;

/** Options of a ratchet. */
export interface DoubleRatchetOptions {
  /** AEAD for message bodies; default `chacha20-poly1305`. */
  readonly aead?: AeadAlgorithm;
  /** See {@link DEFAULT_MAX_SKIP}. */
  readonly maxSkip?: number;
  /** See {@link DEFAULT_MAX_SKIPPED_KEYS}. */
  readonly maxSkippedKeys?: number;
}

/** An encrypted message: the encoded header and the AEAD cipher text. */
export interface RatchetMessage {
  /** 41-byte encoded header (`encodeHeader`). */
  readonly header: Uint8Array;
  /** Cipher text with the 16-byte tag. */
  readonly ciphertext: Uint8Array;
}

interface State {
  rootKey: Uint8Array;
  dhs: KeyPair;
  dhr: Uint8Array | undefined;
  cks: Uint8Array | undefined;
  ckr: Uint8Array | undefined;
  ns: number;
  nr: number;
  pn: number;
  /** `base64url(dh).n` → message key, in insertion order (oldest first). */
  skipped: Map<string, Uint8Array>;
  previousDhr: string[];
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const UINT32_MAX = 0xffff_ffff;

function skippedId(dh: Uint8Array, n: number): string {
  return `${bytesToBase64url(dh)}.${n}`;
}

function checkLimit(value: number | undefined, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > 100_000) {
    throw new EnablementError('MS-400', `${field}: expected an integer in [1, 100000]`);
  }
  return value;
}

function checkAead(value: unknown): AeadAlgorithm {
  if (value === undefined) return 'chacha20-poly1305';
  if (value !== 'chacha20-poly1305' && value !== 'aes-256-gcm') {
    throw new EnablementError('MS-400', 'aead: expected chacha20-poly1305 or aes-256-gcm');
  }
  return value;
}

/**
 * The Double Ratchet (Signal, "The Double Ratchet Algorithm" rev. 1, §3): a root chain, sending
 * and receiving chains, DH ratchet steps on every change of speaker, out-of-order delivery with
 * bounded skipped message keys, and deletion of every message key once used.
 *
 * Each message's AEAD associated data is `AD ‖ header`, where `AD` comes from the key agreement
 * (both identity keys) and the header holds the DH public key, PN and N, so neither identities
 * nor header can be altered undetected.
 *
 * `decrypt` is transactional: all new keys are computed on the side and committed only after the
 * AEAD tag verifies, so a forged, tampered or replayed message leaves the state unchanged.
 * Not safe for concurrent use on its own; the session layer serializes access.
 */
export class DoubleRatchet {
  readonly #provider: CryptoProvider;
  readonly #aead: AeadAlgorithm;
  readonly #maxSkip: number;
  readonly #maxSkippedKeys: number;
  readonly #ad: Uint8Array;
  #state: State;

  private constructor(
    provider: CryptoProvider,
    associatedData: Uint8Array,
    state: State,
    options: DoubleRatchetOptions,
  ) {
    this.#provider = provider;
    this.#aead = checkAead(options.aead);
    this.#maxSkip = checkLimit(options.maxSkip, DEFAULT_MAX_SKIP, 'maxSkip');
    this.#maxSkippedKeys = checkLimit(options.maxSkippedKeys, DEFAULT_MAX_SKIPPED_KEYS, 'maxSkippedKeys');
    this.#ad = associatedData.slice();
    this.#state = state;
  }

  /**
   * Initiator ("Alice", §3.3 `RatchetInitAlice`): seeded with the agreed `SK` and the responder's
   * signed prekey as its first ratchet public key; it can send at once.
   */
  static initiator(
    provider: CryptoProvider,
    sharedSecret: Uint8Array,
    peerRatchetKey: Uint8Array,
    associatedData: Uint8Array,
    options: DoubleRatchetOptions = {},
  ): DoubleRatchet {
    if (!(sharedSecret instanceof Uint8Array) || sharedSecret.length !== 32) {
      throw new EnablementError('MS-400', 'sharedSecret: expected 32 bytes');
    }
    const dhs = provider.x25519.generateKeyPair();
    const dh = provider.x25519.sharedSecret(dhs.secretKey, peerRatchetKey);
    const { rootKey, chainKey } = kdfRootKey(provider, sharedSecret, dh);
    zeroize(dh);
    return new DoubleRatchet(
      provider,
      associatedData,
      {
        rootKey,
        dhs,
        dhr: peerRatchetKey.slice(),
        cks: chainKey,
        ckr: undefined,
        ns: 0,
        nr: 0,
        pn: 0,
        skipped: new Map(),
        previousDhr: [],
      },
      options,
    );
  }

  /**
   * Responder ("Bob", §3.3 `RatchetInitBob`): seeded with `SK` and its signed prekey pair as its
   * first ratchet key pair; it can send only after its first received message.
   */
  static responder(
    provider: CryptoProvider,
    sharedSecret: Uint8Array,
    ownRatchetKey: KeyPair,
    associatedData: Uint8Array,
    options: DoubleRatchetOptions = {},
  ): DoubleRatchet {
    if (!(sharedSecret instanceof Uint8Array) || sharedSecret.length !== 32) {
      throw new EnablementError('MS-400', 'sharedSecret: expected 32 bytes');
    }
    return new DoubleRatchet(
      provider,
      associatedData,
      {
        rootKey: sharedSecret.slice(),
        dhs: { publicKey: ownRatchetKey.publicKey.slice(), secretKey: ownRatchetKey.secretKey.slice() },
        dhr: undefined,
        cks: undefined,
        ckr: undefined,
        ns: 0,
        nr: 0,
        pn: 0,
        skipped: new Map(),
        previousDhr: [],
      },
      options,
    );
  }

  /** True once the ratchet can send (always for the initiator; after a first receive for the responder). */
  get canSend(): boolean {
    return this.#state.cks !== undefined;
  }

  /** Number of stored skipped message keys (bounded by `maxSkippedKeys`). */
  get skippedKeyCount(): number {
    return this.#state.skipped.size;
  }

  /** The AEAD in use. */
  get aead(): AeadAlgorithm {
    return this.#aead;
  }

  /** Encrypts one message (§3.4 `RatchetEncrypt`); the message key is deleted right after use. */
  encrypt(plaintext: Uint8Array): RatchetMessage {
    if (!(plaintext instanceof Uint8Array))
      throw new EnablementError('MS-400', 'plaintext: expected a Uint8Array');
    const s = this.#state;
    if (s.cks === undefined) {
      throw new EnablementError(
        'MS-400',
        'ratchet cannot send yet: the responder sends after its first received message',
      );
    }
    if (s.ns >= UINT32_MAX) throw new EnablementError('MS-413', 'sending chain exhausted (2^32 messages)');
    const { chainKey, messageKey } = kdfChainKey(this.#provider, s.cks);
    const header = encodeHeader({ dh: s.dhs.publicKey, pn: s.pn, n: s.ns });
    const ciphertext = sealWithMessageKey(
      this.#provider,
      this.#aead,
      messageKey,
      plaintext,
      concatBytes(this.#ad, header),
    );
    zeroize(messageKey, s.cks);
    s.cks = chainKey;
    s.ns += 1;
    return { header, ciphertext };
  }

  /**
   * Decrypts one message (§3.5 `RatchetDecrypt`). Errors: `MS-400` malformed header, `MS-003`
   * replay (the key was already used and deleted), `MS-413` a jump beyond `maxSkip`, `MS-004`
   * a tag that does not verify. On any error the state is unchanged.
   */
  decrypt(message: RatchetMessage): Uint8Array {
    const header = decodeHeader(message.header);
    if (!(message.ciphertext instanceof Uint8Array)) {
      throw new EnablementError('MS-400', 'ciphertext: expected a Uint8Array');
    }
    const provider = this.#provider;
    const ad = concatBytes(this.#ad, message.header);
    const s = this.#state;

    const id = skippedId(header.dh, header.n);
    const stored = s.skipped.get(id);
    if (stored !== undefined) {
      const plaintext = openWithMessageKey(provider, this.#aead, stored, message.ciphertext, ad);
      s.skipped.delete(id);
      zeroize(stored);
      return plaintext;
    }

    // Stage every change; commit only after the tag verifies.
    const newSkipped: [string, Uint8Array][] = [];
    const skip = (chainKey: Uint8Array, dh: Uint8Array, from: number, until: number): Uint8Array => {
      if (until - from > this.#maxSkip) {
        zeroize(...newSkipped.map(([, key]) => key));
        throw new EnablementError(
          'MS-413',
          `message skips ${until - from} keys in one chain, more than maxSkip ${this.#maxSkip}`,
        );
      }
      let ck = chainKey;
      for (let n = from; n < until; n++) {
        const next = kdfChainKey(provider, ck);
        newSkipped.push([skippedId(dh, n), next.messageKey]);
        if (ck !== chainKey) zeroize(ck);
        ck = next.chainKey;
      }
      return ck;
    };

    let rootKey = s.rootKey;
    let dhs = s.dhs;
    let cks = s.cks;
    let ckr = s.ckr;
    let nr = s.nr;
    let ns = s.ns;
    let pn = s.pn;
    let dhr = s.dhr;
    const sameChain = dhr !== undefined && constantTimeEqual(header.dh, dhr);
    if (sameChain) {
      if (header.n < nr || ckr === undefined) {
        throw new EnablementError('MS-003', 'message already decrypted (replay) or its key was evicted');
      }
    } else {
      if (s.previousDhr.includes(bytesToBase64url(header.dh))) {
        throw new EnablementError(
          'MS-003',
          'message of an earlier chain already decrypted (replay) or its key was evicted',
        );
      }
      // DH ratchet step (§3.5 DHRatchet): first store the rest of the current receiving chain.
      if (ckr !== undefined && dhr !== undefined) {
        if (header.pn < nr) {
          throw new EnablementError(
            'MS-004',
            'message does not decrypt (header.pn below messages already received: forged or not for this session)',
          );
        }
        ckr = skip(ckr, dhr, nr, header.pn);
      }
      pn = ns;
      ns = 0;
      nr = 0;
      dhr = header.dh;
      const dh1 = provider.x25519.sharedSecret(dhs.secretKey, dhr);
      const step1 = kdfRootKey(provider, rootKey, dh1);
      dhs = provider.x25519.generateKeyPair();
      const dh2 = provider.x25519.sharedSecret(dhs.secretKey, dhr);
      const step2 = kdfRootKey(provider, step1.rootKey, dh2);
      zeroize(dh1, dh2, step1.rootKey);
      rootKey = step2.rootKey;
      ckr = step1.chainKey;
      cks = step2.chainKey;
    }
    ckr = skip(ckr, header.dh, nr, header.n);
    const { chainKey, messageKey } = kdfChainKey(provider, ckr);
    let plaintext: Uint8Array;
    try {
      plaintext = openWithMessageKey(provider, this.#aead, messageKey, message.ciphertext, ad);
    } catch (error) {
      zeroize(messageKey, ...newSkipped.map(([, key]) => key));
      if (!sameChain) zeroize(dhs.secretKey);
      throw error;
    } finally {
      zeroize(messageKey);
    }

    // Commit.
    if (!sameChain) {
      if (s.dhr !== undefined) {
        s.previousDhr.push(bytesToBase64url(s.dhr));
        if (s.previousDhr.length > MAX_PREVIOUS_CHAINS) s.previousDhr.shift();
      }
      zeroize(s.dhs.secretKey, s.rootKey);
      if (s.cks !== undefined && s.cks !== cks) zeroize(s.cks);
    }
    if (s.ckr !== undefined) zeroize(s.ckr);
    for (const [key, value] of newSkipped) s.skipped.set(key, value);
    while (s.skipped.size > this.#maxSkippedKeys) {
      const oldest = s.skipped.keys().next();
      if (oldest.done === true) break;
      zeroize(s.skipped.get(oldest.value));
      s.skipped.delete(oldest.value);
    }
    s.rootKey = rootKey;
    s.dhs = dhs;
    s.dhr = dhr;
    s.cks = cks;
    s.ckr = chainKey;
    s.nr = header.n + 1;
    s.ns = ns;
    s.pn = pn;
    return plaintext;
  }

  /**
   * The complete state as versioned bytes (UTF-8 JSON, `type` {@link RATCHET_STATE_TYPE},
   * `version` {@link RATCHET_STATE_VERSION}). Contains secret keys: store it only where the
   * identity's secrets may be stored.
   */
  serialize(): Uint8Array {
    const s = this.#state;
    const b = bytesToBase64url;
    const json = {
      type: RATCHET_STATE_TYPE,
      version: RATCHET_STATE_VERSION,
      aead: this.#aead,
      max_skip: this.#maxSkip,
      max_skipped_keys: this.#maxSkippedKeys,
      ad: b(this.#ad),
      root_key: b(s.rootKey),
      dhs_public: b(s.dhs.publicKey),
      dhs_secret: b(s.dhs.secretKey),
      dhr: s.dhr ? b(s.dhr) : null,
      cks: s.cks ? b(s.cks) : null,
      ckr: s.ckr ? b(s.ckr) : null,
      ns: s.ns,
      nr: s.nr,
      pn: s.pn,
      skipped: [...s.skipped].map(([id, key]) => [id, b(key)]),
      previous_dhr: [...s.previousDhr],
    };
    return utf8ToBytes(JSON.stringify(json));
  }

  /**
   * Restores a ratchet from `DoubleRatchet.serialize` output. Every field is validated
   * before anything is built: corrupt, truncated or foreign bytes throw `MS-400` naming the
   * field, and nothing half-loaded is ever returned.
   */
  static deserialize(provider: CryptoProvider, bytes: Uint8Array): DoubleRatchet {
    const fail = (field: string, why: string) =>
      new EnablementError('MS-400', `ratchet state: ${field}: ${why}`);
    if (!(bytes instanceof Uint8Array)) throw fail('bytes', 'expected a Uint8Array');
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytesToUtf8(bytes));
    } catch {
      throw fail('bytes', 'not valid UTF-8 JSON (corrupt state)');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw fail('bytes', 'expected an object');
    const o = parsed as Record<string, unknown>;
    if (o.type !== RATCHET_STATE_TYPE) throw fail('type', `expected ${RATCHET_STATE_TYPE}`);
    if (o.version !== RATCHET_STATE_VERSION)
      throw fail('version', `unsupported version (expected ${RATCHET_STATE_VERSION})`);
    const bytesField = (name: string, length?: number): Uint8Array => {
      const v = o[name];
      if (typeof v !== 'string') throw fail(name, 'expected base64url');
      let out: Uint8Array;
      try {
        out = base64urlToBytes(v);
      } catch {
        throw fail(name, 'expected base64url');
      }
      if (length !== undefined && out.length !== length) throw fail(name, `expected ${length} bytes`);
      return out;
    };
    const optional = (name: string): Uint8Array | undefined =>
      o[name] === null ? undefined : bytesField(name, 32);
    const counter = (name: string): number => {
      const v = o[name];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > UINT32_MAX)
        throw fail(name, 'expected a uint32');
      return v;
    };
    const maxSkip = counter('max_skip');
    const maxSkippedKeys = counter('max_skipped_keys');
    const skippedRaw = o.skipped;
    if (!Array.isArray(skippedRaw) || skippedRaw.length > maxSkippedKeys) {
      throw fail('skipped', 'expected an array within max_skipped_keys');
    }
    const skipped = new Map<string, Uint8Array>();
    for (const [i, entry] of skippedRaw.entries()) {
      if (
        !Array.isArray(entry) ||
        entry.length !== 2 ||
        typeof entry[0] !== 'string' ||
        typeof entry[1] !== 'string'
      ) {
        throw fail(`skipped[${i}]`, 'expected [id, key]');
      }
      if (!/^[A-Za-z0-9_-]{43}\.\d{1,10}$/.test(entry[0])) throw fail(`skipped[${i}]`, 'bad id');
      let key: Uint8Array;
      try {
        key = base64urlToBytes(entry[1]);
      } catch {
        throw fail(`skipped[${i}]`, 'bad key');
      }
      if (key.length !== 32) throw fail(`skipped[${i}]`, 'bad key length');
      skipped.set(entry[0], key);
    }
    const previous = o.previous_dhr;
    if (
      !Array.isArray(previous) ||
      previous.length > MAX_PREVIOUS_CHAINS ||
      !previous.every((p) => typeof p === 'string' && /^[A-Za-z0-9_-]{43}$/.test(p))
    ) {
      throw fail('previous_dhr', 'expected at most 32 base64url keys');
    }
    const state: State = {
      rootKey: bytesField('root_key', 32),
      dhs: { publicKey: bytesField('dhs_public', 32), secretKey: bytesField('dhs_secret', 32) },
      dhr: optional('dhr'),
      cks: optional('cks'),
      ckr: optional('ckr'),
      ns: counter('ns'),
      nr: counter('nr'),
      pn: counter('pn'),
      skipped,
      previousDhr: previous as string[],
    };
    if (!constantTimeEqual(provider.x25519.publicKey(state.dhs.secretKey), state.dhs.publicKey)) {
      throw fail('dhs_public', 'does not match dhs_secret');
    }
    if (state.ckr !== undefined && state.dhr === undefined) throw fail('ckr', 'present without dhr');
    return new DoubleRatchet(provider, bytesField('ad'), state, {
      aead: checkAead(o.aead),
      maxSkip,
      maxSkippedKeys,
    });
  }

  /** Wipes every key; the ratchet is unusable afterwards. */
  dispose(): void {
    const s = this.#state;
    zeroize(s.rootKey, s.dhs.secretKey, s.cks, s.ckr, ...s.skipped.values());
    s.skipped.clear();
    s.cks = undefined;
    s.ckr = undefined;
  }

  /** No key material: counters only. */
  toString(): string {
    return `DoubleRatchet(ns=${this.#state.ns}, nr=${this.#state.nr}, skipped=${this.#state.skipped.size})`;
  }

  /** No key material: counters only. */
  toJSON(): { ns: number; nr: number; skipped: number } {
    return { ns: this.#state.ns, nr: this.#state.nr, skipped: this.#state.skipped.size };
  }

  /** Node's `util.inspect` shows `DoubleRatchet.toString`. */
  [INSPECT](): string {
    return this.toString();
  }
}
