import type {
  AgentKeyPair,
  AttributeValue,
  ConsensusTimestamp,
  EnablementError,
  JsonValue,
  Notification,
  NotificationReceipt,
  Platform,
  Policy,
  PrincipalKind,
  UnifiedAuditEvent,
} from '@creto/core';
import type { Enablement, EnablementOptions } from '@creto/enablement';
import type { MessageEnvelopeWire } from '@creto/messaging';
import type { Metering, StoredUsageEvent } from '@creto/metering';
import type { OversightEngine, OversightTransitionEvent, SubmitResponseResult } from '@creto/oversight';
import type { DeterministicProviderOptions, Runtime } from '@creto/runtime';
import type { FakeClock } from '../fake-clock/index.js';

/** Options of `createTestEnvironment`. Every one is optional. */
export interface TestEnvironmentOptions {
  /**
   * Where every key comes from: 32 bytes, or text hashed to 32 bytes. Default `DEFAULT_TEST_SEED`,
   * so service identities and agents (`env.agent(name)`) have the same NHIs in every run.
   */
  readonly seed?: Uint8Array | string;
  /** The clock; default a new `FakeClock` starting at `start`. */
  readonly clock?: FakeClock;
  /** Start of a new clock (Unix ns); default `DEFAULT_FAKE_CLOCK_START` (2026-01-01T00:00:00Z). */
  readonly start?: ConsensusTimestamp;
  /** The host's authorization policies; default `DEFAULT_TEST_POLICIES`. */
  readonly policies?: readonly Policy[];
  /** Options of the deterministic inference provider (scripted replies, seed); it serves `deterministic-*`. */
  readonly inference?: Omit<DeterministicProviderOptions, 'clock'>;
  /**
   * Anything else for `createEnablement` (stores, bus, runtime / metering / oversight settings,
   * logger, …). `clock`, `seed`, `policies` and `onNotification` come from the environment; a
   * given `stores.metering` is wrapped so ingested usage is observed; `runtime.inference`
   * replaces the deterministic router.
   */
  readonly enablement?: Omit<EnablementOptions, 'clock' | 'seed' | 'policies' | 'onNotification'>;
  /** Most agents `env.agent` creates (`PL-500` beyond: a test that leaks names); default 1000. */
  readonly maxAgents?: number;
  /** Most entries each recorder keeps (usage, transitions, notifications, messages per agent); oldest dropped; default 10 000. */
  readonly maxRecorded?: number;
  /** Fake time per step of `waitForEvent` / `waitForMessage`, ms; default 100. */
  readonly stepMs?: number;
}

/** Attributes of a test agent, registered with it in NHI (authz conditions and approver eligibility read them). */
export interface TestAgentOptions {
  /** Principal kind; default `agent`. The same name always has the same kind. */
  readonly kind?: PrincipalKind;
  /** Roles, e.g. `cfo`. */
  readonly roles?: readonly string[];
  /** Groups, e.g. `finance`. */
  readonly groups?: readonly string[];
  /** Other attributes. */
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/**
 * Where `waitForEvent` looks:
 * - `usage`: usage events Metering has ingested (stored, after signature check and deduplication);
 *   the event type is the usage event's (`sandbox_allocated`, `inference_call`, …) and the
 *   properties are Metering's stored text values (`cpu_millicores: "1000"`).
 * - `oversight`: Oversight state transitions; the event type is the new state (`PENDING`,
 *   `APPROVED`, …, case-insensitive) and the properties the transition record.
 * - `audit`: audit log events; the event type is the `action` (`sandbox.spawn`) or the typed
 *   kind (`SandboxSpawned`), the properties the event's `metadata`.
 */
export type TestEventSource = 'usage' | 'oversight' | 'audit';

/** One observed event, whatever its source. */
export interface TestEvent {
  /** Position in the environment's event order (per source). */
  readonly seq: number;
  /** Where it was observed. */
  readonly source: TestEventSource;
  /** Product that produced it (`runtime` for usage, `oversight` for transitions, the audit event's product). */
  readonly product: string;
  /** Its type (see {@link TestEventSource}). */
  readonly eventType: string;
  /** The agent it is about, when there is one. */
  readonly agentNhi: string | undefined;
  /** Its properties (see {@link TestEventSource}). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** When it was observed (consensus or clock time, Unix ns). */
  readonly at: ConsensusTimestamp;
  /** The underlying record. */
  readonly raw: StoredUsageEvent | OversightTransitionEvent | UnifiedAuditEvent;
}

/** What `waitForEvent` waits for. */
export interface WaitForEventOptions {
  /**
   * `metering` (usage ingested by Metering), `oversight` (transitions), `audit` (any audit event),
   * or another product name (`runtime`, `messaging`, `platform`): that product's audit events —
   * except `runtime` with a usage event type (`sandbox_allocated` …), which means the usage event.
   */
  readonly product: string;
  /** The event type (see {@link TestEventSource}). */
  readonly eventType: string;
  /** Fake time to wait at most, ms; default 5000. Rejects exactly when the clock has advanced this much. */
  readonly timeoutMs?: number;
  /** Only events about this agent (a test agent name or an NHI). */
  readonly agent?: string;
  /** A further condition. */
  readonly where?: (event: TestEvent) => boolean;
  /** Overrides the source `product` implies. */
  readonly source?: TestEventSource;
}

/** A notification the layer routed (approval request, quota warning, invoice). */
export interface RecordedNotification {
  /** The notification. */
  readonly notification: Notification;
  /** Its receipt, when it was accepted. */
  readonly receipt: NotificationReceipt | undefined;
  /** Why it was refused, when it was. */
  readonly error: EnablementError | undefined;
  /** When (fake clock, Unix ns). */
  readonly at: ConsensusTimestamp;
}

/** A message a connected test agent received, decrypted, with what the relay saw of it. */
export interface TestMessage {
  /** Envelope message id. */
  readonly messageId: string;
  /** Sender NHI. */
  readonly sender: string;
  /** The sender's test agent name, when it is one (else `undefined`; the notification bot is `bot`). */
  readonly senderName: string | undefined;
  /** Recipient NHI. */
  readonly recipient: string;
  /** Decrypted payload. */
  readonly payload: Uint8Array;
  /** The payload as UTF-8 text (`undefined` when not UTF-8). */
  readonly text: string | undefined;
  /** The payload parsed as JSON (`undefined` when not JSON). */
  readonly json: JsonValue | undefined;
  /** For a notification from the layer: the decoded `Notification` (subject, body, data). */
  readonly notification: Notification | undefined;
  /** `handshake` (first message of a session) or `message` (Double Ratchet). */
  readonly envelopeKind: 'handshake' | 'message';
  /** Key agreement of the session: `PQXDH`, `X3DH` (fallback), or `undefined` when unknown. */
  readonly protocol: 'PQXDH' | 'X3DH' | undefined;
  /** The envelope as the relay delivered it (wire JSON: only ciphertext, never the plaintext). */
  readonly envelope: MessageEnvelopeWire;
  /** Bytes of ciphertext the relay carried. */
  readonly ciphertextBytes: number;
  /** True when the plaintext appears in what the relay saw (the ciphertext bytes or the envelope JSON): a leak. */
  readonly relaySawPlaintext: boolean;
  /** Sender's timestamp (Unix ns). */
  readonly sentAt: bigint;
}

/** What `waitForMessage` waits for. */
export interface WaitForMessageOptions {
  /** Fake time to wait at most, ms; default 5000. */
  readonly timeoutMs?: number;
  /** Only a message whose text contains this. */
  readonly contains?: string;
  /** A further condition. */
  readonly where?: (message: TestMessage) => boolean;
}

/** What `expectAuditEvent` looks for: every given field must match. */
export interface AuditEventMatch {
  /** Product. */
  readonly product?: string;
  /** Action, e.g. `sandbox.spawn`. */
  readonly action?: string;
  /** Typed kind in the metadata, e.g. `SandboxSpawned`. */
  readonly kind?: string;
  /** The principal: a test agent name or an NHI. */
  readonly agent?: string;
  /** Outcome (`success`, `denied`, …). */
  readonly outcome?: string;
  /** Resource URI, or a prefix ending in `*`. */
  readonly resource?: string;
  /** Metadata fields that must be equal (deep equality of JSON). */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** Options of `approveAs` / `denyAs`. */
export interface ApprovalOptions {
  /** The approver's reason. */
  readonly reason?: string;
  /** "Approve with edits" (`approveAs` only; the request's rules must allow edits). */
  readonly editedParameters?: JsonValue;
}

/**
 * The whole layer (`createEnablement`) in one process on a `FakeClock`, with deterministic keys,
 * recorders and helpers for tests (see `createTestEnvironment`).
 */
export interface TestEnvironment {
  /** The layer. */
  readonly enablement: Enablement;
  /** The fake clock every product runs on. */
  readonly clock: FakeClock;
  /** The seed every key comes from (a copy). */
  readonly seed: Uint8Array;
  /** Shortcut: `enablement.platform`. */
  readonly platform: Platform;
  /** Shortcut: `enablement.runtime`. */
  readonly runtime: Runtime;
  /** Shortcut: `enablement.metering`. */
  readonly metering: Metering;
  /** Shortcut: `enablement.oversight`. */
  readonly oversight: OversightEngine;
  /**
   * The test agent `name`, registered in NHI (post-quantum keys derived from the seed and the
   * name: the same name is the same key in every run). Given attributes are registered, or
   * update a registered agent. `PL-500` beyond `maxAgents` names.
   */
  agent(name: string, options?: TestAgentOptions): Promise<AgentKeyPair>;
  /** The NHI of the test agent `name` (derived; registered or not). */
  nhiOf(name: string): string;
  /** The test agent name of an NHI, if it is one (`bot` for the notification bot). */
  nameOf(nhi: string): string | undefined;
  /**
   * The subscription of the agent `name` (created on first use on the test plan `test-plan`,
   * billed to the agent itself), so Metering attributes its usage. Returns the subscription id.
   */
  subscribe(name: string): Promise<string>;
  /** Replaces the host policies (the layer's system policies stay). */
  setPolicies(policies: readonly Policy[]): void;
  /** Adds host policies after the current ones (an id in use is replaced). */
  addPolicies(...policies: Policy[]): void;
  /** The host policies now. */
  policies(): readonly Policy[];
  /** Moves fake time forward by `ms` (firing every timer on the way), then settles. */
  advance(ms: number): Promise<void>;
  /**
   * Runs everything that is due without moving time: usage to Metering, notifications, messages,
   * timers at the current instant. `PL-500` when the layer keeps scheduling work at the same instant.
   */
  settle(): Promise<void>;
  /**
   * Resolves with the first matching event not returned by an earlier `waitForEvent` (events
   * observed before the call count). Between checks it advances the fake clock in steps of
   * `stepMs`; it rejects with a `ScenarioAssertionError` exactly when `timeoutMs` of fake time
   * have passed, listing what was seen.
   */
  waitForEvent(options: WaitForEventOptions): Promise<TestEvent>;
  /** Usage events Metering ingested so far, oldest first. */
  usageEvents(): readonly StoredUsageEvent[];
  /** Oversight transitions so far, oldest first. */
  transitions(): readonly OversightTransitionEvent[];
  /**
   * The first audit event matching `match`; rejects with a `ScenarioAssertionError` whose message
   * shows the match and how the closest events differ.
   */
  expectAuditEvent(match: AuditEventMatch): Promise<UnifiedAuditEvent>;
  /** Signs an `APPROVE` with the test agent `approver`'s key, submits it, settles. */
  approveAs(approver: string, requestId: string, options?: ApprovalOptions): Promise<SubmitResponseResult>;
  /** Signs a `DENY` with the test agent `approver`'s key, submits it, settles. */
  denyAs(
    approver: string,
    requestId: string,
    options?: Omit<ApprovalOptions, 'editedParameters'>,
  ): Promise<SubmitResponseResult>;
  /**
   * The messages the test agent `name` received, decrypted (oldest first). The first call connects
   * the agent to the relay (publishing its prekeys); messages queued for it are then delivered.
   */
  messagesFor(name: string): Promise<readonly TestMessage[]>;
  /**
   * Resolves with the first message to `name` not returned by an earlier `waitForMessage`,
   * advancing fake time in steps (connects the agent first). Rejects exactly at `timeoutMs`.
   */
  waitForMessage(name: string, options?: WaitForMessageOptions): Promise<TestMessage>;
  /** Every notification the layer routed, in order (delivered, queued or refused). */
  notifications(): readonly RecordedNotification[];
  /** Every message any connected test agent received, in arrival order. */
  messages(): readonly TestMessage[];
  /** Closes connected agents, then `enablement.shutdown()`. Idempotent. */
  shutdown(): Promise<void>;
}
