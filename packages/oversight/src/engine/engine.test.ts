import {
  AgentKeyPair,
  auditEventDetail,
  decodeOverrideToken,
  decodeOversightNotification,
  type EnablementError,
  issueDelegation,
  type OversightOutcome,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import {
  createKit,
  HOUR_MS,
  keys,
  nhiOf,
  registerPq,
  requirement,
  respond,
  settle,
  tier,
  transfer,
} from '../../test/kit.js';
import { encodeApprovalResponse, signApprovalResponse } from '../responses/index.js';
import { createOversight } from './engine.js';
import type { OversightTransitionEvent } from './types.js';

const approved = (outcome: OversightOutcome) => {
  if (outcome.state !== 'APPROVED') throw new Error(`expected APPROVED, got ${outcome.state}`);
  return outcome;
};

describe('createOversight options', () => {
  it('rejects bad options with PL-400 naming them', async () => {
    const { platform } = await createKit({ register: false });
    expectEnablementError(
      () => createOversight({ nhi: platform.nhi, serviceKey: keys.agent }),
      'PL-400',
      /serviceKey.*service/,
    );
    expectEnablementError(
      () => createOversight({ nhi: {} as never, serviceKey: keys.service }),
      'PL-400',
      'nhi',
    );
    expectEnablementError(
      () => createOversight({ nhi: platform.nhi, serviceKey: keys.service, approvalLinkBase: 'ftp://x' }),
      'PL-400',
      'approvalLinkBase',
    );
    expectEnablementError(
      () =>
        createOversight({
          nhi: platform.nhi,
          serviceKey: keys.service,
          rules: { tokenTtlMs: 0 },
        }),
      'PL-400',
      'rules.tokenTtlMs',
    );
    expectEnablementError(
      () => createOversight({ nhi: platform.nhi, serviceKey: keys.service, extra: 1 } as never),
      'PL-400',
    );
  });

  it('refuses to start while the service key is not registered in NHI', async () => {
    const { platform } = await createKit({ register: false });
    const engine = createOversight({ nhi: platform.nhi, serviceKey: keys.service });
    await expectEnablementRejection(engine.start(), 'PL-404', 'service key');
    await expectEnablementRejection(engine.createRequest(transfer()), 'PL-404');
    await platform.nhi.register({ identity: keys.service.identity });
    await expect(engine.start()).resolves.toEqual({ restored: 0, overdue: 0, renotified: 0 });
  });
});

describe('createRequest', () => {
  it('creates a PENDING request, notifies the tier, audits and emits the creation', async () => {
    const { engine, notifier, platform, clock } = await createKit();
    await platform.memory.recordReasoning(nhiOf(keys.agent), 'Invoice 2024-117 was approved', {
      action: 'funds.transfer',
    });
    await platform.memory.recordReasoning(nhiOf(keys.agent), 'Due date: 2024-12-31', {
      action: 'funds.transfer',
    });
    const events: OversightTransitionEvent[] = [];
    engine.onTransition((event) => events.push(event));
    const ref = await engine.createRequest(transfer());
    expect(ref).toEqual({ requestId: expect.any(String), state: 'PENDING', created: true });

    expect(notifier.sent).toHaveLength(1);
    const [{ notification, at }] = notifier.sent as [(typeof notifier.sent)[number]];
    expect(at).toBe(clock.now());
    expect(notification.recipient).toBe(nhiOf(keys.cfo));
    expect(notification.kind).toBe('approval_required');
    expect(notification.subject).toBe('Approval Required: funds.transfer');
    expect(notification.body).toContain('Transfer 50,000 USD');
    expect(notification.body).toContain('[high] large_transfer');
    expect(notification.body).toContain('- Due date: 2024-12-31\n- Invoice 2024-117 was approved');
    expect(notification.body).toContain(`https://approvals.example.com/requests/${ref.requestId}`);
    const wire = decodeOversightNotification(notification.data);
    expect(wire).toMatchObject({
      requestId: ref.requestId,
      approverIdentity: nhiOf(keys.cfo),
      channelType: 'slack',
      notificationPayload: { approvalLink: `https://approvals.example.com/requests/${ref.requestId}` },
    });

    const view = await engine.getRequest(ref.requestId);
    expect(view).toMatchObject({ state: 'PENDING', tier: 1, tierCount: 1, degraded: false, notes: [] });
    expect(view.deadlineAt).toBe(clock.now() + 2n * 3_600_000_000_000n);
    expect(view.transitions).toEqual([
      expect.objectContaining({
        seq: 1,
        from: null,
        to: 'PENDING',
        actor: nhiOf(keys.agent),
        reason: 'created',
      }),
    ]);
    expect(events).toEqual([
      expect.objectContaining({ from: null, to: 'PENDING', policyId: 'large_transfer' }),
    ]);

    const audit = await platform.audit.query({ product: 'oversight' });
    expect(audit.events.map((e) => auditEventDetail(e)?.kind)).toEqual(['RequestCreated']);
  });

  it('rejects invalid requests with OV-400 naming the field, storing nothing', async () => {
    const { engine, store } = await createKit();
    await expectEnablementRejection(
      engine.createRequest({ ...transfer(), extra: 1 } as never),
      'OV-400',
      'extra',
    );
    await expectEnablementRejection(
      engine.createRequest(transfer({ action: { name: 'has space', parameters: {} } })),
      'OV-400',
      'action.name',
    );
    await expectEnablementRejection(
      engine.createRequest(transfer({ requirement: requirement([tier([keys.cfo], 2)]) })),
      'OV-400',
      'quorum 2 exceeds',
    );
    await expectEnablementRejection(
      engine.createRequest(transfer({ requirement: requirement([tier(['role:'])]) })),
      'OV-400',
      'requirement.tiers[0].approvers[0]',
    );
    await expectEnablementRejection(
      engine.createRequest(transfer({ blocking: 'yes' as never })),
      'OV-400',
      'blocking',
    );
    await expectEnablementRejection(engine.createRequest(null as never), 'OV-400');
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 40; i++) {
      const next: unknown[] = [];
      cursor.push(next);
      cursor = next;
    }
    await expectEnablementRejection(
      engine.createRequest(transfer({ action: { name: 'x', parameters: deep as never } })),
      'OV-400',
      'action.parameters',
    );
    expect(store.size).toBe(0);
  });

  it('validates the agent: unknown is PL-404, revoked PL-410', async () => {
    const { engine, platform } = await createKit();
    await expectEnablementRejection(
      engine.createRequest(transfer({ agentNhi: nhiOf(keys.unregistered) })),
      'PL-404',
      'agentNhi',
    );
    await platform.nhi.revoke(keys.bot.identity);
    await expectEnablementRejection(engine.createRequest(transfer({ agentNhi: nhiOf(keys.bot) })), 'PL-410');
  });

  it('is idempotent on agent, action, resource and parameters for 24 hours', async () => {
    const { engine, clock, notifier } = await createKit();
    const first = await engine.createRequest(transfer());
    const again = await engine.createRequest(transfer());
    expect(again).toEqual({ requestId: first.requestId, state: 'PENDING', created: false });
    expect(notifier.sent).toHaveLength(1);
    // Other parameters are another call needing its own approval (a token binds parameters).
    const other = await engine.createRequest(
      transfer({ action: { name: 'funds.transfer', parameters: { amount: 60000, currency: 'USD' } } }),
    );
    expect(other.created).toBe(true);
    await clock.advanceAsync(24 * HOUR_MS - 1);
    const late = await engine.createRequest(transfer());
    expect(late).toEqual({ requestId: first.requestId, state: 'EXPIRED', created: false });
    await clock.advanceAsync(1);
    const fresh = await engine.createRequest(transfer());
    expect(fresh.created).toBe(true);
    expect(fresh.requestId).not.toBe(first.requestId);
  });

  it('goes on without reasoning when memory fails (OV-503 degraded), and when memory is absent', async () => {
    const { engine, restart } = await createKit({
      engine: {
        memory: {
          fetchReasoningContext: async () => {
            throw new Error('memory down');
          },
        },
      },
    });
    const ref = await engine.createRequest(transfer());
    const view = await engine.getRequest(ref.requestId);
    expect(view.degraded).toBe(true);
    expect(view.reasoningContext).toBe('');
    expect(view.notes).toEqual([expect.objectContaining({ code: 'OV-503' })]);

    await engine.close();
    const noMemory = restart({ memory: undefined });
    const other = await noMemory.createRequest(
      transfer({ policyId: 'other' as never, resource: { resourceType: 'x', resourceId: 'y' } }),
    );
    expect((await noMemory.getRequest(other.requestId)).notes.map((n) => n.code)).toEqual(['OV-503']);
  });

  it('does not wait forever for a memory that hangs', async () => {
    const { engine, clock } = await createKit({
      engine: { memory: { fetchReasoningContext: () => new Promise(() => {}) }, memoryTimeoutMs: 500 },
    });
    const pending = engine.createRequest(transfer());
    await clock.advanceAsync(500);
    const ref = await pending;
    expect((await engine.getRequest(ref.requestId)).degraded).toBe(true);
  });

  it('records OV-202 for a queued notification and a failure for a rejecting notifier, and goes on', async () => {
    const { engine, notifier } = await createKit();
    notifier.queuedFor.add(nhiOf(keys.a1));
    notifier.failFor.add(nhiOf(keys.a2));
    const ref = await engine.createRequest(
      transfer({ requirement: requirement([tier([keys.a1, keys.a2, keys.a3], 2)]) }),
    );
    expect(ref.state).toBe('PENDING');
    expect(notifier.recipients().sort()).toEqual([nhiOf(keys.a1), nhiOf(keys.a2), nhiOf(keys.a3)].sort());
    const view = await engine.getRequest(ref.requestId);
    expect(view.notes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'OV-202', recipient: nhiOf(keys.a1) }),
        expect.objectContaining({ code: 'MS-404', recipient: nhiOf(keys.a2) }),
      ]),
    );
    expect(view.notes).toHaveLength(2);
  });

  it('publishes each notification on oversight.notifications.<channel> when given a bus', async () => {
    const published: { subject: string; msgId?: string }[] = [];
    const { engine } = await createKit({
      engine: {
        channelType: 'webhook',
        eventBus: {
          publish: async (subject, _data, options) => {
            published.push({ subject, ...(options?.msgId === undefined ? {} : { msgId: options.msgId }) });
            return { stream: 'S', seq: published.length, duplicate: false };
          },
        },
      },
    });
    await engine.createRequest(transfer({ requirement: requirement([tier([keys.a1, keys.a2], 1)]) }));
    expect(published.map((p) => p.subject)).toEqual([
      'oversight.notifications.webhook',
      'oversight.notifications.webhook',
    ]);
    expect(new Set(published.map((p) => p.msgId)).size).toBe(2);
  });

  it('validates a signed delegation chain and refuses one that does not end with the agent', async () => {
    const { engine, platform, clock } = await createKit();
    const link = issueDelegation({
      issuer: keys.root,
      subject: keys.agent.identity,
      capabilities: [{ action: 'funds.*', resource: 'payments:*' }],
      expiresAt: clock.now() + 48n * 3_600_000_000_000n,
      clock,
    });
    const ref = await engine.createRequest(transfer({ delegation: [link] }));
    const view = await engine.getRequest(ref.requestId);
    expect(view.delegationChain).toEqual([nhiOf(keys.root), nhiOf(keys.agent)]);
    await expectEnablementRejection(
      engine.createRequest(transfer({ agentNhi: nhiOf(keys.bot), delegation: [link] })),
      'PL-403',
      'does not end with the requesting agent',
    );
    await expectEnablementRejection(
      engine.createRequest(
        transfer({
          delegation: [link],
          delegationChain: [nhiOf(keys.cfo), nhiOf(keys.agent)],
          policyId: 'p2' as never,
        }),
      ),
      'PL-403',
      'do not match',
    );
    await platform.nhi.revoke(keys.root.identity);
    await expectEnablementRejection(
      engine.createRequest(
        transfer({ delegation: [link], resource: { resourceType: 'payments', resourceId: 'b' } }),
      ),
      'PL-410',
    );
  });

  it('checks delegation names: the root must be registered, none revoked; signed chain when required', async () => {
    const { engine, platform, restart } = await createKit();
    const names = [nhiOf(keys.root), nhiOf(keys.agent)];
    await expect(engine.createRequest(transfer({ delegationChain: names }))).resolves.toMatchObject({
      created: true,
    });
    await expectEnablementRejection(
      engine.createRequest(
        transfer({ delegationChain: [nhiOf(keys.unregistered), nhiOf(keys.agent)], policyId: 'p2' as never }),
      ),
      'PL-403',
      'not a registered principal',
    );
    const strict = restart({ requireSignedDelegation: true });
    await expectEnablementRejection(
      strict.createRequest(transfer({ delegationChain: names, policyId: 'p3' as never })),
      'PL-403',
      'signed delegation chain is required',
    );
    await platform.nhi.revoke(keys.root.identity);
    await expectEnablementRejection(
      engine.createRequest(transfer({ delegationChain: names, policyId: 'p4' as never })),
      'PL-410',
    );
  });
});

describe('approval, tokens and platform authz', () => {
  async function approvedTransfer() {
    const kit = await createKit();
    kit.platform.authz.setPolicies([
      {
        id: 'large_transfer',
        effect: 'require_oversight',
        action: 'funds.transfer',
        when: { attr: 'context.amount', op: 'gt', value: 10000 },
        requirement: requirement(),
      },
      { id: 'small', effect: 'permit', action: 'funds.transfer' },
    ]);
    const call = {
      principal: nhiOf(keys.agent),
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      context: { amount: 50000, currency: 'USD' },
    };
    const decision = kit.platform.authz.evaluate(call);
    expect(decision.decision).toBe('requires_oversight');
    const { requestId } = await kit.engine.createRequest(transfer());
    const waiting = kit.engine.awaitApproval(requestId);
    const result = await kit.engine.submitResponse(
      respond(kit.clock, keys.cfo, requestId, 'APPROVE', { reason: 'Invoice verified' }),
    );
    expect(result).toEqual({ requestId, state: 'APPROVED', accepted: true });
    const outcome = approved(await waiting);
    return { ...kit, requestId, outcome, call };
  }

  it('approves with a token the platform authz accepts for exactly that call, once', async () => {
    const { platform, outcome, call, requestId } = await approvedTransfer();
    expect(outcome).toMatchObject({
      requestId,
      decidedBy: [nhiOf(keys.cfo)],
      reason: 'Invoice verified',
      approvedParameters: { amount: 50000, currency: 'USD' },
    });
    const claims = decodeOverrideToken(outcome.overrideToken);
    expect(claims).toMatchObject({
      issuer: nhiOf(keys.service),
      principal: nhiOf(keys.agent),
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      requestId,
      maxUses: 1,
    });
    const token = outcome.overrideToken;
    expectEnablementError(
      () =>
        platform.authz.evaluate({
          ...call,
          context: { amount: 50001, currency: 'USD' },
          overrideToken: token,
        }),
      'PL-403',
      'arguments differ',
    );
    expectEnablementError(
      () => platform.authz.evaluate({ ...call, resource: 'payments:account:other', overrideToken: token }),
      'PL-403',
      'resource',
    );
    expect(platform.authz.evaluate({ ...call, overrideToken: token }).decision).toBe('allow');
    expectEnablementError(
      () => platform.authz.evaluate({ ...call, overrideToken: token }),
      'OV-410',
      'already used',
    );
  });

  it('records the vote, the transition and the audit trail; getRequest never shows the token', async () => {
    const { engine, requestId, platform, outcome } = await approvedTransfer();
    const view = await engine.getRequest(requestId);
    expect(view.state).toBe('APPROVED');
    expect(view.votes).toEqual([
      expect.objectContaining({
        approver: nhiOf(keys.cfo),
        decision: 'APPROVE',
        reason: 'Invoice verified',
        tiers: [1],
      }),
    ]);
    expect(view.transitions.at(-1)).toMatchObject({
      from: 'PENDING',
      to: 'APPROVED',
      actor: nhiOf(keys.cfo),
      reason: 'approved',
    });
    expect(view.outcome).toMatchObject({ tokenIssued: true, decidedBy: [nhiOf(keys.cfo)] });
    expect(JSON.stringify(view, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).not.toContain(
      outcome.overrideToken,
    );
    const audit = await platform.audit.query({ product: 'oversight' });
    expect(audit.events.map((e) => auditEventDetail(e)?.kind)).toEqual([
      'RequestCreated',
      'ResponseReceived',
      'StateTransition',
    ]);
  });

  it('awaitApproval on a decided request answers at once, with the same token', async () => {
    const { engine, requestId, outcome } = await approvedTransfer();
    expect(await engine.awaitApproval(requestId)).toEqual(outcome);
  });

  it('token expiry follows the rules: an expired token is OV-410', async () => {
    const { platform, clock, outcome, call } = await approvedTransfer();
    await clock.advanceAsync(15 * 60_000);
    expectEnablementError(
      () => platform.authz.evaluate({ ...call, overrideToken: outcome.overrideToken }),
      'OV-410',
    );
  });

  it('approve with edits: only where allowed; the token binds the edited parameters', async () => {
    const kit = await createKit({ engine: { policies: { large_transfer: { allowEdits: true } } } });
    const { engine, clock, platform } = kit;
    const { requestId } = await engine.createRequest(transfer());
    const edited = { amount: 40000, currency: 'USD' };
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.cfo, requestId, 'DENY', { editedParameters: edited })),
      'OV-400',
      'only an APPROVE',
    );
    await engine.submitResponse(respond(clock, keys.cfo, requestId, 'APPROVE', { editedParameters: edited }));
    const outcome = approved(await engine.awaitApproval(requestId));
    expect(outcome.approvedParameters).toEqual(edited);
    const call = { principal: nhiOf(keys.agent), action: 'funds.transfer', resource: 'payments:account:ops' };
    platform.authz.setPolicies([
      {
        id: 'large_transfer',
        effect: 'require_oversight',
        action: 'funds.transfer',
        requirement: requirement(),
      },
    ]);
    expectEnablementError(
      () =>
        platform.authz.evaluate({
          ...call,
          context: { amount: 50000, currency: 'USD' },
          overrideToken: outcome.overrideToken,
        }),
      'PL-403',
    );
    expect(
      platform.authz.evaluate({ ...call, context: edited, overrideToken: outcome.overrideToken }).decision,
    ).toBe('allow');

    const strict = await createKit();
    const other = await strict.engine.createRequest(transfer());
    await expectEnablementRejection(
      strict.engine.submitResponse(
        respond(strict.clock, keys.cfo, other.requestId, 'APPROVE', { editedParameters: edited }),
      ),
      'OV-400',
      'does not allow edits',
    );
  });
});

describe('quorum and deny rules', () => {
  const threeApprovers = () => transfer({ requirement: requirement([tier([keys.a1, keys.a2, keys.a3], 2)]) });

  it('2-of-3: a duplicate vote from one approver counts once; a changed vote is OV-409', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(threeApprovers());
    const vote = respond(clock, keys.a1, requestId);
    expect(await engine.submitResponse(vote)).toEqual({ requestId, state: 'PENDING', accepted: true });
    expect(await engine.submitResponse(vote)).toEqual({ requestId, state: 'PENDING', accepted: false });
    // Re-signed (new nonce), same decision: still one vote.
    expect(await engine.submitResponse(respond(clock, keys.a1, requestId))).toMatchObject({
      state: 'PENDING',
      accepted: false,
    });
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.a1, requestId, 'DENY')),
      'OV-409',
      'first vote stands',
    );
    expect((await engine.getRequest(requestId)).votes).toHaveLength(1);
    expect(await engine.submitResponse(respond(clock, keys.a3, requestId))).toMatchObject({
      state: 'APPROVED',
    });
    const outcome = approved(await engine.awaitApproval(requestId));
    expect(outcome.decidedBy).toEqual([nhiOf(keys.a1), nhiOf(keys.a3)]);
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.a2, requestId)),
      'OV-409',
      'already APPROVED',
    );
    // The vote that decided, replayed after the decision, is still a harmless duplicate.
    expect(await engine.submitResponse(vote)).toMatchObject({ state: 'APPROVED', accepted: false });
  });

  it('deny rule any (default): one DENY denies, recorded as a human denial', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(threeApprovers());
    await engine.submitResponse(respond(clock, keys.a1, requestId));
    await engine.submitResponse(respond(clock, keys.a2, requestId, 'DENY', { reason: 'Unknown vendor' }));
    expect(await engine.awaitApproval(requestId)).toEqual({
      state: 'DENIED',
      requestId,
      decidedBy: [nhiOf(keys.a2)],
      reason: 'Unknown vendor',
    });
    const view = await engine.getRequest(requestId);
    expect(view.transitions.at(-1)).toMatchObject({ to: 'DENIED', reason: 'denied', actor: nhiOf(keys.a2) });
  });

  it('deny rule quorum: one DENY waits; a quorum of denials denies', async () => {
    const { engine, clock } = await createKit({ engine: { rules: { denyRule: 'quorum' } } });
    const { requestId } = await engine.createRequest(threeApprovers());
    expect(await engine.submitResponse(respond(clock, keys.a1, requestId, 'DENY'))).toMatchObject({
      state: 'PENDING',
    });
    expect(await engine.submitResponse(respond(clock, keys.a2, requestId))).toMatchObject({
      state: 'PENDING',
    });
    expect(await engine.submitResponse(respond(clock, keys.a3, requestId, 'DENY'))).toMatchObject({
      state: 'DENIED',
    });
    expect(await engine.awaitApproval(requestId)).toMatchObject({
      state: 'DENIED',
      decidedBy: [nhiOf(keys.a1), nhiOf(keys.a3)],
    });
  });

  it('approvals with different edits do not add up', async () => {
    const { engine, clock } = await createKit({ engine: { rules: { allowEdits: true } } });
    const { requestId } = await engine.createRequest(threeApprovers());
    await engine.submitResponse(
      respond(clock, keys.a1, requestId, 'APPROVE', { editedParameters: { amount: 1 } }),
    );
    expect(await engine.submitResponse(respond(clock, keys.a2, requestId))).toMatchObject({
      state: 'PENDING',
    });
    expect(await engine.submitResponse(respond(clock, keys.a3, requestId))).toMatchObject({
      state: 'APPROVED',
    });
    expect(approved(await engine.awaitApproval(requestId)).approvedParameters).toEqual({
      amount: 50000,
      currency: 'USD',
    });
  });

  it('role and group entries: any principal holding them is eligible, each counted once', async () => {
    const { engine, clock, notifier } = await createKit();
    const { requestId } = await engine.createRequest(
      transfer({ requirement: requirement([tier(['role:cfo', 'group:finance'], 2)]) }),
    );
    expect(notifier.recipients()).toEqual(['role:cfo', 'group:finance']);
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.ceo, requestId)), 'OV-403');
    expect(await engine.submitResponse(respond(clock, keys.cfo, requestId))).toMatchObject({
      state: 'PENDING',
    });
    expect(await engine.submitResponse(respond(clock, keys.finance, requestId))).toMatchObject({
      state: 'APPROVED',
    });
  });
});

describe('eligibility and signatures', () => {
  it('an approver not named by the tier is OV-403, recorded nowhere as a vote but audited', async () => {
    const { engine, clock, platform } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.outsider, requestId)),
      'OV-403',
    );
    const view = await engine.getRequest(requestId);
    expect(view.votes).toEqual([]);
    expect(view.state).toBe('PENDING');
    const audit = await platform.audit.query({ product: 'oversight' });
    const rejected = audit.events.find((e) => e.action === 'oversight.respond' && e.outcome === 'denied');
    expect(rejected?.agentNhi).toBe(nhiOf(keys.outsider));
    expect(rejected?.metadata).toMatchObject({ kind: 'ResponseRejected', code: 'OV-403' });
  });

  it('self-approval by the agent or its delegation root is OV-403 unless allowed', async () => {
    const tiers = requirement([tier([keys.agent, keys.root, keys.cfo], 1)]);
    const { engine, clock, restart } = await createKit();
    const { requestId } = await engine.createRequest(
      transfer({ requirement: tiers, delegationChain: [nhiOf(keys.root), nhiOf(keys.agent)] }),
    );
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.agent, requestId)),
      'OV-403',
      'own',
    );
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.root, requestId)),
      'OV-403',
      'own',
    );
    await engine.close();
    const lenient = restart({ rules: { allowSelfApproval: true } });
    const other = await lenient.createRequest(
      transfer({
        requirement: tiers,
        policyId: 'self_ok' as never,
        resource: { resourceType: 'p', resourceId: 'q' },
      }),
    );
    expect(await lenient.submitResponse(respond(clock, keys.agent, other.requestId))).toMatchObject({
      state: 'APPROVED',
    });
  });

  it('forged, tampered and unsigned responses are OV-401; a response cannot be moved to another request', async () => {
    const { engine, clock, platform } = await createKit();
    const a = await engine.createRequest(transfer());
    const b = await engine.createRequest(
      transfer({ resource: { resourceType: 'payments', resourceId: 'account:b' } }),
    );
    const good = respond(clock, keys.cfo, a.requestId);
    // Signed by someone else, claiming to be the CFO.
    const forged = { ...respond(clock, keys.outsider, a.requestId), approver: nhiOf(keys.cfo) };
    await expectEnablementRejection(engine.submitResponse(forged), 'OV-401');
    await expectEnablementRejection(engine.submitResponse({ ...good, decision: 'DENY' }), 'OV-401');
    await expectEnablementRejection(
      engine.submitResponse({ ...good, requestId: b.requestId as never }),
      'OV-401',
    );
    await expectEnablementRejection(
      engine.submitResponse({ ...good, signature: new Uint8Array(64) }),
      'OV-401',
    );
    await expectEnablementRejection(
      engine.submitResponse({ ...good, signature: new Uint8Array(0) }),
      'OV-400',
      'signature',
    );
    await expectEnablementRejection(
      engine.submitResponse(respond(clock, keys.unregistered, a.requestId)),
      'OV-401',
    );
    for (const id of [a.requestId, b.requestId]) expect((await engine.getRequest(id)).votes).toEqual([]);
    const audit = await platform.audit.query({ product: 'oversight' });
    const rejected = audit.events.filter((e) => e.action === 'oversight.respond' && e.outcome === 'denied');
    // Forged claims are never attributed to the principal they name.
    expect(rejected.length).toBeGreaterThan(0);
    for (const event of rejected) expect(event.agentNhi).toBe(nhiOf(keys.agent));
    // The genuine response still works.
    expect(await engine.submitResponse(good)).toMatchObject({ state: 'APPROVED' });
  });

  it('accepts the wire shape, and refuses a stale or future respondedAt', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    await expectEnablementRejection(
      engine.submitResponse(
        respond(clock, keys.cfo, requestId, 'APPROVE', { respondedAt: clock.now() + 3_600_000_000_000n }),
      ),
      'OV-400',
      'respondedAt',
    );
    await expectEnablementRejection(
      engine.submitResponse(
        respond(clock, keys.cfo, requestId, 'APPROVE', { respondedAt: clock.now() - 3_600_000_000_000n }),
      ),
      'OV-400',
      'respondedAt',
    );
    await expectEnablementRejection(engine.submitResponse({ request_id: requestId } as never), 'OV-400');
    const wire = encodeApprovalResponse(respond(clock, keys.cfo, requestId));
    expect(await engine.submitResponse(wire)).toMatchObject({ state: 'APPROVED' });
  });

  it('an approver registered with an ML-DSA-65 key must sign hybrid', async () => {
    const { engine, clock, platform } = await createKit();
    const pq = AgentKeyPair.fromSeed(new Uint8Array(32).fill(42), { kind: 'human', postQuantum: true });
    await registerPq(platform, pq);
    const { requestId } = await engine.createRequest(transfer({ requirement: requirement([tier([pq])]) }));
    const classical = signApprovalResponse(
      pq,
      { requestId: requestId as never, decision: 'APPROVE', respondedAt: clock.now() },
      { scheme: 'ed25519' },
    );
    await expectEnablementRejection(
      engine.submitResponse(classical),
      'OV-401',
      'hybrid signature is required',
    );
    expect(await engine.submitResponse(respond(clock, pq, requestId))).toMatchObject({ state: 'APPROVED' });
  });

  it('unknown request is OV-404', async () => {
    const { engine, clock } = await createKit();
    const id = '0192f3c4-7a1b-4c2d-8e3f-4a5b6c7d8e9f';
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.cfo, id)), 'OV-404');
    await expectEnablementRejection(engine.getRequest(id), 'OV-404');
    await expectEnablementRejection(engine.awaitApproval(id), 'OV-404');
    await expectEnablementRejection(engine.cancelRequest(id), 'OV-404');
  });
});

describe('awaitApproval', () => {
  it('its own timeout rejects OV-408 and leaves the request pending', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    const waiting = engine.awaitApproval(requestId, { timeoutMs: 60_000 });
    const check = expectEnablementRejection(waiting, 'OV-408', 'stays pending');
    await clock.advanceAsync(60_000);
    await check;
    expect((await engine.getRequest(requestId)).state).toBe('PENDING');
    expect(engine.stats().waiters).toBe(0);
    // A later decision still goes through.
    await engine.submitResponse(respond(clock, keys.cfo, requestId));
    expect((await engine.awaitApproval(requestId, { timeoutMs: 1 })).state).toBe('APPROVED');
  });

  it('an abort signal rejects with its reason; the request stays pending', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    const controller = new AbortController();
    const waiting = engine.awaitApproval(requestId, { signal: controller.signal });
    await settle(clock);
    controller.abort(new Error('agent stopped'));
    await expect(waiting).rejects.toThrow('agent stopped');
    expect(engine.stats().waiters).toBe(0);
    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    await expect(engine.awaitApproval(requestId, { signal: aborted.signal })).rejects.toThrow('already');
    expect((await engine.getRequest(requestId)).state).toBe('PENDING');
  });

  it('wakes every waiter on the decision, and bounds the number of waiters', async () => {
    const { engine, clock } = await createKit({ engine: { maxWaiters: 2 } });
    const { requestId } = await engine.createRequest(transfer());
    const w1 = engine.awaitApproval(requestId);
    const w2 = engine.awaitApproval(requestId);
    await settle(clock);
    await expectEnablementRejection(engine.awaitApproval(requestId), 'PL-503', 'too many waiters');
    await engine.submitResponse(respond(clock, keys.cfo, requestId));
    const [o1, o2] = await Promise.all([w1, w2]);
    expect(o1).toEqual(o2);
    expect(o1.state).toBe('APPROVED');
  });

  it('rejects bad options with OV-400', async () => {
    const { engine } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    await expectEnablementRejection(
      engine.awaitApproval(requestId, { timeoutMs: -1 }),
      'OV-400',
      'timeoutMs',
    );
    await expectEnablementRejection(
      engine.awaitApproval(requestId, { signal: {} as never }),
      'OV-400',
      'signal',
    );
  });
});

describe('cancel, list, listeners, close', () => {
  it('cancels an open request (waiters get CANCELLED); a decided one is OV-409', async () => {
    const { engine, clock } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    const waiting = engine.awaitApproval(requestId);
    await engine.cancelRequest(requestId, 'sandbox terminated', { actor: nhiOf(keys.agent) });
    expect(await waiting).toEqual({ state: 'CANCELLED', requestId, reason: 'sandbox terminated' });
    const view = await engine.getRequest(requestId);
    expect(view.transitions.at(-1)).toMatchObject({
      to: 'CANCELLED',
      actor: nhiOf(keys.agent),
      detail: 'sandbox terminated',
    });
    expect(engine.stats().timers).toBe(0);
    await expectEnablementRejection(engine.cancelRequest(requestId), 'OV-409');
    await expectEnablementRejection(engine.submitResponse(respond(clock, keys.cfo, requestId)), 'OV-409');
  });

  it('lists requests by state, agent and approver, a bounded page at a time', async () => {
    const { engine, clock } = await createKit();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ref = await engine.createRequest(
        transfer({ resource: { resourceType: 'payments', resourceId: `account:${i}` } }),
      );
      ids.push(ref.requestId);
    }
    const other = await engine.createRequest(
      transfer({
        requirement: requirement([tier([keys.a1])]),
        resource: { resourceType: 'x', resourceId: 'y' },
      }),
    );
    await engine.submitResponse(respond(clock, keys.cfo, ids[0] as string));
    const first = await engine.listRequests({ state: 'PENDING', limit: 2 });
    expect(first.requests.map((r) => r.requestId)).toEqual([ids[1], ids[2]]);
    const second = await engine.listRequests({
      state: 'PENDING',
      limit: 2,
      cursor: first.nextCursor as string,
    });
    expect(second.requests.map((r) => r.requestId)).toEqual([ids[3], ids[4]]);
    const third = await engine.listRequests({
      state: 'PENDING',
      limit: 2,
      cursor: second.nextCursor as string,
    });
    expect(third.requests.map((r) => r.requestId)).toEqual([other.requestId]);
    expect(third.nextCursor).toBeUndefined();
    expect(
      (await engine.listRequests({ approver: nhiOf(keys.a1) })).requests.map((r) => r.requestId),
    ).toEqual([other.requestId]);
    expect((await engine.listRequests({ agent: nhiOf(keys.bot) })).requests).toEqual([]);
    expect((await engine.listRequests({ state: 'APPROVED' })).requests[0]).toMatchObject({
      requestId: ids[0],
      tier: 1,
      action: 'funds.transfer',
      resourceUri: 'payments:account:0',
    });
    await expectEnablementRejection(engine.listRequests({ limit: 5000 }), 'OV-400', 'limit');
    await expectEnablementRejection(engine.listRequests({ cursor: 'nope' }), 'OV-400', 'cursor');
  });

  it('bounds listeners, isolates one that throws, and unsubscribes', async () => {
    const { engine, errors } = await createKit({ engine: { maxListeners: 2 } });
    const seen: string[] = [];
    engine.onTransition(() => {
      throw new Error('listener bug');
    });
    const off = engine.onTransition((event) => seen.push(event.to));
    expectEnablementError(() => engine.onTransition(() => undefined), 'PL-409', 'listeners');
    await engine.createRequest(transfer());
    expect(seen).toEqual(['PENDING']);
    expect(errors).toEqual([expect.objectContaining({ message: 'listener bug' })]);
    off();
    await engine.createRequest(transfer({ resource: { resourceType: 'a', resourceId: 'b' } }));
    expect(seen).toEqual(['PENDING']);
  });

  it('close rejects waiters with PL-503 and later calls; the store keeps the request', async () => {
    const { engine, clock, store } = await createKit();
    const { requestId } = await engine.createRequest(transfer());
    const waiting = engine.awaitApproval(requestId);
    await settle(clock);
    await engine.close();
    await engine.close();
    await expectEnablementRejection(waiting, 'PL-503', 'closed');
    await expectEnablementRejection(engine.createRequest(transfer()), 'PL-503');
    expect((await store.get(requestId))?.record.state).toBe('PENDING');
  });

  it('re-reads and re-applies a change when another engine moved the version (optimistic concurrency)', async () => {
    const kit = await createKit();
    const { store, clock } = kit;
    let conflicts = 1;
    const racy = {
      ...store,
      create: store.create,
      get: store.get,
      list: store.list,
      listOpen: store.listOpen,
      async commit(change: Parameters<typeof store.commit>[0]) {
        if (conflicts > 0) {
          conflicts--;
          // Another engine cancels nothing but bumps the version first.
          const current = await store.get(change.requestId);
          if (current !== undefined) {
            await store.commit({
              requestId: change.requestId,
              expectedVersion: current.record.version,
              record: { ...current.record, version: current.record.version + 1 },
            });
          }
        }
        return store.commit(change);
      },
    };
    const engine = kit.restart({ store: racy });
    const { requestId } = await engine.createRequest(
      transfer({ requirement: requirement([tier([keys.a1, keys.a2], 2)]) }),
    );
    conflicts = 1;
    expect(await engine.submitResponse(respond(clock, keys.a1, requestId))).toMatchObject({ accepted: true });
    const stored = await store.get(requestId);
    expect(stored?.votes).toHaveLength(1);
    // 1 created, 2 racer, 3 notified tier recorded, 4 racer, 5 the vote: both retries applied once.
    expect(stored?.record.version).toBe(5);
    expect(stored?.record.notifiedTier).toBe(0);
  });

  it('bounds open requests: beyond maxOpenRequests createRequest is a retryable PL-503', async () => {
    const { engine, clock } = await createKit({ engine: { maxOpenRequests: 1 } });
    const first = await engine.createRequest(transfer());
    const error = await expectEnablementRejection(
      engine.createRequest(transfer({ resource: { resourceType: 'a', resourceId: 'b' } })),
      'PL-503',
      'too many open',
    );
    expect(error.retryable).toBe(true);
    await engine.submitResponse(respond(clock, keys.cfo, first.requestId));
    await expect(
      engine.createRequest(transfer({ resource: { resourceType: 'a', resourceId: 'b' } })),
    ).resolves.toMatchObject({ created: true });
  });

  it('audit failures are reported, never fail the operation', async () => {
    const failing = {
      append: async () => {
        throw new Error('audit down');
      },
    };
    const { engine, errors, clock } = await createKit({ audit: failing as never });
    const { requestId } = await engine.createRequest(transfer());
    await engine.submitResponse(respond(clock, keys.cfo, requestId));
    await settle(clock);
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect((errors[0] as EnablementError).message).toBe('audit down');
  });
});
