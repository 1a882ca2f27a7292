#!/usr/bin/env node
// "Your first agent" from docs/getting-started.md: the whole layer in-process, one agent, a
// policy-checked tool called from sandboxed code, a metered model call, and the usage it cost.
// Time: the system clock (nothing waits). Run it after a build: `node examples/first-agent.mjs`.
import { AgentKeyPair, registrationProof } from '@creto/core';
import { createEnablement } from '@creto/enablement';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  DETERMINISTIC_PRICE_ENTRIES,
} from '@creto/runtime';
import { z } from 'zod';

// 1. The layer: platform + Runtime + Metering + Oversight + Messaging, wired, in this process.
const layer = await createEnablement({
  runtime: {
    // A local model with made-up prices; use createAnthropicCompatibleProvider (or OpenAI's) for real ones.
    inference: createInferenceRouter({
      providers: [createDeterministicProvider()],
      prices: createPriceTable(DETERMINISTIC_PRICE_ENTRIES),
    }),
  },
  policies: [
    { id: 'spawn', effect: 'permit', principal: 'agent:*', action: 'sandbox.spawn' },
    { id: 'tools', effect: 'permit', principal: 'agent:*', action: 'tool.lookup_order' },
  ], // everything else is denied
});

// 2. An agent identity (Ed25519 + ML-DSA-65), registered, and a subscription that pays for it.
const agent = AgentKeyPair.generate({ postQuantum: true });
await layer.platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
await layer.metering.registerPlan({
  id: 'free',
  name: 'Free',
  currency: 'USD',
  interval: 'month',
  charges: [],
});
const subscription = await layer.metering.createSubscription({
  organizationId: 'my-org',
  planId: 'free',
  billingContact: 'me@example.com',
  agents: [agent.identity.nhi],
});

// 3. A host tool the agent's code may call (its action is `tool.lookup_order`).
layer.runtime.registerTool({
  name: 'lookup_order',
  description: 'Find an order by id',
  schema: z.object({ id: z.string() }),
  handler: ({ id }) => ({ id, status: 'shipped' }),
});

// 4. A sandbox bound to the agent: code in it reaches the world only through checked capabilities.
const sandbox = await layer.runtime.spawnSandbox({ agent });
const run = await sandbox.exec({
  code: `const order = await tools.call('lookup_order', { id: 'A-17' });
         return 'Order ' + order.id + ' is ' + order.status;`,
});
console.log(run.outcome, run.value); // ok Order A-17 is shipped
const reply = await sandbox.inference({
  model: 'deterministic-1',
  messages: [{ role: 'user', content: 'Write a one-line status update.' }],
});
console.log(reply.content, `(${reply.inputTokens}+${reply.outputTokens} tokens, ${reply.costUsd} USD)`);
await sandbox.terminate();

// 5. Every step above was signed, metered and audited.
await layer.settle(); // usage events ingested
const [tokens] = await layer.metering.queryUsage({
  subscriptionId: subscription.id,
  meterId: 'inference_tokens',
  from: subscription.startsAt, // the start of this billing period
  to: layer.platform.clock.now() + 60_000_000_000n, // Unix ns; minute precision
});
console.log(`tokens metered: ${tokens?.value}, audit events: ${layer.platform.audit.size}`);
await layer.shutdown();
