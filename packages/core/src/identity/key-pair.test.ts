import { inspect } from 'node:util';
import { expectEnablementError } from '@creto/testing';
import { ed25519 as curvesEd25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { base58 } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { AgentIdentity } from './agent-identity.js';
import { AgentKeyPair, KEY_DERIVATION_LABELS } from './key-pair.js';
import { verifyIdentityHybrid, verifyIdentitySignature } from './verify.js';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const MESSAGE = new TextEncoder().encode('delegate payment.approve');

/** Independent derivation with other libraries, to pin the documented labels. */
function expectedSecrets(seed: Uint8Array) {
  const label = (text: string) => new TextEncoder().encode(text);
  const edSecret = hkdf(sha256, seed, new Uint8Array(0), label(KEY_DERIVATION_LABELS.ed25519), 32);
  const mlSeed = hkdf(sha256, seed, new Uint8Array(0), label(KEY_DERIVATION_LABELS.mlDsa65), 32);
  return { edSecret, edPublic: curvesEd25519.getPublicKey(edSecret), ml: ml_dsa65.keygen(mlSeed) };
}

/** A provider that remembers every secret key it was asked to sign with. */
function recordingProvider(): { provider: CryptoProvider; secrets: Uint8Array[] } {
  const secrets: Uint8Array[] = [];
  const base = nobleCryptoProvider;
  const provider: CryptoProvider = {
    ...base,
    ed25519: {
      ...base.ed25519,
      sign(secretKey, message) {
        secrets.push(secretKey);
        return base.ed25519.sign(secretKey, message);
      },
    },
    mlDsa65: {
      ...base.mlDsa65,
      sign(secretKey, message) {
        secrets.push(secretKey);
        return base.mlDsa65.sign(secretKey, message);
      },
    },
  };
  return { provider, secrets };
}

describe('AgentKeyPair.fromSeed', () => {
  it('is deterministic and matches the documented HKDF derivation', () => {
    const a = AgentKeyPair.fromSeed(SEED);
    const b = AgentKeyPair.fromSeed(SEED.slice());
    expect(a.identity.equals(b.identity)).toBe(true);
    // Pinned vector: changing a label or the derivation breaks this on purpose.
    expect(a.identity.nhi).toBe('agent:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP');
    const expected = expectedSecrets(SEED);
    expect(a.identity.publicKeyEd25519).toEqual(expected.edPublic);
    expect(a.sign(MESSAGE)).toEqual(curvesEd25519.sign(MESSAGE, expected.edSecret));
  });

  it('derives the ML-DSA-65 key from its own label', () => {
    const pair = AgentKeyPair.fromSeed(SEED, { postQuantum: true, kind: 'service' });
    const expected = expectedSecrets(SEED);
    expect(pair.identity.kind).toBe('service');
    expect(pair.postQuantum).toBe(true);
    expect(pair.identity.publicKeyMlDsa65).toEqual(expected.ml.publicKey);
    // Same Ed25519 key with or without the post-quantum half.
    expect(pair.identity.publicKeyEd25519).toEqual(AgentKeyPair.fromSeed(SEED).identity.publicKeyEd25519);
  });

  it('gives one key per seed whatever the kind label', () => {
    const human = AgentKeyPair.fromSeed(SEED, { kind: 'human' });
    expect(human.identity.nhi).toBe('human:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP');
  });

  it('gives different keys for different seeds', () => {
    const other = SEED.slice();
    other[31] = 0xff;
    expect(AgentKeyPair.fromSeed(other).identity.nhi).not.toBe(AgentKeyPair.fromSeed(SEED).identity.nhi);
  });

  it('rejects bad seeds and kinds with PL-400', () => {
    expectEnablementError(() => AgentKeyPair.fromSeed(new Uint8Array(31)), 'PL-400');
    expectEnablementError(() => AgentKeyPair.fromSeed(new Uint8Array(33)), 'PL-400');
    expectEnablementError(() => AgentKeyPair.fromSeed(Array.from(SEED) as unknown as Uint8Array), 'PL-400');
    expectEnablementError(() => AgentKeyPair.fromSeed(SEED, { kind: 'root' as 'human' }), 'PL-400');
  });

  it('does not keep a reference to the caller seed', () => {
    const seed = SEED.slice();
    const pair = AgentKeyPair.fromSeed(seed);
    seed.fill(0);
    expect(verifyIdentitySignature(pair.identity, MESSAGE, pair.sign(MESSAGE))).toBe(true);
    expect(pair.identity.nhi).toBe(AgentKeyPair.fromSeed(SEED).identity.nhi);
  });
});

describe('AgentKeyPair.generate', () => {
  it('creates distinct agent key pairs by default', () => {
    const a = AgentKeyPair.generate();
    const b = AgentKeyPair.generate();
    expect(a.identity.kind).toBe('agent');
    expect(a.identity.nhi).not.toBe(b.identity.nhi);
    expect(a.postQuantum).toBe(false);
  });

  it('uses the provider randomness and honours kind and postQuantum', () => {
    const provider: CryptoProvider = { ...nobleCryptoProvider, randomBytes: (n) => SEED.slice(0, n) };
    const pair = AgentKeyPair.generate({ kind: 'human', postQuantum: true, provider });
    expect(
      pair.identity.equals(AgentKeyPair.fromSeed(SEED, { kind: 'human', postQuantum: true }).identity),
    ).toBe(true);
  });
});

describe('signing and verification', () => {
  it('signs with Ed25519 and verifies through the identity or its NHI', () => {
    const pair = AgentKeyPair.fromSeed(SEED);
    const other = AgentKeyPair.generate();
    const signature = pair.sign(MESSAGE);
    expect(signature.length).toBe(64);
    expect(verifyIdentitySignature(pair.identity, MESSAGE, signature)).toBe(true);
    expect(verifyIdentitySignature(pair.identity.nhi, MESSAGE, signature)).toBe(true);
    expect(verifyIdentitySignature(other.identity, MESSAGE, signature)).toBe(false);
    const tampered = MESSAGE.slice();
    tampered[0] = (tampered[0] as number) ^ 1;
    expect(verifyIdentitySignature(pair.identity, tampered, signature)).toBe(false);
    const badSig = signature.slice();
    badSig[63] = (badSig[63] as number) ^ 0x80;
    expect(verifyIdentitySignature(pair.identity, MESSAGE, badSig)).toBe(false);
    expect(verifyIdentitySignature(pair.identity, MESSAGE, signature.subarray(0, 63))).toBe(false);
    expectEnablementError(() => verifyIdentitySignature('not-an-nhi', MESSAGE, signature), 'PL-400');
  });

  it('makes hybrid signatures only with a post-quantum key', () => {
    const classical = AgentKeyPair.fromSeed(SEED);
    expectEnablementError(() => classical.signHybrid(MESSAGE), 'PL-400');

    const pair = AgentKeyPair.fromSeed(SEED, { postQuantum: true });
    const signature = pair.signHybrid(MESSAGE);
    expect(verifyIdentityHybrid(pair.identity, MESSAGE, signature)).toBe(true);
    expect(verifyIdentityHybrid(pair.identity, MESSAGE.subarray(1), signature)).toBe(false);
    const badMl = signature.mlDsa65.slice();
    badMl[10] = (badMl[10] as number) ^ 1;
    expect(verifyIdentityHybrid(pair.identity, MESSAGE, { ...signature, mlDsa65: badMl })).toBe(false);
    // Without the ML-DSA key the identity fails closed rather than accepting Ed25519 alone.
    const classicalView = AgentIdentity.fromNhi(pair.identity.nhi);
    expect(verifyIdentityHybrid(classicalView, MESSAGE, signature)).toBe(false);
    expect(verifyIdentityHybrid(pair.identity.nhi, MESSAGE, signature)).toBe(false);
  });
});

describe('dispose', () => {
  it('zeroizes the secret keys and refuses later use', () => {
    const { provider, secrets } = recordingProvider();
    const pair = AgentKeyPair.fromSeed(SEED, { postQuantum: true, provider });
    pair.signHybrid(MESSAGE);
    expect(secrets).toHaveLength(2);
    expect(secrets.every((s) => s.some((byte) => byte !== 0))).toBe(true);
    expect(pair.disposed).toBe(false);

    pair.dispose();
    expect(pair.disposed).toBe(true);
    expect(secrets.every((s) => s.every((byte) => byte === 0))).toBe(true);
    expectEnablementError(() => pair.sign(MESSAGE), 'PL-400');
    expectEnablementError(() => pair.signHybrid(MESSAGE), 'PL-400');
    expect(() => pair.sign(MESSAGE)).toThrow(/disposed/);
    // Public identity survives, and dispose is idempotent.
    expect(pair.identity.nhi).toMatch(/^agent:nhi:ed25519:/);
    expect(() => pair.dispose()).not.toThrow();
  });
});

describe('secret keys never leak', () => {
  it('through JSON, toString, inspect or enumeration', () => {
    const pair = AgentKeyPair.fromSeed(SEED, { postQuantum: true });
    const { edSecret, ml } = expectedSecrets(SEED);
    const nhi = pair.identity.nhi;
    const outputs = [
      JSON.stringify(pair),
      JSON.stringify({ pair }),
      String(pair),
      `${pair}`,
      inspect(pair),
      inspect(pair, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
      inspect(pair, { customInspect: false, showHidden: true, depth: Number.POSITIVE_INFINITY }),
      inspect({ nested: [pair] }, { depth: Number.POSITIVE_INFINITY }),
      JSON.stringify(Object.entries(pair)),
    ];
    const secretForms = [
      Buffer.from(edSecret).toString('hex'),
      Buffer.from(edSecret).toString('base64'),
      Buffer.from(edSecret).toString('base64url'),
      base58.encode(edSecret),
      Buffer.from(ml.secretKey.subarray(0, 32)).toString('hex'),
      Buffer.from(ml.secretKey.subarray(0, 32)).toString('base64'),
    ];
    for (const output of outputs) {
      for (const secret of secretForms) expect(output).not.toContain(secret);
      expect(output).not.toMatch(/Uint8Array\((32|4032)\)/);
    }
    expect(JSON.parse(JSON.stringify(pair))).toEqual({ nhi });
    expect(inspect(pair)).toBe(`AgentKeyPair(${nhi})`);
    expect(Object.keys(pair)).toEqual(['identity']);
    expect(Object.isFrozen(pair)).toBe(true);
  });

  it('keeps secrets out of error messages', () => {
    const pair = AgentKeyPair.fromSeed(SEED);
    pair.dispose();
    try {
      pair.sign(MESSAGE);
    } catch (error) {
      expect(JSON.stringify(error)).not.toContain(
        Buffer.from(expectedSecrets(SEED).edSecret).toString('hex'),
      );
      return;
    }
    throw new Error('expected a throw');
  });
});
