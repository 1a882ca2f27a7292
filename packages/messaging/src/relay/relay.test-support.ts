// Shared fixture of the relay tests (not part of the package: excluded from its build and its
// published files, as runtime's and enablement's *.test-support.ts are).
import {
  AgentKeyPair,
  type AuthzClient,
  type AuthzRequest,
  auditEventDetail,
  createHybridLogicalClock,
  createNhiRegistry,
  registrationProof,
  type UnifiedAuditEvent,
  type Uuid,
} from '@creto/core';
import { FakeClock } from '@creto/testing';
import { type MessageEnvelope, type SealEnvelopeOptions, sealEnvelope } from '../envelope/index.js';
import { decodeDeliveryReceiptPayload } from '../receipts/index.js';
import { connectInProcessTransport, type RelayEndpoint } from '../transport/index.js';
import type { MessagingRelayOptions, RelayAuditSink } from './index.js';

/** A 32-byte key seed filled with `n`. */
export const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);

// The parties, derived once per test file (ML-DSA key derivation is slow).
/** Sender of the fixture's default envelope. */
export const alice = AgentKeyPair.fromSeed(seed(1), { postQuantum: true });
/** Recipient of the fixture's default envelope. */
export const bob = AgentKeyPair.fromSeed(seed(2), { postQuantum: true });
/** A third registered agent. */
export const carol = AgentKeyPair.fromSeed(seed(3), { postQuantum: true });
/** The relay's service key, which signs delivery receipts. */
export const service = AgentKeyPair.fromSeed(seed(4), { kind: 'service', postQuantum: true });

/** A failure the relay reported to `onError`. */
export interface ReportedError {
  /** What was thrown. */
  readonly error: unknown;
  /** The relay's name for the operation (`deliver`, `queue.remove`, …). */
  readonly operation: string;
  /** The message concerned, when there is one. */
  readonly messageId?: Uuid;
}

/** One publication on the recording event bus. */
export interface Published {
  /** The subject published to. */
  readonly subject: string;
  /** The payload. */
  readonly data: Uint8Array;
  /** The deduplication id the relay gave. */
  readonly msgId: string | undefined;
}

/**
 * Everything a relay needs, recording what it does: Alice, Bob and Carol registered with the NHI
 * registry, authz that allows all but the principals in `denied`, a recording event bus and
 * audit sink, and `onError` capture. Each `relayOptions()` call gets its own consensus clock, as
 * a separate relay process would.
 */
export async function createRelayFixture() {
  const clock = new FakeClock();
  const nhi = createNhiRegistry({ clock });
  for (const pair of [alice, bob, carol]) {
    await nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
  }
  const denied = new Set<string>();
  const authzCalls: AuthzRequest[] = [];
  const authz: Pick<AuthzClient, 'check'> = {
    async check(request) {
      authzCalls.push(request);
      return denied.has(request.principal)
        ? { decision: 'deny', reason: 'test policy', policyIds: ['p'] }
        : { decision: 'allow', reason: 'ok', policyIds: ['p'] };
    },
  };
  const published: Published[] = [];
  const eventBus = {
    async publish(subject: string, data: Uint8Array, options?: { msgId?: string }) {
      published.push({ subject, data, msgId: options?.msgId });
      return { stream: 'RECEIPTS', seq: published.length, duplicate: false };
    },
  };
  const auditEvents: UnifiedAuditEvent[] = [];
  const audit: RelayAuditSink = { append: async (event) => auditEvents.push(event) };
  const errors: ReportedError[] = [];
  /** The options every relay of a test shares; no audit sink unless the test passes `audit`. */
  const relayOptions = (): MessagingRelayOptions => ({
    authz,
    nhi,
    clock,
    consensus: createHybridLogicalClock({ clock }),
    serviceKey: service,
    eventBus,
    onError: (error, context) => errors.push({ error, ...context }),
  });
  /** A sealed envelope from Alice to Bob, sent now, for a minute. */
  const envelope = (extra: Partial<SealEnvelopeOptions> = {}): MessageEnvelope =>
    sealEnvelope({
      sender: alice,
      recipientNhi: bob.identity.nhi,
      timestamp: clock.now(),
      ttlMs: 60_000,
      ciphertext: Uint8Array.of(1, 2, 3),
      ...extra,
    });
  const receipts = () => published.map((p) => decodeDeliveryReceiptPayload(p.data));
  const kinds = () => auditEvents.map((e) => auditEventDetail(e)?.kind);
  const reported = (operation: string) => errors.filter((e) => e.operation === operation);
  /** An agent's inbox at `relay`; when `handle` throws, the relay keeps the envelope. */
  const inbox = (relay: RelayEndpoint, pair: AgentKeyPair, handle?: (e: MessageEnvelope) => unknown) => {
    const got: MessageEnvelope[] = [];
    const connect = () =>
      connectInProcessTransport({
        relay,
        keyPair: pair,
        onEnvelope: async (e) => {
          await handle?.(e);
          got.push(e);
        },
      });
    return { got, ids: () => got.map((e) => e.messageId), connect };
  };
  return {
    clock,
    nhi,
    authz,
    denied,
    authzCalls,
    eventBus,
    published,
    audit,
    auditEvents,
    errors,
    relayOptions,
    envelope,
    receipts,
    kinds,
    reported,
    inbox,
  };
}
