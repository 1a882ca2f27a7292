// NHI registry hot paths against the spec §3.1 SLAs: key lookup < 5 ms, signature verification
// < 2 ms, delegation validation < 10 ms (p99).

import {
  AgentIdentity,
  AgentKeyPair,
  createNhiRegistry,
  issueDelegation,
  nobleCryptoProvider,
  registrationProof,
  signPrekey,
  systemClock,
} from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';

const HOUR = 3_600_000_000_000n;

/** Deterministic bytes, so every run measures the same inputs. */
function pattern(length, salt) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 17) & 0xff;
  return out;
}

/** A distinct 32-byte seed per integer. */
function seedOf(n) {
  const seed = new Uint8Array(32).fill(0xa5);
  new DataView(seed.buffer).setUint32(0, n);
  return seed;
}

const pair = (n, kind = 'agent', postQuantum = false) =>
  AgentKeyPair.fromSeed(seedOf(n), { kind, postQuantum });

const human = pair(1, 'human');
const agents = [pair(2), pair(3), pair(4)];
const pq = pair(5, 'agent', true);
const message = pattern(1024, 6);
const edSignature = agents[0].sign(message);
const hybridSignature = pq.signHybrid(message);

// 10 000 more principals, so lookups run against a realistically sized map.
const filler = Array.from({ length: 10_000 }, (_, i) =>
  AgentIdentity.fromPublicKeys('agent', nobleCryptoProvider.ed25519.publicKey(seedOf(1_000 + i))),
);

async function prepare(provider) {
  const nhi = createNhiRegistry({ clock: systemClock, provider, maxPrincipals: 20_000 });
  await nhi.register({ identity: human.identity, roles: ['finance-approver'] });
  for (const agent of agents) await nhi.register({ identity: agent.identity });
  await nhi.register({ identity: pq.identity, proof: registrationProof(pq) });
  for (const identity of filler) await nhi.register({ identity });
  const now = systemClock.now();
  const link = (issuer, subject, action) =>
    issueDelegation({
      issuer,
      subject: subject.identity,
      capabilities: [{ action, resource: 'invoice:*' }],
      expiresAt: now + 24n * HOUR,
      clock: systemClock,
    });
  const chain = [
    link(human, agents[0], 'payment.*'),
    link(agents[0], agents[1], 'payment.approve'),
    link(agents[1], agents[2], 'payment.approve'),
  ];
  // A bundle with no one-time prekeys left: every request takes the last-resort path, so the
  // benchmark measures a steady state instead of draining a finite pool.
  const spk = provider.x25519.generateKeyPair(pattern(32, 7)).publicKey;
  const kem = provider.mlKem.generateKeyPair('ML-KEM-768', pattern(64, 8)).publicKey;
  await nhi.publishPrekeys(agents[2].identity, {
    signedPrekey: signPrekey(agents[2], 'x25519-signed', 1, spk),
    lastResortKemPrekey: signPrekey(agents[2], 'ml-kem-768-last-resort', 1, kem),
  });
  return { nhi, chain };
}

const noble = await prepare(nobleCryptoProvider);
const node = await prepare(nodeCryptoProvider);
const target = agents[2].identity.nhi;

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'nhi',
    title: 'NHI registry (spec §3.1)',
    description:
      'In-process registry holding 10 000 principals. Spec §3.1 targets (p99): key lookup < 5 ms, ' +
      'signature verification < 2 ms, delegation validation < 10 ms. Signature and delegation cases ' +
      'run on a registry built with each crypto provider (`noble`, pure JavaScript; `node`, ' +
      '`node:crypto` for the classical primitives). The delegation chain is human → agent → agent → ' +
      'agent (3 links): 3 Ed25519 verifications, attenuation, time, 7 revocation look-ups and the ' +
      'root-registration check.',
    baseline: 'noble',
    cases: [
      { name: 'lookupSync (key lookup)', fn: () => noble.nhi.lookupSync(target) },
      { name: 'lookup (async port)', fn: () => noble.nhi.lookup(target) },
      {
        name: 'validateSignature, Ed25519, 1 KiB',
        variant: 'noble',
        fn: () => noble.nhi.validateSignatureSync(agents[0].identity.nhi, message, edSignature),
      },
      {
        name: 'validateSignature, Ed25519, 1 KiB',
        variant: 'node',
        fn: () => node.nhi.validateSignatureSync(agents[0].identity.nhi, message, edSignature),
      },
      {
        name: 'validateHybridSignature, 1 KiB',
        variant: 'noble',
        fn: () => noble.nhi.validateHybridSignatureSync(pq.identity.nhi, message, hybridSignature),
      },
      {
        name: 'validateHybridSignature, 1 KiB',
        variant: 'node',
        fn: () => node.nhi.validateHybridSignatureSync(pq.identity.nhi, message, hybridSignature),
      },
      {
        name: 'validateDelegationChain, 3 links (async port)',
        variant: 'noble',
        fn: () => noble.nhi.validateDelegationChain(noble.chain),
      },
      {
        name: 'validateDelegationChain, 3 links (async port)',
        variant: 'node',
        fn: () => node.nhi.validateDelegationChain(node.chain),
      },
      {
        name: 'validateDelegationChainSync, 3 links',
        variant: 'noble',
        fn: () => noble.nhi.validateDelegationChainSync(noble.chain),
      },
      {
        name: 'validateDelegationChainSync, 3 links',
        variant: 'node',
        fn: () => node.nhi.validateDelegationChainSync(node.chain),
      },
      { name: 'getKeyBundleSync (last-resort path)', fn: () => noble.nhi.getKeyBundleSync(target) },
    ],
  },
];
