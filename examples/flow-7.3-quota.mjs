#!/usr/bin/env node
// Spec §7.3, "Quota Exceeded, Oversight Triggered, Agent Notified".
//
// An agent has a monthly quota of 100 000 inference tokens that notifies (and never blocks). When
// an inference call takes it to 95 %, Metering opens a non-blocking Oversight request for the
// finance team, warns the agent over end-to-end encrypted messaging, and keeps processing. Finance
// approves with an edit — "Increase quota to 200K" — and Metering applies the new limit.
//
// Time: a FakeClock from @creto/testing. A quota counts usage per billing period, and the agent's
// usage builds up over days of the month: the clock moves a day between calls. A fixed start date
// also keeps the whole run inside one period on every run. Keys come from fixed seeds.
//
// Run it after a build: `npm run build && node examples/flow-7.3-quota.mjs`.
import { AgentKeyPair, nobleCryptoProvider, registrationProof, utf8ToBytes } from '@creto/core';
import { createEnablement } from '@creto/enablement';
import { decodeNotificationPayload, signApprovalResponse } from '@creto/oversight';
import { createDeterministicProvider, createInferenceRouter, createPriceTable } from '@creto/runtime';
import { FakeClock } from '@creto/testing';

const out = (text = '') => process.stdout.write(`${text}\n`);
const section = (title) => out(`\n── ${title} ${'─'.repeat(Math.max(3, 96 - title.length))}`);
const short = (nhi) => `${nhi.slice(0, nhi.lastIndexOf(':') + 7)}…`;
const seed = (name) => nobleCryptoProvider.sha256(utf8ToBytes(`creto-example-7.3/${name}`));
const DAY = 86_400_000;

out('Creto Enablement SDK — spec §7.3: quota threshold, oversight, agent notified');

const clock = new FakeClock({ start: 1_769_936_400_000_000_000n }); // Sunday 1 February 2026, 09:00 UTC
const finance = AgentKeyPair.fromSeed(seed('finance'), { kind: 'human', postQuantum: true });
const agent = AgentKeyPair.fromSeed(seed('research-agent'), { postQuantum: true });

// Every call is 5 000 tokens: a 9 984-character prompt (2 500 tokens: one per 4 characters, plus
// 4 for the message) and a 10 000-character reply (2 500 tokens), from a local deterministic model.
const prompt = 'Summarize these support tickets. '.repeat(400).slice(0, 9984);
const reply = 'Most tickets concern billing exports. '.repeat(300).slice(0, 10_000);

const enablement = await createEnablement({
  clock,
  seed: seed('services'),
  runtime: {
    limits: { maxTimeoutMs: 30 * DAY }, // the agent's sandbox lives all month (the default cap is a day)
    inference: createInferenceRouter({
      clock,
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
  metering: {
    // Who approves quota increases (spec §4.5): the finance team, within a day.
    quotaOversight: {
      requirement: {
        tiers: [{ approvers: [finance.identity.nhi], quorum: 1, timeoutMs: DAY }],
        finalAction: 'auto_deny',
      },
    },
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
const { platform, runtime, metering, oversight, messaging } = enablement;

await platform.nhi.register({
  identity: finance.identity,
  proof: registrationProof(finance),
  roles: ['finance'],
});
await platform.nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
await metering.registerPlan({
  id: 'research',
  name: 'Research',
  currency: 'USD',
  interval: 'month',
  charges: [{ id: 'tokens', meterId: 'inference_tokens', model: { type: 'per_unit', unitPrice: '0.00002' } }],
});
const subscription = await metering.createSubscription({
  organizationId: 'acme-corp',
  planId: 'research',
  billingContact: 'billing@acme.example',
  agents: [agent.identity.nhi],
});
const quota = await metering.setQuota({
  id: 'research-agent-tokens',
  subscriptionId: subscription.id,
  agentNhi: agent.identity.nhi,
  meterId: 'inference_tokens',
  limit: '100000',
  overflow: 'allow_with_notification',
  thresholds: ['0.95'], // the spec's scenario: notify at 95 %
});
out(
  `quota ${quota.id}: ${quota.limit} inference tokens a month for ${short(agent.identity.nhi)}, notify at 95 %`,
);

// The agent and the finance team listen on the relay for end-to-end encrypted messages.
const agentInbox = [];
(await messaging.connect(agent)).onMessage((message) => agentInbox.push(message));
const financeInbox = [];
(await messaging.connect(finance)).onMessage((message) => financeInbox.push(message));

const sandbox = await runtime.spawnSandbox({ agent, runtimeClass: 'quickjs', timeoutMs: 28 * DAY });
const infer = async () => {
  await sandbox.inference({ model: 'claude-3-haiku', messages: [{ role: 'user', content: prompt }] });
  await enablement.settle();
  return metering.quotaStatus(quota.id);
};

section('1. The month so far: 18 calls of 5 000 tokens, one a day');
let status;
for (let day = 1; day <= 18; day++) {
  status = await infer();
  await clock.advanceAsync(DAY);
}
out(
  `   usage ${status.usage} / ${status.quota.limit} (${status.percent} %): below the threshold, nothing happens`,
);

section('2. Agent → Runtime: inference_call("claude-3", prompt) — the 19th');
status = await infer();
out(`   Metering ingests 5000 tokens → usage ${status.usage} / ${status.quota.limit} (${status.percent} %)`);
const decision = metering.checkQuotaSync(agent.identity.nhi, 'inference_call');
out(
  `   quota decision for the next call: ${decision.decision} (never blocks: overflow allow_with_notification)`,
);

section('3. Metering → Oversight: CreateRequest(action=quota_breach) — non-blocking');
const { requests } = await oversight.listRequests({ agent: agent.identity.nhi });
const breach = await oversight.getRequest(requests[0].requestId);
out(`   request ${breach.requestId}: ${breach.action}, ${breach.state}, blocking ${breach.blocking}`);
const p = breach.parameters;
out(
  `   parameters: quota ${p.quota_id}, ${p.meter_id} ${p.current_usage} of ${p.limit} (${p.threshold_percent} %)`,
);
const toFinance = decodeNotificationPayload(financeInbox[0].payload);
out(`   finance was notified end to end: "${toFinance.subject}"`);

section('4. Metering → Messaging: send_to_agent(agent_nhi, warning)');
const warning = decodeNotificationPayload(agentInbox[0].payload);
out(`   the agent decrypted (${warning.kind}): "${warning.body.split('\n')[0]}"`);
status = await infer();
out(
  `   and keeps working: the next call is processed, usage ${status.usage} / ${status.quota.limit} (${status.percent} %)`,
);

section('5. Finance → Oversight: SubmitResponse(APPROVE, "Increase quota to 200K")');
await clock.advanceAsync(2 * 3_600_000); // finance answers two hours later
const approval = signApprovalResponse(finance, {
  requestId: breach.requestId,
  decision: 'APPROVE',
  reason: 'Increase quota to 200K',
  editedParameters: { ...breach.parameters, new_limit: '200000' }, // "approve with edits"
  respondedAt: clock.now(),
});
const submitted = await oversight.submitResponse(approval);
await enablement.settle();
out(`   request ${submitted.state}; Oversight → Metering: apply the approved limit`);
status = await metering.quotaStatus(quota.id);
const increase = status.quota.lastIncrease;
out(
  `   quota ${status.quota.id}: limit ${increase?.previousLimit} → ${status.quota.limit}, approved by ${short(increase?.approvedBy ?? '?')}`,
);
out(`   usage ${status.usage} / ${status.quota.limit} (${status.percent} %)`);
out(
  `   the next call's quota decision: ${metering.checkQuotaSync(agent.identity.nhi, 'inference_call').decision}`,
);

await enablement.shutdown();
for (const pair of [finance, agent]) pair.dispose();
out('\nDone.');
