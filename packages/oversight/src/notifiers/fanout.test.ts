import { EnablementError, type Notification, type NotificationReceipt, type Notifier } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import {
  createFanoutNotifier,
  createLogNotifier,
  type FanoutNotificationReceipt,
  type ManagedNotifier,
} from './index.js';

const nhiRecipient = 'human:nhi:ed25519:GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB';

const notification = (recipient: string, kind = 'approval_required'): Notification => ({
  id: 'n-1',
  kind,
  recipient,
  subject: 'Approval Required: delete_database',
  body: 'body',
});

type Behaviour = 'delivered' | 'queued' | EnablementError;

/** A notifier that records what it got and answers as told. */
function recording(channel: string, behaviour: Behaviour = 'delivered') {
  const got: Notification[] = [];
  let closed = false;
  const notifier: ManagedNotifier = {
    channel,
    async notify(n): Promise<NotificationReceipt> {
      got.push(n);
      if (behaviour instanceof EnablementError) throw behaviour;
      return behaviour === 'delivered'
        ? { notificationId: n.id, status: 'delivered', channel }
        : { notificationId: n.id, status: 'queued', channel, error: new EnablementError('OV-202', 'queued') };
    },
    get stats() {
      return { delivered: 0, deferred: 0, queued: 3, failed: 0 };
    },
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
      return { abandoned: got.slice(0, 1) };
    },
  };
  return { notifier, got };
}

const nhiPrefixes = ['agent:nhi:', 'human:nhi:', 'service:nhi:'];

describe('createFanoutNotifier', () => {
  it('routes NHIs to messaging and https:// recipients to the webhook', async () => {
    const messaging = recording('messaging');
    const webhook = recording('webhook');
    const notifier = createFanoutNotifier([
      { notifier: messaging.notifier, recipientPrefix: nhiPrefixes },
      { notifier: webhook.notifier, recipientPrefix: 'https://' },
    ]);
    expect((await notifier.notify(notification(nhiRecipient))).channel).toBe('messaging');
    expect((await notifier.notify(notification('https://hooks.example/x'))).channel).toBe('webhook');
    expect(messaging.got.map((n) => n.recipient)).toEqual([nhiRecipient]);
    expect(webhook.got.map((n) => n.recipient)).toEqual(['https://hooks.example/x']);
  });

  it('routes by kind and predicate; mode first stops at the first match', async () => {
    const quota = recording('quota');
    const all = recording('all');
    const routes = [
      {
        notifier: quota.notifier,
        kinds: ['quota_warning'],
        when: (n: Notification) => n.subject.startsWith('Quota'),
      },
      all.notifier,
    ];
    await createFanoutNotifier(routes).notify({
      ...notification(nhiRecipient, 'quota_warning'),
      subject: 'Quota at 95%',
    });
    expect([quota.got.length, all.got.length]).toEqual([1, 1]);
    await createFanoutNotifier(routes, { mode: 'first' }).notify({
      ...notification(nhiRecipient, 'quota_warning'),
      subject: 'Quota at 96%',
    });
    expect([quota.got.length, all.got.length]).toEqual([2, 1]);
    await createFanoutNotifier(routes, { mode: 'first' }).notify(notification(nhiRecipient));
    expect([quota.got.length, all.got.length]).toEqual([2, 2]);
  });

  it('receipt is the best result (delivered over queued) and lists every route', async () => {
    const queued = recording('messaging', 'queued');
    const failing = recording('webhook', new EnablementError('OV-400', 'HTTP 400'));
    const lines: string[] = [];
    const notifier = createFanoutNotifier([
      queued.notifier,
      failing.notifier,
      createLogNotifier({ write: (l) => lines.push(l) }),
    ]);
    const receipt = (await notifier.notify(notification(nhiRecipient))) as FanoutNotificationReceipt;
    expect(receipt.status).toBe('delivered');
    expect(receipt.channel).toBe('log');
    expect(receipt.results.map((r) => [r.route, r.receipt?.status ?? r.error?.code])).toEqual([
      ['messaging', 'queued'],
      ['webhook', 'OV-400'],
      ['log', 'delivered'],
    ]);
    const onlyQueued = await createFanoutNotifier([queued.notifier, failing.notifier]).notify(
      notification(nhiRecipient),
    );
    expect(onlyQueued.status).toBe('queued');
    expect(onlyQueued.error?.code).toBe('OV-202');
  });

  it('rejects when no route matches (OV-400) or every matching route refuses', async () => {
    const refusing = recording('webhook', new EnablementError('PL-503', 'queue full', { retryable: true }));
    const refusing2 = recording('messaging', new EnablementError('OV-400', 'bad'));
    await expectEnablementRejection(
      createFanoutNotifier([{ notifier: refusing.notifier, recipientPrefix: 'https://' }]).notify(
        notification('bob'),
      ),
      'OV-400',
      'no route matches recipient bob',
    );
    const single = await expectEnablementRejection(
      createFanoutNotifier([refusing.notifier]).notify(notification('bob')),
      'PL-503',
      'queue full',
    );
    expect(single.retryable).toBe(true);
    const both = createFanoutNotifier([refusing.notifier, refusing2.notifier]);
    const error = await expectEnablementRejection(
      both.notify(notification('bob')),
      'PL-503',
      'all 2 routes refused',
    );
    expect(error.retryable).toBe(true);
    expect(both.stats.failed).toBe(1);
  });

  it('a predicate that throws fails the call with PL-500', async () => {
    const notifier = createFanoutNotifier([
      {
        notifier: recording('x').notifier,
        when: () => {
          throw new Error('bug');
        },
      },
    ]);
    await expectEnablementRejection(notifier.notify(notification('bob')), 'PL-500', 'predicate');
  });

  it('sums the routes’ queues, closes each route once and collects what they abandoned', async () => {
    const a = recording('messaging');
    const plain: Notifier = {
      notify: async (n) => ({ notificationId: n.id, status: 'delivered', channel: 'plain' }),
    };
    const notifier = createFanoutNotifier([a.notifier, { notifier: a.notifier, kinds: ['x'] }, plain]);
    await notifier.notify(notification(nhiRecipient));
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 3, failed: 0 });
    const result = await notifier.close();
    expect(result.abandoned.map((n) => n.id)).toEqual(['n-1']);
    expect(a.notifier.closed).toBe(true);
    await expectEnablementRejection(notifier.notify(notification(nhiRecipient)), 'PL-409');
  });

  it('validates routes and options', () => {
    expectEnablementError(() => createFanoutNotifier([]), 'PL-400', 'routes');
    expectEnablementError(() => createFanoutNotifier([{} as Notifier]), 'PL-400', 'routes');
    expectEnablementError(
      () => createFanoutNotifier([recording('x').notifier], { mode: 'some' as never }),
      'PL-400',
      'mode',
    );
  });
});
