/**
 * Contract tests of spec §12.3: for each wire contract of `@creto/core` (`WIRE_CONTRACTS`), an
 * instance made by its REAL producer is validated (ajv, draft 2020-12) against the JSON Schema
 * generated from the codec (`contractJsonSchema`) and decoded by its consumer's codec. The core
 * tests check hand-built instances; these check that what the products actually emit is what the
 * contracts say.
 */
import {
  AgentKeyPair,
  contractJsonSchema,
  createPlatform,
  decodeAgentIdentity,
  decodeConsensusTimestamp,
  decodeDeliveryReceipt,
  decodeEnablementError,
  decodeJson,
  decodeOversightNotification,
  decodeOversightRequirement,
  decodePolicyId,
  decodeResourceId,
  decodeRuntimeOversightRequest,
  decodeRuntimeUsageEvent,
  decodeSandboxId,
  EnablementError,
  type EventBus,
  encodeAgentIdentity,
  encodeConsensusTimestamp,
  encodeOversightRequirement,
  encodePolicyId,
  encodeResourceId,
  encodeRuntimeOversightRequest,
  encodeRuntimeUsageEvent,
  encodeSandboxId,
  type JsonValue,
  oversightNotificationSubject,
  type Platform,
  policyId,
  registrationProof,
  resourceIdFromUri,
  SUBJECTS,
  utf8ToBytes,
  WIRE_CONTRACT_NAMES,
  type WireContractName,
} from '@creto/core';
import {
  connectInProcessTransport,
  createInMemorySessionStore,
  createMessagingClient,
  createMessagingRelay,
  decodeDeliveryReceiptPayload,
  verifyDeliveryReceipt,
} from '@creto/messaging';
import { createMetering } from '@creto/metering';
import { createMessagingNotifier, createOversight, decodeNotificationPayload } from '@creto/oversight';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  createRuntime,
  DETERMINISTIC_PRICE_ENTRIES,
  type SandboxDriver,
} from '@creto/runtime';
import * as ajvModule from 'ajv/dist/2020.js';
import * as formatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FakeClock } from '../fake-clock/index.js';
import {
  createFakeMessageSender,
  createFakeOversightClient,
  createFakeQuotaClient,
  createRecordingNotifier,
  createRecordingUsageSink,
} from '../fakes/index.js';

const ajv = new ajvModule.default({ strict: true, allErrors: true });
formatsModule.default(ajv);
const validators = new Map(WIRE_CONTRACT_NAMES.map((name) => [name, ajv.compile(contractJsonSchema(name))]));
const checked = new Set<WireContractName>();

/** Validates `json` against the generated schema of `name`, with ajv's errors as the failure message. */
function expectValid(name: WireContractName, json: unknown): void {
  const validate = validators.get(name);
  if (validate === undefined) throw new Error(`no schema for ${name}`);
  const valid = validate(json);
  expect(valid, `${name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
  checked.add(name);
}

/** What crosses a process boundary: JSON text, parsed again (no shared objects, no bigint). */
const overTheWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const seed = (n: number) => new Uint8Array(32).fill(n);
const KEYS = {
  agent: AgentKeyPair.fromSeed(seed(11), { postQuantum: true }),
  approver: AgentKeyPair.fromSeed(seed(12), { postQuantum: true }),
  host: AgentKeyPair.fromSeed(seed(13), { postQuantum: true, kind: 'service' }),
  oversight: AgentKeyPair.fromSeed(seed(14), { kind: 'service' }),
  relay: AgentKeyPair.fromSeed(seed(15), { postQuantum: true, kind: 'service' }),
};
const REQUIREMENT = {
  tiers: [{ approvers: [KEYS.approver.identity.nhi], quorum: 1, timeoutMs: 7_200_000 }],
  finalAction: 'auto_deny' as const,
};

const nullDriver: SandboxDriver = {
  info: { name: 'null', isolation: 'none (test double)', isolated: false },
  async create() {
    return {
      exec: async () => ({
        outcome: 'ok',
        stdout: '',
        stderr: '',
        exitCode: 0,
        truncated: false,
        durationMs: 0,
      }),
      checkpoint: async () => ({}),
      dispose: async () => {},
    };
  },
};

const clock = new FakeClock();
let platformPromise: Promise<Platform> | undefined;
function platform(): Promise<Platform> {
  platformPromise ??= (async () => {
    const p = createPlatform({ clock, authz: { overrideTokenIssuers: [KEYS.oversight.identity.nhi] } });
    for (const key of [KEYS.agent, KEYS.approver, KEYS.host, KEYS.relay]) {
      await p.nhi.register({ identity: key.identity, proof: registrationProof(key) });
    }
    await p.nhi.register({ identity: KEYS.oversight.identity });
    p.authz.setPolicies([
      { id: 'spawn', effect: 'permit', action: 'sandbox.spawn' },
      { id: 'egress', effect: 'permit', action: 'network.egress', resource: 'network:api.example.com' },
      { id: 'messaging', effect: 'permit', action: 'messaging:send', resource: 'agent:*' },
      { id: 'funds', effect: 'permit', action: 'funds.transfer' },
      {
        id: 'large_transfer',
        effect: 'require_oversight',
        action: 'funds.transfer',
        when: { attr: 'context.amount', op: 'gt', value: 10000 },
        requirement: REQUIREMENT,
      },
    ]);
    return p;
  })();
  return platformPromise;
}
afterAll(async () => (await platform()).dispose());

describe('Runtime → Metering: RuntimeUsageEvent (spec §4.1, §5.2 metering.events.runtime)', () => {
  it('every event kind Runtime emits validates and is ingested by Metering', async () => {
    const p = await platform();
    const usage = createRecordingUsageSink();
    const runtime = createRuntime({
      platform: p,
      hostKey: KEYS.host,
      usage,
      drivers: { quickjs: nullDriver },
      aliases: { gvisor: 'quickjs' },
      inference: createInferenceRouter({
        providers: [createDeterministicProvider()],
        prices: createPriceTable([...DETERMINISTIC_PRICE_ENTRIES]),
      }),
      fetch: async () => new Response('[1,2,3]', { status: 200 }),
    });
    const sandbox = await runtime.spawnSandbox({ agent: KEYS.agent, runtimeClass: 'gvisor' });
    await runtime.inference(sandbox.sandboxId, {
      model: 'deterministic-echo',
      messages: [{ role: 'user', content: 'Extract invoice data' }],
    });
    await runtime.fetch(sandbox.sandboxId, {
      url: 'https://api.example.com/v1/items',
      method: 'GET',
      headers: {},
    });
    await clock.advanceAsync(1_500);
    await sandbox.terminate('done');
    await runtime.flushUsage();
    expect(usage.events.map((e) => e.eventType).sort()).toEqual([
      'inference_call',
      'network_egress',
      'sandbox_allocated',
      'sandbox_terminated',
    ]);

    const metering = createMetering({ nhi: p.nhi, clock, consensus: p.consensus });
    await metering.registerPlan({
      id: 'contract',
      name: 'Contract',
      currency: 'USD',
      interval: 'month',
      charges: [],
    });
    await metering.createSubscription({
      organizationId: 'acme',
      planId: 'contract',
      billingContact: 'billing@acme.example',
      agents: [KEYS.agent.identity.nhi],
    });
    for (const event of usage.events) {
      const json = overTheWire(encodeRuntimeUsageEvent(event));
      expectValid('runtime-usage-event', json);
      // Consumer codec: what Metering decodes is the event Runtime signed, field for field.
      expect(decodeRuntimeUsageEvent(json)).toEqual(event);
      const [result] = await metering.ingest([json]);
      expect(result, event.eventType).toMatchObject({ status: 'accepted' });
    }
    const terminated = usage.ofType('sandbox_terminated')[0];
    expect(terminated?.properties).toMatchObject({ type: 'SandboxAllocated', durationSeconds: 2n });
    await metering.close();
    await runtime.close();
  });
});

describe('Runtime → Oversight: RuntimeOversightRequest, OversightRequirement, PolicyId (spec §4.2)', () => {
  it('the request Runtime sends on requires_oversight validates and decodes on the Oversight side', async () => {
    const p = await platform();
    const oversight = createFakeOversightClient({ clock });
    const runtime = createRuntime({
      platform: p,
      hostKey: KEYS.host,
      oversight,
      drivers: { quickjs: nullDriver },
      usage: { publish: async () => {} },
    });
    runtime.registerTool({
      name: 'transfer_funds',
      description: 'Move money',
      schema: z.object({ amount: z.number() }),
      action: 'funds.transfer',
      resource: () => 'payments:account:ops',
      riskFactors: () => [{ name: 'large_transfer', severity: 'high' }],
      handler: (args) => ({ transferred: args.amount }),
    });
    const sandbox = await runtime.spawnSandbox({ agent: KEYS.agent });
    const call = runtime.startToolCall(sandbox.sandboxId, 'transfer_funds', { amount: 50_000 });
    for (let i = 0; i < 20 && oversight.last() === undefined; i++) await clock.advanceAsync(0);
    const sent = oversight.last()?.input;
    if (sent === undefined) throw new Error('Runtime sent no oversight request');
    const { blocking: _blocking, traceId: _traceId, ...request } = sent;
    const json = overTheWire(encodeRuntimeOversightRequest(request));
    expectValid('runtime-oversight-request', json);
    const decoded = decodeRuntimeOversightRequest(json);
    expect(decoded).toMatchObject({
      agentNhi: KEYS.agent.identity.nhi,
      action: { name: 'funds.transfer', parameters: { amount: 50_000 } },
      sandboxId: sandbox.sandboxId,
    });

    expectValid('oversight-requirement', overTheWire(encodeOversightRequirement(request.requirement)));
    expect(decodeOversightRequirement(overTheWire(encodeOversightRequirement(request.requirement)))).toEqual(
      REQUIREMENT,
    );
    const policy = overTheWire(encodePolicyId(policyId(request.policyId)));
    expectValid('policy-id', policy);
    expect(decodePolicyId(policy)).toBe('large_transfer');
    expectValid('sandbox-id', overTheWire(encodeSandboxId(sandbox.sandboxId)));
    expect(decodeSandboxId(overTheWire(encodeSandboxId(sandbox.sandboxId)))).toBe(sandbox.sandboxId);

    oversight.deny();
    await expect(call.result).rejects.toMatchObject({ code: 'RT-403' });
    await runtime.close();
  });
});

describe('Oversight → Messaging: OversightNotification (spec §4.4, §5.2 oversight.notifications.{channel})', () => {
  it('the notification data and the bus message validate; the messaging payload decodes on the bot side', async () => {
    const p = await platform();
    const notifier = createRecordingNotifier();
    const published: { subject: string; data: Uint8Array }[] = [];
    const eventBus: Pick<EventBus, 'publish'> = {
      async publish(subject, data) {
        published.push({ subject, data });
        return { stream: 'OVERSIGHT', seq: published.length, duplicate: false };
      },
    };
    const oversight = createOversight({
      nhi: p.nhi,
      serviceKey: KEYS.oversight,
      clock,
      notifier,
      eventBus,
      approvalLinkBase: 'https://approvals.example.com/requests',
    });
    await oversight.createRequest({
      agentNhi: KEYS.agent.identity.nhi,
      delegationChain: [],
      action: { name: 'delete_database', parameters: { database: 'prod' } },
      resource: { resourceType: 'database', resourceId: 'prod' },
      policyId: policyId('destructive'),
      requirement: REQUIREMENT,
      actionDescription: 'Delete the production database',
      riskFactors: [{ name: 'irreversible', severity: 'critical' }],
    });
    const [notification] = notifier.notifications;
    expectValid('oversight-notification', overTheWire(notification?.data));
    const decoded = decodeOversightNotification(overTheWire(notification?.data));
    expect(decoded.approverIdentity).toBe(KEYS.approver.identity.nhi);
    expect(decoded.notificationPayload.approvalLink).toMatch(
      /^https:\/\/approvals\.example\.com\/requests\//,
    );

    const [message] = published;
    expect(message?.subject).toBe(oversightNotificationSubject(decoded.channelType));
    const busJson = decodeJson(message?.data ?? new Uint8Array());
    expectValid('oversight-notification', busJson);
    expect(decodeOversightNotification(busJson)).toEqual(decoded);

    // Delivery through Messaging: the payload the messaging notifier sends decodes on the bot side.
    const sender = createFakeMessageSender();
    await createMessagingNotifier({ sender, clock }).notify(notification ?? never());
    const received = decodeNotificationPayload(sender.sent[0]?.payload ?? new Uint8Array());
    expect(received.subject).toBe('Approval Required: delete_database');
    expect(decodeOversightNotification(received.data)).toEqual(decoded);
    await oversight.close();
  });
});

describe('Messaging → Audit: DeliveryReceipt (spec §5.2 messaging.delivery_receipts)', () => {
  it('the receipts the relay publishes validate, decode and verify against the relay identity', async () => {
    const p = await platform();
    const published: { subject: string; data: Uint8Array }[] = [];
    const relay = createMessagingRelay({
      authz: p.authz,
      nhi: p.nhi,
      clock,
      consensus: p.consensus,
      serviceKey: KEYS.relay,
      eventBus: {
        async publish(subject, data) {
          published.push({ subject, data });
          return { stream: 'RECEIPTS', seq: published.length, duplicate: false };
        },
      },
    });
    const start = (pair: AgentKeyPair) =>
      createMessagingClient({
        identity: pair,
        nhi: p.nhi,
        transport: (onEnvelope) => connectInProcessTransport({ relay, keyPair: pair, onEnvelope }),
        sessionStore: createInMemorySessionStore(),
        clock,
      });
    const sender = await start(KEYS.agent);
    const recipient = await start(KEYS.approver);
    const id = await sender.send(recipient.nhi, utf8ToBytes('Payment processed'));
    await relay.whenIdle();
    await recipient.markRead(id);
    await relay.whenIdle();
    expect(published.map((m) => m.subject)).toEqual([
      SUBJECTS.messagingDeliveryReceipts,
      SUBJECTS.messagingDeliveryReceipts,
    ]);
    const types: string[] = [];
    for (const { data } of published) {
      const json = decodeJson(data);
      expectValid('delivery-receipt', json);
      const receipt = decodeDeliveryReceipt(json);
      expect(decodeDeliveryReceiptPayload(data)).toEqual(receipt);
      expect(receipt.messageId).toBe(id);
      expect(verifyDeliveryReceipt(receipt, KEYS.relay.identity)).toBe(true);
      expect(verifyDeliveryReceipt(receipt, KEYS.agent.identity)).toBe(false);
      types.push(receipt.receiptType);
    }
    expect(types).toEqual(['delivered', 'read']);
    await sender.close();
    await recipient.close();
    await relay.close();
  });
});

describe('every product → caller: EnablementError (spec §8.2)', () => {
  it('RT-429 caused by MT-429 keeps its chain, retry hint and trace id across the wire', async () => {
    const p = await platform();
    const quota = createFakeQuotaClient({
      fallback: { decision: 'block', usage: 100, limit: 100, retryAfterMs: 86_400_000 },
    });
    const runtime = createRuntime({
      platform: p,
      hostKey: KEYS.host,
      quota,
      drivers: { quickjs: nullDriver },
      usage: { publish: async () => {} },
    });
    const error = await runtime.spawnSandbox({ agent: KEYS.agent }).then(never, (e: unknown) => e);
    if (!(error instanceof EnablementError)) throw error;
    const json = overTheWire(error.toJSON());
    expectValid('enablement-error', json);
    expect(json).toMatchObject({
      code: 'RT-429',
      product: 'runtime',
      caused_by: { code: 'MT-429', product: 'metering', retry_after: { secs: 86_400, nanos: 0 } },
    });
    const decoded = decodeEnablementError(json);
    expect(decoded.code).toBe('RT-429');
    expect(decoded.causedBy?.code).toBe('MT-429');
    expect(decoded.retryAfterMs).toBe(error.retryAfterMs);
    expect(decoded.traceId).toBe(error.traceId);
    await runtime.close();
  });
});

describe('shared types (spec §6): AgentIdentity, ConsensusTimestamp, ResourceId', () => {
  it('what the platform produces validates and decodes', async () => {
    const p = await platform();
    const principal = await p.nhi.lookup(KEYS.agent.identity.nhi);
    const identity = overTheWire(encodeAgentIdentity(principal.identity));
    expectValid('agent-identity', identity);
    expect(decodeAgentIdentity(identity).nhi).toBe(KEYS.agent.identity.nhi);

    const now = p.consensus.getTimestamp();
    const timestamp = overTheWire(encodeConsensusTimestamp(await now));
    expectValid('consensus-timestamp', timestamp);
    expect(decodeConsensusTimestamp(timestamp)).toBe(await now);

    const audit = await p.audit.query({ product: 'runtime', limit: 1 });
    const resource = audit.events[0]?.resource ?? 'runtime:sandbox:sb-unknown';
    const resourceId = overTheWire(encodeResourceId(resourceIdFromUri(resource)));
    expectValid('resource-id', resourceId);
    expect(decodeResourceId(resourceId)).toEqual(resourceIdFromUri(resource));
  });
});

describe('coverage', () => {
  it('every wire contract of core was checked against a real producer above', () => {
    expect([...checked].sort()).toEqual([...WIRE_CONTRACT_NAMES]);
  });

  it('a producer that drifts from the contract is caught by the schema', () => {
    const validate = validators.get('runtime-usage-event');
    const bad: JsonValue = { event_id: 'not-a-uuid', event_type: 'sandbox_allocated' };
    expect(validate?.(bad)).toBe(false);
  });
});

function never(): never {
  throw new Error('unreachable');
}
