import {
  type AgentKeyPair,
  base64urlToBytes,
  bytesToBase64url,
  bytesToUtf8,
  type CryptoProvider,
  EnablementError,
  type KeyPair,
  type PrekeyUpload,
  signPrekey,
  utf8ToBytes,
  zeroize,
} from '@creto/core';

/** Serialization `type` of the local prekey secrets. */
export const PREKEY_SECRETS_TYPE = 'creto.messaging.prekey-secrets';

/**
 * Signed (and last-resort KEM) prekeys whose secrets are kept, the current one included. A new
 * signed prekey replaces the published one at once, but handshakes already made against the old
 * one may still be queued at the relay (a restart republishes when the directory lost the
 * bundle), so the previous secrets stay until two more rotations push them out — as Signal keeps
 * an old signed prekey for delayed messages. The oldest is zeroized when evicted.
 * @internal
 */
export const RETAINED_SIGNED_PREKEYS = 3;

/** Adds `key` under `id` and evicts (zeroizing) the oldest beyond {@link RETAINED_SIGNED_PREKEYS}. */
function retain(map: Map<number, KeyPair>, id: number, key: KeyPair): void {
  map.set(id, key);
  for (const [oldId, old] of map) {
    if (map.size <= RETAINED_SIGNED_PREKEYS) break;
    zeroize(old.secretKey);
    map.delete(oldId);
  }
}

interface Secrets {
  nextId: number;
  signed: Map<number, KeyPair>;
  lastResort: Map<number, KeyPair>;
  oneTime: Map<number, KeyPair>;
  oneTimeKem: Map<number, KeyPair>;
}

/**
 * The secret halves of the prekeys this client published, by id. One-time secrets are deleted
 * after their first use (PQXDH §4.2). Bounded: one-time maps hold at most what the directory
 * holds (its `maxOneTimePrekeys`, checked on publish), and signed / last-resort maps
 * {@link RETAINED_SIGNED_PREKEYS} each.
 * @internal
 */
export class PrekeySecrets {
  readonly #s: Secrets;

  private constructor(secrets: Secrets) {
    this.#s = secrets;
  }

  /** Empty state. */
  static empty(): PrekeySecrets {
    return new PrekeySecrets({
      nextId: 1,
      signed: new Map(),
      lastResort: new Map(),
      oneTime: new Map(),
      oneTimeKem: new Map(),
    });
  }

  /** True before the first publish. */
  get isEmpty(): boolean {
    return this.#s.signed.size === 0;
  }

  /** Secret of the signed prekey `id`. */
  signed(id: number): KeyPair | undefined {
    return this.#s.signed.get(id);
  }

  /** Secret of the KEM prekey `id` of `kind`. */
  kem(kind: 'one-time' | 'last-resort', id: number): KeyPair | undefined {
    return (kind === 'one-time' ? this.#s.oneTimeKem : this.#s.lastResort).get(id);
  }

  /** Secret of the one-time X25519 prekey `id`. */
  oneTime(id: number): KeyPair | undefined {
    return this.#s.oneTime.get(id);
  }

  /** Deletes used one-time secrets (after a handshake succeeded). */
  consume(oneTimeId: number | undefined, kemOneTimeId: number | undefined): void {
    if (oneTimeId !== undefined) {
      zeroize(this.#s.oneTime.get(oneTimeId)?.secretKey);
      this.#s.oneTime.delete(oneTimeId);
    }
    if (kemOneTimeId !== undefined) {
      zeroize(this.#s.oneTimeKem.get(kemOneTimeId)?.secretKey);
      this.#s.oneTimeKem.delete(kemOneTimeId);
    }
  }

  /**
   * Generates and signs new prekeys: a signed X25519 and a last-resort ML-KEM-768 prekey when
   * `full`, plus `oneTime` one-time prekeys of each kind. Ids increase monotonically (the NHI
   * directory refuses reused ids). Returns the upload; the secrets are kept here.
   */
  generate(provider: CryptoProvider, identity: AgentKeyPair, full: boolean, oneTime: number): PrekeyUpload {
    const id = () => this.#s.nextId++;
    const upload: {
      signedPrekey?: PrekeyUpload['signedPrekey'];
      lastResortKemPrekey?: PrekeyUpload['lastResortKemPrekey'];
      oneTimePrekeys: NonNullable<PrekeyUpload['oneTimePrekeys']>[number][];
      oneTimeKemPrekeys: NonNullable<PrekeyUpload['oneTimeKemPrekeys']>[number][];
    } = { oneTimePrekeys: [], oneTimeKemPrekeys: [] };
    if (full) {
      const spk = provider.x25519.generateKeyPair();
      const spkId = id();
      retain(this.#s.signed, spkId, spk);
      upload.signedPrekey = signPrekey(identity, 'x25519-signed', spkId, spk.publicKey);
      const lr = provider.mlKem.generateKeyPair('ML-KEM-768');
      const lrId = id();
      retain(this.#s.lastResort, lrId, lr);
      upload.lastResortKemPrekey = signPrekey(identity, 'ml-kem-768-last-resort', lrId, lr.publicKey);
    }
    for (let i = 0; i < oneTime; i++) {
      const opk = provider.x25519.generateKeyPair();
      const opkId = id();
      this.#s.oneTime.set(opkId, opk);
      upload.oneTimePrekeys.push(signPrekey(identity, 'x25519-one-time', opkId, opk.publicKey));
      const kem = provider.mlKem.generateKeyPair('ML-KEM-768');
      const kemId = id();
      this.#s.oneTimeKem.set(kemId, kem);
      upload.oneTimeKemPrekeys.push(signPrekey(identity, 'ml-kem-768-one-time', kemId, kem.publicKey));
    }
    return upload;
  }

  /** Versioned bytes; contains secret keys. */
  serialize(): Uint8Array {
    const map = (m: Map<number, KeyPair>) =>
      [...m].map(([id, k]) => [id, bytesToBase64url(k.publicKey), bytesToBase64url(k.secretKey)]);
    return utf8ToBytes(
      JSON.stringify({
        type: PREKEY_SECRETS_TYPE,
        version: 1,
        next_id: this.#s.nextId,
        signed: map(this.#s.signed),
        last_resort: map(this.#s.lastResort),
        one_time: map(this.#s.oneTime),
        one_time_kem: map(this.#s.oneTimeKem),
      }),
    );
  }

  /** Restores; `MS-400` naming the field for anything corrupt (never half-loaded). */
  static deserialize(bytes: Uint8Array): PrekeySecrets {
    const fail = (field: string) => new EnablementError('MS-400', `prekey secrets: ${field}: corrupt state`);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(bytesToUtf8(bytes)) as Record<string, unknown>;
    } catch {
      throw fail('bytes');
    }
    if (typeof o !== 'object' || o === null || o.type !== PREKEY_SECRETS_TYPE || o.version !== 1)
      throw fail('type/version');
    const map = (field: string, max: number): Map<number, KeyPair> => {
      const raw = o[field];
      if (!Array.isArray(raw) || raw.length > max) throw fail(field);
      const out = new Map<number, KeyPair>();
      for (const entry of raw) {
        if (!Array.isArray(entry) || entry.length !== 3) throw fail(field);
        const [id, pub, sec] = entry as unknown[];
        if (
          typeof id !== 'number' ||
          !Number.isInteger(id) ||
          typeof pub !== 'string' ||
          typeof sec !== 'string'
        ) {
          throw fail(field);
        }
        try {
          out.set(id, { publicKey: base64urlToBytes(pub), secretKey: base64urlToBytes(sec) });
        } catch {
          throw fail(field);
        }
      }
      return out;
    };
    const nextId = o.next_id;
    if (typeof nextId !== 'number' || !Number.isInteger(nextId) || nextId < 1) throw fail('next_id');
    return new PrekeySecrets({
      nextId,
      signed: map('signed', RETAINED_SIGNED_PREKEYS),
      lastResort: map('last_resort', RETAINED_SIGNED_PREKEYS),
      oneTime: map('one_time', 10_000),
      oneTimeKem: map('one_time_kem', 10_000),
    });
  }
}
