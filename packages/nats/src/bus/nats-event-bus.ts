import {
  type CancelTimer,
  type Clock,
  type ConsumerConfig,
  type ConsumerInfo,
  clockSchema,
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECTS,
  type DeadLetterStreamOptions,
  deadLetterHeaders,
  deadLetterMsgId,
  deadLetterSubject,
  EnablementError,
  type EventBus,
  type EventHeaders,
  filtersOverlap,
  type Logger,
  type MessageHandler,
  millisToNanos,
  noopLogger,
  type PublishAck,
  type PublishOptions,
  parseOptions,
  type StreamConfig,
  type StreamInfo,
  type Subscription,
  sleep,
  systemClock,
} from '@creto/core';
import {
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type ConsumerInfo as JsConsumerInfo,
  type JsMsg,
  type StreamInfo as JsStreamInfo,
  jetstreamManager,
} from '@nats-io/jetstream';
import {
  connect,
  type NatsConnection,
  type Subscription as NatsSubscription,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { z } from 'zod';
import {
  type DeliveryAnswers,
  type DeliveryHistory,
  msgIdOf,
  NatsDelivery,
  portHeaders,
  recordFailure,
  toNatsHeaders,
} from './delivery.js';
import { fromNatsError, isApiError, isNoResponders, JETSTREAM_ERROR_CODES } from './errors.js';
import {
  fitDuplicateWindow,
  fromJetStreamConsumerInfo,
  fromJetStreamStreamInfo,
  rfc3339ToNanos,
  type StorageKind,
  type StreamPlacement,
  sameConsumerConfig,
  sameStreamConfig,
  toJetStreamConsumer,
  toJetStreamStream,
} from './mapping.js';
import { assertName, createPortValidator, type PortValidator } from './validation.js';

/** Default {@link NatsEventBusOptions.requestTimeoutMs}: 5 s, the NATS client's default. */
export const DEFAULT_NATS_REQUEST_TIMEOUT_MS = 5000;
/** Default limits of the dead-letter stream the bus creates: as the in-process bus's. */
export const DEFAULT_NATS_DEAD_LETTER_LIMITS = Object.freeze({
  maxMessages: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 0,
});
/** Most messages one subscription asks the server for at once (bounded by `maxAckPending` too). */
export const DEFAULT_NATS_PULL_BATCH = 256;
/**
 * Most dead-letterings one subscription keeps retrying (dead-letter stream full, server
 * unreachable); beyond it the oldest retry is given up and logged (the message stays in its
 * stream, see the README's limits).
 */
export const MAX_NATS_DEAD_LETTER_RETRIES = 10_000;

/** Options of {@link createNatsEventBus}: `servers` or `connection`, not both. */
export interface NatsEventBusOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`: the bus opens, owns and drains its connection. */
  readonly servers?: string | readonly string[];
  /**
   * An open connection to use instead; the bus does not own it: `close` stops the bus's
   * subscriptions and flushes, but leaves the connection open.
   */
  readonly connection?: NatsConnection;
  /**
   * Options for the connection the bus opens (`name`, `token`, `user`/`pass`, `tls`, …; passed to
   * `connect` and never logged). The bus sets `maxReconnectAttempts: -1` unless given here, so a
   * long outage never closes the connection for good.
   */
  readonly connectionOptions?: Omit<NodeConnectionOptions, 'servers'>;
  /** Time source for delivery timestamps of the dead-letter history and retry timers; default `systemClock`. */
  readonly clock?: Clock;
  /** Timeout of each JetStream request (publish, management), ms; default {@link DEFAULT_NATS_REQUEST_TIMEOUT_MS}. */
  readonly requestTimeoutMs?: number;
  /** Storage of the streams the bus creates: `file` (default; survives a restart) or `memory`. */
  readonly storage?: StorageKind;
  /** Replicas of the streams the bus creates (clustered JetStream); default 1. */
  readonly replicas?: number;
  /**
   * Limits of the dead-letter stream `DLQ` when the bus creates it (an existing one is used as it
   * is); default {@link DEFAULT_NATS_DEAD_LETTER_LIMITS}.
   */
  readonly deadLetter?: DeadLetterStreamOptions;
  /** Where background failures (dead-lettering, advisories) are reported; default none. */
  readonly logger?: Logger;
}

/** The `EventBus` port on NATS JetStream. */
export interface NatsEventBus extends EventBus {
  /** The NATS connection (owned when the bus was given `servers`). */
  readonly connection: NatsConnection;
  /** False while the connection is down (calls then fail fast with retryable `PL-503`). */
  readonly connected: boolean;
  /** Whether `close` was called. */
  readonly closed: boolean;
}

const urlSchema = z.string().min(1).max(2048);

const optionsSchema = z
  .strictObject({
    servers: z.union([urlSchema, z.array(urlSchema).min(1).max(64)]).optional(),
    connection: z
      .custom<NatsConnection>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as NatsConnection).request === 'function' &&
          typeof (v as NatsConnection).subscribe === 'function' &&
          typeof (v as NatsConnection).status === 'function',
        { error: 'expected a NatsConnection' },
      )
      .optional(),
    connectionOptions: z
      .custom<Omit<NodeConnectionOptions, 'servers'>>(
        (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !('servers' in v),
        { error: 'expected connection options without servers' },
      )
      .optional(),
    clock: clockSchema.optional(),
    requestTimeoutMs: z.number().int().min(1).max(600_000).optional(),
    storage: z.enum(['file', 'memory']).optional(),
    replicas: z.number().int().min(1).max(5).optional(),
    deadLetter: z
      .strictObject({
        maxMessages: z.number().int().min(1).max(10_000_000).optional(),
        maxBytes: z.number().int().min(1).optional(),
        maxAgeMs: z.number().int().min(0).optional(),
      })
      .optional(),
    logger: z
      .custom<Logger>(
        (v) => typeof v === 'object' && v !== null && typeof (v as Logger).error === 'function',
        {
          error: 'expected a Logger',
        },
      )
      .optional(),
  })
  .refine((o) => (o.servers === undefined) !== (o.connection === undefined), {
    error: 'give exactly one of servers and connection',
    path: ['servers'],
  });

/** One subscription bound by this bus. */
interface Bound {
  readonly key: string;
  readonly stream: string;
  readonly consumer: string;
  /** The consumer's creation time (Unix ns), telling apart consumers re-created under one name. */
  readonly incarnation: string;
  readonly counters: Counters;
  readonly workQueue: boolean;
  readonly ackWaitMs: number;
  readonly answers: DeliveryAnswers;
  /** Per sequence; bounded by `historyLimit` (oldest forgotten first). */
  readonly history: Map<number, DeliveryHistory>;
  readonly historyLimit: number;
  /** Dead-letterings waiting to be retried, per sequence. */
  readonly retries: Map<number, CancelTimer>;
  readonly port: PortSubscription;
  messages: ConsumerMessages | undefined;
  advisory: NatsSubscription | undefined;
  active: boolean;
}

interface Counters {
  redelivered: number;
  deadLettered: number;
}

/** Where a dead letter comes from: a delivered message or one fetched by sequence. */
interface DeadLetterSource {
  readonly subject: string;
  readonly seq: number;
  readonly data: Uint8Array;
  readonly headers: EventHeaders;
  readonly msgId: string | undefined;
  readonly publishedAt: bigint;
}

class PortSubscription implements Subscription {
  active = true;
  constructor(
    readonly stream: string,
    readonly consumer: string,
    private readonly stop: () => Promise<void>,
  ) {}

  async unsubscribe(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    await this.stop();
  }
}

const MAX_COUNTERS = 10_000;

const keyOf = (stream: string, consumer: string): string => `${stream}\u0000${consumer}`;

/**
 * Creates the `EventBus` port on NATS JetStream (ARCHITECTURE §5, spec §1.3, §4.1;
 * `docs/events.md` §10 has the mapping):
 *
 * - **Streams and durable consumers** are created idempotently: the same configuration returns
 *   the existing one, a different one is `PL-409`. Consumers are durable *pull* consumers with
 *   explicit acks; each port setting maps to its JetStream field (README table).
 * - **Publish** is a JetStream publish; `msgId` becomes `Nats-Msg-Id`, deduplicated inside the
 *   stream's duplicate window (`PublishAck.duplicate`).
 * - **Answers** map to `+ACK`, `-NAK {delay}`, `+TERM`, `+WPI`.
 * - **Dead letters**: after `maxDeliver` failed deliveries the message is published to
 *   `$DLQ.<stream>.<consumer>` (stream `DLQ`, created if missing) with the same headers as the
 *   in-process bus, then termed (work-queue: removed). A last delivery that fails by nak or
 *   handler error is dead-lettered at once; one whose ack wait expires is reported by JetStream's
 *   `MAX_DELIVERIES` advisory, and the bus fetches it by sequence.
 * - **Outages**: the connection reconnects by itself (forever, unless `connectionOptions` say
 *   otherwise). While it is down every call fails fast with retryable `PL-503`, and so does a
 *   request that times out; `createBufferingPublisher` (core) buffers such publishes and flushes
 *   them in order. Give every event a `msgId`: a retried publish whose first attempt was stored
 *   is then deduplicated.
 * - `close()` stops every subscription and drains the connection (when owned).
 *
 * Validation is core's: every configuration and publish is checked by the in-process bus's own
 * rules, so both implementations refuse the same input (`PL-400` naming the field).
 *
 * @example
 * ```ts
 * const bus = await createNatsEventBus({ servers: 'nats://127.0.0.1:4222' });
 * await bus.addStream({ name: 'METERING', subjects: ['metering.events.>'], retention: 'workqueue' });
 * await bus.addConsumer('METERING', { name: 'ingest', ackWaitMs: 10_000, maxDeliver: 3 });
 * await bus.subscribe('METERING', 'ingest', async (m) => {
 *   await ingest(decodeJson(m.data));
 *   m.ack();
 * });
 * const publisher = createBufferingPublisher({ bus }); // survives NATS outages (spec §4.1)
 * await publisher.publish('metering.events.runtime', encodeJson(event), { msgId: event.idempotency_key });
 * ```
 */
export async function createNatsEventBus(options: NatsEventBusOptions): Promise<NatsEventBus> {
  const parsed = parseOptions(optionsSchema, options, 'createNatsEventBus');
  const clock = parsed.clock ?? systemClock;
  const timeout = parsed.requestTimeoutMs ?? DEFAULT_NATS_REQUEST_TIMEOUT_MS;
  const logger = parsed.logger ?? noopLogger;
  const placement: StreamPlacement = { storage: parsed.storage ?? 'file', replicas: parsed.replicas ?? 1 };

  const owned = parsed.connection === undefined;
  let nc: NatsConnection;
  if (parsed.connection !== undefined) {
    nc = parsed.connection;
  } else {
    const servers = typeof parsed.servers === 'string' ? [parsed.servers] : [...(parsed.servers ?? [])];
    try {
      nc = await connect({ maxReconnectAttempts: -1, ...parsed.connectionOptions, servers });
    } catch (error) {
      // Refused credentials are PL-403; any other failure to connect is an unreachable server.
      const mapped = fromNatsError(error, 'createNatsEventBus: connect to NATS');
      if (mapped.code === 'PL-403') throw mapped;
      throw new EnablementError('PL-503', 'createNatsEventBus: cannot connect to NATS', {
        cause: error,
        retryable: true,
      });
    }
  }

  let jsm: JetStreamManager;
  let js: JetStreamClient;
  let validator: PortValidator;
  try {
    jsm = await jetstreamManager(nc, { timeout });
    js = jsm.jetstream();
    await ensureDeadLetterStream(jsm, parsed.deadLetter ?? {}, placement);
    validator = await createPortValidator(clock);
  } catch (error) {
    if (owned) await nc.close().catch(() => undefined);
    throw fromNatsError(error, 'createNatsEventBus');
  }

  let closed = false;
  let closing: Promise<void> | undefined;
  let connected = !nc.isClosed();
  const bound = new Map<string, Bound>();
  /** Subscriptions being set up (between the name check and the first delivery). */
  const binding = new Set<string>();
  const counters = new Map<string, Counters>();
  const background = new Set<Promise<void>>();

  // Connection state: calls fail fast while it is down instead of queueing in the client, where
  // a publish would be sent (and maybe stored) after its caller was told it failed.
  const status = nc.status();
  void (async () => {
    for await (const s of status) {
      if (s.type === 'disconnect' || s.type === 'close') connected = false;
      else if (s.type === 'reconnect') connected = true;
    }
  })().catch(() => undefined);

  const assertOpen = (): void => {
    if (closed) throw new EnablementError('PL-503', 'event bus is closed', { retryable: false });
  };
  const assertConnected = (what: string): void => {
    assertOpen();
    if (!connected || nc.isClosed()) {
      throw new EnablementError('PL-503', `${what}: the NATS connection is down`, {
        retryable: !nc.isClosed(),
      });
    }
  };

  /** Runs a JetStream call with the adapter's error mapping. */
  async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    assertConnected(what);
    try {
      return await fn();
    } catch (error) {
      throw fromNatsError(error, what);
    }
  }

  /** Tracks a background task so that `close` can wait for it; failures are logged. */
  const track = (task: Promise<void>): void => {
    const tracked = task.catch((error: unknown) => {
      logger.error('nats event bus: background task failed', { error: fromNatsError(error, 'background') });
    });
    background.add(tracked);
    void tracked.finally(() => background.delete(tracked));
  };

  const countersOf = (stream: string, consumer: string, incarnation: string): Counters => {
    const key = `${keyOf(stream, consumer)}\u0000${incarnation}`;
    let c = counters.get(key);
    if (c === undefined) {
      c = { redelivered: 0, deadLettered: 0 };
      counters.set(key, c);
      if (counters.size > MAX_COUNTERS) {
        const oldest = counters.keys().next();
        if (!oldest.done) counters.delete(oldest.value);
      }
    }
    return c;
  };

  const incarnationOf = (created: string): string => (rfc3339ToNanos(created) ?? 0n).toString();

  // ── dead letters ────────────────────────────────────────────────────────────────────────────

  /** Publishes the dead letter of `source` (the same headers as the in-process bus). */
  async function publishDeadLetter(
    b: Bound,
    source: DeadLetterSource,
    deliveries: number,
    history: DeliveryHistory | undefined,
  ): Promise<void> {
    // Delivery times come from this bus's clock, the publish time from the server's: clamp so the
    // history stays ordered even with some clock skew between the two.
    const firstDeliveryAt = latest(source.publishedAt, history?.firstDeliveredAt ?? source.publishedAt);
    const lastDeliveryAt = latest(firstDeliveryAt, history?.lastDeliveredAt ?? firstDeliveryAt);
    const headers = deadLetterHeaders(
      {
        stream: b.stream,
        consumer: b.consumer,
        subject: source.subject,
        seq: source.seq,
        msgId: source.msgId,
        publishedAt: source.publishedAt,
        deliveries,
        firstDeliveryAt,
        lastDeliveryAt,
        reasons: history?.failures ?? [],
      },
      source.headers,
    );
    await js.publish(deadLetterSubject(b.stream, b.consumer), source.data, {
      // A retried dead-lettering (or one from the advisory racing the nak path) is stored once.
      msgID: deadLetterMsgId(b.stream, b.consumer, b.incarnation, source.seq),
      headers: toNatsHeaders(headers),
      timeout,
    });
    b.counters.deadLettered++;
  }

  /** Retries a dead-lettering after the consumer's ack wait, while the subscription lasts. */
  function retryLater(b: Bound, seq: number, deliveries: number): void {
    if (!b.active || closed || b.retries.has(seq)) return;
    if (b.retries.size >= MAX_NATS_DEAD_LETTER_RETRIES) {
      const oldest = b.retries.entries().next();
      if (!oldest.done) {
        const [oldSeq, cancel] = oldest.value;
        cancel();
        b.retries.delete(oldSeq);
        logger.error('nats event bus: gave up dead-lettering (too many retries pending)', {
          stream: b.stream,
          consumer: b.consumer,
          seq: oldSeq,
        });
      }
    }
    const at = clock.now() + millisToNanos(b.ackWaitMs);
    b.retries.set(
      seq,
      clock.schedule(at, () => {
        b.retries.delete(seq);
        if (b.active && !closed) track(deadLetterStored(b, seq, deliveries));
      }),
    );
  }

  /**
   * Dead-letters a message JetStream stopped delivering (its `MAX_DELIVERIES` advisory): fetch it
   * by sequence, publish the dead letter, and remove it from a work-queue stream (where it would
   * otherwise stay forever, as JetStream does not count it as settled).
   */
  async function deadLetterStored(b: Bound, seq: number, deliveries: number): Promise<void> {
    if (!b.active || closed) return;
    const history = b.history.get(seq);
    // The last delivery went unanswered: its ack wait expired (a nak would have dead-lettered it).
    if (history !== undefined) recordFailure(history, deliveries, 'ack wait expired');
    try {
      const stored = await jsm.streams.getMessage(b.stream, { seq });
      // Removed meanwhile (a limit, a purge, or the nak path's work-queue term): nothing to do.
      if (stored === null) {
        b.history.delete(seq);
        return;
      }
      await publishDeadLetter(
        b,
        {
          subject: stored.subject,
          seq,
          data: stored.data,
          headers: portHeaders(stored.header),
          msgId: msgIdOf(stored.header),
          publishedAt: rfc3339ToNanos(stored.timestamp) ?? clock.now(),
        },
        deliveries,
        history,
      );
      if (b.workQueue) await jsm.streams.deleteMessage(b.stream, seq, false);
      b.history.delete(seq);
    } catch (error) {
      if (isApiError(error, JETSTREAM_ERROR_CODES.streamNotFound)) return;
      logger.warn('nats event bus: dead-lettering failed; retrying after the ack wait', {
        stream: b.stream,
        consumer: b.consumer,
        seq,
        error: fromNatsError(error, 'dead-letter'),
      });
      retryLater(b, seq, deliveries);
    }
  }

  /** The nak path: the last allowed delivery failed; dead-letter it, then `term` it. */
  async function deadLetterDelivered(b: Bound, message: JsMsg, history: DeliveryHistory): Promise<void> {
    try {
      await publishDeadLetter(
        b,
        {
          subject: message.subject,
          seq: message.seq,
          data: message.data,
          headers: portHeaders(message.headers),
          msgId: msgIdOf(message.headers),
          publishedAt: message.timestampNanos,
        },
        message.info.deliveryCount,
        history,
      );
    } catch (error) {
      // Left unanswered: when its ack wait ends JetStream emits MAX_DELIVERIES and the advisory
      // path tries again, so the message is never dropped (in-process: retried after the wait).
      logger.warn('nats event bus: dead-lettering failed; retrying after the ack wait', {
        stream: b.stream,
        consumer: b.consumer,
        seq: message.seq,
        error: fromNatsError(error, 'dead-letter'),
      });
      return;
    }
    message.term();
    b.history.delete(message.seq);
  }

  /**
   * JetStream's `MAX_DELIVERIES` advisory: the last delivery of a message expired. Advisories are
   * trusted as acks are: whoever may publish on `$JS.EVENT.>` (or `$JS.ACK.>`) in the account can
   * already settle messages, so NATS permissions are the boundary (README). Malformed ones are
   * logged and ignored.
   */
  function onAdvisory(b: Bound, data: Uint8Array): void {
    let advisory: unknown;
    try {
      advisory = JSON.parse(new TextDecoder().decode(data));
    } catch {
      logger.warn('nats event bus: ignored a malformed MAX_DELIVERIES advisory', {
        stream: b.stream,
        consumer: b.consumer,
      });
      return;
    }
    const a = advisory as {
      stream?: unknown;
      consumer?: unknown;
      stream_seq?: unknown;
      deliveries?: unknown;
    };
    if (
      a.stream !== b.stream ||
      a.consumer !== b.consumer ||
      !Number.isSafeInteger(a.stream_seq) ||
      (a.stream_seq as number) < 1 ||
      !Number.isSafeInteger(a.deliveries) ||
      // JetStream reports the consumer's max_deliver; anything less is not an exhausted message.
      b.answers.maxDeliver === -1 ||
      (a.deliveries as number) < b.answers.maxDeliver
    ) {
      logger.warn('nats event bus: ignored a malformed MAX_DELIVERIES advisory', {
        stream: b.stream,
        consumer: b.consumer,
      });
      return;
    }
    track(deadLetterStored(b, a.stream_seq as number, a.deliveries as number));
  }

  // ── deliveries ──────────────────────────────────────────────────────────────────────────────

  function remember(b: Bound, seq: number, history: DeliveryHistory): void {
    b.history.set(seq, history);
    if (b.history.size > b.historyLimit) {
      const oldest = b.history.keys().next();
      if (!oldest.done) b.history.delete(oldest.value);
    }
  }

  function onMessage(b: Bound, handler: MessageHandler, message: JsMsg): void {
    // A straggler after unsubscribe stays unanswered: redelivered after its ack wait, as the
    // in-process bus does with deliveries a subscriber leaves behind.
    if (!b.active || closed) return;
    const { seq } = message;
    const count = message.info.deliveryCount;
    const now = clock.now();
    let history = b.history.get(seq);
    if (history === undefined) {
      history = { latest: 0, firstDeliveredAt: now, lastDeliveredAt: now, failures: [] };
      remember(b, seq, history);
    }
    // The previous delivery reached this bus and was never answered: its ack wait expired.
    if (count > 1 && history.latest === count - 1) recordFailure(history, count - 1, 'ack wait expired');
    if (count > 1) b.counters.redelivered++;
    history.latest = Math.max(history.latest, count);
    history.lastDeliveredAt = now;
    const delivery = new NatsDelivery(b.stream, b.consumer, message, history, b.answers);
    try {
      const result = handler(delivery);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(undefined, (error: unknown) => delivery.handlerFailed(error));
      }
    } catch (error) {
      delivery.handlerFailed(error);
    }
  }

  async function stopBound(b: Bound): Promise<void> {
    if (!b.active) return;
    b.active = false;
    b.port.active = false;
    if (bound.get(b.key) === b) bound.delete(b.key);
    for (const cancel of b.retries.values()) cancel();
    b.retries.clear();
    b.advisory?.unsubscribe();
    await b.messages?.close().catch(() => undefined);
  }

  const stopAll = async (match: (b: Bound) => boolean): Promise<void> => {
    await Promise.all([...bound.values()].filter(match).map((b) => stopBound(b)));
  };

  // ── the port ────────────────────────────────────────────────────────────────────────────────

  async function existingStream(name: string): Promise<JsStreamInfo | undefined> {
    try {
      return await jsm.streams.info(name);
    } catch (error) {
      if (isApiError(error, JETSTREAM_ERROR_CODES.streamNotFound)) return undefined;
      throw error;
    }
  }

  const differs = (what: string): EnablementError =>
    new EnablementError('PL-409', `${what} exists with a different configuration`);

  async function addStream(config: StreamConfig): Promise<StreamInfo> {
    assertOpen();
    const explicitWindow =
      (config as { duplicateWindowMs?: unknown } | null)?.duplicateWindowMs !== undefined;
    const resolved = fitDuplicateWindow(await validator.stream(config), explicitWindow);
    const wanted = toJetStreamStream(resolved, placement);
    return call(`addStream '${resolved.name}'`, async () => {
      const existing = await existingStream(resolved.name);
      if (existing !== undefined) {
        if (sameStreamConfig(wanted, existing.config)) return fromJetStreamStreamInfo(existing);
        throw differs(`stream '${resolved.name}'`);
      }
      try {
        return fromJetStreamStreamInfo(await jsm.streams.add(wanted));
      } catch (error) {
        // Created by someone else between our look and our add: same rule as above.
        if (isApiError(error, JETSTREAM_ERROR_CODES.streamNameInUse)) {
          const raced = await existingStream(resolved.name);
          if (raced !== undefined && sameStreamConfig(wanted, raced.config)) {
            return fromJetStreamStreamInfo(raced);
          }
          throw differs(`stream '${resolved.name}'`);
        }
        throw error;
      }
    });
  }

  async function addConsumer(stream: string, config: ConsumerConfig): Promise<ConsumerInfo> {
    assertOpen();
    assertName(stream, 'stream');
    const resolved = await validator.consumer(config);
    const wanted = toJetStreamConsumer(resolved);
    return call(`addConsumer '${resolved.name}' on '${stream}'`, async () => {
      const info = await jsm.streams.info(stream);
      const subjects = info.config.subjects ?? [];
      if (!subjects.some((s) => overlaps(s, resolved.filterSubject))) {
        throw new EnablementError(
          'PL-400',
          `ConsumerConfig.filterSubject: '${resolved.filterSubject}' matches no subject of stream '${stream}'`,
        );
      }
      if (info.config.retention === 'workqueue' && resolved.deliverPolicy !== 'all') {
        throw new EnablementError('PL-400', 'ConsumerConfig.deliverPolicy: a work-queue stream needs `all`');
      }
      let existing: JsConsumerInfo | undefined;
      try {
        existing = await jsm.consumers.info(stream, resolved.name);
      } catch (error) {
        if (!isApiError(error, JETSTREAM_ERROR_CODES.consumerNotFound)) throw error;
      }
      // Look first: on nats-server before 2.10 an add with another configuration updates the
      // consumer instead of failing.
      if (existing !== undefined) {
        if (!sameConsumerConfig(wanted, existing.config)) {
          throw differs(`consumer '${resolved.name}' on stream '${stream}'`);
        }
      } else {
        existing = await jsm.consumers.add(stream, wanted);
      }
      return consumerInfoOf(existing);
    });
  }

  const consumerInfoOf = (info: JsConsumerInfo): ConsumerInfo => {
    const c = countersOf(info.stream_name, info.name, incarnationOf(info.created));
    return fromJetStreamConsumerInfo(info, {
      redelivered: c.redelivered,
      deadLettered: c.deadLettered,
      bound: bound.get(keyOf(info.stream_name, info.name))?.active === true,
    });
  };

  async function subscribe(stream: string, consumer: string, handler: MessageHandler): Promise<Subscription> {
    assertOpen();
    assertName(stream, 'stream');
    assertName(consumer, 'consumer');
    if (typeof handler !== 'function') throw new EnablementError('PL-400', 'handler: expected a function');
    const key = keyOf(stream, consumer);
    if (bound.has(key) || binding.has(key)) {
      throw new EnablementError(
        'PL-409',
        `consumer '${consumer}' on stream '${stream}' already has a subscription`,
      );
    }
    const what = `subscribe '${consumer}' on '${stream}'`;
    assertConnected(what);
    let b: Bound | undefined;
    // Reserve the name before the first await, so two concurrent subscribes cannot both bind.
    binding.add(key);
    try {
      const [ci, si] = await Promise.all([jsm.consumers.info(stream, consumer), jsm.streams.info(stream)]);
      if (typeof ci.config.deliver_subject === 'string' && ci.config.deliver_subject !== '') {
        throw new EnablementError('PL-409', `${what}: a push consumer cannot be bound (the bus pulls)`);
      }
      if (ci.config.ack_policy !== 'explicit') {
        throw new EnablementError('PL-409', `${what}: the consumer does not use explicit acks`);
      }
      const maxAckPending = ci.config.max_ack_pending ?? 1000;
      const maxDeliver =
        ci.config.max_deliver === undefined || ci.config.max_deliver <= 0 ? -1 : ci.config.max_deliver;
      const incarnation = incarnationOf(ci.created);
      const self: Bound = {
        key,
        stream,
        consumer,
        incarnation,
        counters: countersOf(stream, consumer, incarnation),
        workQueue: si.config.retention === 'workqueue',
        ackWaitMs: Math.max(1, Math.round((ci.config.ack_wait ?? 30e9) / 1e6)),
        answers: {
          maxDeliver,
          settled: (seq) => {
            self.history.delete(seq);
          },
          exhausted: (message, history) => track(deadLetterDelivered(self, message, history)),
        },
        history: new Map(),
        historyLimit: Math.min(200_000, Math.max(1024, 2 * maxAckPending)),
        retries: new Map(),
        port: new PortSubscription(stream, consumer, () => stopBound(self)),
        messages: undefined,
        advisory: undefined,
        active: true,
      };
      b = self;
      bound.set(key, self);
      // Subscribed before the first pull, so no advisory about this consumer is missed.
      self.advisory = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`, {
        callback: (error, msg) => {
          if (error === null) onAdvisory(self, msg.data);
        },
      });
      const pull = js.consumers.getConsumerFromInfo(ci);
      const messages = await pull.consume({
        max_messages: Math.max(1, Math.min(maxAckPending, DEFAULT_NATS_PULL_BATCH)),
        callback: (m) => onMessage(self, handler, m),
      });
      self.messages = messages;
      if (!self.active) await messages.close();
      void (async () => {
        for await (const n of messages.status()) {
          if (n.type === 'consumer_deleted') await stopBound(self);
        }
      })().catch(() => undefined);
      void messages.closed().then(
        () => stopBound(self),
        () => stopBound(self),
      );
      return self.port;
    } catch (error) {
      if (b !== undefined) await stopBound(b);
      throw fromNatsError(error, what);
    } finally {
      binding.delete(key);
    }
  }

  async function publish(
    subject: string,
    data: Uint8Array,
    publishOptions?: PublishOptions,
  ): Promise<PublishAck> {
    assertOpen();
    validator.publish(subject, data, publishOptions);
    const what = `publish on '${subject}'`;
    assertConnected(what);
    try {
      const ack = await js.publish(subject, data, {
        msgID: publishOptions?.msgId,
        headers: toNatsHeaders(publishOptions?.headers),
        timeout,
      });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true };
    } catch (error) {
      if (isNoResponders(error)) throw await noStreamOrDown(subject, error);
      throw fromNatsError(error, what);
    }
  }

  /**
   * "No responders" on a publish means no stream captures the subject, or JetStream (or the
   * stream's leader) did not answer. Asking JetStream which stream captures the subject tells the
   * two apart: `PL-404` only when it answers "none", else retryable `PL-503`, so a buffering
   * publisher never drops an event because the server was restarting.
   */
  async function noStreamOrDown(subject: string, cause: unknown): Promise<EnablementError> {
    try {
      const stream = await jsm.streams.find(subject);
      return new EnablementError('PL-503', `publish on '${subject}': stream '${stream}' did not answer`, {
        cause,
        retryable: true,
      });
    } catch (error) {
      if (isApiError(error, JETSTREAM_ERROR_CODES.streamNotFound)) {
        return new EnablementError('PL-404', `no stream captures subject '${subject}'`, { cause });
      }
      return fromNatsError(error, `publish on '${subject}'`);
    }
  }

  return Object.freeze({
    publish,
    addStream,
    addConsumer,
    subscribe,
    async streamInfo(name: string): Promise<StreamInfo> {
      assertOpen();
      assertName(name, 'stream');
      return call(`streamInfo '${name}'`, async () => fromJetStreamStreamInfo(await jsm.streams.info(name)));
    },
    async deleteStream(name: string): Promise<void> {
      assertOpen();
      assertName(name, 'stream');
      if (name === DEAD_LETTER_STREAM) {
        throw new EnablementError(
          'PL-409',
          `the dead-letter stream '${DEAD_LETTER_STREAM}' cannot be deleted`,
        );
      }
      await call(`deleteStream '${name}'`, async () => {
        await stopAll((b) => b.stream === name);
        await jsm.streams.delete(name);
      });
    },
    async consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
      assertOpen();
      assertName(stream, 'stream');
      assertName(name, 'consumer');
      return call(`consumerInfo '${name}' on '${stream}'`, async () =>
        consumerInfoOf(await jsm.consumers.info(stream, name)),
      );
    },
    async deleteConsumer(stream: string, name: string): Promise<void> {
      assertOpen();
      assertName(stream, 'stream');
      assertName(name, 'consumer');
      await call(`deleteConsumer '${name}' on '${stream}'`, async () => {
        await stopAll((b) => b.stream === stream && b.consumer === name);
        await jsm.consumers.delete(stream, name);
      });
    },
    close(): Promise<void> {
      if (closing !== undefined) return closing;
      closed = true;
      closing = (async () => {
        await stopAll(() => true);
        await Promise.allSettled([...background]);
        await validator.close();
        (status as { stop?: () => void }).stop?.();
        // Drain sends the acks still buffered and waits for them; a borrowed connection only
        // flushes. Both wait for the server, so they are bounded by the request timeout: a bus
        // closed during an outage must not hang.
        const gaveUp = new AbortController();
        const finish = owned ? nc.drain() : nc.flush();
        await Promise.race([
          finish.catch(() => undefined),
          sleep(clock, timeout, gaveUp.signal).catch(() => undefined),
        ]);
        gaveUp.abort();
        if (owned && !nc.isClosed()) await nc.close().catch(() => undefined);
      })();
      return closing;
    },
    get connection(): NatsConnection {
      return nc;
    },
    get connected(): boolean {
      return connected && !nc.isClosed();
    },
    get closed(): boolean {
      return closed;
    },
  });
}

/** The later of two instants (`Math.max` takes no `bigint`). */
function latest(a: bigint, b: bigint): bigint {
  return b > a ? b : a;
}

/** Whether two filters overlap; a subject the port's rules do not accept is left to the server. */
function overlaps(streamSubject: string, filter: string): boolean {
  try {
    return filtersOverlap(streamSubject, filter);
  } catch {
    return true;
  }
}

/**
 * Makes sure the dead-letter stream exists. An existing `DLQ` is used as it is (an operator may
 * size or replicate it), provided it captures `$DLQ.>`; otherwise it is created with the given
 * limits, discard `new` (a full dead-letter stream refuses; the message stays pending and
 * dead-lettering is retried).
 */
async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  limits: DeadLetterStreamOptions,
  placement: StreamPlacement,
): Promise<void> {
  const check = (info: JsStreamInfo): void => {
    if (!(info.config.subjects ?? []).includes(DEAD_LETTER_SUBJECTS)) {
      throw new EnablementError(
        'PL-409',
        `stream '${DEAD_LETTER_STREAM}' exists but does not capture '${DEAD_LETTER_SUBJECTS}'`,
      );
    }
  };
  try {
    check(await jsm.streams.info(DEAD_LETTER_STREAM));
    return;
  } catch (error) {
    if (!isApiError(error, JETSTREAM_ERROR_CODES.streamNotFound)) throw error;
  }
  const maxAgeMs = limits.maxAgeMs ?? DEFAULT_NATS_DEAD_LETTER_LIMITS.maxAgeMs;
  const config = toJetStreamStream(
    fitDuplicateWindow(
      {
        name: DEAD_LETTER_STREAM,
        subjects: [DEAD_LETTER_SUBJECTS],
        retention: 'limits',
        discard: 'new',
        maxMessages: limits.maxMessages ?? DEFAULT_NATS_DEAD_LETTER_LIMITS.maxMessages,
        maxBytes: limits.maxBytes ?? DEFAULT_NATS_DEAD_LETTER_LIMITS.maxBytes,
        maxAgeMs,
        // A dead letter is its original plus bounded headers: its size is the server's payload limit.
        maxMessageSize: -1,
        duplicateWindowMs: 120_000,
      },
      false,
    ),
    placement,
  );
  try {
    await jsm.streams.add(config);
  } catch (error) {
    // Another bus created it first.
    if (!isApiError(error, JETSTREAM_ERROR_CODES.streamNameInUse)) throw error;
    check(await jsm.streams.info(DEAD_LETTER_STREAM));
  }
}
