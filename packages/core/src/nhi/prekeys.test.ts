import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as provider } from '../crypto/noble.js';
import { bytesToUtf8 } from '../encoding/bytes.js';
import type { EnablementError } from '../errors/enablement-error.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import {
  isSmallOrderX25519,
  isValidMlKem768PublicKey,
  type KeyBundle,
  PREKEY_SIGNING_CONTEXT,
  type PrekeyKind,
  type PrekeyUpload,
  prekeySigningBytes,
  type SignedPrekey,
  signPrekey,
  verifyKeyBundle,
  verifyPrekey,
} from './prekeys.js';
import { createNhiRegistry, type NhiRegistryOptions } from './registry.js';

const seed = (n: number) => new Uint8Array(32).fill(n);
const BOB = AgentKeyPair.fromSeed(seed(1));
const MALLORY = AgentKeyPair.fromSeed(seed(2));
const STRANGER = AgentKeyPair.fromSeed(seed(3));

// One real ML-KEM-768 key; variants differ in the 32-byte seed ρ at the end (always valid).
const KEM_BASE = provider.mlKem.generateKeyPair('ML-KEM-768', new Uint8Array(64).fill(7)).publicKey;
function kemKey(n: number): Uint8Array {
  const key = KEM_BASE.slice();
  new DataView(key.buffer).setUint32(key.length - 4, n);
  return key;
}
const x25519Key = (n: number) => provider.x25519.publicKey(new Uint8Array(32).fill(n + 1));

const sign = (kind: PrekeyKind, id: number, key: Uint8Array, owner = BOB): SignedPrekey =>
  signPrekey(owner, kind, id, key);

function oneTime(ids: number[], owner = BOB): SignedPrekey[] {
  return ids.map((id) => sign('x25519-one-time', id, x25519Key(id), owner));
}
function oneTimeKem(ids: number[], owner = BOB): SignedPrekey[] {
  return ids.map((id) => sign('ml-kem-768-one-time', id, kemKey(id), owner));
}

function fullUpload(oneTimeIds: number[], kemIds: number[]): PrekeyUpload {
  return {
    signedPrekey: sign('x25519-signed', 0, x25519Key(200)),
    lastResortKemPrekey: sign('ml-kem-768-last-resort', 0, kemKey(1000)),
    oneTimePrekeys: oneTime(oneTimeIds),
    oneTimeKemPrekeys: oneTimeKem(kemIds),
  };
}

async function setup(options: NhiRegistryOptions = {}) {
  const nhi = createNhiRegistry({ clock: new FakeClock(), ...options });
  await nhi.register({ identity: BOB.identity });
  await nhi.register({ identity: MALLORY.identity });
  return nhi;
}

const ids = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

describe('prekey signing', () => {
  it('signs the documented bytes, binding owner, kind and id', () => {
    const key = x25519Key(1);
    const bytes = prekeySigningBytes(BOB.identity, 'x25519-one-time', 7, key);
    const prefix = `${PREKEY_SIGNING_CONTEXT}\u0000`;
    expect(bytesToUtf8(bytes.slice(0, prefix.length))).toBe(prefix);
    const json = JSON.parse(bytesToUtf8(bytes.slice(prefix.length)));
    expect(json).toEqual({
      id: 7,
      kind: 'x25519-one-time',
      owner: BOB.identity.nhi,
      public_key: Buffer.from(key).toString('base64url'),
      type: 'creto.nhi.prekey',
      version: 1,
    });
    const prekey = sign('x25519-one-time', 7, key);
    expect(verifyPrekey(BOB.identity, 'x25519-one-time', prekey)).toBe(true);
    expect(verifyPrekey(BOB.identity, 'x25519-signed', prekey)).toBe(false); // other slot
    expect(verifyPrekey(MALLORY.identity, 'x25519-one-time', prekey)).toBe(false); // other owner
    expect(verifyPrekey(BOB.identity, 'x25519-one-time', { ...prekey, id: 8 })).toBe(false);
    expect(verifyPrekey(BOB.identity, 'x25519-one-time', null as never)).toBe(false);
  });

  it('rejects wrong lengths, small-order X25519 keys and out-of-range ML-KEM keys', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as EnablementError).code;
      }
      return undefined;
    };
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', 1, new Uint8Array(31)))).toBe(
      'PL-400',
    );
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', 1, kemKey(1)))).toBe('PL-400');
    expect(code(() => prekeySigningBytes(BOB.identity, 'ml-kem-768-one-time', 1, x25519Key(1)))).toBe(
      'PL-400',
    );
    expect(code(() => prekeySigningBytes(BOB.identity, 'ml-kem-768-one-time', 1, kemKey(1).slice(1)))).toBe(
      'PL-400',
    );
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', 1, new Uint8Array(32)))).toBe(
      'PL-400',
    );
    const outOfRange = kemKey(1);
    outOfRange[0] = 0xff;
    outOfRange[1] = (outOfRange[1] as number) | 0x0f; // first coefficient 0xfff ≥ q
    expect(code(() => prekeySigningBytes(BOB.identity, 'ml-kem-768-one-time', 1, outOfRange))).toBe('PL-400');
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', -1, x25519Key(1)))).toBe('PL-400');
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', 2 ** 32, x25519Key(1)))).toBe(
      'PL-400',
    );
    expect(code(() => prekeySigningBytes(BOB.identity, 'x25519-signed', 1.5, x25519Key(1)))).toBe('PL-400');
    expect(code(() => prekeySigningBytes(BOB.identity, 'rsa' as PrekeyKind, 1, x25519Key(1)))).toBe('PL-400');
  });

  it('flags exactly the small-order X25519 points (checked against the provider)', () => {
    const candidates = [
      new Uint8Array(32),
      Uint8Array.of(1, ...new Uint8Array(31)),
      Uint8Array.of(0xec, ...new Uint8Array(30).fill(0xff), 0x7f),
      Uint8Array.of(0xed, ...new Uint8Array(30).fill(0xff), 0x7f),
      Uint8Array.of(0xee, ...new Uint8Array(30).fill(0xff), 0x7f),
    ];
    const secret = provider.randomBytes(32);
    for (const key of candidates) {
      expect(isSmallOrderX25519(key)).toBe(true);
      // The top bit is ignored by X25519 (RFC 7748 §5), so its variant is small-order too.
      const high = key.slice();
      high[31] = (high[31] as number) | 0x80;
      expect(isSmallOrderX25519(high)).toBe(true);
      expect(() => provider.x25519.sharedSecret(secret, key)).toThrow();
    }
    for (let i = 0; i < 50; i++) {
      const key = provider.x25519.generateKeyPair().publicKey;
      expect(isSmallOrderX25519(key)).toBe(false);
    }
    expect(isValidMlKem768PublicKey(KEM_BASE)).toBe(true);
    expect(isValidMlKem768PublicKey(KEM_BASE.slice(1))).toBe(false);
  });
});

describe('prekey directory', () => {
  it('hands out a verifiable bundle, consuming one-time prekeys in order', async () => {
    const nhi = await setup();
    const counts = await nhi.publishPrekeys(BOB.identity, fullUpload([1, 2], [1]));
    expect(counts).toEqual({
      oneTimePrekeys: 2,
      oneTimeKemPrekeys: 1,
      hasSignedPrekey: true,
      hasLastResortKemPrekey: true,
    });
    const first = await nhi.getKeyBundle(BOB.identity.nhi);
    verifyKeyBundle(first);
    expect(first.identity.equals(BOB.identity)).toBe(true);
    expect(first.signedPrekey.id).toBe(0);
    expect(first.oneTimePrekey?.id).toBe(1);
    expect(first.oneTimePrekey?.publicKey).toEqual(x25519Key(1));
    expect(first.kemPrekeyKind).toBe('ml-kem-768-one-time');
    expect(first.kemPrekey.publicKey).toEqual(kemKey(1));
    expect(first.remaining).toMatchObject({ oneTimePrekeys: 1, oneTimeKemPrekeys: 0 });

    const second = await nhi.getKeyBundle(BOB.identity);
    verifyKeyBundle(second);
    expect(second.oneTimePrekey?.id).toBe(2);
    // One-time KEM prekeys ran out: the signed last-resort one.
    expect(second.kemPrekeyKind).toBe('ml-kem-768-last-resort');
    expect(second.kemPrekey.publicKey).toEqual(kemKey(1000));

    const third = nhi.getKeyBundleSync(BOB.identity);
    verifyKeyBundle(third);
    expect(third.oneTimePrekey).toBeUndefined();
    expect(third.kemPrekeyKind).toBe('ml-kem-768-last-resort');
    expect(third.remaining).toEqual({
      oneTimePrekeys: 0,
      oneTimeKemPrekeys: 0,
      hasSignedPrekey: true,
      hasLastResortKemPrekey: true,
    });
    expect(await nhi.prekeyCounts(BOB.identity)).toEqual(third.remaining);
  });

  it('hands out each one-time prekey at most once under many concurrent requests', async () => {
    const nhi = await setup();
    await nhi.publishPrekeys(BOB.identity, fullUpload(ids(40), ids(30)));
    const bundles = await Promise.all(Array.from({ length: 100 }, () => nhi.getKeyBundle(BOB.identity)));
    const otpIds = bundles.flatMap((b) => (b.oneTimePrekey ? [b.oneTimePrekey.id] : []));
    const kemIds = bundles.flatMap((b) =>
      b.kemPrekeyKind === 'ml-kem-768-one-time' ? [b.kemPrekey.id] : [],
    );
    expect(otpIds).toHaveLength(40);
    expect(new Set(otpIds).size).toBe(40);
    expect(kemIds).toHaveLength(30);
    expect(new Set(kemIds).size).toBe(30);
    expect(bundles.filter((b) => b.kemPrekeyKind === 'ml-kem-768-last-resort')).toHaveLength(70);
    expect(await nhi.prekeyCounts(BOB.identity)).toMatchObject({ oneTimePrekeys: 0, oneTimeKemPrekeys: 0 });
    // Replenishing while requests run still never repeats a key.
    const more = nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime(ids(10, 41)) });
    const racing = await Promise.all(Array.from({ length: 20 }, () => nhi.getKeyBundle(BOB.identity)));
    await more;
    const again = racing.flatMap((b) => (b.oneTimePrekey ? [b.oneTimePrekey.id] : []));
    expect(new Set([...otpIds, ...again]).size).toBe(otpIds.length + again.length);
  });

  it('rejects replays of consumed or already published ids with PL-409, changing nothing', async () => {
    const nhi = await setup();
    const upload = fullUpload([1, 2, 3], [1, 2]);
    await nhi.publishPrekeys(BOB.identity, upload);
    const bundle = await nhi.getKeyBundle(BOB.identity);
    const consumed = bundle.oneTimePrekey as SignedPrekey;
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: [consumed] }),
      'PL-409',
    );
    // A pending id, and a replayed (older) signed prekey: a rotation rollback.
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([3]) }),
      'PL-409',
    );
    const rotated = sign('x25519-signed', 10, x25519Key(201));
    await nhi.publishPrekeys(BOB.identity, { signedPrekey: rotated });
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { signedPrekey: upload.signedPrekey as SignedPrekey }),
      'PL-409',
    );
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimeKemPrekeys: oneTimeKem([2]) }),
      'PL-409',
    );
    // Duplicate ids inside one upload.
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([20, 20]) }),
      'PL-400',
    );
    // A mixed upload whose one bad id is a replay stores nothing at all.
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([30, 2]) }),
      'PL-409',
    );
    expect(await nhi.prekeyCounts(BOB.identity)).toMatchObject({ oneTimePrekeys: 2, oneTimeKemPrekeys: 1 });
    expect((await nhi.getKeyBundle(BOB.identity)).signedPrekey.id).toBe(10);
    await nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([30]) });
  });

  it('rejects unsigned, forged and re-slotted prekeys; a bad one spoils the whole upload', async () => {
    const nhi = await setup();
    const good = fullUpload([1, 2], [1]);
    const forged = sign('x25519-one-time', 3, x25519Key(3), MALLORY); // Mallory signs for Bob
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { ...good, oneTimePrekeys: [...oneTime([1, 2]), forged] }),
      'PL-401',
    );
    const unsigned = { id: 4, publicKey: x25519Key(4) } as SignedPrekey;
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: [unsigned] }),
      'PL-400',
    );
    const shortSig = { ...oneTime([5])[0], signature: new Uint8Array(63) } as SignedPrekey;
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: [shortSig] }),
      'PL-400',
    );
    const zeroSig = { ...oneTime([5])[0], signature: new Uint8Array(64) } as SignedPrekey;
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: [zeroSig] }),
      'PL-401',
    );
    // A one-time key offered as the signed prekey: the kind is signed, so it does not verify.
    const reslotted = oneTime([6])[0] as SignedPrekey;
    await expectEnablementRejection(nhi.publishPrekeys(BOB.identity, { signedPrekey: reslotted }), 'PL-401');
    // A key swapped under a valid signature.
    const swapped = { ...(good.lastResortKemPrekey as SignedPrekey), publicKey: kemKey(5) };
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { lastResortKemPrekey: swapped }),
      'PL-401',
    );
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: 'x' as never }),
      'PL-400',
    );
    await expectEnablementRejection(nhi.publishPrekeys(BOB.identity, null as never), 'PL-400');
    expect(await nhi.prekeyCounts(BOB.identity)).toEqual({
      oneTimePrekeys: 0,
      oneTimeKemPrekeys: 0,
      hasSignedPrekey: false,
      hasLastResortKemPrekey: false,
    });
    // Nothing was consumed by the failures: the same ids are still publishable.
    await nhi.publishPrekeys(BOB.identity, good);
  });

  it('refuses unknown, revoked and bundle-less owners', async () => {
    const nhi = await setup();
    await expectEnablementRejection(nhi.getKeyBundle(STRANGER.identity), 'PL-404');
    await expectEnablementRejection(nhi.publishPrekeys(STRANGER.identity, fullUpload([1], [1])), 'PL-404');
    await expectEnablementRejection(nhi.getKeyBundle(BOB.identity), 'PL-404'); // nothing published yet
    await nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([1]) });
    await expectEnablementRejection(nhi.getKeyBundle(BOB.identity), 'PL-404'); // no signed prekey yet
    await expectEnablementRejection(nhi.getKeyBundle('agent:nhi:ed25519:bogus'), 'PL-400');
    await nhi.publishPrekeys(BOB.identity, fullUpload([2], [1]));
    await nhi.revoke(BOB.identity);
    await expectEnablementRejection(nhi.getKeyBundle(BOB.identity), 'PL-410');
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([9]) }),
      'PL-410',
    );
  });

  it('bounds per-owner and directory storage', async () => {
    const nhi = await setup({ maxOneTimePrekeys: 5 });
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime(ids(6)) }),
      'PL-400',
    );
    await nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime(ids(4)) });
    await expectEnablementRejection(
      nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([5, 6]) }),
      'PL-409',
    );
    await nhi.publishPrekeys(BOB.identity, { oneTimePrekeys: oneTime([5]) });
    expect((await nhi.prekeyCounts(BOB.identity)).oneTimePrekeys).toBe(5);

    const tiny = await setup({ maxPrekeyBytes: 2_000 });
    await tiny.publishPrekeys(BOB.identity, {
      lastResortKemPrekey: sign('ml-kem-768-last-resort', 1, kemKey(1)),
    });
    const second = sign('ml-kem-768-one-time', 2, kemKey(2));
    await expectEnablementRejection(
      tiny.publishPrekeys(BOB.identity, { oneTimeKemPrekeys: [second] }),
      'PL-409',
    );
    // Replacing the last-resort key frees the old one's bytes, so a rotation still fits.
    await tiny.publishPrekeys(BOB.identity, {
      lastResortKemPrekey: sign('ml-kem-768-last-resort', 3, kemKey(3)),
    });
  });

  it('lets an initiator detect a tampered bundle', async () => {
    const nhi = await setup();
    await nhi.publishPrekeys(BOB.identity, fullUpload([1], [1]));
    const bundle = await nhi.getKeyBundle(BOB.identity);
    const tamper = (patch: Partial<KeyBundle>) => () => verifyKeyBundle({ ...bundle, ...patch });
    expect(tamper({ kemPrekey: { ...bundle.kemPrekey, publicKey: kemKey(99) } })).toThrow(/ML-KEM prekey/);
    expect(tamper({ kemPrekeyKind: 'ml-kem-768-last-resort' })).toThrow(/ML-KEM prekey/);
    expect(tamper({ identity: MALLORY.identity })).toThrow(/signed prekey/);
    const otp = bundle.oneTimePrekey as SignedPrekey;
    expect(tamper({ oneTimePrekey: { ...otp, id: otp.id + 1 } })).toThrow(/one-time prekey/);
    expect(() => verifyKeyBundle(null as never)).toThrow(/bundle/);
  });
});
