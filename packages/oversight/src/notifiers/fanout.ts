import {
  EnablementError,
  type Notification,
  type NotificationReceipt,
  type Notifier,
  parseOptions,
} from '@creto/core';
import { z } from 'zod';
import { describeRecipient, parseNotification } from './notification.js';
import type { ManagedNotifier, NotifierCloseOptions, NotifierCloseResult, NotifierStats } from './types.js';

/** The `channel` of a fan-out notifier (its receipts carry the best route's channel). */
export const FANOUT_CHANNEL = 'fanout';
/** Most routes of one fan-out notifier. */
export const MAX_FANOUT_ROUTES = 32;

/**
 * One route of {@link createFanoutNotifier}: a notifier and when to use it. Conditions that are
 * given must all hold; a route without conditions takes every notification.
 */
export interface NotifierRoute {
  /** The notifier. */
  readonly notifier: Notifier;
  /** Name in results and errors; default the notifier's `channel`, else `route <index>`. */
  readonly name?: string;
  /**
   * The recipient starts with this, or one of these (case-sensitive), e.g.
   * `['agent:nhi:', 'human:nhi:', 'service:nhi:']` for messaging, `'https://'` for webhooks.
   */
  readonly recipientPrefix?: string | readonly string[];
  /** The notification's kind is one of these, e.g. `['approval_required']`. */
  readonly kinds?: readonly string[];
  /** Any other test. A predicate that throws fails the `notify` call with `PL-500`. */
  readonly when?: (notification: Notification) => boolean;
}

/** Options of {@link createFanoutNotifier}. */
export interface FanoutNotifierOptions {
  /** `all` (default): every matching route. `first`: only the first matching route (routing). */
  readonly mode?: 'all' | 'first';
  /** Whether `close` closes the routes' notifiers that have a `close` (default true). */
  readonly closeRoutes?: boolean;
}

/** What one route did with a notification. */
export interface FanoutRouteResult {
  /** The route's name. */
  readonly route: string;
  /** Its receipt, when it took the notification. */
  readonly receipt?: NotificationReceipt;
  /** Its error, when it refused it. */
  readonly error?: EnablementError;
}

/** A fan-out receipt: the best route's receipt plus what every matching route did. */
export interface FanoutNotificationReceipt extends NotificationReceipt {
  /** One result per matching route, in route order. */
  readonly results: readonly FanoutRouteResult[];
}

interface Route {
  readonly notifier: Notifier;
  readonly name: string;
  readonly prefixes: readonly string[] | undefined;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly when: ((notification: Notification) => boolean) | undefined;
}

const notifierSchema = z.custom<Notifier>(
  (value) => typeof value === 'object' && value !== null && typeof (value as Notifier).notify === 'function',
  { error: 'expected a Notifier' },
);

const routeSchema = z.union([
  notifierSchema,
  z.strictObject({
    notifier: notifierSchema,
    name: z.string().min(1).max(64).optional(),
    recipientPrefix: z
      .union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).min(1).max(16)])
      .optional(),
    kinds: z.array(z.string().min(1).max(64)).min(1).max(64).optional(),
    when: z
      .custom<(notification: Notification) => boolean>((value) => typeof value === 'function', {
        error: 'expected a function',
      })
      .optional(),
  }),
]);

const optionsSchema = z.strictObject({
  routes: z.array(routeSchema).min(1).max(MAX_FANOUT_ROUTES),
  mode: z.enum(['all', 'first']).optional(),
  closeRoutes: z.boolean().optional(),
});

function isManaged(notifier: Notifier): notifier is ManagedNotifier {
  return typeof (notifier as Partial<ManagedNotifier>).close === 'function';
}

function asEnablementError(error: unknown, route: string, id: string): EnablementError {
  return EnablementError.is(error)
    ? error
    : new EnablementError('PL-500', `notification ${id}: route ${route} failed`, { cause: error });
}

/**
 * A {@link ManagedNotifier} over several notifiers: by recipient and kind it picks the routes
 * that apply (e.g. NHIs → messaging, `https://` recipients → webhook, everything → a log) and
 * sends to every matching one concurrently (`mode: 'all'`) or only to the first (`mode: 'first'`).
 *
 * The receipt is the best one: `delivered` if any route delivered, else `queued` (with that
 * route's `OV-202`). Its `channel` is the best route's, and `results` lists what every matching
 * route did, refusals included. `notify` rejects only when no route matches (`OV-400`) or every
 * matching route refused: with that route's own error when only one matched, otherwise with an
 * error of the first refusal's code and retryability wrapping it.
 *
 * Stats count best-of outcomes (`deferred`: the best was `queued`); `queued` sums the routes'
 * own retry queues. `close` closes the routes' notifiers (each once) unless `closeRoutes` is
 * false, and returns every notification they abandoned.
 *
 * @example
 * ```ts
 * const notifier = createFanoutNotifier([
 *   { notifier: messaging, recipientPrefix: ['agent:nhi:', 'human:nhi:', 'service:nhi:'] },
 *   { notifier: webhook, recipientPrefix: 'https://' },
 *   createLogNotifier(),
 * ]);
 * ```
 */
export function createFanoutNotifier(
  routes: readonly (Notifier | NotifierRoute)[],
  options: FanoutNotifierOptions = {},
): ManagedNotifier {
  const parsed = parseOptions(optionsSchema, { routes, ...options }, 'createFanoutNotifier');
  const mode = parsed.mode ?? 'all';
  const closeRoutes = parsed.closeRoutes ?? true;
  const table: readonly Route[] = Object.freeze(
    parsed.routes.map((entry, index): Route => {
      const route: NotifierRoute = 'notifier' in entry ? entry : { notifier: entry };
      const channel = (route.notifier as Partial<ManagedNotifier>).channel;
      const prefix = route.recipientPrefix;
      return Object.freeze({
        notifier: route.notifier,
        name: route.name ?? (typeof channel === 'string' && channel !== '' ? channel : `route ${index}`),
        prefixes: prefix === undefined ? undefined : typeof prefix === 'string' ? [prefix] : [...prefix],
        kinds: route.kinds === undefined ? undefined : new Set(route.kinds),
        when: route.when,
      });
    }),
  );
  const notifiers = [...new Set(table.map((route) => route.notifier))];
  let delivered = 0;
  let deferred = 0;
  let failed = 0;
  let closing: Promise<NotifierCloseResult> | undefined;

  const matches = (route: Route, notification: Notification): boolean => {
    if (route.prefixes !== undefined && !route.prefixes.some((p) => notification.recipient.startsWith(p))) {
      return false;
    }
    if (route.kinds !== undefined && !route.kinds.has(notification.kind)) return false;
    if (route.when === undefined) return true;
    try {
      return route.when(notification) === true;
    } catch (error) {
      throw new EnablementError(
        'PL-500',
        `notification ${notification.id}: the when predicate of route ${route.name} threw`,
        {
          cause: error,
        },
      );
    }
  };

  const notify = async (input: Notification): Promise<FanoutNotificationReceipt> => {
    if (closing !== undefined) throw new EnablementError('PL-409', `${FANOUT_CHANNEL} notifier is closed`);
    let notification: Notification;
    let selected: Route[];
    try {
      notification = parseNotification(input);
      selected = table.filter((route) => matches(route, notification));
      if (selected.length === 0) {
        throw new EnablementError(
          'OV-400',
          `notification ${notification.id}: no route matches recipient ${describeRecipient(notification.recipient)} and kind ${notification.kind}`,
        );
      }
    } catch (error) {
      failed++;
      throw error;
    }
    if (mode === 'first') selected = selected.slice(0, 1);
    const id = notification.id;
    const settled = await Promise.allSettled(selected.map((route) => route.notifier.notify(notification)));
    const results: FanoutRouteResult[] = settled.map((outcome, i) => {
      const route = (selected[i] as Route).name;
      return outcome.status === 'fulfilled'
        ? { route, receipt: outcome.value }
        : { route, error: asEnablementError(outcome.reason, route, id) };
    });
    const best =
      results.find((r) => r.receipt?.status === 'delivered') ?? results.find((r) => r.receipt !== undefined);
    if (best?.receipt === undefined) {
      failed++;
      const first =
        results[0]?.error ?? new EnablementError('PL-500', `notification ${id}: no route answered`);
      if (results.length === 1) throw first;
      throw new EnablementError(
        first.code,
        `notification ${id}: all ${results.length} routes refused it; first (${results[0]?.route}): ${first.message}`,
        { cause: first, retryable: first.retryable },
      );
    }
    if (best.receipt.status === 'delivered') delivered++;
    else deferred++;
    return Object.freeze({ ...best.receipt, results: Object.freeze(results) });
  };

  return Object.freeze({
    channel: FANOUT_CHANNEL,
    notify,
    get stats(): NotifierStats {
      let queued = 0;
      for (const notifier of notifiers) if (isManaged(notifier)) queued += notifier.stats.queued;
      return Object.freeze({ delivered, deferred, queued, failed });
    },
    get closed() {
      return closing !== undefined;
    },
    close(closeOptions?: NotifierCloseOptions): Promise<NotifierCloseResult> {
      if (closing !== undefined) return closing;
      closing = (async () => {
        if (!closeRoutes) return Object.freeze({ abandoned: Object.freeze([]) });
        const results = await Promise.all(
          notifiers.filter(isManaged).map((notifier) => notifier.close(closeOptions)),
        );
        return Object.freeze({ abandoned: Object.freeze(results.flatMap((r) => r.abandoned)) });
      })();
      return closing;
    },
  });
}
