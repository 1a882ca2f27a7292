import { errorCodeOf } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { canonicalize } from '../canonical/canonicalize.js';
import { nobleCryptoProvider as crypto } from '../crypto/noble.js';
import { Decimal } from '../decimal/decimal.js';
import { utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { formatNhi } from '../identity/nhi.js';
import { policyId } from '../ids/policy-id.js';
import { sandboxId } from '../ids/sandbox-id.js';
import { parseUuid } from '../ids/uuid.js';
import { wireRegistry } from '../wire/registry.js';
import {
  AUDIT_EVENT_KINDS,
  type AuditEventDetail,
  AuditEvents,
  auditEventDetail,
  auditEventDetailCodec,
  auditLeafData,
  createAuditEvent,
  decodeAuditEvent,
  encodeAuditEvent,
  toUnifiedAuditEvent,
  type UnifiedAuditEvent,
  unifiedAuditEventCodec,
} from './event.js';

const nhiOf = (seed: number, kind: 'agent' | 'human' | 'service' = 'agent') =>
  formatNhi(kind, crypto.ed25519.generateKeyPair(new Uint8Array(32).fill(seed)).publicKey);

const AGENT = nhiOf(1);
const OTHER = nhiOf(2);
const HUMAN = nhiOf(3, 'human');
const T = 1_767_225_600_000_000_000n;
const SB = sandboxId('sb-test-1');
const ID1 = parseUuid('0b6e4f1e-8a3c-4d2b-9f10-2c3d4e5f6a7b');
const ID2 = parseUuid('1c7f5a2f-9b4d-4e3c-8a21-3d4e5f6a7b8c');

/** One example of every kind, with the unified fields it must map to. */
const EXAMPLES: [AuditEventDetail, { agentNhi: string; resource: string; outcome: string }][] = [
  [
    { kind: 'SandboxSpawned', sandboxId: SB, agentNhi: AGENT, attestationHash: new Uint8Array(32).fill(4) },
    { agentNhi: AGENT, resource: 'runtime:sandbox:sb-test-1', outcome: 'success' },
  ],
  [
    { kind: 'SandboxTerminated', sandboxId: SB, agentNhi: AGENT, reason: 'idle timeout' },
    { agentNhi: AGENT, resource: 'runtime:sandbox:sb-test-1', outcome: 'success' },
  ],
  [
    {
      kind: 'EgressAttempt',
      sandboxId: SB,
      agentNhi: AGENT,
      destination: 'api.example.com:443',
      decision: 'deny',
    },
    { agentNhi: AGENT, resource: 'network:api.example.com:443', outcome: 'denied' },
  ],
  [
    {
      kind: 'EventIngested',
      eventId: ID1,
      agentNhi: AGENT,
      eventType: 'inference_call',
      value: Decimal.parse('0.018510'),
    },
    { agentNhi: AGENT, resource: `metering:event:${ID1}`, outcome: 'success' },
  ],
  [
    {
      kind: 'QuotaExceeded',
      agentNhi: AGENT,
      eventType: 'sandbox_allocated',
      limit: 2n ** 63n,
      overflowAction: 'block',
    },
    { agentNhi: AGENT, resource: 'metering:quota:sandbox_allocated', outcome: 'denied' },
  ],
  [
    {
      kind: 'InvoiceGenerated',
      agentNhi: nhiOf(4, 'service'),
      subscriptionId: ID2,
      amount: Decimal.parse('1234.50'),
      currency: 'USD',
      period: { start: T, end: T + 86_400_000_000_000n },
    },
    { agentNhi: nhiOf(4, 'service'), resource: `metering:subscription:${ID2}`, outcome: 'success' },
  ],
  [
    {
      kind: 'RequestCreated',
      requestId: ID1,
      agentNhi: AGENT,
      action: 'payments.transfer',
      policyId: policyId('hitl/v1'),
    },
    { agentNhi: AGENT, resource: `oversight:request:${ID1}`, outcome: 'pending' },
  ],
  [
    { kind: 'ResponseReceived', requestId: ID1, agentNhi: AGENT, approver: HUMAN, decision: 'approve' },
    { agentNhi: AGENT, resource: `oversight:request:${ID1}`, outcome: 'success' },
  ],
  [
    { kind: 'StateTransition', requestId: ID1, agentNhi: AGENT, oldState: 'PENDING', newState: 'ESCALATED' },
    { agentNhi: AGENT, resource: `oversight:request:${ID1}`, outcome: 'success' },
  ],
  [
    { kind: 'MessageSent', messageId: ID2, sender: AGENT, recipient: OTHER, encryptedSize: 4096 },
    { agentNhi: AGENT, resource: `messaging:message:${ID2}`, outcome: 'success' },
  ],
  [
    { kind: 'MessageDelivered', messageId: ID2, agentNhi: OTHER, latencyMs: 12 },
    { agentNhi: OTHER, resource: `messaging:message:${ID2}`, outcome: 'success' },
  ],
  [
    { kind: 'SessionEstablished', initiator: AGENT, responder: OTHER, protocol: 'PQXDH' },
    { agentNhi: AGENT, resource: `agent:${OTHER}`, outcome: 'success' },
  ],
];

describe('typed audit events (spec §3.3)', () => {
  it('covers every kind the spec lists', () => {
    expect(new Set(EXAMPLES.map(([d]) => d.kind))).toEqual(new Set(Object.keys(AUDIT_EVENT_KINDS)));
    expect(Object.keys(AUDIT_EVENT_KINDS)).toHaveLength(12);
  });

  it.each(EXAMPLES.map(([d, e]) => [d.kind, d, e] as const))(
    '%s maps onto the unified shape',
    (_, detail, expected) => {
      const event = toUnifiedAuditEvent(detail, { timestamp: T, eventId: ID1 });
      expect(event.product).toBe(AUDIT_EVENT_KINDS[detail.kind].product);
      expect(event.action).toBe(AUDIT_EVENT_KINDS[detail.kind].action);
      expect({ agentNhi: event.agentNhi, resource: event.resource, outcome: event.outcome }).toEqual(
        expected,
      );
      expect(event.timestamp).toBe(T);
      expect(event.eventId).toBe(ID1);
      expect(event.merkleProof).toBeUndefined();
      // metadata is the wire form of the fields: snake_case, kind first-class, no camelCase keys.
      const metadata = event.metadata as Record<string, unknown>;
      expect(metadata.kind).toBe(detail.kind);
      for (const key of Object.keys(metadata)) expect(key).toMatch(/^[a-z_]+$/);
      // …and reads back as the same typed detail.
      expect(auditEventDetail(event)).toEqual(detail);
      // Wire round trip through JSON text.
      const wire = JSON.parse(JSON.stringify(encodeAuditEvent(event)));
      expect(decodeAuditEvent(wire)).toEqual(event);
    },
  );

  it('has a named constructor per kind', () => {
    const event = AuditEvents.egressAttempt(
      { sandboxId: SB, agentNhi: AGENT, destination: 'example.org', decision: 'requires_oversight' },
      { timestamp: T },
    );
    expect(event.outcome).toBe('pending');
    expect(auditEventDetail(event)?.kind).toBe('EgressAttempt');
    expect(Object.keys(AuditEvents)).toHaveLength(12);
    const spawned = AuditEvents.sandboxSpawned(
      { sandboxId: SB, agentNhi: AGENT, attestationHash: new Uint8Array(32) },
      { timestamp: T },
    );
    expect(spawned.metadata).toMatchObject({ sandbox_id: 'sb-test-1', attestation_hash: 'A'.repeat(43) });
    const quota = AuditEvents.quotaExceeded(
      { agentNhi: AGENT, eventType: 'inference_call', limit: 10n, overflowAction: 'allow_with_notification' },
      { timestamp: T },
    );
    expect(quota.outcome).toBe('success');
    expect((quota.metadata as Record<string, unknown>).limit).toBe('10'); // u64 as a decimal string
  });

  it('gives each event a fresh random v4 id unless one is given', () => {
    const a = AuditEvents.messageDelivered(
      { messageId: ID2, agentNhi: OTHER, latencyMs: 1 },
      { timestamp: T },
    );
    const b = AuditEvents.messageDelivered(
      { messageId: ID2, agentNhi: OTHER, latencyMs: 1 },
      { timestamp: T },
    );
    expect(a.eventId).not.toBe(b.eventId);
    expect(a.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('rejects invalid fields with PL-400 naming the field', () => {
    const bad: [AuditEventDetail, string][] = [
      [
        {
          ...(EXAMPLES[0]?.[0] as AuditEventDetail),
          agentNhi: 'agent:nhi:ed25519:1111111111111111111111111111111111',
        } as AuditEventDetail,
        'agentNhi',
      ],
      [
        {
          kind: 'SandboxSpawned',
          sandboxId: 'nope' as typeof SB,
          agentNhi: AGENT,
          attestationHash: new Uint8Array(32),
        },
        'sandboxId',
      ],
      [
        { kind: 'SandboxSpawned', sandboxId: SB, agentNhi: AGENT, attestationHash: new Uint8Array(31) },
        'attestationHash',
      ],
      [{ kind: 'SandboxTerminated', sandboxId: SB, agentNhi: AGENT, reason: '' }, 'reason'],
      [
        { kind: 'EgressAttempt', sandboxId: SB, agentNhi: AGENT, destination: 'a b', decision: 'allow' },
        'destination',
      ],
      [
        {
          kind: 'EgressAttempt',
          sandboxId: SB,
          agentNhi: AGENT,
          destination: 'x',
          decision: 'maybe' as 'allow',
        },
        'decision',
      ],
      [
        {
          kind: 'EventIngested',
          eventId: 'not-a-uuid' as typeof ID1,
          agentNhi: AGENT,
          eventType: 'x',
          value: Decimal.parse('1'),
        },
        'eventId',
      ],
      [
        { kind: 'EventIngested', eventId: ID1, agentNhi: AGENT, eventType: 'x', value: Decimal.parse('-1') },
        'value',
      ],
      [
        { kind: 'QuotaExceeded', agentNhi: AGENT, eventType: 'x', limit: -1n, overflowAction: 'block' },
        'limit',
      ],
      [
        { kind: 'QuotaExceeded', agentNhi: AGENT, eventType: 'x', limit: 2n ** 64n, overflowAction: 'block' },
        'limit',
      ],
      [
        {
          kind: 'InvoiceGenerated',
          agentNhi: AGENT,
          subscriptionId: ID1,
          amount: Decimal.parse('1'),
          currency: 'XXX' as 'USD',
          period: { start: 1n, end: 2n },
        },
        'currency',
      ],
      [
        {
          kind: 'InvoiceGenerated',
          agentNhi: AGENT,
          subscriptionId: ID1,
          amount: Decimal.parse('1'),
          currency: 'USD',
          period: { start: 2n, end: 2n },
        },
        'period',
      ],
      [
        {
          kind: 'RequestCreated',
          requestId: ID1,
          agentNhi: AGENT,
          action: 'x',
          policyId: '-bad' as ReturnType<typeof policyId>,
        },
        'policyId',
      ],
      [
        { kind: 'ResponseReceived', requestId: ID1, agentNhi: AGENT, approver: 'alice', decision: 'approve' },
        'approver',
      ],
      [
        {
          kind: 'StateTransition',
          requestId: ID1,
          agentNhi: AGENT,
          oldState: 'PENDING',
          newState: 'PENDING',
        },
        'newState',
      ],
      [
        { kind: 'MessageSent', messageId: ID1, sender: AGENT, recipient: OTHER, encryptedSize: -1 },
        'encryptedSize',
      ],
      [{ kind: 'MessageDelivered', messageId: ID1, agentNhi: OTHER, latencyMs: 1.5 }, 'latencyMs'],
      [{ kind: 'SessionEstablished', initiator: AGENT, responder: OTHER, protocol: '' }, 'protocol'],
    ];
    for (const [detail, field] of bad) {
      let error: unknown;
      try {
        toUnifiedAuditEvent(detail, { timestamp: T });
      } catch (e) {
        error = e;
      }
      expect(EnablementError.is(error), field).toBe(true);
      expect((error as EnablementError).code).toBe('PL-400');
      expect((error as EnablementError).message).toContain(field);
    }
    expect(
      errorCodeOf(() =>
        toUnifiedAuditEvent({ kind: 'Nope' } as unknown as AuditEventDetail, { timestamp: T }),
      ),
    ).toBe('PL-400');
    expect(
      errorCodeOf(() => toUnifiedAuditEvent(null as unknown as AuditEventDetail, { timestamp: T })),
    ).toBe('PL-400');
    expect(
      errorCodeOf(() => toUnifiedAuditEvent(EXAMPLES[1]?.[0] as AuditEventDetail, { timestamp: 2n ** 63n })),
    ).toBe('PL-400');
  });

  it('rejects a small-order (forgeable) key in an NHI', () => {
    // The all-zero-y identity point encodes as 0x01 00…00: a valid point of order 1.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const weak = `agent:nhi:ed25519:${(() => {
      let text = '';
      // base58 of the identity point, computed via formatNhi's encoder is refused, so build it.
      const digits = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
      let n = BigInt(`0x${Buffer.from(identity).toString('hex')}`);
      while (n > 0n) {
        text = digits[Number(n % 58n)] + text;
        n /= 58n;
      }
      return text;
    })()}`;
    expect(() =>
      AuditEvents.messageDelivered({ messageId: ID1, agentNhi: weak, latencyMs: 1 }, { timestamp: T }),
    ).toThrow(/small-order/);
  });
});

describe('UnifiedAuditEvent and its wire codec', () => {
  const base = {
    product: 'platform' as const,
    agentNhi: AGENT,
    action: 'policy.update',
    resource: 'authz:policy:hitl',
    outcome: 'success' as const,
    timestamp: T,
  };

  it('creates custom events, frozen and detached from the caller', () => {
    const metadata = { nested: { list: [1, 'two', null, true] } };
    const event = createAuditEvent({ ...base, metadata });
    metadata.nested.list.push(5);
    expect(event.metadata).toEqual({ nested: { list: [1, 'two', null, true] } });
    expect(Object.isFrozen(event)).toBe(true);
    expect(Object.isFrozen((event.metadata as { nested: object }).nested)).toBe(true);
    expect(auditEventDetail(event)).toBeUndefined();
    expect(createAuditEvent(base).metadata).toBeNull();
  });

  it('uses snake_case, int64 decimal strings and null merkle_proof on the wire', () => {
    const event = createAuditEvent({ ...base, eventId: ID1, metadata: { a: 1 } });
    expect(encodeAuditEvent(event)).toEqual({
      event_id: ID1,
      product: 'platform',
      agent_nhi: AGENT,
      action: 'policy.update',
      resource: 'authz:policy:hitl',
      outcome: 'success',
      timestamp: T.toString(),
      metadata: { a: 1 },
      merkle_proof: null,
    });
  });

  it('rejects malformed wire JSON with PL-400 naming the path', () => {
    const wire = encodeAuditEvent(createAuditEvent({ ...base, eventId: ID1 }));
    const cases: [unknown, string][] = [
      [{ ...wire, extra: 1 }, 'extra'],
      [{ ...wire, timestamp: 1767225600 }, 'timestamp'],
      [{ ...wire, timestamp: '01' }, 'timestamp'],
      [{ ...wire, timestamp: '9223372036854775808' }, 'timestamp'],
      [{ ...wire, product: 'billing' }, 'product'],
      [{ ...wire, outcome: 'ok' }, 'outcome'],
      [{ ...wire, action: 'has space' }, 'action'],
      [{ ...wire, resource: '' }, 'resource'],
      [{ ...wire, event_id: ID1.toUpperCase() }, 'event_id'],
      [{ ...wire, agent_nhi: 'agent:nhi:ed25519:abc' }, 'agent_nhi'],
      [{ ...wire, metadata: { deep: JSON.parse(`${'['.repeat(9)}${']'.repeat(9)}`) } }, 'metadata'],
      [{ ...wire, metadata: { big: 'x'.repeat(20_000) } }, 'metadata'],
      [
        {
          ...wire,
          merkle_proof: {
            leaf_index: '1',
            tree_size: '1',
            leaf_hash: 'A'.repeat(43),
            root_hash: 'A'.repeat(43),
            inclusion_path: [],
          },
        },
        'leafIndex',
      ],
      [
        {
          ...wire,
          merkle_proof: {
            leaf_index: '0',
            tree_size: '1',
            leaf_hash: 'A',
            root_hash: 'A'.repeat(43),
            inclusion_path: [],
          },
        },
        'leaf_hash',
      ],
      [{ ...wire, merkle_proof: undefined }, 'merkle_proof'],
      ['not an object', '(root)'],
    ];
    for (const [json, path] of cases) {
      let error: unknown;
      try {
        decodeAuditEvent(json);
      } catch (e) {
        error = e;
      }
      expect((error as EnablementError)?.code, path).toBe('PL-400');
      expect((error as EnablementError).message, path).toContain(path);
    }
  });

  it('hashes the canonical wire form without the receipt as the leaf', () => {
    const event = createAuditEvent({ ...base, eventId: ID1, metadata: { b: 2, a: 1 } });
    const { merkle_proof: _, ...leaf } = encodeAuditEvent(event);
    expect(auditLeafData(event)).toEqual(utf8ToBytes(canonicalize(leaf)));
    const withReceipt: UnifiedAuditEvent = {
      ...event,
      merkleProof: {
        leafIndex: 0n,
        treeSize: 1n,
        leafHash: new Uint8Array(32),
        rootHash: new Uint8Array(32),
        inclusionPath: [],
      },
    };
    expect(auditLeafData(withReceipt)).toEqual(auditLeafData(event));
    expect(auditLeafData(encodeAuditEvent(withReceipt))).toEqual(auditLeafData(event));
  });

  it('detects metadata that disagrees with the event (a forged or corrupted typed event)', () => {
    const event = toUnifiedAuditEvent(EXAMPLES[2]?.[0] as AuditEventDetail, { timestamp: T });
    expect(errorCodeOf(() => auditEventDetail({ ...event, outcome: 'success' }))).toBe('PL-400');
    expect(errorCodeOf(() => auditEventDetail({ ...event, agentNhi: OTHER }))).toBe('PL-400');
    expect(errorCodeOf(() => auditEventDetail({ ...event, product: 'metering' }))).toBe('PL-400');
    const metadata = { ...(event.metadata as object), decision: 'sometimes' };
    expect(errorCodeOf(() => auditEventDetail({ ...event, metadata }))).toBe('PL-400');
  });

  it('has a JSON Schema (draft 2020-12) for its wire side, as the other wire contracts do', () => {
    for (const codec of [unifiedAuditEventCodec, auditEventDetailCodec]) {
      const schema = z.toJSONSchema(codec as z.ZodType, {
        target: 'draft-2020-12',
        io: 'input',
        metadata: wireRegistry,
        unrepresentable: 'throw',
        cycles: 'throw',
        reused: 'inline',
      });
      expect(JSON.stringify(schema)).toContain('"additionalProperties":false');
    }
    const top = z.toJSONSchema(unifiedAuditEventCodec as z.ZodType, { io: 'input', metadata: wireRegistry });
    expect(Object.keys((top as { properties: object }).properties).sort()).toEqual([
      'action',
      'agent_nhi',
      'event_id',
      'merkle_proof',
      'metadata',
      'outcome',
      'product',
      'resource',
      'timestamp',
    ]);
  });

  it('property: custom events round-trip through wire JSON text', () => {
    const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => {
      try {
        return canonicalize(v).length < 4000;
      } catch {
        return false;
      }
    });
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        json,
        fc.constantFrom('success', 'failure', 'denied', 'pending' as const),
        (timestamp, metadata, outcome) => {
          const event = createAuditEvent({ ...base, timestamp, metadata: metadata as never, outcome });
          const text = JSON.stringify(encodeAuditEvent(event));
          const back = decodeAuditEvent(JSON.parse(text));
          expect(back).toEqual(event);
          expect(auditLeafData(back)).toEqual(auditLeafData(event));
        },
      ),
      { numRuns: 100 },
    );
  });
});
