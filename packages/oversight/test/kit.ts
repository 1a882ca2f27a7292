// Shared fixtures of the Oversight tests: a platform on a FakeClock, registered principals, a
// recording notifier, request builders and response signing. Test-only (outside src/).
import {
  AgentKeyPair,
  type AuditLog,
  createMemoryIdempotencyStore,
  createPlatform,
  EnablementError,
  type IdempotencyStore,
  type Notification,
  type NotificationReceipt,
  type Notifier,
  type OversightRequirement,
  type Platform,
  registrationProof,
} from '@creto/core';
import { FakeClock } from '@creto/testing';
import {
  createOversight,
  type OversightEngine,
  type OversightOptions,
  type OversightRequestInput,
} from '../src/engine/index.js';
import {
  type ApprovalResponseInput,
  type SignedApprovalResponse,
  signApprovalResponse,
} from '../src/responses/index.js';
import { createMemoryOversightStore, type MemoryOversightStore } from '../src/store/index.js';

export const HOUR_MS = 3_600_000;
export const MS = 1_000_000n;

const seed = (n: number) => new Uint8Array(32).fill(n);

/** Classical keys (fast): every principal of the tests. */
export const keys = {
  service: AgentKeyPair.fromSeed(seed(1), { kind: 'service' }),
  agent: AgentKeyPair.fromSeed(seed(2)),
  root: AgentKeyPair.fromSeed(seed(3), { kind: 'human' }),
  cfo: AgentKeyPair.fromSeed(seed(4), { kind: 'human' }),
  ceo: AgentKeyPair.fromSeed(seed(5), { kind: 'human' }),
  a1: AgentKeyPair.fromSeed(seed(6), { kind: 'human' }),
  a2: AgentKeyPair.fromSeed(seed(7), { kind: 'human' }),
  a3: AgentKeyPair.fromSeed(seed(8), { kind: 'human' }),
  outsider: AgentKeyPair.fromSeed(seed(9), { kind: 'human' }),
  finance: AgentKeyPair.fromSeed(seed(10), { kind: 'human' }),
  unregistered: AgentKeyPair.fromSeed(seed(11), { kind: 'human' }),
  bot: AgentKeyPair.fromSeed(seed(12)),
};

export const nhiOf = (key: AgentKeyPair) => key.identity.nhi;

/** One recorded notification and the instant it was sent. */
export interface SentNotification {
  readonly notification: Notification;
  readonly at: bigint;
}

/** A notifier that records; per recipient it can answer `queued` or reject. */
export interface RecordingNotifier extends Notifier {
  readonly sent: SentNotification[];
  readonly queuedFor: Set<string>;
  readonly failFor: Set<string>;
  recipients(): string[];
}

export function recordingNotifier(clock: FakeClock): RecordingNotifier {
  const sent: SentNotification[] = [];
  const queuedFor = new Set<string>();
  const failFor = new Set<string>();
  return {
    sent,
    queuedFor,
    failFor,
    recipients: () => sent.map((s) => s.notification.recipient),
    async notify(notification: Notification): Promise<NotificationReceipt> {
      sent.push({ notification, at: clock.now() });
      if (failFor.has(notification.recipient)) throw new EnablementError('MS-404', 'unknown recipient');
      if (queuedFor.has(notification.recipient)) {
        return {
          notificationId: notification.id,
          status: 'queued',
          channel: 'test',
          error: new EnablementError('OV-202', 'queued'),
        };
      }
      return { notificationId: notification.id, status: 'delivered', channel: 'test' };
    },
  };
}

export interface Kit {
  readonly clock: FakeClock;
  readonly platform: Platform;
  readonly store: MemoryOversightStore;
  readonly idempotencyStore: IdempotencyStore;
  readonly notifier: RecordingNotifier;
  readonly engine: OversightEngine;
  readonly errors: unknown[];
  /** A new engine on the same store, idempotency store and clock (a restart). */
  restart(overrides?: Partial<OversightOptions>): OversightEngine;
}

export interface KitOptions {
  readonly engine?: Partial<OversightOptions>;
  /** Register principals (default true). */
  readonly register?: boolean;
  readonly audit?: AuditLog;
}

export async function createKit(options: KitOptions = {}): Promise<Kit> {
  const clock = new FakeClock();
  const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [nhiOf(keys.service)] } });
  if (options.register !== false) {
    await platform.nhi.register({ identity: keys.service.identity });
    await platform.nhi.register({ identity: keys.agent.identity });
    await platform.nhi.register({ identity: keys.root.identity });
    await platform.nhi.register({ identity: keys.cfo.identity, roles: ['cfo'], groups: ['finance'] });
    await platform.nhi.register({ identity: keys.ceo.identity, roles: ['ceo'] });
    for (const k of [keys.a1, keys.a2, keys.a3])
      await platform.nhi.register({ identity: k.identity, roles: ['approver'] });
    await platform.nhi.register({ identity: keys.outsider.identity });
    await platform.nhi.register({ identity: keys.finance.identity, groups: ['finance', 'team:payments'] });
    await platform.nhi.register({ identity: keys.bot.identity });
  }
  const store = createMemoryOversightStore();
  const idempotencyStore = createMemoryIdempotencyStore({ clock });
  const notifier = recordingNotifier(clock);
  const errors: unknown[] = [];
  const make = (overrides: Partial<OversightOptions> = {}) =>
    createOversight({
      nhi: platform.nhi,
      serviceKey: keys.service,
      clock,
      consensus: platform.consensus,
      store,
      idempotencyStore,
      notifier,
      audit: options.audit ?? platform.audit,
      memory: platform.memory,
      approvalLinkBase: 'https://approvals.example.com/requests',
      onError: (error) => errors.push(error),
      ...options.engine,
      ...overrides,
    });
  return { clock, platform, store, idempotencyStore, notifier, engine: make(), errors, restart: make };
}

export function tier(
  approvers: readonly AgentKeyPair[] | readonly string[],
  quorum = 1,
  timeoutMs = 2 * HOUR_MS,
) {
  return {
    approvers: approvers.map((a) => (typeof a === 'string' ? a : nhiOf(a))),
    quorum,
    timeoutMs,
  };
}

export function requirement(
  tiers: OversightRequirement['tiers'] = [tier([keys.cfo])],
  finalAction: OversightRequirement['finalAction'] = 'auto_deny',
): OversightRequirement {
  return { tiers, finalAction };
}

/** The spec §7.2 transfer: 50 000 USD, policy `large_transfer`, CFO with a 2 h timeout. */
export function transfer(overrides: Partial<OversightRequestInput> = {}): OversightRequestInput {
  return {
    agentNhi: nhiOf(keys.agent),
    delegationChain: [],
    action: { name: 'funds.transfer', parameters: { amount: 50000, currency: 'USD' } },
    resource: { resourceType: 'payments', resourceId: 'account:ops' },
    policyId: 'large_transfer' as OversightRequestInput['policyId'],
    requirement: requirement(),
    actionDescription: 'Transfer 50,000 USD to vendor ACME (invoice 2024-117)',
    riskFactors: [{ name: 'large_transfer', severity: 'high', description: 'Above the 10,000 USD limit' }],
    ...overrides,
  };
}

/** A response signed by `key` at the clock's time. */
export function respond(
  clock: FakeClock,
  key: AgentKeyPair,
  requestId: string,
  decision: 'APPROVE' | 'DENY' = 'APPROVE',
  extra: Partial<ApprovalResponseInput> = {},
): SignedApprovalResponse {
  return signApprovalResponse(key, {
    requestId: requestId as ApprovalResponseInput['requestId'],
    decision,
    respondedAt: clock.now(),
    ...extra,
  });
}

/** Lets queued promise continuations (store commits, notifications) run. */
export async function settle(clock: FakeClock): Promise<void> {
  await clock.advanceAsync(0);
}

/** Registers a post-quantum principal (proof of possession included). */
export async function registerPq(platform: Platform, key: AgentKeyPair, roles: string[] = []): Promise<void> {
  await platform.nhi.register({ identity: key.identity, proof: registrationProof(key), roles });
}
