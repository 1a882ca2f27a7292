import { EnablementError, type Notification, type NotificationReceipt, type Notifier } from '@creto/core';
import { BoundedLog, DEFAULT_MAX_RECORDED } from './recorder.js';

/**
 * What a {@link RecordingNotifier} answers: `delivered`; `queued` (with `OV-202`, the recipient
 * is offline, spec §8.3); or `failing` (`notify` rejects: the notification could not be accepted).
 */
export type RecordingNotifierMode = 'delivered' | 'queued' | 'failing';

/** Options of {@link createRecordingNotifier}. */
export interface RecordingNotifierOptions {
  /** Default `delivered`. */
  readonly mode?: RecordingNotifierMode;
  /** Channel named on receipts; default `recording`. */
  readonly channel?: string;
  /** What `failing` rejects with; default a retryable `PL-503`. */
  readonly error?: EnablementError;
  /** Most notifications kept (oldest forgotten first, counted in `dropped`); default 10 000. */
  readonly maxNotifications?: number;
}

/** A {@link Notifier} that keeps every notification it is given. */
export interface RecordingNotifier extends Notifier {
  /** Every valid notification received, in order, whatever the mode answered. */
  readonly notifications: readonly Notification[];
  /** Receipts returned (not for `failing` calls), in order. */
  readonly receipts: readonly NotificationReceipt[];
  /** Notifications forgotten at the bound. */
  readonly dropped: number;
  /** The notifications for one recipient. */
  forRecipient(recipient: string): Notification[];
  /** The notifications of one kind (`approval_required`, `quota_warning`, `invoice`, …). */
  ofKind(kind: string): Notification[];
  /** Changes the answer of later calls (and, for `failing`, the error). */
  setMode(mode: RecordingNotifierMode, error?: EnablementError): void;
  /** Forgets notifications and receipts. */
  clear(): void;
}

const MODES: readonly RecordingNotifierMode[] = ['delivered', 'queued', 'failing'];

function checkNotification(n: unknown): asserts n is Notification {
  if (typeof n !== 'object' || n === null)
    throw new EnablementError('PL-400', 'notify: expected a Notification');
  const record = n as Record<string, unknown>;
  for (const field of ['id', 'kind', 'recipient', 'subject'] as const) {
    const value = record[field];
    if (typeof value !== 'string' || value.length === 0) {
      throw new EnablementError('PL-400', `notify: ${field} must be a non-empty string`);
    }
  }
  if (typeof record.body !== 'string') throw new EnablementError('PL-400', 'notify: body must be a string');
}

/**
 * A recording fake of core's `Notifier` port (how Oversight notifies approvers and Metering warns
 * agents and sends invoices): keeps every notification and answers `delivered`, `queued`
 * (`OV-202`) or rejects, as the test chooses.
 *
 * @example
 * ```ts
 * const notifier = createRecordingNotifier({ mode: 'queued' });
 * const oversight = createOversight({ nhi, serviceKey, notifier });
 * await oversight.createRequest(request);
 * expect(notifier.ofKind('approval_required')[0]?.subject).toBe('Approval Required: funds.transfer');
 * expect((await oversight.getRequest(id)).notes.some((n) => n.code === 'OV-202')).toBe(true);
 * ```
 */
export function createRecordingNotifier(options: RecordingNotifierOptions = {}): RecordingNotifier {
  const notifications = new BoundedLog<Notification>(
    options.maxNotifications ?? DEFAULT_MAX_RECORDED,
    'maxNotifications',
  );
  const receipts = new BoundedLog<NotificationReceipt>(
    options.maxNotifications ?? DEFAULT_MAX_RECORDED,
    'maxNotifications',
  );
  const channel = options.channel ?? 'recording';
  let mode: RecordingNotifierMode = 'delivered';
  let error = new EnablementError('PL-503', 'notifier unavailable (fake)', { retryable: true });
  const setMode = (next: RecordingNotifierMode, nextError?: EnablementError) => {
    if (!MODES.includes(next))
      throw new EnablementError('PL-400', `mode: expected one of ${MODES.join(', ')}`);
    mode = next;
    if (nextError !== undefined) error = nextError;
  };
  setMode(options.mode ?? 'delivered', options.error);
  return {
    get notifications() {
      return notifications.toArray();
    },
    get receipts() {
      return receipts.toArray();
    },
    get dropped() {
      return notifications.dropped;
    },
    async notify(notification: Notification): Promise<NotificationReceipt> {
      checkNotification(notification);
      notifications.push(Object.freeze({ ...notification }));
      if (mode === 'failing') throw error;
      const receipt: NotificationReceipt =
        mode === 'delivered'
          ? { notificationId: notification.id, status: 'delivered', channel }
          : {
              notificationId: notification.id,
              status: 'queued',
              channel,
              error: new EnablementError(
                'OV-202',
                `notification ${notification.id} queued: recipient offline (fake)`,
              ),
            };
      receipts.push(Object.freeze(receipt));
      return receipt;
    },
    forRecipient: (recipient) => notifications.items.filter((n) => n.recipient === recipient),
    ofKind: (kind) => notifications.items.filter((n) => n.kind === kind),
    setMode,
    clear() {
      notifications.clear();
      receipts.clear();
    },
  };
}
