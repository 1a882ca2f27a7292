import type { HybridPublicKey } from '../crypto/hybrid.js';
import { CRYPTO_SIZES } from '../crypto/provider.js';
import { constantTimeEqual } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { formatNhi, isPrincipalKind, type PrincipalKind, parseNhi } from './nhi.js';
import { ed25519PublicKeyToX25519 } from './x25519.js';

/** Length of an ML-DSA-65 public key (FIPS 204 Table 2). */
export const ML_DSA_65_PUBLIC_KEY_LENGTH = CRYPTO_SIZES.mlDsa65PublicKey;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Options of {@link AgentIdentity.fromNhi}. */
export interface AgentIdentityOptions {
  /** The principal's ML-DSA-65 public key (1952 bytes), when it signs post-quantum. */
  readonly mlDsa65PublicKey?: Uint8Array | undefined;
  /** Field name used in error messages, e.g. `link.issuer`; default `nhi`. */
  readonly field?: string;
}

function assertMlDsa65PublicKey(key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) {
    throw new EnablementError('PL-400', 'mlDsa65PublicKey: expected a Uint8Array');
  }
  if (key.length !== ML_DSA_65_PUBLIC_KEY_LENGTH) {
    throw new EnablementError(
      'PL-400',
      `mlDsa65PublicKey: expected ${ML_DSA_65_PUBLIC_KEY_LENGTH} bytes, got ${key.length}`,
    );
  }
}

/**
 * A principal's public identity (spec §6.1): its NHI, kind, Ed25519 key and optional ML-DSA-65
 * key. Immutable: keys are copied in, and the getters return fresh copies, so no caller can
 * change an identity another component already trusts.
 *
 * The Ed25519 key is bound into the NHI; the ML-DSA-65 key is not (the NHI format has no room
 * for 1952 bytes), so it must come from a trusted source such as the NHI registry or a signed
 * key bundle.
 *
 * @example
 * ```ts
 * const id = AgentIdentity.fromNhi('agent:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP');
 * id.kind; // 'agent'
 * ```
 */
export class AgentIdentity {
  /** The NHI string, e.g. `agent:nhi:ed25519:<base58 pubkey>`. */
  readonly nhi: string;
  /** The principal kind named by the NHI. */
  readonly kind: PrincipalKind;
  readonly #ed25519: Uint8Array;
  readonly #mlDsa65: Uint8Array | undefined;

  private constructor(
    nhi: string,
    kind: PrincipalKind,
    ed25519: Uint8Array,
    mlDsa65: Uint8Array | undefined,
  ) {
    this.nhi = nhi;
    this.kind = kind;
    this.#ed25519 = ed25519;
    this.#mlDsa65 = mlDsa65;
    Object.freeze(this);
  }

  /**
   * The identity named by an NHI string; rejects anything {@link parseNhi} rejects (`PL-400`), and
   * an ML-DSA-65 key that is not 1952 bytes.
   */
  static fromNhi(nhi: string, options: AgentIdentityOptions = {}): AgentIdentity {
    const parsed = parseNhi(nhi, options.field ?? 'nhi');
    const mlDsa65 = options.mlDsa65PublicKey;
    if (mlDsa65 !== undefined) assertMlDsa65PublicKey(mlDsa65);
    return new AgentIdentity(nhi, parsed.kind, parsed.publicKey, mlDsa65?.slice());
  }

  /** The identity of a principal with these public keys (validated as {@link formatNhi} does). */
  static fromPublicKeys(kind: PrincipalKind, ed25519: Uint8Array, mlDsa65?: Uint8Array): AgentIdentity {
    if (!isPrincipalKind(kind)) {
      throw new EnablementError('PL-400', 'kind: unknown principal kind (expected agent, human or service)');
    }
    const nhi = formatNhi(kind, ed25519);
    if (mlDsa65 !== undefined) assertMlDsa65PublicKey(mlDsa65);
    return new AgentIdentity(nhi, kind, ed25519.slice(), mlDsa65?.slice());
  }

  /** The 32-byte Ed25519 public key (a copy). */
  get publicKeyEd25519(): Uint8Array {
    return this.#ed25519.slice();
  }

  /** The 1952-byte ML-DSA-65 public key (a copy), or `undefined` for a classical-only principal. */
  get publicKeyMlDsa65(): Uint8Array | undefined {
    return this.#mlDsa65?.slice();
  }

  /** True when the identity carries an ML-DSA-65 key and can verify hybrid signatures. */
  get hasPostQuantumKey(): boolean {
    return this.#mlDsa65 !== undefined;
  }

  /**
   * The 32-byte X25519 (RFC 7748) form of the Ed25519 public key (a fresh copy), for key agreement:
   * {@link ed25519PublicKeyToX25519} of {@link AgentIdentity.publicKeyEd25519}. Equals the public
   * half of `AgentKeyPair.x25519KeyPair()`, so peers derive it from the NHI alone. `PL-400` for the
   * Ed25519 neutral element.
   */
  x25519PublicKey(): Uint8Array {
    return ed25519PublicKeyToX25519(this.#ed25519);
  }

  /** The hybrid public key (Ed25519 + ML-DSA-65); `PL-400` when there is no ML-DSA-65 key. */
  hybridPublicKey(): HybridPublicKey {
    if (this.#mlDsa65 === undefined) {
      throw new EnablementError('PL-400', `identity ${this.nhi} has no ML-DSA-65 public key`);
    }
    return Object.freeze({ ed25519: this.#ed25519.slice(), mlDsa65: this.#mlDsa65.slice() });
  }

  /**
   * Same NHI (hence same kind and Ed25519 key) and same ML-DSA-65 key, or neither has one: the
   * field-wise equality of spec §6.1's `AgentIdentity`.
   */
  equals(other: AgentIdentity): boolean {
    if (!(other instanceof AgentIdentity)) return false;
    if (this.nhi !== other.nhi) return false;
    const a = this.#mlDsa65;
    const b = other.#mlDsa65;
    if (a === undefined || b === undefined) return a === b;
    return constantTimeEqual(a, b);
  }

  /** The NHI string. */
  toString(): string {
    return this.nhi;
  }

  /** The NHI string; the wire codec (`@creto/core` wire) gives the full shape with the ML-DSA key. */
  toJSON(): string {
    return this.nhi;
  }

  /** Node's `util.inspect` shows the NHI only. */
  [INSPECT](): string {
    return `AgentIdentity(${this.nhi}${this.#mlDsa65 ? ' +ML-DSA-65' : ''})`;
  }
}
