import { canonicalize } from '../canonical/canonicalize.js';
import { HYBRID_SIGNATURE_LENGTH } from '../crypto/hybrid.js';
import { CRYPTO_SIZES } from '../crypto/provider.js';
import { concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { bytesCodec } from './leaf.js';

/**
 * The signature schemes a signed wire contract accepts:
 * - `ml-dsa-65`: a FIPS 204 ML-DSA-65 signature (3309 bytes) over the signing bytes — the
 *   spec's `MlDsa65Signature` (§4.1, §5.2);
 * - `hybrid`: Ed25519 ‖ ML-DSA-65 (64 + 3309 = 3373 bytes) as produced by `signHybrid` /
 *   `encodeHybridSignature` over the same signing bytes (ARCHITECTURE §4 crypto).
 *
 * Both are post-quantum, so accepting either is no quantum downgrade. An Ed25519-only signature
 * (64 bytes, as in the spec's §12.3 test fixture) is rejected: the spec types the field as
 * ML-DSA-65. The scheme is told by the length alone; a verifier may still insist on `hybrid`.
 */
export type WireSignatureScheme = 'ml-dsa-65' | 'hybrid';

/** Byte length of each {@link WireSignatureScheme}. */
export const WIRE_SIGNATURE_LENGTHS: Readonly<Record<WireSignatureScheme, number>> = Object.freeze({
  'ml-dsa-65': CRYPTO_SIZES.mlDsa65Signature,
  hybrid: HYBRID_SIGNATURE_LENGTH,
});

/** The scheme of a wire signature, from its length; `PL-400` for any other length. */
export function wireSignatureScheme(signature: Uint8Array): WireSignatureScheme {
  if (!(signature instanceof Uint8Array)) throw new EnablementError('PL-400', 'signature: expected bytes');
  if (signature.length === WIRE_SIGNATURE_LENGTHS['ml-dsa-65']) return 'ml-dsa-65';
  if (signature.length === WIRE_SIGNATURE_LENGTHS.hybrid) return 'hybrid';
  throw new EnablementError(
    'PL-400',
    `signature: expected ${WIRE_SIGNATURE_LENGTHS['ml-dsa-65']} (ML-DSA-65) or ${WIRE_SIGNATURE_LENGTHS.hybrid} (hybrid) bytes, got ${signature.length}`,
  );
}

/** A wire signature: unpadded base64url of an ML-DSA-65 or hybrid signature (see {@link WireSignatureScheme}). */
export const signatureCodec = bytesCodec(Object.values(WIRE_SIGNATURE_LENGTHS), {
  id: 'Signature',
  description:
    'Signature over the contract’s signing bytes, unpadded base64url: ML-DSA-65 (3309 bytes) or hybrid Ed25519 ‖ ML-DSA-65 (3373 bytes).',
});

/**
 * The bytes signed for a wire object: `UTF-8(domain) ‖ 0x00 ‖ RFC 8785 canonical JSON of the
 * wire object without its `signature` member`.
 *
 * The domain tag separates contracts, so a signature over one can never be replayed as
 * another even if their JSON happened to coincide; the NUL byte ends the tag unambiguously
 * (tags contain none). The result is UTF-8 text with no 0xFF byte, so it can never be confused
 * with the framed message of a hybrid signature half (see `crypto/hybrid.ts`).
 */
export function wireSigningBytes(domain: string, wire: Readonly<Record<string, unknown>>): Uint8Array {
  const { signature: _omitted, ...unsigned } = wire;
  return concatBytes(utf8ToBytes(domain), Uint8Array.of(0), utf8ToBytes(canonicalize(unsigned)));
}
