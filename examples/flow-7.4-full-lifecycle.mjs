#!/usr/bin/env node
// Spec §7.4, "Full Agent Workflow with All 4 Products" — and `npm run demo`.
//
// A human registers an invoice-processing agent and subscribes the organization to a plan. The
// agent spawns a sandbox, runs code in it, asks a model, needs the CFO's approval for a 25 000 USD
// payment, tells the accounting agent over end-to-end encrypted messaging, and stops. At the end
// of the month Metering invoices the organization and sends the invoice, encrypted, to the billing
// agent. Everything runs in this process on the SDK's in-process defaults (no server, no API
// key); every key, signature, ciphertext and Merkle proof below is real.
//
// Time: a FakeClock from @creto/testing drives every engine, because the flow ends "at the end of
// the month" and a month cannot pass for real. It also lets the sandbox run exactly ten minutes
// and the CFO answer four minutes after being asked. Keys come from fixed seeds, so the NHIs (and
// every line below except ids, nonces and the ciphertext size) are the same on every run.
//
// Run it after a build: `npm run demo` (or `npm run build && node examples/flow-7.4-full-lifecycle.mjs`).
import {
  AgentKeyPair,
  auditLeafData,
  base64urlToBytes,
  bytesToHex,
  bytesToUtf8,
  EnablementError,
  formatRfc3339Micros,
  hashLeaf,
  nobleCryptoProvider,
  openCheckpoint,
  registrationProof,
  utf8ToBytes,
  verifyInclusion,
} from '@creto/core';
import { createEnablement } from '@creto/enablement';
import {
  connectInProcessTransport,
  createInMemorySessionStore,
  createMessagingClient,
} from '@creto/messaging';
import { formatInvoiceTable } from '@creto/metering';
import { decodeNotificationPayload, signApprovalResponse } from '@creto/oversight';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  verifyAttestation,
} from '@creto/runtime';
import { FakeClock } from '@creto/testing';
import { z } from 'zod';

// ── Printing helpers ─────────────────────────────────────────────────────────────────────────────
const out = (text = '') => process.stdout.write(`${text}\n`);
const names = new Map(); // NHI → a name for people
/** `invoice-agent (agent:nhi:ed25519:FaUXiE…)`: the name, the kind and the key's first characters. */
const who = (nhi) => {
  const short = `${nhi.slice(0, nhi.lastIndexOf(':') + 7)}…`;
  return names.has(nhi) ? `${names.get(nhi)} (${short})` : short;
};
/** A section of the timeline, stamped with the (fake) time: `── 3. 09:00  Agent → Runtime: …`. */
const section = (n, title) => {
  const time = formatRfc3339Micros(clock.now()).slice(11, 16);
  const head = `── ${n}. ${time}  ${title} `;
  out(`\n${head}${'─'.repeat(Math.max(3, 100 - head.length))}`);
};
const decision = (d) => `${d.decision}${d.policyIds.length > 0 ? ` [policy ${d.policyIds.join(', ')}]` : ''}`;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ns = (ms) => BigInt(ms) * 1_000_000n;
// Deterministic key material: the same names give the same keys (and NHIs) on every run.
const seed = (name) => nobleCryptoProvider.sha256(utf8ToBytes(`creto-demo/${name}`));

const clock = new FakeClock({ start: 1_768_208_400_000_000_000n }); // Monday 12 January 2026, 09:00 UTC
out('Creto Enablement SDK — spec §7.4: the full agent lifecycle across Runtime, Metering,');
out('Oversight and Messaging, in one process. Monday 12 January 2026 (a FakeClock), UTC.');

// ── The layer ────────────────────────────────────────────────────────────────────────────────────
// The CFO (a human) approves payments; three agents do the work. Post-quantum key pairs: agents
// sign usage events and messages, and the CFO signs approvals, with Ed25519 ‖ ML-DSA-65.
const cfo = AgentKeyPair.fromSeed(seed('cfo'), { kind: 'human', postQuantum: true });
const agent = AgentKeyPair.fromSeed(seed('invoice-agent'), { postQuantum: true });
const accounting = AgentKeyPair.fromSeed(seed('accounting-agent'), { postQuantum: true });
const billing = AgentKeyPair.fromSeed(seed('billing-agent'), { postQuantum: true });

const INVOICE = [
  'INVOICE INV-1182',
  'From: ACME Office Supplies GmbH, Industriestrasse 12, 8005 Zurich',
  'Date: 2026-01-05  Due: 2026-01-31  PO: PO-7781',
  'Desk 10 1500.00',
  'Chair 20 500.00',
].join('\n');

// Models: a deterministic local stand-in for "claude-3" (no network, the same answer every run),
// priced like the real thing. Pass createAnthropicCompatibleProvider instead for real calls.
const inference = createInferenceRouter({
  clock,
  providers: [
    createDeterministicProvider({
      models: ['claude-3*'],
      responses: [
        {
          lastUserMessage: /^Extract invoice data/,
          reply:
            '{"vendor":"ACME Office Supplies GmbH","invoice":"INV-1182","amount":"25000.00","due":"2026-01-31"}',
        },
      ],
    }),
  ],
  prices: createPriceTable([
    { provider: 'deterministic', model: 'claude-3*', inputPerMillion: '3', outputPerMillion: '15' },
  ]),
});

const enablement = await createEnablement({
  clock,
  seed: seed('services'), // the layer's own service keys, derived from it
  runtime: {
    inference,
    limits: { approvalWaitMs: 2 * HOUR }, // spec §7.2: a call waits up to 2 h for a human (default 5 min)
  },
  policies: [
    {
      id: 'agents-spawn',
      effect: 'permit',
      principal: 'agent:*',
      action: 'sandbox.spawn',
      resource: 'runtime:sandbox:*',
    },
    {
      id: 'accounts-payable',
      effect: 'permit',
      action: ['payment.approve', 'messaging:send'],
      when: { attr: 'principal.roles', op: 'contains', value: 'accounts-payable' },
    },
    {
      id: 'large-payment',
      effect: 'require_oversight', // beats the permit above when its condition holds
      action: 'payment.approve',
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

// The agent's one sensitive tool. Its arguments are the authz context (`context.amount`).
runtime.registerTool({
  name: 'approve_payment',
  description: 'Approve the payment of a supplier invoice',
  schema: z.object({ invoice: z.string(), vendor: z.string(), amount: z.number().positive() }),
  action: 'payment.approve',
  resource: (args) => `payments:invoice:${args.invoice}`,
  describe: (args) => `Pay ${args.amount} USD to ${args.vendor} for ${args.invoice}`,
  riskFactors: (args) => (args.amount > 10000 ? [{ name: 'large_payment', severity: 'high' }] : []),
  handler: (args, context) => ({
    paid: true,
    invoice: args.invoice,
    oversightRequest: context.oversightRequestId ?? null,
  }),
});

// ── 1. Identities ────────────────────────────────────────────────────────────────────────────────
section(1, 'Human → NHI: register_agent (spec §3.1, §6.1)');
for (const [name, pair, roles] of [
  ['cfo', cfo, ['cfo']],
  ['invoice-agent', agent, ['accounts-payable']],
  ['accounting-agent', accounting, ['accounting']],
  ['billing-agent', billing, ['billing']],
]) {
  // The proof shows NHI that the registrant holds the ML-DSA-65 secret key.
  await platform.nhi.register({ identity: pair.identity, proof: registrationProof(pair), roles });
  names.set(pair.identity.nhi, name);
  out(`   ${who(pair.identity.nhi).padEnd(46)} Ed25519 + ML-DSA-65, role ${roles.join(', ')}`);
}
for (const [name, pair] of Object.entries(enablement.keys)) {
  names.set(pair.identity.nhi, name);
  out(`   ${who(pair.identity.nhi).padEnd(46)} the layer's own service identity`);
}

// ── 2. Subscription ──────────────────────────────────────────────────────────────────────────────
section(2, 'Human → Metering: create_subscription(org_id, plan_id)');
await metering.registerPlan({
  id: 'team',
  name: 'Team',
  currency: 'USD',
  interval: 'month',
  baseFee: '49.00',
  charges: [
    { id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '0.05' } },
    { id: 'sandbox-seconds', meterId: 'sandbox_seconds', model: { type: 'per_unit', unitPrice: '0.0002' } },
    {
      id: 'model-tokens', // 0.01 USD per started block of 1 000 tokens
      meterId: 'inference_tokens',
      model: { type: 'package', packageSize: '1000', packagePrice: '0.01' },
    },
  ],
});
const subscription = await metering.createSubscription({
  organizationId: 'acme-corp',
  planId: 'team',
  billingContact: billing.identity.nhi, // invoices go to this agent, end-to-end encrypted
  agents: [agent.identity.nhi],
});
// Spec §8.2's example quota: one sandbox a month for this agent, enforced when it spawns.
const sandboxQuota = await metering.setQuota({
  subscriptionId: subscription.id,
  agentNhi: agent.identity.nhi,
  meterId: 'sandbox_allocations',
  limit: '1',
  overflow: 'block',
});
out(`   subscription ${subscription.id}: acme-corp on plan "team" (49.00 USD a month + usage)`);
out(`   bound: ${who(agent.identity.nhi)}; quota: 1 sandbox a month (block)`);
out(
  `   billing period from ${formatRfc3339Micros(subscription.startsAt).slice(0, 10)}; invoices to ${who(billing.identity.nhi)}`,
);

// Whoever receives messages connects to the relay (publishing PQXDH prekeys) and listens.
const inbox = async (pair) => {
  const received = [];
  (await messaging.connect(pair)).onMessage((message) => received.push(message));
  return received;
};
const cfoInbox = await inbox(cfo); // the CFO's approval app
const accountingInbox = await inbox(accounting);
const billingInbox = await inbox(billing);

// ── 3. Sandbox ───────────────────────────────────────────────────────────────────────────────────
section(3, 'Agent → Runtime: spawn_sandbox(image="invoice-processor")');
out(
  `   authz sandbox.spawn on runtime:sandbox:gvisor → ${decision(
    platform.authz.evaluate({
      principal: agent.identity.nhi,
      action: 'sandbox.spawn',
      resource: 'runtime:sandbox:gvisor',
    }),
  )}`,
);
const sandbox = await runtime.spawnSandbox({
  agent,
  runtimeClass: 'gvisor', // served by the in-process QuickJS driver here; the attestation says so
  image: 'invoice-processor',
});
out(`   ${sandbox.sandboxId}: ${sandbox.state}; class ${sandbox.runtimeClass}, driver ${sandbox.driver}`);
out(`   NHI bind_identity → ${who((await platform.nhi.boundIdentity(sandbox.sandboxId))?.nhi ?? '(none)')}`);
out(
  `   attestation by ${who(sandbox.attestation.hostNhi)} verifies: ${verifyAttestation(sandbox.attestation, runtime.hostIdentity)}`,
);
await enablement.settle(); // Metering ingests sandbox_allocated (quotas count ingested usage)
out('   usage event sandbox_allocated → metering.events.runtime → ingested');
// Spec §8.2: a second sandbox this month is over the quota; Runtime's error carries Metering's.
await runtime
  .spawnSandbox({ agent, runtimeClass: 'gvisor', image: 'invoice-processor', labels: { n: '2' } })
  .then(
    () => {
      throw new Error('demo: the second spawn should have been refused');
    },
    (error) => {
      if (!EnablementError.is(error) || error.causedBy === undefined) throw error;
      const days = (error.causedBy.retryAfterMs / DAY).toFixed(1);
      out(`   ✗ a second sandbox this month: ${error.code} "${error.message}"`);
      out(`     caused by ${error.causedBy.code} "${error.causedBy.message}", retry in ${days} days`);
    },
  );

// ── 4. Code in the sandbox ───────────────────────────────────────────────────────────────────────
await clock.advanceAsync(MINUTE);
section(4, 'Agent → Runtime: exec("analyze_invoice", invoice_data)');
const analysis = await sandbox.exec({
  // Agent code: no network, no files, no host objects — only what the runtime hands it.
  code: `
    const lines = ${JSON.stringify(INVOICE)}.split('\\n');
    const items = lines.map((l) => l.match(/^(\\w+) (\\d+) (\\d+)\\.(\\d\\d)$/)).filter(Boolean);
    const cents = items.reduce((sum, [, , qty, units, hundredths]) => sum + qty * (units * 100 + +hundredths), 0);
    return { invoice: lines[0].split(' ')[1], items: items.length, total: (cents / 100).toFixed(2) };
  `,
});
out(`   outcome ${analysis.outcome}: ${JSON.stringify(analysis.value)}`);

// ── 5. Inference ─────────────────────────────────────────────────────────────────────────────────
await clock.advanceAsync(MINUTE);
section(5, 'Agent → Runtime: inference_call("claude-3", "Extract invoice data")');
out(
  `   Metering quota check for inference_call → ${metering.checkQuotaSync(agent.identity.nhi, 'inference_call').decision}`,
);
const extraction = await sandbox.inference({
  model: 'claude-3-haiku',
  messages: [{ role: 'user', content: `Extract invoice data as JSON:\n\n${INVOICE}` }],
});
out(`   ${extraction.provider}/${extraction.model} → ${extraction.content}`);
out(
  `   tokens ${extraction.inputTokens} in + ${extraction.outputTokens} out, cost ${extraction.costUsd} USD (exact)`,
);

// ── 6. Approval ──────────────────────────────────────────────────────────────────────────────────
await clock.advanceAsync(MINUTE);
section(6, 'Agent → Runtime: exec("approve_payment", amount=25000)');
const payment = { invoice: 'INV-1182', vendor: 'ACME Office Supplies GmbH', amount: 25000 };
// What the agent noted while working; Oversight shows it to the approver (spec §3.6).
for (const note of [
  'Invoice INV-1182 matches purchase order PO-7781',
  'Due 2026-01-31; 2% early payment discount',
]) {
  await platform.memory.recordReasoning(agent.identity.nhi, note, { action: 'payment.approve' });
}
const paymentCall = {
  principal: agent.identity.nhi,
  action: 'payment.approve',
  resource: 'payments:invoice:INV-1182',
  context: payment,
};
out(`   authz payment.approve, amount 25000 → ${decision(platform.authz.evaluate(paymentCall))}`);
// The agent's code calls the tool from inside the sandbox; the call blocks while a human decides.
const execution = sandbox.startExec({
  code: `return await tools.call('approve_payment', ${JSON.stringify(payment)});`,
});
const { requestId } = await pendingApprovalOf(execution);
const request = await oversight.getRequest(requestId);
out(`   Runtime → Oversight: CreateRequest → ${requestId}`);
out(
  `   the call waits (RT-202); request ${request.state}, tier ${request.tier}/${request.tierCount}, 2 h timeout`,
);
out("   reasoning shown to the approver, from the agent's memory:");
for (const line of request.reasoningContext.split('\n').filter(Boolean)) out(`     ${line}`);
await enablement.settle(); // the notification travels to the CFO's app, end-to-end encrypted
const notice = decodeNotificationPayload(cfoInbox[0].payload);
out(`   Oversight → Messaging → ${who(cfo.identity.nhi)}: "${notice.subject}"`);

// Two attempts to decide in the CFO's place, before the CFO answers.
const answer = (keyPair, value, extra = {}) =>
  signApprovalResponse(keyPair, { requestId, decision: value, respondedAt: clock.now(), ...extra });
for (const [label, attempt] of [
  ['the agent approves its own request', () => answer(agent, 'APPROVE')],
  [
    "the CFO's signed DENY, its decision changed to APPROVE",
    () => ({ ...answer(cfo, 'DENY'), decision: 'APPROVE' }),
  ],
]) {
  await oversight.submitResponse(attempt()).then(
    () => {
      throw new Error(`demo: "${label}" was accepted`);
    },
    (error) => out(`   ✗ ${label}: rejected ${error.code}`),
  );
}

await clock.advanceAsync(4 * MINUTE); // the CFO reads it four minutes later
const submitted = await oversight.submitResponse(answer(cfo, 'APPROVE', { reason: 'Matches PO-7781' }));
const result = await execution.result;
out(
  `   ${formatRfc3339Micros(clock.now()).slice(11, 16)}  the CFO signs APPROVE: request ${submitted.state}, override token issued`,
);
out(`   the tool ran, its call re-checked with the token: ${JSON.stringify(result.value)}`);
out(`   the same call again, without a token → ${decision(platform.authz.evaluate(paymentCall))}`);

// ── 7. Messaging ─────────────────────────────────────────────────────────────────────────────────
section(7, 'Agent → Messaging: send_message(accounting_agent, "Payment processed")');
out(
  `   authz messaging:send on agent:${who(accounting.identity.nhi)} → ${decision(
    platform.authz.evaluate({
      principal: agent.identity.nhi,
      action: 'messaging:send',
      resource: `agent:${accounting.identity.nhi}`,
    }),
  )}`,
);
// The agent's own client, built by hand so we can record every envelope that crosses the relay's
// port: exactly what a relay operator, or anyone on the wire, gets to see.
const seenByRelay = [];
const tappedRelay = {
  challenge: (nhi) => messaging.relay.challenge(nhi),
  async connect(proof, deliver) {
    const connection = await messaging.relay.connect(proof, deliver);
    return {
      nhi: connection.nhi,
      submit: (wire) => {
        seenByRelay.push(structuredClone(wire));
        return connection.submit(wire);
      },
      markRead: (id) => connection.markRead(id),
      close: () => connection.close(),
    };
  },
};
const agentMessenger = await createMessagingClient({
  identity: agent,
  nhi: platform.nhi,
  transport: (onEnvelope) => connectInProcessTransport({ relay: tappedRelay, keyPair: agent, onEnvelope }),
  sessionStore: createInMemorySessionStore(),
  clock,
});
const plaintext = 'Payment processed: INV-1182, 25000.00 USD to ACME Office Supplies GmbH';
const messageId = await agentMessenger.send(accounting.identity.nhi, utf8ToBytes(plaintext));
await enablement.settle();
const envelope = seenByRelay.find((wire) => wire.message_id === messageId);
const leaked = seenByRelay.some((wire) => JSON.stringify(wire).includes('Payment processed'));
out(`   ${messageId}: PQXDH (X25519 + ML-KEM-768) handshake + Double Ratchet, hybrid-signed envelope`);
out(
  `   the relay saw ${base64urlToBytes(envelope.ciphertext).length} bytes of ciphertext; plaintext visible to it: ${leaked ? 'YES' : 'no'}`,
);
out(`   ${who(accounting.identity.nhi)} decrypted: "${bytesToUtf8(accountingInbox[0].payload)}"`);

// ── 8. Termination ───────────────────────────────────────────────────────────────────────────────
await clock.advanceToAsync(sandbox.createdAt + ns(10 * MINUTE)); // the sandbox has run ten minutes
section(8, 'Agent → Runtime: terminate_sandbox(sandbox_id)');
const ended = await sandbox.terminate('task complete');
await enablement.settle();
out(`   ${ended.sandboxId} terminated after ${ended.durationSeconds} s → usage event sandbox_terminated`);
out('   usage Metering ingested this period (signed, verified, deduplicated, aggregated):');
const period = await metering.quotaStatus(sandboxQuota.id); // the quota knows the billing period
for (const meterId of ['sandbox_allocations', 'sandbox_seconds', 'inference_tokens', 'inference_cost_usd']) {
  const [row] = await metering.queryUsage({
    subscriptionId: subscription.id,
    meterId,
    from: period.periodStart,
    to: period.periodEnd,
  });
  out(`     ${meterId.padEnd(20)} ${(row?.value.toString() ?? '0').padStart(10)}`);
}

// ── 9. End of month ──────────────────────────────────────────────────────────────────────────────
await clock.advanceToAsync(period.periodEnd + ns(HOUR + MINUTE)); // past the 1 h grace period for late events
out(`\n   … ${formatRfc3339Micros(clock.now()).slice(0, 10)}: the month is over …`);
section(9, 'Metering: aggregate usage, generate the invoice, send_invoice(billing)');
const { invoices } = await metering.generateInvoices();
await enablement.settle();
for (const line of formatInvoiceTable(invoices[0]).split('\n')) out(`   ${line}`);
const delivered = billingInbox
  .map((m) => decodeNotificationPayload(m.payload))
  .find((n) => n.kind === 'invoice');
out(`   Metering → Messaging → ${who(billing.identity.nhi)}, end to end: "${delivered?.subject}"`);

// ── 10. Audit ────────────────────────────────────────────────────────────────────────────────────
section(10, 'Audit: one append-only Merkle log for every product (spec §3.3, RFC 9162)');
const counts = new Map();
let page = await platform.audit.query({ limit: 1000 });
for (;;) {
  for (const event of page.events) counts.set(event.product, (counts.get(event.product) ?? 0) + 1);
  if (page.nextCursor === undefined) break;
  page = await platform.audit.query({ limit: 1000, cursor: page.nextCursor });
}
out(`   ${platform.audit.size} events: ${[...counts].map(([product, n]) => `${product} ${n}`).join(', ')}`);
const { note } = await platform.audit.checkpoint(); // a C2SP signed note over the tree head
const { checkpoint } = openCheckpoint(note, [platform.audit.checkpointVerifier]);
out(`   signed checkpoint: tree size ${checkpoint.treeSize}, root ${bytesToHex(checkpoint.rootHash)}`);
const { events } = await platform.audit.query({ action: 'oversight.respond', agentNhi: agent.identity.nhi });
const approval = events.find((event) => event.outcome === 'success');
const proof = await platform.audit.inclusionProof(approval.merkleProof.leafIndex, checkpoint.treeSize);
const included = (event) =>
  verifyInclusion(
    proof.leafIndex,
    proof.treeSize,
    hashLeaf(auditLeafData(event)),
    proof.path,
    checkpoint.rootHash,
  );
out(
  `   the CFO's approval is leaf ${proof.leafIndex}; its inclusion proof (${proof.path.length} hashes) verifies: ${included(approval)}`,
);
out(
  `   the same event with its outcome rewritten to "denied" verifies: ${included({ ...approval, outcome: 'denied' })}`,
);

await agentMessenger.close();
await enablement.shutdown();
for (const pair of [cfo, agent, accounting, billing]) pair.dispose();
out('\nDone. The other flows of spec §7 and a tour of the platform: see examples/README.md.');
