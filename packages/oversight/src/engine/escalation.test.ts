import type { Notification, NotificationReceipt } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import {
  createKit,
  HOUR_MS,
  keys,
  MS,
  nhiOf,
  requirement,
  respond,
  settle,
  tier,
  transfer,
} from '../../test/kit.js';
import type { OversightTransitionEvent } from './types.js';

const threeTiers = () =>
  transfer({
    requirement: requirement(
      [tier([keys.cfo], 1, 2 * HOUR_MS), tier([keys.ceo], 1, HOUR_MS), tier([keys.a1], 1, HOUR_MS / 2)],
      'auto_deny',
    ),
  });

describe('escalation', () => {
  it('escalates tier by tier at each timeout, notifying the next tier at that instant, then expires', async () => {
    const { engine, clock, notifier, platform } = await createKit();
    const t0 = clock.now();
    const events: OversightTransitionEvent[] = [];
    engine.onTransition((event) => events.push(event));
    const { requestId } = await engine.createRequest(threeTiers());
    const outcome = engine.awaitApproval(requestId);

    await clock.advanceAsync(2 * HOUR_MS - 1);
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo)]);
    expect((await engine.getRequest(requestId)).state).toBe('PENDING');

    await clock.advanceAsync(1);
    expect(notifier.sent.map((s) => [s.notification.recipient, s.at])).toEqual([
      [nhiOf(keys.cfo), t0],
      [nhiOf(keys.ceo), t0 + 2n * 3_600_000n * MS],
    ]);
    let view = await engine.getRequest(requestId);
    expect(view).toMatchObject({ state: 'ESCALATED', tier: 2, deadlineAt: t0 + 3n * 3_600_000n * MS });

    await clock.advanceAsync(HOUR_MS);
    expect(notifier.sent.at(-1)).toEqual({
      notification: expect.objectContaining({ recipient: nhiOf(keys.a1) }),
      at: t0 + 3n * 3_600_000n * MS,
    });
    view = await engine.getRequest(requestId);
    expect(view).toMatchObject({ state: 'ESCALATED', tier: 3 });

    await clock.advanceAsync(HOUR_MS / 2 - 1);
    expect((await engine.getRequest(requestId)).state).toBe('ESCALATED');
    await clock.advanceAsync(1);
    // A final action is an expiry with the action taken, never a human denial.
    expect(await outcome).toEqual({ state: 'EXPIRED', requestId, finalAction: 'auto_deny' });
    view = await engine.getRequest(requestId);
    expect(view.transitions.map((t) => [t.from, t.to, t.tier, t.actor, t.reason])).toEqual([
      [null, 'PENDING', 0, nhiOf(keys.agent), 'created'],
      ['PENDING', 'ESCALATED', 1, 'system', 'escalated'],
      ['ESCALATED', 'ESCALATED', 2, 'system', 'escalated'],
      ['ESCALATED', 'EXPIRED', 2, 'system', 'expired'],
    ]);
    expect(view.outcome).toMatchObject({ finalAction: 'auto_deny', decidedBy: [], tokenIssued: false });
    expect(view.transitions[3]?.at).toBeGreaterThanOrEqual(
      t0 + 3n * 3_600_000n * MS + 1_800_000n * MS - 1_000n,
    );
    expect(events.map((e) => e.to)).toEqual(['PENDING', 'ESCALATED', 'ESCALATED', 'EXPIRED']);
    expect(engine.stats().timers).toBe(0);

    const audit = await platform.audit.query({ product: 'oversight' });
    expect(audit.events.map((e) => e.action)).toEqual([
      'oversight.request',
      'oversight.transition',
      'oversight.escalate',
      'oversight.transition',
    ]);
    // Responses after expiry are refused.
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.a1, requestId)), 'OV-409');
  });

  it('a later tier cannot answer before it is reached; earlier tiers stay eligible after escalation', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(threeTiers());
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.ceo, requestId)), 'OV-403');
    await clock.advanceAsync(2 * HOUR_MS);
    expect(await engine.submitResponse(respond(clock, keys.cfo, requestId))).toMatchObject({
      state: 'APPROVED',
    });
    const view = await engine.getRequest(requestId);
    expect(view.outcome).toMatchObject({ tier: 1, decidedBy: [nhiOf(keys.cfo)] });
    // Decided: the pending deadline is gone, nobody else is notified.
    const sent = view.transitions.length;
    await clock.advanceAsync(5 * HOUR_MS);
    expect((await engine.getRequest(requestId)).transitions).toHaveLength(sent);
  });

  it('with earlierTiersStayEligible false, only the current tier may answer', async () => {
    const { engine, clock } = await createKit({ engine: { rules: { earlierTiersStayEligible: false } } });
    const { requestId } = await engine.createRequest(threeTiers());
    await clock.advanceAsync(2 * HOUR_MS);
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.cfo, requestId)), 'OV-403');
    expect(await engine.submitResponse(respond(clock, keys.ceo, requestId))).toMatchObject({
      state: 'APPROVED',
    });
  });

  it('auto_approve expires with a token the platform authz accepts for the requested call', async () => {
    const { engine, clock, platform } = await createKit();
    platform.authz.setPolicies([
      {
        id: 'large_transfer',
        effect: 'require_oversight',
        action: 'funds.transfer',
        requirement: requirement(),
      },
    ]);
    const { requestId } = await engine.createRequest(
      transfer({ requirement: requirement([tier([keys.cfo], 1, 1000)], 'auto_approve'), blocking: false }),
    );
    await clock.advanceAsync(1000);
    const outcome = await engine.awaitApproval(requestId);
    if (outcome.state !== 'EXPIRED') throw new Error(`expected EXPIRED, got ${outcome.state}`);
    expect(outcome).toMatchObject({
      finalAction: 'auto_approve',
      approvedParameters: { amount: 50000, currency: 'USD' },
    });
    const call = {
      principal: nhiOf(keys.agent),
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      overrideToken: outcome.overrideToken,
    };
    expectEnablementError(
      () => platform.authz.evaluate({ ...call, context: { amount: 50001, currency: 'USD' } }),
      'PL-403',
    );
    expect(platform.authz.evaluate({ ...call, context: { amount: 50000, currency: 'USD' } }).decision).toBe(
      'allow',
    );
    const view = await engine.getRequest(requestId);
    expect(view).toMatchObject({
      state: 'EXPIRED',
      blocking: false,
      outcome: { finalAction: 'auto_approve', tokenIssued: true },
    });
  });
});

describe('restart', () => {
  it('a new engine on the same store restores pending requests and escalates on time', async () => {
    const { engine, clock, notifier, restart } = await createKit();
    const t0 = clock.now();
    const { requestId } = await engine.createRequest(threeTiers());
    await clock.advanceAsync(HOUR_MS);
    await engine.close();

    const next = restart();
    expect(await next.start()).toEqual({ restored: 1, overdue: 0, renotified: 0 });
    expect(next.stats().timers).toBe(1);
    const waiting = next.awaitApproval(requestId);
    await clock.advanceAsync(HOUR_MS - 1);
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo)]);
    await clock.advanceAsync(1);
    expect(notifier.sent.at(-1)).toEqual({
      notification: expect.objectContaining({ recipient: nhiOf(keys.ceo) }),
      at: t0 + 2n * 3_600_000n * MS,
    });
    await next.submitResponse(respond(clock, keys.ceo, requestId));
    expect((await waiting).state).toBe('APPROVED');
  });

  it('deadlines that passed while down fire at once on start, in deadline order, chained tiers included', async () => {
    const { engine, clock, notifier, restart } = await createKit();
    const late = await engine.createRequest(
      transfer({
        requirement: requirement([tier([keys.cfo], 1, 3 * HOUR_MS)]),
        resource: { resourceType: 'r', resourceId: 'late' },
      }),
    );
    const early = await engine.createRequest(
      transfer({
        requirement: requirement([tier([keys.a1], 1, HOUR_MS), tier([keys.a2], 1, HOUR_MS)], 'auto_deny'),
        resource: { resourceType: 'r', resourceId: 'early' },
      }),
    );
    await engine.close();
    await clock.advanceAsync(10 * HOUR_MS);
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo), nhiOf(keys.a1)]);

    const next = restart();
    const events: OversightTransitionEvent[] = [];
    next.onTransition((event) => events.push(event));
    expect(await next.start()).toEqual({ restored: 2, overdue: 2, renotified: 0 });
    await settle(clock);
    await settle(clock);
    expect(events.map((e) => [e.requestId === early.requestId ? 'early' : 'late', e.to])).toEqual([
      ['early', 'ESCALATED'],
      ['early', 'EXPIRED'],
      ['late', 'EXPIRED'],
    ]);
    // The escalated tier was notified on the way.
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo), nhiOf(keys.a1), nhiOf(keys.a2)]);
    expect(await next.awaitApproval(early.requestId)).toMatchObject({
      state: 'EXPIRED',
      finalAction: 'auto_deny',
    });
    expect(await next.awaitApproval(late.requestId)).toMatchObject({ state: 'EXPIRED' });
  });

  it('re-sends, with the same id, a notification that never went out before the crash', async () => {
    let hang = true;
    const sent: Notification[] = [];
    const notifier = {
      notify: (notification: Notification): Promise<NotificationReceipt> => {
        sent.push(notification);
        if (hang) return new Promise(() => {});
        return Promise.resolve({ notificationId: notification.id, status: 'delivered', channel: 'test' });
      },
    };
    const { clock, restart, store } = await createKit();
    const crashed = restart({ notifier });
    void crashed.createRequest(transfer());
    await settle(clock);
    const [stored] = (await store.listOpen({})).records;
    expect(stored?.notifiedTier).toBe(-1);
    await crashed.close();

    hang = false;
    const next = restart({ notifier });
    expect(await next.start()).toEqual({ restored: 1, overdue: 0, renotified: 1 });
    expect(sent).toHaveLength(2);
    expect(sent[1]?.id).toBe(sent[0]?.id);
    expect((await store.get(stored?.requestId as string))?.record.notifiedTier).toBe(0);
    expect(await next.start()).toEqual({ restored: 1, overdue: 0, renotified: 1 });
    expect(sent).toHaveLength(2);
  });
});
