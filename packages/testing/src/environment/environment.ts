import {
  type AgentKeyPair,
  type ConsensusTimestamp,
  EnablementError,
  type JsonValue,
  millisToNanos,
  type Policy,
  type PrincipalKind,
  parseUuid,
  registrationProof,
  type UnifiedAuditEvent,
  USAGE_EVENT_TYPES,
} from '@creto/core';
import type { Enablement } from '@creto/enablement';
import type { CommitResult, EventCommit, MeteringStore, StoredUsageEvent } from '@creto/metering';
import type { OversightTransitionEvent, SubmitResponseResult } from '@creto/oversight';
import { FakeClock } from '../fake-clock/index.js';
import { BoundedLog, checkBound, DEFAULT_MAX_RECORDED } from '../fakes/recorder.js';
import { ScenarioAssertionError } from '../scenarios/runner.js';
import { checkAgentName, deriveTestAgentKey, normalizeSeed } from './keys.js';
import { type AgentConnection, connectTestAgent, type MessagingModules } from './messaging.js';
import { DEFAULT_TEST_POLICIES, TEST_PLAN_ID } from './policies.js';
import type {
  ApprovalOptions,
  AuditEventMatch,
  RecordedNotification,
  TestAgentOptions,
  TestEnvironment,
  TestEnvironmentOptions,
  TestEvent,
  TestEventSource,
  TestMessage,
  WaitForEventOptions,
  WaitForMessageOptions,
} from './types.js';

/** Default `waitForEvent` / `waitForMessage` timeout, ms (the §12.2 scenarios' `5s`). */
export const DEFAULT_WAIT_TIMEOUT_MS = 5_000;
/** Default fake-time step of the waits, ms. */
export const DEFAULT_WAIT_STEP_MS = 100;
/** Default bound of `env.agent` names. */
export const DEFAULT_MAX_AGENTS = 1_000;

// A settle that keeps finding due work at the same instant this many times is a loop, not work.
const MAX_SETTLE_ROUNDS = 1_000;
// Clock turns while one `enablement.settle()` / `shutdown()` is waiting for timers due now.
const MAX_SETTLE_SPINS = 10_000;

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
};

function sourceOf(options: WaitForEventOptions): TestEventSource {
  if (options.source !== undefined) return options.source;
  if (options.product === 'metering') return 'usage';
  if (options.product === 'runtime' && (USAGE_EVENT_TYPES as readonly string[]).includes(options.eventType)) {
    return 'usage';
  }
  return options.product === 'oversight' ? 'oversight' : 'audit';
}

// One QuickJS driver for every environment of the process: compiling its WebAssembly module is
// the slow part of a first spawn (~0.3 s), and sandboxes never share state (one instance each).
let sharedQuickJsDriver: import('@creto/runtime').SandboxDriver | undefined;

/** Loaded on first use, so importing `@creto/testing` for `FakeClock` does not load every product. */
async function loadModules() {
  const [enablement, runtime, metering, oversight, messaging] = await Promise.all([
    import('@creto/enablement'),
    import('@creto/runtime'),
    import('@creto/metering'),
    import('@creto/oversight'),
    import('@creto/messaging'),
  ]);
  return { enablement, runtime, metering, oversight, messaging };
}

/** A metering store that tells `onStored` about every event it stores (and nothing else changes). */
function observeStore(inner: MeteringStore, onStored: (event: StoredUsageEvent) => void): MeteringStore {
  const commitEvent = async (commit: EventCommit): Promise<CommitResult> => {
    const result = await inner.commitEvent(commit);
    if (result.status === 'stored') {
      onStored(Object.freeze({ ...commit.event, invoicePeriodStart: result.invoicePeriodStart }));
    }
    return result;
  };
  // A plain object delegating every method (own or inherited: class-based stores too), because
  // the store may be frozen, which rules out a Proxy that answers differently for one method.
  const out: Record<string, unknown> = {};
  for (
    let proto: object | null = inner;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || key in out) continue;
      const value: unknown = Reflect.get(inner, key);
      out[key] = typeof value === 'function' ? value.bind(inner) : value;
    }
  }
  out.commitEvent = commitEvent;
  return Object.freeze(out) as unknown as MeteringStore;
}

/**
 * Builds the whole layer (`createEnablement` from `@creto/enablement`) in this process for tests:
 *
 * - a `FakeClock` (`env.clock`) drives every product; `env.advance(ms)` skips time, `env.settle()`
 *   runs what is due now (usage to Metering, notifications, messages);
 * - every key comes from a seed (`DEFAULT_TEST_SEED` unless `seed` is given): the layer's service
 *   identities and each agent of `env.agent(name)`, so NHIs are the same in every run;
 * - the deterministic inference provider serves `deterministic-*` models, priced with
 *   `DETERMINISTIC_PRICE_ENTRIES`;
 * - recorders: usage events Metering ingested, Oversight transitions, every routed notification,
 *   and the decrypted messages of connected agents with what the relay saw of them (each bounded
 *   by `maxRecorded`, oldest dropped);
 * - helpers: `waitForEvent`, `expectAuditEvent`, `approveAs` / `denyAs`, `messagesFor`,
 *   `waitForMessage`, `notifications`, `subscribe`, `addPolicies`.
 *
 * Clock-driving calls (`advance`, `settle`, the waits, `approveAs`, `shutdown`) run one at a
 * time, in call order; do not call them from inside another's callback.
 *
 * @example
 * ```ts
 * const env = await createTestEnvironment();
 * const agent = await env.agent('test:agent:001');
 * await env.subscribe('test:agent:001');
 * const sandbox = await env.runtime.spawnSandbox({ agent, runtimeClass: 'gvisor' });
 * const event = await env.waitForEvent({ product: 'metering', eventType: 'sandbox_allocated', timeoutMs: 5_000 });
 * expect(event.properties.sandbox_id).toBe(sandbox.sandboxId);
 * await env.shutdown();
 * ```
 */
export async function createTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('PL-400', 'createTestEnvironment: options must be an object');
  }
  const seed = normalizeSeed(options.seed);
  const clock = options.clock ?? new FakeClock(options.start === undefined ? {} : { start: options.start });
  if (!(clock instanceof FakeClock)) throw new EnablementError('PL-400', 'clock: expected a FakeClock');
  const maxAgents = checkBound(options.maxAgents ?? DEFAULT_MAX_AGENTS, 'maxAgents', 1_000_000);
  const maxRecorded = checkBound(options.maxRecorded ?? DEFAULT_MAX_RECORDED, 'maxRecorded');
  const stepMs = checkBound(options.stepMs ?? DEFAULT_WAIT_STEP_MS, 'stepMs', 86_400_000);
  const modules = await loadModules();
  const pass = options.enablement ?? {};

  const usage = new BoundedLog<StoredUsageEvent & { readonly seq: number }>(maxRecorded, 'maxRecorded');
  const transitions = new BoundedLog<OversightTransitionEvent & { readonly seq: number }>(
    maxRecorded,
    'maxRecorded',
  );
  const notifications = new BoundedLog<RecordedNotification>(maxRecorded, 'maxRecorded');
  let usageSeq = 0;
  let transitionSeq = 0;
  const consumed: Record<TestEventSource, Set<number>> = {
    usage: new Set(),
    oversight: new Set(),
    audit: new Set(),
  };

  const meteringStore = observeStore(
    pass.stores?.metering ?? modules.metering.createMemoryMeteringStore(),
    (e) => usage.push(Object.freeze({ ...e, seq: usageSeq++ })),
  );
  let hostPolicies: readonly Policy[] = Object.freeze([...(options.policies ?? DEFAULT_TEST_POLICIES)]);
  const { runtime: rt } = modules;
  const inference =
    pass.runtime?.inference ??
    rt.createInferenceRouter({
      providers: [rt.createDeterministicProvider({ ...options.inference, clock })],
      prices: rt.createPriceTable([...rt.DETERMINISTIC_PRICE_ENTRIES]),
      clock,
    });

  let drivers = pass.runtime?.drivers;
  if (drivers === undefined) {
    sharedQuickJsDriver ??= rt.createQuickJsDriver();
    drivers = { quickjs: sharedQuickJsDriver };
  }

  const enablement: Enablement = await modules.enablement.createEnablement({
    ...pass,
    clock,
    seed,
    policies: hostPolicies,
    stores: { ...pass.stores, metering: meteringStore },
    runtime: { ...pass.runtime, inference, drivers },
    onNotification: (notification, receipt, error) =>
      notifications.push(Object.freeze({ notification, receipt, error, at: clock.now() })),
  });
  const { platform, runtime, metering, oversight } = enablement;
  const unsubscribe = oversight.onTransition((event) =>
    transitions.push(Object.freeze({ ...event, seq: transitionSeq++ })),
  );

  // ------------------------------------------------------------------ serialization of the clock

  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = tail.then(run, run);
    tail = next.catch(() => undefined);
    return next;
  };

  /** Awaits `work` while turning the clock at the current instant, so work waiting on timers due now proceeds. */
  const whileTurning = async <T>(work: Promise<T>, what: string): Promise<{ value: T; fired: number }> => {
    let done = false;
    const settled = work.finally(() => {
      done = true;
    });
    // Observed, so a rejection is not reported as unhandled while the clock turns.
    settled.catch(() => undefined);
    let fired = 0;
    for (let spins = 0; !done; spins++) {
      if (spins >= MAX_SETTLE_SPINS) {
        throw new EnablementError(
          'PL-500',
          `${what} did not finish without time passing (is it waiting for a later timer?)`,
        );
      }
      fired += await clock.advanceAsync(0);
    }
    return { value: await settled, fired };
  };

  let closed = false;
  const settleNow = async (): Promise<void> => {
    if (closed) return;
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      const { fired } = await whileTurning(enablement.settle(), 'enablement.settle()');
      const after = await clock.advanceAsync(0);
      if (fired + after === 0) return;
    }
    throw new EnablementError(
      'PL-500',
      `settle: work kept arriving at the same instant for ${MAX_SETTLE_ROUNDS} rounds`,
    );
  };

  const stepNs = millisToNanos(stepMs);

  /**
   * Checks `find` after settling; between checks advances the clock by `stepMs` (the last step
   * shortened), so the final check happens exactly `timeoutMs` after the start, then fails.
   */
  const drive = async <T>(
    timeoutMs: number,
    find: () => T | undefined | Promise<T | undefined>,
    fail: () => string,
  ) => {
    if (
      typeof timeoutMs !== 'number' ||
      !Number.isFinite(timeoutMs) ||
      timeoutMs < 0 ||
      timeoutMs > 366 * 86_400_000
    ) {
      throw new EnablementError('PL-400', 'timeoutMs: expected milliseconds from 0 to 366 days');
    }
    const since: ConsensusTimestamp = clock.now();
    const deadline = since + millisToNanos(timeoutMs);
    for (;;) {
      await settleNow();
      const found = await find();
      if (found !== undefined) return found;
      const remaining = deadline - clock.now();
      if (remaining <= 0n) {
        const elapsed = Number(clock.now() - since) / 1e6;
        throw new ScenarioAssertionError(`${fail()} (fake clock advanced ${elapsed} ms)`);
      }
      // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min does not take
      await clock.advanceNsAsync(stepNs > remaining ? remaining : stepNs);
    }
  };

  // ------------------------------------------------------------------ agents

  const agents = new Map<string, { key: AgentKeyPair; kind: PrincipalKind; registered: boolean }>();
  const names = new Map<string, string>([[enablement.keys.notificationBot.identity.nhi, 'bot']]);

  const keyOf = (name: string, kind?: PrincipalKind) => {
    checkAgentName(name);
    let entry = agents.get(name);
    if (entry === undefined) {
      if (agents.size >= maxAgents) {
        throw new EnablementError(
          'PL-500',
          `env.agent: more than ${maxAgents} agents; is the test leaking names?`,
        );
      }
      const agentKind = kind ?? 'agent';
      entry = { key: deriveTestAgentKey(seed, name, agentKind), kind: agentKind, registered: false };
      agents.set(name, entry);
      names.set(entry.key.identity.nhi, name);
    } else if (kind !== undefined && kind !== entry.kind) {
      throw new EnablementError(
        'PL-409',
        `env.agent: ${name} is a${entry.kind === 'agent' ? 'n' : ''} ${entry.kind}, not a ${kind}`,
      );
    }
    return entry;
  };

  const agent = async (name: string, agentOptions: TestAgentOptions = {}): Promise<AgentKeyPair> => {
    const entry = keyOf(name, agentOptions.kind);
    const attributes = {
      ...(agentOptions.roles === undefined ? {} : { roles: [...agentOptions.roles] }),
      ...(agentOptions.groups === undefined ? {} : { groups: [...agentOptions.groups] }),
      ...(agentOptions.attributes === undefined ? {} : { attributes: { ...agentOptions.attributes } }),
    };
    if (!entry.registered) {
      await platform.nhi.register({
        identity: entry.key.identity,
        proof: registrationProof(entry.key),
        displayName: name,
        ...attributes,
      });
      entry.registered = true;
    } else if (Object.keys(attributes).length > 0) {
      await platform.nhi.updateAttributes(entry.key.identity.nhi, attributes);
    }
    return entry.key;
  };

  const nhiOf = (nameOrNhi: string): string =>
    names.has(nameOrNhi) ? nameOrNhi : keyOf(nameOrNhi).key.identity.nhi;

  const subscriptions = new Map<string, Promise<string>>();
  let plan: Promise<unknown> | undefined;
  const subscribe = (name: string): Promise<string> => {
    let subscription = subscriptions.get(name);
    if (subscription === undefined) {
      subscription = (async () => {
        const key = await agent(name);
        plan ??= metering.registerPlan({
          id: TEST_PLAN_ID,
          name: 'Test plan',
          currency: 'USD',
          interval: 'month',
          baseFee: '0',
          charges: [
            {
              id: 'sandboxes',
              meterId: 'sandbox_allocations',
              model: { type: 'per_unit', unitPrice: '0.05' },
            },
            {
              id: 'sandbox_time',
              meterId: 'sandbox_seconds',
              model: { type: 'per_unit', unitPrice: '0.0001' },
            },
            { id: 'inference', meterId: 'inference_cost_usd', model: { type: 'per_unit', unitPrice: '1' } },
          ],
        });
        await plan;
        const created = await metering.createSubscription({
          organizationId: `org:${name}`.slice(0, 128),
          planId: TEST_PLAN_ID,
          billingContact: key.identity.nhi,
          agents: [key.identity.nhi],
        });
        return created.id;
      })();
      subscriptions.set(name, subscription);
      subscription.catch(() => subscriptions.delete(name));
    }
    return subscription;
  };

  // ------------------------------------------------------------------ events

  const usageEvent = (e: StoredUsageEvent & { readonly seq: number }): TestEvent =>
    Object.freeze({
      seq: e.seq,
      source: 'usage',
      product: 'runtime',
      eventType: e.eventType,
      agentNhi: e.agentNhi,
      properties: e.properties,
      at: e.ingestedAt,
      raw: e,
    });

  const transitionEvent = (e: OversightTransitionEvent & { readonly seq: number }): TestEvent =>
    Object.freeze({
      seq: e.seq,
      source: 'oversight',
      product: 'oversight',
      eventType: e.to,
      agentNhi: e.agentNhi,
      properties: e as unknown as Record<string, unknown>,
      at: e.at,
      raw: e,
    });

  const auditEvents = async (filter: {
    product?: string;
    action?: string;
    agentNhi?: string;
    outcome?: string;
  }) => {
    const out: UnifiedAuditEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await platform.audit.query({
        ...(filter as Record<string, string>),
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      out.push(...page.events);
      cursor = page.nextCursor;
    } while (cursor !== undefined && out.length < 1_000_000);
    return out;
  };

  const auditEvent = (e: UnifiedAuditEvent): TestEvent => {
    const metadata = (
      typeof e.metadata === 'object' && e.metadata !== null && !Array.isArray(e.metadata)
        ? e.metadata
        : { value: e.metadata }
    ) as Record<string, unknown>;
    const kind = typeof metadata.kind === 'string' ? metadata.kind : e.action;
    return Object.freeze({
      seq: Number(e.merkleProof?.leafIndex ?? 0n),
      source: 'audit',
      product: e.product,
      eventType: kind,
      agentNhi: e.agentNhi,
      properties: Object.freeze({ ...metadata, action: e.action, resource: e.resource, outcome: e.outcome }),
      at: e.timestamp,
      raw: e,
    });
  };

  const candidates = async (source: TestEventSource, product: string): Promise<TestEvent[]> => {
    if (source === 'usage') return usage.items.map(usageEvent);
    if (source === 'oversight') return transitions.items.map(transitionEvent);
    const events = await auditEvents(product === 'audit' ? {} : { product });
    return events.map(auditEvent);
  };

  const typeMatches = (event: TestEvent, eventType: string): boolean => {
    if (event.source === 'oversight') return event.eventType.toLowerCase() === eventType.toLowerCase();
    if (event.source === 'audit')
      return event.eventType === eventType || event.properties.action === eventType;
    return event.eventType === eventType;
  };

  const waitForEvent = (wait: WaitForEventOptions): Promise<TestEvent> =>
    serial(async () => {
      if (
        typeof wait !== 'object' ||
        wait === null ||
        typeof wait.product !== 'string' ||
        typeof wait.eventType !== 'string'
      ) {
        throw new EnablementError('PL-400', 'waitForEvent: product and eventType must be strings');
      }
      const source = sourceOf(wait);
      const agentNhi = wait.agent === undefined ? undefined : nhiOf(wait.agent);
      let seen: TestEvent[] = [];
      const event = await drive(
        wait.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS,
        async () => {
          seen = await candidates(source, wait.product);
          return seen.find(
            (e) =>
              !consumed[source].has(e.seq) &&
              typeMatches(e, wait.eventType) &&
              (agentNhi === undefined || e.agentNhi === agentNhi) &&
              (wait.where === undefined || wait.where(e)),
          );
        },
        () => {
          const types = [...new Set(seen.map((e) => e.eventType))].slice(0, 20);
          return `waitForEvent: no ${source} event ${wait.eventType} from ${wait.product}${
            agentNhi === undefined ? '' : ` for ${wait.agent}`
          } within ${wait.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS} ms; seen ${seen.length} ${source} event(s) of types ${show(types)}`;
        },
      );
      consumed[source].add(event.seq);
      if (consumed[source].size > maxRecorded * 2) {
        const live = new Set((await candidates(source, wait.product)).map((e) => e.seq));
        for (const seq of consumed[source]) if (!live.has(seq)) consumed[source].delete(seq);
      }
      return event;
    });

  const expectAuditEvent = (match: AuditEventMatch): Promise<UnifiedAuditEvent> =>
    serial(async () => {
      // Appends still in flight (a receipt's audit consumer, a notification) land first.
      await settleNow();
      return findAuditEvent(match);
    });

  const findAuditEvent = async (match: AuditEventMatch): Promise<UnifiedAuditEvent> => {
    const agentNhi = match.agent === undefined ? undefined : nhiOf(match.agent);
    const events = await auditEvents({
      ...(match.product === undefined ? {} : { product: match.product }),
    });
    const differences = (e: UnifiedAuditEvent): string[] => {
      const out: string[] = [];
      const metadata = (e.metadata ?? {}) as Record<string, JsonValue>;
      const check = (field: string, expected: unknown, actual: unknown, ok = expected === actual) => {
        if (expected !== undefined && !ok)
          out.push(`${field}: expected ${show(expected)}, got ${show(actual)}`);
      };
      check('product', match.product, e.product);
      check('action', match.action, e.action);
      check('kind', match.kind, metadata.kind);
      check('agent', agentNhi, e.agentNhi);
      check('outcome', match.outcome, e.outcome);
      if (match.resource !== undefined) {
        const ok = match.resource.endsWith('*')
          ? e.resource.startsWith(match.resource.slice(0, -1))
          : e.resource === match.resource;
        check('resource', match.resource, e.resource, ok);
      }
      for (const [key, expected] of Object.entries(match.metadata ?? {})) {
        check(`metadata.${key}`, expected, metadata[key], show(expected) === show(metadata[key]));
      }
      return out;
    };
    const ranked = events
      .map((e) => ({ e, diff: differences(e) }))
      .sort((a, b) => a.diff.length - b.diff.length);
    const best = ranked[0];
    if (best !== undefined && best.diff.length === 0) return best.e;
    const lines = ranked
      .slice(0, 3)
      .map(
        ({ e, diff }) =>
          `    #${e.merkleProof?.leafIndex ?? '?'} ${e.product} ${e.action} ${e.outcome} ${e.resource} — ${diff.join('; ')}`,
      );
    throw new ScenarioAssertionError(
      [
        `expectAuditEvent: no audit event matches ${show(match)}`,
        events.length === 0
          ? '    (the audit log has no events of that product)'
          : `  closest of ${events.length} event(s):`,
        ...lines,
      ].join('\n'),
    );
  };

  // ------------------------------------------------------------------ approvals

  const respond = (
    decision: 'APPROVE' | 'DENY',
    approver: string,
    requestId: string,
    approval: ApprovalOptions,
  ): Promise<SubmitResponseResult> =>
    serial(async () => {
      const key = await agent(approver);
      const signed = modules.oversight.signApprovalResponse(key, {
        requestId: parseUuid(requestId, 'requestId'),
        decision,
        respondedAt: clock.now(),
        ...(approval.reason === undefined ? {} : { reason: approval.reason }),
        ...(approval.editedParameters === undefined ? {} : { editedParameters: approval.editedParameters }),
      });
      const result = await oversight.submitResponse(signed);
      await settleNow();
      return result;
    });

  // ------------------------------------------------------------------ messaging

  const connections = new Map<string, Promise<AgentConnection>>();
  const allMessages = new BoundedLog<TestMessage>(maxRecorded, 'maxRecorded');
  const messagingModules: MessagingModules = { messaging: modules.messaging, oversight: modules.oversight };
  const connect = (name: string): Promise<AgentConnection> => {
    let connection = connections.get(name);
    if (connection === undefined) {
      connection = (async () => {
        const key = await agent(name);
        return connectTestAgent({
          key,
          relay: enablement.messaging.relay,
          nhi: platform.nhi,
          clock,
          modules: messagingModules,
          maxRecorded,
          nameOf: (nhi) => names.get(nhi),
          onMessage: (message) => allMessages.push(message),
        });
      })();
      connections.set(name, connection);
      connection.catch(() => connections.delete(name));
    }
    return connection;
  };

  const messagesFor = (name: string): Promise<readonly TestMessage[]> =>
    serial(async () => {
      const connection = await connect(name);
      await settleNow();
      return connection.messages.toArray();
    });

  const waitForMessage = (name: string, wait: WaitForMessageOptions = {}): Promise<TestMessage> =>
    serial(async () => {
      const connection = await connect(name);
      const timeoutMs = wait.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
      const message = await drive(
        timeoutMs,
        () =>
          connection.messages.items.find(
            (m) =>
              !connection.consumed.has(m.messageId) &&
              (wait.contains === undefined || (m.text ?? '').includes(wait.contains)) &&
              (wait.where === undefined || wait.where(m)),
          ),
        () =>
          `waitForMessage: no message to ${name}${
            wait.contains === undefined ? '' : ` containing ${show(wait.contains)}`
          } within ${timeoutMs} ms; received ${connection.messages.length} message(s)`,
      );
      connection.consumed.add(message.messageId);
      if (connection.consumed.size > maxRecorded * 2) {
        const live = new Set(connection.messages.items.map((m) => m.messageId));
        for (const id of connection.consumed) if (!live.has(id)) connection.consumed.delete(id);
      }
      return message;
    });

  // ------------------------------------------------------------------ lifecycle

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= serial(async () => {
      unsubscribe();
      for (const connection of connections.values()) {
        try {
          await (await connection).close();
        } catch {
          // A connection that failed to open has nothing to close.
        }
      }
      try {
        await whileTurning(enablement.shutdown(), 'enablement.shutdown()');
      } finally {
        closed = true;
      }
    });
    return shutdownPromise;
  };

  return Object.freeze({
    enablement,
    clock,
    seed: seed.slice(),
    platform,
    runtime,
    metering,
    oversight,
    agent,
    nhiOf,
    nameOf: (nhi: string) => names.get(nhi),
    subscribe,
    setPolicies(policies: readonly Policy[]) {
      enablement.setPolicies(policies);
      hostPolicies = Object.freeze([...policies]);
    },
    addPolicies(...policies: Policy[]) {
      const ids = new Set(policies.map((p) => p.id));
      const next = [...hostPolicies.filter((p) => !ids.has(p.id)), ...policies];
      enablement.setPolicies(next);
      hostPolicies = Object.freeze(next);
    },
    policies: () => hostPolicies,
    advance: (ms: number) =>
      serial(async () => {
        await clock.advanceAsync(ms);
        await settleNow();
      }),
    settle: () => serial(settleNow),
    waitForEvent,
    usageEvents: () => usage.toArray(),
    transitions: () => transitions.toArray(),
    expectAuditEvent,
    approveAs: (approver: string, requestId: string, approval: ApprovalOptions = {}) =>
      respond('APPROVE', approver, requestId, approval),
    denyAs: (approver: string, requestId: string, approval: Omit<ApprovalOptions, 'editedParameters'> = {}) =>
      respond('DENY', approver, requestId, approval),
    messagesFor,
    waitForMessage,
    notifications: () => notifications.toArray(),
    messages: () => allMessages.toArray(),
    shutdown,
  } satisfies TestEnvironment);
}
