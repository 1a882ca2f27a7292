import {
  base64urlToBytes,
  EnablementError,
  type JsonValue,
  type Policy,
  policyId,
  utf8ToBytes,
} from '@creto/core';
import type { ExecResult, ExecutionHandle, ToolDefinition } from '@creto/runtime';
import { z } from 'zod';
import { containsBytes } from '../environment/messaging.js';
import type { TestEnvironment, TestEvent, TestMessage } from '../environment/types.js';
import { parseDuration } from '../scenarios/duration.js';
import { ScenarioAssertionError, type StepHandler } from '../scenarios/runner.js';
import { approvalRulePolicies, parseApprovalRule } from './rule.js';

/** The agent a step acts for when it names none. */
export const DEFAULT_SCENARIO_AGENT = 'test:agent:default';

/** The requester of `create_oversight_request` when it names none. */
export const DEFAULT_SCENARIO_REQUESTER = 'test:agent:requester';

/** Fake time an `assert_*` step waits for what it checks, ms. */
export const DEFAULT_ASSERT_TIMEOUT_MS = 5_000;

/** Names of the values steps share through `vars`. */
export const SCENARIO_VARS = Object.freeze({
  /** Id of the last sandbox spawned. */
  sandboxId: 'sandbox_id',
  /** The last event `wait_for_event` / `assert_event` found ({@link TestEvent}). */
  lastEvent: 'last_event',
  /** The last execution `exec_in_sandbox` started (an `ExecutionHandle`). */
  execution: 'execution',
  /** The oversight request in play. */
  requestId: 'request_id',
  /** The last message `wait_for_message` found ({@link TestMessage}). */
  lastMessage: 'last_message',
  /** How many sandboxes the scenario spawned (each spawn is a distinct sandbox). */
  spawns: 'spawns',
});

type Args = Readonly<Record<string, unknown>>;

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
};

function text(args: Args, field: string, fallback?: string): string {
  const value = args[field] ?? fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new EnablementError('PL-400', `${field}: expected a non-empty string`);
  }
  return value;
}

function optionalText(args: Args, field: string): string | undefined {
  return args[field] === undefined ? undefined : text(args, field);
}

function timeout(args: Args, field = 'timeout', fallback = DEFAULT_ASSERT_TIMEOUT_MS): number {
  return args[field] === undefined ? fallback : parseDuration(args[field], field);
}

function jsonObject(args: Args, field: string): { [key: string]: JsonValue } {
  const value = args[field] ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EnablementError('PL-400', `${field}: expected a map`);
  }
  return value as { [key: string]: JsonValue };
}

function needVar<T>(vars: Map<string, unknown>, name: string, producer: string): T {
  const value = vars.get(name);
  if (value === undefined) throw new ScenarioAssertionError(`no ${name} yet: run ${producer} first`);
  return value as T;
}

/** Exact text form of a scenario value: numbers must be safe integers or decimals written as strings. */
function exactText(value: unknown, field: string): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new EnablementError(
        'PL-400',
        `${field}: ${value} is not exact; write numbers above 2^53 or with decimals as strings`,
      );
    }
    return String(value);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean' || typeof value === 'string')
    return String(value);
  return show(value);
}

/** Compares an event with expected fields: `agent_nhi` (a test agent name or NHI) and properties by exact text. */
function compareEvent(env: TestEnvironment, event: TestEvent, expected: Args): void {
  const mismatches: string[] = [];
  for (const [field, value] of Object.entries(expected)) {
    if (field === 'agent_nhi') {
      const nhi = env.nhiOf(text(expected, field));
      if (event.agentNhi !== nhi) {
        mismatches.push(
          `agent_nhi: expected ${show(value)} (${nhi}), got ${show(event.agentNhi)}${
            event.agentNhi === undefined ? '' : ` (${env.nameOf(event.agentNhi) ?? 'not a test agent'})`
          }`,
        );
      }
      continue;
    }
    const actual = event.properties[field];
    if (actual === undefined) {
      mismatches.push(
        `properties.${field}: expected ${show(value)}, but the event has no such property (it has ${show(Object.keys(event.properties))})`,
      );
    } else if (exactText(actual, field) !== exactText(value, field)) {
      mismatches.push(`properties.${field}: expected ${show(value)}, got ${show(actual)}`);
    }
  }
  if (mismatches.length > 0) {
    throw new ScenarioAssertionError(`${event.eventType} event #${event.seq}: ${mismatches.join('; ')}`);
  }
}

/** Awaits `promise` while fake time passes in steps; `ScenarioAssertionError` at `timeoutMs`. */
async function awaitWithClock<T>(
  env: TestEnvironment,
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  promise.then(
    (value) => {
      outcome = { ok: true, value };
    },
    (error: unknown) => {
      outcome = { ok: false, error };
    },
  );
  const since = env.clock.now();
  for (;;) {
    await env.settle();
    if (outcome !== undefined) return outcome;
    const elapsed = Number((env.clock.now() - since) / 1_000_000n);
    if (elapsed >= timeoutMs)
      throw new ScenarioAssertionError(`${what} did not finish within ${timeoutMs} ms of fake time`);
    await env.advance(Math.min(100, timeoutMs - elapsed));
  }
}

const errorText = (error: unknown): string =>
  EnablementError.is(error)
    ? `${error.code}: ${error.message}`
    : error instanceof Error
      ? error.message
      : String(error);

/**
 * The tool the §12.2 oversight scenario calls: `transfer_funds({ amount, to?, currency? })`, authz
 * action `funds.transfer` (spec §7.2) on `payments:account:<to>` (default `default`); it returns
 * `{ status: 'completed', transferred, to }` and moves no money.
 */
export const TRANSFER_FUNDS_TOOL: ToolDefinition<{ amount: number; to?: string; currency?: string }> =
  Object.freeze({
    name: 'transfer_funds',
    description: 'Move money between accounts (scenario test double: nothing moves)',
    schema: z.object({
      amount: z.number().nonnegative(),
      to: z.string().min(1).max(128).optional(),
      currency: z.string().min(3).max(3).optional(),
    }),
    action: 'funds.transfer',
    resource: (args: { to?: string }) => `payments:account:${args.to ?? 'default'}`,
    riskFactors: (args: { amount: number }) =>
      args.amount > 10_000 ? [{ name: 'large_transfer', severity: 'high' as const }] : [],
    describe: (args: { amount: number; to?: string; currency?: string }) =>
      `Transfer ${args.amount} ${args.currency ?? 'USD'} to ${args.to ?? 'default'}`,
    handler: (args: { amount: number; to?: string }) => ({
      status: 'completed',
      transferred: args.amount,
      to: args.to ?? 'default',
    }),
  });

/** Registers the scenario tools ({@link TRANSFER_FUNDS_TOOL}) unless a tool of that name exists. */
export function registerScenarioTools(env: TestEnvironment): void {
  if (!env.runtime.listTools().some((t) => t.name === TRANSFER_FUNDS_TOOL.name)) {
    env.runtime.registerTool(TRANSFER_FUNDS_TOOL);
  }
}

// ------------------------------------------------------------------ runtime and metering

const spawnSandbox: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const name = text(args, 'agent_nhi', DEFAULT_SCENARIO_AGENT);
  const agent = await env.agent(name);
  // Metering attributes usage through the agent's subscription (spec §4.1 step 4).
  await env.subscribe(name);
  const spawns = Number(vars.get(SCENARIO_VARS.spawns) ?? 0) + 1;
  vars.set(SCENARIO_VARS.spawns, spawns);
  const runtimeClass = optionalText(args, 'runtime_class');
  const cpu = args.cpu_millicores;
  const memory = args.memory_bytes;
  if (cpu !== undefined && (typeof cpu !== 'number' || !Number.isSafeInteger(cpu))) {
    throw new EnablementError('PL-400', 'cpu_millicores: expected an integer');
  }
  const memoryText = memory === undefined ? undefined : exactText(memory, 'memory_bytes');
  if (memoryText !== undefined && !/^\d{1,20}$/.test(memoryText)) {
    throw new EnablementError('PL-400', 'memory_bytes: expected a non-negative integer');
  }
  const sandbox = await env.runtime.spawnSandbox({
    agent,
    ...(runtimeClass === undefined ? {} : { runtimeClass }),
    ...(cpu === undefined ? {} : { cpuMillicores: cpu }),
    ...(memoryText === undefined ? {} : { memoryBytes: BigInt(memoryText) }),
    // Each step is a new sandbox: without this label an identical spawn within the hour is the
    // same idempotent spawn (spec §9.2) and would not be checked against the quota again.
    labels: { scenario_spawn: String(spawns) },
  });
  vars.set(SCENARIO_VARS.sandboxId, sandbox.sandboxId);
  await env.settle();
  note(`sandbox ${sandbox.sandboxId} for ${name}, class ${sandbox.runtimeClass} (driver ${sandbox.driver})`);
  return { sandboxId: sandbox.sandboxId };
};

const waitForEvent: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const event = await env.waitForEvent({
    product: text(args, 'product', 'metering'),
    eventType: text(args, 'event_type'),
    timeoutMs: timeout(args),
    ...(args.agent_nhi === undefined ? {} : { agent: text(args, 'agent_nhi') }),
  });
  vars.set(SCENARIO_VARS.lastEvent, event);
  note(
    `${event.source} event ${event.eventType} #${event.seq} for ${env.nameOf(event.agentNhi ?? '') ?? event.agentNhi}`,
  );
  return event;
};

const assertEventProperties: StepHandler<TestEnvironment> = (args, { env, vars }) => {
  const event = needVar<TestEvent>(vars, SCENARIO_VARS.lastEvent, 'wait_for_event');
  compareEvent(env, event, args);
  return event;
};

const terminateSandbox: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const sandboxId =
    optionalText(args, 'sandbox_id') ?? needVar<string>(vars, SCENARIO_VARS.sandboxId, 'spawn_sandbox');
  const result = await env.runtime.terminate(sandboxId, optionalText(args, 'reason') ?? 'scenario');
  await env.settle();
  note(`terminated ${sandboxId} after ${result.durationSeconds} s`);
  return result;
};

const assertEvent: StepHandler<TestEnvironment> = async (args, context) => {
  const { product, event_type: _eventType, timeout: _timeout, ...expected } = args;
  const event = (await waitForEvent(
    { product: product ?? 'metering', event_type: args.event_type, timeout: args.timeout ?? '5s' },
    context,
  )) as TestEvent;
  compareEvent(context.env, event, expected);
  return event;
};

const setQuota: StepHandler<TestEnvironment> = async (args, { env, note }) => {
  const name = text(args, 'agent_nhi', DEFAULT_SCENARIO_AGENT);
  const eventType = text(args, 'event_type');
  const limit = args.limit;
  if (limit === undefined) throw new EnablementError('PL-400', 'limit: required');
  const subscriptionId = await env.subscribe(name);
  const meters = env.metering.meters().filter((m) => m.eventType === eventType);
  const meter =
    optionalText(args, 'meter') ??
    (meters.find((m) => m.aggregation === 'count') ?? meters.find((m) => m.aggregation === 'sum'))?.id;
  if (meter === undefined) {
    throw new EnablementError('PL-400', `event_type: no count or sum meter counts ${eventType} events`);
  }
  const overflow = text(args, 'overflow', 'block');
  if (overflow !== 'block' && overflow !== 'allow' && overflow !== 'allow_with_notification') {
    throw new EnablementError('PL-400', 'overflow: expected block, allow or allow_with_notification');
  }
  const quota = await env.metering.setQuota({
    subscriptionId,
    agentNhi: env.nhiOf(name),
    meterId: meter,
    limit: exactText(limit, 'limit'),
    overflow,
  });
  note(`quota ${quota.id}: ${meter} ≤ ${exactText(limit, 'limit')} per period for ${name} (${overflow})`);
  return quota;
};

// ------------------------------------------------------------------ runtime and oversight

const configurePolicy: StepHandler<TestEnvironment> = async (args, { env, note }) => {
  if (args.policy !== undefined || args.policies !== undefined) {
    const given = (args.policies ?? [args.policy]) as Policy[];
    if (!Array.isArray(given) || given.some((p) => typeof p !== 'object' || p === null)) {
      throw new EnablementError('PL-400', 'policy: expected a policy map (or `policies`: a list of them)');
    }
    env.addPolicies(...given);
    note(`policies ${given.map((p) => p.id).join(', ')}`);
    return given;
  }
  const rule = parseApprovalRule(args.rule);
  const toolName = text(args, 'tool', TRANSFER_FUNDS_TOOL.name);
  const tool = env.runtime.listTools().find((t) => t.name === toolName);
  if (tool === undefined) throw new EnablementError('PL-400', `tool: no tool ${toolName} is registered`);
  const approver = optionalText(args, 'approver') ?? rule.approver;
  const approverKey = await env.agent(approver, { roles: [rule.role.toLowerCase()] });
  const policies = approvalRulePolicies(rule, {
    action: tool.action,
    approverNhi: approverKey.identity.nhi,
    ...(args.timeout === undefined ? {} : { timeoutMs: timeout(args) }),
  });
  env.addPolicies(...policies);
  note(`${tool.action}: context.${rule.field} ${rule.op} ${rule.value} requires ${approver}`);
  return policies;
};

const execInSandbox: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const command = text(args, 'command');
  const callArgs = jsonObject(args, 'args');
  const sandboxId =
    optionalText(args, 'sandbox_id') ?? needVar<string>(vars, SCENARIO_VARS.sandboxId, 'spawn_sandbox');
  const via = text(args, 'via', 'tool');
  let handle: ExecutionHandle<JsonValue> | ExecutionHandle<ExecResult>;
  if (via === 'tool') {
    handle = env.runtime.startToolCall(sandboxId, command, callArgs);
  } else if (via === 'code') {
    // The same call from sandbox code (the QuickJS driver's `tools.call`).
    handle = env.runtime.startExec(sandboxId, {
      code: `return await tools.call(${JSON.stringify(command)}, ${JSON.stringify(callArgs)});`,
    });
  } else {
    throw new EnablementError('PL-400', 'via: expected tool or code');
  }
  // Observed, so a refusal surfaces through assert_execution instead of as an unhandled rejection.
  handle.result.catch(() => undefined);
  vars.set(SCENARIO_VARS.execution, handle);
  const expectState = optionalText(args, 'expect_state');
  if (expectState === undefined) {
    const outcome = await awaitWithClock(env, handle.result as Promise<unknown>, timeout(args), `${command}`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }
  for (let i = 0; i < 50 && handle.state !== expectState && (handle.state === 'running' || i === 0); i++) {
    await env.settle();
  }
  if (handle.state !== expectState) {
    throw new ScenarioAssertionError(`${command}: execution state`, expectState, handle.state);
  }
  const pending = handle.pendingApproval;
  if (pending !== undefined) {
    vars.set(SCENARIO_VARS.requestId, pending.requestId);
    note(`${command} waits for oversight request ${pending.requestId} (policy ${pending.policyId})`);
  }
  return { state: handle.state };
};

const getOversightRequest: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const requestId =
    optionalText(args, 'request_id') ??
    (vars.get(SCENARIO_VARS.requestId) as string | undefined) ??
    env.transitions().findLast((t) => t.from === null)?.requestId;
  if (requestId === undefined) throw new ScenarioAssertionError('no oversight request has been created');
  const view = await env.oversight.getRequest(requestId);
  vars.set(SCENARIO_VARS.requestId, requestId);
  const state = optionalText(args, 'assert_state');
  if (state !== undefined && view.state !== state.toUpperCase()) {
    throw new ScenarioAssertionError(`request ${requestId}: state`, state, view.state);
  }
  const approver = optionalText(args, 'assert_approver');
  if (approver !== undefined) {
    const tier = view.requirement.tiers[view.tier - 1];
    const nhi = env.nhiOf(approver);
    if (!tier?.approvers.includes(nhi)) {
      throw new ScenarioAssertionError(
        `request ${requestId}: ${approver} (${nhi}) is not an approver of tier ${view.tier}`,
        nhi,
        tier?.approvers.map((a) => env.nameOf(a) ?? a),
      );
    }
  }
  note(`request ${requestId}: ${view.state}, tier ${view.tier}/${view.tierCount}, action ${view.action}`);
  return view;
};

const submitApproval: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const approver = text(args, 'approver');
  const decision = text(args, 'decision', 'APPROVE').toUpperCase();
  const requestId =
    optionalText(args, 'request_id') ?? needVar<string>(vars, SCENARIO_VARS.requestId, 'exec_in_sandbox');
  const reason = optionalText(args, 'reason');
  let result: Awaited<ReturnType<TestEnvironment['approveAs']>>;
  if (decision === 'APPROVE') {
    const edited = args.edited_parameters === undefined ? undefined : jsonObject(args, 'edited_parameters');
    result = await env.approveAs(approver, requestId, {
      ...(reason === undefined ? {} : { reason }),
      ...(edited === undefined ? {} : { editedParameters: edited }),
    });
  } else if (decision === 'DENY') {
    result = await env.denyAs(approver, requestId, reason === undefined ? {} : { reason });
  } else {
    throw new EnablementError('PL-400', 'decision: expected APPROVE or DENY');
  }
  note(`${approver} → ${decision}: request ${requestId} is ${result.state}`);
  return result;
};

const assertExecution: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const handle = needVar<ExecutionHandle<unknown>>(vars, SCENARIO_VARS.execution, 'exec_in_sandbox');
  const expected = text(args, 'result', 'success');
  const outcome = await awaitWithClock(env, handle.result, timeout(args), 'the execution');
  // A code execution resolves with an ExecResult whose outcome says whether it worked.
  const execResult =
    outcome.ok &&
    typeof outcome.value === 'object' &&
    outcome.value !== null &&
    'executionId' in outcome.value
      ? (outcome.value as ExecResult)
      : undefined;
  const succeeded = outcome.ok && (execResult === undefined || execResult.outcome === 'ok');
  const value = execResult === undefined ? (outcome.ok ? outcome.value : undefined) : execResult.value;
  const failure = outcome.ok
    ? execResult === undefined
      ? undefined
      : `${execResult.outcome}${execResult.errorCode === undefined ? '' : ` ${execResult.errorCode}`}: ${execResult.error ?? ''}`
    : errorText(outcome.error);
  if (expected === 'success') {
    if (!succeeded) throw new ScenarioAssertionError(`execution failed: ${failure}`, 'success', failure);
  } else if (expected === 'failure' || expected === 'denied') {
    if (succeeded) throw new ScenarioAssertionError('execution succeeded', expected, value);
    const code = optionalText(args, 'error');
    const actualCode = outcome.ok
      ? execResult?.errorCode
      : EnablementError.is(outcome.error)
        ? outcome.error.code
        : undefined;
    if (code !== undefined && actualCode !== code) {
      throw new ScenarioAssertionError(`execution failed with another error: ${failure}`, code, actualCode);
    }
  } else {
    throw new EnablementError('PL-400', 'result: expected success, failure or denied');
  }
  if (args.value !== undefined && show(args.value) !== show(value)) {
    throw new ScenarioAssertionError('execution value', args.value, value);
  }
  note(succeeded ? `result ${show(value)}` : `failed: ${failure}`);
  return value;
};

// ------------------------------------------------------------------ oversight and messaging

const createOversightRequest: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const action = text(args, 'action');
  const approver = text(args, 'approver');
  const requester = text(args, 'agent_nhi', DEFAULT_SCENARIO_REQUESTER);
  // The approver is a connected messaging agent, so the notification is delivered end to end.
  await env.messagesFor(approver);
  const agent = await env.agent(requester);
  const parameters = jsonObject(args, 'parameters');
  const ref = await env.oversight.createRequest({
    agentNhi: agent.identity.nhi,
    delegationChain: [],
    action: { name: action, parameters },
    resource: { resourceType: 'scenario', resourceId: action },
    policyId: policyId('scenario.oversight'),
    requirement: {
      tiers: [
        { approvers: [env.nhiOf(approver)], quorum: 1, timeoutMs: timeout(args, 'timeout', 7_200_000) },
      ],
      finalAction: 'auto_deny',
    },
    actionDescription: optionalText(args, 'description') ?? `Scenario action ${action}`,
    riskFactors: [],
  });
  vars.set(SCENARIO_VARS.requestId, ref.requestId);
  await env.settle();
  note(`request ${ref.requestId} (${ref.state}) for ${action}, approver ${approver}`);
  return ref;
};

const waitForMessage: StepHandler<TestEnvironment> = async (args, { env, vars, note }) => {
  const recipient = text(args, 'recipient');
  const contains = optionalText(args, 'contains');
  const message = await env.waitForMessage(recipient, {
    timeoutMs: timeout(args),
    ...(contains === undefined ? {} : { contains }),
  });
  vars.set(SCENARIO_VARS.lastMessage, message);
  note(
    `message ${message.messageId} from ${message.senderName ?? message.sender}: ${message.envelopeKind} envelope, ${
      message.protocol ?? 'unknown protocol'
    }, ${message.ciphertextBytes} bytes of ciphertext`,
  );
  return message;
};

const assertMessage: StepHandler<TestEnvironment> = (args, { vars }) => {
  const message = needVar<TestMessage>(vars, SCENARIO_VARS.lastMessage, 'wait_for_message');
  const contains = optionalText(args, 'contains');
  if (args.encrypted !== undefined) {
    if (args.encrypted !== true) {
      throw new EnablementError(
        'PL-400',
        'encrypted: messages are always end-to-end encrypted; only `true` can hold',
      );
    }
    if (message.relaySawPlaintext || message.ciphertextBytes === 0) {
      throw new ScenarioAssertionError(`message ${message.messageId}: the relay saw the plaintext`);
    }
    if (contains !== undefined) {
      const wire = JSON.stringify(message.envelope);
      const ciphertext = base64urlToBytes(message.envelope.ciphertext);
      if (wire.includes(contains) || containsBytes(ciphertext, utf8ToBytes(contains))) {
        throw new ScenarioAssertionError(`message ${message.messageId}: the relay saw ${show(contains)}`);
      }
    }
  }
  const protocol = optionalText(args, 'protocol');
  if (protocol !== undefined && message.protocol?.toUpperCase() !== protocol.toUpperCase()) {
    throw new ScenarioAssertionError(
      `message ${message.messageId}: key agreement`,
      protocol,
      message.protocol,
    );
  }
  if (contains !== undefined && !(message.text ?? '').includes(contains)) {
    throw new ScenarioAssertionError(
      `message ${message.messageId}: text does not contain ${show(contains)}`,
      contains,
      message.notification?.subject ?? message.text?.slice(0, 200),
    );
  }
  const sender = optionalText(args, 'sender');
  if (sender !== undefined && message.senderName !== sender && message.sender !== sender) {
    throw new ScenarioAssertionError(
      `message ${message.messageId}: sender`,
      sender,
      message.senderName ?? message.sender,
    );
  }
  return message;
};

/**
 * The steps of the §12.2 scenarios, on a `TestEnvironment`. Arguments are the YAML maps of the
 * spec's files; agents are test agent names (`test:agent:001`, `cfo@test.com`); durations are
 * `5s`-style. See `docs/testing-agents.md` for each step's arguments.
 */
export const ENABLEMENT_SCENARIO_STEPS: Readonly<Record<string, StepHandler<TestEnvironment>>> =
  Object.freeze({
    spawn_sandbox: spawnSandbox,
    wait_for_event: waitForEvent,
    assert_event_properties: assertEventProperties,
    terminate_sandbox: terminateSandbox,
    assert_event: assertEvent,
    set_quota: setQuota,
    configure_policy: configurePolicy,
    exec_in_sandbox: execInSandbox,
    get_oversight_request: getOversightRequest,
    submit_approval: submitApproval,
    assert_execution: assertExecution,
    create_oversight_request: createOversightRequest,
    wait_for_message: waitForMessage,
    assert_message: assertMessage,
  });
