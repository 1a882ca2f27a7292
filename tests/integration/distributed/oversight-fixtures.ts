// Test support for the Oversight integration tests on PostgreSQL: the parties, the spec §7.2
// transfer, a recording notifier, and one "process" (a platform and engines on a given database).
import {
  AgentKeyPair,
  type Clock,
  createPlatform,
  type Notification,
  type NotificationReceipt,
  type Platform,
} from '@creto/core';
import { createOversight, type OversightEngine, type OversightRequestInput } from '@creto/oversight';
import {
  createPostgresIdempotencyStore,
  createPostgresOversightStore,
  type SqlClient,
} from '@creto/postgres';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

// Classical keys: these tests are about restart and wake-ups, not signatures (once per file).
export const service = AgentKeyPair.generate({ kind: 'service' });
export const agent = AgentKeyPair.generate();
export const cfo = AgentKeyPair.generate({ kind: 'human' });
export const ceo = AgentKeyPair.generate({ kind: 'human' });

/** The spec §7.2 transfer: the CFO for an hour, then the CEO for an hour, then auto-deny. */
export const transfer = (resourceId: string): OversightRequestInput => ({
  agentNhi: agent.identity.nhi,
  delegationChain: [],
  action: { name: 'funds.transfer', parameters: { amount: 50000, currency: 'USD' } },
  resource: { resourceType: 'payments', resourceId },
  policyId: 'large_transfer' as OversightRequestInput['policyId'],
  requirement: {
    tiers: [
      { approvers: [cfo.identity.nhi], quorum: 1, timeoutMs: HOUR_MS },
      { approvers: [ceo.identity.nhi], quorum: 1, timeoutMs: HOUR_MS },
    ],
    finalAction: 'auto_deny' as const,
  },
  actionDescription: 'Transfer 50,000 USD to vendor ACME',
  riskFactors: [{ name: 'large_transfer', severity: 'high' as const }],
});

/** A notifier that records every notification, and who was notified about a request. */
export function recordingNotifier() {
  const notified: Notification[] = [];
  return {
    notified,
    notifier: {
      async notify(notification: Notification): Promise<NotificationReceipt> {
        notified.push(notification);
        return { notificationId: notification.id, status: 'delivered' as const, channel: 'test' };
      },
    },
    recipients: (requestId: string) =>
      notified.filter((n) => JSON.stringify(n.data ?? null).includes(requestId)).map((n) => n.recipient),
  };
}

/** What one process's engines share. */
export interface OversightProcessOptions {
  readonly clock: Clock;
  readonly client: SqlClient;
  readonly schema: string;
  readonly notifier: ReturnType<typeof recordingNotifier>['notifier'];
  readonly errors: unknown[];
}

/**
 * One "process": a platform on `clock` with the parties registered, and `engine()` building a
 * fresh engine with fresh store objects each call (only the database carries state between them).
 */
export async function oversightProcess(options: OversightProcessOptions) {
  const { clock, client, schema, notifier, errors } = options;
  const platform: Platform = createPlatform({
    clock,
    authz: { overrideTokenIssuers: [service.identity.nhi] },
  });
  for (const pair of [service, agent, cfo, ceo]) await platform.nhi.register({ identity: pair.identity });
  const engine = (): OversightEngine =>
    createOversight({
      nhi: platform.nhi,
      serviceKey: service,
      clock,
      consensus: platform.consensus,
      store: createPostgresOversightStore({ client, schema }),
      idempotencyStore: createPostgresIdempotencyStore({ client, schema, clock }),
      notifier,
      audit: platform.audit,
      memory: platform.memory,
      onError: (error) => errors.push(error),
    });
  return { platform, engine };
}
