import { UINT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { defaultSha256, isMerkleHash, MERKLE_HASH_LENGTH, type Sha256 } from './hash.js';
import {
  decodeBase64,
  encodeBase64,
  isNoteKeyName,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  signNote,
} from './note.js';
import { verifyConsistency } from './verify.js';

/**
 * A transparency-log checkpoint (https://c2sp.org/tlog-checkpoint): the body of a signed note
 * that commits a log to its Merkle tree head at one size.
 */
export interface LogCheckpoint {
  /** The log's identity, e.g. `audit.example.com/prod`. Non-empty, one line. */
  readonly origin: string;
  /** Number of leaves (u64). */
  readonly treeSize: bigint;
  /** The RFC 6962 / RFC 9162 root hash at `treeSize` (32 bytes). */
  readonly rootHash: Uint8Array;
  /** Optional extension lines, each non-empty (the spec does not recommend them; we never add any). */
  readonly extensions: readonly string[];
}

/** Longest origin or extension line accepted, in characters. */
export const MAX_CHECKPOINT_LINE_LENGTH = 1024;
/** Most extension lines accepted. */
export const MAX_CHECKPOINT_EXTENSIONS = 16;

const TREE_SIZE = /^(0|[1-9][0-9]{0,19})$/;
// One line of note text: no newline, no other control characters (C2SP signed-note, "Format").
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const LINE = /^[^\u0000-\u001F]+$/;

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `checkpoint: ${message}`);
}

function checkLine(line: unknown, what: string): asserts line is string {
  if (typeof line !== 'string' || line.length > MAX_CHECKPOINT_LINE_LENGTH || !LINE.test(line)) {
    throw invalid(`${what} must be a non-empty line of at most ${MAX_CHECKPOINT_LINE_LENGTH} characters`);
  }
}

function checkCheckpoint(checkpoint: LogCheckpoint): void {
  checkLine(checkpoint.origin, 'origin');
  if (
    typeof checkpoint.treeSize !== 'bigint' ||
    checkpoint.treeSize < 0n ||
    checkpoint.treeSize > UINT64_MAX
  ) {
    throw invalid('treeSize must be a u64 bigint');
  }
  if (!isMerkleHash(checkpoint.rootHash)) throw invalid(`rootHash must be ${MERKLE_HASH_LENGTH} bytes`);
  if (!Array.isArray(checkpoint.extensions) || checkpoint.extensions.length > MAX_CHECKPOINT_EXTENSIONS) {
    throw invalid(`at most ${MAX_CHECKPOINT_EXTENSIONS} extension lines`);
  }
  for (const line of checkpoint.extensions) checkLine(line, 'an extension line');
}

/**
 * The checkpoint's note text: origin, decimal tree size, base64 root hash, then any extension
 * lines, each ending in a newline (C2SP tlog-checkpoint, "Note text").
 *
 * @example
 * ```ts
 * formatCheckpoint({ origin: 'audit.example.com/log', treeSize: 2n, rootHash, extensions: [] });
 * // 'audit.example.com/log\n2\n<base64 of the 32-byte root>\n'
 * ```
 */
export function formatCheckpoint(checkpoint: LogCheckpoint): string {
  checkCheckpoint(checkpoint);
  const lines = [checkpoint.origin, checkpoint.treeSize.toString(), encodeBase64(checkpoint.rootHash)];
  return `${[...lines, ...checkpoint.extensions].join('\n')}\n`;
}

/**
 * Parses a checkpoint note text (not a signed note: see {@link openCheckpoint}). Strict:
 * at least three lines, a non-empty origin, a tree size in canonical decimal (no leading zeros)
 * within u64, a root hash in canonical padded base64 of exactly 32 bytes, non-empty extension
 * lines; `PL-400` otherwise.
 */
export function parseCheckpoint(text: string): LogCheckpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw invalid('the text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid('expected at least origin, tree size and root hash lines');
  if (lines.length > 3 + MAX_CHECKPOINT_EXTENSIONS) throw invalid('too many extension lines');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  checkLine(origin, 'origin');
  if (!TREE_SIZE.test(size) || BigInt(size) > UINT64_MAX) {
    throw invalid('tree size must be a decimal u64 without leading zeros');
  }
  const rootHash = decodeBase64(root, 'checkpoint root hash');
  if (rootHash.length !== MERKLE_HASH_LENGTH) throw invalid(`root hash must be ${MERKLE_HASH_LENGTH} bytes`);
  for (const line of extensions) checkLine(line, 'an extension line');
  return { origin, treeSize: BigInt(size), rootHash, extensions };
}

/**
 * Signs a checkpoint as a C2SP signed note. The signer's key name must equal the origin (the
 * tlog-checkpoint spec says it SHOULD; we make it a rule so that a verifier configured with the
 * log's key name can never accept a checkpoint of another log signed by the same name).
 */
export function signCheckpoint(checkpoint: LogCheckpoint, signer: NoteSigner): string {
  if (!isNoteKeyName(checkpoint.origin) || signer.name !== checkpoint.origin) {
    throw invalid("the signer's key name must equal the origin (no spaces or '+')");
  }
  return signNote(formatCheckpoint(checkpoint), [signer]);
}

/** A checkpoint that verified, with the keys that signed it. */
export interface VerifiedCheckpoint {
  /** The parsed, signature-checked checkpoint. */
  readonly checkpoint: LogCheckpoint;
  /** Names of the known keys whose signatures verified. */
  readonly verifiedBy: readonly string[];
}

/**
 * Verifies a signed checkpoint note and parses its body. The signature is checked first
 * (C2SP: the text MUST be ignored unless signed by a trusted key): unknown keys are ignored, a
 * failing known key or no known key at all is `PL-401`, a malformed note or body `PL-400`. When
 * `origin` is given, a checkpoint of another origin is rejected with `PL-401`.
 */
export function openCheckpoint(
  note: string,
  verifiers: readonly NoteVerifier[],
  options: { origin?: string } = {},
): VerifiedCheckpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new EnablementError('PL-401', 'checkpoint: origin is not the expected log');
  }
  return { checkpoint, verifiedBy: opened.verifiedBy.map((v) => v.name) };
}

/**
 * Checks that `newer` is an append-only extension of `older` (both already verified) with an
 * RFC 9162 §2.1.4 consistency proof from `older.treeSize` to `newer.treeSize`. Throws `PL-400`
 * when the two are from different origins or `older` is larger, and `PL-401` when the proof
 * does not verify (the log has forked or rewritten history, or the proof is wrong).
 */
export function assertCheckpointConsistency(
  older: LogCheckpoint,
  newer: LogCheckpoint,
  proof: readonly Uint8Array[],
  sha256: Sha256 = defaultSha256,
): void {
  if (older.origin !== newer.origin) throw invalid('the checkpoints are from different origins');
  if (older.treeSize > newer.treeSize) throw invalid('the older checkpoint has the larger tree');
  if (!verifyConsistency(older.treeSize, newer.treeSize, older.rootHash, newer.rootHash, proof, sha256)) {
    throw new EnablementError(
      'PL-401',
      `checkpoint: tree ${newer.treeSize} is not consistent with tree ${older.treeSize}`,
    );
  }
}
