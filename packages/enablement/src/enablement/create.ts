import {
  type AgentKeyPair,
  type BufferingPublisher,
  type Clock,
  type CryptoProvider,
  createBufferingPublisher,
  createBusUsageSink,
  createInProcessEventBus,
  createPlatform,
  EnablementError,
  type EventBus,
  filterContains,
  type HealthCheckFn,
  type HealthReport,
  type Logger,
  type MemoryClient,
  type MessageHandler,
  nobleCryptoProvider,
  noopLogger,
  openAuditLog,
  type Platform,
  type PlatformOptions,
  type Policy,
  type QuotaClient,
  registrationProof,
  type StreamConfig,
  systemClock,
  withTraceId,
} from '@creto/core';
import {
  connectInProcessTransport,
  createInMemorySessionStore,
  createMessagingClient,
  createMessagingRelay,
  type MessagingClient,
  type MessagingRelay,
  type MessagingRelayOptions,
  openMessagingRelay,
  type SessionStore,
} from '@creto/messaging';
import {
  createMetering,
  DEFAULT_BUS_OPTIONS,
  type Metering,
  QUOTA_NOTIFICATION_POLICY_ID,
} from '@creto/metering';
import { createOversight, type OversightEngine } from '@creto/oversight';
import { createRuntime, type Runtime } from '@creto/runtime';
import { HARD_DEPENDENCIES, STARTUP_PHASES } from '../startup/index.js';
import { createProductHealth, cryptoProbe, hardDown, type PlatformProbes, worstStatus } from './health.js';
import { resolveKeys } from './keys.js';
import { createLayerNotifier } from './notifier.js';
import { isPlatform, validateOptions } from './options.js';
import { assertHostPolicies, hostPart, systemPolicies } from './policies.js';
import { wireQuotaApprovals } from './quota-approvals.js';
import { RECEIPTS_AUDIT_CONSUMER, RECEIPTS_STREAM, startReceiptAuditConsumer } from './receipts.js';
import { createEnablementSaga } from './saga.js';
import type {
  Enablement,
  EnablementHealth,
  EnablementKeys,
  EnablementMessaging,
  EnablementOptions,
} from './types.js';

/** Stream that keeps the `OversightNotification`s of spec §5.2 (`oversight.notifications.{channel}`). */
export const OVERSIGHT_NOTIFICATIONS_STREAM = 'OVERSIGHT_NOTIFICATIONS';
/**
 * Messages kept on the notification and receipt streams. Oldest first are discarded beyond it:
 * nothing in the layer depends on old ones (notifications are delivered through the notifier;
 * receipts are audited by a consumer that keeps up), and a full stream must never refuse the
 * publisher (a refused receipt would not be audited at all).
 */
export const LAYER_STREAM_MAX_MESSAGES = 100_000;
/** Most agents connected to messaging through `messaging.connect` (and in-memory session stores). */
export const MAX_CONNECTED_AGENTS = 10_000;
/** Rounds `settle()` polls before giving up with `PL-503` (each round yields to the event loop once). */
export const MAX_SETTLE_ROUNDS = 10_000;
/**
 * Rounds `settle()` waits for a usage event still being produced (a reserved outbox slot) when
 * nothing else is busy: enough for background signing, not for an operation still running.
 */
const RESERVED_SLOT_ROUNDS = 100;
/** The default runtime-class alias (the spec's scenarios name gVisor; QuickJS serves that class here). */
export const DEFAULT_RUNTIME_ALIASES: Readonly<Record<string, string>> = Object.freeze({ gvisor: 'quickjs' });

const DISPLAY_NAMES: Readonly<Record<keyof EnablementKeys, string>> = Object.freeze({
  runtimeHost: 'Creto Runtime host',
  oversightService: 'Creto Oversight service',
  relayService: 'Creto Messaging relay',
  notificationBot: 'Creto notification bot',
});

type Closer = readonly [name: string, close: () => Promise<unknown> | unknown];

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const codeOf = (error: unknown): string => (EnablementError.is(error) ? error.code : 'PL-500');

/** Creates a stream, or accepts the one of that name already capturing the same subjects. */
async function ensureStream(bus: EventBus, config: StreamConfig): Promise<void> {
  try {
    await bus.addStream(config);
  } catch (error) {
    if (!(EnablementError.is(error) && error.code === 'PL-409')) throw error;
    // A stream of that name exists with other limits (an operator made it on NATS): use it when
    // it captures every subject we need.
    const info = await bus.streamInfo(config.name).catch(() => undefined);
    const covered = config.subjects.every((s) => info?.config.subjects.some((f) => filterContains(f, s)));
    if (!covered) throw error;
  }
}

/** The bus as Metering sees it: every handler call counted (for `settle`), and no `close`. */
function countingBus(bus: EventBus, counter: { inFlight: number }): EventBus {
  const track =
    (handler: MessageHandler): MessageHandler =>
    (message) => {
      counter.inFlight++;
      let result: ReturnType<MessageHandler>;
      try {
        result = handler(message);
      } catch (error) {
        counter.inFlight--;
        throw error;
      }
      return Promise.resolve(result).finally(() => {
        counter.inFlight--;
      });
    };
  return Object.freeze({
    addStream: (config) => bus.addStream(config),
    streamInfo: (name) => bus.streamInfo(name),
    deleteStream: (name) => bus.deleteStream(name),
    addConsumer: (stream, config) => bus.addConsumer(stream, config),
    consumerInfo: (stream, name) => bus.consumerInfo(stream, name),
    deleteConsumer: (stream, name) => bus.deleteConsumer(stream, name),
    publish: (subject, data, options) => bus.publish(subject, data, options),
    subscribe: (stream, consumer, handler) => bus.subscribe(stream, consumer, track(handler)),
    // The layer owns the shared bus: a product closing it would stop the others.
    close: async () => {},
  } satisfies EventBus);
}

/**
 * Builds the whole Enablement layer of spec §1 and wires it (spec §4, §7, §9.1, §11):
 *
 * - the platform (`createPlatform`, or the host's), the four service identities registered in NHI
 *   (post-quantum, from `keys`, derived from `seed`, or generated), the system policies plus the
 *   host's;
 * - the event bus (in-process by default) with the streams of spec §5.2, a buffering publisher
 *   in front of it for usage events (§4.1: 10 K events while the bus is down);
 * - Messaging: the relay, the notification bot, `messaging.connect(agent)`;
 * - the notifier: NHIs end to end through the bot, webhooks by prefix, a log for the rest;
 * - Oversight (quota-breach requests may be approved with an edited `new_limit`), Metering
 *   (consuming `metering.events.runtime`), Runtime (quota from Metering, approvals from
 *   Oversight, usage to the bus; the class `gvisor` served by QuickJS unless the host has a
 *   gVisor driver);
 * - cross-wiring: an approved quota breach raises the quota (§7.3); delivery receipts are audited
 *   (§5.2); every product writes the same audit log.
 *
 * Startup follows `STARTUP_PHASES`: the platform's hard dependencies must answer, then the
 * products start; a hard dependency down rejects with `PL-503` (and everything built so far is
 * closed). Bad options reject with `PL-400` naming the option.
 *
 * @example
 * ```ts
 * const layer = await createEnablement({ policies, runtime: { inference } });
 * const sandbox = await layer.runtime.spawnSandbox({ agent, runtimeClass: 'gvisor' });
 * await layer.settle();
 * await layer.shutdown();
 * ```
 */
export async function createEnablement(options: EnablementOptions = {}): Promise<Enablement> {
  const o = validateOptions(options);
  const logger = o.logger ?? noopLogger;
  const closers: Closer[] = [];
  try {
    return await build(o, logger, closers);
  } catch (error) {
    // Close what was built, newest first; the original error is what the caller needs.
    for (const [name, close] of closers.reverse()) {
      try {
        await close();
      } catch (cleanupError) {
        logger.warn('createEnablement: cleanup step failed', {
          operation: name,
          error_code: codeOf(cleanupError),
        });
      }
    }
    throw error;
  }
}

async function build(o: EnablementOptions, logger: Logger, closers: Closer[]): Promise<Enablement> {
  // ---- Phase 1: the platform (spec §11.1) ------------------------------------------------------
  const given = o.platform;
  const ownsPlatform = !isPlatform(given);
  const clock: Clock = isPlatform(given) ? given.clock : (o.clock ?? systemClock);
  const provider: CryptoProvider = isPlatform(given) ? given.provider : (o.provider ?? nobleCryptoProvider);
  const keys = resolveKeys(o.keys, o.seed, provider);
  const oversightNhi = keys.oversightService.identity.nhi;
  const botNhi = keys.notificationBot.identity.nhi;
  let platform: Platform;
  if (isPlatform(given)) {
    platform = given;
  } else {
    const { audit: auditOptions, ...platformOptions }: Omit<PlatformOptions, 'clock' | 'provider'> =
      given ?? {};
    const issuers = platformOptions.authz?.overrideTokenIssuers ?? [];
    // A durable audit log is opened (and checked against its last signed checkpoint) before any
    // product can write to it.
    const auditStore = o.stores?.audit;
    const audit =
      auditStore === undefined
        ? auditOptions === undefined
          ? {}
          : { audit: auditOptions }
        : {
            auditLog: await openAuditLog({
              ...auditOptions,
              signingKey: auditOptions?.signingKey as Uint8Array, // checked by validateOptions
              store: auditStore,
              clock,
              crypto: provider,
            }),
          };
    platform = createPlatform({
      ...platformOptions,
      ...audit,
      clock,
      provider,
      authz: {
        ...platformOptions.authz,
        // Spec §7.2: authz accepts the tokens Oversight issues, and only those it is told about.
        overrideTokenIssuers: issuers.includes(oversightNhi) ? issuers : [...issuers, oversightNhi],
      },
    });
    closers.push(['platform.dispose', () => platform.dispose()]);
  }
  await Promise.all(
    (Object.keys(keys) as (keyof EnablementKeys)[]).map(async (name) => {
      const key = keys[name];
      if (platform.nhi.status(key.identity.nhi) === 'active') return;
      await platform.nhi.register({
        identity: key.identity,
        proof: registrationProof(key),
        displayName: DISPLAY_NAMES[name],
      });
    }),
  );
  const system = systemPolicies(botNhi);
  let hostPolicies: readonly Policy[] = o.policies ?? hostPart(platform.authz.policies);
  const installPolicies = (policies: readonly Policy[]) => {
    const copy = Object.freeze([...policies]); // a later change to the caller's array changes nothing
    platform.authz.setPolicies([...system, ...copy]);
    hostPolicies = copy;
  };
  installPolicies(hostPolicies);

  let relayOpen = false;
  let botOpen = false;
  const oversightMemory: Pick<MemoryClient, 'fetchReasoningContext'> | undefined =
    o.oversight !== undefined && Object.hasOwn(o.oversight, 'memory') ? o.oversight.memory : platform.memory;
  const probes: PlatformProbes = {
    'creto-nhi': async () => {
      await platform.nhi.lookup(botNhi);
    },
    'creto-authz': async () => {
      await platform.authz.check({
        principal: botNhi,
        action: 'messaging:send',
        resource: `agent:${botNhi}`,
      });
    },
    'creto-crypto': cryptoProbe((data) => provider.sha256(data)),
    'creto-consensus': async () => {
      await platform.consensus.getTimestamp();
    },
    'creto-audit': async () => {
      await platform.audit.query({ limit: 1 });
    },
    'creto-memory':
      o.runtime?.memory === undefined
        ? async () => {
            await platform.memory.fetchReasoningContext(botNhi, 'creto.health', 1);
          }
        : undefined,
    oversightMemory:
      oversightMemory === undefined
        ? () => false
        : async () => {
            await oversightMemory.fetchReasoningContext(oversightNhi, 'creto.health', 1);
          },
    // Up while the relay and the bot are (both are built below, before any check runs).
    'creto-messaging': () => relayOpen && botOpen,
  };
  await checkPlatform(probes, logger);

  // ---- the event bus and its streams (spec §4.1, §5.2) -----------------------------------------
  const ownsBus = o.bus === undefined;
  const bus: EventBus = o.bus ?? createInProcessEventBus({ clock });
  if (ownsBus) closers.push(['bus.close', () => bus.close()]);
  const busOptions = { ...DEFAULT_BUS_OPTIONS, ...o.metering?.busOptions };
  if (busOptions.createStream) {
    await ensureStream(bus, { name: busOptions.stream, subjects: [...busOptions.streamSubjects] });
  }
  await ensureStream(bus, {
    name: OVERSIGHT_NOTIFICATIONS_STREAM,
    subjects: ['oversight.notifications.>'],
    maxMessages: LAYER_STREAM_MAX_MESSAGES,
    discard: 'old',
  });
  await ensureStream(bus, {
    name: RECEIPTS_STREAM,
    subjects: ['messaging.delivery_receipts'],
    maxMessages: LAYER_STREAM_MAX_MESSAGES,
    discard: 'old',
  });
  const publisher: BufferingPublisher = createBufferingPublisher({ bus, clock });
  closers.push(['publisher.close', () => publisher.close()]);
  const usage = createBusUsageSink({ publisher });

  // ---- Messaging: relay, notification bot, agent connections (spec §4.3, §4.4) -----------------
  const relayOptions: MessagingRelayOptions = {
    authz: platform.authz,
    nhi: platform.nhi,
    clock,
    consensus: platform.consensus,
    serviceKey: keys.relayService,
    eventBus: bus,
    audit: platform.audit,
    provider,
    ...(o.stores?.idempotency === undefined ? {} : { replayStore: o.stores.idempotency }),
    onError: (error, context) =>
      logger.warn('messaging relay: background failure', {
        product: 'messaging',
        operation: context.operation,
        error_code: codeOf(error),
      }),
  };
  // With a queue store, envelopes accepted for offline agents before a restart are loaded back.
  const relayQueues = o.stores?.relayQueues;
  const relay: MessagingRelay =
    relayQueues === undefined
      ? createMessagingRelay(relayOptions)
      : await openMessagingRelay({ ...relayOptions, queueStore: relayQueues });
  closers.push(['relay.close', () => relay.close()]);
  relayOpen = true;
  const sessionStores = new Map<string, SessionStore>();
  const sessionsFor = (nhi: string): SessionStore => {
    const factory = o.stores?.messagingSessions;
    if (factory !== undefined) return factory(nhi);
    let store = sessionStores.get(nhi);
    if (store === undefined) {
      if (sessionStores.size >= MAX_CONNECTED_AGENTS + 1) {
        throw new EnablementError('PL-503', `messaging: more than ${MAX_CONNECTED_AGENTS} agents`, {
          retryable: true,
        });
      }
      store = createInMemorySessionStore();
      sessionStores.set(nhi, store);
    }
    return store;
  };
  const openClient = (agent: AgentKeyPair, prekeys?: { oneTimePrekeys: number; replenishBelow: number }) =>
    createMessagingClient({
      identity: agent,
      nhi: platform.nhi,
      transport: (onEnvelope) => connectInProcessTransport({ relay, keyPair: agent, onEnvelope }),
      sessionStore: sessionsFor(agent.identity.nhi),
      clock,
      provider,
      ...prekeys,
    });
  // The bot starts every session it has (it is not meant to be messaged): no one-time prekeys,
  // so its start costs no KEM key generation; a reply to it uses its last-resort prekeys.
  const bot = await openClient(keys.notificationBot, { oneTimePrekeys: 0, replenishBelow: 0 });
  botOpen = true;
  closers.push([
    'bot.close',
    async () => {
      botOpen = false;
      await bot.close();
    },
  ]);
  // Nobody reads replies to the bot: drain them so its receive buffer never fills.
  void (async () => {
    for await (const message of bot.messages()) {
      logger.debug('message to the notification bot ignored', {
        product: 'messaging',
        message_id: message.messageId,
      });
    }
  })().catch(() => {});

  // ---- the notifier (spec §4.4) and Oversight (§4.2) -------------------------------------------
  const notifications = createLayerNotifier({
    bot,
    clock,
    provider,
    webhooks: o.webhooks ?? [],
    logger,
    onNotification: o.onNotification,
  });
  closers.push(['notifier.close', () => notifications.close()]);
  const quotaPolicyId = o.metering?.quotaOversight?.policyId ?? QUOTA_NOTIFICATION_POLICY_ID;
  const oversightOptions = o.oversight ?? {};
  const oversight: OversightEngine = createOversight({
    clock,
    consensus: platform.consensus,
    audit: platform.audit,
    memory: platform.memory,
    eventBus: bus,
    logger,
    ...(o.stores?.idempotency === undefined ? {} : { idempotencyStore: o.stores.idempotency }),
    ...oversightOptions,
    // §7.3: the approver sets the new limit by editing the request ("Increase quota to 200K").
    policies: {
      ...oversightOptions.policies,
      [quotaPolicyId]: { allowEdits: true, ...oversightOptions.policies?.[quotaPolicyId] },
    },
    nhi: platform.nhi,
    serviceKey: keys.oversightService,
    notifier: notifications.notifier,
    ...(o.stores?.oversight === undefined ? {} : { store: o.stores.oversight }),
  });
  closers.push(['oversight.close', () => oversight.close()]);

  // ---- Metering (§4.1, §4.5) ----------------------------------------------------------------
  const meteringHandlers = { inFlight: 0 };
  const metering: Metering = createMetering({
    clock,
    consensus: platform.consensus,
    audit: platform.audit,
    provider,
    logger,
    ...o.metering,
    nhi: platform.nhi,
    bus: countingBus(bus, meteringHandlers),
    // Quota-breach requests need approvers (`metering.quotaOversight`); without them Metering
    // only warns the agent (spec §7.3's message), it raises no request.
    ...(o.metering?.quotaOversight === undefined ? {} : { oversight }),
    notifier: notifications.notifier,
    ...(o.stores?.metering === undefined ? {} : { store: o.stores.metering }),
  });
  closers.push(['metering.close', () => metering.close()]);

  // ---- Runtime (§3.1, §4.1–4.3, §7.1, §7.2) ----------------------------------------------------
  // Spec §8.2: Metering's MT-429 carries the trace id of the spawn it refused, so RT-429 and its
  // cause correlate (Runtime copies the cause's trace id onto RT-429).
  const quota: QuotaClient = {
    async checkQuota(query) {
      const decision = await metering.checkQuota(query);
      return decision.error === undefined ? decision : { ...decision, error: withTraceId(decision.error) };
    },
  };
  const runtimeOptions = o.runtime ?? {};
  const drivers = runtimeOptions.drivers;
  const servesQuickJs = drivers === undefined || Object.hasOwn(drivers, 'quickjs');
  const hasGvisor = drivers !== undefined && Object.hasOwn(drivers, 'gvisor');
  const aliases = {
    ...(servesQuickJs && !hasGvisor ? DEFAULT_RUNTIME_ALIASES : {}),
    ...runtimeOptions.aliases,
  };
  const runtime: Runtime = createRuntime({
    logger,
    ...(o.stores?.idempotency === undefined ? {} : { idempotencyStore: o.stores.idempotency }),
    ...runtimeOptions,
    aliases,
    platform,
    hostKey: keys.runtimeHost,
    quota,
    oversight,
    usage,
  });
  closers.push(['runtime.close', () => runtime.close()]);

  // ---- cross-wiring (§7.3, §5.2) and the saga (§9.1) -------------------------------------------
  const approvals = wireQuotaApprovals({ oversight, metering, policyId: quotaPolicyId, logger });
  closers.push(['approvals.stop', () => approvals.stop()]);
  const receipts = await startReceiptAuditConsumer({
    bus,
    audit: platform.audit,
    relay: keys.relayService.identity,
    provider,
    logger,
  });
  closers.push(['receipts.stop', () => receipts.stop()]);

  let state: 'running' | 'stopping' | 'stopped' = 'running';
  const assertRunning = (): void => {
    if (state !== 'running') throw new EnablementError('PL-503', 'the Enablement layer is shut down');
  };
  const sagaHandle = createEnablementSaga({
    metering,
    runtime,
    bot,
    clock,
    logger,
    log: o.stores?.sagaLog,
    assertRunning,
  });

  // ---- Phase 2: the products start (in parallel) -----------------------------------------------
  await Promise.all([metering.start(), oversight.start()]);
  const health = createProductHealth({ clock, logger, probes, running: () => state === 'running' });
  const reports = await Promise.all(STARTUP_PHASES[1].map((product) => health[product].check()));
  const blocked = STARTUP_PHASES[1].flatMap((product, i) => {
    const report = reports[i];
    return report === undefined ? [] : hardDown(report).map((d) => `${product}: ${d}`);
  });
  if (blocked.length > 0) {
    throw new EnablementError('PL-503', `createEnablement: hard dependencies down (${blocked.join(', ')})`, {
      retryable: true,
    });
  }
  if (o.stores?.sagaLog !== undefined) {
    const recovery = await sagaHandle.recover();
    if (recovery.results.length > 0 || recovery.skipped.length > 0) {
      logger.warn('provisioning runs interrupted by a restart were compensated', {
        operation: 'provision_agent.recover',
        compensated: recovery.results.length,
        skipped: recovery.skipped.length,
      });
    }
  }

  // ---- messaging.connect ------------------------------------------------------------------------
  const connections = new Map<string, MessagingClient>();
  const connecting = new Map<string, Promise<MessagingClient>>();
  const connect = async (agent: AgentKeyPair): Promise<MessagingClient> => {
    assertRunning();
    if (
      typeof agent !== 'object' ||
      agent === null ||
      typeof (agent as Partial<AgentKeyPair>).signHybrid !== 'function'
    ) {
      throw new EnablementError('PL-400', 'messaging.connect: agent: expected an AgentKeyPair');
    }
    if (!agent.postQuantum) {
      throw new EnablementError(
        'PL-400',
        'messaging.connect: agent: expected a post-quantum key pair (envelopes are hybrid-signed)',
      );
    }
    const nhi = agent.identity.nhi;
    if (nhi === botNhi) {
      throw new EnablementError(
        'PL-409',
        'messaging.connect: the notification bot is connected by the layer',
      );
    }
    if (platform.nhi.status(nhi) !== 'active') {
      throw new EnablementError('PL-404', `messaging.connect: ${nhi} is not an active registered principal`);
    }
    const open = connections.get(nhi);
    if (open !== undefined) return open;
    const inProgress = connecting.get(nhi);
    if (inProgress !== undefined) return inProgress;
    if (connections.size + connecting.size >= MAX_CONNECTED_AGENTS) {
      throw new EnablementError(
        'PL-503',
        `messaging.connect: more than ${MAX_CONNECTED_AGENTS} agents connected`,
        {
          retryable: true,
        },
      );
    }
    const opening = (async () => {
      const client = await openClient(agent);
      if (state !== 'running') {
        await client.close();
        assertRunning();
      }
      const wrapped: MessagingClient = Object.freeze({
        nhi: client.nhi,
        send: (recipient, payload, sendOptions) => client.send(recipient, payload, sendOptions),
        sendMessage: (recipient, payload, sendOptions) => client.sendMessage(recipient, payload, sendOptions),
        onMessage: (callback) => client.onMessage(callback),
        messages: () => client.messages(),
        markRead: (messageId) => client.markRead(messageId),
        receive: (envelope) => client.receive(envelope),
        replenishPrekeys: () => client.replenishPrekeys(),
        close: async () => {
          if (connections.get(nhi) === wrapped) connections.delete(nhi);
          await client.close();
        },
      } satisfies MessagingClient);
      connections.set(nhi, wrapped);
      return wrapped;
    })();
    connecting.set(nhi, opening);
    try {
      return await opening;
    } finally {
      connecting.delete(nhi);
    }
  };
  const messaging: EnablementMessaging = Object.freeze({ relay, bot, connect });

  // ---- settle, health, shutdown -----------------------------------------------------------------
  const backlog = async (stream: string, consumer: string): Promise<number> =>
    (await bus.consumerInfo(stream, consumer)).state.numPending;

  /** Waits until the pipelines are quiet (see `settle`); also the drain step of `shutdown`. */
  async function drain(): Promise<void> {
    let quiet = 0;
    let onlyReserved = 0;
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      await runtime.flushUsage();
      if (publisher.buffered > 0) await publisher.flush();
      await notifications.idle();
      await approvals.idle();
      await metering.flush();
      await relay.whenIdle();
      const usageStats = runtime.stats().usage;
      const busy =
        usageStats.pending > 0 ||
        publisher.buffered > 0 ||
        notifications.inFlight > 0 ||
        approvals.pending > 0 ||
        meteringHandlers.inFlight > 0 ||
        receipts.inFlight > 0 ||
        (await backlog(busOptions.stream, busOptions.consumer)) > 0 ||
        (await backlog(RECEIPTS_STREAM, RECEIPTS_AUDIT_CONSUMER)) > 0;
      // A reserved outbox slot is an event being produced: signed in the background right after
      // a model call or an egress (worth waiting for), or an operation still running (a spawn or
      // a model call in progress, which may take as long as it likes). Waited for a while only.
      onlyReserved = !busy && usageStats.reserved > 0 ? onlyReserved + 1 : 0;
      const waitingForSigning = onlyReserved > 0 && onlyReserved < RESERVED_SLOT_ROUNDS;
      // Two quiet rounds in a row: work one step started (a receipt after a delivery, an
      // oversight request after an ingestion) has had a full event-loop turn to show up.
      quiet = busy || waitingForSigning ? 0 : quiet + 1;
      if (quiet >= 2) return;
      await macrotask();
    }
    throw new EnablementError('PL-503', `settle: the layer is still busy after ${MAX_SETTLE_ROUNDS} rounds`, {
      retryable: true,
    });
  }

  async function settle(): Promise<void> {
    if (state === 'running') await drain();
  }

  async function healthOf(): Promise<EnablementHealth> {
    const [runtimeReport, meteringReport, oversightReport, messagingReport] = await Promise.all([
      health.runtime.check(),
      health.metering.check(),
      health.oversight.check(),
      health.messaging.check(),
    ]);
    const products = Object.freeze({
      runtime: runtimeReport,
      metering: meteringReport,
      oversight: oversightReport,
      messaging: messagingReport,
    }) satisfies Record<string, HealthReport>;
    return Object.freeze({ status: worstStatus(Object.values(products)), products });
  }

  let stopping: Promise<void> | undefined;
  function shutdown(): Promise<void> {
    stopping ??= (async () => {
      state = 'stopping';
      const failures: EnablementError[] = [];
      const step = async (name: string, run: () => Promise<unknown> | unknown) => {
        try {
          await run();
        } catch (error) {
          logger.error('shutdown step failed', { operation: name, error_code: codeOf(error) });
          failures.push(
            EnablementError.is(error)
              ? error
              : new EnablementError('PL-500', `shutdown: ${name} failed`, { cause: error }),
          );
        }
      };
      // Runtime first: its sandboxes end (usage events with their durations), then the usage
      // buffer is flushed onto the bus and Metering ingests what is there before it stops.
      await step('runtime.close', () => runtime.close());
      await step('runtime.flushUsage', () => runtime.flushUsage());
      await step('publisher.close', () => publisher.close());
      await step('drain', () => drain());
      await step('approvals.stop', () => approvals.stop());
      await step('metering.close', () => metering.close());
      await step('oversight.close', () => oversight.close());
      await step('notifier.close', async () => {
        const { abandoned } = await notifications.close();
        if (abandoned.length > 0) {
          logger.warn('notifications abandoned at shutdown', {
            operation: 'shutdown',
            abandoned: abandoned.length,
          });
        }
      });
      for (const [nhi, client] of [...connections]) {
        await step(`messaging.client ${nhi}`, () => client.close());
      }
      await step('bot.close', async () => {
        botOpen = false;
        await bot.close();
      });
      await step('receipts.stop', () => receipts.stop());
      await step('relay.close', async () => {
        relayOpen = false;
        await relay.close();
      });
      if (ownsBus) await step('bus.close', () => bus.close());
      if (ownsPlatform) await step('platform.dispose', () => platform.dispose());
      state = 'stopped';
      if (failures.length > 0) {
        throw new EnablementError('PL-500', `shutdown: ${failures.length} step(s) failed`, {
          cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
        });
      }
    })();
    return stopping;
  }

  return Object.freeze({
    platform,
    bus,
    runtime,
    metering,
    oversight,
    messaging,
    saga: sagaHandle.saga,
    keys,
    setPolicies(policies: readonly Policy[]): void {
      assertHostPolicies(policies, 'policies');
      installPolicies(policies);
    },
    get policies() {
      return hostPolicies;
    },
    settle,
    health: healthOf,
    shutdown,
  });
}

/**
 * Phase 1 of spec §11.1: the platform services every product needs hard (spec §2.2) must answer
 * before any product starts; soft ones (memory for Oversight, audit) only degrade and are logged.
 */
async function checkPlatform(probes: PlatformProbes, logger: Logger): Promise<void> {
  const hard = new Set(Object.values(HARD_DEPENDENCIES).flat());
  const down: string[] = [];
  await Promise.all(
    STARTUP_PHASES[0].map(async (service) => {
      const name = `creto-${service}` as const;
      const probe: HealthCheckFn | undefined =
        name === 'creto-memory'
          ? probes.oversightMemory
          : (probes as unknown as Record<string, HealthCheckFn>)[name];
      if (probe === undefined) return;
      let up: boolean;
      try {
        up = (await probe(new AbortController().signal)) !== false;
      } catch {
        up = false;
      }
      if (up) return;
      if (hard.has(service)) down.push(name);
      else logger.warn('platform service down at startup: degraded', { operation: 'startup', service: name });
    }),
  );
  if (down.length > 0) {
    throw new EnablementError(
      'PL-503',
      `createEnablement: platform services not ready (${down.sort().join(', ')})`,
      {
        retryable: true,
      },
    );
  }
}
