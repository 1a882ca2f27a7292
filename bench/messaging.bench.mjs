// Messaging protocol: PQXDH session setup and Double Ratchet encrypt+decrypt, per crypto provider.

import { nobleCryptoProvider } from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';
import { DoubleRatchet, X3DH } from '@creto/messaging';

const KIB = 1024;

/** Deterministic bytes, so every run measures the same inputs. */
function pattern(length, salt) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 17) & 0xff;
  return out;
}

/** Fixtures built once per provider, outside the timed region. */
function fixtures(p) {
  const alice = p.x25519.generateKeyPair(pattern(32, 1));
  const bob = {
    ik: p.x25519.generateKeyPair(pattern(32, 2)),
    spk: p.x25519.generateKeyPair(pattern(32, 3)),
    opk: p.x25519.generateKeyPair(pattern(32, 4)),
    kem: p.mlKem.generateKeyPair('ML-KEM-768', pattern(64, 5)),
  };
  const initiateInput = {
    provider: p,
    identityKey: alice,
    peerIdentityKey: bob.ik.publicKey,
    signedPrekey: { id: 1, publicKey: bob.spk.publicKey },
    oneTimePrekey: { id: 2, publicKey: bob.opk.publicKey },
    kemPrekey: { id: 3, publicKey: bob.kem.publicKey, kind: 'one-time' },
  };
  const init = X3DH.initiate(initiateInput);
  const respondInput = {
    provider: p,
    identityKey: bob.ik,
    initial: init.initial,
    signedPrekey: bob.spk,
    oneTimePrekey: bob.opk,
    kemSecretKey: bob.kem.secretKey,
  };
  // A long-lived pair of ratchets: each timed call is one encrypt by Alice and one decrypt by Bob.
  const sender = DoubleRatchet.initiator(p, init.sharedSecret, bob.spk.publicKey, init.associatedData);
  const receiver = DoubleRatchet.responder(p, init.sharedSecret, bob.spk, init.associatedData);
  return { initiateInput, respondInput, sender, receiver, message: pattern(KIB, 6) };
}

const providers = [
  ['noble', fixtures(nobleCryptoProvider)],
  ['node', fixtures(nodeCryptoProvider)],
];

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'messaging',
    title: 'Messaging: PQXDH and the Double Ratchet',
    description:
      'Session setup is both halves of PQXDH (4 X25519 DH + ML-KEM-768 encapsulation on the initiator, ' +
      '4 DH + decapsulation on the responder, HKDF). A message is one Double Ratchet encrypt and one ' +
      'decrypt of 1 KiB (ChaCha20-Poly1305) in the same chain; envelope signing is measured in the relay suite.',
    baseline: 'noble',
    cases: [
      ...providers.map(([variant, f]) => ({
        name: 'PQXDH initiate (ML-KEM-768, with one-time prekey)',
        variant,
        fn: () => X3DH.initiate(f.initiateInput),
      })),
      ...providers.map(([variant, f]) => ({
        name: 'PQXDH respond',
        variant,
        fn: () => X3DH.respond(f.respondInput),
      })),
      ...providers.map(([variant, f]) => ({
        name: 'Double Ratchet encrypt + decrypt, 1 KiB',
        variant,
        fn: () => f.receiver.decrypt(f.sender.encrypt(f.message)),
      })),
    ],
  },
];
