import type {
  AgentKeyPair,
  AuditLogStore,
  Clock,
  CryptoProvider,
  EnablementError,
  EventBus,
  HealthReport,
  IdempotencyStore,
  Logger,
  Notification,
  NotificationReceipt,
  Platform,
  PlatformOptions,
  Policy,
  SagaLog,
} from '@creto/core';
import type { MessagingClient, MessagingRelay, RelayQueueStore, SessionStore } from '@creto/messaging';
import type { Metering, MeteringOptions, MeteringStore } from '@creto/metering';
import type { OversightEngine, OversightOptions, OversightStore } from '@creto/oversight';
import type { Runtime, RuntimeOptions } from '@creto/runtime';

/**
 * Service identities of the layer. Each is registered in NHI at startup. Absent ones are
 * generated (from `seed` when given, so tests get the same keys every run).
 */
export interface EnablementKeys {
  /** Runtime host identity (kind `service`, post-quantum): signs sandbox attestations. */
  readonly runtimeHost?: AgentKeyPair;
  /** Oversight service identity (kind `service`, post-quantum): signs override tokens. */
  readonly oversightService?: AgentKeyPair;
  /** Messaging relay identity (kind `service`, post-quantum): signs delivery receipts. */
  readonly relayService?: AgentKeyPair;
  /**
   * The notification bot (kind `agent`, post-quantum): the sender of every end-to-end
   * notification (approval requests §4.4, quota warnings §7.3, invoices §7.4, welcome messages §9.1).
   */
  readonly notificationBot?: AgentKeyPair;
}

/** Where durable state lives. Absent stores are the in-memory defaults. */
export interface EnablementStores {
  /** Metering events, aggregates, subscriptions, quotas, invoices. */
  readonly metering?: MeteringStore;
  /** Oversight requests, votes, deadlines, transitions. */
  readonly oversight?: OversightStore;
  /** Idempotency records of every product (spec §9.2), e.g. the Redis store. */
  readonly idempotency?: IdempotencyStore;
  /** Saga log of `EnablementSaga` (spec §9.1), so a crash mid-provisioning is compensated on restart. */
  readonly sagaLog?: SagaLog;
  /** Session store for a messaging client, per owner NHI (bot and connected agents). */
  readonly messagingSessions?: (ownerNhi: string) => SessionStore;
  /**
   * The messaging relay's offline queues (`openMessagingRelay`): an envelope accepted for an
   * offline agent survives a restart and is delivered when the agent connects.
   */
  readonly relayQueues?: RelayQueueStore;
  /**
   * The audit log's leaves and checkpoints (`openAuditLog`): the log reopens with the same tree
   * and verifies its stored leaves against its last signed checkpoint. Needs
   * `platform.audit.signingKey` (a durable log needs a stable checkpoint key), and cannot be
   * combined with a ready-made `Platform` (open that platform's log yourself).
   */
  readonly audit?: AuditLogStore;
}

/** A webhook that receives notifications whose recipient starts with `recipientPrefix`. */
export interface EnablementWebhook {
  /** Recipients routed here, e.g. `https://` or `mailto:`-style names such as `billing@`. */
  readonly recipientPrefix: string;
  /** Endpoint URL. */
  readonly url: string;
  /** Standard Webhooks signing secret (`whsec_…`). */
  readonly secret: string;
}

/**
 * Told about every notification the layer routes (approval requests, quota warnings, invoices):
 * the notification and either its receipt or why it was refused. For recorders in tests and for
 * monitoring; it cannot change the routing. An exception it throws is logged and ignored.
 */
export type NotificationListener = (
  notification: Notification,
  receipt: NotificationReceipt | undefined,
  error: EnablementError | undefined,
) => void;

/** Options of `createEnablement`. Every option is optional: `createEnablement()` gives a working layer. */
export interface EnablementOptions {
  /** Time for everything; default the system clock (tests pass `FakeClock`). */
  readonly clock?: Clock;
  /** Crypto for everything; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** A platform built by the host, or options for the one built here (its `clock`/`provider` come from above). */
  readonly platform?: Platform | Omit<PlatformOptions, 'clock' | 'provider'>;
  /** The event bus (e.g. `@creto/nats`); default the in-process bus on `clock`. */
  readonly bus?: EventBus;
  /** Durable stores (e.g. `@creto/postgres`, `@creto/redis`). */
  readonly stores?: EnablementStores;
  /** Service identities. */
  readonly keys?: EnablementKeys;
  /** 32-byte seed from which absent service keys are derived (deterministic tests and demos). */
  readonly seed?: Uint8Array;
  /**
   * The host's authorization policies. System policies (ids starting `creto.`) are added in front:
   * the notification bot may message any agent; nothing else is granted.
   */
  readonly policies?: readonly Policy[];
  /** Runtime settings passed through (drivers, aliases, tools, inference, fetch, limits, …). */
  readonly runtime?: Partial<Omit<RuntimeOptions, 'hostKey' | 'platform' | 'quota' | 'oversight' | 'usage'>>;
  /** Metering settings passed through (meters, grace period, quota oversight, …). */
  readonly metering?: Partial<Omit<MeteringOptions, 'nhi' | 'bus' | 'oversight' | 'notifier' | 'store'>>;
  /** Oversight settings passed through (rules, policies, approval link, …). */
  readonly oversight?: Partial<Omit<OversightOptions, 'nhi' | 'serviceKey' | 'notifier' | 'store'>>;
  /** Webhooks for notifications whose recipient is not an NHI. */
  readonly webhooks?: readonly EnablementWebhook[];
  /** Structured logger for every product; silent by default. */
  readonly logger?: Logger;
  /** Told about every routed notification (see {@link NotificationListener}). */
  readonly onNotification?: NotificationListener;
}

/** Readiness of the whole layer (spec §11): platform first, then each product. */
export interface EnablementHealth {
  /** `ready`, `degraded` (a soft dependency is down) or `not_ready`. */
  readonly status: HealthReport['status'];
  /** Per product. */
  readonly products: Readonly<Record<'runtime' | 'metering' | 'oversight' | 'messaging', HealthReport>>;
}

/** The messaging side of the layer. */
export interface EnablementMessaging {
  /** The relay (sees only ciphertext). */
  readonly relay: MessagingRelay;
  /** The notification bot's client. */
  readonly bot: MessagingClient;
  /**
   * Connects an agent to the relay and returns its client (publishing its prekeys first). The
   * agent must be registered in NHI. Clients are closed by `shutdown()`.
   */
  connect(agent: AgentKeyPair): Promise<MessagingClient>;
}

/** What `EnablementSaga.provisionAgent` returns (spec §9.1). */
export interface ProvisionResult {
  /** The subscription created in Metering. */
  readonly subscriptionId: string;
  /** The sandbox spawned in Runtime. */
  readonly sandboxId: string;
  /** Whether the non-critical welcome message was sent (a failure only warns). */
  readonly welcomeSent: boolean;
}

/** Input of `EnablementSaga.provisionAgent`. */
export interface ProvisionAgentInput {
  /** The agent (registered in NHI, post-quantum: it signs usage events). */
  readonly agent: AgentKeyPair;
  /** Plan to subscribe to. */
  readonly planId: string;
  /** Organisation billed. */
  readonly organizationId: string;
  /** Who receives invoices (an NHI or a webhook-routed name). */
  readonly billingContact: string;
  /** Runtime class of the first sandbox; default `quickjs`. */
  readonly runtimeClass?: string;
  /** Image recorded in the attestation; default `agent-base:latest`. */
  readonly image?: string;
}

/** The saga of spec §9.1 on the core saga coordinator. */
export interface EnablementSaga {
  /**
   * Subscription → sandbox → welcome message. When the sandbox cannot be spawned the subscription
   * is deleted (compensation) and the promise rejects with the spawn step's own error (e.g.
   * `RT-429`). The welcome message is non-critical: its failure is a warning and
   * `welcomeSent: false`.
   */
  provisionAgent(input: ProvisionAgentInput): Promise<ProvisionResult>;
}

/** The whole layer, wired (see `createEnablement`). */
export interface Enablement {
  /** Shared platform services. */
  readonly platform: Platform;
  /** The event bus. */
  readonly bus: EventBus;
  /** Runtime engine. */
  readonly runtime: Runtime;
  /** Metering engine (consuming `metering.events.runtime`). */
  readonly metering: Metering;
  /** Oversight engine. */
  readonly oversight: OversightEngine;
  /** Messaging relay, bot and agent connections. */
  readonly messaging: EnablementMessaging;
  /** The §9.1 saga. */
  readonly saga: EnablementSaga;
  /** The service identities in use (public parts: use `.identity`). */
  readonly keys: Required<EnablementKeys>;
  /**
   * Replaces the host's policies (system policies stay). `PL-400` naming `policies[i]` for an
   * invalid policy or one whose id uses the reserved `creto.` prefix; nothing changes then.
   */
  setPolicies(policies: readonly Policy[]): void;
  /** The host's policies installed now (without the system policies). */
  readonly policies: readonly Policy[];
  /**
   * Waits until every usage event published so far is ingested and every notification in flight
   * is sent (tests and demos call it between steps; with `FakeClock` it advances nothing).
   */
  settle(): Promise<void>;
  /** Readiness of the layer (spec §11.2). */
  health(): Promise<EnablementHealth>;
  /**
   * Graceful stop: stop accepting work, flush the usage buffer and the bus, drain notifications,
   * close products in reverse startup order, dispose the platform. Idempotent.
   */
  shutdown(): Promise<void>;
}
