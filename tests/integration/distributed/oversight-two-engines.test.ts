// Two Oversight engines on one PostgreSQL store (README "Storage and restart": several engines),
// each with its own connection pool as two processes would have: an approval submitted through B
// wakes the waiter in A at once (LISTEN/NOTIFY), long before that waiter's timeout; a request
// created through B escalates on time in A after B has stopped.
import type { OversightOutcome } from '@creto/core';
import { signApprovalResponse } from '@creto/oversight';
import { createPgClient, type SqlClient } from '@creto/postgres';
import { FakeClock } from '@creto/testing';
import { afterAll, expect, it, vi } from 'vitest';
import { ceo, cfo, HOUR_MS, oversightProcess, recordingNotifier, transfer } from './oversight-fixtures.js';
import { describePostgres } from './servers.js';

describePostgres('Two Oversight engines on PostgreSQL', 'creto_oversight_two', (db) => {
  const clients: SqlClient[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
  });

  /** Two "processes" on one fake clock: each its own pool, platform and engine. */
  async function setup() {
    const clock = new FakeClock();
    const { notifier, recipients } = recordingNotifier();
    const errors: unknown[] = [];
    const process = async () => {
      const client = createPgClient({ connectionString: db().url, maxConnections: 4 });
      clients.push(client);
      const { engine } = await oversightProcess({ clock, client, schema: db().schema, notifier, errors });
      return engine();
    };
    return { clock, recipients, errors, a: await process(), b: await process() };
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
    const { clock, recipients, errors, a, b } = await setup();
    await a.start();
    const { requestId } = await b.createRequest(transfer('account:handover'));
    await vi.waitFor(() => expect(a.stats().timers).toBe(1), { timeout: 10_000, interval: 20 });
    await b.close();
    expect(recipients(requestId)).toEqual([cfo.identity.nhi]);

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
    await vi.waitFor(() => expect(recipients(requestId)).toEqual([cfo.identity.nhi, ceo.identity.nhi]), {
      timeout: 10_000,
      interval: 20,
    });
    await a.close();
    expect(errors).toEqual([]);
  });
});
