import { z } from 'zod';
import type { Decimal } from '../decimal/decimal.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { SandboxId } from '../ids/sandbox-id.js';
import type { Uuid } from '../ids/uuid.js';
import type { ConsensusTimestamp } from '../time/clock.js';
import { decodeWire, encodeWire, type WireFailureContext } from './errors.js';
import {
  asciiToken,
  consensusTimestampCodec,
  nhiCodec,
  nonNegativeDecimalCodec,
  uint32Schema,
  uint64Codec,
  uuidCodec,
} from './leaf.js';
import { withMeta } from './registry.js';
import { sandboxIdCodec } from './shared-types.js';
import { signatureCodec, wireSigningBytes } from './signature.js';

// ---------------------------------------------------------------------------------------------
// RuntimeClass
// ---------------------------------------------------------------------------------------------

/** Runtime classes the SDK ships or names (spec §12.3 uses `gvisor`). */
export const KNOWN_RUNTIME_CLASSES = Object.freeze(['gvisor', 'quickjs', 'process', 'remote'] as const);

/** A runtime class the SDK knows; see {@link RuntimeClass}. */
export type KnownRuntimeClass = (typeof KNOWN_RUNTIME_CLASSES)[number];

/**
 * The kind of sandbox a usage event is about: open (drivers are pluggable, so new classes such
 * as `firecracker` must not need a schema change) but validated by {@link RUNTIME_CLASS_PATTERN}:
 * a lowercase token, usable as a metering dimension and a metric label.
 */
export type RuntimeClass = KnownRuntimeClass | (string & {});

/** 1–64 characters: a lowercase letter, then lowercase letters, digits, `_` or `-`. */
export const RUNTIME_CLASS_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

/** True when `value` is a valid {@link RuntimeClass}. */
export function isRuntimeClass(value: unknown): value is RuntimeClass {
  return typeof value === 'string' && value.length <= 64 && RUNTIME_CLASS_PATTERN.test(value);
}

const runtimeClassSchema = withMeta(
  z
    .string()
    .max(64, { abort: true })
    .regex(RUNTIME_CLASS_PATTERN, { error: 'expected a lowercase runtime class token, e.g. "gvisor"' }),
  {
    id: 'RuntimeClass',
    description: `Runtime class: open lowercase token (known: ${KNOWN_RUNTIME_CLASSES.join(', ')}).`,
  },
);

// ---------------------------------------------------------------------------------------------
// Properties (spec §4.1 RuntimeEventProperties, serde tag = "type")
// ---------------------------------------------------------------------------------------------

/** Longest `model_id` / `provider`. */
export const MAX_MODEL_ID_LENGTH = 256;
/** Longest egress `destination` (a host, `host:port` or URL). */
export const MAX_DESTINATION_LENGTH = 2048;

/** Sandbox resources: on allocation, and again on termination with the final duration. */
export interface SandboxAllocatedProperties {
  /** Variant tag. */
  type: 'SandboxAllocated';
  /** The sandbox. */
  sandboxId: SandboxId;
  /** Kind of sandbox. */
  runtimeClass: RuntimeClass;
  /** CPU allocated, in thousandths of a core (`u32`). */
  cpuMillicores: number;
  /** Memory allocated, in bytes (`u64`). */
  memoryBytes: bigint;
  /** Seconds the sandbox has run: 0 on allocation, the total on termination (`u64`). */
  durationSeconds: bigint;
}

/** Wire shape of {@link SandboxAllocatedProperties}. */
export interface SandboxAllocatedPropertiesWire {
  /** Variant tag. */
  type: 'SandboxAllocated';
  /** The sandbox id (`sb-…`). */
  sandbox_id: string;
  /** Runtime class token. */
  runtime_class: string;
  /** CPU in millicores, a JSON integer (`u32`). */
  cpu_millicores: number;
  /** Memory in bytes, `u64` decimal string. */
  memory_bytes: string;
  /** Duration in seconds, `u64` decimal string. */
  duration_seconds: string;
}

/** One model call made through the inference proxy. */
export interface InferenceCallProperties {
  /** Variant tag. */
  type: 'InferenceCall';
  /** The calling sandbox. */
  sandboxId: SandboxId;
  /** Model name as the provider spells it, e.g. `claude-3-opus`. */
  modelId: string;
  /** Provider name, e.g. `anthropic`. */
  provider: string;
  /** Prompt tokens (`u64`). */
  inputTokens: bigint;
  /** Completion tokens (`u64`). */
  outputTokens: bigint;
  /** Cost in US dollars, exact and non-negative (spec `Decimal`). */
  costUsd: Decimal;
}

/** Wire shape of {@link InferenceCallProperties}. */
export interface InferenceCallPropertiesWire {
  /** Variant tag. */
  type: 'InferenceCall';
  /** The sandbox id. */
  sandbox_id: string;
  /** Model name (visible ASCII). */
  model_id: string;
  /** Provider name (visible ASCII). */
  provider: string;
  /** `u64` decimal string. */
  input_tokens: string;
  /** `u64` decimal string. */
  output_tokens: string;
  /** Non-negative decimal string, e.g. `"0.018510"`. */
  cost_usd: string;
}

/** Bytes sent out of a sandbox through the egress gateway. */
export interface NetworkEgressProperties {
  /** Variant tag. */
  type: 'NetworkEgress';
  /** The sandbox. */
  sandboxId: SandboxId;
  /** Where the bytes went: host, `host:port` or URL (visible ASCII; IDNs in punycode). */
  destination: string;
  /** Bytes sent (`u64`). */
  bytesTransferred: bigint;
}

/** Wire shape of {@link NetworkEgressProperties}. */
export interface NetworkEgressPropertiesWire {
  /** Variant tag. */
  type: 'NetworkEgress';
  /** The sandbox id. */
  sandbox_id: string;
  /** Destination (visible ASCII). */
  destination: string;
  /** `u64` decimal string. */
  bytes_transferred: string;
}

/** The `properties` of a usage event (spec §4.1), tagged by `type`. */
export type RuntimeEventProperties =
  | SandboxAllocatedProperties
  | InferenceCallProperties
  | NetworkEgressProperties;

/** Wire shape of {@link RuntimeEventProperties}. */
export type RuntimeEventPropertiesWire =
  | SandboxAllocatedPropertiesWire
  | InferenceCallPropertiesWire
  | NetworkEgressPropertiesWire;

const sandboxAllocatedCodec = withMeta(
  z.codec(
    z.strictObject({
      type: z.literal('SandboxAllocated'),
      sandbox_id: sandboxIdCodec,
      runtime_class: runtimeClassSchema,
      cpu_millicores: uint32Schema,
      memory_bytes: uint64Codec,
      duration_seconds: uint64Codec,
    }),
    z.strictObject({
      type: z.literal('SandboxAllocated'),
      sandboxId: sandboxIdCodec.out,
      runtimeClass: runtimeClassSchema,
      cpuMillicores: uint32Schema,
      memoryBytes: uint64Codec.out,
      durationSeconds: uint64Codec.out,
    }),
    {
      decode: (w) => ({
        type: w.type,
        sandboxId: w.sandbox_id,
        runtimeClass: w.runtime_class,
        cpuMillicores: w.cpu_millicores,
        memoryBytes: w.memory_bytes,
        durationSeconds: w.duration_seconds,
      }),
      encode: (t) => ({
        type: t.type,
        sandbox_id: t.sandboxId,
        runtime_class: t.runtimeClass,
        cpu_millicores: t.cpuMillicores,
        memory_bytes: t.memoryBytes,
        duration_seconds: t.durationSeconds,
      }),
    },
  ),
  { id: 'SandboxAllocated' },
);

const inferenceCallCodec = withMeta(
  z.codec(
    z.strictObject({
      type: z.literal('InferenceCall'),
      sandbox_id: sandboxIdCodec,
      model_id: asciiToken(MAX_MODEL_ID_LENGTH),
      provider: asciiToken(MAX_MODEL_ID_LENGTH),
      input_tokens: uint64Codec,
      output_tokens: uint64Codec,
      cost_usd: nonNegativeDecimalCodec,
    }),
    z.strictObject({
      type: z.literal('InferenceCall'),
      sandboxId: sandboxIdCodec.out,
      modelId: asciiToken(MAX_MODEL_ID_LENGTH),
      provider: asciiToken(MAX_MODEL_ID_LENGTH),
      inputTokens: uint64Codec.out,
      outputTokens: uint64Codec.out,
      costUsd: nonNegativeDecimalCodec.out,
    }),
    {
      decode: (w) => ({
        type: w.type,
        sandboxId: w.sandbox_id,
        modelId: w.model_id,
        provider: w.provider,
        inputTokens: w.input_tokens,
        outputTokens: w.output_tokens,
        costUsd: w.cost_usd,
      }),
      encode: (t) => ({
        type: t.type,
        sandbox_id: t.sandboxId,
        model_id: t.modelId,
        provider: t.provider,
        input_tokens: t.inputTokens,
        output_tokens: t.outputTokens,
        cost_usd: t.costUsd,
      }),
    },
  ),
  { id: 'InferenceCall' },
);

const networkEgressCodec = withMeta(
  z.codec(
    z.strictObject({
      type: z.literal('NetworkEgress'),
      sandbox_id: sandboxIdCodec,
      destination: asciiToken(MAX_DESTINATION_LENGTH),
      bytes_transferred: uint64Codec,
    }),
    z.strictObject({
      type: z.literal('NetworkEgress'),
      sandboxId: sandboxIdCodec.out,
      destination: asciiToken(MAX_DESTINATION_LENGTH),
      bytesTransferred: uint64Codec.out,
    }),
    {
      decode: (w) => ({
        type: w.type,
        sandboxId: w.sandbox_id,
        destination: w.destination,
        bytesTransferred: w.bytes_transferred,
      }),
      encode: (t) => ({
        type: t.type,
        sandbox_id: t.sandboxId,
        destination: t.destination,
        bytes_transferred: t.bytesTransferred,
      }),
    },
  ),
  { id: 'NetworkEgress' },
);

/** Codec of {@link RuntimeEventProperties} ↔ {@link RuntimeEventPropertiesWire} (tag `type` kept as is). */
export const runtimeEventPropertiesCodec: z.ZodType<RuntimeEventProperties, RuntimeEventPropertiesWire> =
  z.discriminatedUnion('type', [sandboxAllocatedCodec, inferenceCallCodec, networkEgressCodec]);

// ---------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------

/**
 * Event types of `metering.events.runtime`. `sandbox_terminated` carries `SandboxAllocated`
 * properties with the final `duration_seconds` (spec §4.1 flow: "Sandbox terminates → calculate
 * resource usage"); the event type must agree with the properties variant.
 */
export const USAGE_EVENT_TYPES = Object.freeze([
  'sandbox_allocated',
  'sandbox_terminated',
  'inference_call',
  'network_egress',
] as const);

/** One of {@link USAGE_EVENT_TYPES}. */
export type UsageEventType = (typeof USAGE_EVENT_TYPES)[number];

/** The properties variant each event type requires. */
export const USAGE_EVENT_PROPERTIES_TYPE: Readonly<Record<UsageEventType, RuntimeEventProperties['type']>> =
  Object.freeze({
    sandbox_allocated: 'SandboxAllocated',
    sandbox_terminated: 'SandboxAllocated',
    inference_call: 'InferenceCall',
    network_egress: 'NetworkEgress',
  });

/** Most NHIs in a wire `delegation_chain`: a chain of up to 64 links has 65 principals. */
export const MAX_WIRE_DELEGATION_CHAIN = 65;
/** Longest `idempotency_key`. */
export const MAX_USAGE_EVENT_IDEMPOTENCY_KEY_LENGTH = 256;

/** Fields common to every {@link RuntimeUsageEvent}. */
export interface RuntimeUsageEventHeader {
  /** Unique id of this event. */
  eventId: Uuid;
  /** NHI of the agent the usage is attributed to. */
  agentNhi: string;
  /**
   * NHIs from the root principal (human or service) to the acting agent (spec §6.2); empty for
   * an agent acting on its own authority. Only the names travel here: Metering resolves and
   * validates the signed links through the NHI service.
   */
  delegationChain: string[];
  /**
   * When the usage happened, as the producer's consensus time (Unix ns). On the wire this is
   * `consensus_timestamp`: §5.2 is the schema of the message on the subject, and the name says
   * the value comes from creto-consensus (§3.5), not from an agent's clock; §4.1's `timestamp`
   * is the in-memory Rust field. Metering records its own ingest time separately.
   */
  consensusTimestamp: ConsensusTimestamp;
  /** Signature by Runtime over {@link usageEventSigningBytes} (ML-DSA-65 or hybrid). */
  signature: Uint8Array;
  /**
   * Deduplication key (spec §9.2: 7 days in Metering): 1–256 visible ASCII characters. The same
   * usage retried must carry the same key.
   */
  idempotencyKey: string;
}

/** A usage event about a sandbox's resources. */
export interface SandboxUsageEvent extends RuntimeUsageEventHeader {
  /** `sandbox_allocated` or `sandbox_terminated`. */
  eventType: 'sandbox_allocated' | 'sandbox_terminated';
  /** The resources (and the final duration on termination). */
  properties: SandboxAllocatedProperties;
}

/** A usage event about one model call. */
export interface InferenceUsageEvent extends RuntimeUsageEventHeader {
  /** `inference_call`. */
  eventType: 'inference_call';
  /** Tokens and cost. */
  properties: InferenceCallProperties;
}

/** A usage event about network egress. */
export interface EgressUsageEvent extends RuntimeUsageEventHeader {
  /** `network_egress`. */
  eventType: 'network_egress';
  /** Destination and bytes. */
  properties: NetworkEgressProperties;
}

/**
 * A usage event Runtime publishes on `metering.events.runtime` (spec §4.1, §5.2). The union ties
 * each `eventType` to its properties variant, so a mismatch does not type-check (and does not
 * decode).
 */
export type RuntimeUsageEvent = SandboxUsageEvent | InferenceUsageEvent | EgressUsageEvent;

/** Wire fields common to every {@link RuntimeUsageEventWire}. */
export interface RuntimeUsageEventHeaderWire {
  /** UUID, canonical lowercase. */
  event_id: string;
  /** NHI string. */
  agent_nhi: string;
  /** NHI strings, root first. */
  delegation_chain: string[];
  /** Unix nanoseconds, int64 decimal string. */
  consensus_timestamp: string;
  /** Unpadded base64url signature. */
  signature: string;
  /** Deduplication key. */
  idempotency_key: string;
}

/** Wire shape of {@link SandboxUsageEvent}. */
export interface SandboxUsageEventWire extends RuntimeUsageEventHeaderWire {
  /** `sandbox_allocated` or `sandbox_terminated`. */
  event_type: 'sandbox_allocated' | 'sandbox_terminated';
  /** `SandboxAllocated` properties. */
  properties: SandboxAllocatedPropertiesWire;
}

/** Wire shape of {@link InferenceUsageEvent}. */
export interface InferenceUsageEventWire extends RuntimeUsageEventHeaderWire {
  /** `inference_call`. */
  event_type: 'inference_call';
  /** `InferenceCall` properties. */
  properties: InferenceCallPropertiesWire;
}

/** Wire shape of {@link EgressUsageEvent}. */
export interface EgressUsageEventWire extends RuntimeUsageEventHeaderWire {
  /** `network_egress`. */
  event_type: 'network_egress';
  /** `NetworkEgress` properties. */
  properties: NetworkEgressPropertiesWire;
}

/** Wire shape of {@link RuntimeUsageEvent} (spec §5.2 `metering.events.runtime`). */
export type RuntimeUsageEventWire = SandboxUsageEventWire | InferenceUsageEventWire | EgressUsageEventWire;

const headerWire = {
  event_id: uuidCodec,
  agent_nhi: nhiCodec,
  delegation_chain: z.array(nhiCodec).max(MAX_WIRE_DELEGATION_CHAIN),
  consensus_timestamp: consensusTimestampCodec,
  signature: signatureCodec,
  idempotency_key: asciiToken(MAX_USAGE_EVENT_IDEMPOTENCY_KEY_LENGTH),
};

const headerTs = {
  eventId: uuidCodec.out,
  agentNhi: z.string(),
  delegationChain: z.array(z.string()).max(MAX_WIRE_DELEGATION_CHAIN),
  consensusTimestamp: consensusTimestampCodec.out,
  signature: signatureCodec.out,
  idempotencyKey: asciiToken(MAX_USAGE_EVENT_IDEMPOTENCY_KEY_LENGTH),
};

const usageEventWireSchema = z.discriminatedUnion('event_type', [
  z.strictObject({
    ...headerWire,
    event_type: z.enum(['sandbox_allocated', 'sandbox_terminated']),
    properties: sandboxAllocatedCodec,
  }),
  z.strictObject({ ...headerWire, event_type: z.literal('inference_call'), properties: inferenceCallCodec }),
  z.strictObject({ ...headerWire, event_type: z.literal('network_egress'), properties: networkEgressCodec }),
]);

const usageEventTsSchema = z.discriminatedUnion('eventType', [
  z.strictObject({
    ...headerTs,
    eventType: z.enum(['sandbox_allocated', 'sandbox_terminated']),
    properties: sandboxAllocatedCodec.out,
  }),
  z.strictObject({ ...headerTs, eventType: z.literal('inference_call'), properties: inferenceCallCodec.out }),
  z.strictObject({ ...headerTs, eventType: z.literal('network_egress'), properties: networkEgressCodec.out }),
]);

/**
 * Codec of {@link RuntimeUsageEvent} ↔ {@link RuntimeUsageEventWire}. Strict (unknown keys are
 * rejected at every level), bounded, and `event_type` must match the `properties` variant.
 */
export const runtimeUsageEventCodec: z.ZodType<RuntimeUsageEvent, RuntimeUsageEventWire> = withMeta(
  z.codec(usageEventWireSchema, usageEventTsSchema, {
    decode: (w) =>
      ({
        eventId: w.event_id,
        agentNhi: w.agent_nhi,
        delegationChain: w.delegation_chain,
        eventType: w.event_type,
        consensusTimestamp: w.consensus_timestamp,
        properties: w.properties,
        signature: w.signature,
        idempotencyKey: w.idempotency_key,
      }) as z.input<typeof usageEventTsSchema>,
    encode: (t) =>
      ({
        event_id: t.eventId,
        agent_nhi: t.agentNhi,
        delegation_chain: t.delegationChain,
        event_type: t.eventType,
        consensus_timestamp: t.consensusTimestamp,
        properties: t.properties,
        signature: t.signature,
        idempotency_key: t.idempotencyKey,
      }) as z.output<typeof usageEventWireSchema>,
  }),
  {
    title: 'RuntimeUsageEvent',
    description:
      'Usage event published by Runtime on metering.events.runtime (spec §4.1, §5.2). Signed over usageEventSigningBytes.',
  },
);

const USAGE_EVENT_CONTEXT: WireFailureContext = { contract: 'RuntimeUsageEvent', code: 'MT-400' };

/** Decodes wire JSON to a {@link RuntimeUsageEvent}; `MT-400` naming the failing path otherwise. */
export function decodeRuntimeUsageEvent(json: unknown): RuntimeUsageEvent {
  return decodeWire(runtimeUsageEventCodec, json, USAGE_EVENT_CONTEXT);
}

/** Encodes a {@link RuntimeUsageEvent} to wire JSON; `MT-400` naming the failing field otherwise. */
export function encodeRuntimeUsageEvent(event: RuntimeUsageEvent): RuntimeUsageEventWire {
  return encodeWire(runtimeUsageEventCodec, event, USAGE_EVENT_CONTEXT);
}

/** Domain-separation tag of {@link usageEventSigningBytes}. */
export const USAGE_EVENT_SIGNING_DOMAIN = 'creto/metering.events.runtime/v1';

/** A {@link RuntimeUsageEvent} before it is signed: the signature may be absent. */
export type UnsignedRuntimeUsageEvent = RuntimeUsageEvent extends infer E
  ? E extends RuntimeUsageEvent
    ? Omit<E, 'signature'> & { signature?: Uint8Array }
    : never
  : never;

// Stands in for the absent signature so the one codec validates the rest; it is then dropped.
const PLACEHOLDER_SIGNATURE = new Uint8Array(3309);

/**
 * The exact bytes Runtime signs and Metering verifies:
 * `UTF-8("creto/metering.events.runtime/v1") ‖ 0x00 ‖ JCS(wire event without "signature")`
 * (RFC 8785). The event is validated and encoded with {@link runtimeUsageEventCodec} first, so
 * the bytes are those of the canonical wire form whatever the input's key order; any
 * `signature` present is ignored. Invalid events throw `MT-400`.
 *
 * A verifier that decoded the wire JSON gets the same bytes back from the decoded event,
 * because every leaf encoding is canonical (decode then encode is the identity on valid wire).
 */
export function usageEventSigningBytes(event: UnsignedRuntimeUsageEvent): Uint8Array {
  if (typeof event !== 'object' || event === null) {
    throw new EnablementError('MT-400', 'invalid RuntimeUsageEvent: (root): expected an object');
  }
  const wire = encodeRuntimeUsageEvent({ ...event, signature: PLACEHOLDER_SIGNATURE } as RuntimeUsageEvent);
  return wireSigningBytes(USAGE_EVENT_SIGNING_DOMAIN, wire as unknown as Record<string, unknown>);
}
