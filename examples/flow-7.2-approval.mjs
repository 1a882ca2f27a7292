#!/usr/bin/env node
// Spec §7.2, "Agent Action Requires Human Approval, Sends Notification".
//
// Agent code in a sandbox calls a `transfer_funds` tool for 50 000 USD. Authz answers
// `requires_oversight` (policy `large_transfer`), so Runtime opens an Oversight request and the
// call waits (`RT-202`). Oversight reads the agent's reasoning from memory, notifies the CFO over
// end-to-end encrypted messaging, the CFO signs an approval, Oversight issues an override token
// bound to exactly this call, and the tool runs with it — once.
//
// Time: the system clock. The CFO answers at once here, well inside the 2 h tier timeout, so
// nothing waits for time to pass. Keys come from fixed seeds.
//
// Run it after a build: `npm run build && node examples/flow-7.2-approval.mjs`.
import { AgentKeyPair, nobleCryptoProvider, registrationProof, utf8ToBytes } from '@creto/core';
import { createEnablement } from '@creto/enablement';
import { decodeNotificationPayload, signApprovalResponse } from '@creto/oversight';
import { z } from 'zod';

const out = (text = '') => process.stdout.write(`${text}\n`);
const section = (title) => out(`\n── ${title} ${'─'.repeat(Math.max(3, 96 - title.length))}`);
const short = (nhi) => `${nhi.slice(0, nhi.lastIndexOf(':') + 7)}…`;
const seed = (name) => nobleCryptoProvider.sha256(utf8ToBytes(`creto-example-7.2/${name}`));
const HOUR = 3_600_000;

out('Creto Enablement SDK — spec §7.2: human approval of a high-risk action');

const cfo = AgentKeyPair.fromSeed(seed('cfo'), { kind: 'human', postQuantum: true });
const agent = AgentKeyPair.fromSeed(seed('treasury-agent'), { postQuantum: true });

const enablement = await createEnablement({
  seed: seed('services'),
  policies: [
    {
      id: 'agents-spawn',
      effect: 'permit',
      principal: 'agent:*',
      action: 'sandbox.spawn',
      resource: 'runtime:sandbox:*',
    },
    {
      id: 'treasury',
      effect: 'permit',
      action: 'funds.transfer',
      when: { attr: 'principal.roles', op: 'contains', value: 'treasury' },
    },
    {
      // Spec §7.2: above 10 000, the CFO decides (tier 1, 2 h), and silence means no.
      id: 'large_transfer',
      effect: 'require_oversight',
      action: 'funds.transfer',
      when: { attr: 'context.amount', op: 'gt', value: 10000 },
      requirement: {
        tiers: [{ approvers: [cfo.identity.nhi], quorum: 1, timeoutMs: 2 * HOUR }],
        finalAction: 'auto_deny',
      },
    },
  ],
});
const { platform, runtime, metering, oversight, messaging } = enablement;

/** Lets the layer run until `execution` waits for a human (RT-202); fails if it ends instead. */
async function pendingApprovalOf(execution) {
  for (let round = 0; round < 1000 && execution.state === 'running'; round++) await enablement.settle();
  if (execution.state !== 'pending_approval') {
    throw new Error(`example: expected the call to wait for approval, it is ${execution.state}`);
  }
  return execution.pendingApproval;
}

for (const [pair, roles] of [
  [cfo, ['cfo']],
  [agent, ['treasury']],
]) {
  await platform.nhi.register({ identity: pair.identity, proof: registrationProof(pair), roles });
}
// Metering attributes the sandbox's usage events to a subscription (Runtime emits them anyway).
await metering.registerPlan({ id: 'free', name: 'Free', currency: 'USD', interval: 'month', charges: [] });
await metering.createSubscription({
  organizationId: 'acme-corp',
  planId: 'free',
  billingContact: 'billing@acme.example',
  agents: [agent.identity.nhi],
});

// The tool: its arguments become the authz context, so `context.amount` is the amount.
runtime.registerTool({
  name: 'transfer_funds',
  description: 'Transfer money to a supplier',
  schema: z.object({ amount: z.number().positive(), currency: z.literal('USD'), to: z.string() }),
  action: 'funds.transfer',
  resource: (args) => `payments:account:${args.to}`,
  riskFactors: () => [{ name: 'large_transfer', severity: 'high' }],
  handler: (args) => ({ status: 'transferred', amount: args.amount, to: args.to }),
});

// The agent recorded why it wants to pay; Oversight shows this to the approver (spec §3.6).
await platform.memory.recordReasoning(agent.identity.nhi, 'Invoice approved', { action: 'funds.transfer' });
await platform.memory.recordReasoning(agent.identity.nhi, 'Due date: 2024-12-31', {
  action: 'funds.transfer',
});

// The CFO's approval app: connected to the relay, it receives notifications end to end.
const cfoApp = await messaging.connect(cfo);
const cfoInbox = [];
cfoApp.onMessage((message) => cfoInbox.push(message));

section('1. Agent → Runtime: exec("transfer_funds", 50000)');
const sandbox = await runtime.spawnSandbox({ agent, runtimeClass: 'quickjs' });
const call = { amount: 50000, currency: 'USD', to: 'acme-supplies' };
const decision = platform.authz.evaluate({
  principal: agent.identity.nhi,
  action: 'funds.transfer',
  resource: 'payments:account:acme-supplies',
  context: call,
});
out(`   authz funds.transfer, amount 50000 → ${decision.decision} (policy ${decision.policyIds.join(', ')})`);
const execution = sandbox.startExec({
  code: `return await tools.call('transfer_funds', ${JSON.stringify(call)});`,
});
const { requestId } = await pendingApprovalOf(execution);
out(`   Runtime → Oversight: CreateRequest → ${requestId}; the agent waits (RT-202)`);

section('2. Oversight: reasoning, escalation chain, notification');
const request = await oversight.getRequest(requestId);
out(
  `   state ${request.state}, tier ${request.tier} of ${request.tierCount}: ${short(cfo.identity.nhi)}, 2 h timeout`,
);
out("   reasoning context from the agent's memory, most recent first:");
for (const line of request.reasoningContext.split('\n').filter(Boolean)) out(`     ${line}`);
await enablement.settle();
const notification = decodeNotificationPayload(cfoInbox[0].payload);
const bot = enablement.keys.notificationBot.identity.nhi;
const from = cfoInbox[0].sender === bot ? "the layer's notification bot" : short(cfoInbox[0].sender);
out(`   the CFO's app got an end-to-end encrypted message from ${from}:`);
out(`     "${notification.subject}"`);
for (const line of notification.body.split('\n').slice(0, 4)) out(`     | ${line}`);

section('3. Approver → Oversight: SubmitResponse(APPROVE, "Invoice verified")');
const response = signApprovalResponse(cfo, {
  requestId,
  decision: 'APPROVE',
  reason: 'Invoice verified',
  respondedAt: platform.clock.now(),
});
const submitted = await oversight.submitResponse(response);
out(`   signature verified, quorum 1/1 met → ${submitted.state}; override token issued`);
const result = await execution.result;
out(`   Runtime validated the token with authz and ran the tool: ${JSON.stringify(result.value)}`);

section('4. The token was for this call only');
const again = sandbox.startExec({
  code: `return await tools.call('transfer_funds', ${JSON.stringify({ ...call, amount: 50001 })});`,
});
const second = await pendingApprovalOf(again);
out(`   the agent tries 50001 next: a new request ${second.requestId} (the token does not carry over)`);
await oversight.cancelRequest(second.requestId, 'example over');
const refused = await again.result;
out(`   cancelled by the operator → the call ends ${refused.outcome} with ${refused.errorCode}`);
const view = await oversight.getRequest(requestId);
out(
  `   request ${requestId}: ${view.transitions.map((t) => t.to).join(' → ')}, decided by ${view.outcome?.decidedBy.map(short).join(', ')}`,
);

await enablement.shutdown();
for (const pair of [cfo, agent]) pair.dispose();
out('\nDone.');
