import {
  AgentKeyPair,
  type AuditLog,
  CHANNEL_TYPES,
  type ChannelType,
  type Clock,
  type ConsensusClient,
  clockSchema,
  type EnablementMetrics,
  type EventBus,
  type IdempotencyStore,
  type Logger,
  type MemoryClient,
  type NhiClient,
  type Notifier,
  type Resource,
  type Scheduler,
} from '@creto/core';
import { z } from 'zod';
import { type OversightRules, rulesPatchSchema } from '../policy/index.js';
import type { OversightStore } from '../store/index.js';

/** The slice of the NHI service the engine uses (spec §3.1). */
export type OversightNhi = Pick<
  NhiClient,
  'lookup' | 'validateSignature' | 'validateHybridSignature' | 'validateDelegationChain' | 'isRevoked'
>;

/** Where audit events go: core's audit log, or a buffering sink in front of it. */
export type OversightAuditSink = Pick<AuditLog, 'append'>;

/** Default {@link OversightOptions.maxOpenRequests}. */
export const DEFAULT_MAX_OPEN_REQUESTS = 100_000;
/** Default {@link OversightOptions.maxWaiters}. */
export const DEFAULT_MAX_WAITERS = 10_000;
/** Default {@link OversightOptions.maxListeners}. */
export const DEFAULT_MAX_LISTENERS = 64;
/** Default {@link OversightOptions.reasoningLimit} (spec §7.2: the agent's recent reasoning). */
export const DEFAULT_REASONING_LIMIT = 10;
/** Default {@link OversightOptions.memoryTimeoutMs}. */
export const DEFAULT_MEMORY_TIMEOUT_MS = 2000;
/** Default {@link OversightOptions.maxResponseSkewMs}: 5 minutes. */
export const DEFAULT_MAX_RESPONSE_SKEW_MS = 300_000;
/** Default {@link OversightOptions.approvalLinkBase}. */
export const DEFAULT_APPROVAL_LINK_BASE = 'http://localhost/oversight/requests';
/** Default {@link OversightOptions.channelType}. */
export const DEFAULT_CHANNEL_TYPE: ChannelType = 'slack';
/** Most per-policy rule overrides. */
export const MAX_POLICY_RULES = 1024;

/** Options of `createOversight`. Validated with zod; a bad one throws `PL-400` naming it. */
export interface OversightOptions {
  /** NHI service: agents, approvers' keys and roles, delegation chains. */
  readonly nhi: OversightNhi;
  /**
   * The Oversight service identity (`AgentKeyPair` of kind `service`, registered in NHI): signs
   * override tokens. List its NHI in the authz engine's `overrideTokenIssuers`.
   */
  readonly serviceKey: AgentKeyPair;
  /** Time for deadlines and tokens; default the system clock (tests pass `FakeClock`). */
  readonly clock?: Clock;
  /**
   * Deadline scheduler on `clock`. Default: the engine's own, sized for `maxOpenRequests` plus
   * `maxWaiters` timers. A shared one (e.g. the platform's) must have room for them.
   */
  readonly scheduler?: Scheduler;
  /** Consensus time for transitions and records (spec §3.5); default `clock.now()`. */
  readonly consensus?: Pick<ConsensusClient, 'getTimestamp'>;
  /**
   * Where requests live; default a new in-memory store. Pass the same store to a restarted
   * engine. Several engines may share one: with the store's `watch` they wake each other's
   * waiters and share deadlines; `maxOpenRequests` then bounds the open requests of the whole
   * store that this engine follows.
   */
  readonly store?: OversightStore;
  /**
   * Deduplication of `createRequest` (spec §9.2, 24 h); default an in-memory store on `clock`
   * sized for `maxOpenRequests`. Pass the same one to a restarted engine.
   */
  readonly idempotencyStore?: IdempotencyStore;
  /** Notifies approvers (messaging, webhook, log notifiers); none when absent. */
  readonly notifier?: Notifier;
  /** Also publishes each `OversightNotification` on `oversight.notifications.{channel}` (spec §5.2). */
  readonly eventBus?: Pick<EventBus, 'publish'>;
  /** Channel named in notifications and the bus subject; default `slack`. */
  readonly channelType?: ChannelType;
  /** Audit log for `RequestCreated`, `ResponseReceived`, `StateTransition` and rejected responses. */
  readonly audit?: OversightAuditSink;
  /** Agent memory for reasoning context (spec §3.6); absent means degraded mode (`OV-503`). */
  readonly memory?: Pick<MemoryClient, 'fetchReasoningContext'>;
  /** Structured logger; silent by default. */
  readonly logger?: Logger;
  /** Metric instruments; `createEnablementMetrics()` (global meter) by default. */
  readonly metrics?: EnablementMetrics;
  /**
   * Base of the approval link in notifications: `{requestId}` in it is replaced by the id,
   * otherwise `/<id>` is appended. Absolute http(s) URL; default {@link DEFAULT_APPROVAL_LINK_BASE}.
   */
  readonly approvalLinkBase?: string;
  /**
   * The authz resource URI of a request's resource, which the override token binds. Default
   * `<resourceType>:<resourceId>` (e.g. `payments:account:ops` for type `payments`, id
   * `account:ops`; `tool:transfer` for a Runtime tool).
   */
  readonly resourceUri?: (resource: Resource) => string;
  /** Default decision rules (see `OversightRules`). */
  readonly rules?: Partial<OversightRules>;
  /** Rules per policy id, over the defaults (at most 1024 policies). */
  readonly policies?: Readonly<Record<string, Partial<OversightRules>>>;
  /** Refuse delegation names without the signed chain (`PL-403`); default `false`. */
  readonly requireSignedDelegation?: boolean;
  /** Reasoning records fetched per request (0–100, default 10); 0 skips memory. */
  readonly reasoningLimit?: number;
  /** How long to wait for memory before going on without reasoning (ms, default 2000). */
  readonly memoryTimeoutMs?: number;
  /** How far a response's `respondedAt` may be ahead of the clock, or before the request (ms, default 5 min). */
  readonly maxResponseSkewMs?: number;
  /** Most open requests (each holds a timer); beyond it `createRequest` is `PL-503`. Default 100 000. */
  readonly maxOpenRequests?: number;
  /** Most concurrent `awaitApproval` calls; beyond it `PL-503`. Default 10 000. */
  readonly maxWaiters?: number;
  /** Most transition listeners; beyond it `PL-409`. Default 64. */
  readonly maxListeners?: number;
  /**
   * Told about failures off the caller's path (audit append, notifier, bus, listener, a deadline
   * that could not be processed). They never undo a committed change. Logged when absent.
   */
  readonly onError?: (
    error: unknown,
    context: { readonly operation: string; readonly requestId?: string },
  ) => void;
}

const methods = <T>(names: readonly string[], what: string) =>
  z.custom<T>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function'),
    { error: `expected ${what} (${names.join(', ')})` },
  );

const fn = <T>() => z.custom<T>((value) => typeof value === 'function', { error: 'expected a function' });

/** The options schema of `createOversight`. */
export const oversightOptionsSchema = z.strictObject({
  nhi: methods<OversightNhi>(
    ['lookup', 'validateSignature', 'validateHybridSignature', 'validateDelegationChain', 'isRevoked'],
    'an NHI client',
  ),
  serviceKey: z
    .custom<AgentKeyPair>((value) => value instanceof AgentKeyPair, { error: 'expected an AgentKeyPair' })
    .refine((key) => key.identity.kind === 'service', { error: "expected a key pair of kind 'service'" }),
  clock: clockSchema.optional(),
  scheduler: methods<Scheduler>(['schedule', 'scheduleAfter'], 'a Scheduler').optional(),
  consensus: methods<Pick<ConsensusClient, 'getTimestamp'>>(['getTimestamp'], 'a ConsensusClient').optional(),
  store: methods<OversightStore>(
    ['create', 'get', 'commit', 'list', 'listOpen'],
    'an OversightStore',
  ).optional(),
  idempotencyStore: methods<IdempotencyStore>(['begin', 'complete'], 'an IdempotencyStore').optional(),
  notifier: methods<Notifier>(['notify'], 'a Notifier').optional(),
  eventBus: methods<Pick<EventBus, 'publish'>>(['publish'], 'an EventBus').optional(),
  channelType: z.enum(CHANNEL_TYPES).optional(),
  audit: methods<OversightAuditSink>(['append'], 'an audit sink').optional(),
  memory: methods<Pick<MemoryClient, 'fetchReasoningContext'>>(
    ['fetchReasoningContext'],
    'a MemoryClient',
  ).optional(),
  logger: methods<Logger>(['debug', 'info', 'warn', 'error', 'child'], 'a Logger').optional(),
  metrics: z
    .custom<EnablementMetrics>((value) => typeof value === 'object' && value !== null, {
      error: 'expected EnablementMetrics',
    })
    .optional(),
  approvalLinkBase: z
    .string()
    .max(1024)
    .regex(/^https?:\/\/[\x21-\x7E]+$/, { error: 'expected an absolute http(s) URL' })
    .refine((text) => URL.canParse(text.replace('{requestId}', 'x')), {
      error: 'expected an absolute http(s) URL',
    })
    .optional(),
  resourceUri: fn<(resource: Resource) => string>().optional(),
  rules: rulesPatchSchema.optional(),
  policies: z
    .record(z.string().min(1).max(256), rulesPatchSchema)
    .refine((record) => Object.keys(record).length <= MAX_POLICY_RULES, {
      error: `at most ${MAX_POLICY_RULES} policies`,
    })
    .optional(),
  requireSignedDelegation: z.boolean().optional(),
  reasoningLimit: z.number().int().min(0).max(100).optional(),
  memoryTimeoutMs: z.number().int().min(1).max(60_000).optional(),
  maxResponseSkewMs: z.number().int().min(0).max(86_400_000).optional(),
  maxOpenRequests: z.number().int().min(1).max(10_000_000).optional(),
  maxWaiters: z.number().int().min(1).max(1_000_000).optional(),
  maxListeners: z.number().int().min(1).max(1024).optional(),
  onError: fn<NonNullable<OversightOptions['onError']>>().optional(),
});
