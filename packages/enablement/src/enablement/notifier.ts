import {
  type Clock,
  type CryptoProvider,
  EnablementError,
  type Logger,
  type MessageSender,
  type Notification,
  type NotificationReceipt,
  type Notifier,
} from '@creto/core';
import type { MessagingClient } from '@creto/messaging';
import {
  createFanoutNotifier,
  createLogNotifier,
  createMessagingNotifier,
  createWebhookNotifier,
  type ManagedNotifier,
  type NotifierCloseResult,
  type NotifierRoute,
} from '@creto/oversight';
import type { EnablementWebhook, NotificationListener } from './types.js';

/** Recipient prefixes routed to end-to-end messaging: every NHI (spec §6.1). */
export const NHI_RECIPIENT_PREFIXES: readonly string[] = Object.freeze([
  'agent:nhi:',
  'human:nhi:',
  'service:nhi:',
]);

/** Most notifications tracked in flight for `settle()`; beyond it they are sent untracked. */
export const MAX_TRACKED_NOTIFICATIONS = 100_000;

/** Most webhooks of one layer. */
export const MAX_WEBHOOKS = 16;

/** The layer's notifier: routing plus in-flight tracking. @internal */
export interface LayerNotifier {
  /** What Oversight and Metering notify through. */
  readonly notifier: Notifier;
  /** Notifications whose `notify` has not settled. */
  readonly inFlight: number;
  /** Resolves once every notification in flight now has settled. */
  idle(): Promise<void>;
  /** Closes the routes (queued retries are abandoned and returned). */
  close(): Promise<NotifierCloseResult>;
}

/** Options of {@link createLayerNotifier}. @internal */
export interface LayerNotifierOptions {
  readonly bot: MessagingClient;
  readonly clock: Clock;
  readonly provider: CryptoProvider;
  readonly webhooks: readonly EnablementWebhook[];
  readonly logger: Logger;
  readonly onNotification: NotificationListener | undefined;
}

/**
 * Builds the notifier of spec §4.4: a first-match fan-out that sends NHI recipients end to end
 * through the notification bot (a `queued` relay answer is `OV-202`, spec §8.3), recipients
 * matching a webhook prefix to that webhook (Standard Webhooks signatures), and everything else
 * (`cfo@company.com` without a webhook) to a log line, so a request whose approver has no
 * channel still proceeds. Every `notify` is tracked until it settles, so `settle()` can wait.
 * @internal
 */
export function createLayerNotifier(options: LayerNotifierOptions): LayerNotifier {
  const { bot, clock, provider, logger } = options;
  // The port of core (spec §4.4): the bot's `sendMessage` already answers { messageId, status }.
  const sender: MessageSender = {
    nhi: bot.nhi,
    send: (recipient, payload, sendOptions) => bot.sendMessage(recipient, payload, sendOptions),
  };
  const routes: NotifierRoute[] = [
    {
      notifier: createMessagingNotifier({ sender, clock, logger }),
      name: 'messaging',
      recipientPrefix: NHI_RECIPIENT_PREFIXES,
    },
  ];
  if (options.webhooks.length > MAX_WEBHOOKS) {
    throw new EnablementError('PL-400', `webhooks: at most ${MAX_WEBHOOKS} webhooks`);
  }
  options.webhooks.forEach((webhook, i) => {
    let notifier: ManagedNotifier;
    try {
      notifier = createWebhookNotifier({
        url: webhook.url,
        secret: webhook.secret,
        clock,
        crypto: provider,
        logger,
      });
    } catch (error) {
      // The webhook's own message never echoes the secret or the URL path.
      const why = EnablementError.is(error) ? error.message : 'invalid webhook';
      throw new EnablementError('PL-400', `webhooks[${i}]: ${why}`, { cause: error });
    }
    routes.push({ notifier, name: `webhook-${i}`, recipientPrefix: webhook.recipientPrefix });
  });
  routes.push({ notifier: createLogNotifier({ logger }), name: 'log' });
  const fanout = createFanoutNotifier(routes, { mode: 'first' });

  const inFlight = new Set<Promise<unknown>>();
  const listener = options.onNotification;
  const tell = (n: Notification, receipt: NotificationReceipt | undefined, error: unknown): void => {
    if (listener === undefined) return;
    try {
      listener(n, receipt, EnablementError.is(error) ? error : undefined);
    } catch {
      logger.warn('onNotification listener threw', { operation: 'notify', notification_id: n.id });
    }
  };

  const notifier: Notifier = Object.freeze({
    notify(notification: Notification): Promise<NotificationReceipt> {
      const sent = fanout.notify(notification);
      const settled = sent.then(
        (receipt) => tell(notification, receipt, undefined),
        (error: unknown) => tell(notification, undefined, error),
      );
      if (inFlight.size < MAX_TRACKED_NOTIFICATIONS) {
        inFlight.add(settled);
        void settled.finally(() => inFlight.delete(settled));
      }
      return sent;
    },
  });

  return Object.freeze({
    notifier,
    get inFlight() {
      return inFlight.size;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    close: () => fanout.close(),
  });
}
