import { base64 } from '@scure/base';
import type { CryptoProvider } from '../crypto/provider.js';
import { bytesToHex, concatBytes, constantTimeEqual, hexToBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';

/**
 * C2SP signed notes (https://c2sp.org/signed-note), the envelope of transparency-log
 * checkpoints: a UTF-8 text ending in a newline, a blank line, then one or more signature lines
 * `— <key name> <base64(key ID ‖ signature)>`. Only Ed25519 (signature type 0x01) is
 * implemented.
 */

/** Signature type identifier byte of Ed25519 in signed notes (C2SP signed-note, "Signature types"). */
export const NOTE_SIGNATURE_TYPE_ED25519 = 0x01;

/** Length of a note key ID, in bytes (a big-endian uint32). */
export const NOTE_KEY_ID_LENGTH = 4;

/**
 * Largest note accepted, in UTF-8 bytes. Checkpoints are a few hundred bytes; the bound leaves
 * room for many signatures (post-quantum ones are up to about 5 kB) while keeping hostile input
 * cheap to reject.
 */
export const MAX_NOTE_BYTES = 1 << 20;

/**
 * Most signature lines accepted in one note. The C2SP spec requires accepting at least 16;
 * 100 matches Go's `golang.org/x/mod/sumdb/note`.
 */
export const MAX_NOTE_SIGNATURES = 100;

/** Longest key name accepted, in characters. */
export const MAX_NOTE_KEY_NAME_LENGTH = 256;

const EM_DASH_PREFIX = '\u2014 ';
// Lone UTF-16 surrogates cannot be encoded as UTF-8, and a note must be valid UTF-8.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Controls other than newline are forbidden anywhere in a note (C2SP signed-note, "Format").
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const FORBIDDEN_CONTROL = /[\u0000-\u0009\u000B-\u001F]/;
// Key names: non-empty, no Unicode space, no '+' (C2SP signed-note, "Format"); we also refuse
// control characters and DEL, which have no business in a one-line name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const KEY_NAME = /^[^\s+\u0000-\u001F\u007F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+$/u;

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `signed note: ${message}`);
}

/** True when `name` is a valid note key name (non-empty, no Unicode space, no `+`). */
export function isNoteKeyName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_NOTE_KEY_NAME_LENGTH && KEY_NAME.test(name);
}

function assertKeyName(name: unknown, field: string): asserts name is string {
  if (!isNoteKeyName(name)) {
    throw new EnablementError(
      'PL-400',
      `${field}: a note key name must be 1-${MAX_NOTE_KEY_NAME_LENGTH} characters without spaces or '+'`,
    );
  }
}

/**
 * The key ID the C2SP signed-note spec recommends for an Ed25519 key:
 * `SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]`.
 */
export function noteKeyId(name: string, publicKey: Uint8Array, crypto: CryptoProvider): Uint8Array {
  assertKeyName(name, 'name');
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new EnablementError('PL-400', 'publicKey: expected a 32-byte Ed25519 public key');
  }
  const digest = crypto.sha256(
    concatBytes(utf8ToBytes(name), Uint8Array.of(0x0a, NOTE_SIGNATURE_TYPE_ED25519), publicKey),
  );
  return digest.slice(0, NOTE_KEY_ID_LENGTH);
}

/** Signs note texts under one key. Holds its secret key privately; nothing exposes it. */
export interface NoteSigner {
  /** The key name written in signature lines. */
  readonly name: string;
  /** The 4-byte key ID. */
  readonly keyId: Uint8Array;
  /** The signature (without the key ID) over the note text's UTF-8 bytes. */
  sign(text: Uint8Array): Uint8Array;
}

/** Verifies signatures of one key. */
export interface NoteVerifier {
  /** The key name expected in signature lines. */
  readonly name: string;
  /** The 4-byte key ID. */
  readonly keyId: Uint8Array;
  /** True when `signature` (without the key ID) is valid over `text`. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** An Ed25519 {@link NoteSigner} that also tells its public key. */
export interface Ed25519NoteSigner extends NoteSigner {
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The matching verifier. */
  verifier(): NoteVerifier;
}

/**
 * An Ed25519 note signer for `name` from a 32-byte RFC 8032 secret key (seed). The secret is
 * copied into a closure: it never appears in the object's properties, `toJSON` or inspection
 * output, and the caller may zeroize its own copy.
 */
export function createEd25519NoteSigner(
  name: string,
  secretKey: Uint8Array,
  crypto: CryptoProvider,
): Ed25519NoteSigner {
  assertKeyName(name, 'name');
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new EnablementError('PL-400', 'secretKey: expected a 32-byte Ed25519 secret key');
  }
  const secret = secretKey.slice();
  const publicKey = crypto.ed25519.publicKey(secret);
  const keyId = noteKeyId(name, publicKey, crypto);
  return Object.freeze({
    name,
    keyId,
    publicKey,
    sign: (text: Uint8Array) => crypto.ed25519.sign(secret, text),
    verifier: () => createEd25519NoteVerifier(name, publicKey, crypto),
    toJSON: () => ({ name, keyId: bytesToHex(keyId) }),
  });
}

/** An Ed25519 {@link NoteVerifier} for `name` and a 32-byte public key. */
export function createEd25519NoteVerifier(
  name: string,
  publicKey: Uint8Array,
  crypto: CryptoProvider,
): NoteVerifier & { readonly publicKey: Uint8Array } {
  const keyId = noteKeyId(name, publicKey, crypto);
  const key = publicKey.slice();
  return Object.freeze({
    name,
    keyId,
    publicKey: key,
    verify: (text: Uint8Array, signature: Uint8Array) =>
      signature.length === 64 && crypto.ed25519.verify(key, text, signature),
  });
}

/**
 * The verifier key text of an Ed25519 key, as Go's `sumdb/note` and the transparency-log
 * tooling exchange them: `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
 */
export function formatNoteVerifierKey(name: string, publicKey: Uint8Array, crypto: CryptoProvider): string {
  const keyId = noteKeyId(name, publicKey, crypto);
  return `${name}+${bytesToHex(keyId)}+${base64.encode(concatBytes(Uint8Array.of(NOTE_SIGNATURE_TYPE_ED25519), publicKey))}`;
}

/**
 * Parses a verifier key text (see {@link formatNoteVerifierKey}). Rejects with `PL-400` anything
 * malformed, a signature type other than Ed25519, and a key ID that does not match the name and
 * key (so a typo cannot silently configure a key that never verifies).
 */
export function parseNoteVerifierKey(
  text: string,
  crypto: CryptoProvider,
): NoteVerifier & { readonly publicKey: Uint8Array } {
  if (typeof text !== 'string' || text.length > MAX_NOTE_KEY_NAME_LENGTH + 64) {
    throw new EnablementError('PL-400', 'verifier key: expected <name>+<hex key id>+<base64 key>');
  }
  // Names contain no '+', the key id is 8 hex digits; the base64 key itself may contain '+'.
  const first = text.indexOf('+');
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, first + 9);
  const keyB64 = text.slice(first + 10);
  if (first < 0 || text.charAt(first + 9) !== '+') {
    throw new EnablementError('PL-400', 'verifier key: expected <name>+<hex key id>+<base64 key>');
  }
  assertKeyName(name, 'verifier key name');
  if (!/^[0-9a-f]{8}$/.test(idHex))
    throw new EnablementError('PL-400', 'verifier key: key id must be 8 hex digits');
  const keyBytes = decodeBase64(keyB64, 'verifier key');
  if (keyBytes.length !== 33 || keyBytes[0] !== NOTE_SIGNATURE_TYPE_ED25519) {
    throw new EnablementError(
      'PL-400',
      'verifier key: only Ed25519 keys (type 0x01, 32 bytes) are supported',
    );
  }
  const verifier = createEd25519NoteVerifier(name, keyBytes.subarray(1), crypto);
  if (!constantTimeEqual(verifier.keyId, hexToBytes(idHex))) {
    throw new EnablementError('PL-400', 'verifier key: key id does not match the name and public key');
  }
  return verifier;
}

/** Strict standard base64 (RFC 4648 §4, padded, canonical); `PL-400` otherwise. */
export function decodeBase64(text: string, field: string): Uint8Array {
  try {
    return base64.decode(text);
  } catch (cause) {
    throw new EnablementError('PL-400', `${field}: invalid base64`, { cause });
  }
}

/** Standard padded base64 (RFC 4648 §4), the encoding of notes and checkpoints. */
export function encodeBase64(bytes: Uint8Array): string {
  return base64.encode(bytes);
}

function checkNoteCharacters(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) throw invalid(`${what} is not valid Unicode`);
  if (FORBIDDEN_CONTROL.test(text)) throw invalid(`${what} contains a control character other than newline`);
}

/**
 * Signs a note text with each signer and returns the signed note: the text, a blank line and one
 * signature line per signer. The text must be non-empty, end in a newline and contain no control
 * characters other than newlines; `PL-400` otherwise.
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (typeof text !== 'string' || text.length === 0 || !text.endsWith('\n')) {
    throw invalid('the text must be non-empty and end with a newline');
  }
  checkNoteCharacters(text, 'the text');
  if (signers.length === 0 || signers.length > MAX_NOTE_SIGNATURES) {
    throw invalid(`expected 1-${MAX_NOTE_SIGNATURES} signers`);
  }
  const message = utf8ToBytes(text);
  let note = `${text}\n`;
  for (const signer of signers) {
    assertKeyName(signer.name, 'signer name');
    if (signer.keyId.length !== NOTE_KEY_ID_LENGTH) throw invalid('a key id must be 4 bytes');
    const signature = signer.sign(message);
    note += `${EM_DASH_PREFIX}${signer.name} ${encodeBase64(concatBytes(signer.keyId, signature))}\n`;
  }
  if (utf8ToBytes(note).length > MAX_NOTE_BYTES)
    throw invalid(`the note is larger than ${MAX_NOTE_BYTES} bytes`);
  return note;
}

/** One signature line of a note, parsed (not verified). */
export interface NoteSignature {
  /** Key name. */
  readonly name: string;
  /** The 4-byte key ID. */
  readonly keyId: Uint8Array;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

/** A note whose text was verified by at least one known key. */
export interface OpenedNote {
  /** The note text, including its final newline. Trust it only because `verifiedBy` is non-empty. */
  readonly text: string;
  /** The known keys whose signatures verified. */
  readonly verifiedBy: readonly { readonly name: string; readonly keyId: Uint8Array }[];
}

/**
 * Splits a note into its text and parsed signature lines without verifying anything. Strict:
 * `PL-400` for anything that is not a well-formed note. Use {@link openNote} to read a note.
 */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') throw invalid('expected a string');
  // A cheap length bound before anything is scanned: UTF-8 is at least one byte per UTF-16 unit.
  if (note.length > MAX_NOTE_BYTES || utf8ToBytes(note).length > MAX_NOTE_BYTES) {
    throw invalid(`larger than ${MAX_NOTE_BYTES} bytes`);
  }
  checkNoteCharacters(note, 'the note');
  if (!note.endsWith('\n')) throw invalid('must end with a newline');
  // The text is separated from the signatures by the last blank line.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw invalid('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw invalid(`more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) throw invalid('a signature line must start with "— "');
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space < 0) throw invalid('a signature line must be "— <name> <base64 signature>"');
    const name = rest.slice(0, space);
    const encoded = rest.slice(space + 1);
    if (!isNoteKeyName(name)) throw invalid('invalid key name in a signature line');
    const bytes = decodeBase64(encoded, 'signed note signature');
    if (bytes.length <= NOTE_KEY_ID_LENGTH) throw invalid('a signature must be longer than its key id');
    signatures.push({
      name,
      keyId: bytes.slice(0, NOTE_KEY_ID_LENGTH),
      signature: bytes.slice(NOTE_KEY_ID_LENGTH),
    });
  }
  return { text, signatures };
}

/**
 * Verifies a signed note against the known keys and returns its text. Follows the C2SP rules:
 * signatures whose (name, key ID) pair matches no known key are ignored; a signature from a
 * known key that fails to verify rejects the whole note (`PL-401`); a note with no verified
 * signature from a known key is rejected (`PL-401`). Malformed notes are rejected with `PL-400`.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(note);
  const message = utf8ToBytes(text);
  const verifiedBy: { name: string; keyId: Uint8Array }[] = [];
  for (const sig of signatures) {
    const verifier = verifiers.find((v) => v.name === sig.name && constantTimeEqual(v.keyId, sig.keyId));
    if (verifier === undefined) continue;
    if (!verifier.verify(message, sig.signature)) {
      throw new EnablementError('PL-401', `signed note: the signature by ${sig.name} does not verify`);
    }
    if (!verifiedBy.some((v) => v.name === sig.name && constantTimeEqual(v.keyId, sig.keyId))) {
      verifiedBy.push({ name: sig.name, keyId: sig.keyId });
    }
  }
  if (verifiedBy.length === 0)
    throw new EnablementError('PL-401', 'signed note: no signature from a known key');
  return { text, verifiedBy };
}
