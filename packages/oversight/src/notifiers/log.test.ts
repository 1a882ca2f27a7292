import { createJsonLogger, type Notification } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createLogNotifier } from './index.js';

const notification: Notification = {
  id: 'n-1',
  kind: 'approval_required',
  recipient: 'human:nhi:ed25519:someone',
  subject: 'Approval Required: delete_database',
  body: 'Reasoning: the agent thinks the table is unused.',
  data: { apiKey: 'sk-live-123', parameters: { table: 'users' } },
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
};

describe('createLogNotifier', () => {
  it('writes one JSON line with id, kind, recipient, subject and trace id; never body or data by default', async () => {
    const lines: string[] = [];
    const notifier = createLogNotifier({ write: (line) => lines.push(line) });
    const receipt = await notifier.notify(notification);
    expect(receipt).toEqual({ notificationId: 'n-1', status: 'delivered', channel: 'log' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      message: 'notification',
      channel: 'log',
      notification_id: 'n-1',
      kind: 'approval_required',
      recipient: 'human:nhi:ed25519:someone',
      subject: 'Approval Required: delete_database',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(lines[0]).not.toContain('sk-live-123');
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 0, failed: 0 });
  });

  it('adds the body only with includeBody', async () => {
    const lines: string[] = [];
    await createLogNotifier({ write: (line) => lines.push(line), includeBody: true }).notify(notification);
    expect(JSON.parse(lines[0] ?? '').body).toBe(notification.body);
    expect(lines[0]).not.toContain('sk-live-123');
  });

  it('logs through a Logger as spec §10.3 JSON with the fields as attributes', async () => {
    const lines: string[] = [];
    const logger = createJsonLogger({
      clock: new FakeClock(),
      product: 'oversight',
      sink: (l) => lines.push(l),
    });
    await createLogNotifier({ logger, level: 'warn' }).notify(notification);
    const record = JSON.parse(lines[0] ?? '');
    expect(record).toMatchObject({
      level: 'WARN',
      product: 'oversight',
      operation: 'notify',
      message: 'notification',
      attributes: { channel: 'log', notification_id: 'n-1', subject: 'Approval Required: delete_database' },
    });
    expect(lines[0]).not.toContain('sk-live-123');
  });

  it('refuses invalid notifications (OV-400), a throwing sink (PL-500), and anything after close (PL-409)', async () => {
    const notifier = createLogNotifier({
      write: () => {
        throw new Error('disk full');
      },
    });
    await expectEnablementRejection(notifier.notify({ ...notification, subject: '' }), 'OV-400', 'subject');
    await expectEnablementRejection(notifier.notify(notification), 'PL-500', 'log sink');
    expect(notifier.stats.failed).toBe(2);
    expect((await notifier.close()).abandoned).toEqual([]);
    await expectEnablementRejection(notifier.notify(notification), 'PL-409');
  });

  it('validates its options', () => {
    expectEnablementError(
      () => createLogNotifier({ write: () => {}, logger: createJsonLogger({ sink: () => {} }) }),
      'PL-400',
      'at most one',
    );
    expectEnablementError(() => createLogNotifier({ level: 'loud' as never }), 'PL-400', 'level');
  });
});
