// The Runtime engine: what spawning, executing, egress and tool calls cost on top of the driver
// and the bare operation (authz, NHI binding, attestation, signed usage events, audit).

import { AgentKeyPair, createPlatform, registrationProof } from '@creto/core';
import { createQuickJsDriver, createRuntime } from '@creto/runtime';
import { z } from 'zod';

const seed = (n) => new Uint8Array(32).fill(n);
const agent = AgentKeyPair.fromSeed(seed(1), { postQuantum: true });
const hostKey = AgentKeyPair.fromSeed(seed(2), { postQuantum: true, kind: 'service' });

const platform = createPlatform({
  authz: {
    policies: [
      { id: 'spawn', effect: 'permit', action: 'sandbox.spawn', resource: 'runtime:sandbox:*' },
      { id: 'egress', effect: 'permit', action: 'network.egress', resource: 'network:api.example.com' },
      { id: 'echo', effect: 'permit', action: 'tool.echo' },
    ],
  },
});
await platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });

const driver = createQuickJsDriver();
const okBody = new Uint8Array([111, 107]);
/** A `fetch` that answers at once, so egress measures the engine's checks, not the network. */
const stubFetch = async () => new Response(okBody, { status: 200 });
const runtime = createRuntime({
  platform,
  hostKey,
  drivers: { quickjs: driver },
  usage: { publish: async () => undefined }, // discard: the bus is measured in the events suite
  fetch: stubFetch,
  limits: { maxSandboxes: 100_000, maxSandboxesPerAgent: 100_000, maxQueuedExecs: 10_000 },
});
const echo = (args) => args;
runtime.registerTool({
  name: 'echo',
  description: 'returns its arguments',
  schema: z.object({ x: z.number() }),
  handler: echo,
});

const LIMITS = {
  memoryBytes: 64n << 20n,
  cpuMillicores: 1000,
  execTimeoutMs: 10_000,
  maxOutputBytes: 65_536,
};
const noCapabilities = {
  fetch: async () => ({ status: 200, statusText: 'OK', headers: {}, body: okBody }),
  callTool: async (_name, args) => args,
};
let seq = 0;
const driverSpec = () => ({
  sandboxId: `sb-bench-${++seq}`,
  agentNhi: agent.identity.nhi,
  limits: LIMITS,
  env: {},
  capabilities: noCapabilities,
});
const never = new AbortController().signal;

// Warm sandboxes, built outside the timed region.
const warmDriverSandbox = await driver.create(driverSpec());
await warmDriverSandbox.exec({ code: 'return 1', timeoutMs: 10_000, signal: never });
const sandbox = await runtime.spawnSandbox({ agent, memoryBytes: 64n << 20n, labels: { role: 'warm' } });
await sandbox.exec({ code: 'return 1' });

const allowed = { url: 'https://api.example.com/v1/items', method: 'GET', headers: {} };
const denied = { url: 'https://blocked.example.com/', method: 'GET', headers: {} };
const ignore = () => undefined;

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'runtime',
    title: 'Runtime engine: spawn, exec, egress and tool-call overhead',
    baseline: 'bare',
    description: `
Each operation through \`createRuntime\` (variant *engine*) against the same work without the engine
(variant *bare*), on the in-process platform (\`createPlatform\`: policy engine, NHI registry, Merkle
audit log, hybrid logical clock) with the QuickJS driver. *Spawn + terminate*: the engine adds
\`sandbox.spawn\` authz, the NHI binding, a hybrid-signed (Ed25519 ‖ ML-DSA-65) attestation, two
usage events signed by the agent (allocation and termination, hybrid signatures), the spawn
idempotency record, two audit appends and the reaper timer; *bare* is \`driver.create\` +
\`dispose\`. ML-DSA-65 signing dominates. *Exec, trivial*: \`return 1\` on a warm sandbox, through the
engine's per-sandbox queue and span vs. \`driverSandbox.exec\`. *Egress*: \`fetch\` is stubbed to answer
at once. The denied request costs URL validation, the sandbox lists, \`network.egress\` authz and
one \`EgressAttempt\` audit append; the allowed one adds the stubbed fetch, reading the body and one
\`NetworkEgress\` usage event signed by the agent (the ML-DSA-65 signature is most of it). *Tool call*:
zod validation, authz with the arguments as context, the handler with its timer, one audit append,
vs. calling the handler. Usage events go to a sink that discards them.`,
    options: { maxTimeMs: 1500 },
    cases: [
      {
        name: 'spawn + terminate',
        variant: 'bare',
        fn: async () => {
          const s = await driver.create(driverSpec());
          await s.dispose();
        },
      },
      {
        name: 'spawn + terminate',
        variant: 'engine',
        fn: async () => {
          const s = await runtime.spawnSandbox({
            agent,
            memoryBytes: 64n << 20n,
            labels: { n: String(++seq) },
          });
          await s.terminate('bench');
        },
      },
      {
        name: 'exec, trivial',
        variant: 'bare',
        fn: () => warmDriverSandbox.exec({ code: 'return 1', timeoutMs: 10_000, signal: never }),
      },
      { name: 'exec, trivial', variant: 'engine', fn: () => sandbox.exec({ code: 'return 1' }) },
      { name: 'egress, denied by policy', variant: 'engine', fn: () => sandbox.fetch(denied).catch(ignore) },
      {
        name: 'egress, allowed (fetch stubbed)',
        variant: 'bare',
        fn: () => stubFetch().then((r) => r.arrayBuffer()),
      },
      { name: 'egress, allowed (fetch stubbed)', variant: 'engine', fn: () => sandbox.fetch(allowed) },
      { name: 'tool call', variant: 'bare', fn: async () => echo({ x: 1 }) },
      { name: 'tool call', variant: 'engine', fn: () => sandbox.callTool('echo', { x: 1 }) },
    ],
  },
];
