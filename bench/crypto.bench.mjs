// Crypto providers: node:crypto-accelerated vs pure-JavaScript noble, operation by operation.

import { generateHybridKeyPair, nobleCryptoProvider, signHybrid, verifyHybrid } from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';

const KIB = 1024;

/** Deterministic bytes, so every run measures the same inputs. */
function pattern(length, salt) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 17) & 0xff;
  return out;
}

/** Fixtures built once per provider, outside the timed region. */
function fixtures(p) {
  const message = pattern(KIB, 1);
  const ed = p.ed25519.generateKeyPair(pattern(32, 2));
  const edSignature = p.ed25519.sign(ed.secretKey, message);
  const badSignature = edSignature.slice();
  badSignature[0] ^= 1; // well-formed but wrong: the node provider's slow (fallback) path
  const alice = p.x25519.generateKeyPair(pattern(32, 3));
  const bob = p.x25519.generateKeyPair(pattern(32, 4));
  const key = pattern(32, 5);
  const nonce = pattern(12, 6);
  const aad = pattern(32, 7);
  const sealed = {
    'chacha20-poly1305': p.aead.seal('chacha20-poly1305', key, nonce, message, aad),
    'aes-256-gcm': p.aead.seal('aes-256-gcm', key, nonce, message, aad),
  };
  const ml = p.mlDsa65.generateKeyPair(pattern(32, 8));
  const mlSignature = p.mlDsa65.sign(ml.secretKey, message);
  const kem = p.mlKem.generateKeyPair('ML-KEM-768', pattern(64, 9));
  const encapsulation = p.mlKem.encapsulate(kem.publicKey, 'ML-KEM-768');
  const hybrid = generateHybridKeyPair(p, { ed25519: pattern(32, 10), mlDsa65: pattern(32, 11) });
  const hybridSignature = signHybrid(p, hybrid.secretKey, message);
  return {
    ...{ message, ed, edSignature, badSignature, alice, bob, key, nonce, aad, sealed },
    ...{ ml, mlSignature, kem, encapsulation, hybrid, hybridSignature },
  };
}

/** [operation name, (provider, fixtures) => () => unknown] in report order. */
const operations = [
  ['SHA-256, 1 KiB', (p, f) => () => p.sha256(f.message)],
  ['HMAC-SHA-256, 1 KiB', (p, f) => () => p.hmacSha256(f.key, f.message)],
  ['HKDF-SHA-256, 32 B out', (p, f) => () => p.hkdfSha256(f.key, f.nonce, f.aad, 32)],
  ['Ed25519 sign, 1 KiB', (p, f) => () => p.ed25519.sign(f.ed.secretKey, f.message)],
  ['Ed25519 verify, 1 KiB', (p, f) => () => p.ed25519.verify(f.ed.publicKey, f.message, f.edSignature)],
  [
    'Ed25519 verify, bad signature',
    (p, f) => () => p.ed25519.verify(f.ed.publicKey, f.message, f.badSignature),
  ],
  ['X25519 shared secret', (p, f) => () => p.x25519.sharedSecret(f.alice.secretKey, f.bob.publicKey)],
  [
    'ChaCha20-Poly1305 seal, 1 KiB',
    (p, f) => () => p.aead.seal('chacha20-poly1305', f.key, f.nonce, f.message, f.aad),
  ],
  [
    'ChaCha20-Poly1305 open, 1 KiB',
    (p, f) => () => p.aead.open('chacha20-poly1305', f.key, f.nonce, f.sealed['chacha20-poly1305'], f.aad),
  ],
  ['AES-256-GCM seal, 1 KiB', (p, f) => () => p.aead.seal('aes-256-gcm', f.key, f.nonce, f.message, f.aad)],
  [
    'AES-256-GCM open, 1 KiB',
    (p, f) => () => p.aead.open('aes-256-gcm', f.key, f.nonce, f.sealed['aes-256-gcm'], f.aad),
  ],
  ['ML-DSA-65 sign, 1 KiB', (p, f) => () => p.mlDsa65.sign(f.ml.secretKey, f.message)],
  ['ML-DSA-65 verify, 1 KiB', (p, f) => () => p.mlDsa65.verify(f.ml.publicKey, f.message, f.mlSignature)],
  ['ML-KEM-768 encapsulate', (p, f) => () => p.mlKem.encapsulate(f.kem.publicKey, 'ML-KEM-768')],
  [
    'ML-KEM-768 decapsulate',
    (p, f) => () => p.mlKem.decapsulate(f.encapsulation.cipherText, f.kem.secretKey, 'ML-KEM-768'),
  ],
  ['Hybrid sign, 1 KiB', (p, f) => () => signHybrid(p, f.hybrid.secretKey, f.message)],
  ['Hybrid verify, 1 KiB', (p, f) => () => verifyHybrid(p, f.hybrid.publicKey, f.message, f.hybridSignature)],
];

const providers = [nobleCryptoProvider, nodeCryptoProvider];
const prepared = new Map(providers.map((p) => [p, fixtures(p)]));

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'crypto',
    title: 'Crypto providers',
    description: `
Both \`CryptoProvider\`s of \`@creto/core\`: \`noble\` (pure JavaScript, portable) and \`node\`
(\`node:crypto\`/OpenSSL for SHA-2, HMAC, HKDF, Ed25519, X25519 and the AEADs). The node provider
delegates ML-DSA-65 and ML-KEM to noble, so those rows (and most of the hybrid cost) should show a
ratio near 1: how far they stray from 1 shows the noise of this run. The node provider imports raw
keys into OpenSSL on every call (no key cache), and "Ed25519 verify, bad signature" shows its
fallback: a signature OpenSSL rejects is re-checked by noble's cofactored equation, so both
providers give the same RFC 8032 strict answer.`,
    baseline: 'noble',
    // Operations interleave the providers, so drift during the run affects both sides alike.
    cases: operations.flatMap(([name, make]) =>
      providers.map((p) => ({ name, variant: p.name, fn: make(p, prepared.get(p)) })),
    ),
  },
];
