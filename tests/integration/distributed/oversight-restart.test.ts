// Oversight restart on PostgreSQL (README "Storage and restart"): an engine creates a request with
// a two-tier requirement and stops; a new engine on the same PostgreSQL store and clock takes the
// open request over, notifies tier 2 when tier 1 times out — also when that deadline passed while
// no engine was running — and applies the final action at tier 2's deadline.
import { FakeClock } from '@creto/testing';
import { expect, it } from 'vitest';
import {
  ceo,
  cfo,
  HOUR_MS,
  MINUTE_MS,
  oversightProcess,
  recordingNotifier,
  transfer,
} from './oversight-fixtures.js';
import { describePostgres } from './servers.js';

describePostgres('Oversight restart on PostgreSQL', 'creto_oversight', (db) => {
  /** One "process": a platform and engines on the shared clock, database and notification log. */
  async function setup() {
    const clock = new FakeClock();
    const { notifier, recipients } = recordingNotifier();
    const errors: unknown[] = [];
    const { engine } = await oversightProcess({ clock, ...db(), notifier, errors });
    return { clock, recipients, errors, engine };
  }

  /** Lets the engine's database work run (real I/O) without moving the fake clock. */
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let round = 0; round < 200; round++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('a new engine escalates to tier 2 at tier 1 timeout, then expires at tier 2 timeout', async () => {
    const { clock, recipients, errors, engine } = await setup();
    const first = engine();
    const { requestId } = await first.createRequest(transfer('account:live'));
    await until(async () => recipients(requestId).length === 1, 'the tier 1 notification');
    expect(recipients(requestId)).toEqual([cfo.identity.nhi]);
    await first.close();

    const second = engine();
    await second.start();
    expect(await second.getRequest(requestId)).toMatchObject({ state: 'PENDING', tier: 1 });
    await clock.advanceAsync(HOUR_MS - 1);
    expect(recipients(requestId)).toEqual([cfo.identity.nhi]); // not a moment early
    await clock.advanceAsync(1);
    await until(async () => (await second.getRequest(requestId)).state === 'ESCALATED', 'the escalation');
    await until(async () => recipients(requestId).length === 2, 'the tier 2 notification');
    expect(recipients(requestId)).toEqual([cfo.identity.nhi, ceo.identity.nhi]);
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
    const { clock, recipients, errors, engine } = await setup();
    const first = engine();
    const { requestId } = await first.createRequest(transfer('account:down'));
    await until(async () => recipients(requestId).length === 1, 'the tier 1 notification');
    await first.close();

    // Down for 90 minutes: tier 1's deadline (60 min) passes with no engine running.
    await clock.advanceAsync(90 * MINUTE_MS);
    expect(recipients(requestId)).toEqual([cfo.identity.nhi]);

    const second = engine();
    await second.start();
    await clock.advanceAsync(0); // a timer due in the past fires on the next advance
    await until(
      async () => (await second.getRequest(requestId)).state === 'ESCALATED',
      'the late escalation',
    );
    await until(async () => recipients(requestId).length === 2, 'the late tier 2 notification');
    expect(recipients(requestId)).toEqual([cfo.identity.nhi, ceo.identity.nhi]);
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
