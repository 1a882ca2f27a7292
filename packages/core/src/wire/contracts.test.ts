import { readFileSync } from 'node:fs';
import { expectEnablementError } from '@creto/testing';
import * as ajvModule from 'ajv/dist/2020.js';
import * as formatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical/canonicalize.js';
import { decodeHybridSignature, encodeHybridSignature, signHybrid, verifyHybrid } from '../crypto/hybrid.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { Decimal } from '../decimal/decimal.js';
import { bytesToBase64url, bytesToUtf8, concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { INT64_MAX, INT64_MIN, UINT64_MAX } from '../encoding/int64.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/catalogue.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { formatNhi } from '../identity/nhi.js';
import type { PolicyId } from '../ids/policy-id.js';
import { isResourceId, type ResourceId } from '../ids/resource-id.js';
import type { SandboxId } from '../ids/sandbox-id.js';
import { isUuid, type Uuid } from '../ids/uuid.js';
import { WIRE_CONTRACT_NAMES, WIRE_CONTRACTS, type WireContractName } from './contracts.js';
import {
  type DeliveryReceipt,
  decodeDeliveryReceipt,
  deliveryReceiptSigningBytes,
  encodeDeliveryReceipt,
} from './delivery-receipt.js';
import { decodeEnablementError, encodeEnablementError } from './enablement-error.js';
import type { JsonValue } from './json.js';
import {
  decodeOversightNotification,
  decodeOversightRequirement,
  decodeRuntimeOversightRequest,
  encodeOversightRequirement,
  encodeRuntimeOversightRequest,
  type OversightNotification,
  type OversightRequirement,
  oversightNotificationSubject,
  type RiskFactor,
  type RuntimeOversightRequest,
} from './oversight.js';
import { decodeAgentIdentity, encodeAgentIdentity } from './shared-types.js';
import { WIRE_SIGNATURE_LENGTHS, wireSignatureScheme } from './signature.js';
import { SUBJECTS } from './subjects.js';
import {
  decodeRuntimeUsageEvent,
  encodeRuntimeUsageEvent,
  type InferenceUsageEvent,
  type RuntimeUsageEvent,
  USAGE_EVENT_SIGNING_DOMAIN,
  usageEventSigningBytes,
} from './usage-event.js';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const provider = nobleCryptoProvider;
const seed = (n: number) => new Uint8Array(32).fill(n);
const edKeys = [1, 2, 3, 4, 5, 6].map((n) => provider.ed25519.generateKeyPair(seed(n)));
const AGENT = formatNhi('agent', (edKeys[0] as { publicKey: Uint8Array }).publicKey);
const HUMAN = formatNhi('human', (edKeys[1] as { publicKey: Uint8Array }).publicKey);
const NHIS = edKeys.flatMap(({ publicKey }) => [
  formatNhi('agent', publicKey),
  formatNhi('human', publicKey),
]);
const SIG = bytesToBase64url(new Uint8Array(3309).fill(9));
const UUID = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

const schemaDir = new URL('../../schemas/', import.meta.url);
const ajv = new ajvModule.default({ strict: true, allErrors: true });
formatsModule.default(ajv);
const validators = new Map(
  WIRE_CONTRACT_NAMES.map((name) => [
    name,
    ajv.compile(JSON.parse(readFileSync(new URL(`${name}.schema.json`, schemaDir), 'utf8'))),
  ]),
);

function schemaAccepts(name: WireContractName, json: unknown): boolean {
  const validate = validators.get(name);
  if (validate === undefined) throw new Error(`no schema for ${name}`);
  return validate(json) === true;
}

function codecAccepts(name: WireContractName, json: unknown): boolean {
  return looseCodec(name).safeParse(json).success;
}

/** A contract's codec with the per-contract types erased, for table-driven tests. */
function looseCodec(name: WireContractName): {
  decode(json: unknown): unknown;
  encode(value: unknown): unknown;
  safeParse(json: unknown): { success: boolean };
} {
  return WIRE_CONTRACTS[name].codec as unknown as ReturnType<typeof looseCodec>;
}

/** What actually travels: JSON text, parsed back. */
function viaJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}

const sandboxEventWire = {
  event_id: UUID,
  agent_nhi: AGENT,
  delegation_chain: [HUMAN, AGENT],
  event_type: 'sandbox_allocated',
  consensus_timestamp: '1735000000000000000',
  properties: {
    type: 'SandboxAllocated',
    sandbox_id: 'sb-test',
    runtime_class: 'gvisor',
    cpu_millicores: 1000,
    memory_bytes: '2147483648',
    duration_seconds: '3600',
  },
  signature: SIG,
  idempotency_key: 'test-key',
};

const inferenceEventWire = {
  ...sandboxEventWire,
  event_type: 'inference_call',
  delegation_chain: [],
  properties: {
    type: 'InferenceCall',
    sandbox_id: 'sb-test',
    model_id: 'claude-3-opus',
    provider: 'anthropic',
    input_tokens: '1200',
    output_tokens: '350',
    cost_usd: '0.018510',
  },
};

const egressEventWire = {
  ...sandboxEventWire,
  event_type: 'network_egress',
  properties: {
    type: 'NetworkEgress',
    sandbox_id: 'sb-test',
    destination: 'api.example.com:443',
    bytes_transferred: '18446744073709551615',
  },
};

const riskFactor = {
  name: 'large_transfer',
  severity: 'high',
  description: 'Amount above the 10 000 USD policy threshold',
  score: 0.8,
  amount: '50000.00',
  limit: '10000.00',
};

const notificationWire = {
  request_id: UUID,
  approver_identity: HUMAN,
  channel_type: 'slack',
  notification_payload: {
    action_description: 'Transfer 50 000 USD to ACME Corp',
    risk_factors: [riskFactor],
    reasoning_context: 'Invoice approved\nDue date: 2024-12-31',
    approval_link: 'https://oversight.example.com/requests/1b4e28ba',
  },
};

const receiptWire = {
  message_id: UUID,
  recipient_nhi: AGENT,
  receipt_type: 'delivered',
  timestamp: '1735000000000000000',
  signature: SIG,
};

const failedReceiptWire = {
  ...receiptWire,
  receipt_type: 'failed',
  failure_reason: 'recipient offline > TTL',
};

const requirementWire = {
  tiers: [
    { approvers: [HUMAN], quorum: 1, timeout_ms: 7_200_000 },
    { approvers: NHIS.slice(2, 5), quorum: 2, timeout_ms: 86_400_000 },
  ],
  final_action: 'auto_deny',
};

const requestWire = {
  agent_nhi: AGENT,
  delegation_chain: [HUMAN, AGENT],
  action: { name: 'funds.transfer', parameters: { amount: '50000.00', currency: 'USD', to: 'ACME' } },
  resource: { resource_type: 'account', resource_id: 'acct-42' },
  policy_id: 'large_transfer',
  requirement: requirementWire,
  sandbox_id: 'sb-test',
  action_description: 'Transfer 50 000 USD to ACME Corp',
  risk_factors: [riskFactor],
};

const mlDsa = provider.mlDsa65.generateKeyPair(seed(9));
const identityWire = {
  nhi: AGENT,
  public_key_ed25519: bytesToBase64url((edKeys[0] as { publicKey: Uint8Array }).publicKey),
  public_key_ml_dsa: bytesToBase64url(mlDsa.publicKey),
};

const errorWire = new EnablementError('RT-429', 'Cannot spawn sandbox: quota exceeded', {
  cause: new EnablementError('MT-429', 'Monthly sandbox quota exceeded (100/100)', {
    retryAfterMs: 86_400_000,
  }),
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
}).toJSON();

/** For every contract: valid wire examples, and invalid ones that both the schema and the codec reject. */
const CASES: Record<WireContractName, { valid: unknown[]; invalid: [string, unknown][] }> = {
  'runtime-usage-event': {
    valid: [
      sandboxEventWire,
      { ...sandboxEventWire, event_type: 'sandbox_terminated', delegation_chain: [] },
      inferenceEventWire,
      egressEventWire,
      { ...sandboxEventWire, signature: bytesToBase64url(new Uint8Array(3373)) },
    ],
    invalid: [
      ['missing signature', (({ signature: _, ...rest }) => rest)(sandboxEventWire)],
      ['unknown key', { ...sandboxEventWire, extra: 1 }],
      [
        'unknown properties key',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, x: 1 } },
      ],
      ['event type / properties mismatch', { ...sandboxEventWire, event_type: 'inference_call' }],
      [
        'timestamp as §4.1 "timestamp"',
        (({ consensus_timestamp: t, ...r }) => ({ ...r, timestamp: t }))(sandboxEventWire),
      ],
      ['unknown event type', { ...sandboxEventWire, event_type: 'sandbox_paused' }],
      ['unknown properties variant', { ...sandboxEventWire, properties: { type: 'Gpu' } }],
      [
        'exponent money',
        { ...inferenceEventWire, properties: { ...inferenceEventWire.properties, cost_usd: '1e-3' } },
      ],
      [
        'negative money',
        { ...inferenceEventWire, properties: { ...inferenceEventWire.properties, cost_usd: '-0.01' } },
      ],
      [
        'money as number',
        { ...inferenceEventWire, properties: { ...inferenceEventWire.properties, cost_usd: 0.0185 } },
      ],
      [
        'u64 as number',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, memory_bytes: 2147483648 } },
      ],
      [
        'u64 overflow',
        {
          ...egressEventWire,
          properties: { ...egressEventWire.properties, bytes_transferred: '18446744073709551616' },
        },
      ],
      [
        'u64 leading zero',
        { ...egressEventWire, properties: { ...egressEventWire.properties, bytes_transferred: '01' } },
      ],
      [
        'u32 overflow',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, cpu_millicores: 2 ** 32 } },
      ],
      [
        'u32 fraction',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, cpu_millicores: 0.5 } },
      ],
      [
        'bad runtime class',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, runtime_class: 'GVisor' } },
      ],
      [
        'bad sandbox id',
        { ...sandboxEventWire, properties: { ...sandboxEventWire.properties, sandbox_id: 'sandbox:1' } },
      ],
      ['Ed25519-size signature', { ...sandboxEventWire, signature: bytesToBase64url(new Uint8Array(64)) }],
      ['padded signature', { ...sandboxEventWire, signature: `${SIG}==` }],
      ['empty idempotency key', { ...sandboxEventWire, idempotency_key: '' }],
      ['idempotency key with space', { ...sandboxEventWire, idempotency_key: 'a b' }],
      ['idempotency key too long', { ...sandboxEventWire, idempotency_key: 'k'.repeat(257) }],
      ['agent NHI shorthand', { ...sandboxEventWire, agent_nhi: 'agent:xxx' }],
      ['chain too long', { ...sandboxEventWire, delegation_chain: new Array(66).fill(AGENT) }],
      ['negative zero timestamp', { ...sandboxEventWire, consensus_timestamp: '-0' }],
      ['timestamp as number', { ...sandboxEventWire, consensus_timestamp: 1735000000000000000 }],
      ['uppercase uuid', { ...sandboxEventWire, event_id: UUID.toUpperCase() }],
      ['not an object', [sandboxEventWire]],
    ],
  },
  'oversight-notification': {
    valid: [
      notificationWire,
      {
        ...notificationWire,
        channel_type: 'email',
        notification_payload: {
          ...notificationWire.notification_payload,
          risk_factors: [],
          reasoning_context: '',
        },
      },
    ],
    invalid: [
      ['unknown channel', { ...notificationWire, channel_type: 'sms' }],
      ['unknown key', { ...notificationWire, priority: 'high' }],
      [
        'risk factor without severity',
        {
          ...notificationWire,
          notification_payload: { ...notificationWire.notification_payload, risk_factors: [{ name: 'x' }] },
        },
      ],
      [
        'risk factor bad severity',
        {
          ...notificationWire,
          notification_payload: {
            ...notificationWire.notification_payload,
            risk_factors: [{ name: 'x', severity: 'extreme' }],
          },
        },
      ],
      [
        'too many risk factors',
        {
          ...notificationWire,
          notification_payload: {
            ...notificationWire.notification_payload,
            risk_factors: new Array(33).fill(riskFactor),
          },
        },
      ],
      [
        'risk factor with too many members',
        {
          ...notificationWire,
          notification_payload: {
            ...notificationWire.notification_payload,
            risk_factors: [
              Object.fromEntries([
                ['name', 'x'],
                ['severity', 'low'],
                ...Array.from({ length: 15 }, (_, i) => [`k${i}`, i]),
              ]),
            ],
          },
        },
      ],
      [
        'javascript: link',
        {
          ...notificationWire,
          notification_payload: {
            ...notificationWire.notification_payload,
            approval_link: 'javascript:alert(1)',
          },
        },
      ],
      [
        'control character',
        {
          ...notificationWire,
          notification_payload: { ...notificationWire.notification_payload, action_description: 'a\u0007b' },
        },
      ],
      [
        'empty description',
        {
          ...notificationWire,
          notification_payload: { ...notificationWire.notification_payload, action_description: '' },
        },
      ],
    ],
  },
  'delivery-receipt': {
    valid: [receiptWire, { ...receiptWire, receipt_type: 'read' }, failedReceiptWire],
    invalid: [
      ['failed without reason', { ...receiptWire, receipt_type: 'failed' }],
      ['delivered with reason', { ...receiptWire, failure_reason: 'x' }],
      ['null reason', { ...receiptWire, failure_reason: null }],
      ['unknown receipt type', { ...receiptWire, receipt_type: 'bounced' }],
      ['empty reason', { ...failedReceiptWire, failure_reason: '' }],
      ['bad signature', { ...receiptWire, signature: 'AAAA' }],
    ],
  },
  'runtime-oversight-request': {
    valid: [
      requestWire,
      { ...requestWire, sandbox_id: null, action: { name: 'spawn_sandbox', parameters: null } },
    ],
    invalid: [
      ['missing sandbox_id', (({ sandbox_id: _, ...rest }) => rest)(requestWire)],
      ['unknown key', { ...requestWire, priority: 1 }],
      ['camelCase key', (({ policy_id: p, ...rest }) => ({ ...rest, policyId: p }))(requestWire)],
      ['bad policy id', { ...requestWire, policy_id: '*' }],
      ['no tiers', { ...requestWire, requirement: { ...requirementWire, tiers: [] } }],
      [
        'bad final action',
        { ...requestWire, requirement: { ...requirementWire, final_action: 'AUTO_DENY' } },
      ],
      ['action without parameters', { ...requestWire, action: { name: 'x' } }],
      ['resource with camelCase', { ...requestWire, resource: { resourceType: 'a', resourceId: 'b' } }],
    ],
  },
  'oversight-requirement': {
    valid: [
      requirementWire,
      { tiers: [{ approvers: [HUMAN], quorum: 1, timeout_ms: 1 }], final_action: 'auto_approve' },
    ],
    invalid: [
      ['zero quorum', { ...requirementWire, tiers: [{ approvers: [HUMAN], quorum: 0, timeout_ms: 1000 }] }],
      ['no approvers', { ...requirementWire, tiers: [{ approvers: [], quorum: 1, timeout_ms: 1000 }] }],
      [
        'timeout over 30 days',
        { ...requirementWire, tiers: [{ approvers: [HUMAN], quorum: 1, timeout_ms: 2_592_000_001 }] },
      ],
      [
        'timeout as string',
        { ...requirementWire, tiers: [{ approvers: [HUMAN], quorum: 1, timeout_ms: '1000' }] },
      ],
      ['nine tiers', { ...requirementWire, tiers: new Array(9).fill(requirementWire.tiers[0]) }],
      [
        'email approver',
        { ...requirementWire, tiers: [{ approvers: ['cfo@example.com'], quorum: 1, timeout_ms: 1000 }] },
      ],
    ],
  },
  'enablement-error': {
    valid: [errorWire, new EnablementError('PL-400', 'bad').toJSON()],
    invalid: [
      ['unknown code', { ...errorWire, code: 'XX-999' }],
      ['unknown product', { ...errorWire, product: 'billing' }],
      ['retry_after in ms', { ...errorWire, retry_after: 1000 }],
      ['nanos overflow', { ...errorWire, retry_after: { secs: 1, nanos: 1_000_000_000 } }],
      ['missing trace_id', (({ trace_id: _, ...rest }) => rest)(errorWire)],
      ['chain of 17', nestErrors(17)],
    ],
  },
  'agent-identity': {
    valid: [identityWire, { ...identityWire, public_key_ml_dsa: null }],
    invalid: [
      ['missing ml-dsa member', (({ public_key_ml_dsa: _, ...rest }) => rest)(identityWire)],
      ['short ed25519 key', { ...identityWire, public_key_ed25519: bytesToBase64url(new Uint8Array(31)) }],
      ['short ml-dsa key', { ...identityWire, public_key_ml_dsa: bytesToBase64url(new Uint8Array(1951)) }],
      ['hex key', { ...identityWire, public_key_ed25519: 'ab'.repeat(32) }],
    ],
  },
  'consensus-timestamp': {
    valid: ['1735000000000000000', '0', '-1', INT64_MAX.toString(), INT64_MIN.toString()],
    invalid: [
      ['number', 1735000000000000000],
      ['overflow', (INT64_MAX + 1n).toString()],
      ['exponent', '1.7e18'],
      ['leading zero', '01'],
    ],
  },
  'policy-id': {
    valid: ['large_transfer', 'spawn-limits/v2', 'org:acme:egress'],
    invalid: [
      ['empty', ''],
      ['space', 'a b'],
      ['wildcard', 'egress.*'],
      ['too long', 'p'.repeat(257)],
    ],
  },
  'resource-id': {
    valid: ['runtime:sandbox:sb-42', `oversight:request:${UUID}`, 'network:api.example.com'],
    invalid: [
      ['no colon', 'sandbox'],
      ['uppercase product', 'Runtime:x'],
      ['space', 'network:a b'],
    ],
  },
  'sandbox-id': {
    valid: ['sb-42', 'sb-1b4e28ba-2fa1-41d2-883f-0016d3cca427'],
    invalid: [
      ['no prefix', '42'],
      ['colon', 'sb-a:b'],
      ['too long', `sb-${'a'.repeat(126)}`],
    ],
  },
};

function inferenceEvent(): InferenceUsageEvent {
  const event = decodeRuntimeUsageEvent(inferenceEventWire);
  if (event.eventType !== 'inference_call') throw new Error('unreachable');
  return event;
}

function nestErrors(depth: number): unknown {
  let json: unknown = null;
  for (let i = 0; i < depth; i++)
    json = { ...new EnablementError('PL-503', `level ${i}`).toJSON(), caused_by: json };
  return json;
}

// ---------------------------------------------------------------------------------------------
// Contract tests (spec §12.3)
// ---------------------------------------------------------------------------------------------

describe('contract tests: checked-in JSON Schema and codec agree', () => {
  it('covers every contract', () => {
    expect(Object.keys(CASES).sort()).toEqual([...WIRE_CONTRACT_NAMES].sort());
  });

  for (const name of WIRE_CONTRACT_NAMES) {
    const { valid, invalid } = CASES[name];
    it.each(valid.map((json, i) => [i, json] as const))(
      `${name}: valid example %i validates and decodes`,
      (_, json) => {
        expect(schemaAccepts(name, json), JSON.stringify(validators.get(name)?.errors)).toBe(true);
        const decoded = looseCodec(name).decode(json);
        // The wire form is canonical: encoding what was decoded gives the same JSON back.
        expect(viaJson(looseCodec(name).encode(decoded))).toEqual(json);
      },
    );
    it.each(invalid)(`${name}: invalid (%s) fails both`, (_, json) => {
      expect(schemaAccepts(name, json)).toBe(false);
      expect(codecAccepts(name, json)).toBe(false);
    });
  }

  it('spec §12.3: the metering event example deserializes with its event type', () => {
    const event = decodeRuntimeUsageEvent(viaJson(sandboxEventWire));
    expect(event.eventType).toBe('sandbox_allocated');
    expect(event.properties.type).toBe('SandboxAllocated');
    if (event.properties.type === 'SandboxAllocated') {
      expect(event.properties.memoryBytes).toBe(2_147_483_648n);
      expect(event.properties.cpuMillicores).toBe(1000);
      expect(event.properties.runtimeClass).toBe('gvisor');
    }
    expect(event.consensusTimestamp).toBe(1_735_000_000_000_000_000n);
    expect(event.signature).toHaveLength(3309);
  });

  it('the codec is stricter than JSON Schema where JSON Schema cannot express the rule', () => {
    // Ed25519 key in the NHI is not a curve point: only the codec checks.
    const badNhi = `agent:nhi:ed25519:${'z'.repeat(44)}`;
    expect(schemaAccepts('runtime-usage-event', { ...sandboxEventWire, agent_nhi: badNhi })).toBe(true);
    expect(codecAccepts('runtime-usage-event', { ...sandboxEventWire, agent_nhi: badNhi })).toBe(false);
    // Quorum above the number of approvers, duplicate approvers.
    const tooHigh = {
      tiers: [{ approvers: [HUMAN], quorum: 2, timeout_ms: 1000 }],
      final_action: 'auto_deny',
    };
    const duplicate = {
      tiers: [{ approvers: [HUMAN, HUMAN], quorum: 1, timeout_ms: 1000 }],
      final_action: 'auto_deny',
    };
    for (const json of [tooHigh, duplicate]) {
      expect(schemaAccepts('oversight-requirement', json)).toBe(true);
      expect(codecAccepts('oversight-requirement', json)).toBe(false);
    }
    // Ed25519 key field that disagrees with the NHI.
    const mismatched = {
      ...identityWire,
      public_key_ed25519: bytesToBase64url((edKeys[2] as { publicKey: Uint8Array }).publicKey),
    };
    expect(schemaAccepts('agent-identity', mismatched)).toBe(true);
    expectEnablementError(
      () => decodeAgentIdentity(mismatched),
      'PL-400',
      /does not match the key in the NHI/,
    );
    // A risk factor's byte size.
    const big = { name: 'x', severity: 'low', blob: 'y'.repeat(5000) };
    const json = {
      ...notificationWire,
      notification_payload: { ...notificationWire.notification_payload, risk_factors: [big] },
    };
    expect(schemaAccepts('oversight-notification', json)).toBe(true);
    expect(codecAccepts('oversight-notification', json)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------------------------

describe('decode/encode errors carry the product code and the failing path', () => {
  it('usage events → MT-400, wire paths on decode, TypeScript paths on encode', () => {
    const bad = { ...inferenceEventWire, properties: { ...inferenceEventWire.properties, cost_usd: '1e3' } };
    expectEnablementError(
      () => decodeRuntimeUsageEvent(bad),
      'MT-400',
      /^invalid RuntimeUsageEvent: properties\.cost_usd: /,
    );
    expectEnablementError(() => decodeRuntimeUsageEvent(null), 'MT-400', /\(root\)/);
    expectEnablementError(
      () => decodeRuntimeUsageEvent({ ...sandboxEventWire, delegation_chain: [AGENT, 'x'] }),
      'MT-400',
      /delegation_chain\[1\]/,
    );
    expectEnablementError(
      () => decodeRuntimeUsageEvent({ ...sandboxEventWire, event_type: 'x' }),
      'MT-400',
      /event_type/,
    );
    const event = inferenceEvent();
    const negative = { ...event, properties: { ...event.properties, costUsd: Decimal.parse('-1') } };
    expectEnablementError(
      () => encodeRuntimeUsageEvent(negative),
      'MT-400',
      /^cannot encode RuntimeUsageEvent: properties\.costUsd: /,
    );
  });

  it('receipts → MS-400, oversight → OV-400, shared types → PL-400', () => {
    expectEnablementError(
      () => decodeDeliveryReceipt({ ...receiptWire, receipt_type: 'failed' }),
      'MS-400',
      /failure_reason/,
    );
    expectEnablementError(
      () => decodeOversightNotification({ ...notificationWire, channel_type: 'sms' }),
      'OV-400',
      /channel_type/,
    );
    expectEnablementError(
      () => decodeRuntimeOversightRequest({ ...requestWire, policy_id: '' }),
      'OV-400',
      /policy_id/,
    );
    const quorum = { tiers: [{ approvers: [HUMAN], quorum: 3, timeout_ms: 1 }], final_action: 'auto_deny' };
    expectEnablementError(
      () => decodeOversightRequirement(quorum),
      'OV-400',
      /tiers\[0\]\.quorum: quorum 3 exceeds the 1 approver/,
    );
    expectEnablementError(() => decodeAgentIdentity({ nhi: AGENT }), 'PL-400', /public_key_ed25519/);
    expectEnablementError(() => decodeEnablementError(nestErrors(17)), 'PL-400', /caused_by/);
    expect(decodeEnablementError(nestErrors(16))).toBeInstanceOf(EnablementError);
  });

  it('never leaks the SDK parsers’ placeholder field name into messages', () => {
    const error = expectEnablementError(
      () =>
        decodeRuntimeUsageEvent({ ...sandboxEventWire, agent_nhi: `agent:nhi:ed25519:${'z'.repeat(44)}` }),
      'MT-400',
    );
    expect(error.message).toMatch(/^invalid RuntimeUsageEvent: agent_nhi: /);
    expect(error.message).not.toContain('$value');
  });
});

describe('hostile input', () => {
  it('rejects a million-entry delegation chain quickly, without checking each NHI', () => {
    const chain = new Array(1_000_000).fill('agent:nhi:ed25519:zzzz');
    const started = performance.now();
    expectEnablementError(
      () => decodeRuntimeUsageEvent({ ...sandboxEventWire, delegation_chain: chain }),
      'MT-400',
      /delegation_chain/,
    );
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('rejects huge strings, deep parameters and prototype tricks', () => {
    expectEnablementError(
      () => decodeRuntimeUsageEvent({ ...sandboxEventWire, idempotency_key: 'k'.repeat(10_000_000) }),
      'MT-400',
      /idempotency_key/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    expectEnablementError(
      () => decodeRuntimeOversightRequest({ ...requestWire, action: { name: 'x', parameters: deep } }),
      'OV-400',
      /action\.parameters: JSON nested deeper than 16/,
    );
    const proto = JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(receiptWire).slice(1)}`);
    expectEnablementError(() => decodeDeliveryReceipt(proto), 'MS-400');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expectEnablementError(() => decodeRuntimeUsageEvent('{"event_id": 1}'), 'MT-400');
    expectEnablementError(() => decodeRuntimeUsageEvent(undefined), 'MT-400');
  });

  it('rejects lone surrogates that RFC 8785 could not sign', () => {
    expectEnablementError(
      () => decodeDeliveryReceipt({ ...failedReceiptWire, failure_reason: 'bad \uD800 text' }),
      'MS-400',
      /failure_reason/,
    );
    expect(decodeDeliveryReceipt({ ...failedReceiptWire, failure_reason: 'ok 😀' }).receiptType).toBe(
      'failed',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Signing bytes
// ---------------------------------------------------------------------------------------------

describe('signing bytes', () => {
  const event = inferenceEvent();

  it('are domain tag ‖ 0x00 ‖ RFC 8785 JSON of the wire form without the signature', () => {
    const bytes = usageEventSigningBytes(event);
    const { signature: _, ...unsigned } = inferenceEventWire;
    const expected = concatBytes(
      utf8ToBytes(USAGE_EVENT_SIGNING_DOMAIN),
      Uint8Array.of(0),
      utf8ToBytes(canonicalize(unsigned)),
    );
    expect(bytes).toEqual(expected);
    expect(bytesToUtf8(bytes)).not.toContain('signature');
    expect(bytes.includes(0xff)).toBe(false);
  });

  it('do not depend on the signature, the key order or a decode/encode cycle', () => {
    const { signature: _, ...unsigned } = event;
    const reordered = Object.fromEntries(
      Object.entries(inferenceEventWire)
        .reverse()
        .map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v).reverse()) : v]),
    );
    expect(usageEventSigningBytes(unsigned)).toEqual(usageEventSigningBytes(event));
    expect(usageEventSigningBytes(decodeRuntimeUsageEvent(reordered))).toEqual(usageEventSigningBytes(event));
    // A one-digit change in the cost changes the bytes.
    const cheaper = { ...event, properties: { ...event.properties, costUsd: Decimal.parse('0.018500') } };
    expect(usageEventSigningBytes(cheaper)).not.toEqual(usageEventSigningBytes(event));
    // Trailing zeros are part of what is signed: the scale is kept.
    const rescaled = { ...event, properties: { ...event.properties, costUsd: Decimal.parse('0.01851') } };
    expect(usageEventSigningBytes(rescaled)).not.toEqual(usageEventSigningBytes(event));
  });

  it('reject invalid events with MT-400 and invalid receipts with MS-400', () => {
    expectEnablementError(
      () => usageEventSigningBytes({ ...event, idempotencyKey: '' }),
      'MT-400',
      /idempotencyKey/,
    );
    expectEnablementError(() => usageEventSigningBytes(null as never), 'MT-400');
    expectEnablementError(
      () => deliveryReceiptSigningBytes({ ...decodeDeliveryReceipt(receiptWire), recipientNhi: 'x' }),
      'MS-400',
    );
  });

  it('ML-DSA-65: Runtime signs, the JSON travels, Metering decodes and verifies; tampering fails', () => {
    const signature = provider.mlDsa65.sign(mlDsa.secretKey, usageEventSigningBytes(event));
    const wire = viaJson(encodeRuntimeUsageEvent({ ...event, signature }));
    const received = decodeRuntimeUsageEvent(wire);
    expect(wireSignatureScheme(received.signature)).toBe('ml-dsa-65');
    expect(
      provider.mlDsa65.verify(mlDsa.publicKey, usageEventSigningBytes(received), received.signature),
    ).toBe(true);
    const tampered = decodeRuntimeUsageEvent({ ...(wire as object), idempotency_key: 'other-key' });
    expect(
      provider.mlDsa65.verify(mlDsa.publicKey, usageEventSigningBytes(tampered), tampered.signature),
    ).toBe(false);
  });

  it('hybrid: a 3373-byte Ed25519 ‖ ML-DSA-65 signature round-trips and verifies', () => {
    const secretKey = { ed25519: seed(1), mlDsa65: mlDsa.secretKey };
    const publicKey = {
      ed25519: (edKeys[0] as { publicKey: Uint8Array }).publicKey,
      mlDsa65: mlDsa.publicKey,
    };
    const receipt = decodeDeliveryReceipt(failedReceiptWire);
    const signature = encodeHybridSignature(
      signHybrid(provider, secretKey, deliveryReceiptSigningBytes(receipt)),
    );
    expect(signature).toHaveLength(WIRE_SIGNATURE_LENGTHS.hybrid);
    const received = decodeDeliveryReceipt(viaJson(encodeDeliveryReceipt({ ...receipt, signature })));
    expect(wireSignatureScheme(received.signature)).toBe('hybrid');
    const ok = verifyHybrid(
      provider,
      publicKey,
      deliveryReceiptSigningBytes(received),
      decodeHybridSignature(received.signature),
    );
    expect(ok).toBe(true);
    // The same content under the usage-event domain is different bytes: no cross-contract replay.
    expect(deliveryReceiptSigningBytes(received)).not.toEqual(usageEventSigningBytes(event));
  });

  it('wireSignatureScheme rejects other lengths', () => {
    expectEnablementError(() => wireSignatureScheme(new Uint8Array(64)), 'PL-400', /got 64/);
  });
});

describe('subjects', () => {
  it('names the spec §5.2 subjects', () => {
    expect(SUBJECTS.meteringEventsRuntime).toBe('metering.events.runtime');
    expect(SUBJECTS.messagingDeliveryReceipts).toBe('messaging.delivery_receipts');
    expect(SUBJECTS.oversightNotifications).toBe('oversight.notifications.*');
    expect(oversightNotificationSubject('slack')).toBe('oversight.notifications.slack');
    expect(oversightNotificationSubject('webhook')).toBe('oversight.notifications.webhook');
    expectEnablementError(() => oversightNotificationSubject('sms' as never), 'OV-400');
    expectEnablementError(() => oversightNotificationSubject('slack.>' as never), 'OV-400');
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: decode(encode(x)) = x, and encode output always validates against the schema
// ---------------------------------------------------------------------------------------------

const arbNhi = fc.constantFrom(...NHIS);
const arbUuid = fc.uuid().filter(isUuid) as fc.Arbitrary<Uuid>;
const arbSandboxId = fc.stringMatching(/^sb-[A-Za-z0-9_-]{1,24}$/) as fc.Arbitrary<SandboxId>;
const arbToken = (max: number) => fc.stringMatching(new RegExp(`^[\\x21-\\x7E]{1,${max}}$`));
// biome-ignore lint/suspicious/noControlCharactersInRegex: the generator must avoid exactly what the codec rejects
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;
const arbText = (min: number, max: number) =>
  fc
    .string({ unit: 'grapheme', minLength: min, maxLength: max })
    .filter((s) => s.length >= min && s.length <= max && !CONTROL.test(s));
const arbU64 = fc.bigInt({ min: 0n, max: UINT64_MAX });
const arbTimestamp = fc.bigInt({ min: INT64_MIN, max: INT64_MAX });
const arbSignature = fc
  .constantFrom(...Object.values(WIRE_SIGNATURE_LENGTHS))
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const arbMoney = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.integer({ min: 0, max: 12 }))
  .map(([c, s]) => Decimal.fromParts(c, s));

const arbHeader = fc.record({
  eventId: arbUuid,
  agentNhi: arbNhi,
  delegationChain: fc.array(arbNhi, { maxLength: 4 }),
  consensusTimestamp: arbTimestamp,
  signature: arbSignature,
  idempotencyKey: arbToken(40),
});

const arbUsageEvent: fc.Arbitrary<RuntimeUsageEvent> = fc.oneof(
  fc
    .tuple(
      arbHeader,
      fc.constantFrom('sandbox_allocated' as const, 'sandbox_terminated' as const),
      fc.record({
        type: fc.constant('SandboxAllocated' as const),
        sandboxId: arbSandboxId,
        runtimeClass: fc.oneof(
          fc.constantFrom('gvisor', 'quickjs', 'process'),
          fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/),
        ),
        cpuMillicores: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        memoryBytes: arbU64,
        durationSeconds: arbU64,
      }),
    )
    .map(([h, eventType, properties]) => ({ ...h, eventType, properties })),
  fc
    .tuple(
      arbHeader,
      fc.record({
        type: fc.constant('InferenceCall' as const),
        sandboxId: arbSandboxId,
        modelId: arbToken(30),
        provider: arbToken(20),
        inputTokens: arbU64,
        outputTokens: arbU64,
        costUsd: arbMoney,
      }),
    )
    .map(([h, properties]) => ({ ...h, eventType: 'inference_call' as const, properties })),
  fc
    .tuple(
      arbHeader,
      fc.record({
        type: fc.constant('NetworkEgress' as const),
        sandboxId: arbSandboxId,
        destination: arbToken(60),
        bytesTransferred: arbU64,
      }),
    )
    .map(([h, properties]) => ({ ...h, eventType: 'network_egress' as const, properties })),
);

const arbJson: fc.Arbitrary<JsonValue> = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => JSON.parse(JSON.stringify(v)));

const arbRiskFactor: fc.Arbitrary<RiskFactor> = fc
  .tuple(
    fc.record(
      {
        name: arbToken(20),
        severity: fc.constantFrom('low' as const, 'medium' as const, 'high' as const, 'critical' as const),
        description: arbText(1, 40),
        score: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
      },
      { requiredKeys: ['name', 'severity'] },
    ),
    fc.dictionary(fc.stringMatching(/^x_[a-z]{1,6}$/), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
  )
  .map(([known, extra]) => ({
    ...(JSON.parse(JSON.stringify(extra)) as Record<string, JsonValue>),
    ...known,
  }))
  .filter((r) => canonicalize(r).length <= 4000);

const arbRequirement: fc.Arbitrary<OversightRequirement> = fc.record({
  tiers: fc.array(
    fc.uniqueArray(arbNhi, { minLength: 1, maxLength: 5 }).chain((approvers) =>
      fc.record({
        approvers: fc.constant(approvers),
        quorum: fc.integer({ min: 1, max: approvers.length }),
        timeoutMs: fc.integer({ min: 1, max: 2_592_000_000 }),
      }),
    ),
    { minLength: 1, maxLength: 8 },
  ),
  finalAction: fc.constantFrom('auto_deny' as const, 'auto_approve' as const),
});

const arbNotification: fc.Arbitrary<OversightNotification> = fc.record({
  requestId: arbUuid,
  approverIdentity: fc.oneof(arbNhi, arbText(1, 60)),
  channelType: fc.constantFrom('slack' as const, 'email' as const, 'webhook' as const),
  notificationPayload: fc.record({
    actionDescription: arbText(1, 100),
    riskFactors: fc.array(arbRiskFactor, { maxLength: 3 }),
    reasoningContext: arbText(0, 100),
    approvalLink: fc
      .webUrl({ validSchemes: ['https', 'http'] })
      .filter((u) => /^https?:\/\/[\x21-\x7E]+$/.test(u)),
  }),
});

const arbRequest: fc.Arbitrary<RuntimeOversightRequest> = fc.record(
  {
    agentNhi: arbNhi,
    delegationChain: fc.array(arbNhi, { maxLength: 4 }),
    action: fc.record({ name: arbToken(30), parameters: arbJson }),
    resource: fc.record({ resourceType: arbToken(20), resourceId: arbText(1, 60) }),
    policyId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,30}$/) as fc.Arbitrary<PolicyId>,
    requirement: arbRequirement,
    sandboxId: arbSandboxId,
    actionDescription: arbText(1, 100),
    riskFactors: fc.array(arbRiskFactor, { maxLength: 3 }),
  },
  {
    requiredKeys: [
      'agentNhi',
      'delegationChain',
      'action',
      'resource',
      'policyId',
      'requirement',
      'actionDescription',
      'riskFactors',
    ],
  },
);

const arbReceipt: fc.Arbitrary<DeliveryReceipt> = fc
  .tuple(
    fc.record({ messageId: arbUuid, recipientNhi: arbNhi, timestamp: arbTimestamp, signature: arbSignature }),
    fc.oneof(
      fc.record({ receiptType: fc.constantFrom('delivered' as const, 'read' as const) }),
      fc.record({ receiptType: fc.constant('failed' as const), failureReason: arbText(1, 80) }),
    ),
  )
  .map(([h, t]) => ({ ...h, ...t }) as DeliveryReceipt);

const codes = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const arbError: fc.Arbitrary<EnablementError> = fc
  .array(
    fc.record(
      {
        code: fc.constantFrom(...codes),
        message: fc.string({ maxLength: 60 }),
        retryAfterMs: fc.integer({ min: 0, max: 10 ** 9 }),
        traceId: fc.stringMatching(/^[0-9a-f]{32}$/),
      },
      { requiredKeys: ['code', 'message'] },
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((levels) => {
    let error: EnablementError | undefined;
    for (const { code, message, ...options } of levels)
      error = new EnablementError(code, message, { ...options, cause: error });
    return error as EnablementError;
  });

const arbResourceId: fc.Arbitrary<ResourceId> = fc
  .oneof(
    arbSandboxId.map((id) => ({ kind: 'sandbox' as const, id })),
    fc
      .tuple(
        fc.constantFrom(
          'message' as const,
          'oversight_request' as const,
          'subscription' as const,
          'channel' as const,
        ),
        arbUuid,
      )
      .map(([kind, id]) => ({ kind, id })),
    fc
      .tuple(fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), fc.stringMatching(/^[A-Za-z0-9._~:/@+=%-]{1,30}$/))
      .map(([product, id]) => ({ kind: 'custom' as const, product, id })),
  )
  .filter(isResourceId);

const arbIdentity = fc
  .tuple(
    fc.constantFrom(...edKeys.map((k) => k.publicKey)),
    fc.constantFrom('agent' as const, 'human' as const, 'service' as const),
    fc.boolean(),
  )
  .map(([ed, kind, pq]) => AgentIdentity.fromPublicKeys(kind, ed, pq ? mlDsa.publicKey : undefined));

/** Encodes, sends as JSON text, checks the schema, decodes, and returns the decoded value. */
function roundTrip<T>(name: WireContractName, value: T): T {
  const codec = WIRE_CONTRACTS[name].codec as unknown as { encode(v: T): unknown; decode(w: unknown): T };
  const json = viaJson(codec.encode(value));
  expect(schemaAccepts(name, json), JSON.stringify(validators.get(name)?.errors)).toBe(true);
  return codec.decode(json);
}

describe('property: decode(encode(x)) equals x, and encode output validates against the JSON Schema', () => {
  const runs = { numRuns: 60 };

  it('RuntimeUsageEvent', () => {
    fc.assert(
      fc.property(arbUsageEvent, (x) => {
        expect(roundTrip('runtime-usage-event', x)).toEqual(x);
      }),
      runs,
    );
  });
  it('OversightNotification', () => {
    fc.assert(
      fc.property(arbNotification, (x) => {
        expect(roundTrip('oversight-notification', x)).toEqual(x);
      }),
      runs,
    );
  });
  it('DeliveryReceipt', () => {
    fc.assert(
      fc.property(arbReceipt, (x) => {
        expect(roundTrip('delivery-receipt', x)).toEqual(x);
      }),
      runs,
    );
  });
  it('RuntimeOversightRequest', () => {
    fc.assert(
      fc.property(arbRequest, (x) => {
        expect(roundTrip('runtime-oversight-request', x)).toEqual(x);
      }),
      runs,
    );
  });
  it('OversightRequirement', () => {
    fc.assert(
      fc.property(arbRequirement, (x) => {
        expect(roundTrip('oversight-requirement', x)).toEqual(x);
      }),
      runs,
    );
  });
  it('EnablementError', () => {
    fc.assert(
      fc.property(arbError, (x) => {
        const back = roundTrip('enablement-error', x);
        expect(back).toBeInstanceOf(EnablementError);
        expect(back.toJSON()).toEqual(x.toJSON());
      }),
      runs,
    );
  });
  it('AgentIdentity', () => {
    fc.assert(
      fc.property(arbIdentity, (x) => {
        const back = roundTrip('agent-identity', x);
        expect(back.equals(x)).toBe(true);
        expect(back.hasPostQuantumKey).toBe(x.hasPostQuantumKey);
      }),
      { numRuns: 20 },
    );
  });
  it('ConsensusTimestamp, PolicyId, SandboxId, ResourceId', () => {
    fc.assert(
      fc.property(arbTimestamp, (x) => {
        expect(roundTrip('consensus-timestamp', x)).toBe(x);
      }),
      runs,
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,40}$/), (x) => {
        expect(roundTrip('policy-id', x)).toBe(x);
      }),
      runs,
    );
    fc.assert(
      fc.property(arbSandboxId, (x) => {
        expect(roundTrip('sandbox-id', x)).toBe(x);
      }),
      runs,
    );
    fc.assert(
      fc.property(arbResourceId, (x) => {
        expect(roundTrip('resource-id', x)).toEqual(x);
      }),
      runs,
    );
  });

  it('helpers agree with the codecs', () => {
    fc.assert(
      fc.property(arbUsageEvent, arbRequest, (event, request) => {
        expect(decodeRuntimeUsageEvent(viaJson(encodeRuntimeUsageEvent(event)))).toEqual(event);
        expect(decodeRuntimeOversightRequest(viaJson(encodeRuntimeOversightRequest(request)))).toEqual(
          request,
        );
        expect(decodeOversightRequirement(encodeOversightRequirement(request.requirement))).toEqual(
          request.requirement,
        );
      }),
      { numRuns: 30 },
    );
    const identity = AgentIdentity.fromNhi(AGENT);
    expect(encodeAgentIdentity(identity).public_key_ml_dsa).toBeNull();
    expect(encodeEnablementError(new EnablementError('OV-404', 'gone')).code).toBe('OV-404');
  });
});
