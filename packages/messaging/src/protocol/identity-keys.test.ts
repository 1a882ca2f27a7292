import { AgentKeyPair, nobleCryptoProvider as provider } from '@creto/core';
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ed25519PublicKeyToX25519,
  ed25519SecretKeyToX25519,
  x25519IdentityFromAgentSeed,
} from './identity-keys.js';

describe('Ed25519 → X25519 identity keys', () => {
  it('matches @noble/curves ed25519.utils.toMontgomery / toMontgomerySecret and the secret-key map', () => {
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

  it('derives the X25519 identity of an AgentKeyPair.fromSeed identity', () => {
    const seed = new Uint8Array(32).fill(7);
    const agent = AgentKeyPair.fromSeed(seed);
    const x = x25519IdentityFromAgentSeed(provider, seed);
    expect(x.publicKey).toEqual(ed25519PublicKeyToX25519(agent.identity.publicKeyEd25519));
    // both sides of a DH agree
    const other = provider.x25519.generateKeyPair();
    expect(provider.x25519.sharedSecret(x.secretKey, other.publicKey)).toEqual(
      provider.x25519.sharedSecret(other.secretKey, x.publicKey),
    );
  });

  it('rejects malformed keys with MS-400', () => {
    expect(() => ed25519PublicKeyToX25519(new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: 'MS-400' }),
    );
    const neutral = new Uint8Array(32);
    neutral[0] = 1; // y = 1
    expect(() => ed25519PublicKeyToX25519(neutral)).toThrow(/neutral/);
    const nonCanonical = new Uint8Array(32).fill(0xff);
    nonCanonical[31] = 0x7f; // y = 2^255 - 1 ≥ p
    expect(() => ed25519PublicKeyToX25519(nonCanonical)).toThrow(/non-canonical/);
    expect(() => x25519IdentityFromAgentSeed(provider, new Uint8Array(16))).toThrow(/identitySeed/);
  });
});
