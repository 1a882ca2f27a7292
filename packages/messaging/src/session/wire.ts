import { EnablementError, type KemAlgorithm } from '@creto/core';
import type { RatchetMessage } from '../protocol/double-ratchet.js';
import { HEADER_LENGTH } from '../protocol/header.js';
import type { InitialKeyAgreement } from '../protocol/pqxdh.js';

/**
 * The bytes a session puts in an envelope's `ciphertext` (a wire contract, version in byte 0):
 *
 * - ratchet message: `0x01 ‖ header (41) ‖ AEAD ciphertext`
 * - handshake (PQXDH initial message, §3.3): `0x02 ‖ protocol (1 = PQXDH, 2 = X3DH) ‖ IK_A (32)
 *   ‖ EK_A (32) ‖ SPK id (u32 BE) ‖ has OPK (1) ‖ OPK id (u32 BE) ‖ [KEM: algorithm (1 = 768,
 *   2 = 1024) ‖ kind (1 = one-time, 2 = last-resort) ‖ id (u32 BE) ‖ CT] ‖ header ‖ ciphertext`
 */
export interface SessionWireMessage {
  /** The key-agreement part, on handshakes only. */
  readonly initial?: InitialKeyAgreement;
  /** The ratchet message. */
  readonly message: RatchetMessage;
}

const MESSAGE = 0x01;
const HANDSHAKE = 0x02;
const CT_LENGTH: Record<KemAlgorithm, number> = { 'ML-KEM-768': 1088, 'ML-KEM-1024': 1568 };

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** Encodes a session message. */
export function encodeSessionMessage(value: SessionWireMessage): Uint8Array {
  const parts: Uint8Array[] = [];
  const { initial, message } = value;
  if (initial === undefined) {
    parts.push(Uint8Array.of(MESSAGE));
  } else {
    parts.push(
      Uint8Array.of(HANDSHAKE, initial.protocol === 'PQXDH' ? 1 : 2),
      initial.identityKey,
      initial.ephemeralKey,
      u32(initial.signedPrekeyId),
      Uint8Array.of(initial.oneTimePrekeyId === undefined ? 0 : 1),
      u32(initial.oneTimePrekeyId ?? 0),
    );
    if (initial.kem) {
      parts.push(
        Uint8Array.of(
          initial.kem.algorithm === 'ML-KEM-1024' ? 2 : 1,
          initial.kem.prekeyKind === 'one-time' ? 1 : 2,
        ),
        u32(initial.kem.prekeyId),
        initial.kem.cipherText,
      );
    }
  }
  parts.push(message.header, message.ciphertext);
  const length = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Decodes a session message; `MS-400` for anything malformed or truncated. */
export function decodeSessionMessage(bytes: Uint8Array): SessionWireMessage {
  const bad = (why: string) => new EnablementError('MS-400', `session message: ${why}`);
  if (!(bytes instanceof Uint8Array) || bytes.length < 1) throw bad('empty');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 1;
  const take = (n: number): Uint8Array => {
    if (offset + n > bytes.length) throw bad('truncated');
    const out = bytes.slice(offset, offset + n);
    offset += n;
    return out;
  };
  const readU32 = (): number => {
    if (offset + 4 > bytes.length) throw bad('truncated');
    const v = view.getUint32(offset);
    offset += 4;
    return v;
  };
  let initial: InitialKeyAgreement | undefined;
  if (bytes[0] === HANDSHAKE) {
    const protocolByte = take(1)[0];
    if (protocolByte !== 1 && protocolByte !== 2) throw bad('unknown key-agreement protocol');
    const identityKey = take(32);
    const ephemeralKey = take(32);
    const signedPrekeyId = readU32();
    const hasOpk = take(1)[0];
    if (hasOpk !== 0 && hasOpk !== 1) throw bad('bad one-time prekey flag');
    const opkId = readU32();
    let kem: InitialKeyAgreement['kem'];
    if (protocolByte === 1) {
      const [algorithmByte, kindByte] = take(2);
      if ((algorithmByte !== 1 && algorithmByte !== 2) || (kindByte !== 1 && kindByte !== 2)) {
        throw bad('bad KEM algorithm or prekey kind');
      }
      const algorithm: KemAlgorithm = algorithmByte === 2 ? 'ML-KEM-1024' : 'ML-KEM-768';
      const prekeyId = readU32();
      kem = {
        algorithm,
        prekeyId,
        prekeyKind: kindByte === 1 ? 'one-time' : 'last-resort',
        cipherText: take(CT_LENGTH[algorithm]),
      };
    }
    initial = {
      protocol: protocolByte === 1 ? 'PQXDH' : 'X3DH',
      identityKey,
      ephemeralKey,
      signedPrekeyId,
      ...(hasOpk === 1 ? { oneTimePrekeyId: opkId } : {}),
      ...(kem ? { kem } : {}),
    };
  } else if (bytes[0] !== MESSAGE) {
    throw bad(`unknown type ${bytes[0]}`);
  }
  const header = take(HEADER_LENGTH);
  const ciphertext = bytes.slice(offset);
  if (ciphertext.length < 16) throw bad('ciphertext shorter than the AEAD tag');
  return { ...(initial ? { initial } : {}), message: { header, ciphertext } };
}
