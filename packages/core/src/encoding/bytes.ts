import { base58, base64urlnopad, hex } from '@scure/base';
import { EnablementError } from '../errors/enablement-error.js';

const utf8Encoder = new TextEncoder();
// `ignoreBOM: true` keeps a leading U+FEFF as text: by default the decoder would drop it, and
// decode(encode(s)) would no longer give back `s` (a signed or hashed text must survive exactly).
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of a string. */
export function utf8ToBytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes UTF-8, rejecting malformed sequences with `PL-400`. */
export function bytesToUtf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (cause) {
    throw new EnablementError('PL-400', 'bytes are not valid UTF-8', { cause });
  }
}

/** Lowercase hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  return hex.encode(bytes);
}

/** Bytes of a hex string (either case); rejects odd length and non-hex with `PL-400`. */
export function hexToBytes(text: string): Uint8Array {
  try {
    return hex.decode(text.toLowerCase());
  } catch (cause) {
    throw new EnablementError('PL-400', 'invalid hex string', { cause });
  }
}

/** Unpadded base64url (RFC 4648 §5), the wire form of every byte field. */
export function bytesToBase64url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes);
}

const BASE64URL_TEXT = /^[A-Za-z0-9_-]*$/;
/** Last characters allowed when a text ends with 2 or 3 characters of a group (RFC 4648 §3.5: zero pad bits). */
const CANONICAL_TAILS: Readonly<Record<number, string>> = { 2: 'AQgw', 3: 'AEIMQUYcgkosw048' };

/** True when `text` is canonical unpadded base64url: the only spelling of its bytes. */
function isCanonicalBase64url(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 1 || !BASE64URL_TEXT.test(text)) return false;
  const tails = CANONICAL_TAILS[rest];
  return tails === undefined || tails.includes(text.charAt(text.length - 1));
}

// Node's native decoder is several times faster than a JS one on kilobyte signatures, but it is
// lenient (it skips invalid characters), so it only ever sees text checked canonical above.
const nativeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: string): Uint8Array } }).Buffer;

/** Bytes of unpadded base64url; rejects padding, other alphabets and non-canonical tails with `PL-400`. */
export function base64urlToBytes(text: string): Uint8Array {
  if (typeof text !== 'string' || !isCanonicalBase64url(text)) {
    throw new EnablementError('PL-400', 'invalid base64url string');
  }
  // A fresh array: Node's small Buffers share a pool, and callers own what they get.
  if (nativeBuffer !== undefined) return new Uint8Array(nativeBuffer.from(text, 'base64url'));
  try {
    return base64urlnopad.decode(text);
  } catch (cause) {
    throw new EnablementError('PL-400', 'invalid base64url string', { cause });
  }
}

/** Bitcoin-alphabet base58, used in NHI strings. */
export function bytesToBase58(bytes: Uint8Array): string {
  return base58.encode(bytes);
}

/** Bytes of a bitcoin-alphabet base58 string; rejects other characters with `PL-400`. */
export function base58ToBytes(text: string): Uint8Array {
  try {
    return base58.decode(text);
  } catch (cause) {
    throw new EnablementError('PL-400', 'invalid base58 string', { cause });
  }
}

/** Concatenation of byte arrays into a new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths, never on where they
 * differ. Use it for every comparison of secrets, MACs and tokens.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/**
 * Overwrites bytes with zeros. JavaScript cannot promise that no copy survives (the engine may
 * have moved the buffer), but wiping the buffer we hold shortens a secret's life in memory.
 */
export function zeroize(...buffers: readonly (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) buffer?.fill(0);
}

/** True for a `Uint8Array` (including Node `Buffer`). */
export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}
