import { z } from 'zod';
import { canonicalBytes } from '../canonical/canonicalize.js';
import { type CurrencyCode, isCurrencyCode } from '../decimal/currency.js';
import type { Decimal } from '../decimal/decimal.js';
import { EnablementError } from '../errors/enablement-error.js';
import { PRODUCT_IDS, type ProductId } from '../errors/product.js';
import type { PolicyId } from '../ids/policy-id.js';
import { type RandomSource, secureRandom } from '../ids/random.js';
import { RESOURCE_URI_PREFIXES } from '../ids/resource-id.js';
import type { SandboxId } from '../ids/sandbox-id.js';
import { newUuid, type Uuid } from '../ids/uuid.js';
import type { ConsensusTimestamp } from '../time/clock.js';
import { decodeWire, encodeWire, type WireFailureContext } from '../wire/errors.js';
import { boundedJson, type JsonBounds, type JsonValue } from '../wire/json.js';
import {
  asciiToken,
  boundedText,
  bytesCodec,
  consensusTimestampCodec,
  nhiCodec,
  nonNegativeDecimalCodec,
  uint32Schema,
  uint64Codec,
  uuidCodec,
} from '../wire/leaf.js';
import { withMeta } from '../wire/registry.js';
import { policyIdCodec, sandboxIdCodec } from '../wire/shared-types.js';
import { MAX_DESTINATION_LENGTH } from '../wire/usage-event.js';
import { MERKLE_HASH_LENGTH } from './hash.js';
import { MAX_PROOF_LENGTH } from './verify.js';

// ---------------------------------------------------------------------------------------------
// The unified event (spec §3.3)
// ---------------------------------------------------------------------------------------------

/**
 * What came of the audited action: `success`; `failure` (it was attempted and failed);
 * `denied` (a policy, quota or approver refused it); `pending` (it waits on a human or another
 * service, e.g. `requires_oversight`).
 */
export type AuditOutcome = 'success' | 'failure' | 'denied' | 'pending';

/** Every {@link AuditOutcome}. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = Object.freeze([
  'success',
  'failure',
  'denied',
  'pending',
]);

/** Longest `action` of an audit event, in characters. */
export const MAX_AUDIT_ACTION_LENGTH = 128;
/** Longest `resource` of an audit event, in characters (an egress destination fits). */
export const MAX_AUDIT_RESOURCE_LENGTH = 4096;

/**
 * Limits of an audit event's `metadata`: 16 KiB in RFC 8785 form, depth 8, 1024 values. The
 * typed events put their fields there and stay far below.
 */
export const AUDIT_METADATA_BOUNDS: JsonBounds = Object.freeze({
  maxBytes: 16_384,
  maxDepth: 8,
  maxNodes: 1024,
});

/**
 * Where an appended event sits in the log: the RFC 9162 leaf index, its leaf hash, and the tree
 * head right after the append (`treeSize = leafIndex + 1`) with the inclusion proof against it.
 * Anyone holding the receipt can check it with `verifyInclusion` alone; a later checkpoint plus a
 * consistency proof from `treeSize` shows the entry is still there.
 */
export interface AuditReceipt {
  /** Index of the event's leaf (0-based). */
  readonly leafIndex: bigint;
  /** Size of the tree the proof and root refer to. */
  readonly treeSize: bigint;
  /** `SHA-256(0x00 ‖ auditLeafData(event))`. */
  readonly leafHash: Uint8Array;
  /** Root of the tree of `treeSize` leaves. */
  readonly rootHash: Uint8Array;
  /** RFC 9162 §2.1.3 inclusion proof of `leafIndex` in the tree of `treeSize` leaves. */
  readonly inclusionPath: readonly Uint8Array[];
}

/** Wire shape of {@link AuditReceipt}. */
export interface AuditReceiptWire {
  /** u64 decimal string. */
  leaf_index: string;
  /** u64 decimal string. */
  tree_size: string;
  /** 32 bytes, unpadded base64url. */
  leaf_hash: string;
  /** 32 bytes, unpadded base64url. */
  root_hash: string;
  /** 32-byte hashes, unpadded base64url, leaf to root. */
  inclusion_path: string[];
}

/**
 * The audit event every product writes (spec §3.3 `UnifiedAuditEvent`). Build one with the typed
 * constructors of {@link AuditEvents} (which fill `product`, `action`, `resource`, `outcome` and
 * `metadata` consistently from the event kind) or with {@link createAuditEvent} for a custom one.
 */
export interface UnifiedAuditEvent {
  /** Unique id (UUID). The log refuses a second, different event with the same id. */
  readonly eventId: Uuid;
  /** Product that produced the event. */
  readonly product: ProductId;
  /** NHI of the principal the event is attributed to (any kind: agent, human, service). */
  readonly agentNhi: string;
  /** What was done, e.g. `sandbox.spawn` (visible ASCII, no spaces). */
  readonly action: string;
  /** What it was done to, as a resource URI, e.g. `runtime:sandbox:sb-1` (visible ASCII). */
  readonly resource: string;
  /** What came of it. */
  readonly outcome: AuditOutcome;
  /** When it happened: consensus time, Unix nanoseconds (spec §6.3). */
  readonly timestamp: ConsensusTimestamp;
  /** Details; for typed events `{ kind, ...fields }` in wire form (see {@link auditEventDetail}). */
  readonly metadata: JsonValue;
  /** The Merkle receipt, present once the event has been appended (spec §3.3 `merkle_proof`). */
  readonly merkleProof?: AuditReceipt;
}

/** Wire shape of {@link UnifiedAuditEvent} (snake_case; int64 as decimal strings; bytes base64url). */
export interface UnifiedAuditEventWire {
  /** UUID. */
  event_id: string;
  /** Product id. */
  product: ProductId;
  /** NHI string. */
  agent_nhi: string;
  /** Action. */
  action: string;
  /** Resource URI. */
  resource: string;
  /** Outcome. */
  outcome: AuditOutcome;
  /** Unix nanoseconds, int64 decimal string. */
  timestamp: string;
  /** Free-form JSON within {@link AUDIT_METADATA_BOUNDS}. */
  metadata: JsonValue;
  /** The receipt, or `null` before the event is appended. */
  merkle_proof: AuditReceiptWire | null;
}

/** An NHI string: `nhiCodec` (parsing is memoized in `parseNhi`, so repeated agents are cheap). */
const nhiSchema = nhiCodec;

const hashCodec = bytesCodec([MERKLE_HASH_LENGTH], {
  id: 'MerkleHash',
  description: 'SHA-256 Merkle tree hash (RFC 9162 §2.1.1), 32 bytes as unpadded base64url.',
});

const receiptCodec = withMeta(
  z.codec(
    z.strictObject({
      leaf_index: uint64Codec,
      tree_size: uint64Codec,
      leaf_hash: hashCodec,
      root_hash: hashCodec,
      inclusion_path: z.array(hashCodec).max(MAX_PROOF_LENGTH),
    }),
    z
      .strictObject({
        leafIndex: uint64Codec.out,
        treeSize: uint64Codec.out,
        leafHash: hashCodec.out,
        rootHash: hashCodec.out,
        inclusionPath: z.array(hashCodec.out).max(MAX_PROOF_LENGTH),
      })
      .refine((r) => r.leafIndex < r.treeSize, {
        error: 'leafIndex must be less than treeSize',
        path: ['leafIndex'],
      }),
    {
      decode: (w) => ({
        leafIndex: w.leaf_index,
        treeSize: w.tree_size,
        leafHash: w.leaf_hash,
        rootHash: w.root_hash,
        inclusionPath: w.inclusion_path,
      }),
      encode: (t) => ({
        leaf_index: t.leafIndex,
        tree_size: t.treeSize,
        leaf_hash: t.leafHash,
        root_hash: t.rootHash,
        inclusion_path: t.inclusionPath,
      }),
    },
  ),
  {
    id: 'AuditReceipt',
    description: 'Merkle receipt of an appended audit event (RFC 9162 inclusion proof).',
  },
);

/** Codec of {@link AuditReceipt} ↔ {@link AuditReceiptWire}. */
export const auditReceiptCodec = receiptCodec as unknown as z.ZodType<AuditReceipt, AuditReceiptWire>;

const actionSchema = asciiToken(MAX_AUDIT_ACTION_LENGTH);
const resourceSchema = asciiToken(MAX_AUDIT_RESOURCE_LENGTH);
const metadataSchema = boundedJson(AUDIT_METADATA_BOUNDS);
const productSchema = z.enum(PRODUCT_IDS as [ProductId, ...ProductId[]]);
const outcomeSchema = z.enum(AUDIT_OUTCOMES as [AuditOutcome, ...AuditOutcome[]]);

const eventWireSchema = z.strictObject({
  event_id: uuidCodec,
  product: productSchema,
  agent_nhi: nhiSchema,
  action: actionSchema,
  resource: resourceSchema,
  outcome: outcomeSchema,
  timestamp: consensusTimestampCodec,
  metadata: metadataSchema,
  merkle_proof: receiptCodec.nullable(),
});

const eventTsSchema = z.strictObject({
  eventId: uuidCodec.out,
  product: productSchema,
  agentNhi: nhiSchema,
  action: actionSchema,
  resource: resourceSchema,
  outcome: outcomeSchema,
  timestamp: consensusTimestampCodec.out,
  metadata: metadataSchema,
  merkleProof: receiptCodec.out.optional(),
});

/**
 * Codec of {@link UnifiedAuditEvent} ↔ {@link UnifiedAuditEventWire}: strict (unknown keys are
 * rejected), NHIs and UUIDs validated, `metadata` bounded by {@link AUDIT_METADATA_BOUNDS}.
 */
export const unifiedAuditEventCodec: z.ZodType<UnifiedAuditEvent, UnifiedAuditEventWire> = withMeta(
  z.codec(eventWireSchema, eventTsSchema, {
    decode: (w) => ({
      eventId: w.event_id,
      product: w.product,
      agentNhi: w.agent_nhi,
      action: w.action,
      resource: w.resource,
      outcome: w.outcome,
      timestamp: w.timestamp,
      metadata: w.metadata,
      ...(w.merkle_proof === null ? {} : { merkleProof: w.merkle_proof }),
    }),
    encode: (t) => ({
      event_id: t.eventId,
      product: t.product,
      agent_nhi: t.agentNhi,
      action: t.action,
      resource: t.resource,
      outcome: t.outcome,
      timestamp: t.timestamp,
      metadata: t.metadata,
      merkle_proof: t.merkleProof ?? null,
    }),
  }),
  {
    title: 'UnifiedAuditEvent',
    description: 'Audit event of the Merkle-anchored audit log (spec §3.3), with its receipt once appended.',
  },
) as unknown as z.ZodType<UnifiedAuditEvent, UnifiedAuditEventWire>;

const EVENT_CONTEXT: WireFailureContext = { contract: 'UnifiedAuditEvent', code: 'PL-400' };

/** Encodes an event to its wire JSON; `PL-400` naming the failing field otherwise. */
export function encodeAuditEvent(event: UnifiedAuditEvent): UnifiedAuditEventWire {
  return encodeWire(unifiedAuditEventCodec, event, EVENT_CONTEXT);
}

/** Decodes wire JSON to an event; `PL-400` naming the failing path otherwise. */
export function decodeAuditEvent(json: unknown): UnifiedAuditEvent {
  return decodeWire(unifiedAuditEventCodec, json, EVENT_CONTEXT);
}

/**
 * The bytes `d` the log hashes as the event's leaf (`SHA-256(0x00 ‖ d)`): the RFC 8785 canonical
 * JSON of the event's wire form without `merkle_proof` (the receipt is about the leaf, so it
 * cannot be part of it). Anyone with the event can recompute the leaf hash.
 */
export function auditLeafData(event: UnifiedAuditEvent | UnifiedAuditEventWire): Uint8Array {
  if (isValidatedEvent(event)) return canonicalBytes(leafWireOf(event));
  const wire = 'event_id' in event ? event : encodeAuditEvent(event);
  const { merkle_proof: _receipt, ...leaf } = wire;
  return canonicalBytes(leaf);
}

/**
 * The class of the events this module builds: validated, then deep-frozen, so they cannot have
 * changed since, and appending one skips a second validation pass (the constructors were the
 * edge). The private field is an unforgeable brand: `#validated in value` holds only for objects
 * this class constructed, and a copy (`{ ...event }`) is a plain object, validated afresh.
 *
 * (A `WeakSet` of validated events would do the same, but a weak collection with hundreds of
 * thousands of entries makes every young-generation GC scan it: query pauses grew to 100+ ms.)
 */
class ValidatedAuditEvent {
  readonly #validated = true;

  static is(value: unknown): boolean {
    return typeof value === 'object' && value !== null && #validated in value;
  }

  static make(fields: UnifiedAuditEvent): UnifiedAuditEvent {
    return Object.freeze(Object.assign(new ValidatedAuditEvent(), fields)) as UnifiedAuditEvent;
  }
}

/** True when `event` was built (validated and deep-frozen) by this module's constructors. */
export function isValidatedEvent(event: unknown): event is UnifiedAuditEvent {
  return ValidatedAuditEvent.is(event);
}

/** The wire form without `merkle_proof` of a validated event: a plain field mapping. */
export function leafWireOf(event: UnifiedAuditEvent): Omit<UnifiedAuditEventWire, 'merkle_proof'> {
  return {
    event_id: event.eventId,
    product: event.product,
    agent_nhi: event.agentNhi,
    action: event.action,
    resource: event.resource,
    outcome: event.outcome,
    timestamp: event.timestamp.toString(),
    metadata: event.metadata,
  };
}

/**
 * A validated (deep-frozen) event with its receipt attached: frozen, and still known as
 * validated. Only the new outer object and the receipt need freezing.
 */
export function withMerkleProof(event: UnifiedAuditEvent, receipt: AuditReceipt): UnifiedAuditEvent {
  if (!isValidatedEvent(event)) throw new EnablementError('PL-500', 'withMerkleProof: not a validated event');
  Object.freeze(receipt.inclusionPath);
  return ValidatedAuditEvent.make({
    eventId: event.eventId,
    product: event.product,
    agentNhi: event.agentNhi,
    action: event.action,
    resource: event.resource,
    outcome: event.outcome,
    timestamp: event.timestamp,
    metadata: event.metadata,
    merkleProof: Object.freeze(receipt),
  });
}

/** Fields of {@link createAuditEvent}. */
export interface AuditEventFields {
  /** Event id; a fresh random UUID by default. */
  eventId?: Uuid;
  /** Producing product. */
  product: ProductId;
  /** NHI the event is attributed to. */
  agentNhi: string;
  /** Action (visible ASCII, at most {@link MAX_AUDIT_ACTION_LENGTH}). */
  action: string;
  /** Resource URI (visible ASCII, at most {@link MAX_AUDIT_RESOURCE_LENGTH}). */
  resource: string;
  /** Outcome. */
  outcome: AuditOutcome;
  /** Consensus timestamp, Unix ns. */
  timestamp: ConsensusTimestamp;
  /** Details; `null` by default. */
  metadata?: JsonValue;
  /** Source of the random id; the platform CSPRNG by default. */
  random?: RandomSource;
}

/**
 * A validated custom audit event (for actions outside the typed kinds of {@link AuditEvents}).
 * Throws `PL-400` naming the bad field. The result is a frozen copy: later changes to the
 * caller's `metadata` do not reach it.
 */
export function createAuditEvent(fields: AuditEventFields): UnifiedAuditEvent {
  const event: UnifiedAuditEvent = {
    eventId: fields.eventId ?? newUuid(fields.random ?? secureRandom),
    product: fields.product,
    agentNhi: fields.agentNhi,
    action: fields.action,
    resource: fields.resource,
    outcome: fields.outcome,
    timestamp: fields.timestamp,
    metadata: fields.metadata ?? null,
  };
  // Encoding validates every field; reading the JSON text back gives a deep copy.
  return fromValidatedWire(JSON.parse(JSON.stringify(encodeAuditEvent(event))));
}

/**
 * Rebuilds a frozen event from wire JSON that {@link encodeAuditEvent} produced (so already
 * validated): a plain field mapping, without a second validation pass. Internal to the audit
 * module.
 */
export function fromValidatedWire(wire: Omit<UnifiedAuditEventWire, 'merkle_proof'>): UnifiedAuditEvent {
  deepFreeze(wire.metadata);
  return ValidatedAuditEvent.make({
    eventId: wire.event_id as Uuid,
    product: wire.product,
    agentNhi: wire.agent_nhi,
    action: wire.action,
    resource: wire.resource,
    outcome: wire.outcome,
    timestamp: BigInt(wire.timestamp),
    metadata: wire.metadata,
  });
}

/** Freezes a JSON value and everything in it, so that a stored or returned event cannot change. */
function deepFreeze(value: JsonValue): void {
  if (value === null || typeof value !== 'object') return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

// ---------------------------------------------------------------------------------------------
// Typed event kinds (spec §3.3 `AuditEvent::*`)
// ---------------------------------------------------------------------------------------------

/** Egress gateway decision (the authz decision of `network.egress`). */
export type EgressDecision = 'allow' | 'deny' | 'requires_oversight';
/** Quota overflow action (ARCHITECTURE §6 Metering). */
export type QuotaOverflowAction = 'block' | 'allow_with_notification' | 'allow';
/** An approver's decision on an oversight request. */
export type ApprovalDecision = 'approve' | 'deny';
/** States of an oversight request (ARCHITECTURE §6 Oversight). */
export type OversightRequestState = 'PENDING' | 'ESCALATED' | 'APPROVED' | 'DENIED' | 'EXPIRED' | 'CANCELLED';

/** Every {@link OversightRequestState}. */
export const OVERSIGHT_REQUEST_STATES: readonly OversightRequestState[] = Object.freeze([
  'PENDING',
  'ESCALATED',
  'APPROVED',
  'DENIED',
  'EXPIRED',
  'CANCELLED',
]);

/** Longest free-text reason (e.g. of a sandbox termination). */
export const MAX_AUDIT_REASON_LENGTH = 1024;
/** Longest token field (event types, protocols). */
export const MAX_AUDIT_TOKEN_LENGTH = 128;

/** Runtime: a sandbox was spawned and bound to an agent. */
export interface SandboxSpawnedDetail {
  /** Kind tag. */
  kind: 'SandboxSpawned';
  /** The sandbox. */
  sandboxId: SandboxId;
  /** The agent bound to it. */
  agentNhi: string;
  /** SHA-256 of the host-signed attestation (32 bytes). */
  attestationHash: Uint8Array;
}

/** Runtime: a sandbox terminated. */
export interface SandboxTerminatedDetail {
  /** Kind tag. */
  kind: 'SandboxTerminated';
  /** The sandbox. */
  sandboxId: SandboxId;
  /** The agent bound to the sandbox (the spec's variant has none; the unified event needs one). */
  agentNhi: string;
  /** Why it ended (free text, at most {@link MAX_AUDIT_REASON_LENGTH}). */
  reason: string;
}

/** Runtime: a sandbox tried to reach the network. */
export interface EgressAttemptDetail {
  /** Kind tag. */
  kind: 'EgressAttempt';
  /** The sandbox. */
  sandboxId: SandboxId;
  /** The agent bound to the sandbox. */
  agentNhi: string;
  /** Host, `host:port` or URL (visible ASCII). */
  destination: string;
  /** What authz decided. */
  decision: EgressDecision;
}

/** Metering: a usage event was ingested. */
export interface EventIngestedDetail {
  /** Kind tag. */
  kind: 'EventIngested';
  /** Id of the ingested usage event (not of this audit event). */
  eventId: Uuid;
  /** Agent the usage is attributed to. */
  agentNhi: string;
  /** Usage event type, e.g. `inference_call`. */
  eventType: string;
  /** Metered value (exact, non-negative). */
  value: Decimal;
}

/** Metering: a quota was exceeded. */
export interface QuotaExceededDetail {
  /** Kind tag. */
  kind: 'QuotaExceeded';
  /** The agent over quota. */
  agentNhi: string;
  /** Usage event type the quota counts. */
  eventType: string;
  /** The quota limit (u64). */
  limit: bigint;
  /** What the quota does on overflow; `block` makes the outcome `denied`. */
  overflowAction: QuotaOverflowAction;
}

/** Metering: an invoice was generated. */
export interface InvoiceGeneratedDetail {
  /** Kind tag. */
  kind: 'InvoiceGenerated';
  /** Principal the invoice is attributed to (the subscription's agent or a service). */
  agentNhi: string;
  /** The subscription. */
  subscriptionId: Uuid;
  /** Invoice total (exact, non-negative). */
  amount: Decimal;
  /** ISO 4217 code of `amount` (money is meaningless without one). */
  currency: CurrencyCode;
  /** Billing period `[start, end)`, Unix ns; `start < end`. */
  period: { readonly start: ConsensusTimestamp; readonly end: ConsensusTimestamp };
}

/** Oversight: an approval request was created. */
export interface RequestCreatedDetail {
  /** Kind tag. */
  kind: 'RequestCreated';
  /** The request. */
  requestId: Uuid;
  /** The agent asking. */
  agentNhi: string;
  /** The action awaiting approval, e.g. `payments.transfer`. */
  action: string;
  /** The policy that required oversight. */
  policyId: PolicyId;
}

/** Oversight: an approver answered. */
export interface ResponseReceivedDetail {
  /** Kind tag. */
  kind: 'ResponseReceived';
  /** The request. */
  requestId: Uuid;
  /** The agent whose request it is. */
  agentNhi: string;
  /** NHI of the approver. */
  approver: string;
  /** The approver's decision. */
  decision: ApprovalDecision;
}

/** Oversight: a request changed state. */
export interface StateTransitionDetail {
  /** Kind tag. */
  kind: 'StateTransition';
  /** The request. */
  requestId: Uuid;
  /** The agent whose request it is. */
  agentNhi: string;
  /** State before. */
  oldState: OversightRequestState;
  /** State after (different from `oldState`). */
  newState: OversightRequestState;
}

/** Messaging: a message was sent (ciphertext only: the size, never the content). */
export interface MessageSentDetail {
  /** Kind tag. */
  kind: 'MessageSent';
  /** The message. */
  messageId: Uuid;
  /** Sender NHI (the event's principal). */
  sender: string;
  /** Recipient NHI. */
  recipient: string;
  /** Envelope size in bytes (u32). */
  encryptedSize: number;
}

/** Messaging: a message was delivered. */
export interface MessageDeliveredDetail {
  /** Kind tag. */
  kind: 'MessageDelivered';
  /** The message. */
  messageId: Uuid;
  /** The recipient it was delivered to. */
  agentNhi: string;
  /** Send-to-delivery latency in milliseconds (u32). */
  latencyMs: number;
}

/** Messaging: an end-to-end session was established. */
export interface SessionEstablishedDetail {
  /** Kind tag. */
  kind: 'SessionEstablished';
  /** Initiator NHI (the event's principal). */
  initiator: string;
  /** Responder NHI. */
  responder: string;
  /** Key agreement protocol, e.g. `PQXDH`. */
  protocol: string;
}

/** Every typed audit event of spec §3.3, discriminated by `kind`. */
export type AuditEventDetail =
  | SandboxSpawnedDetail
  | SandboxTerminatedDetail
  | EgressAttemptDetail
  | EventIngestedDetail
  | QuotaExceededDetail
  | InvoiceGeneratedDetail
  | RequestCreatedDetail
  | ResponseReceivedDetail
  | StateTransitionDetail
  | MessageSentDetail
  | MessageDeliveredDetail
  | SessionEstablishedDetail;

/** The `kind` of each {@link AuditEventDetail}. */
export type AuditEventKind = AuditEventDetail['kind'];

/** How each kind maps onto the unified event: its product and action. */
export const AUDIT_EVENT_KINDS: Readonly<Record<AuditEventKind, { product: ProductId; action: string }>> =
  Object.freeze({
    SandboxSpawned: { product: 'runtime', action: 'sandbox.spawn' },
    SandboxTerminated: { product: 'runtime', action: 'sandbox.terminate' },
    EgressAttempt: { product: 'runtime', action: 'network.egress' },
    EventIngested: { product: 'metering', action: 'usage.ingest' },
    QuotaExceeded: { product: 'metering', action: 'quota.exceeded' },
    InvoiceGenerated: { product: 'metering', action: 'invoice.generate' },
    RequestCreated: { product: 'oversight', action: 'oversight.request' },
    ResponseReceived: { product: 'oversight', action: 'oversight.respond' },
    StateTransition: { product: 'oversight', action: 'oversight.transition' },
    MessageSent: { product: 'messaging', action: 'messaging.send' },
    MessageDelivered: { product: 'messaging', action: 'messaging.deliver' },
    SessionEstablished: { product: 'messaging', action: 'messaging.session' },
  });

// Each field: [wire key, wire-side schema (a codec when the two sides differ), TS-side schema].
type FieldSpec = readonly [string, z.ZodType, z.ZodType];

/**
 * A codec for one kind: strict objects on both sides carrying the `kind` literal, the fields
 * renamed between camelCase and snake_case. Typed by the caller's interfaces (checked by the
 * round-trip tests).
 */
function kindCodec(
  kind: AuditEventKind,
  fields: Record<string, FieldSpec>,
  refine?: { check: (value: Record<string, unknown>) => boolean; message: string; path: string },
) {
  const entries = Object.entries(fields);
  const wire = z.strictObject({
    kind: z.literal(kind),
    ...Object.fromEntries(entries.map(([, [key, schema]]) => [key, schema])),
  });
  let ts: z.ZodType<Record<string, unknown>> = z.strictObject({
    kind: z.literal(kind),
    ...Object.fromEntries(entries.map(([key, [, , schema]]) => [key, schema])),
  });
  if (refine) ts = ts.refine(refine.check, { error: refine.message, path: [refine.path] });
  return withMeta(
    z.codec(wire, ts, {
      decode: (w) => {
        const out: Record<string, unknown> = { kind };
        for (const [key, [wireKey]] of entries) out[key] = (w as Record<string, unknown>)[wireKey];
        return out;
      },
      encode: (t) => {
        const out: Record<string, unknown> = { kind };
        for (const [key, [wireKey]] of entries) out[wireKey] = (t as Record<string, unknown>)[key];
        return out as z.input<typeof wire>;
      },
    }),
    { id: `Audit${kind}` },
  );
}

const nhi: FieldSpec = ['agent_nhi', nhiSchema, nhiSchema];
const nhiAs = (wireKey: string): FieldSpec => [wireKey, nhiSchema, nhiSchema];
const uuidAs = (wireKey: string): FieldSpec => [wireKey, uuidCodec, uuidCodec.out];
const sandbox: FieldSpec = ['sandbox_id', sandboxIdCodec, sandboxIdCodec.out];
const token = (wireKey: string, max = MAX_AUDIT_TOKEN_LENGTH): FieldSpec => [
  wireKey,
  asciiToken(max),
  asciiToken(max),
];
const oneOf = <T extends string>(wireKey: string, values: readonly T[]): FieldSpec => [
  wireKey,
  z.enum(values as [T, ...T[]]),
  z.enum(values as [T, ...T[]]),
];
const attestationHashCodec = bytesCodec([32], {
  description: 'SHA-256 of an attestation, unpadded base64url.',
});
const currencySchema = z
  .string()
  .refine(isCurrencyCode, { error: 'expected a known ISO 4217 currency code' });
const periodCodec = z.codec(
  z.strictObject({ start: consensusTimestampCodec, end: consensusTimestampCodec }),
  z.strictObject({ start: consensusTimestampCodec.out, end: consensusTimestampCodec.out }),
  { decode: (w) => w, encode: (t) => t },
);

const detailCodecs = [
  kindCodec('SandboxSpawned', {
    sandboxId: sandbox,
    agentNhi: nhi,
    attestationHash: ['attestation_hash', attestationHashCodec, attestationHashCodec.out],
  }),
  kindCodec('SandboxTerminated', {
    sandboxId: sandbox,
    agentNhi: nhi,
    reason: ['reason', boundedText(MAX_AUDIT_REASON_LENGTH), boundedText(MAX_AUDIT_REASON_LENGTH)],
  }),
  kindCodec('EgressAttempt', {
    sandboxId: sandbox,
    agentNhi: nhi,
    destination: token('destination', MAX_DESTINATION_LENGTH),
    decision: oneOf<EgressDecision>('decision', ['allow', 'deny', 'requires_oversight']),
  }),
  kindCodec('EventIngested', {
    eventId: uuidAs('event_id'),
    agentNhi: nhi,
    eventType: token('event_type'),
    value: ['value', nonNegativeDecimalCodec, nonNegativeDecimalCodec.out],
  }),
  kindCodec('QuotaExceeded', {
    agentNhi: nhi,
    eventType: token('event_type'),
    limit: ['limit', uint64Codec, uint64Codec.out],
    overflowAction: oneOf<QuotaOverflowAction>('overflow_action', [
      'block',
      'allow_with_notification',
      'allow',
    ]),
  }),
  kindCodec(
    'InvoiceGenerated',
    {
      agentNhi: nhi,
      subscriptionId: uuidAs('subscription_id'),
      amount: ['amount', nonNegativeDecimalCodec, nonNegativeDecimalCodec.out],
      currency: ['currency', currencySchema, currencySchema],
      period: ['period', periodCodec, periodCodec.out],
    },
    {
      check: (t) => {
        const period = t.period as { start: bigint; end: bigint };
        return period.start < period.end;
      },
      message: 'period.start must be before period.end',
      path: 'period',
    },
  ),
  kindCodec('RequestCreated', {
    requestId: uuidAs('request_id'),
    agentNhi: nhi,
    action: token('action', MAX_AUDIT_ACTION_LENGTH),
    policyId: ['policy_id', policyIdCodec, policyIdCodec.out],
  }),
  kindCodec('ResponseReceived', {
    requestId: uuidAs('request_id'),
    agentNhi: nhi,
    approver: nhiAs('approver'),
    decision: oneOf<ApprovalDecision>('decision', ['approve', 'deny']),
  }),
  kindCodec(
    'StateTransition',
    {
      requestId: uuidAs('request_id'),
      agentNhi: nhi,
      oldState: oneOf('old_state', OVERSIGHT_REQUEST_STATES),
      newState: oneOf('new_state', OVERSIGHT_REQUEST_STATES),
    },
    {
      check: (t) => t.oldState !== t.newState,
      message: 'newState must differ from oldState',
      path: 'newState',
    },
  ),
  kindCodec('MessageSent', {
    messageId: uuidAs('message_id'),
    sender: nhiAs('sender'),
    recipient: nhiAs('recipient'),
    encryptedSize: ['encrypted_size', uint32Schema, uint32Schema],
  }),
  kindCodec('MessageDelivered', {
    messageId: uuidAs('message_id'),
    agentNhi: nhi,
    latencyMs: ['latency_ms', uint32Schema, uint32Schema],
  }),
  kindCodec('SessionEstablished', {
    initiator: nhiAs('initiator'),
    responder: nhiAs('responder'),
    protocol: token('protocol'),
  }),
] as const;

/**
 * Codec of {@link AuditEventDetail} ↔ its wire form (the `metadata` of a typed unified event):
 * `{ kind, ...snake_case fields }`, strict, discriminated by `kind`.
 */
export const auditEventDetailCodec = z.discriminatedUnion('kind', [...detailCodecs]) as unknown as z.ZodType<
  AuditEventDetail,
  { kind: AuditEventKind } & Record<string, JsonValue>
>;

const DETAIL_CONTEXT: WireFailureContext = { contract: 'AuditEventDetail', code: 'PL-400' };

/** Context of a typed event: when it happened and, optionally, its id. */
export interface AuditEventContext {
  /** Consensus timestamp, Unix ns. */
  timestamp: ConsensusTimestamp;
  /** Event id; a fresh random UUID by default. */
  eventId?: Uuid;
  /** Source of the random id; the platform CSPRNG by default. */
  random?: RandomSource;
}

/** The principal, resource and outcome a typed event maps to. */
function unifiedParts(detail: AuditEventDetail): {
  agentNhi: string;
  resource: string;
  outcome: AuditOutcome;
} {
  switch (detail.kind) {
    case 'SandboxSpawned':
    case 'SandboxTerminated':
      return {
        agentNhi: detail.agentNhi,
        resource: `${RESOURCE_URI_PREFIXES.sandbox}${detail.sandboxId}`,
        outcome: 'success',
      };
    case 'EgressAttempt':
      return {
        agentNhi: detail.agentNhi,
        resource: `network:${detail.destination}`,
        outcome: detail.decision === 'allow' ? 'success' : detail.decision === 'deny' ? 'denied' : 'pending',
      };
    case 'EventIngested':
      return { agentNhi: detail.agentNhi, resource: `metering:event:${detail.eventId}`, outcome: 'success' };
    case 'QuotaExceeded':
      return {
        agentNhi: detail.agentNhi,
        resource: `metering:quota:${detail.eventType}`,
        outcome: detail.overflowAction === 'block' ? 'denied' : 'success',
      };
    case 'InvoiceGenerated':
      return {
        agentNhi: detail.agentNhi,
        resource: `${RESOURCE_URI_PREFIXES.subscription}${detail.subscriptionId}`,
        outcome: 'success',
      };
    case 'RequestCreated':
      return {
        agentNhi: detail.agentNhi,
        resource: `${RESOURCE_URI_PREFIXES.oversight_request}${detail.requestId}`,
        outcome: 'pending',
      };
    case 'ResponseReceived':
    case 'StateTransition':
      return {
        agentNhi: detail.agentNhi,
        resource: `${RESOURCE_URI_PREFIXES.oversight_request}${detail.requestId}`,
        outcome: 'success',
      };
    case 'MessageSent':
      return {
        agentNhi: detail.sender,
        resource: `${RESOURCE_URI_PREFIXES.message}${detail.messageId}`,
        outcome: 'success',
      };
    case 'MessageDelivered':
      return {
        agentNhi: detail.agentNhi,
        resource: `${RESOURCE_URI_PREFIXES.message}${detail.messageId}`,
        outcome: 'success',
      };
    case 'SessionEstablished':
      // The resource format of messaging authz checks (spec §3.2): `agent:<recipient NHI>`.
      return { agentNhi: detail.initiator, resource: `agent:${detail.responder}`, outcome: 'success' };
  }
}

/**
 * Maps a typed event onto the unified shape (spec §3.3): product and action from
 * {@link AUDIT_EVENT_KINDS}, principal, resource URI and outcome from the fields, and the
 * fields themselves (wire form, with `kind`) as `metadata`. Throws `PL-400` naming the bad field.
 *
 * @example
 * ```ts
 * const event = toUnifiedAuditEvent(
 *   { kind: 'EgressAttempt', sandboxId, agentNhi, destination: 'api.example.com:443', decision: 'deny' },
 *   { timestamp: clock.now() },
 * );
 * // event.action === 'network.egress', event.outcome === 'denied'
 * ```
 */
export function toUnifiedAuditEvent(detail: AuditEventDetail, context: AuditEventContext): UnifiedAuditEvent {
  if (typeof detail !== 'object' || detail === null || !Object.hasOwn(AUDIT_EVENT_KINDS, detail.kind)) {
    throw new EnablementError('PL-400', 'audit event: unknown kind');
  }
  const metadata = encodeWire(auditEventDetailCodec, detail, DETAIL_CONTEXT) as JsonValue;
  const { product, action } = AUDIT_EVENT_KINDS[detail.kind];
  return createAuditEvent({
    ...(context.eventId === undefined ? {} : { eventId: context.eventId }),
    ...(context.random === undefined ? {} : { random: context.random }),
    product,
    action,
    ...unifiedParts(detail),
    timestamp: context.timestamp,
    metadata,
  });
}

/**
 * The typed detail of a unified event whose `metadata` carries a known `kind`; `undefined` for
 * custom events. Throws `PL-400` when the metadata claims a known kind but is malformed, or when
 * the event's product, action, principal, resource or outcome disagree with it (a forged or
 * corrupted event).
 */
export function auditEventDetail(event: UnifiedAuditEvent): AuditEventDetail | undefined {
  const metadata = event.metadata;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) return undefined;
  const kind = metadata.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(AUDIT_EVENT_KINDS, kind)) return undefined;
  const detail = decodeWire(auditEventDetailCodec, metadata, DETAIL_CONTEXT);
  const expected = { ...AUDIT_EVENT_KINDS[detail.kind], ...unifiedParts(detail) };
  for (const key of ['product', 'action', 'agentNhi', 'resource', 'outcome'] as const) {
    if (event[key] !== expected[key]) {
      throw new EnablementError('PL-400', `audit event: ${key} does not match its ${detail.kind} metadata`);
    }
  }
  return detail;
}

type Fields<K extends AuditEventKind> = Omit<Extract<AuditEventDetail, { kind: K }>, 'kind'>;

function typed<K extends AuditEventKind>(kind: K) {
  return (fields: Fields<K>, context: AuditEventContext): UnifiedAuditEvent =>
    toUnifiedAuditEvent({ ...fields, kind } as unknown as AuditEventDetail, context);
}

/**
 * Typed constructors, one per event kind of spec §3.3. Each validates its fields and returns the
 * unified event (see {@link toUnifiedAuditEvent}).
 *
 * @example
 * ```ts
 * const event = AuditEvents.sandboxSpawned(
 *   { sandboxId, agentNhi, attestationHash },
 *   { timestamp: clock.now() },
 * );
 * await log.append(event);
 * ```
 */
export const AuditEvents = Object.freeze({
  /** Runtime: a sandbox was spawned. */
  sandboxSpawned: typed('SandboxSpawned'),
  /** Runtime: a sandbox terminated. */
  sandboxTerminated: typed('SandboxTerminated'),
  /** Runtime: an egress attempt and authz's decision. */
  egressAttempt: typed('EgressAttempt'),
  /** Metering: a usage event was ingested. */
  eventIngested: typed('EventIngested'),
  /** Metering: a quota was exceeded. */
  quotaExceeded: typed('QuotaExceeded'),
  /** Metering: an invoice was generated. */
  invoiceGenerated: typed('InvoiceGenerated'),
  /** Oversight: an approval request was created. */
  requestCreated: typed('RequestCreated'),
  /** Oversight: an approver responded. */
  responseReceived: typed('ResponseReceived'),
  /** Oversight: a request changed state. */
  stateTransition: typed('StateTransition'),
  /** Messaging: a message was sent. */
  messageSent: typed('MessageSent'),
  /** Messaging: a message was delivered. */
  messageDelivered: typed('MessageDelivered'),
  /** Messaging: an end-to-end session was established. */
  sessionEstablished: typed('SessionEstablished'),
});
