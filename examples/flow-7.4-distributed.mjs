#!/usr/bin/env node
// Spec §7.4 on real infrastructure: the same layer as flow-7.4-full-lifecycle.mjs, but its bus is
// NATS JetStream, its idempotency records live in Redis and Metering, Oversight, the saga log, the
// messaging sessions and relay queues, and the audit log in PostgreSQL. Short version of the workflow: spawn → inference →
// approval → message → terminate → invoice.
//
// Needs three servers, named by the same variables as the tests:
//   CRETO_NATS_URL=nats://127.0.0.1:4222 CRETO_REDIS_URL=redis://127.0.0.1:6379 \
//   CRETO_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres node examples/flow-7.4-distributed.mjs
// It uses its own PostgreSQL schema and Redis key prefix and removes them, and the layer's NATS
// streams (METERING, OVERSIGHT_NOTIFICATIONS, MESSAGING_RECEIPTS), at the end: run it on a
// development server, not next to a live deployment.
//
// Time is a FakeClock (the invoice comes "at the end of the month"); the servers keep their own.
import { AgentKeyPair, nobleCryptoProvider, registrationProof, utf8ToBytes } from '@creto/core';
import { createEnablement } from '@creto/enablement';
import { createNatsEventBus } from '@creto/nats';
import { decodeNotificationPayload, signApprovalResponse } from '@creto/oversight';
import {
  createPgClient,
  createPostgresAuditLogStore,
  createPostgresMeteringStore,
  createPostgresOversightStore,
  createPostgresRelayQueueStore,
  createPostgresSagaLog,
  createPostgresSessionStore,
  migrate,
} from '@creto/postgres';
import { createRedisIdempotencyStore } from '@creto/redis';
import { createDeterministicProvider, createInferenceRouter, createPriceTable } from '@creto/runtime';
import { FakeClock } from '@creto/testing';
import { z } from 'zod';

const out = (text = '') => process.stdout.write(`${text}\n`);
const urls = {
  nats: process.env.CRETO_NATS_URL,
  redis: process.env.CRETO_REDIS_URL,
  postgres: process.env.CRETO_POSTGRES_URL,
};
const missing = Object.entries(urls).filter(([, url]) => !url);
if (missing.length > 0) {
  process.stderr.write(
    `set ${missing.map(([name]) => `CRETO_${name.toUpperCase()}_URL`).join(', ')} (see the comment at the top)\n`,
  );
  process.exit(2);
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const ns = (ms) => BigInt(ms) * 1_000_000n;
const seed = (name) => nobleCryptoProvider.sha256(utf8ToBytes(`creto-demo/${name}`));
const run = bytesToRunId(nobleCryptoProvider.randomBytes(6));
function bytesToRunId(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// ── The backends ─────────────────────────────────────────────────────────────────────────────────
const clock = new FakeClock({ start: 1_768_208_400_000_000_000n }); // Monday 12 January 2026, 09:00 UTC
const schema = `creto_example_${run}`;
const sql = createPgClient({ connectionString: urls.postgres });
await migrate(sql, { schema });
const bus = await createNatsEventBus({ servers: urls.nats, clock });
const LAYER_STREAMS = ['METERING', 'OVERSIGHT_NOTIFICATIONS', 'MESSAGING_RECEIPTS'];
const dropStreams = async () => {
  for (const name of LAYER_STREAMS) await bus.deleteStream(name).catch(() => undefined);
};
await dropStreams(); // a previous run's events would be delivered to this run's Metering
const idempotency = createRedisIdempotencyStore({ url: urls.redis, keyPrefix: `creto-example:${run}:` });

out('Creto Enablement SDK — spec §7.4 on NATS, Redis and PostgreSQL.');
out(`   NATS        ${urls.nats}: the event bus (streams ${LAYER_STREAMS.join(', ')})`);
out(`   Redis       ${urls.redis}: idempotency records of every product (prefix creto-example:${run}:)`);
out(
  `   PostgreSQL  schema ${schema}: metering, oversight requests, saga log, messaging sessions and relay queues, audit log`,
);

const cfo = AgentKeyPair.fromSeed(seed('cfo'), { kind: 'human', postQuantum: true });
const agent = AgentKeyPair.fromSeed(seed('invoice-agent'), { postQuantum: true });
const accounting = AgentKeyPair.fromSeed(seed('accounting-agent'), { postQuantum: true });
const billing = AgentKeyPair.fromSeed(seed('billing-agent'), { postQuantum: true });

const AUDIT_ORIGIN = 'audit.example.com/flow-7.4';
const enablement = await createEnablement({
  clock,
  seed: seed('services'),
  bus,
  // A durable audit log signs its checkpoints with the same key on every start.
  platform: { audit: { origin: AUDIT_ORIGIN, signingKey: seed('audit-checkpoints') } },
  stores: {
    idempotency,
    audit: createPostgresAuditLogStore({ client: sql, schema, log: AUDIT_ORIGIN }),
    relayQueues: createPostgresRelayQueueStore({ client: sql, schema }),
    metering: createPostgresMeteringStore({ client: sql, schema }),
    oversight: createPostgresOversightStore({ client: sql, schema }),
    sagaLog: createPostgresSagaLog({ client: sql, schema }),
    messagingSessions: (owner) => createPostgresSessionStore({ client: sql, schema, owner }),
  },
  runtime: {
    inference: createInferenceRouter({
      clock,
      providers: [createDeterministicProvider({ models: ['claude-3*'] })],
      prices: createPriceTable([
        { provider: 'deterministic', model: 'claude-3*', inputPerMillion: '3', outputPerMillion: '15' },
      ]),
    }),
    limits: { approvalWaitMs: 2 * HOUR },
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
      effect: 'require_oversight',
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
runtime.registerTool({
  name: 'approve_payment',
  description: 'Approve the payment of a supplier invoice',
  schema: z.object({ invoice: z.string(), amount: z.number().positive() }),
  action: 'payment.approve',
  resource: (args) => `payments:invoice:${args.invoice}`,
  handler: (args) => ({ paid: true, invoice: args.invoice }),
});

try {
  for (const [pair, roles] of [
    [cfo, ['cfo']],
    [agent, ['accounts-payable']],
    [accounting, ['accounting']],
    [billing, ['billing']],
  ]) {
    await platform.nhi.register({ identity: pair.identity, proof: registrationProof(pair), roles });
  }
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
        id: 'model-tokens',
        meterId: 'inference_tokens',
        model: { type: 'package', packageSize: '1000', packagePrice: '0.01' },
      },
    ],
  });
  const subscription = await metering.createSubscription({
    organizationId: 'acme-corp',
    planId: 'team',
    billingContact: billing.identity.nhi,
    agents: [agent.identity.nhi],
  });
  out(`\n1. subscription ${subscription.id} → PostgreSQL (schema ${schema})`);
  const inbox = async (pair) => {
    const received = [];
    (await messaging.connect(pair)).onMessage((message) => received.push(message));
    return received;
  };
  const cfoInbox = await inbox(cfo);
  const accountingInbox = await inbox(accounting);
  const billingInbox = await inbox(billing);

  const sandbox = await runtime.spawnSandbox({ agent, runtimeClass: 'gvisor', image: 'invoice-processor' });
  await enablement.settle();
  out(`2. spawn ${sandbox.sandboxId}: usage event published on NATS, ingested from it into PostgreSQL`);

  await clock.advanceAsync(MINUTE);
  const reply = await sandbox.inference({
    model: 'claude-3-haiku',
    messages: [{ role: 'user', content: 'Extract invoice data' }],
  });
  await enablement.settle();
  out(
    `3. inference: ${reply.inputTokens} + ${reply.outputTokens} tokens, ${reply.costUsd} USD, usage over NATS`,
  );

  await clock.advanceAsync(MINUTE);
  const execution = sandbox.startExec({
    code: `return await tools.call('approve_payment', { invoice: 'INV-1182', amount: 25000 });`,
  });
  for (let round = 0; round < 1000 && execution.state === 'running'; round++) await enablement.settle();
  const { requestId } = execution.pendingApproval;
  const stored = await oversight.getRequest(requestId);
  out(`4. approval request ${requestId} (${stored.state}) → PostgreSQL; Redis holds its idempotency record`);
  out(`   the CFO was told end to end: "${decodeNotificationPayload(cfoInbox[0].payload).subject}"`);
  await clock.advanceAsync(4 * MINUTE);
  await oversight.submitResponse(
    signApprovalResponse(cfo, {
      requestId,
      decision: 'APPROVE',
      reason: 'Matches PO-7781',
      respondedAt: clock.now(),
    }),
  );
  const result = await execution.result;
  out(`   the CFO approved; the tool ran with the override token: ${JSON.stringify(result.value)}`);

  const agentClient = await messaging.connect(agent);
  await agentClient.send(accounting.identity.nhi, utf8ToBytes('Payment processed: INV-1182'));
  await enablement.settle();
  out(
    `5. message to accounting-agent, ratchet state in PostgreSQL: "${new TextDecoder().decode(accountingInbox[0].payload)}"`,
  );

  await clock.advanceToAsync(sandbox.createdAt + ns(10 * MINUTE));
  const ended = await sandbox.terminate('task complete');
  await enablement.settle();
  out(`6. terminated after ${ended.durationSeconds} s; usage event over NATS`);

  const period = (await metering.getSubscription(subscription.id)).startsAt;
  const { invoices } = await (async () => {
    // The end of the month, past the one-hour grace period for late usage.
    const [row] = await metering.queryUsage({
      subscriptionId: subscription.id,
      meterId: 'sandbox_allocations',
      from: period - (period % ns(MINUTE)),
      to: clock.now() + ns(MINUTE),
    });
    await clock.advanceAsync(31 * 24 * HOUR);
    await enablement.settle();
    out(`   sandbox_allocations this period: ${row?.value.toString() ?? '0'}`);
    return metering.generateInvoices();
  })();
  await enablement.settle();
  const invoice = invoices[0];
  const delivered = billingInbox
    .map((m) => decodeNotificationPayload(m.payload))
    .find((n) => n.kind === 'invoice');
  out(`7. invoice ${invoice.invoiceId}: total ${invoice.total.toString()} ${invoice.currency} → PostgreSQL`);
  out(`   sent to billing-agent end to end: "${delivered?.subject}"`);
  const { checkpoint } = await platform.audit.checkpoint();
  const [{ leaves }] = (
    await sql.query(`SELECT count(*) AS leaves FROM ${schema}.audit_leaves WHERE log = $1`, [AUDIT_ORIGIN])
  ).rows;
  out(
    `8. audit log: ${checkpoint.treeSize} events, ${leaves} of them stored in PostgreSQL; checkpoint signed`,
  );
} finally {
  await enablement.shutdown();
  await dropStreams();
  await bus.close();
  await idempotency.close();
  await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
  await sql.close();
  for (const pair of [cfo, agent, accounting, billing]) pair.dispose();
}
out('\nDone.');
