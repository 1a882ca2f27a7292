/**
 * Crypto: the `CryptoProvider` port, its portable `@noble` default and hybrid
 * (Ed25519 ‖ ML-DSA-65) signatures. The `node:crypto`-accelerated provider is a separate entry,
 * `@creto/core/crypto/node`, so that bundles for other runtimes never see `node:crypto`.
 * @module
 */

export {
  decodeHybridSignature,
  encodeHybridSignature,
  generateHybridKeyPair,
  HYBRID_SIGNATURE_LABEL,
  HYBRID_SIGNATURE_LENGTH,
  type HybridKeyPair,
  type HybridPublicKey,
  type HybridSecretKey,
  type HybridSeeds,
  type HybridSignature,
  signHybrid,
  verifyHybrid,
} from './hybrid.js';
export { nobleCryptoProvider } from './noble.js';
export {
  type AeadAlgorithm,
  type AeadPrimitive,
  CRYPTO_SIZES,
  type CryptoProvider,
  type Ed25519Primitive,
  type KemAlgorithm,
  type KemEncapsulation,
  type KeyPair,
  type MlDsa65Primitive,
  type MlKemPrimitive,
  type X25519Primitive,
} from './provider.js';
