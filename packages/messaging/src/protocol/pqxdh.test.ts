import {
  AgentKeyPair,
  createNhiRegistry,
  type KeyPair,
  nobleCryptoProvider as provider,
  signPrekey,
} from '@creto/core';
import { describe, expect, it } from 'vitest';
import { keyAgreementInfo, X3DH } from './pqxdh.js';

const x = () => provider.x25519.generateKeyPair();

function responder() {
  return {
    ik: x(),
    spk: x(),
    opk: x(),
    kem: provider.mlKem.generateKeyPair('ML-KEM-768'),
  };
}

describe('X3DH / PQXDH', () => {
  it('both sides derive the same SK and AD (with and without a one-time prekey)', () => {
    const alice = x();
    const bob = responder();
    for (const withOpk of [true, false]) {
      const init = X3DH.initiate({
        provider,
        identityKey: alice,
        peerIdentityKey: bob.ik.publicKey,
        signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
        ...(withOpk ? { oneTimePrekey: { id: 9, publicKey: bob.opk.publicKey } } : {}),
        kemPrekey: { id: 4, publicKey: bob.kem.publicKey, kind: 'one-time' },
      });
      expect(init.initial.protocol).toBe('PQXDH');
      expect(init.initial.oneTimePrekeyId).toBe(withOpk ? 9 : undefined);
      expect(init.initial.kem?.cipherText.length).toBe(1088);
      const resp = X3DH.respond({
        provider,
        identityKey: bob.ik,
        initial: init.initial,
        signedPrekey: bob.spk,
        ...(withOpk ? { oneTimePrekey: bob.opk } : {}),
        kemSecretKey: bob.kem.secretKey,
      });
      expect(resp.sharedSecret).toEqual(init.sharedSecret);
      expect(resp.associatedData).toEqual(init.associatedData);
      expect(init.associatedData.length).toBe(66);
    }
  });

  it('supports ML-KEM-1024 with its own info string', () => {
    const alice = x();
    const bob = responder();
    const kem = provider.mlKem.generateKeyPair('ML-KEM-1024');
    const init = X3DH.initiate({
      provider,
      identityKey: alice,
      peerIdentityKey: bob.ik.publicKey,
      signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
      kemPrekey: { id: 2, publicKey: kem.publicKey, kind: 'last-resort', algorithm: 'ML-KEM-1024' },
    });
    expect(init.initial.kem?.cipherText.length).toBe(1568);
    const resp = X3DH.respond({
      provider,
      identityKey: bob.ik,
      initial: init.initial,
      signedPrekey: bob.spk,
      kemSecretKey: kem.secretKey,
    });
    expect(resp.sharedSecret).toEqual(init.sharedSecret);
    expect(keyAgreementInfo('PQXDH', 'ML-KEM-1024')).toBe('Creto_CURVE25519_SHA-256_ML-KEM-1024');
  });

  it('refuses the X3DH downgrade by default on both sides (MS-403), allows it only by policy', () => {
    const alice = x();
    const bob = responder();
    const base = {
      provider,
      identityKey: alice,
      peerIdentityKey: bob.ik.publicKey,
      signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
    };
    expect(() => X3DH.initiate(base)).toThrow(expect.objectContaining({ code: 'MS-403' }));
    const init = X3DH.initiate({ ...base, allowX3dhFallback: true });
    expect(init.initial.protocol).toBe('X3DH');
    const respondInput = { provider, identityKey: bob.ik, initial: init.initial, signedPrekey: bob.spk };
    expect(() => X3DH.respond(respondInput)).toThrow(expect.objectContaining({ code: 'MS-403' }));
    expect(X3DH.respond({ ...respondInput, allowX3dhFallback: true }).sharedSecret).toEqual(
      init.sharedSecret,
    );
  });

  it('a stripped KEM step or a tampered cipher text never yields the same key', () => {
    const alice = x();
    const bob = responder();
    const init = X3DH.initiate({
      provider,
      identityKey: alice,
      peerIdentityKey: bob.ik.publicKey,
      signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
      kemPrekey: { id: 4, publicKey: bob.kem.publicKey, kind: 'one-time' },
    });
    const { kem, ...stripped } = init.initial;
    // an attacker relabels the message as X3DH: refused unless allowed, and even then SK differs
    expect(() =>
      X3DH.respond({
        provider,
        identityKey: bob.ik,
        initial: { ...stripped, protocol: 'X3DH' },
        signedPrekey: bob.spk,
      }),
    ).toThrow(expect.objectContaining({ code: 'MS-403' }));
    const downgraded = X3DH.respond({
      provider,
      identityKey: bob.ik,
      initial: { ...stripped, protocol: 'X3DH' },
      signedPrekey: bob.spk,
      allowX3dhFallback: true,
    });
    expect(downgraded.sharedSecret).not.toEqual(init.sharedSecret);
    expect(() =>
      X3DH.respond({
        provider,
        identityKey: bob.ik,
        initial: stripped,
        signedPrekey: bob.spk,
        kemSecretKey: bob.kem.secretKey,
      }),
    ).toThrow(expect.objectContaining({ code: 'MS-400' }));
    if (kem === undefined) throw new Error('kem expected');
    const ct = kem.cipherText.slice();
    ct[0] = (ct[0] ?? 0) ^ 1;
    const tampered = X3DH.respond({
      provider,
      identityKey: bob.ik,
      initial: { ...init.initial, kem: { ...kem, cipherText: ct } },
      signedPrekey: bob.spk,
      kemSecretKey: bob.kem.secretKey,
    });
    expect(tampered.sharedSecret).not.toEqual(init.sharedSecret);
  });

  it('a wrong responder identity (wrong recipient) derives a different key', () => {
    const alice = x();
    const bob = responder();
    const mallory: KeyPair = x();
    const init = X3DH.initiate({
      provider,
      identityKey: alice,
      peerIdentityKey: bob.ik.publicKey,
      signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
      kemPrekey: { id: 4, publicKey: bob.kem.publicKey, kind: 'one-time' },
    });
    const resp = X3DH.respond({
      provider,
      identityKey: mallory,
      initial: init.initial,
      signedPrekey: bob.spk,
      kemSecretKey: bob.kem.secretKey,
    });
    expect(resp.sharedSecret).not.toEqual(init.sharedSecret);
  });

  it('initiateFromBundle verifies prekey signatures from the NHI directory before use', async () => {
    const nhi = createNhiRegistry({ provider });
    const seed = new Uint8Array(32).fill(3);
    const bobPair = AgentKeyPair.fromSeed(seed);
    await nhi.register({ identity: bobPair.identity });
    const spk = x();
    const kem = provider.mlKem.generateKeyPair('ML-KEM-768');
    await nhi.publishPrekeys(bobPair.identity.nhi, {
      signedPrekey: signPrekey(bobPair, 'x25519-signed', 1, spk.publicKey),
      lastResortKemPrekey: signPrekey(bobPair, 'ml-kem-768-last-resort', 1, kem.publicKey),
    });
    const bundle = await nhi.getKeyBundle(bobPair.identity.nhi);
    const alice = x();
    const init = X3DH.initiateFromBundle({ provider, identityKey: alice, bundle });
    expect(init.initial.kem?.prekeyKind).toBe('last-resort');
    const bobIk = bobPair.x25519KeyPair();
    expect(bobIk.publicKey).toEqual(bobPair.identity.x25519PublicKey());
    const resp = X3DH.respond({
      provider,
      identityKey: bobIk,
      initial: init.initial,
      signedPrekey: spk,
      kemSecretKey: kem.secretKey,
    });
    expect(resp.sharedSecret).toEqual(init.sharedSecret);

    // a substituted signed prekey fails verification (PL-401) before any DH is computed
    const forged = { ...bundle, signedPrekey: { ...bundle.signedPrekey, publicKey: x().publicKey } };
    expect(() => X3DH.initiateFromBundle({ provider, identityKey: alice, bundle: forged })).toThrow(
      expect.objectContaining({ code: 'PL-401' }),
    );
  });
});
