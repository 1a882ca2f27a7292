// Fixtures of the messaging relay benchmarks (relay.bench.mjs, postgres.bench.mjs): deterministic
// bytes, a clock that stands still, two registered agents and the relay's service key, and the
// stubs that keep authz and the bus out of the measurement. Not a suite (run.mjs loads only
// *.bench.mjs files).

import { AgentKeyPair, createHybridLogicalClock, createNhiRegistry, registrationProof } from '@creto/core';

/** Deterministic bytes, so every run measures the same inputs. */
export function pattern(length, salt) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt * 17) & 0xff;
  return out;
}

/** A clock that stands still: envelopes never expire during the run, and no timer ever fires. */
export const stillClock = { now: () => 1_700_000_000_000_000_000n, schedule: () => () => undefined };

/**
 * A seen-id store that forgets everything, so one prepared envelope can be submitted again and
 * again. It removes replay bookkeeping from the measurement (a memory-store lookup, well under a
 * microsecond).
 */
export const forgetfulStore = {
  begin: async () => ({ status: 'acquired', token: 't' }),
  complete: async () => true,
  release: async () => true,
  get: async () => undefined,
};

/** Authz that allows everything: the policy engine has its own suite. */
export const allow = { check: async () => ({ decision: 'allow', reason: 'bench', policyIds: [] }) };

/** An event bus that accepts and drops every publication (receipts cost their signing only). */
export const nullBus = { publish: async () => ({ stream: 'RECEIPTS', seq: 1, duplicate: false }) };

let parties;

/**
 * Alice and Bob (agents with ML-DSA-65 keys, registered in an NHI registry on `stillClock`) and
 * the relay's service key, from fixed seeds. Built once, on the first call: post-quantum key
 * generation and registration take milliseconds, and run.mjs imports every bench file even for
 * a filtered run.
 * @returns {Promise<{ alice: AgentKeyPair, bob: AgentKeyPair, service: AgentKeyPair, nhi: ReturnType<typeof createNhiRegistry> }>}
 */
export function relayParties() {
  parties ??= (async () => {
    const alice = AgentKeyPair.fromSeed(pattern(32, 1), { postQuantum: true });
    const bob = AgentKeyPair.fromSeed(pattern(32, 2), { postQuantum: true });
    const service = AgentKeyPair.fromSeed(pattern(32, 3), { kind: 'service', postQuantum: true });
    const nhi = createNhiRegistry({ clock: stillClock });
    for (const pair of [alice, bob])
      await nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
    return { alice, bob, service, nhi };
  })();
  return parties;
}

/**
 * The options every bench relay shares (allow-all authz, the registry, `stillClock` and a hybrid
 * logical clock on it, the service key); `extra` adds or overrides.
 */
export function relayOptions({ nhi, service }, extra = {}) {
  return {
    authz: allow,
    nhi,
    clock: stillClock,
    consensus: createHybridLogicalClock({ clock: stillClock }),
    serviceKey: service,
    ...extra,
  };
}
