// Two Oversight engines on one PostgreSQL store (README "Storage and restart": several engines),
// each with its own connection pool as two processes would have: an approval submitted through B
// wakes the waiter in A at once (LISTEN/NOTIFY), long before that waiter's timeout; a request
// created through B escalates on time in A after B has stopped.
import {
  AgentKeyPair,
  createPlatform,
  type Notification,
  type NotificationReceipt,
  type OversightOutcome,
} from '@creto/core';
import {
  createOversight,
  type OversightEngine,
  type OversightRequestInput,
  signApprovalResponse,
} from '@creto/oversight';
import {
  createPgClient,
  createPostgresIdempotencyStore,
  createPostgresOversightStore,
  migrate,
  type SqlClient,
} from '@creto/postgres';
import { FakeClock } from '@creto/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runId, serverUrl, skipTitle } from './servers.js';

const postgresUrl = serverUrl('CRETO_POSTGRES_URL');
const HOUR_MS = 3_600_000;

// Classical keys: the test is about wake-ups, not signatures (generated once per file).
const service = AgentKeyPair.generate({ kind: 'service' });
const agent = AgentKeyPair.generate();
const cfo = AgentKeyPair.generate({ kind: 'human' });
const ceo = AgentKeyPair.generate({ kind: 'human' });

/** The spec §7.2 transfer: the CFO for an hour, then the CEO for an hour, then auto-deny. */
const transfer = (resourceId: string): OversightRequestInput => ({
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

if (postgresUrl === undefined) {
  describe('Two Oversight engines on PostgreSQL', () => {
    it.skip(skipTitle(['CRETO_POSTGRES_URL']), () => {});
  });
} else {
  const url = postgresUrl;
  describe('Two Oversight engines on PostgreSQL', () => {
    const schema = `creto_oversight_two_${runId()}`;
    const clients: SqlClient[] = [];

    beforeAll(async () => {
      const admin = createPgClient({ connectionString: url, maxConnections: 2 });
      clients.push(admin);
      await migrate(admin, { schema });
    });
    afterAll(async () => {
      await clients[0]?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
      await Promise.all(clients.map((client) => client.close()));
    });

    /** Two "processes" on one fake clock: each its own pool, platform and engine. */
    async function setup() {
      const clock = new FakeClock();
      const notified: Notification[] = [];
      const errors: unknown[] = [];
      const notifier = {
        async notify(notification: Notification): Promise<NotificationReceipt> {
          notified.push(notification);
          return { notificationId: notification.id, status: 'delivered', channel: 'test' };
        },
      };
      const process = async (): Promise<OversightEngine> => {
        const client = createPgClient({ connectionString: url, maxConnections: 4 });
        clients.push(client);
        const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [service.identity.nhi] } });
        for (const pair of [service, agent, cfo, ceo])
          await platform.nhi.register({ identity: pair.identity });
        return createOversight({
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
      };
      return { clock, notified, errors, a: await process(), b: await process() };
    }

    it("an approval through B wakes A's waiter well before its timeout, without the clock moving", async () => {
      const { clock, errors, a, b } = await setup();
      await Promise.all([a.start(), b.start()]);
      const { requestId } = await a.createRequest(transfer('account:wake'));
      const before = clock.now();
      let outcome: OversightOutcome | undefined;
      // Far in fake time: only a notification from B can end this wait.
      const waiting = a.awaitApproval(requestId, { timeoutMs: 24 * HOUR_MS }).then((value) => {
        outcome = value;
      });
      await b.submitResponse(
        signApprovalResponse(cfo, {
          requestId: requestId as Parameters<typeof signApprovalResponse>[1]['requestId'],
          decision: 'APPROVE',
          respondedAt: clock.now(),
        }),
      );
      await vi.waitFor(() => expect(outcome).toBeDefined(), { timeout: 10_000, interval: 20 });
      await waiting;
      expect(clock.now()).toBe(before);
      expect(outcome).toMatchObject({ state: 'APPROVED', requestId, decidedBy: [cfo.identity.nhi] });
      expect(outcome).toEqual(await b.awaitApproval(requestId));
      expect(a.stats()).toMatchObject({ waiters: 0, timers: 0 });
      await Promise.all([a.close(), b.close()]);
      expect(errors).toEqual([]);
    });

    it('a request created through B escalates on time in A after B stopped', async () => {
      const { clock, notified, errors, a, b } = await setup();
      await a.start();
      const { requestId } = await b.createRequest(transfer('account:handover'));
      await vi.waitFor(() => expect(a.stats().timers).toBe(1), { timeout: 10_000, interval: 20 });
      await b.close();
      const recipients = () =>
        notified.filter((n) => JSON.stringify(n.data ?? null).includes(requestId)).map((n) => n.recipient);
      expect(recipients()).toEqual([cfo.identity.nhi]);

      await clock.advanceAsync(HOUR_MS - 1);
      expect((await a.getRequest(requestId)).state).toBe('PENDING');
      await clock.advanceAsync(1);
      await vi.waitFor(
        async () => expect(await a.getRequest(requestId)).toMatchObject({ state: 'ESCALATED', tier: 2 }),
        {
          timeout: 10_000,
          interval: 20,
        },
      );
      await vi.waitFor(() => expect(recipients()).toEqual([cfo.identity.nhi, ceo.identity.nhi]), {
        timeout: 10_000,
        interval: 20,
      });
      await a.close();
      expect(errors).toEqual([]);
    });
  });
}
