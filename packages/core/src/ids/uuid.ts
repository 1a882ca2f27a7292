import { bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { drawRandom, type RandomSource, secureRandom } from './random.js';

declare const uuidBrand: unique symbol;

/**
 * A UUID in the canonical RFC 9562 §4 text form: 36 characters, lowercase hex, hyphens at 8-4-4-4-12.
 * Message, oversight-request, event, subscription and channel ids are all `Uuid`s (spec §6.5).
 *
 * Branded, so that a plain string must pass {@link parseUuid} / {@link assertUuid} (or come from
 * {@link newUuid}) before it is used as an id.
 */
export type Uuid = string & { readonly [uuidBrand]: 'Uuid' };

/**
 * Canonical lowercase form, version 1–8 (RFC 9562 §4.2), variant `10xx` (RFC 9562 §4.1).
 * Uppercase is rejected rather than folded: ids are compared and embedded in resource URIs as
 * text, so each UUID must have exactly one spelling. The Nil and Max UUIDs (§5.9, §5.10) are
 * rejected too: as an identifier they only ever signal a bug.
 */
/** Lowercase RFC 9562 UUID text, versions 1–8, standard variant (the wire form of every uuid). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True when `value` is a UUID in canonical lowercase form (see {@link Uuid}). */
export function isUuid(value: unknown): value is Uuid {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/**
 * Throws `PL-400` unless `value` is a canonical lowercase UUID.
 *
 * @param field - named in the error message
 */
export function assertUuid(value: unknown, field = 'uuid'): asserts value is Uuid {
  if (!isUuid(value)) {
    throw new EnablementError('PL-400', `${field}: expected a lowercase RFC 9562 UUID (8-4-4-4-12 hex)`);
  }
}

/**
 * Validates `text` as a canonical lowercase UUID and returns it branded; `PL-400` otherwise.
 *
 * @param field - named in the error message
 */
export function parseUuid(text: unknown, field = 'uuid'): Uuid {
  assertUuid(text, field);
  return text;
}

/**
 * A fresh random (version 4) UUID, RFC 9562 §5.4: 122 random bits, version nibble `4`,
 * variant bits `10`.
 *
 * @param random - source of the 16 random bytes; the platform CSPRNG by default. Tests pass a
 *   seeded source to get reproducible ids.
 *
 * @example
 * ```ts
 * newUuid(); // e.g. '1b4e28ba-2fa1-41d2-883f-0016d3cca427'
 * ```
 */
export function newUuid(random: RandomSource = secureRandom): Uuid {
  const bytes = Uint8Array.from(drawRandom(random, 16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40; // version 4 (§5.4)
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80; // variant 10xx (§4.1)
  const hex = bytesToHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as Uuid;
}
