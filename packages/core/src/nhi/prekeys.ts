import { canonicalBytes } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { CRYPTO_SIZES, type CryptoProvider } from '../crypto/provider.js';
import { bytesToBase64url, concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { AgentKeyPair } from '../identity/key-pair.js';

/**
 * The prekey directory of the NHI service: what an initiator needs to run PQXDH (Signal, "The
 * PQXDH Key Agreement Protocol", revision 3) with an offline recipient.
 *
 * Mapping onto PQXDH §2.4 (Bob publishes):
 * - identity key `IK_B`: the owner's registered {@link AgentIdentity} (Ed25519; messaging uses
 *   its RFC 7748 Montgomery form for the DH steps, as XEdDSA-based Signal does with one key);
 * - signed curve prekey `SPK_B`: {@link PrekeyUpload.signedPrekey} (X25519);
 * - signed last-resort post-quantum prekey `PQSPK_B`: {@link PrekeyUpload.lastResortKemPrekey}
 *   (ML-KEM-768) — this is the "signed ML-KEM prekey" handed out when no one-time one is left;
 * - one-time curve prekeys `OPK_B`: {@link PrekeyUpload.oneTimePrekeys} (X25519);
 * - signed one-time post-quantum prekeys `PQOPK_B`: {@link PrekeyUpload.oneTimeKemPrekeys}.
 *
 * Every prekey, one-time X25519 ones included (PQXDH leaves those unsigned), carries the
 * owner's Ed25519 signature over {@link prekeySigningBytes}, so the directory can prove nothing
 * it hands out was substituted. Signatures are verified at publish time and again by the
 * initiator ({@link verifyKeyBundle}): the directory is not trusted with key authenticity.
 */

/** Domain-separation context of {@link prekeySigningBytes}. */
export const PREKEY_SIGNING_CONTEXT = 'creto-nhi-prekey-v1';

/** The `type` tag inside the signed JSON payload. */
export const PREKEY_TYPE = 'creto.nhi.prekey';

/** The `version` inside the signed JSON payload. */
export const PREKEY_VERSION = 1;

/** Which slot of a bundle a prekey fills; part of the signed bytes, so no key changes slot. */
export type PrekeyKind =
  | 'x25519-signed'
  | 'x25519-one-time'
  | 'ml-kem-768-one-time'
  | 'ml-kem-768-last-resort';

/** Every {@link PrekeyKind}. */
export const PREKEY_KINDS: readonly PrekeyKind[] = Object.freeze([
  'x25519-signed',
  'x25519-one-time',
  'ml-kem-768-one-time',
  'ml-kem-768-last-resort',
]);

/** Largest prekey id (ids are unsigned 32-bit integers, as in Signal's protocol). */
export const MAX_PREKEY_ID = 0xffff_ffff;

/** Default bound on pending one-time prekeys per owner, for each of X25519 and ML-KEM-768. */
export const DEFAULT_MAX_ONE_TIME_PREKEYS = 100;

/** Largest `maxOneTimePrekeys` accepted. */
export const MAX_ONE_TIME_PREKEYS_LIMIT = 10_000;

/** Default bound on bytes held by the whole directory (public keys and signatures). */
export const DEFAULT_MAX_PREKEY_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** A published prekey: its id, public key and the owner's Ed25519 signature. */
export interface SignedPrekey {
  /** Unsigned 32-bit id; the initiator names it back so the owner finds the secret key. */
  readonly id: number;
  /** X25519 (32 bytes) or ML-KEM-768 encapsulation key (1184 bytes), per its kind. */
  readonly publicKey: Uint8Array;
  /** 64-byte Ed25519 signature by the owner's identity key over {@link prekeySigningBytes}. */
  readonly signature: Uint8Array;
}

/**
 * What an owner publishes; every field is optional so one-time prekeys can be replenished alone.
 *
 * **Ids and replay.** Ids are unsigned 32-bit integers scoped by {@link PrekeyKind} (an initiator
 * names a prekey back by kind and id). Within a kind, every id published must be greater than
 * every id of that kind the owner published before (a high-water mark). So re-publishing a
 * consumed one-time prekey, or replaying an old signed prekey to roll back a rotation, is
 * rejected with `PL-409`, and the directory remembers one integer per kind instead of every
 * consumed id.
 */
export interface PrekeyUpload {
  /** A new signed X25519 prekey; replaces the current one (rotation). */
  readonly signedPrekey?: SignedPrekey;
  /** A new signed last-resort ML-KEM-768 prekey; replaces the current one. */
  readonly lastResortKemPrekey?: SignedPrekey;
  /** One-time X25519 prekeys to add. */
  readonly oneTimePrekeys?: readonly SignedPrekey[];
  /** One-time ML-KEM-768 prekeys to add. */
  readonly oneTimeKemPrekeys?: readonly SignedPrekey[];
}

/** How many prekeys an owner has left, so it knows when to replenish. */
export interface PrekeyCounts {
  /** Pending one-time X25519 prekeys. */
  readonly oneTimePrekeys: number;
  /** Pending one-time ML-KEM-768 prekeys. */
  readonly oneTimeKemPrekeys: number;
  /** True when a signed X25519 prekey is published. */
  readonly hasSignedPrekey: boolean;
  /** True when a last-resort ML-KEM-768 prekey is published. */
  readonly hasLastResortKemPrekey: boolean;
}

/** What `getKeyBundle` hands an initiator (PQXDH §3.1, "the prekey bundle"). */
export interface KeyBundle {
  /** The owner's registered identity (Ed25519, and ML-DSA-65 when registered). */
  readonly identity: AgentIdentity;
  /** The signed X25519 prekey. */
  readonly signedPrekey: SignedPrekey;
  /** The ML-KEM-768 prekey: a one-time one when any is left, else the last-resort one. */
  readonly kemPrekey: SignedPrekey;
  /** Which ML-KEM prekey `kemPrekey` is. */
  readonly kemPrekeyKind: 'ml-kem-768-one-time' | 'ml-kem-768-last-resort';
  /** A one-time X25519 prekey, when any is left (handed out once, never again). */
  readonly oneTimePrekey?: SignedPrekey;
  /** What is left after this bundle. */
  readonly remaining: PrekeyCounts;
}

const KEY_LENGTH: Readonly<Record<PrekeyKind, number>> = Object.freeze({
  'x25519-signed': CRYPTO_SIZES.x25519Key,
  'x25519-one-time': CRYPTO_SIZES.x25519Key,
  'ml-kem-768-one-time': CRYPTO_SIZES.mlKem768PublicKey,
  'ml-kem-768-last-resort': CRYPTO_SIZES.mlKem768PublicKey,
});

function isPrekeyKind(value: unknown): value is PrekeyKind {
  return typeof value === 'string' && (PREKEY_KINDS as readonly string[]).includes(value);
}

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

// The small-order X25519 u-coordinates (and their non-canonical encodings p-1, p, p+1), as in
// libsodium's `has_small_order`: DH with them yields a predictable (all-zero) secret, RFC 7748 §6.1.
const X25519_SMALL_ORDER: readonly Uint8Array[] = [
  new Uint8Array(32),
  Uint8Array.of(1, ...new Uint8Array(31)),
  Uint8Array.of(
    0xe0,
    0xeb,
    0x7a,
    0x7c,
    0x3b,
    0x41,
    0xb8,
    0xae,
    0x16,
    0x56,
    0xe3,
    0xfa,
    0xf1,
    0x9f,
    0xc4,
    0x6a,
    0xda,
    0x09,
    0x8d,
    0xeb,
    0x9c,
    0x32,
    0xb1,
    0xfd,
    0x86,
    0x62,
    0x05,
    0x16,
    0x5f,
    0x49,
    0xb8,
    0x00,
  ),
  Uint8Array.of(
    0x5f,
    0x9c,
    0x95,
    0xbc,
    0xa3,
    0x50,
    0x8c,
    0x24,
    0xb1,
    0xd0,
    0xb1,
    0x55,
    0x9c,
    0x83,
    0xef,
    0x5b,
    0x04,
    0x44,
    0x5c,
    0xc4,
    0x58,
    0x1c,
    0x8e,
    0x86,
    0xd8,
    0x22,
    0x4e,
    0xdd,
    0xd0,
    0x9f,
    0x11,
    0x57,
  ),
  Uint8Array.of(0xec, ...new Uint8Array(30).fill(0xff), 0x7f),
  Uint8Array.of(0xed, ...new Uint8Array(30).fill(0xff), 0x7f),
  Uint8Array.of(0xee, ...new Uint8Array(30).fill(0xff), 0x7f),
];

/** True when `key` is one of the small-order u-coordinates (the top bit ignored, RFC 7748 §5). */
export function isSmallOrderX25519(key: Uint8Array): boolean {
  return X25519_SMALL_ORDER.some((bad) => {
    let diff = (bad[31] as number) ^ ((key[31] as number) & 0x7f);
    for (let i = 0; i < 31; i++) diff |= (bad[i] as number) ^ (key[i] as number);
    return diff === 0;
  });
}

const MLKEM_Q = 3329;
const MLKEM_768_POLY_BYTES = 384 * 3;

/**
 * FIPS 203 §7.2 encapsulation-key check ("modulus check"): every 12-bit coefficient of
 * `ByteDecode12(ek[0:1152])` must be below q = 3329, i.e. the key re-encodes to itself.
 */
export function isValidMlKem768PublicKey(key: Uint8Array): boolean {
  if (key.length !== CRYPTO_SIZES.mlKem768PublicKey) return false;
  for (let i = 0; i < MLKEM_768_POLY_BYTES; i += 3) {
    const b0 = key[i] as number;
    const b1 = key[i + 1] as number;
    const b2 = key[i + 2] as number;
    if ((b0 | ((b1 & 0x0f) << 8)) >= MLKEM_Q || ((b1 >> 4) | (b2 << 4)) >= MLKEM_Q) return false;
  }
  return true;
}

function checkId(id: unknown, field: string): number {
  if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) > MAX_PREKEY_ID) {
    throw bad(field, `expected an integer in [0, ${MAX_PREKEY_ID}]`);
  }
  return id as number;
}

function checkPublicKey(kind: PrekeyKind, key: unknown, field: string): Uint8Array {
  if (!(key instanceof Uint8Array)) throw bad(field, 'expected a Uint8Array');
  const length = KEY_LENGTH[kind];
  if (key.length !== length) throw bad(field, `expected ${length} bytes for ${kind}, got ${key.length}`);
  if (length === CRYPTO_SIZES.x25519Key) {
    if (isSmallOrderX25519(key)) throw bad(field, 'X25519 public key is a small-order point');
  } else if (!isValidMlKem768PublicKey(key)) {
    throw bad(field, 'ML-KEM-768 public key fails the FIPS 203 §7.2 modulus check');
  }
  return key.slice();
}

function checkKind(kind: unknown): PrekeyKind {
  if (!isPrekeyKind(kind)) throw bad('kind', `expected one of ${PREKEY_KINDS.join(', ')}`);
  return kind;
}

function signingBytes(owner: string, kind: PrekeyKind, id: number, publicKey: Uint8Array): Uint8Array {
  const payload = {
    type: PREKEY_TYPE,
    version: PREKEY_VERSION,
    owner,
    kind,
    id,
    public_key: bytesToBase64url(publicKey),
  };
  return concatBytes(utf8ToBytes(PREKEY_SIGNING_CONTEXT), Uint8Array.of(0), canonicalBytes(payload));
}

/**
 * The exact bytes an owner signs for a prekey (a wire format; docs/platform.md):
 *
 * ```
 * UTF-8("creto-nhi-prekey-v1") ‖ 0x00 ‖ JCS({
 *   "type": "creto.nhi.prekey", "version": 1,
 *   "owner": <owner NHI>, "kind": <PrekeyKind>, "id": <uint32>,
 *   "public_key": <base64url, no padding>
 * })
 * ```
 *
 * JCS is RFC 8785. The owner and kind are signed so a prekey cannot be moved to another owner or
 * slot (a one-time key presented as the last-resort key, say). Validates every field (`PL-400`):
 * key lengths, small-order X25519 points, the ML-KEM-768 modulus check.
 */
export function prekeySigningBytes(
  owner: AgentIdentity | string,
  kind: PrekeyKind,
  id: number,
  publicKey: Uint8Array,
): Uint8Array {
  const nhi =
    owner instanceof AgentIdentity ? owner.nhi : AgentIdentity.fromNhi(owner, { field: 'owner' }).nhi;
  const checkedKind = checkKind(kind);
  return signingBytes(
    nhi,
    checkedKind,
    checkId(id, 'id'),
    checkPublicKey(checkedKind, publicKey, 'publicKey'),
  );
}

/**
 * Signs a prekey with the owner's identity key.
 *
 * @example
 * ```ts
 * const spk = provider.x25519.generateKeyPair();
 * const signedPrekey = signPrekey(owner, 'x25519-signed', 1, spk.publicKey);
 * ```
 */
export function signPrekey(
  owner: AgentKeyPair,
  kind: PrekeyKind,
  id: number,
  publicKey: Uint8Array,
): SignedPrekey {
  if (!(owner instanceof AgentKeyPair)) throw bad('owner', 'expected an AgentKeyPair');
  const bytes = prekeySigningBytes(owner.identity, kind, id, publicKey);
  return Object.freeze({ id, publicKey: publicKey.slice(), signature: owner.sign(bytes) });
}

/**
 * Checks the structure of a prekey and copies it; throws `PL-400` naming `field`. Does not
 * verify the signature.
 * @internal
 */
export function checkSignedPrekey(kind: PrekeyKind, value: unknown, field: string): SignedPrekey {
  if (typeof value !== 'object' || value === null) throw bad(field, 'expected { id, publicKey, signature }');
  const o = value as Record<string, unknown>;
  const id = checkId(o.id, `${field}.id`);
  const publicKey = checkPublicKey(kind, o.publicKey, `${field}.publicKey`);
  const signature = o.signature;
  if (!(signature instanceof Uint8Array))
    throw bad(`${field}.signature`, 'expected a Uint8Array (unsigned prekey)');
  if (signature.length !== CRYPTO_SIZES.ed25519Signature) {
    throw bad(
      `${field}.signature`,
      `expected ${CRYPTO_SIZES.ed25519Signature} bytes, got ${signature.length}`,
    );
  }
  return Object.freeze({ id, publicKey, signature: signature.slice() });
}

/**
 * True when `prekey` is a well-formed `kind` prekey whose signature by `owner`'s identity key
 * verifies. False, never a throw, for anything malformed.
 */
export function verifyPrekey(
  owner: AgentIdentity,
  kind: PrekeyKind,
  prekey: SignedPrekey,
  provider: CryptoProvider = nobleCryptoProvider,
): boolean {
  try {
    const checked = checkSignedPrekey(checkKind(kind), prekey, 'prekey');
    const bytes = signingBytes(owner.nhi, kind, checked.id, checked.publicKey);
    return provider.ed25519.verify(owner.publicKeyEd25519, bytes, checked.signature);
  } catch {
    return false;
  }
}

/**
 * Verifies every prekey signature in a bundle against the bundle's identity; throws `PL-401`
 * naming the prekey that fails (or `PL-400` for a malformed bundle). An initiator calls this
 * before using the bundle: the directory is not trusted with key authenticity.
 */
export function verifyKeyBundle(bundle: KeyBundle, provider: CryptoProvider = nobleCryptoProvider): void {
  if (typeof bundle !== 'object' || bundle === null || !(bundle.identity instanceof AgentIdentity)) {
    throw bad('bundle', 'expected a KeyBundle with an AgentIdentity');
  }
  const { identity } = bundle;
  const check = (kind: PrekeyKind, prekey: SignedPrekey, what: string) => {
    if (!verifyPrekey(identity, kind, prekey, provider)) {
      throw new EnablementError('PL-401', `key bundle of ${identity.nhi}: ${what} signature does not verify`);
    }
  };
  check('x25519-signed', bundle.signedPrekey, 'signed prekey');
  const kemKind = bundle.kemPrekeyKind;
  if (kemKind !== 'ml-kem-768-one-time' && kemKind !== 'ml-kem-768-last-resort') {
    throw bad('bundle.kemPrekeyKind', 'expected ml-kem-768-one-time or ml-kem-768-last-resort');
  }
  check(kemKind, bundle.kemPrekey, 'ML-KEM prekey');
  if (bundle.oneTimePrekey !== undefined) check('x25519-one-time', bundle.oneTimePrekey, 'one-time prekey');
}

/** A FIFO of one-time prekeys; `head` skips handed-out entries without shifting the array. */
class PrekeyQueue {
  #items: SignedPrekey[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(items: readonly SignedPrekey[]): void {
    for (const item of items) this.#items.push(item);
  }

  shift(): SignedPrekey | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

interface OwnerPrekeys {
  signedPrekey: SignedPrekey | undefined;
  lastResort: SignedPrekey | undefined;
  readonly oneTime: PrekeyQueue;
  readonly oneTimeKem: PrekeyQueue;
  /** Highest id published of each kind; −1 before the first. */
  readonly highWater: Record<PrekeyKind, number>;
  bytes: number;
}

/** Options of the internal prekey directory. @internal */
export interface PrekeyDirectoryOptions {
  readonly provider: CryptoProvider;
  readonly maxOneTimePrekeys: number;
  readonly maxBytes: number;
}

function sizeOf(prekey: SignedPrekey | undefined): number {
  return prekey === undefined ? 0 : prekey.publicKey.length + prekey.signature.length;
}

function countsOf(state: OwnerPrekeys | undefined): PrekeyCounts {
  return Object.freeze({
    oneTimePrekeys: state?.oneTime.size ?? 0,
    oneTimeKemPrekeys: state?.oneTimeKem.size ?? 0,
    hasSignedPrekey: state?.signedPrekey !== undefined,
    hasLastResortKemPrekey: state?.lastResort !== undefined,
  });
}

/**
 * The directory's state and rules; the registry wraps it with principal lookups (unknown and
 * revoked owners are refused there). Every method is synchronous and mutates only after all
 * checks pass, so concurrent async callers each see a consistent state, and a one-time prekey
 * leaves its queue in the same synchronous step that hands it out: it can never be handed out
 * twice.
 * @internal
 */
export class PrekeyDirectory {
  readonly #owners = new Map<string, OwnerPrekeys>();
  readonly #options: PrekeyDirectoryOptions;
  #bytes = 0;

  constructor(options: PrekeyDirectoryOptions) {
    this.#options = options;
  }

  /** Bytes held across all owners. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Validates, verifies and stores an upload; all or nothing. */
  publish(owner: AgentIdentity, upload: PrekeyUpload): PrekeyCounts {
    if (typeof upload !== 'object' || upload === null) throw bad('upload', 'expected a PrekeyUpload object');
    const { maxOneTimePrekeys, provider } = this.#options;
    const single = (kind: PrekeyKind, value: unknown, field: string) =>
      value === undefined ? undefined : checkSignedPrekey(kind, value, field);
    const many = (kind: PrekeyKind, value: unknown, field: string): SignedPrekey[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value)) throw bad(field, 'expected an array');
      const length = value.length; // read once: a hostile array cannot grow while we copy it
      if (length > maxOneTimePrekeys) throw bad(field, `at most ${maxOneTimePrekeys} prekeys per upload`);
      const out: SignedPrekey[] = [];
      for (let i = 0; i < length; i++) out.push(checkSignedPrekey(kind, value[i], `${field}[${i}]`));
      return out;
    };
    const signedPrekey = single('x25519-signed', upload.signedPrekey, 'signedPrekey');
    const lastResort = single('ml-kem-768-last-resort', upload.lastResortKemPrekey, 'lastResortKemPrekey');
    const oneTime = many('x25519-one-time', upload.oneTimePrekeys, 'oneTimePrekeys');
    const oneTimeKem = many('ml-kem-768-one-time', upload.oneTimeKemPrekeys, 'oneTimeKemPrekeys');

    const state = this.#owners.get(owner.nhi);
    const highWater = (kind: PrekeyKind) => state?.highWater[kind] ?? -1;
    const newHighWater: Record<PrekeyKind, number> = {
      'x25519-signed': checkIds(
        signedPrekey ? [signedPrekey.id] : [],
        highWater('x25519-signed'),
        'x25519-signed',
      ),
      'x25519-one-time': checkIds(
        oneTime.map((p) => p.id),
        highWater('x25519-one-time'),
        'x25519-one-time',
      ),
      'ml-kem-768-one-time': checkIds(
        oneTimeKem.map((p) => p.id),
        highWater('ml-kem-768-one-time'),
        'ml-kem-768-one-time',
      ),
      'ml-kem-768-last-resort': checkIds(
        lastResort ? [lastResort.id] : [],
        highWater('ml-kem-768-last-resort'),
        'ml-kem-768-last-resort',
      ),
    };

    const pendingOneTime = (state?.oneTime.size ?? 0) + oneTime.length;
    const pendingKem = (state?.oneTimeKem.size ?? 0) + oneTimeKem.length;
    if (pendingOneTime > maxOneTimePrekeys || pendingKem > maxOneTimePrekeys) {
      throw new EnablementError(
        'PL-409',
        `prekeys of ${owner.nhi}: at most ${maxOneTimePrekeys} pending one-time prekeys of each kind`,
      );
    }
    const added =
      sizeOf(signedPrekey) +
      sizeOf(lastResort) +
      [...oneTime, ...oneTimeKem].reduce((sum, p) => sum + sizeOf(p), 0) -
      (signedPrekey ? sizeOf(state?.signedPrekey) : 0) -
      (lastResort ? sizeOf(state?.lastResort) : 0);
    if (this.#bytes + added > this.#options.maxBytes) {
      throw new EnablementError('PL-409', `prekey directory is full (${this.#options.maxBytes} bytes)`);
    }

    // Signatures last among the checks (they are the expensive part) but before any mutation.
    const verify = (kind: PrekeyKind, prekey: SignedPrekey, field: string) => {
      const bytes = signingBytes(owner.nhi, kind, prekey.id, prekey.publicKey);
      if (!provider.ed25519.verify(owner.publicKeyEd25519, bytes, prekey.signature)) {
        throw new EnablementError('PL-401', `${field}: signature by ${owner.nhi} does not verify`);
      }
    };
    if (signedPrekey) verify('x25519-signed', signedPrekey, 'signedPrekey');
    if (lastResort) verify('ml-kem-768-last-resort', lastResort, 'lastResortKemPrekey');
    oneTime.forEach((p, i) => {
      verify('x25519-one-time', p, `oneTimePrekeys[${i}]`);
    });
    oneTimeKem.forEach((p, i) => {
      verify('ml-kem-768-one-time', p, `oneTimeKemPrekeys[${i}]`);
    });

    const target: OwnerPrekeys = state ?? {
      signedPrekey: undefined,
      lastResort: undefined,
      oneTime: new PrekeyQueue(),
      oneTimeKem: new PrekeyQueue(),
      highWater: { ...newHighWater },
      bytes: 0,
    };
    if (signedPrekey) target.signedPrekey = signedPrekey;
    if (lastResort) target.lastResort = lastResort;
    target.oneTime.push(oneTime);
    target.oneTimeKem.push(oneTimeKem);
    Object.assign(target.highWater, newHighWater);
    target.bytes += added;
    this.#bytes += added;
    this.#owners.set(owner.nhi, target);
    return countsOf(target);
  }

  /** Hands out a bundle, consuming one one-time prekey of each kind when any is left. */
  take(owner: AgentIdentity): KeyBundle {
    const state = this.#owners.get(owner.nhi);
    const signedPrekey = state?.signedPrekey;
    const lastResort = state?.lastResort;
    if (state === undefined || signedPrekey === undefined || lastResort === undefined) {
      throw new EnablementError(
        'PL-404',
        `no key bundle for ${owner.nhi}: a signed prekey and a last-resort ML-KEM prekey must be published`,
      );
    }
    const oneTimePrekey = state.oneTime.shift();
    const oneTimeKem = state.oneTimeKem.shift();
    const freed = sizeOf(oneTimePrekey) + sizeOf(oneTimeKem);
    state.bytes -= freed;
    this.#bytes -= freed;
    const bundle: KeyBundle = {
      identity: owner,
      signedPrekey: copy(signedPrekey),
      kemPrekey: copy(oneTimeKem ?? lastResort),
      kemPrekeyKind: oneTimeKem ? 'ml-kem-768-one-time' : 'ml-kem-768-last-resort',
      remaining: countsOf(state),
      ...(oneTimePrekey ? { oneTimePrekey } : {}),
    };
    return Object.freeze(bundle);
  }

  /** Pending counts of an owner (zeros when it never published). */
  counts(owner: string): PrekeyCounts {
    return countsOf(this.#owners.get(owner));
  }

  /** Drops everything of an owner (on revocation). */
  drop(owner: string): void {
    const state = this.#owners.get(owner);
    if (state === undefined) return;
    this.#bytes -= state.bytes;
    this.#owners.delete(owner);
  }
}

function copy(prekey: SignedPrekey): SignedPrekey {
  return Object.freeze({
    id: prekey.id,
    publicKey: prekey.publicKey.slice(),
    signature: prekey.signature.slice(),
  });
}

/** New high-water mark of a kind; `PL-409` for a replayed id, `PL-400` for duplicates in one upload. */
function checkIds(ids: readonly number[], highWater: number, kind: PrekeyKind): number {
  let high = highWater;
  const seen = new Set<number>();
  for (const id of ids) {
    if (seen.has(id)) throw bad('upload', `${kind} prekey id ${id} appears twice`);
    seen.add(id);
    if (id <= highWater) {
      throw new EnablementError(
        'PL-409',
        `${kind} prekey id ${id} is not above the last published id ${highWater}: ids are never reused (replay)`,
      );
    }
    if (id > high) high = id;
  }
  return high;
}
