import {
  EnablementError,
  formatNhi,
  type MessageSender,
  type Notification,
  nobleCryptoProvider,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import {
  createMessagingNotifier,
  decodeNotificationPayload,
  type MessagingNotificationReceipt,
  type MessagingNotifierOptions,
  type NotificationDeliveredEvent,
  type NotificationFailedEvent,
} from './index.js';

const MS = 1_000_000n;
const nhi = (fill: number) =>
  formatNhi('human', nobleCryptoProvider.ed25519.publicKey(new Uint8Array(32).fill(fill)));
const approver = nhi(7);

const notification = (id = 'n-1'): Notification => ({
  id,
  kind: 'approval_required',
  recipient: approver,
  subject: 'Approval Required: delete_database',
  body: 'Drop the production database?',
  data: { request_id: id },
});

type Step = 'delivered' | 'queued' | Error | 'garbage';

interface SentMessage {
  readonly recipient: string;
  readonly payload: Uint8Array;
  readonly ttlMs: number | undefined;
  readonly at: bigint;
}

/** A MessageSender that answers from a script (then `delivered`) and records every call. */
function fakeSender(clock: FakeClock, script: Step[] = [], options: { wipe?: boolean } = {}) {
  const sent: SentMessage[] = [];
  const sender: MessageSender = {
    nhi: nhi(9),
    async send(recipient, payload, sendOptions) {
      sent.push({ recipient, payload: payload.slice(), ttlMs: sendOptions?.ttlMs, at: clock.now() });
      // A sender that wipes its plaintext after encrypting, as a careful one might.
      if (options.wipe) payload.fill(0);
      const step = script.shift() ?? 'delivered';
      if (step instanceof Error) throw step;
      if (step === 'garbage') return { nope: true } as never;
      return { messageId: `m-${sent.length}`, status: step };
    },
  };
  return { sender, sent };
}

function setup(script: Step[] = [], overrides: Partial<MessagingNotifierOptions> = {}, wipe = false) {
  const clock = new FakeClock();
  const start = clock.now();
  const { sender, sent } = fakeSender(clock, script, { wipe });
  const delivered: NotificationDeliveredEvent[] = [];
  const failed: NotificationFailedEvent[] = [];
  const notifier = createMessagingNotifier({
    sender,
    clock,
    random: () => 0.5,
    retry: { initialDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 4 },
    onDelivered: (event) => delivered.push(event),
    onFailed: (event) => failed.push(event),
    ...overrides,
  });
  const offsetsMs = () => sent.map((m) => Number((m.at - start) / MS));
  return { clock, notifier, sent, delivered, failed, offsetsMs };
}

const unavailable = () => new EnablementError('MS-503', 'relay unreachable');

describe('createMessagingNotifier', () => {
  it('delivers the payload envelope to the recipient NHI', async () => {
    const { notifier, sent, delivered } = setup([], { ttlMs: 60_000 });
    const receipt = (await notifier.notify(notification())) as MessagingNotificationReceipt;
    expect(receipt).toEqual({
      notificationId: 'n-1',
      status: 'delivered',
      channel: 'messaging',
      messageId: 'm-1',
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.recipient).toBe(approver);
    expect(sent[0]?.ttlMs).toBe(60_000);
    expect(decodeNotificationPayload(sent[0]?.payload ?? new Uint8Array())).toEqual(notification());
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 0, failed: 0 });
    expect(delivered).toEqual([]); // hooks are for queued notifications only
  });

  it('recipient offline: the relay holds it, receipt queued with OV-202, nothing retried', async () => {
    const { clock, notifier, sent } = setup(['queued']);
    const receipt = await notifier.notify(notification());
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.code).toBe('OV-202');
    expect(receipt.error?.message).toContain('relay holds message m-1');
    expect(notifier.stats).toEqual({ delivered: 0, deferred: 1, queued: 0, failed: 0 });
    await clock.advanceAsync(600_000);
    expect(sent).toHaveLength(1);
  });

  it('messaging down (MS-503): queued with OV-202, retried with backoff on the clock, hook fires', async () => {
    const { clock, notifier, sent, delivered, offsetsMs } = setup([
      unavailable(),
      new EnablementError('PL-503', 'nhi down'),
    ]);
    const receipt = await notifier.notify(notification());
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.code).toBe('OV-202');
    expect(receipt.error?.causedBy?.code).toBe('MS-503');
    expect(notifier.stats.queued).toBe(1);

    // Decorrelated jitter with random 0.5: 1000 + 0.5 × (3000 − 1000) = 2000 ms, then
    // 1000 + 0.5 × (6000 − 1000) = 3500 ms.
    await clock.advanceAsync(1999);
    expect(sent).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(offsetsMs()).toEqual([0, 2000]);
    await clock.advanceAsync(3500);
    expect(offsetsMs()).toEqual([0, 2000, 5500]);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.attempts).toBe(3);
    expect(delivered[0]?.receipt.status).toBe('delivered');
    expect(delivered[0]?.notification.id).toBe('n-1');
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 0, failed: 0 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a send that hangs times out on the clock (transient) and is retried', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const sender: MessageSender = {
      nhi: nhi(9),
      send: () => {
        calls++;
        return calls === 1
          ? new Promise(() => {})
          : Promise.resolve({ messageId: 'm-2', status: 'delivered' });
      },
    };
    const delivered: NotificationDeliveredEvent[] = [];
    const notifier = createMessagingNotifier({
      sender,
      clock,
      timeoutMs: 5000,
      random: () => 0.5,
      retry: { initialDelayMs: 1000 },
      onDelivered: (e) => delivered.push(e),
    });
    const pending = notifier.notify(notification());
    await clock.advanceAsync(5000);
    const receipt = await pending;
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.causedBy?.message).toContain('timed out after 5000 ms');
    await clock.advanceAsync(2000);
    expect(calls).toBe(2);
    expect(delivered).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a sender that throws synchronously leaves no timer behind', async () => {
    const clock = new FakeClock();
    const sender: MessageSender = {
      nhi: nhi(9),
      send: () => {
        throw new EnablementError('MS-404', 'unknown recipient');
      },
    };
    const notifier = createMessagingNotifier({ sender, clock });
    await expectEnablementRejection(notifier.notify(notification()), 'OV-400');
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not send a notification again while the same id is queued', async () => {
    const { clock, notifier, sent, delivered } = setup([unavailable()]);
    await notifier.notify(notification());
    const again = await notifier.notify(notification());
    expect(again.status).toBe('queued');
    expect(again.error?.message).toContain('already queued');
    expect(sent).toHaveLength(1);
    await clock.advanceAsync(2000);
    expect(sent).toHaveLength(2);
    expect(delivered).toHaveLength(1);
  });

  it('never retries sooner than the error asks (retryAfterMs)', async () => {
    const { clock, notifier, offsetsMs } = setup([
      new EnablementError('MS-503', 'busy', { retryAfterMs: 7000 }),
    ]);
    await notifier.notify(notification());
    await clock.advanceAsync(6999);
    expect(offsetsMs()).toEqual([0]);
    await clock.advanceAsync(1);
    expect(offsetsMs()).toEqual([0, 7000]);
  });

  it('gives up after maxAttempts and reports gave_up', async () => {
    const { clock, notifier, sent, failed } = setup([
      unavailable(),
      unavailable(),
      unavailable(),
      unavailable(),
    ]);
    await notifier.notify(notification());
    await clock.advanceAsync(600_000);
    expect(sent).toHaveLength(4);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'gave_up', attempts: 4, channel: 'messaging' });
    expect(failed[0]?.error.code).toBe('MS-503');
    expect(notifier.stats).toEqual({ delivered: 0, deferred: 0, queued: 0, failed: 1 });
  });

  it('a permanent failure on a retry is reported as rejected with OV-400', async () => {
    const { clock, notifier, failed } = setup([
      unavailable(),
      new EnablementError('MS-403', 'not permitted'),
    ]);
    await notifier.notify(notification());
    await clock.advanceAsync(2000);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.reason).toBe('rejected');
    expect(failed[0]?.error.code).toBe('OV-400');
    expect(failed[0]?.error.causedBy?.code).toBe('MS-403');
  });

  it('refuses at once, without retrying, when messaging says no (MS-404, MS-403)', async () => {
    for (const code of ['MS-404', 'MS-403'] as const) {
      const { clock, notifier, sent } = setup([new EnablementError(code, 'no such recipient')]);
      const error = await expectEnablementRejection(
        notifier.notify(notification()),
        'OV-400',
        'cannot be delivered',
      );
      expect(error.causedBy?.code).toBe(code);
      await clock.advanceAsync(600_000);
      expect(sent).toHaveLength(1);
      expect(notifier.stats.failed).toBe(1);
    }
  });

  it('a sender that throws a foreign error or resolves garbage gives PL-500', async () => {
    const thrown = setup([new TypeError('secret-ish internal text')]);
    const error = await expectEnablementRejection(thrown.notifier.notify(notification()), 'PL-500');
    expect(error.message).not.toContain('secret-ish');
    await expectEnablementRejection(
      setup(['garbage']).notifier.notify(notification()),
      'PL-500',
      'invalid result',
    );
  });

  it('bounds the retry queue: at the bound notify rejects with retryable PL-503', async () => {
    const { notifier } = setup([unavailable(), unavailable()], { maxQueued: 1 });
    expect((await notifier.notify(notification('n-1'))).status).toBe('queued');
    const error = await expectEnablementRejection(
      notifier.notify(notification('n-2')),
      'PL-503',
      'queue is full',
    );
    expect(error.retryable).toBe(true);
    expect(error.causedBy?.code).toBe('MS-503');
    expect(notifier.stats).toMatchObject({ queued: 1, failed: 1 });
  });

  it('sends an intact copy on every attempt, even when the sender wipes its input', async () => {
    const { clock, notifier, sent } = setup([unavailable()], {}, true);
    await notifier.notify(notification());
    await clock.advanceAsync(2000);
    expect(sent).toHaveLength(2);
    expect(decodeNotificationPayload(sent[1]?.payload ?? new Uint8Array())).toEqual(notification());
  });

  it('refuses invalid notifications and non-NHI recipients with OV-400 before sending', async () => {
    const { notifier, sent } = setup();
    await expectEnablementRejection(
      notifier.notify({ ...notification(), recipient: 'bob' }),
      'OV-400',
      'NHI',
    );
    await expectEnablementRejection(notifier.notify({ ...notification(), kind: '' }), 'OV-400', 'kind');
    expect(sent).toHaveLength(0);
    expect(notifier.stats.failed).toBe(2);
    const lenient = setup([], { requireNhiRecipient: false });
    expect(
      (await lenient.notifier.notify({ ...notification(), recipient: 'test:agent:approver' })).status,
    ).toBe('delivered');
  });

  it('close abandons the queue, reports each notification, cancels its timers and refuses more', async () => {
    const { clock, notifier, failed, sent } = setup([unavailable()]);
    await notifier.notify(notification());
    const result = await notifier.close();
    expect(result.abandoned.map((n) => n.id)).toEqual(['n-1']);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'abandoned', attempts: 1 });
    expect(failed[0]?.error.code).toBe('PL-409');
    expect(notifier.closed).toBe(true);
    expect(await notifier.close()).toBe(result);
    await expectEnablementRejection(notifier.notify(notification('n-2')), 'PL-409', 'closed');
    await clock.advanceAsync(600_000);
    expect(sent).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    expect(notifier.stats).toEqual({ delivered: 0, deferred: 0, queued: 0, failed: 1 });
  });

  it('close with a drain timeout lets the queue finish first', async () => {
    const { clock, notifier, delivered } = setup([unavailable()]);
    await notifier.notify(notification());
    const closing = notifier.close({ drainTimeoutMs: 10_000 });
    await clock.advanceAsync(2000);
    expect((await closing).abandoned).toEqual([]);
    expect(delivered).toHaveLength(1);
  });

  it('close with a drain timeout abandons what is still queued when it expires', async () => {
    const { clock, notifier, failed } = setup([unavailable(), unavailable(), unavailable()]);
    await notifier.notify(notification());
    const closing = notifier.close({ drainTimeoutMs: 3000 });
    await clock.advanceAsync(3000);
    expect((await closing).abandoned.map((n) => n.id)).toEqual(['n-1']);
    expect(failed[0]?.reason).toBe('abandoned');
    expect(failed[0]?.attempts).toBe(2);
  });

  it('refuses a bad drain timeout and stays open', async () => {
    const { notifier } = setup();
    await expectEnablementRejection(notifier.close({ drainTimeoutMs: -1 }), 'PL-400', 'drainTimeoutMs');
    expect(notifier.closed).toBe(false);
  });

  it('a hook that throws is logged and does not disturb delivery', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(message: string) {
        warnings.push(message);
      },
      error() {},
      child() {
        return logger;
      },
    };
    const { clock, notifier } = setup([unavailable()], {
      logger,
      onDelivered: () => {
        throw new Error('hook bug');
      },
    });
    await notifier.notify(notification());
    await clock.advanceAsync(2000);
    expect(notifier.stats.delivered).toBe(1);
    expect(warnings.some((w) => w.includes('onDelivered hook threw'))).toBe(true);
  });

  it('validates its options with PL-400 naming the option', () => {
    const clock = new FakeClock();
    expectEnablementError(() => createMessagingNotifier({} as never), 'PL-400', 'sender');
    const { sender } = fakeSender(clock);
    expectEnablementError(() => createMessagingNotifier({ sender, ttlMs: 0 }), 'PL-400', 'ttlMs');
    expectEnablementError(() => createMessagingNotifier({ sender, maxQueued: 0 }), 'PL-400', 'maxQueued');
    expectEnablementError(
      () => createMessagingNotifier({ sender, retry: { maxAttempts: 0 } }),
      'PL-400',
      'retry.maxAttempts',
    );
    expectEnablementError(() => createMessagingNotifier({ sender, bogus: 1 } as never), 'PL-400', 'bogus');
  });
});
