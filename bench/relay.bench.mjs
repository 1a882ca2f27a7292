// Messaging relay: throughput with and without per-envelope ML-DSA-65 verification, and the
// sender's signing cost under the two signature policies (every-envelope vs handshake-only).

import { AgentKeyPair, createHybridLogicalClock, createNhiRegistry, registrationProof } from '@creto/core';
import {
  connectInProcessTransport,
  createMessagingRelay,
  encodeEnvelope,
  sealEnvelope,
} from '@creto/messaging';

/** Deterministic bytes, so every run measures the same inputs. */
function pattern(length, salt) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 17) & 0xff;
  return out;
}

/** A clock that stands still: envelopes never expire during the run, and no timer ever fires. */
const stillClock = { now: () => 1_700_000_000_000_000_000n, schedule: () => () => undefined };

/**
 * A seen-id store that forgets everything, so one prepared envelope can be submitted again and
 * again. It removes replay bookkeeping from the measurement (a memory-store lookup, well under a
 * microsecond) and leaves what differs between the policies: signature verification.
 */
const forgetfulStore = {
  begin: async () => ({ status: 'acquired', token: 't' }),
  complete: async () => true,
  release: async () => true,
  get: async () => undefined,
};

const alice = AgentKeyPair.fromSeed(pattern(32, 1), { postQuantum: true });
const bob = AgentKeyPair.fromSeed(pattern(32, 2), { postQuantum: true });
const service = AgentKeyPair.fromSeed(pattern(32, 3), { kind: 'service', postQuantum: true });
const nhi = createNhiRegistry({ clock: stillClock });
for (const pair of [alice, bob])
  await nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
const allow = { check: async () => ({ decision: 'allow', reason: 'bench', policyIds: [] }) };
const nullBus = { publish: async () => ({ stream: 'RECEIPTS', seq: 1, duplicate: false }) };

async function relayOf(signaturePolicy, eventBus) {
  const relay = createMessagingRelay({
    authz: allow,
    nhi,
    clock: stillClock,
    consensus: createHybridLogicalClock({ clock: stillClock }),
    serviceKey: service,
    signaturePolicy,
    replayStore: forgetfulStore,
    ...(eventBus ? { eventBus } : {}),
  });
  await connectInProcessTransport({ relay, keyPair: bob, onEnvelope: () => undefined });
  return relay;
}

const ciphertext = pattern(1024, 4);
const timestamp = stillClock.now();
const base = { sender: alice, recipientNhi: bob.identity.nhi, timestamp, ttlMs: 60_000, ciphertext };
const signedWire = encodeEnvelope(sealEnvelope(base));
const unsignedWire = encodeEnvelope(sealEnvelope({ ...base, sign: false }));

const everyEnvelope = await relayOf('every-envelope');
const handshakeOnly = await relayOf('handshake-only');
const withReceipts = await relayOf('every-envelope', nullBus);
// Under handshake-only, unsigned envelopes need a signed handshake for the pair first.
await handshakeOnly.submit(alice.identity.nhi, encodeEnvelope(sealEnvelope({ ...base, kind: 'handshake' })));

const from = alice.identity.nhi;
let sessionCount = 0;

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'messaging-relay',
    title: 'Messaging relay throughput',
    description: `
One 1 KiB envelope from Alice to a connected Bob through \`createMessagingRelay\`: decode, freshness,
sender check, authz (an allow-all stub), queue and in-process delivery. envelopes/s = 1 / time.
\`every-envelope\` verifies the hybrid signature (Ed25519 + ML-DSA-65) of each envelope;
\`handshake-only\` skips it for \`message\` envelopes (the relay then trusts the authenticated
connection and the recorded handshake). The third variant adds what the relay signs per delivery:
a hybrid-signed \`delivered\` receipt (ML-DSA-65 signing), published to a no-op bus. The seen-id
store is a no-op here so one envelope can be replayed; it is not what the policies change.`,
    baseline: 'every-envelope',
    cases: [
      {
        name: 'relay submit + deliver, 1 KiB',
        variant: 'every-envelope',
        fn: () => everyEnvelope.submit(from, signedWire),
      },
      {
        name: 'relay submit + deliver, 1 KiB',
        variant: 'handshake-only',
        fn: () => handshakeOnly.submit(from, unsignedWire),
      },
      {
        name: 'relay submit + deliver, 1 KiB',
        variant: 'every-envelope + signed receipt',
        fn: () => withReceipts.submit(from, signedWire),
      },
    ],
  },
  {
    id: 'messaging-envelope-signing',
    title: 'Envelope signing cost per policy',
    description: `
What the sender pays per 1 KiB envelope: \`every-envelope\` (spec §3.4 default) signs each one with
the hybrid key (Ed25519 + ML-DSA-65, 3373 bytes added); \`handshake-only\` builds it unsigned (the
Double Ratchet's AEAD authenticates it to the recipient only). "session of 100" is the amortised
per-envelope cost of one signed handshake plus 99 unsigned messages.`,
    baseline: 'every-envelope',
    cases: [
      { name: 'seal envelope, 1 KiB', variant: 'every-envelope', fn: () => sealEnvelope(base) },
      {
        name: 'seal envelope, 1 KiB',
        variant: 'handshake-only',
        fn: () => sealEnvelope({ ...base, sign: false }),
      },
      {
        name: 'seal envelope, 1 KiB',
        variant: 'handshake-only, session of 100',
        // Every 100th call signs a handshake: the mean per call is the amortised cost.
        fn: () =>
          sessionCount++ % 100 === 0
            ? sealEnvelope({ ...base, kind: 'handshake' })
            : sealEnvelope({ ...base, sign: false }),
      },
    ],
  },
];
