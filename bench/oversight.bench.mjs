// Oversight engine: request creation throughput, decision-to-wakeup latency (a signed approval
// submitted → the awaitApproval promise resolved), and the memory held by 100 000 pending
// requests with their deadline timers, plus the time to restore them after a restart.

import {
  AgentKeyPair,
  createMemoryIdempotencyStore,
  createNhiRegistry,
  nobleCryptoProvider,
} from '@creto/core';
import { nodeCryptoProvider } from '@creto/core/crypto/node';
import { createMemoryOversightStore, createOversight, signApprovalResponse } from '@creto/oversight';

const quick = process.argv.includes('--quick');

/**
 * A clock that moves only when told and whose timers never fire: deadlines (hours away) are held
 * by the engine's scheduler as in production, but nothing escalates during a measurement.
 */
function manualClock(start = 1_767_225_600_000_000_000n) {
  let now = start;
  return {
    now: () => now,
    step: (ns) => {
      now += ns;
    },
    schedule: () => () => {},
  };
}

const seed = (n) => new Uint8Array(32).fill(n);
const agent = AgentKeyPair.fromSeed(seed(2));
const cfo = AgentKeyPair.fromSeed(seed(3), { kind: 'human' });
/** The crypto provider behind the NHI registry (response verification) and the token signer. */
const providers = { noble: nobleCryptoProvider, node: nodeCryptoProvider };
const notifier = {
  notify: async (n) => ({ notificationId: n.id, status: 'delivered', channel: 'bench' }),
};

async function setup(maxOpenRequests, provider = nobleCryptoProvider) {
  const clock = manualClock();
  const nhi = createNhiRegistry({ clock, provider });
  const serviceKey = AgentKeyPair.fromSeed(seed(1), { kind: 'service', provider });
  for (const key of [serviceKey, agent, cfo]) await nhi.register({ identity: key.identity });
  const store = createMemoryOversightStore({ maxRequests: maxOpenRequests });
  const idempotencyStore = createMemoryIdempotencyStore({ clock, maxKeys: maxOpenRequests });
  const make = () =>
    createOversight({
      nhi,
      serviceKey,
      clock,
      store,
      idempotencyStore,
      notifier,
      reasoningLimit: 0,
      maxOpenRequests,
    });
  const engine = make();
  await engine.start();
  return { clock, engine, make, store };
}

let seq = 0;
function request(tiers = [{ approvers: [cfo.identity.nhi], quorum: 1, timeoutMs: 7_200_000 }]) {
  seq += 1;
  return {
    agentNhi: agent.identity.nhi,
    delegationChain: [],
    action: { name: 'funds.transfer', parameters: { amount: 50000, currency: 'USD', invoice: `INV-${seq}` } },
    resource: { resourceType: 'payments', resourceId: `account:${seq}` },
    policyId: 'large_transfer',
    requirement: { tiers, finalAction: 'auto_deny' },
    actionDescription: 'Transfer 50,000 USD to vendor ACME',
    riskFactors: [{ name: 'large_transfer', severity: 'high', description: 'Above the 10,000 USD limit' }],
  };
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const heap = () => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
};
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** What the one-off measurements found (filled by `prepare`, read when the section is rendered). */
const measured = {};

/**
 * The one-off measurements and the fixtures of the timed cases. `run.mjs` imports every suite
 * file, even to run or list another suite, so nothing heavy happens at import: the first call of
 * the first case (untimed: the harness only uses it to tell a sync case from an async one) runs
 * this once.
 */
async function doPrepare() {
  // Decision-to-wakeup latency, measured directly (the harness would time the setup too).
  measured.wakeups = {};
  for (const [name, provider] of Object.entries(providers)) {
    const latency = await setup(1_000_000, provider);
    const wakeups = [];
    for (let i = 0; i < (quick ? 50 : 1000); i++) {
      const { requestId } = await latency.engine.createRequest(request());
      const waiting = latency.engine.awaitApproval(requestId);
      const signed = signApprovalResponse(cfo, {
        requestId,
        decision: 'APPROVE',
        respondedAt: latency.clock.now(),
      });
      const t0 = process.hrtime.bigint();
      await latency.engine.submitResponse(signed);
      await waiting;
      wakeups.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    await latency.engine.close();
    measured.wakeups[name] = wakeups.sort((a, b) => a - b);
  }

  // 100 000 pending requests with deadline timers: heap per request, restore time.
  const pendingCount = quick ? 10_000 : 100_000;
  const before = heap();
  const pending = await setup(pendingCount);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < pendingCount; i++) await pending.engine.createRequest(request());
  measured.createMs = Number(process.hrtime.bigint() - t0) / 1e6;
  measured.heapBytes = heap() - before;
  measured.timers = pending.engine.stats().timers;
  measured.pendingCount = pendingCount;
  await pending.engine.close();
  const restarted = pending.make();
  const t1 = process.hrtime.bigint();
  measured.report = await restarted.start();
  measured.restoreMs = Number(process.hrtime.bigint() - t1) / 1e6;
  await restarted.close();

  return {
    throughput: await setup(2_000_000),
    cycle: { noble: await setup(2_000_000), node: await setup(2_000_000, nodeCryptoProvider) },
  };
}

let prepared;
const prepare = () => {
  prepared ??= doPrepare();
  return prepared;
};
let fixtures;

function describe() {
  const intro = `
In-process engine over the in-memory store, the in-process NHI registry and a no-op notifier; no
audit log and no memory service (reasoning fetch disabled), so the rows measure the engine itself.
Approver responses are Ed25519-signed.

- *createRequest*: validation, agent lookup, idempotency key (SHA-256 of agent, action, resource
  and parameters) and guard, store insert, deadline timer, one notification, the notified-tier
  commit. A new resource each call, so every call creates a request.
- *full decision cycle*: createRequest, awaitApproval, sign an approval, submitResponse, the waiter
  resolved with an override token (includes the Ed25519 signing and verification and the token
  signature); variants: the crypto provider of the NHI registry and the Oversight service key.`;
  const { wakeups, pendingCount, heapBytes, timers, createMs, report, restoreMs } = measured;
  if (wakeups === undefined) return intro;
  return `${intro}
- **Decision-to-wakeup latency** (submitResponse called → awaitApproval resolved: signature
  verification, quorum, token issue and store commit included; ${wakeups.noble.length} decisions
  each, measured directly): with the default noble provider median
  ${percentile(wakeups.noble, 50).toFixed(0)} µs, p99 ${percentile(wakeups.noble, 99).toFixed(0)} µs; with
  the node provider median ${percentile(wakeups.node, 50).toFixed(0)} µs, p99
  ${percentile(wakeups.node, 99).toFixed(0)} µs. Ed25519 verification of the response and the
  signature of the token are most of it (see the crypto suite).
- **${pendingCount.toLocaleString('en-US')} pending requests** with their deadline timers
  (${timers.toLocaleString('en-US')} timers): the heap grew by ${mib(heapBytes)}, about
  **${Math.round(heapBytes / pendingCount).toLocaleString('en-US')} bytes per request** (record,
  creation transition, idempotency record, timer${globalThis.gc ? '' : '; run with --expose-gc for a steadier figure'}).
  Created one at a time in ${(createMs / 1000).toFixed(1)} s (${Math.round(pendingCount / (createMs / 1000)).toLocaleString('en-US')} requests/s).
  A new engine on the same store restored ${report.restored.toLocaleString('en-US')} open requests
  and their timers in ${restoreMs.toFixed(0)} ms.`;
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'oversight',
    title: 'Oversight engine: requests, decisions, pending load',
    baseline: 'noble',
    get description() {
      return describe();
    },
    cases: [
      {
        name: 'createRequest (new request)',
        fn: async () => {
          fixtures ??= await prepare();
          return fixtures.throughput.engine.createRequest(request());
        },
      },
      ...Object.keys(providers).map((variant) => ({
        name: 'full decision cycle (create, await, sign, submit, wake)',
        variant,
        fn: async () => {
          fixtures ??= await prepare();
          const { engine, clock } = fixtures.cycle[variant];
          const { requestId } = await engine.createRequest(request());
          const waiting = engine.awaitApproval(requestId);
          await engine.submitResponse(
            signApprovalResponse(cfo, { requestId, decision: 'APPROVE', respondedAt: clock.now() }),
          );
          return waiting;
        },
      })),
    ],
  },
];
