import {
  AgentKeyPair,
  type Clock,
  createSaga,
  EnablementError,
  type JsonValue,
  type Logger,
  newUuid,
  type SagaLog,
  type SagaRecoveryReport,
  utf8ToBytes,
} from '@creto/core';
import type { MessagingClient } from '@creto/messaging';
import type { Metering } from '@creto/metering';
import type { Runtime } from '@creto/runtime';
import type { EnablementSaga, ProvisionAgentInput, ProvisionResult } from './types.js';

/** Name of the §9.1 saga (in its log records and spans). */
export const PROVISION_AGENT_SAGA = 'enablement.provision_agent';
/** The welcome message of spec §9.1. */
export const WELCOME_MESSAGE = 'Welcome to Creto! Your agent is ready.';
/** Default runtime class of the first sandbox. */
export const DEFAULT_PROVISION_RUNTIME_CLASS = 'quickjs';
/** Default image recorded in the first sandbox's attestation (spec §9.1). */
export const DEFAULT_PROVISION_IMAGE = 'agent-base:latest';
/** Label put on the sandbox a provisioning spawned: the saga id. */
export const SAGA_ID_LABEL = 'creto.saga_id';

/** The JSON input the saga logs (the agent's key pair stays in memory, never in the log). */
interface ProvisionJson {
  readonly agentNhi: string;
  readonly planId: string;
  readonly organizationId: string;
  readonly billingContact: string;
  readonly runtimeClass: string;
  readonly image: string;
}

/** Options of {@link createEnablementSaga}. @internal */
export interface EnablementSagaOptions {
  readonly metering: Pick<Metering, 'createSubscription' | 'deleteSubscription'>;
  readonly runtime: Pick<Runtime, 'spawnSandbox' | 'terminate'>;
  readonly bot: Pick<MessagingClient, 'sendMessage'>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly log?: SagaLog | undefined;
  /** Throws when the layer no longer accepts work. */
  readonly assertRunning: () => void;
}

/** The saga plus recovery of runs a crash interrupted. @internal */
export interface EnablementSagaHandle {
  readonly saga: EnablementSaga;
  /** Compensates every run the log shows unfinished (call once at startup). */
  recover(): Promise<SagaRecoveryReport>;
}

function text(value: unknown, field: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new EnablementError(
      'PL-400',
      `provisionAgent: ${field}: expected a string of 1 to ${max} characters`,
    );
  }
  return value;
}

function field(result: JsonValue | undefined, name: string): string {
  const value =
    typeof result === 'object' && result !== null && !Array.isArray(result) ? result[name] : undefined;
  if (typeof value !== 'string') throw new EnablementError('PL-500', `saga result: missing ${name}`);
  return value;
}

/**
 * `EnablementSaga` (spec §9.1) on core's saga coordinator: (1) create the subscription in
 * Metering (compensation: `deleteSubscription`), (2) spawn the first sandbox in Runtime
 * (compensation: terminate it), (3) the welcome message from the notification bot, non-critical.
 *
 * The log (`stores.sagaLog`) records the JSON input and each step's result, never the agent's
 * key pair: a run interrupted by a crash cannot re-spawn for the agent, so recovery compensates
 * it (a sandbox of a dead process is already gone: its termination answers `RT-404`, which counts
 * as undone). @internal
 */
export function createEnablementSaga(options: EnablementSagaOptions): EnablementSagaHandle {
  const { metering, runtime, bot, clock, logger, assertRunning } = options;
  // Key pairs of the runs in progress, by saga id (bounded by the coordinator's maxConcurrent).
  const agents = new Map<string, AgentKeyPair>();

  const saga = createSaga<ProvisionJson>({
    name: PROVISION_AGENT_SAGA,
    clock,
    logger,
    ...(options.log === undefined ? {} : { log: options.log }),
    steps: [
      {
        name: 'create_subscription',
        run: async ({ input }) => {
          const subscription = await metering.createSubscription({
            organizationId: input.organizationId,
            planId: input.planId,
            billingContact: input.billingContact,
            agents: [input.agentNhi],
          });
          return { subscriptionId: subscription.id };
        },
        compensate: async (_ctx, result) => {
          // `false` (already gone) is fine: compensations must tolerate an undone effect.
          await metering.deleteSubscription(field(result, 'subscriptionId'));
        },
      },
      {
        name: 'spawn_sandbox',
        run: async ({ input, sagaId }) => {
          const agent = agents.get(sagaId);
          if (agent === undefined) {
            throw new EnablementError(
              'PL-409',
              'spawn_sandbox: the agent key pair is not available (recovery)',
            );
          }
          const sandbox = await runtime.spawnSandbox({
            agent,
            runtimeClass: input.runtimeClass,
            image: input.image,
            labels: { [SAGA_ID_LABEL]: sagaId },
          });
          return { sandboxId: sandbox.sandboxId };
        },
        compensate: async (_ctx, result) => {
          try {
            await runtime.terminate(field(result, 'sandboxId'), 'saga_compensation');
          } catch (error) {
            if (!(EnablementError.is(error) && error.code === 'RT-404')) throw error;
          }
        },
      },
      {
        name: 'welcome_message',
        critical: false,
        run: async ({ input }) => {
          const sent = await bot.sendMessage(input.agentNhi, utf8ToBytes(WELCOME_MESSAGE));
          return { messageId: sent.messageId, status: sent.status };
        },
      },
    ],
  });

  async function provisionAgent(input: ProvisionAgentInput): Promise<ProvisionResult> {
    assertRunning();
    if (typeof input !== 'object' || input === null) {
      throw new EnablementError('PL-400', 'provisionAgent: input: expected an object');
    }
    if (!(input.agent instanceof AgentKeyPair)) {
      throw new EnablementError('PL-400', 'provisionAgent: agent: expected an AgentKeyPair');
    }
    const json: ProvisionJson = {
      agentNhi: input.agent.identity.nhi,
      planId: text(input.planId, 'planId'),
      organizationId: text(input.organizationId, 'organizationId'),
      billingContact: text(input.billingContact, 'billingContact'),
      runtimeClass: text(input.runtimeClass ?? DEFAULT_PROVISION_RUNTIME_CLASS, 'runtimeClass', 64),
      image: text(input.image ?? DEFAULT_PROVISION_IMAGE, 'image', 1024),
    };
    const sagaId = newUuid();
    agents.set(sagaId, input.agent);
    let result: Awaited<ReturnType<typeof saga.execute>>;
    try {
      result = await saga.execute(json, { sagaId });
    } finally {
      agents.delete(sagaId);
    }
    if (result.compensationFailures.length > 0) {
      logger.error('provisioning compensation failed: effects may remain', {
        operation: 'provision_agent',
        agentNhi: json.agentNhi,
        saga_id: sagaId,
        steps: result.compensationFailures.map((f) => f.step),
      });
    }
    if (!result.ok) {
      throw result.error ?? new EnablementError('PL-500', `provisionAgent: saga ${sagaId} failed`);
    }
    const welcomeSent = result.completed.includes('welcome_message');
    if (!welcomeSent) {
      const failure = result.failed.find((f) => f.step === 'welcome_message');
      logger.warn('welcome message not sent; the agent is provisioned', {
        operation: 'provision_agent',
        agentNhi: json.agentNhi,
        saga_id: sagaId,
        ...(failure === undefined ? {} : { error: failure.error }),
      });
    }
    return Object.freeze({
      subscriptionId: field(result.results.create_subscription, 'subscriptionId'),
      sandboxId: field(result.results.spawn_sandbox, 'sandboxId'),
      welcomeSent,
    });
  }

  return Object.freeze({
    saga: Object.freeze({ provisionAgent }),
    recover: () => saga.recover({ policy: 'compensate' }),
  });
}
