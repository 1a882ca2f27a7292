import {
  createJsonLogger,
  EnablementError,
  type Logger,
  type LogLevel,
  type Notification,
  type NotificationReceipt,
  parseOptions,
} from '@creto/core';
import { z } from 'zod';
import { parseNotification } from './notification.js';
import { functionSchema, loggerSchema } from './options.js';
import type { ManagedNotifier, NotifierCloseResult, NotifierStats } from './types.js';

/** The channel name of {@link createLogNotifier} receipts. */
export const LOG_CHANNEL = 'log';

/** Options of {@link createLogNotifier}. Give at most one of `logger` and `write`. */
export interface LogNotifierOptions {
  /** Log through this `Logger` (one `info` line per notification, fields as below). */
  readonly logger?: Logger;
  /** Or write one JSON line per notification here (e.g. `(line) => process.stdout.write(line + '\n')`). */
  readonly write?: (line: string) => void;
  /** Log the body too (default false: it may quote the agent's reasoning). `data` is never logged. */
  readonly includeBody?: boolean;
  /** Level of the `logger` line; default `info`. */
  readonly level?: LogLevel;
}

/** One line of {@link createLogNotifier} in `write` mode (the `logger` gets the same as fields). */
export interface LogNotificationLine {
  /** Always `notification`. */
  readonly message: 'notification';
  /** Always `log`. */
  readonly channel: typeof LOG_CHANNEL;
  /** The notification id. */
  readonly notification_id: string;
  /** Its kind. */
  readonly kind: string;
  /** Its recipient. */
  readonly recipient: string;
  /** Its subject. */
  readonly subject: string;
  /** Its trace id, when it has one. */
  readonly trace_id?: string;
  /** Its body, with `includeBody`. */
  readonly body?: string;
}

const optionsSchema = z.strictObject({
  logger: loggerSchema.optional(),
  write: functionSchema<(line: string) => void>().optional(),
  includeBody: z.boolean().optional(),
  level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
});

/**
 * A {@link ManagedNotifier} that logs notifications instead of sending them: for development,
 * demos, and as an audit trail beside a real channel (combine with `createFanoutNotifier`). It
 * logs id, kind, recipient, subject and trace id (the body only with `includeBody`; `data` never,
 * as it may hold request parameters). Every accepted notification is `delivered`: there is no
 * queue, so `close` abandons nothing and the hooks never apply. Without `logger` or `write` it
 * writes spec §10.3 JSON lines to stdout through core `createJsonLogger`.
 *
 * @example
 * ```ts
 * const notifier = createLogNotifier({ write: (line) => lines.push(line) });
 * await notifier.notify(notification); // lines[0]: {"message":"notification","channel":"log",…}
 * ```
 */
export function createLogNotifier(options: LogNotifierOptions = {}): ManagedNotifier {
  const parsed = parseOptions(optionsSchema, options, 'createLogNotifier');
  if (parsed.logger !== undefined && parsed.write !== undefined) {
    throw new EnablementError(
      'PL-400',
      'invalid createLogNotifier options: give at most one of logger and write',
    );
  }
  const write = parsed.write;
  const logger =
    write === undefined ? (parsed.logger ?? createJsonLogger({ product: 'oversight' })) : undefined;
  const includeBody = parsed.includeBody ?? false;
  const level = parsed.level ?? 'info';
  let delivered = 0;
  let failed = 0;
  let closed = false;
  const noneAbandoned: NotifierCloseResult = Object.freeze({ abandoned: Object.freeze([]) });

  return Object.freeze({
    channel: LOG_CHANNEL,
    async notify(input: Notification): Promise<NotificationReceipt> {
      if (closed) throw new EnablementError('PL-409', `${LOG_CHANNEL} notifier is closed`);
      let notification: Notification;
      try {
        notification = parseNotification(input);
      } catch (error) {
        failed++;
        throw error;
      }
      const line: LogNotificationLine = {
        message: 'notification',
        channel: LOG_CHANNEL,
        notification_id: notification.id,
        kind: notification.kind,
        recipient: notification.recipient,
        subject: notification.subject,
        ...(notification.traceId === undefined ? {} : { trace_id: notification.traceId }),
        ...(includeBody ? { body: notification.body } : {}),
      };
      try {
        if (write !== undefined) write(JSON.stringify(line));
        else {
          const { message, ...fields } = line;
          logger?.[level](message, { operation: 'notify', ...fields });
        }
      } catch (error) {
        failed++;
        throw new EnablementError('PL-500', `notification ${notification.id}: the log sink threw`, {
          cause: error,
        });
      }
      delivered++;
      return { notificationId: notification.id, status: 'delivered', channel: LOG_CHANNEL };
    },
    get stats(): NotifierStats {
      return Object.freeze({ delivered, deferred: 0, queued: 0, failed });
    },
    get closed() {
      return closed;
    },
    async close(): Promise<NotifierCloseResult> {
      closed = true;
      return noneAbandoned;
    },
  });
}
