import {
  type AeadAlgorithm,
  type CryptoProvider,
  concatBytes,
  EnablementError,
  utf8ToBytes,
} from '@creto/core';

/**
 * The key-derivation functions of PQXDH and the Double Ratchet. Their byte formats are a wire
 * contract between peers: `kdf.test.ts` pins them with known-answer tests, so an accidental
 * change fails.
 */

/** PQXDH info string (PQXDH §2.1): curve, hash and KEM of this deployment. */
export const PQXDH_INFO_ML_KEM_768 = 'Creto_CURVE25519_SHA-256_ML-KEM-768';
/** PQXDH info string when ML-KEM-1024 is selected. */
export const PQXDH_INFO_ML_KEM_1024 = 'Creto_CURVE25519_SHA-256_ML-KEM-1024';
/** X3DH info string (X3DH §2.1), used only for the explicitly allowed fallback without a KEM. */
export const X3DH_INFO = 'Creto_CURVE25519_SHA-256';
/** HKDF info of KDF_RK (Double Ratchet §5.2). */
export const ROOT_KDF_INFO = 'Creto_DoubleRatchet_RootKey_v1';
/** HKDF info that expands a message key into the AEAD key and nonce. */
export const MESSAGE_KEY_INFO = 'Creto_DoubleRatchet_MessageKeys_v1';

/** `F` of PQXDH §2.2: 32 `0xFF` bytes for curve25519, prepended to the key material. */
const F = new Uint8Array(32).fill(0xff);
const ZERO_SALT = new Uint8Array(32);
/** KDF_CK constants (Double Ratchet §5.2): input 0x01 gives the message key, 0x02 the next chain key. */
const MESSAGE_KEY_CONSTANT = Uint8Array.of(0x01);
const CHAIN_KEY_CONSTANT = Uint8Array.of(0x02);

/**
 * PQXDH §2.2 `KDF(KM)`: HKDF-SHA-256 with `IKM = F ‖ KM`, a 32-byte zero salt, the protocol's
 * info string, 32 bytes out.
 */
export function pqxdhKdf(provider: CryptoProvider, keyMaterial: Uint8Array, info: string): Uint8Array {
  return provider.hkdfSha256(concatBytes(F, keyMaterial), ZERO_SALT, utf8ToBytes(info), 32);
}

/** Output of {@link kdfRootKey}. */
export interface RootKdfOutput {
  /** The next 32-byte root key. */
  readonly rootKey: Uint8Array;
  /** The 32-byte chain key of the new sending or receiving chain. */
  readonly chainKey: Uint8Array;
}

/**
 * Double Ratchet §5.2 `KDF_RK(rk, dh_out)`: HKDF-SHA-256 with salt = root key, IKM = DH output,
 * info {@link ROOT_KDF_INFO}, 64 bytes split into the next root key and a chain key.
 */
export function kdfRootKey(
  provider: CryptoProvider,
  rootKey: Uint8Array,
  dhOutput: Uint8Array,
): RootKdfOutput {
  const out = provider.hkdfSha256(dhOutput, rootKey, utf8ToBytes(ROOT_KDF_INFO), 64);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}

/** Output of {@link kdfChainKey}. */
export interface ChainKdfOutput {
  /** The next 32-byte chain key. */
  readonly chainKey: Uint8Array;
  /** The 32-byte message key. */
  readonly messageKey: Uint8Array;
}

/**
 * Double Ratchet §5.2 `KDF_CK(ck)`: `HMAC-SHA-256(ck, 0x01)` is the message key and
 * `HMAC-SHA-256(ck, 0x02)` the next chain key (the Signal recommendation).
 */
export function kdfChainKey(provider: CryptoProvider, chainKey: Uint8Array): ChainKdfOutput {
  return {
    chainKey: provider.hmacSha256(chainKey, CHAIN_KEY_CONSTANT),
    messageKey: provider.hmacSha256(chainKey, MESSAGE_KEY_CONSTANT),
  };
}

/** AEAD key and nonce of one message. */
export interface MessageKeyMaterial {
  /** 32-byte AEAD key. */
  readonly key: Uint8Array;
  /** 12-byte nonce; deterministic is safe because every message key encrypts exactly one message. */
  readonly nonce: Uint8Array;
}

/**
 * Expands a message key into the AEAD key and nonce (Double Ratchet §5.2 `ENCRYPT` recommends
 * HKDF over the message key): HKDF-SHA-256, zero salt, info {@link MESSAGE_KEY_INFO}, 44 bytes.
 */
export function messageKeyMaterial(provider: CryptoProvider, messageKey: Uint8Array): MessageKeyMaterial {
  const out = provider.hkdfSha256(messageKey, ZERO_SALT, utf8ToBytes(MESSAGE_KEY_INFO), 44);
  return { key: out.slice(0, 32), nonce: out.slice(32, 44) };
}

/** Seals one message with its message key. */
export function sealWithMessageKey(
  provider: CryptoProvider,
  algorithm: AeadAlgorithm,
  messageKey: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array {
  const { key, nonce } = messageKeyMaterial(provider, messageKey);
  return provider.aead.seal(algorithm, key, nonce, plaintext, associatedData);
}

/** Opens one message with its message key; `MS-004` when the tag does not verify. */
export function openWithMessageKey(
  provider: CryptoProvider,
  algorithm: AeadAlgorithm,
  messageKey: Uint8Array,
  ciphertext: Uint8Array,
  associatedData: Uint8Array,
): Uint8Array {
  const { key, nonce } = messageKeyMaterial(provider, messageKey);
  try {
    return provider.aead.open(algorithm, key, nonce, ciphertext, associatedData);
  } catch (cause) {
    throw new EnablementError('MS-004', 'message does not decrypt (tampered, or not for this session)', {
      cause,
    });
  }
}
