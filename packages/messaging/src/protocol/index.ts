/**
 * The messaging protocol building blocks: X3DH / PQXDH key agreement and the Double Ratchet,
 * usable on their own (Signal's PQXDH rev. 3 and Double Ratchet rev. 1 specifications).
 * @module
 */
export {
  DEFAULT_MAX_SKIP,
  DEFAULT_MAX_SKIPPED_KEYS,
  DoubleRatchet,
  type DoubleRatchetOptions,
  RATCHET_STATE_TYPE,
  RATCHET_STATE_VERSION,
  type RatchetMessage,
} from './double-ratchet.js';
export { decodeHeader, encodeHeader, HEADER_LENGTH, HEADER_VERSION, type RatchetHeader } from './header.js';
export {
  type ChainKdfOutput,
  kdfChainKey,
  kdfRootKey,
  MESSAGE_KEY_INFO,
  type MessageKeyMaterial,
  messageKeyMaterial,
  PQXDH_INFO_ML_KEM_768,
  PQXDH_INFO_ML_KEM_1024,
  pqxdhKdf,
  ROOT_KDF_INFO,
  type RootKdfOutput,
  X3DH_INFO,
} from './kdf.js';
export {
  type InitialKeyAgreement,
  type InitiateInput,
  type InitiatorResult,
  type KemPrekeyKind,
  type KeyAgreementProtocol,
  type KeyAgreementResult,
  keyAgreementInfo,
  type PublicKemPrekey,
  type PublicPrekey,
  type RespondInput,
  X3DH,
} from './pqxdh.js';
