import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { zeroize } from '../encoding/bytes.js';

/**
 * Raw 32-byte Ed25519 / X25519 keys to `node:crypto` KeyObjects and back. Internal to the crypto
 * folder: not part of the public API.
 *
 * Why two import paths for private keys: Node 20 ships OpenSSL 3.0, whose DER decoder makes
 * `createPrivateKey({ format: 'der', type: 'pkcs8' })` cost ~0.6 ms per call on the reference
 * machine, more than a whole noble signature, while a JWK import costs ~0.05 ms. Node up to at
 * least 24 builds an OKP private key from `d` alone and ignores `x`, so we pass `x: ''` rather
 * than derive the public key first. Newer Node (26) checks `x` against `d` and rejects that JWK;
 * the first such rejection switches this module to the PKCS#8 path for good.
 *
 * Secret hygiene: the PKCS#8 buffer is wiped after use; the JWK path needs the seed as a base64url
 * string, which JavaScript cannot wipe (nor can it wipe the BigInt scalars `@noble` derives), so it
 * lives until garbage collection, like every other copy the runtime makes.
 */

/** The two curves with raw 32-byte keys. */
export type OkpCurve = 'Ed25519' | 'X25519';

/** RFC 8410 PKCS#8 prefixes: SEQUENCE { version 0, AlgorithmIdentifier { OID }, OCTET STRING { OCTET STRING (32) } }. */
const PKCS8_PREFIX: Readonly<Record<OkpCurve, Uint8Array>> = {
  Ed25519: Uint8Array.from([
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
  ]),
  X25519: Uint8Array.from([
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
  ]),
};

function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** A private KeyObject from a raw 32-byte key through the RFC 8410 PKCS#8 DER encoding. */
export function importPrivateKeyDer(curve: OkpCurve, secretKey: Uint8Array): KeyObject {
  const der = new Uint8Array(48);
  der.set(PKCS8_PREFIX[curve]);
  der.set(secretKey, 16);
  try {
    return createPrivateKey({ key: Buffer.from(der.buffer), format: 'der', type: 'pkcs8' });
  } finally {
    zeroize(der);
  }
}

/** A private KeyObject from a raw 32-byte key through an RFC 8037 JWK (see the module notes on `x`). */
export function importPrivateKeyJwk(curve: OkpCurve, secretKey: Uint8Array): KeyObject {
  return createPrivateKey({
    key: { kty: 'OKP', crv: curve, d: toBase64url(secretKey), x: '' },
    format: 'jwk',
  });
}

let jwkPrivateImport = true;

/** A private KeyObject from a raw 32-byte key, by the fastest path this Node accepts. */
export function importPrivateKey(curve: OkpCurve, secretKey: Uint8Array): KeyObject {
  if (jwkPrivateImport) {
    try {
      return importPrivateKeyJwk(curve, secretKey);
    } catch {
      // Any 32 bytes are a valid Ed25519/X25519 private key, so a failure here means this Node
      // validates `x` (or lacks JWK import): use PKCS#8 from now on.
      jwkPrivateImport = false;
    }
  }
  return importPrivateKeyDer(curve, secretKey);
}

/** A public KeyObject from a raw 32-byte key (RFC 8037 JWK; OpenSSL stores the bytes as given). */
export function importPublicKey(curve: OkpCurve, publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: curve, x: toBase64url(publicKey) }, format: 'jwk' });
}

/** The raw 32-byte public key of a private KeyObject (OpenSSL derives it at import). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const { x } = createPublicKey(key).export({ format: 'jwk' });
  if (typeof x !== 'string') throw new TypeError('node:crypto exported a JWK without x');
  return Uint8Array.from(Buffer.from(x, 'base64url'));
}
