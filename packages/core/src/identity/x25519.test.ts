import { expectEnablementError } from '@creto/testing';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider as provider } from '../crypto/noble.js';
import { bytesToHex, hexToBytes } from '../encoding/index.js';
import { AgentIdentity } from './agent-identity.js';
import { AgentKeyPair, KEY_DERIVATION_LABELS } from './key-pair.js';
import { ed25519PublicKeyToX25519, ed25519SecretKeyToX25519 } from './x25519.js';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('Ed25519 → X25519', () => {
  it('matches @noble/curves toMontgomery / toMontgomerySecret for random secrets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (secret) => {
        const ed = provider.ed25519.generateKeyPair(secret);
        const x = ed25519SecretKeyToX25519(provider, secret);
        const fromPublic = ed25519PublicKeyToX25519(ed.publicKey);
        expect(fromPublic).toEqual(ed25519.utils.toMontgomery(ed.publicKey));
        expect(x.secretKey).toEqual(ed25519.utils.toMontgomerySecret(secret));
        expect(x.publicKey).toEqual(fromPublic);
      }),
      { numRuns: 50 },
    );
  });

  it('known answer: libsodium test/default/ed25519_convert', () => {
    const secret = hexToBytes('421151a459faeade3d247115f94aedae42318124095afabe4d1451a559faedee');
    const publicKey = hexToBytes('b5076a8474a832daee4dd5b4040983b6623b5f344aca57d4d6ee4baf3f259e6e');
    expect(bytesToHex(ed25519PublicKeyToX25519(publicKey))).toBe(
      'f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50',
    );
    const x = ed25519SecretKeyToX25519(provider, secret);
    expect(bytesToHex(x.secretKey)).toBe('8052030376d47112be7f73ed7a019293dd12ad910b654455798b4667d73de166');
    expect(bytesToHex(x.publicKey)).toBe('f1814f0e8ff1043d8a44d25babff3cedcae6c22c3edaa48f857ae70de2baae50');
  });

  it('rejects malformed public keys with PL-400', () => {
    expectEnablementError(() => ed25519PublicKeyToX25519(new Uint8Array(31)), 'PL-400');
    const neutral = new Uint8Array(32);
    neutral[0] = 1; // y = 1
    expect(() => ed25519PublicKeyToX25519(neutral)).toThrow(/neutral/);
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[31] = 0x7f; // y = 2^255 − 1 ≥ p
    expect(() => ed25519PublicKeyToX25519(nonCanonical)).toThrow(/non-canonical/);
    expectEnablementError(() => ed25519SecretKeyToX25519(provider, new Uint8Array(16)), 'PL-400');
  });
});

describe('AgentKeyPair.x25519KeyPair / AgentIdentity.x25519PublicKey', () => {
  it('known answer for the fromSeed(0..31) identity (independent HKDF + noble derivation)', () => {
    const pair = AgentKeyPair.fromSeed(SEED);
    const x = pair.x25519KeyPair();
    expect(bytesToHex(x.secretKey)).toBe('c010c771434db1efa19ad4e8f2745e34bf64b728f0a4348ce4bc012cae88d844');
    expect(bytesToHex(x.publicKey)).toBe('1654f0e517baeb1f715416a1cdad241835276fd1ad723b827abfb7014275c012');
    const edSecret = hkdf(
      sha256,
      SEED,
      new Uint8Array(0),
      new TextEncoder().encode(KEY_DERIVATION_LABELS.ed25519),
      32,
    );
    expect(x.secretKey).toEqual(ed25519.utils.toMontgomerySecret(edSecret));
    expect(pair.identity.x25519PublicKey()).toEqual(x.publicKey);
  });

  it('matches the public conversion, agrees in DH, and hands out fresh buffers', () => {
    const pair = AgentKeyPair.generate();
    const a = pair.x25519KeyPair();
    const b = pair.x25519KeyPair();
    expect(a.secretKey).toEqual(b.secretKey);
    expect(a.secretKey).not.toBe(b.secretKey);
    a.secretKey.fill(0); // the caller zeroizes its copy; the pair is unaffected
    expect(pair.x25519KeyPair().secretKey).toEqual(b.secretKey);
    const fromNhi = AgentIdentity.fromNhi(pair.identity.nhi).x25519PublicKey();
    expect(fromNhi).toEqual(ed25519PublicKeyToX25519(pair.identity.publicKeyEd25519));
    expect(fromNhi).toEqual(b.publicKey);
    const other = provider.x25519.generateKeyPair();
    expect(provider.x25519.sharedSecret(b.secretKey, other.publicKey)).toEqual(
      provider.x25519.sharedSecret(other.secretKey, fromNhi),
    );
  });

  it('throws PL-400 after dispose', () => {
    const pair = AgentKeyPair.generate();
    pair.dispose();
    expectEnablementError(() => pair.x25519KeyPair(), 'PL-400');
    expect(pair.identity.x25519PublicKey()).toHaveLength(32);
  });
});
