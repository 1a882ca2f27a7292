import { type HybridSignature, signHybrid } from '../crypto/hybrid.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { CRYPTO_SIZES, type CryptoProvider, type KeyPair } from '../crypto/provider.js';
import { utf8ToBytes, zeroize } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from './agent-identity.js';
import { isPrincipalKind, type PrincipalKind } from './nhi.js';
import { ed25519SecretKeyToX25519 } from './x25519.js';

/** Length of the master seed accepted by {@link AgentKeyPair.fromSeed}. */
export const AGENT_SEED_LENGTH = 32;

/**
 * HKDF-SHA-256 (RFC 5869) `info` labels that derive each secret from the 32-byte master seed in
 * {@link AgentKeyPair.fromSeed}. The salt is empty (RFC 5869 §2.2: HashLen zero bytes), which is
 * sound because the seed is already uniformly random. Distinct labels keep the Ed25519 and
 * ML-DSA-65 secrets independent; they are part of the key-derivation contract and never change
 * within version `v1`.
 */
export const KEY_DERIVATION_LABELS = Object.freeze({
  /** Derives the 32-byte Ed25519 secret key (RFC 8032 §5.1.5 "private key"). */
  ed25519: 'creto/nhi/v1/ed25519-secret-key',
  /** Derives the 32-byte ML-DSA-65 key-generation seed ξ (FIPS 204 Algorithm 1). */
  mlDsa65: 'creto/nhi/v1/ml-dsa-65-seed',
});

/** Options of {@link AgentKeyPair.generate} and {@link AgentKeyPair.fromSeed}. */
export interface AgentKeyPairOptions {
  /** Principal kind of the identity; default `agent`. */
  readonly kind?: PrincipalKind;
  /** Also hold an ML-DSA-65 key so the pair can make hybrid signatures; default `false`. */
  readonly postQuantum?: boolean;
  /** Crypto implementation for key generation and signing; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const EMPTY_SALT = new Uint8Array(0);

/**
 * A principal's key pair: its public {@link AgentIdentity} and the secret keys that sign for it.
 *
 * The secret keys live in `#private` fields, so they never appear in `JSON.stringify`,
 * `util.inspect`, `toString` or enumeration; there is no accessor for them. `dispose()` overwrites
 * them with zeros; any later signing call throws.
 *
 * @example
 * ```ts
 * const human = AgentKeyPair.generate({ kind: 'human' });
 * const signature = human.sign(message);
 * human.dispose();
 * ```
 */
export class AgentKeyPair {
  /** The public identity (NHI, public keys); still usable after {@link AgentKeyPair.dispose}. */
  readonly identity: AgentIdentity;
  readonly #provider: CryptoProvider;
  #ed25519Secret: Uint8Array | undefined;
  #mlDsa65Secret: Uint8Array | undefined;

  private constructor(
    identity: AgentIdentity,
    provider: CryptoProvider,
    ed25519Secret: Uint8Array,
    mlDsa65Secret: Uint8Array | undefined,
  ) {
    this.identity = identity;
    this.#provider = provider;
    this.#ed25519Secret = ed25519Secret;
    this.#mlDsa65Secret = mlDsa65Secret;
    // Freezing leaves the #private fields writable (dispose still works) but pins `identity`.
    Object.freeze(this);
  }

  /** A fresh key pair from the provider's secure randomness. */
  static generate(options: AgentKeyPairOptions = {}): AgentKeyPair {
    const provider = options.provider ?? nobleCryptoProvider;
    const seed = provider.randomBytes(AGENT_SEED_LENGTH);
    try {
      return AgentKeyPair.fromSeed(seed, options);
    } finally {
      zeroize(seed);
    }
  }

  /**
   * A deterministic key pair from a 32-byte master seed (for tests and for hosts that keep one
   * seed in a secret store). The Ed25519 secret key and the ML-DSA-65 seed are derived with
   * HKDF-SHA-256 under {@link KEY_DERIVATION_LABELS}; the principal kind is not an input, so one
   * seed gives one key whatever kind label it is used under. The caller keeps ownership of `seed`.
   */
  static fromSeed(seed: Uint8Array, options: AgentKeyPairOptions = {}): AgentKeyPair {
    if (!(seed instanceof Uint8Array) || seed.length !== AGENT_SEED_LENGTH) {
      throw new EnablementError('PL-400', `seed: expected ${AGENT_SEED_LENGTH} bytes`);
    }
    const kind = options.kind ?? 'agent';
    if (!isPrincipalKind(kind)) {
      throw new EnablementError('PL-400', 'kind: unknown principal kind (expected agent, human or service)');
    }
    const provider = options.provider ?? nobleCryptoProvider;
    const derive = (label: string, length: number) =>
      provider.hkdfSha256(seed, EMPTY_SALT, utf8ToBytes(label), length);

    const edSecret = derive(KEY_DERIVATION_LABELS.ed25519, CRYPTO_SIZES.ed25519SecretKey);
    let edOwned: Uint8Array | undefined;
    let mlDsaSeed: Uint8Array | undefined;
    let mlDsaSecret: Uint8Array | undefined;
    try {
      const ed = provider.ed25519.generateKeyPair(edSecret);
      // The provider may hand back our derived buffer itself (wiped below) or its own copy (kept).
      edOwned = ed.secretKey === edSecret ? edSecret.slice() : ed.secretKey;
      let mlDsaPublic: Uint8Array | undefined;
      if (options.postQuantum === true) {
        mlDsaSeed = derive(KEY_DERIVATION_LABELS.mlDsa65, CRYPTO_SIZES.mlDsa65Seed);
        const pq = provider.mlDsa65.generateKeyPair(mlDsaSeed);
        mlDsaPublic = pq.publicKey;
        mlDsaSecret = pq.secretKey;
      }
      const identity = AgentIdentity.fromPublicKeys(kind, ed.publicKey, mlDsaPublic);
      const pair = new AgentKeyPair(identity, provider, edOwned, mlDsaSecret);
      // Ownership moved to the pair: nothing left to wipe but the derivation intermediates.
      edOwned = undefined;
      mlDsaSecret = undefined;
      return pair;
    } finally {
      zeroize(edSecret, edOwned, mlDsaSeed, mlDsaSecret);
    }
  }

  /** True after {@link AgentKeyPair.dispose}. */
  get disposed(): boolean {
    return this.#ed25519Secret === undefined;
  }

  /** True when the pair holds an ML-DSA-65 key (created with `postQuantum: true`). */
  get postQuantum(): boolean {
    return this.identity.hasPostQuantumKey;
  }

  /** The 64-byte Ed25519 signature (RFC 8032 §5.1.6) of `message`. */
  sign(message: Uint8Array): Uint8Array {
    return this.#provider.ed25519.sign(this.#liveEd25519(), message);
  }

  /**
   * The hybrid signature (Ed25519 and ML-DSA-65 over the same bytes) of `message`; `PL-400` when
   * the pair was created without `postQuantum`.
   */
  signHybrid(message: Uint8Array): HybridSignature {
    const ed25519 = this.#liveEd25519();
    const mlDsa65 = this.#mlDsa65Secret;
    if (mlDsa65 === undefined) {
      throw new EnablementError(
        'PL-400',
        `key pair ${this.identity.nhi} has no ML-DSA-65 key (postQuantum: false)`,
      );
    }
    return signHybrid(this.#provider, { ed25519, mlDsa65 }, message);
  }

  /**
   * The X25519 (RFC 7748) form of this pair's Ed25519 key, for Diffie-Hellman key agreement
   * (PQXDH's identity DH): the secret is the clamped first half of `SHA-512(ed25519 seed)`
   * (RFC 8032 §5.1.5, the scalar Ed25519 signs with), and the public key equals
   * `identity.x25519PublicKey()`. Each call returns fresh buffers: **the caller owns the returned
   * secret key and should `zeroize` it** when done (it is not wiped by `dispose()`). `PL-400`
   * after {@link AgentKeyPair.dispose}.
   */
  x25519KeyPair(): KeyPair {
    return ed25519SecretKeyToX25519(this.#provider, this.#liveEd25519());
  }

  /** Overwrites the secret keys with zeros and drops them; idempotent. */
  dispose(): void {
    zeroize(this.#ed25519Secret, this.#mlDsa65Secret);
    this.#ed25519Secret = undefined;
    this.#mlDsa65Secret = undefined;
  }

  /** The identity's NHI only. */
  toString(): string {
    return `AgentKeyPair(${this.identity.nhi})`;
  }

  /** Public data only: `{ nhi }`. */
  toJSON(): { nhi: string } {
    return { nhi: this.identity.nhi };
  }

  /** Node's `util.inspect` shows the NHI only. */
  [INSPECT](): string {
    return this.toString();
  }

  #liveEd25519(): Uint8Array {
    const secret = this.#ed25519Secret;
    if (secret === undefined) {
      throw new EnablementError('PL-400', `key pair ${this.identity.nhi} has been disposed`);
    }
    return secret;
  }
}
