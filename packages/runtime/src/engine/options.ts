import {
  AgentKeyPair,
  type AuthzClient,
  type Clock,
  type ConsensusClient,
  clockSchema,
  EnablementError,
  type EnablementMetrics,
  type IdempotencyStore,
  type Logger,
  type MemoryClient,
  type NhiClient,
  type OversightClient,
  type Platform,
  parseOptions,
  type QuotaClient,
  RUNTIME_CLASS_PATTERN,
  type Scheduler,
  type UnifiedAuditEvent,
  type UsageSink,
} from '@creto/core';
import { z } from 'zod';
import type { SandboxDriver } from '../driver/types.js';
import { DEFAULT_EGRESS_LIMITS, type EgressLimits, type FetchFunction } from '../egress/fetch.js';
import type { InferenceRouter } from '../inference/types.js';
import type { ToolArguments, ToolDefinition } from '../tools/registry.js';
import { DEFAULT_MAX_PENDING_USAGE_EVENTS } from '../usage/outbox.js';
import type { PendingApproval } from './types.js';

/**
 * The NHI calls the runtime makes (spec §3.1): sandbox binding, and validation of a spawn's
 * delegation chain (spec §6.2; NHI records the links, so Metering can later verify them). The core
 * registry implements them.
 */
export type RuntimeNhi = Pick<NhiClient, 'bindIdentity' | 'validateDelegationChain'> &
  Partial<Pick<NhiClient, 'unbindIdentity' | 'onRevocation'>>;

/** Where the runtime appends audit events: the core audit log, or a buffering audit sink. */
export interface RuntimeAudit {
  /** Appends one event (or keeps it to append later). */
  append(event: UnifiedAuditEvent): Promise<unknown>;
}

/** The platform services `createPlatform` builds, as the runtime uses them. */
export type RuntimePlatform = Pick<
  Platform,
  'nhi' | 'authz' | 'audit' | 'consensus' | 'memory' | 'scheduler' | 'clock'
>;

/** Limits of a runtime; every one has a default (see {@link DEFAULT_RUNTIME_LIMITS}). */
export interface RuntimeLimits {
  /** Most live sandboxes (`RT-413` beyond). */
  readonly maxSandboxes: number;
  /** Most live sandboxes per agent (`RT-413` beyond). */
  readonly maxSandboxesPerAgent: number;
  /** Largest `cpuMillicores` a spec may ask for (`RT-413` beyond). */
  readonly maxCpuMillicores: number;
  /** Largest `memoryBytes` a spec may ask for (`RT-413` beyond). */
  readonly maxMemoryBytes: bigint;
  /** Sandbox lifetime when the spec gives none, ms. */
  readonly defaultTimeoutMs: number;
  /** Longest sandbox lifetime, ms (`RT-413` beyond). */
  readonly maxTimeoutMs: number;
  /** Exec limit when the spec gives none, ms. */
  readonly defaultExecTimeoutMs: number;
  /** Longest exec limit, ms (`RT-413` beyond). Execs that may wait for approval need more than `approvalWaitMs`. */
  readonly maxExecTimeoutMs: number;
  /** Bytes of stdout (and of stderr) kept per exec. */
  readonly maxOutputBytes: number;
  /** Executions waiting in one sandbox's queue, the running one included (`RT-413` beyond). */
  readonly maxQueuedExecs: number;
  /** Largest `code` (spawn and exec), UTF-16 code units (`RT-413` beyond). */
  readonly maxCodeLength: number;
  /** Default tool handler time limit, ms (`RT-408` beyond). */
  readonly toolTimeoutMs: number;
  /** How long a call waits for an Oversight decision before failing with `RT-202`, ms (the request stays pending). */
  readonly approvalWaitMs: number;
  /** Most pending approvals at once (`RT-503` beyond). */
  readonly maxPendingApprovals: number;
  /** Usage events waiting for the sink (`RT-503` for new metered work beyond). */
  readonly maxPendingUsageEvents: number;
  /** Bounds of one egress request. */
  readonly egress: EgressLimits;
}

/** Default {@link RuntimeLimits}. */
export const DEFAULT_RUNTIME_LIMITS: RuntimeLimits = Object.freeze({
  maxSandboxes: 1000,
  maxSandboxesPerAgent: 100,
  maxCpuMillicores: 64_000,
  maxMemoryBytes: 64n * 1024n * 1024n * 1024n,
  defaultTimeoutMs: 3_600_000,
  maxTimeoutMs: 86_400_000,
  defaultExecTimeoutMs: 30_000,
  maxExecTimeoutMs: 3_600_000,
  maxOutputBytes: 1024 * 1024,
  maxQueuedExecs: 16,
  maxCodeLength: 1024 * 1024,
  toolTimeoutMs: 30_000,
  approvalWaitMs: 300_000,
  maxPendingApprovals: 10_000,
  maxPendingUsageEvents: DEFAULT_MAX_PENDING_USAGE_EVENTS,
  egress: DEFAULT_EGRESS_LIMITS,
});

/** Options of `createRuntime`; validated, a bad one throws `PL-400` naming it. */
export interface RuntimeOptions {
  /**
   * The platform services (`createPlatform(...)`): NHI, authz, audit, consensus, memory, scheduler
   * and clock. Each can be given (or overridden) on its own below.
   */
  readonly platform?: RuntimePlatform;
  /** NHI registry: sandbox binding and chain validation (spec §3.1); required unless `platform` is given. */
  readonly nhi?: RuntimeNhi;
  /** Authorization: the core `PolicyEngine` or any `AuthzClient`; required unless `platform` is given. */
  readonly authz?: Pick<AuthzClient, 'check'>;
  /** Audit log or buffering audit sink; required unless `platform` is given. */
  readonly audit?: RuntimeAudit;
  /** Consensus timestamps for usage and audit events; required unless `platform` is given. */
  readonly consensus?: Pick<ConsensusClient, 'getTimestamp'>;
  /** Agent memory, where checkpoints are stored (spec §3.6); `checkpoint` fails without it. */
  readonly memory?: Pick<MemoryClient, 'storeCheckpoint'>;
  /** Time (reaper, waits); default the platform's, else the system clock. */
  readonly clock?: Clock;
  /** Deadlines; default the platform's, else one built on `clock` (and disposed by `close`). */
  readonly scheduler?: Scheduler;
  /** Quota checks before spawning (`sandbox_allocated`) and inference (`inference_call`). */
  readonly quota?: QuotaClient;
  /** Human approval for `requires_oversight` decisions (spec §4.2); without it they are `RT-403`. */
  readonly oversight?: OversightClient;
  /**
   * Where signed usage events go (e.g. `createBusUsageSink`). Without one they wait in the
   * bounded outbox until `drainUsageEvents` (pass `{ publish: async () => {} }` to discard).
   */
  readonly usage?: UsageSink;
  /** The host's service identity: signs attestations (hybrid, so it needs `{ postQuantum: true }`). */
  readonly hostKey: AgentKeyPair;
  /** Drivers by runtime class; default `{ quickjs: createQuickJsDriver() }`. */
  readonly drivers?: Readonly<Record<string, SandboxDriver>>;
  /**
   * Runtime class aliases: `{ gvisor: 'quickjs' }` means "the class `gvisor` is served by the
   * `quickjs` driver here". Authz, usage events and the attestation name the requested class;
   * the attestation also names the driver.
   */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Tools registered at construction. */
  readonly tools?: readonly ToolDefinition<ToolArguments>[];
  /** Inference router (`createInferenceRouter`); `inference` fails with `RT-503` without it. */
  readonly inference?: InferenceRouter;
  /** The `fetch` egress goes through; default `globalThis.fetch`. */
  readonly fetch?: FetchFunction;
  /** Where spawn idempotency records live (spec §9.2); default an in-memory store. */
  readonly idempotencyStore?: IdempotencyStore;
  /** Structured logs; silent by default. */
  readonly logger?: Logger;
  /** Metric instruments; default `createEnablementMetrics()`. */
  readonly metrics?: Pick<EnablementMetrics, 'runtimeSandboxSpawnDuration' | 'runtimeEgressBytes'>;
  /** Limits (each defaults to {@link DEFAULT_RUNTIME_LIMITS}). */
  readonly limits?: Partial<Omit<RuntimeLimits, 'egress'>> & { readonly egress?: Partial<EgressLimits> };
  /** Check quota `inference_call` before each inference when `quota` is given (default true). */
  readonly checkInferenceQuota?: boolean;
  /** Told each time an action starts waiting for approval (`RT-202`); errors it throws are logged. */
  readonly onApprovalPending?: (pending: PendingApproval) => void;
}

const hasMethods =
  (...names: string[]) =>
  (value: unknown): boolean =>
    typeof value === 'object' &&
    value !== null &&
    names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');

const port = <T>(what: string, ...methods: string[]) =>
  z.custom<T>(hasMethods(...methods), { error: `expected ${what} (with ${methods.join(', ')})` });

const ms = (max: number) => z.number().int().min(1).max(max);

const limitsSchema = z
  .strictObject({
    maxSandboxes: z.number().int().min(1).max(1_000_000),
    maxSandboxesPerAgent: z.number().int().min(1).max(1_000_000),
    maxCpuMillicores: z.number().int().min(1).max(4_294_967_295),
    maxMemoryBytes: z.bigint().min(1n).max(BigInt(Number.MAX_SAFE_INTEGER)),
    defaultTimeoutMs: ms(30 * 86_400_000),
    maxTimeoutMs: ms(30 * 86_400_000),
    defaultExecTimeoutMs: ms(30 * 86_400_000),
    maxExecTimeoutMs: ms(30 * 86_400_000),
    maxOutputBytes: z
      .number()
      .int()
      .min(1)
      .max(256 * 1024 * 1024),
    maxQueuedExecs: z.number().int().min(1).max(10_000),
    maxCodeLength: z
      .number()
      .int()
      .min(1)
      .max(64 * 1024 * 1024),
    toolTimeoutMs: ms(86_400_000),
    approvalWaitMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000),
    maxPendingApprovals: z.number().int().min(1).max(1_000_000),
    maxPendingUsageEvents: z.number().int().min(1).max(10_000_000),
    egress: z
      .strictObject({
        timeoutMs: ms(3_600_000),
        maxRequestBodyBytes: z
          .number()
          .int()
          .min(0)
          .max(1024 * 1024 * 1024),
        maxResponseBodyBytes: z
          .number()
          .int()
          .min(0)
          .max(1024 * 1024 * 1024),
      })
      .partial(),
  })
  .partial();

const optionsSchema = z.strictObject({
  platform: z
    .custom<RuntimePlatform>((v) => typeof v === 'object' && v !== null && 'nhi' in v && 'authz' in v, {
      error: 'expected a platform (createPlatform)',
    })
    .optional(),
  nhi: port<RuntimeNhi>('an NHI client', 'bindIdentity', 'validateDelegationChain').optional(),
  authz: port<Pick<AuthzClient, 'check'>>('an authz client', 'check').optional(),
  audit: port<RuntimeAudit>('an audit log or sink', 'append').optional(),
  consensus: port<Pick<ConsensusClient, 'getTimestamp'>>('a consensus client', 'getTimestamp').optional(),
  memory: port<Pick<MemoryClient, 'storeCheckpoint'>>('a memory client', 'storeCheckpoint').optional(),
  clock: clockSchema.optional(),
  scheduler: port<Scheduler>('a Scheduler', 'schedule', 'scheduleAfter', 'dispose').optional(),
  quota: port<QuotaClient>('a QuotaClient', 'checkQuota').optional(),
  oversight: port<OversightClient>('an OversightClient', 'createRequest', 'awaitApproval').optional(),
  usage: port<UsageSink>('a UsageSink', 'publish').optional(),
  hostKey: z.custom<AgentKeyPair>((v) => v instanceof AgentKeyPair, { error: 'expected an AgentKeyPair' }),
  drivers: z
    .record(
      z.string().regex(RUNTIME_CLASS_PATTERN, { error: 'expected a runtime class token' }),
      port<SandboxDriver>('a SandboxDriver', 'create'),
    )
    .optional(),
  aliases: z
    .record(
      z.string().regex(RUNTIME_CLASS_PATTERN, { error: 'expected a runtime class token' }),
      z.string().regex(RUNTIME_CLASS_PATTERN, { error: 'expected a runtime class token' }),
    )
    .optional(),
  tools: z
    .array(z.custom<ToolDefinition<ToolArguments>>((v) => typeof v === 'object' && v !== null))
    .optional(),
  inference: port<InferenceRouter>('an InferenceRouter', 'complete').optional(),
  fetch: z.custom<FetchFunction>((v) => typeof v === 'function', { error: 'expected a function' }).optional(),
  idempotencyStore: port<IdempotencyStore>('an IdempotencyStore', 'begin', 'complete').optional(),
  logger: port<Logger>('a Logger', 'debug', 'info', 'warn', 'error', 'child').optional(),
  metrics: z
    .custom<Pick<EnablementMetrics, 'runtimeSandboxSpawnDuration' | 'runtimeEgressBytes'>>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        hasMethods('record')((v as Record<string, unknown>).runtimeSandboxSpawnDuration) &&
        hasMethods('add')((v as Record<string, unknown>).runtimeEgressBytes),
      { error: 'expected runtimeSandboxSpawnDuration and runtimeEgressBytes instruments' },
    )
    .optional(),
  limits: limitsSchema.optional(),
  checkInferenceQuota: z.boolean().optional(),
  onApprovalPending: z
    .custom<(pending: PendingApproval) => void>((v) => typeof v === 'function', {
      error: 'expected a function',
    })
    .optional(),
});

/** Options after validation, with the platform's services filled in. */
export interface ResolvedRuntimeOptions extends Omit<RuntimeOptions, 'limits'> {
  /** NHI. */
  readonly nhi: RuntimeNhi;
  /** Authz. */
  readonly authz: Pick<AuthzClient, 'check'>;
  /** Audit. */
  readonly audit: RuntimeAudit;
  /** Consensus. */
  readonly consensus: Pick<ConsensusClient, 'getTimestamp'>;
  /** Limits with defaults applied. */
  readonly limits: RuntimeLimits;
}

/** Validates `createRuntime` options (`PL-400` naming the option) and applies defaults. */
export function resolveRuntimeOptions(options: RuntimeOptions): ResolvedRuntimeOptions {
  const parsed = parseOptions(optionsSchema, options, 'createRuntime') as RuntimeOptions;
  const { platform } = parsed;
  const required = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) {
      throw new EnablementError(
        'PL-400',
        `invalid createRuntime options: ${name}: required (or give platform)`,
      );
    }
    return value;
  };
  if (!parsed.hostKey.postQuantum) {
    throw new EnablementError(
      'PL-400',
      'invalid createRuntime options: hostKey: needs an ML-DSA-65 key (attestations are hybrid-signed); create it with { postQuantum: true }',
    );
  }
  const given = parsed.limits ?? {};
  const limits: RuntimeLimits = Object.freeze({
    ...DEFAULT_RUNTIME_LIMITS,
    ...given,
    egress: Object.freeze({ ...DEFAULT_RUNTIME_LIMITS.egress, ...given.egress }),
  });
  const order: [keyof RuntimeLimits, keyof RuntimeLimits][] = [
    ['defaultTimeoutMs', 'maxTimeoutMs'],
    ['defaultExecTimeoutMs', 'maxExecTimeoutMs'],
    ['maxSandboxesPerAgent', 'maxSandboxes'],
  ];
  for (const [small, large] of order) {
    if ((limits[small] as number) > (limits[large] as number)) {
      throw new EnablementError(
        'PL-400',
        `invalid createRuntime options: limits.${small}: must not exceed limits.${large}`,
      );
    }
  }
  for (const [alias, target] of Object.entries(parsed.aliases ?? {})) {
    if (parsed.aliases?.[target] !== undefined) {
      throw new EnablementError(
        'PL-400',
        `invalid createRuntime options: aliases.${alias}: target ${target} is itself an alias (aliases are one step)`,
      );
    }
  }
  const memory = parsed.memory ?? platform?.memory;
  const clock = parsed.clock ?? platform?.clock;
  const scheduler = parsed.scheduler ?? platform?.scheduler;
  return {
    ...parsed,
    nhi: required(parsed.nhi ?? platform?.nhi, 'nhi'),
    authz: required(parsed.authz ?? platform?.authz, 'authz'),
    audit: required(parsed.audit ?? platform?.audit, 'audit'),
    consensus: required(parsed.consensus ?? platform?.consensus, 'consensus'),
    ...(memory === undefined ? {} : { memory }),
    ...(clock === undefined ? {} : { clock }),
    ...(scheduler === undefined ? {} : { scheduler }),
    limits,
  };
}
