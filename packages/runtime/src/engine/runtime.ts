import {
  AgentIdentity,
  AuditEvents,
  type AuthzDecision,
  assertBoundedJson,
  type CancelTimer,
  type CheckpointRef,
  canonicalBytes,
  createAuditEvent,
  createEnablementMetrics,
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  createScheduler,
  Decimal,
  type DelegationChain,
  EnablementError,
  type JsonValue,
  millisToNanos,
  NANOS_PER_SECOND,
  newSandboxId,
  newUuid,
  nobleCryptoProvider,
  noopLogger,
  type RiskFactor,
  type RuntimeEventProperties,
  type RuntimeUsageEvent,
  type SandboxId,
  SPAN_NAMES,
  secondsBetween,
  systemClock,
  TRACE_ATTRIBUTES,
  type UnifiedAuditEvent,
  type UnsignedRuntimeUsageEvent,
  type UsageEventType,
  withSpan,
} from '@creto/core';
import {
  decodeAttestation,
  encodeAttestation,
  type SandboxAttestation,
  type SandboxAttestationWire,
  signAttestation,
} from '../attestation/attestation.js';
import type {
  DriverExecRequest,
  DriverExecResult,
  DriverSandbox,
  EgressRequest,
  EgressResponse,
  SandboxCapabilities,
  SandboxDriver,
} from '../driver/types.js';
import { createQuickJsDriver } from '../drivers/index.js';
import { egressRequestBodyBytes, parseEgressTarget, performEgress } from '../egress/fetch.js';
import { isIpHost, networkPolicyAllows } from '../egress/hosts.js';
import type { InferenceCallOptions, InferenceRequest, InferenceResult } from '../inference/types.js';
import {
  createToolRegistry,
  parseToolArguments,
  type ToolArguments,
  type ToolDefinition,
  toolAction,
} from '../tools/registry.js';
import { createUsageOutbox, type UsageSlot } from '../usage/outbox.js';
import { signUsageEvent } from '../usage/signer.js';
import { createApprovalGate, type GuardedCall } from './approval.js';
import { type RuntimeOptions, resolveRuntimeOptions } from './options.js';
import { type NormalizedSpec, normalizeSpec } from './spec.js';
import type {
  ExecRequest,
  ExecResult,
  ExecutionHandle,
  ExecutionState,
  PendingApproval,
  Runtime,
  SandboxFilter,
  SandboxHandle,
  SandboxSpec,
  SandboxState,
  TerminationResult,
} from './types.js';

/** Bounds of a tool's JSON result: 1 MiB canonical, depth 32, 100 000 values. */
export const TOOL_RESULT_BOUNDS = Object.freeze({ maxBytes: 1024 * 1024, maxDepth: 32, maxNodes: 100_000 });
/** Most arguments of one exec. */
export const MAX_EXEC_ARGS = 1024;
/** Longest single exec argument. */
export const MAX_EXEC_ARG_LENGTH = 32 * 1024;
/** Largest exec stdin, bytes. */
export const MAX_EXEC_STDIN_BYTES = 10 * 1024 * 1024;
/** Longest termination reason. */
export const MAX_TERMINATION_REASON_LENGTH = 256;

interface ExecutionRecord {
  readonly id: string;
  state: ExecutionState;
  pending: PendingApproval | undefined;
  waitingApprovals: number;
  readonly abort: AbortController;
}

interface SandboxRecord {
  readonly sandboxId: SandboxId;
  readonly spec: NormalizedSpec;
  readonly driverName: string;
  readonly abort: AbortController;
  driverSandbox: DriverSandbox | undefined;
  attestation: SandboxAttestation | undefined;
  createdAt: bigint;
  expiresAt: bigint;
  state: SandboxState;
  reaper: CancelTimer | undefined;
  tail: Promise<void>;
  queued: number;
  current: ExecutionRecord | undefined;
  egressSeq: number;
  inferenceSeq: number;
  terminating: Promise<TerminationResult> | undefined;
  handle: SandboxHandle | undefined;
}

const noop = (): void => undefined;

function sha256Hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of nobleCryptoProvider.sha256(bytes)) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** Keeps `RT-` errors; anything else from a driver becomes `RT-500` (its text stays out of the message). */
function driverFailure(error: unknown, what: string): EnablementError {
  if (EnablementError.is(error) && error.code.startsWith('RT-')) return error;
  return new EnablementError('RT-500', `${what}: the sandbox driver failed`, { cause: error });
}

/**
 * Builds the Runtime engine (ARCHITECTURE §6 Runtime): sandboxes bound to an agent identity,
 * spawned after authz (`sandbox.spawn`) and quota (`sandbox_allocated`) checks, with a host-signed
 * attestation; sandbox code reaches the world only through capabilities that ask authz first
 * (`network.egress` on `network:<host>`, each tool's own action), with `requires_oversight` turned
 * into an Oversight request and `RT-202`; usage events signed by the agent and delivered to the
 * usage sink. Options are validated (`PL-400` naming the option).
 *
 * @example
 * ```ts
 * const platform = createPlatform();
 * const runtime = createRuntime({ platform, hostKey, usage: createBusUsageSink({ publisher }) });
 * const sandbox = await runtime.spawnSandbox({ agent, runtimeClass: 'quickjs' });
 * const { value } = await sandbox.exec({ code: 'return 6 * 7' });
 * await sandbox.terminate('done');
 * ```
 */
export function createRuntime(options: RuntimeOptions): Runtime {
  const o = resolveRuntimeOptions(options);
  const { limits } = o;
  const clock = o.clock ?? systemClock;
  const ownScheduler = o.scheduler === undefined;
  const scheduler = o.scheduler ?? createScheduler({ clock });
  const logger = (o.logger ?? noopLogger).child({ product: 'runtime' });
  const metrics = o.metrics ?? createEnablementMetrics();
  const fetchFn = o.fetch ?? ((input: string, init: RequestInit) => globalThis.fetch(input, init));
  const hostIdentity = o.hostKey.identity;

  const drivers = new Map<string, SandboxDriver>();
  const ownDrivers: SandboxDriver[] = [];
  if (o.drivers === undefined) {
    const quickjs = createQuickJsDriver();
    drivers.set('quickjs', quickjs);
    ownDrivers.push(quickjs);
  } else {
    for (const [name, driver] of Object.entries(o.drivers)) drivers.set(name, driver);
  }
  const aliases = new Map(Object.entries(o.aliases ?? {}));
  for (const [alias, target] of aliases) {
    if (!drivers.has(target)) {
      throw new EnablementError(
        'PL-400',
        `invalid createRuntime options: aliases.${alias}: no driver for ${target}`,
      );
    }
  }

  const tools = createToolRegistry();
  (o.tools ?? []).forEach((tool, i) => {
    try {
      tools.register(tool);
    } catch (error) {
      throw new EnablementError(
        'PL-400',
        `invalid createRuntime options: tools[${i}]: ${(error as Error).message}`,
      );
    }
  });

  const outbox = createUsageOutbox({
    sink: o.usage,
    scheduler,
    logger,
    maxPending: limits.maxPendingUsageEvents,
  });
  const idempotency = createIdempotencyGuard({
    store: o.idempotencyStore ?? createMemoryIdempotencyStore({ clock }),
    clock,
  });
  const gate = createApprovalGate({
    authz: o.authz,
    oversight: o.oversight,
    clock,
    scheduler,
    logger,
    approvalWaitMs: limits.approvalWaitMs,
    maxPending: limits.maxPendingApprovals,
    onApprovalPending: o.onApprovalPending,
  });

  const records = new Map<SandboxId, SandboxRecord>();
  const perAgent = new Map<string, number>();
  let pendingSpawns = 0;
  let spawned = 0;
  let terminated = 0;
  let auditFailures = 0;
  let usageSigningFailures = 0;
  let closed = false;

  const stopRevocations = o.nhi.onRevocation?.((event) => {
    if (event.ref.kind !== 'principal') return;
    const nhi = event.ref.nhi;
    for (const record of records.values()) {
      if (record.spec.agent.nhi === nhi && record.state === 'running') {
        terminate(record.sandboxId, 'agent_revoked').catch((error: unknown) =>
          logger.error('terminating a revoked agent sandbox failed', { sandbox_id: record.sandboxId, error }),
        );
      }
    }
  });

  // ------------------------------------------------------------------ helpers

  function countAgent(nhi: string, delta: number): void {
    const next = (perAgent.get(nhi) ?? 0) + delta;
    if (next <= 0) perAgent.delete(nhi);
    else perAgent.set(nhi, next);
  }

  function lookup(sandboxId: string): SandboxRecord {
    const record = typeof sandboxId === 'string' ? records.get(sandboxId as SandboxId) : undefined;
    if (record === undefined || record.handle === undefined) {
      const shown = typeof sandboxId === 'string' ? sandboxId.slice(0, 140) : typeof sandboxId;
      throw new EnablementError('RT-404', `sandbox ${shown} not found`);
    }
    return record;
  }

  function live(sandboxId: string): SandboxRecord {
    const record = lookup(sandboxId);
    if (record.state !== 'running') {
      throw new EnablementError('RT-404', `sandbox ${record.sandboxId} is ${record.state}`);
    }
    return record;
  }

  function ensureRunning(record: SandboxRecord): void {
    if (record.state !== 'running') {
      throw new EnablementError('RT-404', `sandbox ${record.sandboxId} is ${record.state}`);
    }
  }

  async function audit(operation: string, build: (timestamp: bigint) => UnifiedAuditEvent): Promise<void> {
    try {
      const timestamp = await o.consensus.getTimestamp();
      await o.audit.append(build(timestamp));
    } catch (error) {
      // Audit is a soft dependency (spec §2.3): a host that must not lose events passes a buffering sink.
      auditFailures++;
      logger.error('audit append failed', { operation, error });
    }
  }

  /**
   * Signs a usage event as the sandbox's agent and hands it to the outbox. When it cannot be
   * produced, `critical` events fail the operation (spawn); others are logged with their content
   * (the usage already happened) and counted.
   */
  async function emitUsage(
    record: SandboxRecord,
    slot: UsageSlot | undefined,
    eventType: UsageEventType,
    properties: RuntimeEventProperties,
    idempotencyKey: string,
    critical: boolean,
  ): Promise<void> {
    try {
      const unsigned = {
        eventId: newUuid(),
        agentNhi: record.spec.agent.nhi,
        delegationChain: [...record.spec.chainNames],
        eventType,
        consensusTimestamp: await o.consensus.getTimestamp(),
        idempotencyKey,
        properties,
      } as UnsignedRuntimeUsageEvent;
      const event: RuntimeUsageEvent = await signUsageEvent(
        unsigned,
        record.spec.signer,
        record.spec.verifyWith,
      );
      if (slot === undefined) outbox.pushUnbounded(event);
      else slot.commit(event);
    } catch (error) {
      slot?.release();
      usageSigningFailures++;
      logger.error('usage event could not be produced', {
        operation: 'usage_event',
        agentNhi: record.spec.agent.nhi,
        sandbox_id: record.sandboxId,
        event_type: eventType,
        idempotency_key: idempotencyKey,
        properties: JSON.stringify(properties, (_k, v: unknown) =>
          typeof v === 'bigint' ? v.toString() : v,
        ),
        error,
      });
      if (critical) {
        throw EnablementError.is(error) && error.code.startsWith('RT-')
          ? error
          : new EnablementError('RT-500', `${eventType} usage event could not be produced`, { cause: error });
      }
    }
  }

  /** Usage events being signed in the background (bounded by the outbox slots they hold). */
  const emitting = new Set<Promise<void>>();

  function inBackground(emission: Promise<void>): void {
    emitting.add(emission);
    const done = () => {
      emitting.delete(emission);
    };
    emission.then(done, done);
  }

  async function settleEmissions(): Promise<void> {
    while (emitting.size > 0) await Promise.allSettled([...emitting]);
  }

  async function checkQuota(agentNhi: string, eventType: string, what: string): Promise<void> {
    const { quota } = o;
    if (quota === undefined) return;
    let decision: Awaited<ReturnType<typeof quota.checkQuota>>;
    try {
      decision = await quota.checkQuota({ agent: agentNhi, eventType, amount: Decimal.from(1n) });
    } catch (error) {
      throw new EnablementError('RT-503', `Cannot ${what}: the quota check is unavailable`, {
        cause: error,
        retryable: true,
      });
    }
    if (decision.decision === 'block') {
      // Spec §8.2: RT-429 caused by Metering's MT-429, with its retry hint and trace id.
      const cause = decision.error;
      throw new EnablementError('RT-429', `Cannot ${what}: quota exceeded`, {
        ...(cause === undefined ? {} : { cause }),
        ...(cause?.retryAfterMs === undefined ? {} : { retryAfterMs: cause.retryAfterMs }),
        ...(cause?.traceId === undefined ? {} : { traceId: cause.traceId }),
      });
    }
    if (decision.decision === 'allow_with_notification') {
      logger.info('quota threshold crossed', {
        operation: what,
        agentNhi,
        event_type: eventType,
        reason: decision.reason,
      });
    }
  }

  function resolveDriver(runtimeClass: string): { driver: SandboxDriver; driverName: string } {
    const driverName = aliases.get(runtimeClass) ?? runtimeClass;
    const driver = drivers.get(driverName);
    if (driver === undefined) {
      const known = [...drivers.keys(), ...aliases.keys()].sort().join(', ');
      throw new EnablementError(
        'RT-400',
        `runtimeClass: no driver serves ${runtimeClass} here (known: ${known})`,
      );
    }
    return { driver, driverName };
  }

  function combine(...signals: (AbortSignal | undefined)[]): AbortSignal {
    const list = signals.filter((s): s is AbortSignal => s !== undefined);
    return list.length === 1 ? (list[0] as AbortSignal) : AbortSignal.any(list);
  }

  /** Runs `fn` after the sandbox's earlier work (executions and checkpoints run one at a time). */
  function enqueue<T>(record: SandboxRecord, fn: () => Promise<T>): Promise<T> {
    if (record.queued >= limits.maxQueuedExecs) {
      throw new EnablementError(
        'RT-413',
        `sandbox ${record.sandboxId} already has ${limits.maxQueuedExecs} executions queued`,
      );
    }
    record.queued++;
    const run = record.tail.then(async () => {
      ensureRunning(record);
      return fn();
    });
    record.tail = run.then(noop, noop);
    return run.finally(() => {
      record.queued--;
    });
  }

  function newExecution(): ExecutionRecord {
    return {
      id: newUuid(),
      state: 'running',
      pending: undefined,
      waitingApprovals: 0,
      abort: new AbortController(),
    };
  }

  function setPending(exec: ExecutionRecord | undefined, pending: PendingApproval | undefined): void {
    if (exec === undefined || exec.state === 'completed' || exec.state === 'failed') return;
    if (pending !== undefined) {
      exec.waitingApprovals++;
      exec.pending = pending;
      exec.state = 'pending_approval';
    } else {
      exec.waitingApprovals = Math.max(0, exec.waitingApprovals - 1);
      if (exec.waitingApprovals === 0) {
        exec.pending = undefined;
        exec.state = 'running';
      }
    }
  }

  function executionHandle<T>(
    sandboxId: SandboxId,
    exec: ExecutionRecord,
    run: Promise<T>,
  ): ExecutionHandle<T> {
    const result = run.then(
      (value) => {
        exec.state = 'completed';
        exec.pending = undefined;
        return value;
      },
      (error: unknown) => {
        exec.state = 'failed';
        exec.pending = undefined;
        throw error;
      },
    );
    // Marks the promise handled: a caller that never reads `result` must not crash the host.
    result.catch(noop);
    return Object.freeze({
      id: exec.id,
      sandboxId,
      get state(): ExecutionState {
        return exec.state;
      },
      get pendingApproval(): PendingApproval | undefined {
        return exec.pending;
      },
      result,
      cancel(): void {
        exec.abort.abort(new EnablementError('RT-404', `execution ${exec.id} was cancelled`));
      },
    });
  }

  // ------------------------------------------------------------------ capabilities

  async function egress(
    record: SandboxRecord,
    request: EgressRequest,
    exec: ExecutionRecord | undefined,
  ): Promise<EgressResponse> {
    ensureRunning(record);
    const target = parseEgressTarget(request);
    const requestBytes = egressRequestBodyBytes(request, limits.egress);
    const { sandboxId } = record;
    const agentNhi = record.spec.agent.nhi;
    return withSpan(
      SPAN_NAMES.runtimeNetworkEgress,
      { [TRACE_ATTRIBUTES.runtimeSandboxId]: sandboxId, [TRACE_ATTRIBUTES.runtimeAgentNhi]: agentNhi },
      async () => {
        const auditDecision = (decision: AuthzDecision['decision']) =>
          audit('network_egress', (timestamp) =>
            AuditEvents.egressAttempt(
              { sandboxId, agentNhi, destination: target.host, decision },
              { timestamp },
            ),
          );
        const lists = networkPolicyAllows(record.spec.network, target.host);
        if (!lists.allowed) {
          await auditDecision('deny');
          throw new EnablementError(
            'RT-403',
            `network.egress on network:${target.host} denied: ${lists.reason}`,
          );
        }
        // Each decision is audited as it is made (a wait for approval can be long).
        const audits: Promise<void>[] = [];
        const call: GuardedCall = {
          principal: agentNhi,
          action: 'network.egress',
          resource: `network:${target.host}`,
          context: { method: target.method, url: target.url, port: target.port, sandbox_id: sandboxId },
          delegationChain: record.spec.delegationChain,
          chainNames: record.spec.chainNames,
          sandboxId,
          executionId: exec?.id,
          description: `HTTP ${target.method} to ${target.host}:${target.port} from sandbox ${sandboxId}`,
          riskFactors: [],
          allowEdits: false,
          signal: combine(record.abort.signal, exec?.abort.signal),
          onDecision: (decision) => {
            audits.push(auditDecision(decision));
          },
          onPending: (pending) => setPending(exec, pending),
        };
        try {
          await gate.authorize(call);
        } finally {
          await Promise.all(audits);
        }
        ensureRunning(record);
        const slot = outbox.reserve();
        let response: EgressResponse;
        try {
          response = await performEgress(fetchFn, target, request, limits.egress, scheduler);
        } catch (error) {
          slot.release();
          throw error;
        }
        const bytes = requestBytes + response.body.length;
        metrics.runtimeEgressBytes.add(bytes, { destination_type: isIpHost(target.host) ? 'ip' : 'domain' });
        // Signed off the request path (ML-DSA-65 signing takes milliseconds); the reserved slot
        // keeps the outbox bound, and `flushUsage` / `close` wait for it.
        inBackground(
          emitUsage(
            record,
            slot,
            'network_egress',
            { type: 'NetworkEgress', sandboxId, destination: target.host, bytesTransferred: BigInt(bytes) },
            `${sandboxId}:egress:${++record.egressSeq}`,
            false,
          ),
        );
        return response;
      },
    );
  }

  function toolResource(tool: ToolDefinition, args: ToolArguments): string {
    if (tool.resource === undefined) return `tool:${tool.name}`;
    let resource: unknown;
    try {
      resource = tool.resource(args);
    } catch (cause) {
      throw new EnablementError('RT-400', `tool ${tool.name}: resource() failed for these arguments`, {
        cause,
      });
    }
    if (typeof resource !== 'string' || resource.length === 0 || resource.length > 1024) {
      throw new EnablementError('RT-400', `tool ${tool.name}: resource() must return 1-1024 characters`);
    }
    return resource;
  }

  function toolExtras(
    tool: ToolDefinition,
    args: ToolArguments,
  ): { description: string; risk: RiskFactor[] } {
    let description = `${tool.description} (${tool.name})`;
    let risk: RiskFactor[] = [];
    try {
      if (tool.describe !== undefined) description = String(tool.describe(args)).slice(0, 4096);
      if (tool.riskFactors !== undefined) risk = [...tool.riskFactors(args)].slice(0, 32);
    } catch (error) {
      logger.warn('tool describe/riskFactors failed; using defaults', { tool: tool.name, error });
    }
    return { description: description.length > 0 ? description : tool.name, risk };
  }

  async function runHandler(
    tool: ToolDefinition,
    args: ToolArguments,
    context: Omit<Parameters<ToolDefinition['handler']>[1], 'signal'>,
    signals: AbortSignal[],
  ): Promise<JsonValue> {
    const timeoutMs = tool.timeoutMs ?? limits.toolTimeoutMs;
    const controller = new AbortController();
    const timer = scheduler.scheduleAfter(timeoutMs, () =>
      controller.abort(new EnablementError('RT-408', `tool ${tool.name} timed out after ${timeoutMs} ms`)),
    );
    const signal = AbortSignal.any([controller.signal, ...signals]);
    try {
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      aborted.catch(noop);
      const value = await Promise.race([
        Promise.resolve().then(() => tool.handler(args, { ...context, signal })),
        aborted,
      ]);
      try {
        assertBoundedJson(value, TOOL_RESULT_BOUNDS);
      } catch (cause) {
        throw new EnablementError('RT-500', `tool ${tool.name} returned a value that is not bounded JSON`, {
          cause,
        });
      }
      return value;
    } catch (error) {
      if (EnablementError.is(error)) throw error;
      // A handler's own error text may hold host details; only its kind crosses into the sandbox.
      throw new EnablementError('RT-500', `tool ${tool.name} failed`, { cause: error });
    } finally {
      timer();
    }
  }

  async function toolCall(
    record: SandboxRecord,
    name: string,
    rawArgs: unknown,
    exec: ExecutionRecord | undefined,
  ): Promise<JsonValue> {
    ensureRunning(record);
    const tool = tools.get(name);
    const args = parseToolArguments(tool, rawArgs);
    const action = toolAction(tool);
    const resource = toolResource(tool, args);
    const { sandboxId } = record;
    const agentNhi = record.spec.agent.nhi;
    return withSpan(
      SPAN_NAMES.runtimeToolCall,
      {
        [TRACE_ATTRIBUTES.runtimeSandboxId]: sandboxId,
        [TRACE_ATTRIBUTES.runtimeAgentNhi]: agentNhi,
        tool: tool.name,
      },
      async () => {
        const decisions: AuthzDecision['decision'][] = [];
        let requestId: string | undefined;
        const { description, risk } = toolExtras(tool, args);
        const auditCall = (
          outcome: UnifiedAuditEvent['outcome'],
          finalResource: string,
          requestId?: string,
        ) =>
          audit('tool_call', (timestamp) =>
            createAuditEvent({
              product: 'runtime',
              agentNhi,
              action,
              resource: finalResource,
              outcome,
              timestamp,
              metadata: {
                kind: 'ToolCall',
                sandbox_id: sandboxId,
                tool: tool.name,
                decisions,
                arguments_sha256: sha256Hex(canonicalBytes(args)),
                ...(requestId === undefined ? {} : { oversight_request_id: requestId }),
              },
            }),
          );
        let auth: Awaited<ReturnType<typeof gate.authorize>>;
        try {
          auth = await gate.authorize({
            principal: agentNhi,
            action,
            resource,
            context: args,
            delegationChain: record.spec.delegationChain,
            chainNames: record.spec.chainNames,
            sandboxId,
            executionId: exec?.id,
            description,
            riskFactors: risk,
            allowEdits: true,
            // An approver's edit is input like any other: it must satisfy the schema before authz
            // sees it again. The handler then receives exactly the approved arguments (the token
            // binds them), not the schema's transformation of them.
            validateApproved: (approved) => {
              if (!tool.schema.safeParse(approved).success) {
                throw new EnablementError(
                  'RT-400',
                  `tool ${tool.name}: the approved arguments do not match its schema`,
                );
              }
            },
            resourceFor: (edited) => toolResource(tool, edited),
            signal: combine(record.abort.signal, exec?.abort.signal),
            onDecision: (decision) => decisions.push(decision),
            onPending: (pending) => {
              if (pending !== undefined) requestId = pending.requestId;
              setPending(exec, pending);
            },
          });
        } catch (error) {
          const code = EnablementError.is(error) ? error.code : 'RT-500';
          await auditCall(
            code === 'RT-403' ? 'denied' : code === 'RT-202' ? 'pending' : 'failure',
            resource,
            requestId,
          );
          throw error;
        }
        ensureRunning(record);
        try {
          const value = await runHandler(
            tool,
            auth.context,
            {
              sandboxId,
              agentNhi,
              delegationChain: record.spec.delegationChain,
              ...(auth.oversightRequestId === undefined
                ? {}
                : { oversightRequestId: auth.oversightRequestId }),
              ...(auth.overrideTokenId === undefined ? {} : { overrideTokenId: auth.overrideTokenId }),
            },
            exec === undefined ? [record.abort.signal] : [record.abort.signal, exec.abort.signal],
          );
          await auditCall('success', auth.resource, auth.oversightRequestId);
          return value;
        } catch (error) {
          await auditCall('failure', auth.resource, auth.oversightRequestId);
          throw error;
        }
      },
    );
  }

  function capabilitiesOf(record: SandboxRecord): SandboxCapabilities {
    return Object.freeze({
      fetch: (request: EgressRequest) => egress(record, request, record.current),
      callTool: (name: string, args: JsonValue) => toolCall(record, name, args, record.current),
    });
  }

  // ------------------------------------------------------------------ handles

  function makeHandle(record: SandboxRecord, attestation: SandboxAttestation): SandboxHandle {
    const { sandboxId, spec } = record;
    const handle: SandboxHandle = Object.freeze({
      sandboxId,
      agentNhi: spec.agent.nhi,
      runtimeClass: spec.runtimeClass,
      driver: record.driverName,
      get state(): SandboxState {
        return record.state;
      },
      cpuMillicores: spec.cpuMillicores,
      memoryBytes: spec.memoryBytes,
      timeoutMs: spec.timeoutMs,
      execTimeoutMs: spec.execTimeoutMs,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      labels: spec.labels,
      network: spec.network.normalized,
      specHash: spec.specHash,
      attestation,
      exec: (request: ExecRequest) => runtime.exec(sandboxId, request),
      startExec: (request: ExecRequest) => runtime.startExec(sandboxId, request),
      callTool: (name: string, args: JsonValue) => runtime.callTool(sandboxId, name, args),
      fetch: (request: EgressRequest) => runtime.fetch(sandboxId, request),
      inference: (request: InferenceRequest, opts?: InferenceCallOptions) =>
        runtime.inference(sandboxId, request, opts),
      checkpoint: () => runtime.checkpoint(sandboxId),
      terminate: (reason?: string) => runtime.terminate(sandboxId, reason),
    });
    return handle;
  }

  // ------------------------------------------------------------------ spawn

  interface StoredSpawn {
    sandbox_id: string;
    attestation: SandboxAttestationWire;
  }

  /**
   * Validates a spawn's delegation chain through NHI (signatures, validity, attenuation,
   * revocation, registered root). A chain NHI refuses is `RT-403`, as a denied one is elsewhere;
   * NHI failing to answer is a retryable `RT-503`.
   */
  async function validateChain(agentNhi: string, chain: DelegationChain): Promise<void> {
    try {
      await o.nhi.validateDelegationChain(chain);
    } catch (error) {
      const code = EnablementError.is(error) ? error.code : '';
      if (code === 'PL-401' || code === 'PL-403' || code === 'PL-404' || code === 'PL-410') {
        throw new EnablementError('RT-403', `delegation chain of ${agentNhi} refused by NHI (${code})`, {
          cause: error,
        });
      }
      if (code === 'PL-400') {
        throw new EnablementError('RT-400', 'delegationChain: refused by NHI as malformed', { cause: error });
      }
      throw new EnablementError('RT-503', 'validating the delegation chain failed', {
        cause: error,
        retryable: true,
      });
    }
  }

  async function doSpawn(
    spec: NormalizedSpec,
    driver: SandboxDriver,
    driverName: string,
    start: bigint,
  ): Promise<StoredSpawn> {
    const agentNhi = spec.agent.nhi;
    if (closed) throw new EnablementError('RT-503', 'the runtime is closed', { retryable: false });
    if (records.size + pendingSpawns >= limits.maxSandboxes) {
      throw new EnablementError(
        'RT-413',
        `the runtime holds the maximum of ${limits.maxSandboxes} sandboxes`,
      );
    }
    if ((perAgent.get(agentNhi) ?? 0) >= limits.maxSandboxesPerAgent) {
      throw new EnablementError(
        'RT-413',
        `agent ${agentNhi} holds the maximum of ${limits.maxSandboxesPerAgent} sandboxes`,
      );
    }
    pendingSpawns++;
    countAgent(agentNhi, 1);
    let slot: UsageSlot | undefined;
    let bound = false;
    let record: SandboxRecord | undefined;
    let registered = false;
    try {
      const resource = `runtime:sandbox:${spec.runtimeClass}`;
      try {
        // Spec §6.2: the chain is validated by NHI (which records its links, so Metering can verify
        // the agent's delegation pair by pair when it attributes usage), before authz uses it.
        if (spec.delegationChain !== undefined) await validateChain(agentNhi, spec.delegationChain);
        await gate.authorize({
          principal: agentNhi,
          action: 'sandbox.spawn',
          resource,
          context: {
            cpu_millicores: spec.cpuMillicores,
            memory_bytes: Number(spec.memoryBytes),
            runtime_class: spec.runtimeClass,
          },
          delegationChain: spec.delegationChain,
          chainNames: spec.chainNames,
          sandboxId: undefined,
          executionId: undefined,
          description: `Spawn a ${spec.runtimeClass} sandbox (${spec.cpuMillicores} millicores, ${spec.memoryBytes} bytes of memory)`,
          riskFactors: [],
          allowEdits: false,
        });
      } catch (error) {
        if (EnablementError.is(error) && error.code === 'RT-403') {
          await audit('spawn_sandbox', (timestamp) =>
            createAuditEvent({
              product: 'runtime',
              agentNhi,
              action: 'sandbox.spawn',
              resource,
              outcome: 'denied',
              timestamp,
              metadata: { runtime_class: spec.runtimeClass, spec_hash: spec.specHash },
            }),
          );
        }
        throw error;
      }
      await checkQuota(agentNhi, 'sandbox_allocated', 'spawn sandbox');
      slot = outbox.reserve();
      const sandboxId = newSandboxId();
      try {
        await o.nhi.bindIdentity(sandboxId, spec.agent);
      } catch (error) {
        const code = EnablementError.is(error) ? error.code : '';
        if (code === 'PL-404' || code === 'PL-410' || code === 'PL-403') {
          throw new EnablementError('RT-403', `agent ${agentNhi} cannot be bound to a sandbox (${code})`, {
            cause: error,
          });
        }
        throw new EnablementError('RT-503', 'binding the sandbox identity failed', {
          cause: error,
          retryable: true,
        });
      }
      bound = true;
      const fresh: SandboxRecord = {
        sandboxId,
        spec,
        driverName,
        abort: new AbortController(),
        driverSandbox: undefined,
        attestation: undefined,
        createdAt: 0n,
        expiresAt: 0n,
        state: 'running',
        reaper: undefined,
        tail: Promise.resolve(),
        queued: 0,
        current: undefined,
        egressSeq: 0,
        inferenceSeq: 0,
        terminating: undefined,
        handle: undefined,
      };
      record = fresh;
      try {
        fresh.driverSandbox = await driver.create({
          sandboxId,
          agentNhi,
          limits: {
            memoryBytes: spec.memoryBytes,
            cpuMillicores: spec.cpuMillicores,
            execTimeoutMs: spec.execTimeoutMs,
            maxOutputBytes: limits.maxOutputBytes,
          },
          env: spec.env,
          capabilities: capabilitiesOf(fresh),
        });
      } catch (error) {
        throw driverFailure(error, `creating sandbox ${sandboxId}`);
      }
      if (spec.code !== undefined) {
        const exec = newExecution();
        fresh.current = exec;
        let result: DriverExecResult;
        try {
          result = await fresh.driverSandbox.exec({
            code: spec.code,
            timeoutMs: spec.execTimeoutMs,
            signal: fresh.abort.signal,
          });
        } catch (error) {
          throw driverFailure(error, `running the start-up code of ${sandboxId}`);
        } finally {
          fresh.current = undefined;
        }
        if (result.outcome !== 'ok') {
          throw new EnablementError(
            'RT-400',
            `code: the start-up code ended with ${result.outcome}${result.errorCode ? ` (${result.errorCode})` : ''}${result.error ? `: ${result.error.slice(0, 512)}` : ''}`,
          );
        }
      }
      const issuedAt = await o.consensus.getTimestamp();
      const attestation = signAttestation(
        {
          sandboxId,
          specHash: spec.specHash,
          runtimeClass: spec.runtimeClass,
          driver: driverName,
          agentNhi,
          imageOrCodeHash: spec.imageOrCodeHash,
          issuedAt,
        },
        o.hostKey,
      );
      fresh.attestation = attestation;
      fresh.createdAt = clock.now();
      fresh.expiresAt = fresh.createdAt + millisToNanos(spec.timeoutMs);
      try {
        fresh.reaper = scheduler.schedule(fresh.expiresAt, () => {
          fresh.reaper = undefined;
          terminate(sandboxId, 'timeout').catch((error: unknown) =>
            logger.error('reaping an expired sandbox failed', { sandbox_id: sandboxId, error }),
          );
        });
      } catch (error) {
        throw new EnablementError('RT-503', 'cannot schedule the sandbox reaper', {
          cause: error,
          retryable: true,
        });
      }
      if (closed)
        throw new EnablementError('RT-503', 'the runtime was closed during the spawn', { retryable: false });
      await emitUsage(
        fresh,
        slot,
        'sandbox_allocated',
        {
          type: 'SandboxAllocated',
          sandboxId,
          runtimeClass: spec.runtimeClass,
          cpuMillicores: spec.cpuMillicores,
          memoryBytes: spec.memoryBytes,
          durationSeconds: 0n,
        },
        `${sandboxId}:allocated`,
        true,
      );
      slot = undefined;
      fresh.handle = makeHandle(fresh, attestation);
      records.set(sandboxId, fresh);
      registered = true;
      spawned++;
      const wire = encodeAttestation(attestation);
      await audit('spawn_sandbox', (timestamp) =>
        AuditEvents.sandboxSpawned(
          { sandboxId, agentNhi, attestationHash: nobleCryptoProvider.sha256(canonicalBytes(wire)) },
          { timestamp },
        ),
      );
      metrics.runtimeSandboxSpawnDuration.record(secondsBetween(start, clock.now()), {
        runtime_class: spec.runtimeClass,
      });
      logger.info('sandbox spawned', {
        operation: 'spawn_sandbox',
        agentNhi,
        sandbox_id: sandboxId,
        runtime_class: spec.runtimeClass,
        driver: driverName,
      });
      return { sandbox_id: sandboxId, attestation: wire };
    } catch (error) {
      slot?.release();
      if (record !== undefined && !registered) {
        record.state = 'terminated';
        record.reaper?.();
        record.abort.abort(new EnablementError('RT-404', `sandbox ${record.sandboxId} failed to start`));
        const failed = record;
        try {
          await failed.driverSandbox?.dispose();
        } catch (e) {
          logger.error('disposing a sandbox that failed to start failed', {
            sandbox_id: failed.sandboxId,
            error: e,
          });
        }
      }
      if (bound && !registered && record !== undefined) {
        await Promise.resolve(o.nhi.unbindIdentity?.(record.sandboxId)).catch(noop);
      }
      if (!registered) countAgent(agentNhi, -1);
      throw error;
    } finally {
      pendingSpawns--;
    }
  }

  function tombstone(spec: NormalizedSpec, attestation: SandboxAttestation): SandboxHandle {
    const record: SandboxRecord = {
      sandboxId: attestation.sandboxId,
      spec,
      driverName: attestation.driver,
      abort: new AbortController(),
      driverSandbox: undefined,
      attestation,
      createdAt: attestation.issuedAt,
      expiresAt: attestation.issuedAt + millisToNanos(spec.timeoutMs),
      state: 'terminated',
      reaper: undefined,
      tail: Promise.resolve(),
      queued: 0,
      current: undefined,
      egressSeq: 0,
      inferenceSeq: 0,
      terminating: undefined,
      handle: undefined,
    };
    return makeHandle(record, attestation);
  }

  // ------------------------------------------------------------------ terminate

  async function doTerminate(record: SandboxRecord, reason: string): Promise<TerminationResult> {
    const { sandboxId } = record;
    const agentNhi = record.spec.agent.nhi;
    return withSpan(
      SPAN_NAMES.runtimeTerminateSandbox,
      { [TRACE_ATTRIBUTES.runtimeSandboxId]: sandboxId, [TRACE_ATTRIBUTES.runtimeAgentNhi]: agentNhi },
      async () => {
        record.reaper?.();
        record.reaper = undefined;
        record.abort.abort(new EnablementError('RT-404', `sandbox ${sandboxId} was terminated (${reason})`));
        try {
          await record.driverSandbox?.dispose();
        } catch (error) {
          logger.error('driver dispose failed', {
            operation: 'terminate_sandbox',
            sandbox_id: sandboxId,
            error,
          });
        }
        try {
          await o.nhi.unbindIdentity?.(sandboxId);
        } catch (error) {
          logger.warn('NHI unbind failed', { operation: 'terminate_sandbox', sandbox_id: sandboxId, error });
        }
        const terminatedAt = clock.now();
        const elapsed = terminatedAt > record.createdAt ? terminatedAt - record.createdAt : 0n;
        // Whole seconds, rounded up: a sandbox that ran 0.4 s is billed 1 s (per-second billing).
        const durationSeconds = (elapsed + NANOS_PER_SECOND - 1n) / NANOS_PER_SECOND;
        await emitUsage(
          record,
          undefined,
          'sandbox_terminated',
          {
            type: 'SandboxAllocated',
            sandboxId,
            runtimeClass: record.spec.runtimeClass,
            cpuMillicores: record.spec.cpuMillicores,
            memoryBytes: record.spec.memoryBytes,
            durationSeconds,
          },
          `${sandboxId}:terminated`,
          false,
        );
        await audit('terminate_sandbox', (timestamp) =>
          AuditEvents.sandboxTerminated({ sandboxId, agentNhi, reason }, { timestamp }),
        );
        record.state = 'terminated';
        records.delete(sandboxId);
        countAgent(agentNhi, -1);
        terminated++;
        logger.info('sandbox terminated', {
          operation: 'terminate_sandbox',
          agentNhi,
          sandbox_id: sandboxId,
          reason,
          duration_seconds: durationSeconds.toString(),
        });
        return Object.freeze({ sandboxId, reason, durationSeconds, terminatedAt });
      },
    );
  }

  function terminate(sandboxId: string, reason = 'terminated'): Promise<TerminationResult> {
    if (
      typeof reason !== 'string' ||
      reason.length === 0 ||
      reason.length > MAX_TERMINATION_REASON_LENGTH ||
      // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
      /[\u0000-\u001f\u007f]/.test(reason)
    ) {
      return Promise.reject(
        new EnablementError(
          'RT-400',
          `reason: expected 1-${MAX_TERMINATION_REASON_LENGTH} characters without control characters`,
        ),
      );
    }
    let record: SandboxRecord;
    try {
      record = lookup(sandboxId);
    } catch (error) {
      return Promise.reject(error);
    }
    if (record.terminating === undefined) {
      record.state = 'terminating';
      record.terminating = doTerminate(record, reason);
    }
    return record.terminating;
  }

  // ------------------------------------------------------------------ exec

  function validateExec(record: SandboxRecord, request: ExecRequest): Omit<DriverExecRequest, 'signal'> {
    if (typeof request !== 'object' || request === null)
      throw new EnablementError('RT-400', 'exec: expected an object');
    const known = new Set(['code', 'command', 'args', 'stdin', 'timeoutMs']);
    for (const key of Object.keys(request)) {
      if (!known.has(key)) throw new EnablementError('RT-400', `exec.${key}: unknown field`);
    }
    const { code, command, args, stdin, timeoutMs } = request;
    if ((code === undefined) === (command === undefined)) {
      throw new EnablementError('RT-400', 'exec: give exactly one of code and command');
    }
    if (code !== undefined) {
      if (typeof code !== 'string') throw new EnablementError('RT-400', 'exec.code: expected a string');
      if (code.length > limits.maxCodeLength) {
        throw new EnablementError('RT-413', `exec.code: longer than ${limits.maxCodeLength} characters`);
      }
    }
    if (
      command !== undefined &&
      (typeof command !== 'string' || command.length === 0 || command.length > 4096)
    ) {
      throw new EnablementError('RT-400', 'exec.command: expected 1-4096 characters');
    }
    if (args !== undefined) {
      if (!Array.isArray(args) || args.length > MAX_EXEC_ARGS) {
        throw new EnablementError(
          'RT-400',
          `exec.args: expected an array of at most ${MAX_EXEC_ARGS} strings`,
        );
      }
      args.forEach((arg: unknown, i) => {
        if (typeof arg !== 'string' || arg.length > MAX_EXEC_ARG_LENGTH) {
          throw new EnablementError(
            'RT-400',
            `exec.args[${i}]: expected a string of at most ${MAX_EXEC_ARG_LENGTH} characters`,
          );
        }
      });
    }
    let stdinBytes: Uint8Array | undefined;
    if (stdin !== undefined) {
      if (typeof stdin === 'string') stdinBytes = new TextEncoder().encode(stdin);
      else if (stdin instanceof Uint8Array) stdinBytes = stdin;
      else throw new EnablementError('RT-400', 'exec.stdin: expected a string or bytes');
      if (stdinBytes.length > MAX_EXEC_STDIN_BYTES) {
        throw new EnablementError('RT-413', `exec.stdin: more than ${MAX_EXEC_STDIN_BYTES} bytes`);
      }
    }
    const effective = timeoutMs ?? record.spec.execTimeoutMs;
    if (!Number.isSafeInteger(effective) || effective < 1) {
      throw new EnablementError('RT-400', 'exec.timeoutMs: expected a positive integer');
    }
    if (effective > limits.maxExecTimeoutMs) {
      throw new EnablementError(
        'RT-413',
        `exec.timeoutMs: exceeds the runtime's limit of ${limits.maxExecTimeoutMs}`,
      );
    }
    return {
      ...(code === undefined ? {} : { code }),
      ...(command === undefined ? {} : { command }),
      ...(args === undefined ? {} : { args: [...args] }),
      ...(stdinBytes === undefined ? {} : { stdin: stdinBytes }),
      timeoutMs: effective,
    };
  }

  function startExec(sandboxId: string, request: ExecRequest): ExecutionHandle<ExecResult> {
    const record = live(sandboxId);
    const driverRequest = validateExec(record, request);
    const exec = newExecution();
    const run = enqueue(record, () =>
      withSpan(
        SPAN_NAMES.runtimeExecute,
        {
          [TRACE_ATTRIBUTES.runtimeSandboxId]: record.sandboxId,
          [TRACE_ATTRIBUTES.runtimeAgentNhi]: record.spec.agent.nhi,
          [TRACE_ATTRIBUTES.runtimeRuntimeClass]: record.spec.runtimeClass,
        },
        async () => {
          const driverSandbox = record.driverSandbox as DriverSandbox;
          record.current = exec;
          let result: DriverExecResult;
          try {
            result = await driverSandbox.exec({
              ...driverRequest,
              signal: AbortSignal.any([record.abort.signal, exec.abort.signal]),
            });
          } catch (error) {
            throw driverFailure(error, `exec in ${record.sandboxId}`);
          } finally {
            record.current = undefined;
          }
          return Object.freeze({ ...result, executionId: exec.id, sandboxId: record.sandboxId });
        },
      ),
    );
    return executionHandle(record.sandboxId, exec, run);
  }

  function startToolCall(sandboxId: string, name: string, args: JsonValue): ExecutionHandle<JsonValue> {
    const record = live(sandboxId);
    const exec = newExecution();
    return executionHandle(record.sandboxId, exec, toolCall(record, name, args, exec));
  }

  // ------------------------------------------------------------------ the engine

  const runtime: Runtime = {
    hostIdentity,

    async spawnSandbox(spec: SandboxSpec): Promise<SandboxHandle> {
      const start = clock.now();
      const normalized = normalizeSpec(spec, limits);
      const { driver, driverName } = resolveDriver(normalized.runtimeClass);
      return withSpan(
        SPAN_NAMES.runtimeSpawnSandbox,
        {
          [TRACE_ATTRIBUTES.runtimeAgentNhi]: normalized.agent.nhi,
          [TRACE_ATTRIBUTES.runtimeRuntimeClass]: normalized.runtimeClass,
        },
        async (span) => {
          let stored: StoredSpawn;
          try {
            stored = await idempotency.run(
              {
                product: 'runtime',
                operation: 'spawn_sandbox',
                key: `${normalized.agent.nhi}:${normalized.specHash}`,
                parameters: { spec_hash: normalized.specHash },
                // The executor may wait for an approval: its lock must outlast that wait.
                lockTtlMs: limits.approvalWaitMs + 300_000,
              },
              () => doSpawn(normalized, driver, driverName, start),
            );
          } catch (error) {
            if (EnablementError.is(error) && error.code.startsWith('PL-')) {
              throw new EnablementError('RT-503', 'spawn idempotency store failed', { cause: error });
            }
            throw error;
          }
          span.setAttribute(TRACE_ATTRIBUTES.runtimeSandboxId, stored.sandbox_id);
          const record = records.get(stored.sandbox_id as SandboxId);
          if (record?.handle !== undefined && record.spec.agent.nhi === normalized.agent.nhi)
            return record.handle;
          // A duplicate of a spawn whose sandbox has ended since: the same sandbox, now terminated.
          return tombstone(normalized, decodeAttestation(stored.attestation));
        },
      );
    },

    getSandbox(sandboxId: string): SandboxHandle {
      return lookup(sandboxId).handle as SandboxHandle;
    },

    listSandboxes(filter: SandboxFilter = {}): SandboxHandle[] {
      if (typeof filter !== 'object' || filter === null)
        throw new EnablementError('RT-400', 'filter: expected an object');
      const agent = filter.agent instanceof AgentIdentity ? filter.agent.nhi : filter.agent;
      const labels = Object.entries(filter.labels ?? {});
      const out: SandboxHandle[] = [];
      for (const record of records.values()) {
        if (record.handle === undefined) continue;
        if (agent !== undefined && record.spec.agent.nhi !== agent) continue;
        if (labels.some(([k, v]) => record.spec.labels[k] !== v)) continue;
        out.push(record.handle);
      }
      return out;
    },

    async exec(sandboxId: string, request: ExecRequest): Promise<ExecResult> {
      return startExec(sandboxId, request).result;
    },

    startExec,

    async callTool(sandboxId: string, name: string, args: JsonValue): Promise<JsonValue> {
      return toolCall(live(sandboxId), name, args, undefined);
    },

    startToolCall,

    async fetch(sandboxId: string, request: EgressRequest): Promise<EgressResponse> {
      return egress(live(sandboxId), request, undefined);
    },

    async inference(
      sandboxId: string,
      request: InferenceRequest,
      callOptions: InferenceCallOptions = {},
    ): Promise<InferenceResult> {
      const record = live(sandboxId);
      const router = o.inference;
      if (router === undefined) {
        throw new EnablementError('RT-503', 'inference: no inference router is configured', {
          retryable: false,
        });
      }
      const agentNhi = record.spec.agent.nhi;
      return withSpan(
        SPAN_NAMES.runtimeInference,
        {
          [TRACE_ATTRIBUTES.runtimeSandboxId]: record.sandboxId,
          [TRACE_ATTRIBUTES.runtimeAgentNhi]: agentNhi,
        },
        async () => {
          if (o.checkInferenceQuota !== false) await checkQuota(agentNhi, 'inference_call', 'call inference');
          ensureRunning(record);
          const slot = outbox.reserve();
          let result: InferenceResult;
          try {
            result = await router.complete(request, {
              signal: combine(record.abort.signal, callOptions.signal),
              ...(callOptions.timeoutMs === undefined ? {} : { timeoutMs: callOptions.timeoutMs }),
            });
          } catch (error) {
            slot.release();
            throw error;
          }
          inBackground(
            emitUsage(
              record,
              slot,
              'inference_call',
              {
                type: 'InferenceCall',
                sandboxId: record.sandboxId,
                modelId: result.model,
                provider: result.provider,
                inputTokens: result.inputTokens,
                outputTokens: result.outputTokens,
                costUsd: result.costUsd,
              },
              `${record.sandboxId}:inference:${++record.inferenceSeq}`,
              false,
            ),
          );
          return result;
        },
      );
    },

    async checkpoint(sandboxId: string): Promise<CheckpointRef> {
      const record = live(sandboxId);
      const { memory } = o;
      if (memory === undefined) {
        throw new EnablementError('RT-503', 'checkpoint: no memory service is configured', {
          retryable: false,
        });
      }
      return enqueue(record, async () => {
        let bytes: Uint8Array;
        try {
          const snapshot = await (record.driverSandbox as DriverSandbox).checkpoint();
          bytes = canonicalBytes(snapshot);
        } catch (error) {
          throw driverFailure(error, `checkpoint of ${record.sandboxId}`);
        }
        try {
          // Spec §3.6: the sandbox state goes to the agent's memory.
          return await memory.storeCheckpoint(record.spec.agent.nhi, record.sandboxId, bytes);
        } catch (error) {
          const code = EnablementError.is(error) ? error.code : '';
          if (code === 'PL-400' || code === 'PL-409') {
            throw new EnablementError('RT-413', `checkpoint of ${record.sandboxId} does not fit in memory`, {
              cause: error,
            });
          }
          throw new EnablementError('RT-503', 'checkpoint: memory is unavailable', {
            cause: error,
            retryable: true,
          });
        }
      });
    },

    terminate,

    registerTool<A extends ToolArguments>(tool: ToolDefinition<A>): void {
      tools.register(tool);
    },

    unregisterTool(name: string): boolean {
      return tools.unregister(name);
    },

    listTools() {
      return tools.list();
    },

    pendingApprovals(): PendingApproval[] {
      return gate.pending();
    },

    async flushUsage() {
      await settleEmissions();
      return outbox.flush();
    },

    drainUsageEvents(max?: number) {
      return outbox.drain(max);
    },

    stats() {
      return {
        sandboxes: records.size,
        spawned,
        terminated,
        pendingApprovals: gate.pending().length,
        auditFailures,
        usageSigningFailures,
        usage: outbox.stats(),
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      stopRevocations?.();
      await Promise.allSettled([...records.keys()].map((id) => terminate(id, 'shutdown')));
      await settleEmissions();
      await outbox.flush().catch(noop);
      outbox.close();
      if (ownScheduler) scheduler.dispose();
      for (const driver of ownDrivers) await driver.close?.().catch(noop);
    },
  };
  return Object.freeze(runtime);
}
