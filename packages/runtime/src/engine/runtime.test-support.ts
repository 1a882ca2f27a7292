// Shared fixtures of the engine tests (not part of the package: excluded from its build).
import {
  AgentKeyPair,
  type AwaitApprovalOptions,
  type CreateOversightRequestInput,
  createPlatform,
  EnablementError,
  issueOverrideToken,
  type JsonValue,
  newUuid,
  type OversightClient,
  type OversightFinalAction,
  type OversightOutcome,
  type OversightRequestRef,
  type Platform,
  type Policy,
  type QuotaClient,
  type QuotaClientDecision,
  type QuotaQuery,
  type RuntimeUsageEvent,
  registrationProof,
  type UnifiedAuditEvent,
  type UsageSink,
} from '@creto/core';
import { FakeClock } from '@creto/testing';
import type {
  DriverExecRequest,
  DriverExecResult,
  DriverSandbox,
  DriverSandboxSpec,
  SandboxCapabilities,
  SandboxDriver,
} from '../driver/types.js';
import type { RuntimeOptions } from './options.js';
import { createRuntime } from './runtime.js';
import type { Runtime } from './types.js';

const seed = (n: number) => new Uint8Array(32).fill(n);

/** Keys, generated once per test file (ML-DSA key generation is slow). */
export const KEYS = {
  agent: AgentKeyPair.fromSeed(seed(1), { postQuantum: true }),
  agent2: AgentKeyPair.fromSeed(seed(2), { postQuantum: true }),
  classical: AgentKeyPair.fromSeed(seed(3)),
  host: AgentKeyPair.fromSeed(seed(4), { postQuantum: true, kind: 'service' }),
  oversight: AgentKeyPair.fromSeed(seed(5), { kind: 'service' }),
  cfo: AgentKeyPair.fromSeed(seed(6), { kind: 'human' }),
};

const proofs = new Map<AgentKeyPair, ReturnType<typeof registrationProof>>();
function proofOf(key: AgentKeyPair): ReturnType<typeof registrationProof> {
  let proof = proofs.get(key);
  if (proof === undefined) {
    proof = registrationProof(key);
    proofs.set(key, proof);
  }
  return proof;
}

/** A script the fake driver runs for a `code` string: host JS standing in for sandbox code. */
export type Script = (capabilities: SandboxCapabilities, request: DriverExecRequest) => Promise<JsonValue>;

/** A code driver whose "code" names a script registered by the test. */
export interface FakeDriver extends SandboxDriver {
  /** Scripts by code string. */
  readonly scripts: Map<string, Script>;
  /** Specs of created sandboxes. */
  readonly created: DriverSandboxSpec[];
  /** Ids of disposed sandboxes. */
  readonly disposed: string[];
  /** Makes the next `create` fail with this error. */
  failNextCreate: unknown;
}

function result(partial: Partial<DriverExecResult>): DriverExecResult {
  return {
    outcome: 'ok',
    stdout: '',
    stderr: '',
    exitCode: null,
    truncated: false,
    durationMs: 0,
    ...partial,
  };
}

/** Builds the fake driver. */
export function fakeDriver(): FakeDriver {
  const scripts = new Map<string, Script>();
  const created: DriverSandboxSpec[] = [];
  const disposed: string[] = [];
  const driver: FakeDriver = {
    info: { name: 'fake', isolation: 'none (test double)', isolated: false },
    scripts,
    created,
    disposed,
    failNextCreate: undefined,
    async create(spec: DriverSandboxSpec): Promise<DriverSandbox> {
      if (driver.failNextCreate !== undefined) {
        const error = driver.failNextCreate;
        driver.failNextCreate = undefined;
        throw error;
      }
      created.push(spec);
      let state: JsonValue = {};
      return {
        async exec(request: DriverExecRequest): Promise<DriverExecResult> {
          const script = scripts.get(request.code ?? request.command ?? '');
          if (script === undefined) return result({ outcome: 'error', error: 'no such script' });
          if (request.signal.aborted) return result({ outcome: 'aborted' });
          const aborted = new Promise<DriverExecResult>((resolve) =>
            request.signal.addEventListener('abort', () => resolve(result({ outcome: 'aborted' })), {
              once: true,
            }),
          );
          const run = script(spec.capabilities, request).then(
            (value) => {
              state = value;
              return result({ value });
            },
            (error: unknown) =>
              result({
                outcome: 'error',
                error: error instanceof Error ? error.message : String(error),
                ...(EnablementError.is(error) ? { errorCode: error.code } : {}),
              }),
          );
          return Promise.race([run, aborted]);
        },
        async checkpoint(): Promise<JsonValue> {
          return { state };
        },
        async dispose(): Promise<void> {
          disposed.push(spec.sandboxId);
        },
      };
    },
  };
  return driver;
}

/** A recorded oversight request. */
export interface FakeRequest {
  /** What the runtime sent. */
  readonly input: CreateOversightRequestInput;
  /** Its outcome, once decided. */
  outcome: OversightOutcome | undefined;
  /** Wakes waiters. */
  readonly waiters: ((outcome: OversightOutcome) => void)[];
  /** Whether it was cancelled through the client. */
  cancelled: boolean;
}

/**
 * An `OversightClient` double that issues REAL override tokens (core `issueOverrideToken`, signed
 * by the oversight service key), so the platform authz validates them exactly as in production.
 * It ignores `timeoutMs` (like a remote client that does not honour it) but honours `signal`.
 */
export class FakeOversight implements OversightClient {
  readonly requests = new Map<string, FakeRequest>();
  constructor(private readonly clock: FakeClock) {}

  async createRequest(input: CreateOversightRequestInput): Promise<OversightRequestRef> {
    const requestId = newUuid();
    this.requests.set(requestId, { input, outcome: undefined, waiters: [], cancelled: false });
    return { requestId, state: 'PENDING', created: true };
  }

  awaitApproval(requestId: string, options: AwaitApprovalOptions = {}): Promise<OversightOutcome> {
    const request = this.requests.get(requestId);
    if (request === undefined) return Promise.reject(new EnablementError('OV-404', 'unknown request'));
    if (request.outcome !== undefined) return Promise.resolve(request.outcome);
    return new Promise((resolve, reject) => {
      request.waiters.push(resolve);
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
    });
  }

  async cancelRequest(requestId: string): Promise<void> {
    const request = this.requests.get(requestId);
    if (request === undefined) throw new EnablementError('OV-404', 'unknown request');
    request.cancelled = true;
    this.decide(requestId, { state: 'CANCELLED', requestId });
  }

  /** The only request, or the latest. */
  latest(): [string, FakeRequest] {
    const entries = [...this.requests.entries()];
    const last = entries[entries.length - 1];
    if (last === undefined) throw new Error('no oversight request');
    return last;
  }

  private token(request: FakeRequest, requestId: string, args: JsonValue): string {
    const { input } = request;
    return issueOverrideToken({
      signer: KEYS.oversight,
      principal: input.agentNhi,
      action: input.action.name,
      resource: `${input.resource.resourceType}:${input.resource.resourceId}`,
      arguments: args,
      expiresAt: this.clock.now() + 600_000_000_000n,
      requestId,
      clock: this.clock,
    });
  }

  /** Approves; `parameters` are the approved (possibly edited) ones; `tokenFor` what the token binds. */
  approve(requestId: string, edits: { parameters?: JsonValue; tokenFor?: JsonValue } = {}): void {
    const request = this.requests.get(requestId);
    if (request === undefined) throw new Error('unknown request');
    const approved = edits.parameters ?? request.input.action.parameters;
    this.decide(requestId, {
      state: 'APPROVED',
      requestId,
      overrideToken: this.token(request, requestId, edits.tokenFor ?? approved),
      approvedParameters: approved,
      decidedBy: [KEYS.cfo.identity.nhi],
    });
  }

  /** Denies. */
  deny(requestId: string, reason = 'no'): void {
    this.decide(requestId, { state: 'DENIED', requestId, decidedBy: [KEYS.cfo.identity.nhi], reason });
  }

  /** Expires with a final action. */
  expire(requestId: string, finalAction: OversightFinalAction): void {
    const request = this.requests.get(requestId);
    if (request === undefined) throw new Error('unknown request');
    this.decide(
      requestId,
      finalAction === 'auto_approve'
        ? {
            state: 'EXPIRED',
            requestId,
            finalAction,
            overrideToken: this.token(request, requestId, request.input.action.parameters),
            approvedParameters: request.input.action.parameters,
          }
        : { state: 'EXPIRED', requestId, finalAction },
    );
  }

  private decide(requestId: string, outcome: OversightOutcome): void {
    const request = this.requests.get(requestId);
    if (request === undefined) throw new Error('unknown request');
    request.outcome = outcome;
    for (const wake of request.waiters.splice(0)) wake(outcome);
  }
}

/** A quota client that blocks once `limit` allocations were checked per agent and event type. */
export function fakeQuota(limit: number): QuotaClient & { readonly queries: QuotaQuery[] } {
  const queries: QuotaQuery[] = [];
  const used = new Map<string, number>();
  return {
    queries,
    async checkQuota(query: QuotaQuery): Promise<QuotaClientDecision> {
      queries.push(query);
      const key = `${query.agent}|${query.eventType}`;
      const n = used.get(key) ?? 0;
      if (n >= limit) {
        return {
          decision: 'block',
          reason: `quota ${query.eventType} exhausted (${n}/${limit})`,
          error: new EnablementError('MT-429', `Monthly ${query.eventType} quota exceeded (${n}/${limit})`, {
            retryAfterMs: 86_400_000,
            traceId: 'trace-xyz',
          }),
        };
      }
      used.set(key, n + 1);
      return { decision: 'allow', reason: 'within quota' };
    },
  };
}

/** The requirement of the test's oversight policies: one CFO, 2 h, auto-deny. */
export const CFO_REQUIREMENT = {
  tiers: [{ approvers: [KEYS.cfo.identity.nhi], quorum: 1, timeoutMs: 7_200_000 }],
  finalAction: 'auto_deny' as const,
};

/** Policies most tests use. */
export const BASE_POLICIES: Policy[] = [
  { id: 'spawn', effect: 'permit', action: 'sandbox.spawn', resource: 'runtime:sandbox:*' },
  { id: 'egress-local', effect: 'permit', action: 'network.egress', resource: 'network:127.0.0.1' },
  { id: 'funds', effect: 'permit', action: 'funds.transfer' },
  {
    id: 'large-transfer',
    effect: 'require_oversight',
    action: 'funds.transfer',
    when: { attr: 'context.amount', op: 'gt', value: 10000 },
    requirement: CFO_REQUIREMENT,
  },
  { id: 'echo', effect: 'permit', action: 'tool.echo' },
];

/** Everything a test needs. */
export interface Harness {
  /** The clock. */
  readonly clock: FakeClock;
  /** The platform. */
  readonly platform: Platform;
  /** The engine under test. */
  readonly runtime: Runtime;
  /** The fake driver (registered as `quickjs`, alias `gvisor`). */
  readonly driver: FakeDriver;
  /** Usage events the sink received. */
  readonly events: RuntimeUsageEvent[];
  /** The oversight double. */
  readonly oversight: FakeOversight;
  /** Every audit event so far. */
  auditEvents(): Promise<readonly UnifiedAuditEvent[]>;
}

/** Builds a platform, registers the test agents and builds the runtime. */
export async function harness(
  overrides: Partial<RuntimeOptions> & { policies?: Policy[] } = {},
): Promise<Harness> {
  const clock = new FakeClock();
  const { policies = BASE_POLICIES, ...runtimeOverrides } = overrides;
  const platform = createPlatform({
    clock,
    authz: { policies, overrideTokenIssuers: [KEYS.oversight.identity.nhi] },
  });
  for (const key of [KEYS.agent, KEYS.agent2]) {
    await platform.nhi.register({ identity: key.identity, proof: proofOf(key) });
  }
  const events: RuntimeUsageEvent[] = [];
  const sink: UsageSink = {
    async publish(event) {
      events.push(event);
    },
  };
  const driver = fakeDriver();
  const oversight = new FakeOversight(clock);
  const runtime = createRuntime({
    platform,
    hostKey: KEYS.host,
    usage: sink,
    oversight,
    drivers: { quickjs: driver },
    aliases: { gvisor: 'quickjs' },
    ...runtimeOverrides,
  });
  return {
    clock,
    platform,
    runtime,
    driver,
    events,
    oversight,
    async auditEvents() {
      return (await platform.audit.query({ limit: 1000 })).events;
    },
  };
}

/** Lets pending promise callbacks run (no time passes). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
