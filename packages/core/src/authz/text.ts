/**
 * Shapes of the strings authz accepts, shared by the engine and the override tokens. @internal
 */

/**
 * The shape of an NHI (`<kind>:nhi:ed25519:<base58 of 32 bytes>`, spec §6.1), checked without
 * decoding: authz never needs the key, and full `parseNhi` (a curve point decoding) is too slow
 * for the request path. The NHI registry is where keys are verified.
 */
export const NHI_SHAPE = /^(agent|human|service):nhi:ed25519:[1-9A-HJ-NP-Za-km-z]{32,44}$/;

/** Printable ASCII without space (0x21–0x7E), the charset of the delegation pattern language. */
export const PRINTABLE = /^[\x21-\x7E]+$/;

/**
 * True when `text` has no control character (C0 or DEL). Resource URIs never contain one, and
 * excluding them keeps `\n`, the separator of the engine's cache keys, out of every cached field.
 */
export function hasNoControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}
