/**
 * Byte and integer encodings shared by every wire contract: base64url, base58, hex, UTF-8,
 * int64 decimal strings, constant-time comparison and zeroization.
 * @module
 */
export {
  base58ToBytes,
  base64urlToBytes,
  bytesToBase58,
  bytesToBase64url,
  bytesToHex,
  bytesToUtf8,
  concatBytes,
  constantTimeEqual,
  hexToBytes,
  isBytes,
  utf8ToBytes,
  zeroize,
} from './bytes.js';
export { assertInt64, INT64_MAX, INT64_MIN, parseInt64, UINT64_MAX } from './int64.js';
