import { constantTimeEqual as equalBytes, hexToBytes } from '../encoding/bytes.js';

/**
 * Byte-level checks that reproduce the input rules of RFC 8032 strict Ed25519 verification as
 * `@noble/ed25519` applies them with `{ zip215: false }`, so that a verifier built on another
 * library (OpenSSL through `node:crypto`) can reject exactly the same encodings before it runs.
 *
 * Internal to the crypto folder: not part of the public API.
 */

/** p = 2^255 - 19, little-endian: the field modulus. */
const P_LE = Uint8Array.from([
  0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
]);

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian: the group order. */
const L_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/**
 * The canonical encodings of the eight points of small order (the torsion subgroup E[8]).
 * A public key equal to one of these lets anyone forge signatures under a cofactorless check:
 * with A of small order, [S]B = R + [k]A holds for R = [s]B, S = s whenever [k]A = 0.
 */
const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity (order 1)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // (0, -1), order 2
  '0000000000000000000000000000000000000000000000000000000000000080', // order 4
  '0000000000000000000000000000000000000000000000000000000000000000', // order 4
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
].map(hexToBytes);

/** Little-endian comparison of two 32-byte numbers: negative, zero or positive like `a - b`. */
function compareLe(a: Uint8Array, b: Uint8Array): number {
  for (let i = 31; i >= 0; i--) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The 255-bit y coordinate of a point encoding (sign bit cleared), as a fresh copy. */
function yOf(encoding: Uint8Array): Uint8Array {
  const y = encoding.slice(0, 32);
  y[31] = (y[31] as number) & 0x7f;
  return y;
}

const Y_ONE = SMALL_ORDER_ENCODINGS[0] as Uint8Array;
const Y_MINUS_ONE = SMALL_ORDER_ENCODINGS[1] as Uint8Array;

/**
 * True when a 32-byte point encoding is canonical in the sense of RFC 8032 §5.1.3 decoding:
 * y < p (step 1) and not x = 0 with the sign bit set (step 4). x = 0 exactly when y = ±1.
 * It does not check that the encoding decodes to a curve point at all; OpenSSL and noble both
 * reject those, with the same answer.
 */
export function isCanonicalPointEncoding(encoding: Uint8Array): boolean {
  if (encoding.length !== 32) return false;
  const y = yOf(encoding);
  if (compareLe(y, P_LE) >= 0) return false;
  if (((encoding[31] as number) & 0x80) === 0) return true;
  return !equalBytes(y, Y_ONE) && !equalBytes(y, Y_MINUS_ONE);
}

/** True when a (canonical) 32-byte encoding is one of the eight small-order points. */
export function isSmallOrderEncoding(encoding: Uint8Array): boolean {
  return SMALL_ORDER_ENCODINGS.some((candidate) => equalBytes(candidate, encoding));
}

/** True when a 32-byte little-endian scalar S satisfies 0 <= S < L (RFC 8032 §5.1.7 step 1). */
export function isCanonicalScalar(scalar: Uint8Array): boolean {
  return scalar.length === 32 && compareLe(scalar, L_LE) < 0;
}

/**
 * The encoding rules of strict verification, checked on bytes alone: a 32-byte canonical public
 * key that is not of small order, a canonical R and a canonical S. A signature failing these is
 * rejected by `@noble/ed25519` with `{ zip215: false }` whatever the message.
 */
export function passesStrictEncodingRules(publicKey: Uint8Array, signature: Uint8Array): boolean {
  return (
    publicKey.length === 32 &&
    signature.length === 64 &&
    isCanonicalPointEncoding(publicKey) &&
    !isSmallOrderEncoding(publicKey) &&
    isCanonicalPointEncoding(signature.subarray(0, 32)) &&
    isCanonicalScalar(signature.subarray(32, 64))
  );
}
