/**
 * Crypto: the `CryptoProvider` port, its `@noble` default, and hybrid signatures.
 * @module
 */
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
