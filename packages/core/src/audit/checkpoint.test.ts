import { errorCodeOf } from '@creto/testing';
import { base64 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as crypto } from '../crypto/noble.js';
import { bytesToHex } from '../encoding/bytes.js';
import {
  assertCheckpointConsistency,
  formatCheckpoint,
  type LogCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from './checkpoint.js';
import { emptyRootHash } from './hash.js';
import { MerkleTree } from './merkle-tree.js';
import {
  createEd25519NoteSigner,
  createEd25519NoteVerifier,
  formatNoteVerifierKey,
  isNoteKeyName,
  MAX_NOTE_SIGNATURES,
  type NoteSigner,
  noteKeyId,
  openNote,
  parseNoteVerifierKey,
  signNote,
} from './note.js';

// Known answers from golang.org/x/mod/sumdb/note (note_test.go) and the C2SP signed-note spec.
const GO_TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY_B64 = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // from PRIVATE+KEY+PeterNeumann+c74f20a3+…
const PETER_SIG =
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const ENOCH_SIG =
  '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const SPEC_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE =
  'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
// transparency-dev/formats test key whose base64 contains a '+'.
const PLUS_VKEY = 'TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6';

const peterSeed = base64.decode(PETER_SKEY_B64).subarray(1);

describe('signed notes (C2SP signed-note)', () => {
  it('derives the Go reference key id and verifier key from the secret key', () => {
    const signer = createEd25519NoteSigner('PeterNeumann', peterSeed, crypto);
    expect(bytesToHex(signer.keyId)).toBe('c74f20a3');
    expect(bytesToHex(noteKeyId('PeterNeumann', signer.publicKey, crypto))).toBe('c74f20a3');
    expect(formatNoteVerifierKey('PeterNeumann', signer.publicKey, crypto)).toBe(PETER_VKEY);
  });

  it('signs the Go reference note byte for byte (Ed25519 is deterministic)', () => {
    const signer = createEd25519NoteSigner('PeterNeumann', peterSeed, crypto);
    expect(signNote(GO_TEXT, [signer])).toBe(`${GO_TEXT}\n${PETER_SIG}`);
  });

  it('opens the Go reference note and the C2SP spec example', () => {
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    const opened = openNote(`${GO_TEXT}\n${PETER_SIG}`, [peter]);
    expect(opened.text).toBe(GO_TEXT);
    expect(opened.verifiedBy.map((v) => v.name)).toEqual(['PeterNeumann']);
    const spec = parseNoteVerifierKey(SPEC_VKEY, crypto);
    expect(openNote(SPEC_NOTE, [spec]).text).toBe('This is an example message.\n');
  });

  it('ignores unknown keys and needs at least one known signature', () => {
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    const enoch = parseNoteVerifierKey(ENOCH_VKEY, crypto);
    const both = `${GO_TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    expect(openNote(both, [enoch]).verifiedBy.map((v) => v.name)).toEqual(['EnochRoot']);
    expect(openNote(both, [peter, enoch]).verifiedBy.map((v) => v.name)).toEqual([
      'PeterNeumann',
      'EnochRoot',
    ]);
    expect(errorCodeOf(() => openNote(both, []))).toBe('PL-401');
    expect(errorCodeOf(() => openNote(SPEC_NOTE, [peter]))).toBe('PL-401');
  });

  it('ignores a signature that shares the name but not the key id of a known key', () => {
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    const impostor = createEd25519NoteSigner('PeterNeumann', new Uint8Array(32).fill(1), crypto);
    const note = signNote(GO_TEXT, [impostor]);
    expect(errorCodeOf(() => openNote(note, [peter]))).toBe('PL-401');
    // …and the impostor's signature does not poison a note that Peter also signed.
    const withBoth = `${GO_TEXT}\n${note.slice(GO_TEXT.length + 1)}${PETER_SIG}`;
    expect(openNote(withBoth, [peter]).verifiedBy).toHaveLength(1);
  });

  it('rejects the whole note when a known key signature fails, even beside a valid one', () => {
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    const enoch = parseNoteVerifierKey(ENOCH_VKEY, crypto);
    expect(
      errorCodeOf(() =>
        openNote(`${GO_TEXT.replace('cryptography', 'cryptographY')}\n${PETER_SIG}`, [peter]),
      ),
    ).toBe('PL-401');
    const bytes = base64.decode(PETER_SIG.slice('— PeterNeumann '.length, -1));
    bytes[10] = (bytes[10] as number) ^ 1;
    const badPeter = `— PeterNeumann ${base64.encode(bytes)}\n`;
    expect(errorCodeOf(() => openNote(`${GO_TEXT}\n${badPeter}${ENOCH_SIG}`, [peter, enoch]))).toBe('PL-401');
  });

  it('rejects malformed notes with PL-400', () => {
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    const good = `${GO_TEXT}\n${PETER_SIG}`;
    const malformed = [
      good.slice(0, -1), // no final newline
      `${GO_TEXT}${PETER_SIG}`, // no blank line
      `${GO_TEXT}\n${PETER_SIG.replace('—', '--')}`, // ASCII dashes
      `${GO_TEXT}\n${PETER_SIG.replace('— ', '—')}`, // no space after the dash
      `${GO_TEXT}\n— PeterNeumann\n`, // no signature
      `${GO_TEXT}\n— PeterNeumann AAAA\n`, // only 3 bytes: not longer than a key id
      `${GO_TEXT}\n— PeterNeumann x08go/ZJkuBS9UG!!\n`, // not base64
      `${GO_TEXT}\n${PETER_SIG.replace('=\n', '\n')}`, // unpadded base64
      `${GO_TEXT}\n${PETER_SIG}\n`, // trailing blank line
      `${GO_TEXT.replace('problem,', 'problem,\t')}\n${PETER_SIG}`, // control character
      `${GO_TEXT.replace('problem,', 'problem,\r')}\n${PETER_SIG}`,
      `${GO_TEXT}\n— Peter Neumann x08go/ZJ\n`, // space in the key name (the rest is not base64)
      `${GO_TEXT}\n${PETER_SIG}${'— Other AAAAAAA=\n'.repeat(MAX_NOTE_SIGNATURES)}`, // too many signatures
      `${'x'.repeat(1 << 20)}\n\n${PETER_SIG}`, // too large
      `${GO_TEXT.replace('problem', '\uD800')}\n${PETER_SIG}`, // lone surrogate
      42 as unknown as string,
    ];
    for (const note of malformed) expect(errorCodeOf(() => openNote(note, [peter]))).toBe('PL-400');
  });

  it('accepts blank lines inside the text (the last blank line separates the signatures)', () => {
    const signer = createEd25519NoteSigner('example.com/k', new Uint8Array(32).fill(3), crypto);
    const text = 'line one\n\nline three\n';
    const note = signNote(text, [signer]);
    expect(openNote(note, [signer.verifier()]).text).toBe(text);
  });

  it('checks what it signs: text shape, key names, signer count', () => {
    const signer = createEd25519NoteSigner('example.com/k', new Uint8Array(32).fill(3), crypto);
    expect(errorCodeOf(() => signNote('no newline', [signer]))).toBe('PL-400');
    expect(errorCodeOf(() => signNote('', [signer]))).toBe('PL-400');
    expect(errorCodeOf(() => signNote('bell\u0007\n', [signer]))).toBe('PL-400');
    expect(errorCodeOf(() => signNote('ok\n', []))).toBe('PL-400');
    const bad: NoteSigner = { name: 'has space', keyId: signer.keyId, sign: signer.sign };
    expect(errorCodeOf(() => signNote('ok\n', [bad]))).toBe('PL-400');
    expect(errorCodeOf(() => createEd25519NoteSigner('a+b', new Uint8Array(32), crypto))).toBe('PL-400');
    expect(errorCodeOf(() => createEd25519NoteSigner('', new Uint8Array(32), crypto))).toBe('PL-400');
    expect(errorCodeOf(() => createEd25519NoteSigner('ok', new Uint8Array(31), crypto))).toBe('PL-400');
    for (const name of ['a b', 'a+b', '', 'a\u00a0b', 'a\u2003b', 'tab\tname'])
      expect(isNoteKeyName(name)).toBe(false);
    expect(isNoteKeyName('example.com/log42')).toBe(true);
  });

  it('never exposes the secret key of a signer', () => {
    const secret = new Uint8Array(32).fill(0xab);
    const signer = createEd25519NoteSigner('example.com/k', secret, crypto);
    const shown = `${JSON.stringify(signer)} ${Object.values(signer).map(String).join(' ')}`;
    expect(shown).not.toContain('abab');
    expect(shown).not.toContain(bytesToHex(secret));
    // The signer keeps its own copy: zeroizing the caller's buffer does not break it.
    secret.fill(0);
    expect(openNote(signNote('still works\n', [signer]), [signer.verifier()]).text).toBe('still works\n');
  });

  it('parses verifier keys strictly', () => {
    expect(parseNoteVerifierKey(PLUS_VKEY, crypto).name).toBe('TEST');
    const peter = parseNoteVerifierKey(PETER_VKEY, crypto);
    expect(formatNoteVerifierKey(peter.name, peter.publicKey, crypto)).toBe(PETER_VKEY);
    const bad = [
      PETER_VKEY.replace('c74f20a3', 'c74f20a4'), // key id does not match
      PETER_VKEY.replace('c74f20a3', 'C74F20A3'), // uppercase hex
      PETER_VKEY.replace('+ARpc', '+Apc'), // not base64 of 33 bytes
      `PeterNeumann+c74f20a3+${base64.encode(Uint8Array.of(2, ...peter.publicKey))}`, // not Ed25519
      'PeterNeumann+c74f20a3', // no key
      'no-plus-at-all',
      `x+${'0'.repeat(8)}+${'A'.repeat(400)}`,
    ];
    for (const text of bad) expect(errorCodeOf(() => parseNoteVerifierKey(text, crypto))).toBe('PL-400');
  });
});

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  const origin = 'audit.example.com/log';
  const signer = createEd25519NoteSigner(origin, new Uint8Array(32).fill(5), crypto);
  const verifier = createEd25519NoteVerifier(origin, signer.publicKey, crypto);

  it('parses the spec example body', () => {
    const cp = parseCheckpoint(
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n',
    );
    expect(cp.origin).toBe('example.com/behind-the-sofa');
    expect(cp.treeSize).toBe(20852163n);
    expect(cp.rootHash).toHaveLength(32);
    expect(cp.extensions).toEqual([]);
  });

  it('formats origin, decimal size, base64 root and extension lines, and parses them back', () => {
    const cp: LogCheckpoint = { origin, treeSize: 0n, rootHash: emptyRootHash(), extensions: [] };
    expect(formatCheckpoint(cp)).toBe(`${origin}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`);
    const big: LogCheckpoint = {
      origin,
      treeSize: 2n ** 64n - 1n,
      rootHash: new Uint8Array(32).fill(7),
      extensions: ['ext one'],
    };
    const parsed = parseCheckpoint(formatCheckpoint(big));
    expect(parsed).toEqual(big);
  });

  it('rejects malformed bodies with PL-400', () => {
    const root = base64.encode(new Uint8Array(32));
    const bad = [
      `${origin}\n1\n${root}`, // no final newline
      `${origin}\n1\n`, // no root
      `\n1\n${root}\n`, // empty origin
      `${origin}\n01\n${root}\n`, // leading zero
      `${origin}\n-1\n${root}\n`,
      `${origin}\n+1\n${root}\n`,
      `${origin}\n18446744073709551616\n${root}\n`, // 2^64
      `${origin}\n1 \n${root}\n`,
      `${origin}\n1\n${base64.encode(new Uint8Array(31))}\n`, // 31-byte root
      `${origin}\n1\n${root.slice(0, -1)}\n`, // unpadded
      `${origin}\n1\n${root}\n\n`, // empty extension line
      `${origin}\n1\n${root}\n${'e\n'.repeat(17)}`, // too many extensions
      `${origin}\u0001\n1\n${root}\n`,
    ];
    for (const text of bad) expect(errorCodeOf(() => parseCheckpoint(text))).toBe('PL-400');
    expect(
      errorCodeOf(() =>
        formatCheckpoint({
          origin: 'two\nlines',
          treeSize: 1n,
          rootHash: new Uint8Array(32),
          extensions: [],
        }),
      ),
    ).toBe('PL-400');
    expect(
      errorCodeOf(() =>
        formatCheckpoint({ origin, treeSize: -1n, rootHash: new Uint8Array(32), extensions: [] }),
      ),
    ).toBe('PL-400');
  });

  it('signs and opens a checkpoint; the key name must be the origin', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 5; i++) tree.appendLeaf(Uint8Array.of(i));
    const cp: LogCheckpoint = { origin, treeSize: 5n, rootHash: tree.root(), extensions: [] };
    const note = signCheckpoint(cp, signer);
    expect(note.startsWith(`${origin}\n5\n`)).toBe(true);
    expect(note).toContain(`\n\n— ${origin} `);
    const opened = openCheckpoint(note, [verifier], { origin });
    expect(opened.checkpoint).toEqual(cp);
    expect(opened.verifiedBy).toEqual([origin]);
    const other = createEd25519NoteSigner('other.example/log', new Uint8Array(32).fill(6), crypto);
    expect(errorCodeOf(() => signCheckpoint(cp, other))).toBe('PL-400');
    // Same signer key, another origin: refused at the origin check.
    const otherOrigin = createEd25519NoteSigner('other.example/log', new Uint8Array(32).fill(5), crypto);
    const foreign = signCheckpoint({ ...cp, origin: 'other.example/log' }, otherOrigin);
    expect(errorCodeOf(() => openCheckpoint(foreign, [otherOrigin.verifier()], { origin }))).toBe('PL-401');
  });

  it('rejects tampered and unknown-key checkpoints with PL-401', () => {
    const cp: LogCheckpoint = { origin, treeSize: 7n, rootHash: new Uint8Array(32).fill(1), extensions: [] };
    const note = signCheckpoint(cp, signer);
    expect(
      errorCodeOf(() => openCheckpoint(note.replace(`${origin}\n7\n`, `${origin}\n8\n`), [verifier])),
    ).toBe('PL-401');
    const stranger = createEd25519NoteSigner(origin, new Uint8Array(32).fill(9), crypto);
    expect(errorCodeOf(() => openCheckpoint(signCheckpoint(cp, stranger), [verifier]))).toBe('PL-401');
  });

  it('checks that a later checkpoint is consistent with an earlier one', () => {
    const tree = new MerkleTree();
    for (let i = 0; i < 21; i++) tree.appendLeaf(Uint8Array.of(i, i));
    const at = (n: number): LogCheckpoint => ({
      origin,
      treeSize: BigInt(n),
      rootHash: tree.root(n),
      extensions: [],
    });
    const older = openCheckpoint(signCheckpoint(at(13), signer), [verifier]).checkpoint;
    const newer = openCheckpoint(signCheckpoint(at(21), signer), [verifier]).checkpoint;
    expect(() => assertCheckpointConsistency(older, newer, tree.consistencyProof(13, 21))).not.toThrow();
    expect(() => assertCheckpointConsistency(at(0), newer, [])).not.toThrow();
    expect(() => assertCheckpointConsistency(newer, newer, [])).not.toThrow();
    // A forked log: same size 21, a different leaf 4.
    const forked = new MerkleTree();
    for (let i = 0; i < 21; i++) forked.appendLeaf(i === 4 ? Uint8Array.of(0xee) : Uint8Array.of(i, i));
    const forkedHead: LogCheckpoint = { ...newer, rootHash: forked.root() };
    expect(
      errorCodeOf(() => assertCheckpointConsistency(older, forkedHead, forked.consistencyProof(13, 21))),
    ).toBe('PL-401');
    expect(errorCodeOf(() => assertCheckpointConsistency(older, newer, tree.consistencyProof(12, 21)))).toBe(
      'PL-401',
    );
    expect(errorCodeOf(() => assertCheckpointConsistency(newer, older, tree.consistencyProof(13, 21)))).toBe(
      'PL-400',
    );
    expect(
      errorCodeOf(() => assertCheckpointConsistency({ ...older, origin: 'x.example/y' }, newer, [])),
    ).toBe('PL-400');
  });
});
