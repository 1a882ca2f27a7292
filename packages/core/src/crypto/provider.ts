/**
 * The `CryptoProvider` port: every primitive the SDK uses, behind one interface so a host can
 * swap implementations (portable `@noble`, `node:crypto`-accelerated, an HSM-backed one) and
 * every implementation must produce interoperable bytes.
 *
 * All operations are synchronous: they are pure computation, and hot paths (envelope sealing,
 * event signing) should not pay for a promise per call.
 */

/** A public/secret key pair. Callers own `secretKey` and should `zeroize` it when done. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** Result of a KEM encapsulation. */
export interface KemEncapsulation {
  /** Sent to the key owner. */
  readonly cipherText: Uint8Array;
  /** 32 bytes, known to both sides after decapsulation. */
  readonly sharedSecret: Uint8Array;
}

/** Supported AEADs. Both take a 32-byte key and a 12-byte nonce and append a 16-byte tag. */
export type AeadAlgorithm = 'chacha20-poly1305' | 'aes-256-gcm';

/** Supported ML-KEM parameter sets (FIPS 203). ML-KEM-768 is the default. */
export type KemAlgorithm = 'ML-KEM-768' | 'ML-KEM-1024';

/** Ed25519 (RFC 8032, strict verification: no malleable or non-canonical signatures). */
export interface Ed25519Primitive {
  /** A key pair; from a 32-byte `seed` (the RFC 8032 secret key) when given, else random. */
  generateKeyPair(seed?: Uint8Array): KeyPair;
  /** The 32-byte public key of a 32-byte secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** 64-byte deterministic signature. */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False (never a throw) for any malformed or non-verifying input. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** X25519 Diffie-Hellman (RFC 7748). */
export interface X25519Primitive {
  /** A key pair; from a 32-byte `seed` (the secret scalar, clamped when used) when given, else random. */
  generateKeyPair(seed?: Uint8Array): KeyPair;
  /** The 32-byte public key (u-coordinate) of a 32-byte secret key. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** 32-byte shared secret; throws `PL-400` for low-order peer keys (all-zero output). */
  sharedSecret(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
}

/** ML-DSA-65 signatures (FIPS 204). */
export interface MlDsa65Primitive {
  /** From a 32-byte `seed` when given, else random. */
  generateKeyPair(seed?: Uint8Array): KeyPair;
  /** 3309-byte signature (hedged/randomized unless the provider documents otherwise). */
  sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** False (never a throw) for any malformed or non-verifying input. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}

/** ML-KEM key encapsulation (FIPS 203). */
export interface MlKemPrimitive {
  /** From a 64-byte `seed` when given, else random. */
  generateKeyPair(algorithm?: KemAlgorithm, seed?: Uint8Array): KeyPair;
  /** A fresh shared secret and its cipher text for `publicKey`; `PL-400` for a malformed key. */
  encapsulate(publicKey: Uint8Array, algorithm?: KemAlgorithm): KemEncapsulation;
  /** Implicit rejection: a tampered cipher text yields an unrelated secret, never an error. */
  decapsulate(cipherText: Uint8Array, secretKey: Uint8Array, algorithm?: KemAlgorithm): Uint8Array;
}

/** Authenticated encryption with associated data. */
export interface AeadPrimitive {
  /** Ciphertext with the 16-byte tag appended. */
  seal(
    algorithm: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    associatedData?: Uint8Array,
  ): Uint8Array;
  /** Plaintext; throws `PL-401` when the tag does not verify (nothing is returned unverified). */
  open(
    algorithm: AeadAlgorithm,
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    associatedData?: Uint8Array,
  ): Uint8Array;
}

/** Every primitive the SDK uses. */
export interface CryptoProvider {
  /** Implementation name, e.g. `noble` or `node`. */
  readonly name: string;
  /** Cryptographically secure random bytes. */
  randomBytes(length: number): Uint8Array;
  /** SHA-256 digest (FIPS 180-4), 32 bytes. */
  sha256(data: Uint8Array): Uint8Array;
  /** SHA-512 digest (FIPS 180-4), 64 bytes. */
  sha512(data: Uint8Array): Uint8Array;
  /** HMAC-SHA-256 (RFC 2104), 32 bytes. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-SHA-256 (RFC 5869), extract then expand to `length` bytes (at most 8160). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** Ed25519 signatures. */
  readonly ed25519: Ed25519Primitive;
  /** X25519 key agreement. */
  readonly x25519: X25519Primitive;
  /** ML-DSA-65 signatures. */
  readonly mlDsa65: MlDsa65Primitive;
  /** ML-KEM key encapsulation. */
  readonly mlKem: MlKemPrimitive;
  /** ChaCha20-Poly1305 and AES-256-GCM. */
  readonly aead: AeadPrimitive;
}

/** Byte lengths of the primitives' keys and outputs. */
export const CRYPTO_SIZES = Object.freeze({
  ed25519PublicKey: 32,
  ed25519SecretKey: 32,
  ed25519Signature: 64,
  x25519Key: 32,
  mlDsa65PublicKey: 1952,
  mlDsa65SecretKey: 4032,
  mlDsa65Signature: 3309,
  mlDsa65Seed: 32,
  mlKemSeed: 64,
  mlKem768PublicKey: 1184,
  mlKem768CipherText: 1088,
  mlKem1024PublicKey: 1568,
  mlKem1024CipherText: 1568,
  sharedSecret: 32,
  aeadKey: 32,
  aeadNonce: 12,
  aeadTag: 16,
});
