import { Point } from '@noble/ed25519';
import { base58ToBytes, bytesToBase58 } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';

/**
 * The kind of principal an NHI names. `human` and `service` principals may root a delegation
 * chain; `agent` principals act under one (ARCHITECTURE §4 nhi, spec §6.2).
 */
export type PrincipalKind = 'agent' | 'human' | 'service';

/** Every {@link PrincipalKind}, in a fixed order. */
export const PRINCIPAL_KINDS: readonly PrincipalKind[] = Object.freeze(['agent', 'human', 'service']);

/** Length of an Ed25519 public key (RFC 8032 §5.1.5). */
export const ED25519_PUBLIC_KEY_LENGTH = 32;

/**
 * Longest possible NHI: `service:nhi:ed25519:` (20 characters) plus the 44 base58 characters
 * that 32 bytes need at most. Input is rejected on length before any decoding, so a hostile
 * megabyte string costs one comparison.
 */
export const NHI_MAX_LENGTH = 64;

const SCHEME = 'nhi';
const ALGORITHM = 'ed25519';
// Bitcoin alphabet: no 0, O, I, l.
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]+$/;

/** The parts of a parsed NHI string. */
export interface ParsedNhi {
  /** The principal kind (the first segment). */
  readonly kind: PrincipalKind;
  /** The 32-byte Ed25519 public key (a fresh copy). */
  readonly publicKey: Uint8Array;
}

/** True when `value` is one of the {@link PRINCIPAL_KINDS}. */
export function isPrincipalKind(value: unknown): value is PrincipalKind {
  return value === 'agent' || value === 'human' || value === 'service';
}

function invalid(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

/**
 * Throws `PL-400` unless `key` is a canonical encoding of an Ed25519 point outside the small-order
 * subgroup.
 *
 * Decision (documented in docs/delegation.md): an NHI names a key that can verify signatures.
 * - RFC 8032 §5.1.3 decoding with the strict rule (y < p, and no "negative zero" x) rejects
 *   encodings that are not on the curve or not canonical, so one key has exactly one NHI.
 * - Small-order points (the 8 torsion points) are rejected too: the strict verifier in
 *   `nobleCryptoProvider` refuses them, and under lax (ZIP-215) verifiers a signature by such a
 *   key can be forged for any message, so an NHI built on one must never be accepted.
 */
export function assertEd25519PublicKey(key: unknown, field = 'publicKey'): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw invalid(field, 'expected a Uint8Array');
  if (key.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw invalid(
      field,
      `expected a ${ED25519_PUBLIC_KEY_LENGTH}-byte Ed25519 public key, got ${key.length}`,
    );
  }
  let point: Point;
  try {
    point = Point.fromBytes(key, false);
  } catch {
    throw invalid(field, 'not a valid Ed25519 public key (RFC 8032 §5.1.3 point decoding failed)');
  }
  if (point.isSmallOrder()) throw invalid(field, 'Ed25519 public key is a small-order point');
}

/**
 * NHIs that already parsed, with their result. Checking that the key is an Ed25519 point costs
 * about 0.15 ms, and hot paths (authz, metering, audit) see the same few principals over and
 * over; validity is a pure function of the string, so remembering it is safe. Bounded by
 * {@link MAX_PARSED_NHIS}: when full it is cleared (a cheap, predictable bound; a miss only costs
 * a re-parse). Callers get a fresh copy of the key, so the memo cannot be mutated from outside.
 */
const parsedNhis = new Map<string, { readonly kind: PrincipalKind; readonly publicKey: Uint8Array }>();
/** Most NHI strings remembered by {@link parseNhi}. */
export const MAX_PARSED_NHIS = 4096;

/**
 * Parses an NHI string `<kind>:nhi:ed25519:<base58btc of the 32-byte Ed25519 public key>`
 * (spec §6.1).
 *
 * Rejects with `PL-400`, naming `field`: non-strings, text longer than {@link NHI_MAX_LENGTH}
 * (checked before anything is decoded), a wrong `nhi:ed25519:` prefix, an unknown kind,
 * characters outside the bitcoin base58 alphabet, non-canonical base58 (the key must re-encode to
 * the same text), a key that is not 32 bytes, and keys that are not valid Ed25519 points (see
 * {@link assertEd25519PublicKey}). Parsing is exact: no trimming, no case folding.
 *
 * @example
 * ```ts
 * const { kind, publicKey } = parseNhi('agent:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP');
 * ```
 */
export function parseNhi(text: unknown, field = 'nhi'): ParsedNhi {
  if (typeof text !== 'string') throw invalid(field, 'expected an NHI string');
  const known = parsedNhis.get(text);
  if (known !== undefined) return Object.freeze({ kind: known.kind, publicKey: known.publicKey.slice() });
  if (text.length > NHI_MAX_LENGTH) {
    throw invalid(field, `NHI too long (${text.length} characters, at most ${NHI_MAX_LENGTH})`);
  }
  const parts = text.split(':');
  if (parts.length !== 4 || parts[1] !== SCHEME || parts[2] !== ALGORITHM) {
    throw invalid(field, `expected '<kind>:${SCHEME}:${ALGORITHM}:<base58 public key>'`);
  }
  const kind = parts[0];
  if (!isPrincipalKind(kind))
    throw invalid(field, 'unknown principal kind (expected agent, human or service)');
  const encoded = parts[3] ?? '';
  if (!BASE58.test(encoded)) throw invalid(field, 'public key is not base58 (bitcoin alphabet)');
  const publicKey = base58ToBytes(encoded);
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw invalid(
      field,
      `public key must be ${ED25519_PUBLIC_KEY_LENGTH} bytes, got ${publicKey.length} after base58 decoding`,
    );
  }
  // Base58 with the bitcoin rules is a bijection today, but the check is cheap and keeps "one key,
  // one NHI" true whatever the decoder tolerates (e.g. a future lenient decoder).
  if (bytesToBase58(publicKey) !== encoded) throw invalid(field, 'public key is not canonical base58');
  assertEd25519PublicKey(publicKey, field);
  if (parsedNhis.size >= MAX_PARSED_NHIS) parsedNhis.clear();
  parsedNhis.set(text, { kind, publicKey: publicKey.slice() });
  return Object.freeze({ kind, publicKey });
}

/**
 * The NHI string of a principal: `<kind>:nhi:ed25519:<base58 public key>`. Validates the kind and
 * the key with the same rules as {@link parseNhi}, so `parseNhi(formatNhi(k, pk))` never throws.
 */
export function formatNhi(kind: PrincipalKind, publicKey: Uint8Array): string {
  if (!isPrincipalKind(kind))
    throw invalid('kind', 'unknown principal kind (expected agent, human or service)');
  assertEd25519PublicKey(publicKey, 'publicKey');
  return `${kind}:${SCHEME}:${ALGORITHM}:${bytesToBase58(publicKey)}`;
}

/** True when `text` is a valid NHI string (see {@link parseNhi}); never throws. */
export function isNhi(text: unknown): text is string {
  try {
    parseNhi(text);
    return true;
  } catch {
    return false;
  }
}
