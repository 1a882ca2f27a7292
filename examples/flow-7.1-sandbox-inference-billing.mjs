#!/usr/bin/env node
// Spec §7.1, "Agent Spawns Sandbox, Makes Inference, Triggers Billing".
//
// Runtime asks authz, binds the sandbox to the agent's NHI, signs an attestation and a
// `sandbox_allocated` usage event; the event travels over the event bus (subject
// `metering.events.runtime`) to Metering, which verifies the agent's signature, deduplicates,
// attributes it to the subscription and aggregates it. An inference call does the same with its
// token counts and exact cost.
//
// Time: the system clock. Nothing in this flow waits for time to pass, and a run takes about a
// second. Keys come from fixed seeds, so the NHIs printed are the same on every run.
//
// Run it after a build: `npm run build && node examples/flow-7.1-sandbox-inference-billing.mjs`.
import {
  AgentKeyPair,
  bytesToUtf8,
  decodeRuntimeUsageEvent,
  nobleCryptoProvider,
  registrationProof,
  utf8ToBytes,
} from '@creto/core';
import { createEnablement } from '@creto/enablement';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  verifyAttestation,
} from '@creto/runtime';

const out = (text = '') => process.stdout.write(`${text}\n`);
const section = (title) => out(`\n── ${title} ${'─'.repeat(Math.max(3, 96 - title.length))}`);
const short = (nhi) => `${nhi.slice(0, nhi.lastIndexOf(':') + 7)}…`;
const seed = (name) => nobleCryptoProvider.sha256(utf8ToBytes(`creto-example-7.1/${name}`));

out('Creto Enablement SDK — spec §7.1: sandbox, inference, billing');

// A deterministic local stand-in for "claude-3": no network, no key, the same answer every run.
// The prompt and reply are sized to the spec's numbers: 100 input and 200 output tokens (this
// provider counts one token per 4 characters, plus 4 per message).
const prompt = 'Summarize the quarterly usage report for the finance team.'.padEnd(384, ' .');
const reply = 'Usage grew 12% quarter on quarter, driven by invoice processing. '.repeat(13).slice(0, 800);
const enablement = await createEnablement({
  seed: seed('services'),
  runtime: {
    inference: createInferenceRouter({
      providers: [
        createDeterministicProvider({
          models: ['claude-3*'],
          responses: [{ lastUserMessage: prompt, reply }],
        }),
      ],
      prices: createPriceTable([
        { provider: 'deterministic', model: 'claude-3*', inputPerMillion: '3', outputPerMillion: '15' },
      ]),
    }),
  },
  policies: [
    {
      id: 'agents-spawn',
      effect: 'permit',
      principal: 'agent:*',
      action: 'sandbox.spawn',
      resource: 'runtime:sandbox:*',
    },
  ],
});
const { platform, runtime, metering, bus } = enablement;

// The agent: registered in NHI with a proof that it holds its ML-DSA-65 key (it signs usage events).
const agent = AgentKeyPair.fromSeed(seed('agent'), { postQuantum: true });
await platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
await metering.registerPlan({
  id: 'starter',
  name: 'Starter',
  currency: 'USD',
  interval: 'month',
  charges: [
    { id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '0.05' } },
    { id: 'tokens', meterId: 'inference_tokens', model: { type: 'per_unit', unitPrice: '0.00002' } },
  ],
});
const subscription = await metering.createSubscription({
  organizationId: 'acme-corp',
  planId: 'starter',
  billingContact: 'billing@acme.example',
  agents: [agent.identity.nhi],
});
out(`agent ${short(agent.identity.nhi)}, subscription ${subscription.id} (plan starter)`);

// What crosses the bus: a second durable consumer on Metering's stream sees every usage event as
// Metering does (spec §5.2 `metering.events.runtime`), without taking anything from it.
const onTheBus = [];
await bus.addConsumer('METERING', { name: 'example-observer', filterSubject: 'metering.events.runtime' });
await bus.subscribe('METERING', 'example-observer', (message) => {
  onTheBus.push(JSON.parse(bytesToUtf8(message.data))); // the wire JSON (snake_case, int64 as strings)
  message.ack();
});
/** Lets the layer finish (usage ingested, observer fed) before printing. */
async function settle(expectedOnBus) {
  for (let i = 0; i < 100 && onTheBus.length < expectedOnBus; i++) await enablement.settle();
  await enablement.settle();
}
const printEvent = (wire) => {
  const event = decodeRuntimeUsageEvent(wire); // the same codec Metering decodes with
  const { type, sandbox_id, ...properties } = wire.properties;
  out(`   bus ← ${wire.event_type} (${type}) by ${short(wire.agent_nhi)} from ${sandbox_id}`);
  out(
    `         ${Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  out(
    `         idempotency key ${wire.idempotency_key}; signed Ed25519 ‖ ML-DSA-65 (${event.signature.length} bytes)`,
  );
};
section('1. Agent → Runtime: spawn_sandbox(spec)');
const authz = platform.authz.evaluate({
  principal: agent.identity.nhi,
  action: 'sandbox.spawn',
  resource: 'runtime:sandbox:gvisor',
});
out(`   authz sandbox.spawn → ${authz.decision} [${authz.policyIds.join(', ')}]`);
const sandbox = await runtime.spawnSandbox({ agent, runtimeClass: 'gvisor', cpuMillicores: 1000 });
out(
  `   sandbox ${sandbox.sandboxId} bound to ${short((await platform.nhi.boundIdentity(sandbox.sandboxId))?.nhi ?? '?')}`,
);
out(
  `   runtime class ${sandbox.runtimeClass}, served here by the ${sandbox.driver} driver (the attestation says so)`,
);
out(
  `   attestation verifies against the runtime host key: ${verifyAttestation(sandbox.attestation, runtime.hostIdentity)}`,
);
await settle(1);
printEvent(onTheBus[0]);

section('2. Agent → Runtime: inference_call("claude-3", prompt)');
const completion = await sandbox.inference({
  model: 'claude-3-sonnet',
  messages: [{ role: 'user', content: prompt }],
});
out(`   ${completion.provider}/${completion.model} answered: "${completion.content.slice(0, 64)}…"`);
out(
  `   input_tokens=${completion.inputTokens}, output_tokens=${completion.outputTokens}, cost_usd=${completion.costUsd}`,
);
await settle(2);
printEvent(onTheBus[1]);

section('3. Metering: ingested, attributed, aggregated');
const now = platform.clock.now();
for (const meterId of [
  'sandbox_allocations',
  'inference_calls',
  'inference_input_tokens',
  'inference_output_tokens',
  'inference_cost_usd',
]) {
  const [row] = await metering.queryUsage({
    subscriptionId: subscription.id,
    meterId,
    from: subscription.startsAt,
    to: now + 60_000_000_000n,
  });
  out(
    `   ${meterId.padEnd(24)} ${(row?.value.toString() ?? '0').padStart(10)}   events: ${row?.events ?? 0n}`,
  );
}
// Replaying a usage event changes nothing: Metering deduplicates on its idempotency key (7 days).
// and verifies the agent's signature over the canonical event before counting anything.
const [replayed, tampered] = await metering.ingest([
  onTheBus[1],
  { ...onTheBus[1], properties: { ...onTheBus[1].properties, output_tokens: '20' } },
]);
out(`   the inference event delivered again: ${replayed.status}`);
out(
  `   the same event with output_tokens lowered to 20 in transit: ${tampered.status} ${tampered.error?.code}`,
);

await sandbox.terminate('done');
await enablement.shutdown();
agent.dispose();
out('\nDone.');
