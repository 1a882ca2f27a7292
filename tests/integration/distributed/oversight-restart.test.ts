// Oversight restart on PostgreSQL (README "Storage and restart"): an engine creates a request with
// a two-tier requirement and stops; a new engine on the same PostgreSQL store and clock takes the
// open request over, notifies tier 2 when tier 1 times out — also when that deadline passed while
// no engine was running — and applies the final action at tier 2's deadline.
import { AgentKeyPair, createPlatform, type Notification, type NotificationReceipt } from '@creto/core';
import { createOversight, type OversightEngine, type OversightRequestInput } from '@creto/oversight';
import {
  createPgClient,
  createPostgresIdempotencyStore,
  createPostgresOversightStore,
  migrate,
  type SqlClient,
} from '@creto/postgres';
import { FakeClock } from '@creto/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runId, serverUrl, skipTitle } from './servers.js';

const postgresUrl = serverUrl('CRETO_POSTGRES_URL');
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

// Classical keys: the test is about restart, not signatures (generated once per file).
const service = AgentKeyPair.generate({ kind: 'service' });
const agent = AgentKeyPair.generate();
const cfo = AgentKeyPair.generate({ kind: 'human' });
const ceo = AgentKeyPair.generate({ kind: 'human' });

/** The spec §7.2 transfer, with the CFO for an hour, then the CEO for an hour, then auto-deny. */
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
  describe('Oversight restart on PostgreSQL', () => {
    it.skip(skipTitle(['CRETO_POSTGRES_URL']), () => {});
  });
} else {
  const url = postgresUrl;
  describe('Oversight restart on PostgreSQL', () => {
    const schema = `creto_oversight_${runId()}`;
    let client: SqlClient;

    beforeAll(async () => {
      client = createPgClient({ connectionString: url });
      await migrate(client, { schema });
    });
    afterAll(async () => {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
      await client.close();
    });

    /** One "process": a platform and an engine on the shared clock, database and notification log. */
    async function setup() {
      const clock = new FakeClock();
      const notified: Notification[] = [];
      const notifier = {
        async notify(notification: Notification): Promise<NotificationReceipt> {
          notified.push(notification);
          return { notificationId: notification.id, status: 'delivered', channel: 'test' };
        },
      };
      const errors: unknown[] = [];
      const platform = createPlatform({ clock, authz: { overrideTokenIssuers: [service.identity.nhi] } });
      for (const pair of [service, agent, cfo, ceo]) await platform.nhi.register({ identity: pair.identity });
      // Fresh store objects per engine: only the database carries state from one engine to the next.
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
      return { clock, notified, errors, engine };
    }

    /** Lets the engine's database work run (real I/O) without moving the fake clock. */
    async function until(check: () => Promise<boolean>, what: string): Promise<void> {
      for (let round = 0; round < 200; round++) {
        if (await check()) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`timed out waiting for ${what}`);
    }

    const recipients = (notified: Notification[], requestId: string) =>
      notified.filter((n) => JSON.stringify(n.data ?? null).includes(requestId)).map((n) => n.recipient);

    it('a new engine escalates to tier 2 at tier 1 timeout, then expires at tier 2 timeout', async () => {
      const { clock, notified, errors, engine } = await setup();
      const first = engine();
      const { requestId } = await first.createRequest(transfer('account:live'));
      await until(async () => recipients(notified, requestId).length === 1, 'the tier 1 notification');
      expect(recipients(notified, requestId)).toEqual([cfo.identity.nhi]);
      await first.close();

      const second = engine();
      await second.start();
      expect(await second.getRequest(requestId)).toMatchObject({ state: 'PENDING', tier: 1 });
      await clock.advanceAsync(HOUR_MS - 1);
      expect(recipients(notified, requestId)).toEqual([cfo.identity.nhi]); // not a moment early
      await clock.advanceAsync(1);
      await until(async () => (await second.getRequest(requestId)).state === 'ESCALATED', 'the escalation');
      await until(async () => recipients(notified, requestId).length === 2, 'the tier 2 notification');
      expect(recipients(notified, requestId)).toEqual([cfo.identity.nhi, ceo.identity.nhi]);
      expect(await second.getRequest(requestId)).toMatchObject({ state: 'ESCALATED', tier: 2 });

      await clock.advanceAsync(HOUR_MS);
      await until(async () => (await second.getRequest(requestId)).state === 'EXPIRED', 'the expiry');
      const expired = await second.getRequest(requestId);
      expect(expired.transitions.map((t) => `${t.from}→${t.to}`)).toEqual([
        'null→PENDING',
        'PENDING→ESCALATED',
        'ESCALATED→EXPIRED',
      ]);
      expect(expired.transitions.at(-1)).toMatchObject({ actor: 'system', reason: 'expired' });
      expect(expired.transitions.at(-1)?.detail).toContain('auto_deny');
      await second.close();
      expect(errors).toEqual([]);
    });

    it('a deadline that passed while no engine ran fires at start; the next counts from it', async () => {
      const { clock, notified, errors, engine } = await setup();
      const first = engine();
      const { requestId } = await first.createRequest(transfer('account:down'));
      await until(async () => recipients(notified, requestId).length === 1, 'the tier 1 notification');
      await first.close();

      // Down for 90 minutes: tier 1's deadline (60 min) passes with no engine running.
      await clock.advanceAsync(90 * MINUTE_MS);
      expect(recipients(notified, requestId)).toEqual([cfo.identity.nhi]);

      const second = engine();
      await second.start();
      await clock.advanceAsync(0); // a timer due in the past fires on the next advance
      await until(
        async () => (await second.getRequest(requestId)).state === 'ESCALATED',
        'the late escalation',
      );
      await until(async () => recipients(notified, requestId).length === 2, 'the late tier 2 notification');
      expect(recipients(notified, requestId)).toEqual([cfo.identity.nhi, ceo.identity.nhi]);
      const escalated = await second.getRequest(requestId);
      expect(escalated).toMatchObject({ state: 'ESCALATED', tier: 2 });

      // Tier 2's hour runs from tier 1's deadline (60 min), not from the restart (90 min).
      await clock.advanceAsync(30 * MINUTE_MS - 1);
      expect((await second.getRequest(requestId)).state).toBe('ESCALATED');
      await clock.advanceAsync(1);
      await until(async () => (await second.getRequest(requestId)).state === 'EXPIRED', 'the expiry');
      await second.close();
      expect(errors).toEqual([]);
    });
  });
}
