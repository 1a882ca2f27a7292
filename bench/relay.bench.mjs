// Messaging relay: throughput with and without per-envelope ML-DSA-65 verification, and the
// sender's signing cost under the two signature policies (every-envelope vs handshake-only).

import {
  connectInProcessTransport,
  createMessagingRelay,
  encodeEnvelope,
  sealEnvelope,
} from '@creto/messaging';
import {
  forgetfulStore,
  nullBus,
  pattern,
  relayOptions,
  relayParties,
  stillClock,
} from './relay-fixtures.mjs';

const parties = await relayParties();
const { alice, bob } = parties;

async function relayOf(signaturePolicy, eventBus) {
  const relay = createMessagingRelay(
    relayOptions(parties, {
      signaturePolicy,
      replayStore: forgetfulStore,
      ...(eventBus ? { eventBus } : {}),
    }),
  );
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
