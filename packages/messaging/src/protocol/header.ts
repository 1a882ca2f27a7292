import { EnablementError } from '@creto/core';

/** Version byte of {@link encodeHeader}. */
export const HEADER_VERSION = 1;
/** Byte length of an encoded header: version ‖ DH public key ‖ PN ‖ N. */
export const HEADER_LENGTH = 1 + 32 + 4 + 4;

/** A Double Ratchet message header (Double Ratchet §3.1: `HEADER(dh_pair, pn, n)`). */
export interface RatchetHeader {
  /** The sender's current ratchet public key (X25519). */
  readonly dh: Uint8Array;
  /** Number of messages in the sender's previous sending chain. */
  readonly pn: number;
  /** Number of this message in the current sending chain. */
  readonly n: number;
}

/**
 * Encodes a header as `0x01 ‖ dh (32) ‖ PN (uint32 BE) ‖ N (uint32 BE)`, 41 bytes. The encoding
 * is the AEAD associated data, so it is a wire contract (pinned in `kdf.test.ts`).
 */
export function encodeHeader(header: RatchetHeader): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  out[0] = HEADER_VERSION;
  out.set(header.dh, 1);
  const view = new DataView(out.buffer);
  view.setUint32(33, header.pn);
  view.setUint32(37, header.n);
  return out;
}

/** Decodes and validates a header; `MS-400` for anything malformed. */
export function decodeHeader(bytes: Uint8Array): RatchetHeader {
  if (!(bytes instanceof Uint8Array) || bytes.length !== HEADER_LENGTH) {
    throw new EnablementError('MS-400', `header: expected ${HEADER_LENGTH} bytes`);
  }
  if (bytes[0] !== HEADER_VERSION) throw new EnablementError('MS-400', `header: unknown version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dh: bytes.slice(1, 33), pn: view.getUint32(33), n: view.getUint32(37) };
}
