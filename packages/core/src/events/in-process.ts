import { z } from 'zod';
import { createScheduler, MAX_SCHEDULER_PENDING_TIMERS, type Scheduler } from '../consensus/scheduler.js';
import { EnablementError } from '../errors/enablement-error.js';
import { clockSchema, parseOptions } from '../options/options.js';
import { type CancelTimer, type Clock, millisToNanos, systemClock } from '../time/clock.js';
import {
  assertName,
  type CheckedPublish,
  checkDelay,
  checkPublish,
  resolveConsumerConfig,
  resolveStreamConfig,
  sameConfig,
} from './config.js';
import {
  DEAD_LETTER_STREAM,
  DEAD_LETTER_SUBJECTS,
  type DeliveryFailure,
  deadLetterHeaders,
  deadLetterMsgId,
  deadLetterSubject,
  MAX_DEAD_LETTER_REASONS,
} from './dead-letter.js';
import { type CompiledFilter, compileFilter, filtersOverlap, matchesTokens } from './subject.js';
import {
  type ConsumerConfig,
  type ConsumerInfo,
  type EventBus,
  type EventHeaders,
  type EventMessage,
  MAX_NAK_REASON_LENGTH,
  type MessageHandler,
  type PublishAck,
  type PublishOptions,
  type ResolvedConsumerConfig,
  type ResolvedStreamConfig,
  type StreamConfig,
  type StreamInfo,
  type Subscription,
} from './types.js';

/** Default bound on streams per bus. */
export const DEFAULT_MAX_STREAMS = 64;
/** Default bound on durable consumers per stream. */
export const DEFAULT_MAX_CONSUMERS_PER_STREAM = 64;
/** Default bound on remembered `msgId`s per stream (see {@link InProcessEventBusOptions}). */
export const DEFAULT_MAX_DUPLICATE_IDS = 100_000;
/** Default number of deliveries one consumer makes before yielding to the event loop. */
export const DEFAULT_DELIVERY_BATCH = 256;

/** Limits of the dead-letter stream of an in-process bus. */
export interface DeadLetterStreamOptions {
  /** Most dead letters kept; default 10 000. */
  readonly maxMessages?: number;
  /** Most bytes kept; default 64 MiB. */
  readonly maxBytes?: number;
  /** Dead letters older than this are removed; default 0 (kept until read and acked elsewhere). */
  readonly maxAgeMs?: number;
}

/** Options of {@link createInProcessEventBus}. */
export interface InProcessEventBusOptions {
  /** Time source for timestamps, ack waits, nak delays, age limits; default `systemClock`. */
  readonly clock?: Clock;
  /** Most streams (the dead-letter stream included); default {@link DEFAULT_MAX_STREAMS}. */
  readonly maxStreams?: number;
  /** Most durable consumers per stream; default {@link DEFAULT_MAX_CONSUMERS_PER_STREAM}. */
  readonly maxConsumersPerStream?: number;
  /**
   * Most `msgId`s one stream remembers for deduplication; default
   * {@link DEFAULT_MAX_DUPLICATE_IDS}. Ids leave when their duplicate window ends; when more
   * arrive inside one window, the oldest id is forgotten early (its window is cut short) rather
   * than refusing the publish: deduplication is a best effort over a bounded table, and
   * consumers stay idempotent (at-least-once delivery).
   */
  readonly maxDuplicateIds?: number;
  /**
   * Deliveries one consumer makes before yielding to the event loop (`setImmediate`), so a
   * backlog does not starve I/O; default {@link DEFAULT_DELIVERY_BATCH}.
   */
  readonly deliveryBatch?: number;
  /** Limits of the dead-letter stream ({@link DEAD_LETTER_STREAM}). */
  readonly deadLetter?: DeadLetterStreamOptions;
}

/**
 * The in-process {@link EventBus}: JetStream semantics in memory, with every timer on the
 * injected clock (through one {@link Scheduler}), so a `FakeClock` drives it deterministically.
 */
export interface InProcessEventBus extends EventBus {
  /** Sync twin of {@link EventBus.publish} (same checks, same errors, thrown). */
  publishSync(subject: string, data: Uint8Array, options?: PublishOptions): PublishAck;
  /** Whether {@link EventBus.close} was called. */
  readonly closed: boolean;
}

const optionsSchema = z.strictObject({
  clock: clockSchema.optional(),
  maxStreams: z.number().int().min(1).max(10_000).optional(),
  maxConsumersPerStream: z.number().int().min(1).max(10_000).optional(),
  maxDuplicateIds: z.number().int().min(1).max(10_000_000).optional(),
  deliveryBatch: z.number().int().min(1).max(1_000_000).optional(),
  deadLetter: z
    .strictObject({
      maxMessages: z.number().int().min(1).optional(),
      maxBytes: z.number().int().min(1).optional(),
      maxAgeMs: z.number().int().min(0).optional(),
    })
    .optional(),
});

/** A message as the stream stores it. */
interface Stored {
  readonly seq: number;
  readonly subject: string;
  readonly tokens: readonly string[];
  readonly data: Uint8Array;
  readonly headers: EventHeaders;
  readonly msgId: string | undefined;
  readonly timestamp: bigint;
  readonly size: number;
}

interface StreamState {
  readonly config: ResolvedStreamConfig;
  readonly filters: readonly CompiledFilter[];
  /** seq → message; insertion order is sequence order (sequences only grow). */
  readonly messages: Map<number, Stored>;
  lastSeq: number;
  /**
   * Sequence of the oldest stored message (`lastSeq + 1` when empty). Tracked rather than read
   * from the map, whose iteration skips the holes left by deletions at the front one by one.
   */
  firstSeq: number;
  bytes: number;
  /** msgId → first copy; insertion order is time order, so expiry pops from the front. */
  readonly dedup: Map<string, { readonly seq: number; readonly at: bigint }>;
  readonly consumers: Map<string, ConsumerState>;
  ageTimer: { readonly at: bigint; readonly cancel: CancelTimer } | undefined;
  deleted: boolean;
}

/**
 * A delivered, unsettled message of one consumer:
 * - `outstanding`: with the handler; redelivered when the ack wait ends;
 * - `waiting`: nak'd with a delay; ready when the delay ends;
 * - `ready`: queued for redelivery;
 * - `dead-letter-retry`: dead-lettering failed (dead-letter stream full); retried after the ack wait.
 */
interface Pending {
  readonly seq: number;
  deliveries: number;
  firstDeliveredAt: bigint;
  lastDeliveredAt: bigint;
  state: 'outstanding' | 'waiting' | 'ready' | 'dead-letter-retry';
  /** Incremented on every delivery, so answers from an older delivery can be told apart. */
  token: number;
  /** Incremented whenever the entry's deadline changes, so stale timer entries are ignored. */
  gen: number;
  readonly failures: DeliveryFailure[];
  /** The scheduler timer of a nak delay (the only deadline not kept in the ack-wait queue). */
  cancelTimer: CancelTimer | undefined;
}

/** A deadline in a consumer's ack-wait queue; stale once `entry.gen` moved on. */
interface AckDeadline {
  readonly entry: Pending;
  readonly gen: number;
  readonly at: bigint;
}

interface ConsumerState {
  readonly stream: StreamState;
  /** Unique per consumer created on this bus (see `deadLetterMsgId`). */
  readonly incarnation: string;
  readonly config: ResolvedConsumerConfig;
  readonly filter: CompiledFilter;
  /** Next stream sequence to consider for a first delivery. */
  nextSeq: number;
  deliveredSeq: number;
  /** Bounded by `maxAckPending`: new deliveries stop while it is full. */
  readonly pending: Map<number, Pending>;
  /** Sequences ready for redelivery, ascending (lowest first keeps stream order). */
  readonly ready: number[];
  /**
   * Ack-wait deadlines (`now + ackWaitMs` at delivery, `inProgress` or a dead-letter retry) in
   * the order set, which is deadline order because the wait is the same for all: a FIFO replaces
   * a heap, and one scheduler timer per consumer (for the head) replaces one per delivery. Stale
   * items are skipped at the head and compacted away when they outnumber live ones, so the queue
   * stays within about twice `maxAckPending`.
   */
  readonly ackQueue: (AckDeadline | undefined)[];
  ackHead: number;
  ackTimer: { readonly at: bigint; readonly cancel: CancelTimer } | undefined;
  subscription: SubscriptionImpl | undefined;
  pumpQueued: boolean;
  redelivered: number;
  deadLettered: number;
  deleted: boolean;
}

class SubscriptionImpl implements Subscription {
  active = true;
  constructor(
    readonly stream: string,
    readonly consumer: string,
    readonly handler: MessageHandler,
    readonly onUnsubscribe: (sub: SubscriptionImpl) => void,
  ) {}

  async unsubscribe(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.onUnsubscribe(this);
  }
}

/** The bus operations behind a delivered message's answers. */
interface DeliveryAnswers {
  /** ack or term: settle the message (also from an older delivery). */
  settle(consumer: ConsumerState, entry: Pending): void;
  /** nak or handler failure of delivery `token`: redeliver (after `delayMs`) or dead-letter. */
  fail(consumer: ConsumerState, entry: Pending, token: number, reason: string, delayMs: number): void;
  /** inProgress of delivery `token`: restart the ack wait. */
  progress(consumer: ConsumerState, entry: Pending, token: number): void;
}

/**
 * A delivered message. A class rather than a literal with closures: one allocation per delivery
 * (plus the payload copy) on the hot path. Only the first answer counts.
 */
class Delivery implements EventMessage {
  readonly stream: string;
  readonly consumer: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: EventHeaders;
  readonly msgId: string | undefined;
  readonly seq: number;
  readonly deliveryCount: number;
  readonly timestamp: bigint;
  readonly #answers: DeliveryAnswers;
  readonly #state: ConsumerState;
  readonly #entry: Pending;
  readonly #token: number;
  #answered = false;

  constructor(answers: DeliveryAnswers, state: ConsumerState, entry: Pending, stored: Stored) {
    this.stream = state.stream.config.name;
    this.consumer = state.config.name;
    this.subject = stored.subject;
    this.data = stored.data.slice();
    this.headers = stored.headers;
    this.msgId = stored.msgId;
    this.seq = stored.seq;
    this.deliveryCount = entry.deliveries;
    this.timestamp = stored.timestamp;
    this.#answers = answers;
    this.#state = state;
    this.#entry = entry;
    this.#token = entry.token;
  }

  #claim(): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    return true;
  }

  ack(): void {
    if (this.#claim()) this.#answers.settle(this.#state, this.#entry);
  }

  term(_reason?: string): void {
    if (this.#claim()) this.#answers.settle(this.#state, this.#entry);
  }

  nak(delayMs?: number, reason?: string): void {
    const delay = delayMs === undefined ? 0 : checkDelay(delayMs, 'nak delayMs');
    if (this.#claim())
      this.#answers.fail(this.#state, this.#entry, this.#token, cutReason(reason, 'nak'), delay);
  }

  inProgress(): void {
    if (!this.#answered) this.#answers.progress(this.#state, this.#entry, this.#token);
  }

  /**
   * The handler threw or rejected: a nak with the error as reason, unless already answered.
   * Static, so that a message handed to a handler shows only the `EventMessage` methods.
   */
  static handlerFailed(message: Delivery, error: unknown): void {
    if (message.#claim()) {
      message.#answers.fail(message.#state, message.#entry, message.#token, handlerFailure(error), 0);
    }
  }
}

function cutReason(reason: unknown, fallback: string): string {
  if (reason === undefined) return fallback;
  const text = typeof reason === 'string' ? reason : String(reason);
  if (text.length <= MAX_NAK_REASON_LENGTH) return text;
  // Never cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(MAX_NAK_REASON_LENGTH - 1))
    ? MAX_NAK_REASON_LENGTH - 1
    : MAX_NAK_REASON_LENGTH;
  return `${text.slice(0, end)}…`;
}

/**
 * What a throwing handler leaves in the dead-letter history. An `EnablementError`'s code and
 * message are SDK text and are kept; any other error contributes only its name, because foreign
 * error text may hold secrets (the rule `EnablementError` applies to foreign causes).
 */
function handlerFailure(error: unknown): string {
  if (EnablementError.is(error)) return `handler threw ${error.code}: ${error.message}`;
  if (error instanceof Error) return `handler threw ${error.name}`;
  return `handler threw a ${typeof error}`;
}

function notFound(what: string): EnablementError {
  return new EnablementError('PL-404', what);
}

/**
 * Creates an in-process {@link EventBus} with JetStream semantics (see `docs/events.md`):
 *
 * - **Streams** capture subjects (wildcards allowed, no overlap between streams) and store
 *   messages up to `maxMessages`/`maxBytes`; when full, discard `new` (default) refuses the
 *   publish with retryable `PL-503`, discard `old` removes the oldest. `maxAgeMs` removes old
 *   messages on a timer. A `msgId` published again inside `duplicateWindowMs` is not stored again.
 * - **Durable consumers** deliver in stream order, keep at most `maxAckPending` unsettled,
 *   redeliver after `ackWaitMs` or a nak delay (redeliveries first, lowest sequence first), and
 *   after `maxDeliver` failed deliveries publish the message to `$DLQ.<stream>.<consumer>`
 *   (stored by the built-in {@link DEAD_LETTER_STREAM} stream) with its delivery history.
 * - **Delivery is asynchronous**: handlers run from a microtask, never inside `publish`,
 *   `subscribe` or an answer (`ack`, `nak`, …).
 * - **Timers**: one {@link Scheduler} on the clock holds every deadline, so the clock carries a
 *   single timer: per consumer one entry for the earliest ack-wait deadline (the rest wait in a
 *   FIFO, which is deadline order since the wait is the same for all), one per pending nak
 *   delay, and one per stream with an age limit.
 *
 * Memory is bounded by the stream limits, `maxAckPending` per consumer, `maxDuplicateIds` per
 * stream, and the stream and consumer counts.
 *
 * @example
 * ```ts
 * const bus = createInProcessEventBus({ clock });
 * await bus.addStream({ name: 'METERING', subjects: ['metering.events.>'] });
 * await bus.addConsumer('METERING', { name: 'ingest', ackWaitMs: 10_000, maxDeliver: 3 });
 * await bus.subscribe('METERING', 'ingest', async (m) => {
 *   await ingest(decodeJson(m.data));
 *   m.ack();
 * });
 * await bus.publish('metering.events.runtime', encodeJson(event), { msgId: event.idempotency_key });
 * ```
 */
export function createInProcessEventBus(options: InProcessEventBusOptions = {}): InProcessEventBus {
  const parsed = parseOptions(optionsSchema, options, 'createInProcessEventBus');
  const clock = parsed.clock ?? systemClock;
  const maxStreams = parsed.maxStreams ?? DEFAULT_MAX_STREAMS;
  const maxConsumers = parsed.maxConsumersPerStream ?? DEFAULT_MAX_CONSUMERS_PER_STREAM;
  const maxDuplicateIds = parsed.maxDuplicateIds ?? DEFAULT_MAX_DUPLICATE_IDS;
  const deliveryBatch = parsed.deliveryBatch ?? DEFAULT_DELIVERY_BATCH;
  // Scheduler entries are bounded by our own bounds (one per consumer, one per stream, one per
  // nak delay, at most maxAckPending per consumer), so the scheduler's own bound is set to its
  // maximum instead of being a second, lower limit that could refuse a deadline.
  const scheduler: Scheduler = createScheduler({ clock, maxPendingTimers: MAX_SCHEDULER_PENDING_TIMERS });
  const streams = new Map<string, StreamState>();
  let consumersCreated = 0;
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new EnablementError('PL-503', 'event bus is closed', { retryable: false });
  };

  const getStream = (name: string): StreamState => {
    assertName(name, 'stream');
    const stream = streams.get(name);
    if (stream === undefined) throw notFound(`stream '${name}' not found`);
    return stream;
  };

  const getConsumer = (streamName: string, name: string): ConsumerState => {
    const stream = getStream(streamName);
    assertName(name, 'consumer');
    const consumer = stream.consumers.get(name);
    if (consumer === undefined) throw notFound(`consumer '${name}' not found on stream '${streamName}'`);
    return consumer;
  };

  // ── stream storage ──────────────────────────────────────────────────────────────────────────

  const firstSeqOf = (stream: StreamState): number => stream.firstSeq;

  /** The oldest stored message. */
  const oldest = (stream: StreamState): Stored | undefined => stream.messages.get(stream.firstSeq);

  /** Invalidates the entry's deadline: its queue item goes stale, its nak-delay timer is cancelled. */
  const clearDeadline = (entry: Pending): void => {
    entry.gen++;
    entry.cancelTimer?.();
    entry.cancelTimer = undefined;
  };

  const dropPendingOf = (consumer: ConsumerState, entry: Pending): void => {
    clearDeadline(entry);
    consumer.pending.delete(entry.seq);
    const i = consumer.ready.indexOf(entry.seq);
    if (i >= 0) consumer.ready.splice(i, 1);
  };

  /** Removes a stored message; consumers drop it unless a handler is working on it right now. */
  const removeMessage = (stream: StreamState, seq: number): void => {
    const stored = stream.messages.get(seq);
    if (stored === undefined) return;
    stream.messages.delete(seq);
    stream.bytes -= stored.size;
    // Amortised O(1): each sequence is stepped over once.
    while (stream.firstSeq <= stream.lastSeq && !stream.messages.has(stream.firstSeq)) stream.firstSeq++;
    for (const consumer of stream.consumers.values()) {
      const entry = consumer.pending.get(seq);
      // An outstanding delivery keeps its slot until answered or expired: its handler holds
      // the payload, and an ack must still find it.
      if (entry !== undefined && entry.state !== 'outstanding') {
        dropPendingOf(consumer, entry);
        schedulePump(consumer);
      }
    }
  };

  const expireAged = (stream: StreamState): void => {
    stream.ageTimer = undefined;
    if (stream.deleted || closed) return;
    const maxAge = millisToNanos(stream.config.maxAgeMs);
    const now = clock.now();
    // Timestamps grow with the sequence: stop at the first message young enough.
    for (
      let first = oldest(stream);
      first !== undefined && first.timestamp + maxAge <= now;
      first = oldest(stream)
    ) {
      removeMessage(stream, first.seq);
    }
    armAgeTimer(stream);
  };

  const armAgeTimer = (stream: StreamState): void => {
    if (stream.config.maxAgeMs === 0 || stream.deleted || closed) return;
    const first = oldest(stream);
    if (first === undefined) {
      stream.ageTimer?.cancel();
      stream.ageTimer = undefined;
      return;
    }
    const at = first.timestamp + millisToNanos(stream.config.maxAgeMs);
    // A timer due earlier than needed is fine: it finds nothing expired and re-arms.
    if (stream.ageTimer !== undefined && stream.ageTimer.at <= at) return;
    stream.ageTimer?.cancel();
    stream.ageTimer = { at, cancel: scheduler.schedule(at, () => expireAged(stream)) };
  };

  const pruneDedup = (stream: StreamState, now: bigint): void => {
    const window = millisToNanos(stream.config.duplicateWindowMs);
    for (const [id, seen] of stream.dedup) {
      if (seen.at + window > now) break;
      stream.dedup.delete(id);
    }
  };

  const findStream = (tokens: readonly string[]): StreamState | undefined => {
    for (const stream of streams.values()) {
      for (const filter of stream.filters) if (matchesTokens(filter, tokens)) return stream;
    }
    return undefined;
  };

  /** Stores a checked message in the stream that captures its subject. */
  const store = (msg: CheckedPublish, enforceMessageSize: boolean): PublishAck => {
    const tokens = msg.subject.split('.');
    const stream = findStream(tokens);
    if (stream === undefined) throw notFound(`no stream captures subject '${msg.subject}'`);
    const { config } = stream;
    const now = clock.now();
    if (msg.msgId !== undefined) {
      pruneDedup(stream, now);
      const seen = stream.dedup.get(msg.msgId);
      if (seen !== undefined) return { stream: config.name, seq: seen.seq, duplicate: true };
    }
    if (enforceMessageSize && msg.size > config.maxMessageSize) {
      throw new EnablementError(
        'PL-400',
        `message is ${msg.size} bytes, more than stream '${config.name}' accepts (maxMessageSize ${config.maxMessageSize})`,
      );
    }
    const full = () =>
      stream.messages.size + 1 > config.maxMessages || stream.bytes + msg.size > config.maxBytes;
    if (full()) {
      if (config.discard === 'new' || msg.size > config.maxBytes) {
        // Refuse rather than drop: everything stored was acknowledged to its publisher.
        throw new EnablementError(
          'PL-503',
          `stream '${config.name}' is full (${stream.messages.size} messages, ${stream.bytes} bytes; limits ${config.maxMessages}, ${config.maxBytes}); message refused`,
        );
      }
      for (let first = oldest(stream); first !== undefined && full(); first = oldest(stream)) {
        removeMessage(stream, first.seq);
      }
    }
    const seq = ++stream.lastSeq;
    if (stream.messages.size === 0) stream.firstSeq = seq;
    stream.messages.set(seq, {
      seq,
      subject: msg.subject,
      tokens,
      data: msg.data,
      headers: msg.headers,
      msgId: msg.msgId,
      timestamp: now,
      size: msg.size,
    });
    stream.bytes += msg.size;
    if (msg.msgId !== undefined) {
      stream.dedup.set(msg.msgId, { seq, at: now });
      if (stream.dedup.size > maxDuplicateIds) {
        const oldest = stream.dedup.keys().next();
        if (!oldest.done) stream.dedup.delete(oldest.value);
      }
    }
    armAgeTimer(stream);
    for (const consumer of stream.consumers.values()) {
      if (consumer.subscription !== undefined && matchesTokens(consumer.filter, tokens))
        schedulePump(consumer);
    }
    return { stream: config.name, seq, duplicate: false };
  };

  const publishSync = (subject: string, data: Uint8Array, publishOptions?: PublishOptions): PublishAck => {
    assertOpen();
    return store(checkPublish(subject, data, publishOptions), true);
  };

  // ── consumers ───────────────────────────────────────────────────────────────────────────────

  function schedulePump(consumer: ConsumerState): void {
    if (consumer.pumpQueued || consumer.subscription === undefined) return;
    consumer.pumpQueued = true;
    queueMicrotask(() => pump(consumer));
  }

  const settle = (consumer: ConsumerState, entry: Pending): void => {
    dropPendingOf(consumer, entry);
    if (consumer.stream.config.retention === 'workqueue') removeMessage(consumer.stream, entry.seq);
    schedulePump(consumer);
  };

  const recordFailure = (entry: Pending, reason: string): void => {
    entry.failures.push({ delivery: entry.deliveries, reason });
    if (entry.failures.length > MAX_DEAD_LETTER_REASONS) entry.failures.shift();
  };

  const isLive = (consumer: ConsumerState, item: AckDeadline): boolean =>
    item.entry.gen === item.gen && consumer.pending.get(item.entry.seq) === item.entry;

  /** Arms the consumer's one timer for the earliest live ack-wait deadline (or releases it). */
  const armAckTimer = (consumer: ConsumerState): void => {
    const queue = consumer.ackQueue;
    let head = queue[consumer.ackHead];
    while (head !== undefined && !isLive(consumer, head)) {
      queue[consumer.ackHead++] = undefined;
      head = queue[consumer.ackHead];
    }
    if (consumer.ackHead > 1024 && consumer.ackHead * 2 > queue.length) {
      queue.splice(0, consumer.ackHead);
      consumer.ackHead = 0;
    }
    if (head === undefined) {
      consumer.ackTimer?.cancel();
      consumer.ackTimer = undefined;
      return;
    }
    // A timer due no later than the head is good enough: it wakes, finds nothing due, re-arms.
    if (consumer.ackTimer !== undefined && consumer.ackTimer.at <= head.at) return;
    consumer.ackTimer?.cancel();
    consumer.ackTimer = { at: head.at, cancel: scheduler.schedule(head.at, () => onAckTimer(consumer)) };
  };

  function onAckTimer(consumer: ConsumerState): void {
    consumer.ackTimer = undefined;
    if (closed || consumer.deleted) return;
    const now = clock.now();
    const queue = consumer.ackQueue;
    for (
      let item = queue[consumer.ackHead];
      item !== undefined && item.at <= now;
      item = queue[consumer.ackHead]
    ) {
      queue[consumer.ackHead++] = undefined;
      if (isLive(consumer, item)) onDeadline(consumer, item.entry, item.gen);
    }
    armAckTimer(consumer);
  }

  /** Sets the entry's deadline to `now + ackWaitMs` (a delivery, `inProgress`, a dead-letter retry). */
  const setAckDeadline = (consumer: ConsumerState, entry: Pending): void => {
    clearDeadline(entry);
    const queue = consumer.ackQueue;
    queue.push({ entry, gen: entry.gen, at: clock.now() + millisToNanos(consumer.config.ackWaitMs) });
    // Bound the stale items (answered deliveries, superseded deadlines): compact when they
    // outnumber the live ones. Amortised O(1) per push.
    if (queue.length - consumer.ackHead > 2 * consumer.pending.size + 1024) {
      const live = queue.slice(consumer.ackHead).filter((i) => i !== undefined && isLive(consumer, i));
      queue.length = 0;
      queue.push(...live);
      consumer.ackHead = 0;
    }
    if (consumer.ackTimer === undefined) armAckTimer(consumer);
  };

  /** Sets a nak-delay deadline: one scheduler timer, since delays differ from one nak to the next. */
  const setDelayDeadline = (consumer: ConsumerState, entry: Pending, at: bigint): void => {
    clearDeadline(entry);
    const gen = entry.gen;
    entry.cancelTimer = scheduler.schedule(at, () => {
      entry.cancelTimer = undefined;
      onDeadline(consumer, entry, gen);
    });
  };

  const makeReady = (consumer: ConsumerState, entry: Pending): void => {
    clearDeadline(entry);
    entry.state = 'ready';
    const { ready } = consumer;
    // Binary insertion keeps the queue ascending; it holds at most maxAckPending sequences.
    let lo = 0;
    let hi = ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ready[mid] as number) < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    ready.splice(lo, 0, entry.seq);
    schedulePump(consumer);
  };

  /** After `maxDeliver` failed deliveries: publish to the dead-letter subject, then settle. */
  const deadLetter = (consumer: ConsumerState, entry: Pending): void => {
    const { stream } = consumer;
    const stored = stream.messages.get(entry.seq);
    if (stored === undefined) {
      // Removed by a stream limit meanwhile: nothing left to dead-letter.
      dropPendingOf(consumer, entry);
      schedulePump(consumer);
      return;
    }
    const headers = deadLetterHeaders(
      {
        stream: stream.config.name,
        consumer: consumer.config.name,
        subject: stored.subject,
        seq: stored.seq,
        msgId: stored.msgId,
        publishedAt: stored.timestamp,
        deliveries: entry.deliveries,
        firstDeliveryAt: entry.firstDeliveredAt,
        lastDeliveryAt: entry.lastDeliveredAt,
        reasons: entry.failures,
      },
      stored.headers,
    );
    try {
      store(
        {
          subject: deadLetterSubject(stream.config.name, consumer.config.name),
          data: stored.data,
          headers,
          msgId: deadLetterMsgId(stream.config.name, consumer.config.name, consumer.incarnation, stored.seq),
          // The dead-letter headers include the original ones: count the payload once plus them.
          size:
            stored.data.byteLength +
            Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0),
        },
        // A dead letter is the original plus bounded headers; refusing it for size would strand it.
        false,
      );
    } catch {
      // The dead-letter stream is full (or gone): keep the message and try again after the ack
      // wait, so it is never lost; meanwhile it holds one of the consumer's ack-pending slots.
      entry.state = 'dead-letter-retry';
      setAckDeadline(consumer, entry);
      return;
    }
    consumer.deadLettered++;
    settle(consumer, entry);
  };

  const exhausted = (consumer: ConsumerState, entry: Pending): boolean =>
    consumer.config.maxDeliver !== -1 && entry.deliveries >= consumer.config.maxDeliver;

  /** A delivery failed (nak, handler error or expired ack wait): redeliver or dead-letter. */
  const failed = (consumer: ConsumerState, entry: Pending, reason: string, delayMs: number): void => {
    recordFailure(entry, reason);
    if (exhausted(consumer, entry)) {
      deadLetter(consumer, entry);
    } else if (delayMs > 0) {
      entry.state = 'waiting';
      setDelayDeadline(consumer, entry, clock.now() + millisToNanos(delayMs));
    } else {
      makeReady(consumer, entry);
    }
  };

  function onDeadline(consumer: ConsumerState, entry: Pending, gen: number): void {
    if (closed || consumer.deleted || consumer.pending.get(entry.seq) !== entry || entry.gen !== gen) return;
    switch (entry.state) {
      case 'outstanding':
        failed(consumer, entry, 'ack wait expired', 0);
        break;
      case 'waiting':
        makeReady(consumer, entry);
        break;
      case 'dead-letter-retry':
        deadLetter(consumer, entry);
        break;
      case 'ready':
        break;
    }
  }

  const isCurrent = (consumer: ConsumerState, entry: Pending): boolean =>
    !closed && !consumer.deleted && consumer.pending.get(entry.seq) === entry;

  /** What a delivered message's answers do; one object per bus, shared by every delivery. */
  const answers: DeliveryAnswers = {
    settle(consumer, entry): void {
      if (isCurrent(consumer, entry)) settle(consumer, entry);
    },
    fail(consumer, entry, token, reason, delayMs): void {
      if (isCurrent(consumer, entry) && entry.token === token && entry.state === 'outstanding') {
        failed(consumer, entry, reason, delayMs);
      }
    },
    progress(consumer, entry, token): void {
      if (isCurrent(consumer, entry) && entry.token === token && entry.state === 'outstanding') {
        setAckDeadline(consumer, entry);
      }
    },
  };

  const deliver = (consumer: ConsumerState, sub: SubscriptionImpl, entry: Pending, stored: Stored): void => {
    const now = clock.now();
    entry.deliveries++;
    entry.token++;
    entry.lastDeliveredAt = now;
    entry.state = 'outstanding';
    if (entry.deliveries > 1) consumer.redelivered++;
    setAckDeadline(consumer, entry);
    const message = new Delivery(answers, consumer, entry, stored);
    try {
      const result = sub.handler(message);
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(undefined, (error: unknown) => Delivery.handlerFailed(message, error));
      }
    } catch (error) {
      Delivery.handlerFailed(message, error);
    }
  };

  /** The next delivery for a consumer: a redelivery first, else a new message if a slot is free. */
  const next = (consumer: ConsumerState): { entry: Pending; stored: Stored } | undefined => {
    const { stream } = consumer;
    while (consumer.ready.length > 0) {
      const seq = consumer.ready.shift() as number;
      const entry = consumer.pending.get(seq);
      if (entry === undefined) continue;
      const stored = stream.messages.get(seq);
      if (stored === undefined) {
        dropPendingOf(consumer, entry);
        continue;
      }
      return { entry, stored };
    }
    if (consumer.pending.size >= consumer.config.maxAckPending) return undefined;
    consumer.nextSeq = Math.max(consumer.nextSeq, firstSeqOf(stream));
    while (consumer.nextSeq <= stream.lastSeq) {
      const seq = consumer.nextSeq++;
      const stored = stream.messages.get(seq);
      if (stored === undefined || !matchesTokens(consumer.filter, stored.tokens)) continue;
      consumer.deliveredSeq = seq;
      const now = clock.now();
      const entry: Pending = {
        seq,
        deliveries: 0,
        firstDeliveredAt: now,
        lastDeliveredAt: now,
        state: 'ready',
        token: 0,
        gen: 0,
        failures: [],
        cancelTimer: undefined,
      };
      consumer.pending.set(seq, entry);
      return { entry, stored };
    }
    return undefined;
  };

  function pump(consumer: ConsumerState): void {
    // `pumpQueued` stays set while the loop runs, so answers given by handlers inside it do not
    // queue another pump: the loop itself sees the slots they free.
    let more = false;
    try {
      for (let budget = deliveryBatch; budget > 0; budget--) {
        const sub = consumer.subscription;
        if (closed || consumer.deleted || sub === undefined || !sub.active) return;
        const item = next(consumer);
        if (item === undefined) return;
        deliver(consumer, sub, item.entry, item.stored);
      }
      more = true;
    } finally {
      consumer.pumpQueued = more;
    }
    // Budget spent: continue after pending I/O rather than in this same turn.
    setImmediate(() => pump(consumer));
  }

  const consumerInfo = (consumer: ConsumerState): ConsumerInfo => {
    const { stream } = consumer;
    let numPending = 0;
    for (let seq = Math.max(consumer.nextSeq, firstSeqOf(stream)); seq <= stream.lastSeq; seq++) {
      const stored = stream.messages.get(seq);
      if (stored !== undefined && matchesTokens(consumer.filter, stored.tokens)) numPending++;
    }
    return Object.freeze({
      stream: stream.config.name,
      config: consumer.config,
      state: Object.freeze({
        deliveredSeq: consumer.deliveredSeq,
        ackPending: consumer.pending.size,
        numPending,
        redelivered: consumer.redelivered,
        deadLettered: consumer.deadLettered,
        bound: consumer.subscription !== undefined,
      }),
    });
  };

  const streamInfo = (stream: StreamState): StreamInfo =>
    Object.freeze({
      config: stream.config,
      state: Object.freeze({
        messages: stream.messages.size,
        bytes: stream.bytes,
        firstSeq: firstSeqOf(stream),
        lastSeq: stream.lastSeq,
        consumers: stream.consumers.size,
      }),
    });

  const deactivate = (consumer: ConsumerState): void => {
    const sub = consumer.subscription;
    consumer.subscription = undefined;
    if (sub !== undefined) sub.active = false;
  };

  const removeConsumer = (consumer: ConsumerState): void => {
    consumer.deleted = true;
    deactivate(consumer);
    for (const entry of consumer.pending.values()) clearDeadline(entry);
    consumer.ackTimer?.cancel();
    consumer.ackTimer = undefined;
    consumer.ackQueue.length = 0;
    consumer.pending.clear();
    consumer.ready.length = 0;
    consumer.stream.consumers.delete(consumer.config.name);
  };

  const addStreamSync = (config: StreamConfig): StreamInfo => {
    assertOpen();
    const resolved = resolveStreamConfig(config);
    const existing = streams.get(resolved.name);
    if (existing !== undefined) {
      if (sameConfig(existing.config, resolved)) return streamInfo(existing);
      throw new EnablementError('PL-409', `stream '${resolved.name}' exists with a different configuration`);
    }
    if (streams.size >= maxStreams) {
      throw new EnablementError('PL-409', `the bus already has ${maxStreams} streams (maxStreams)`);
    }
    for (const other of streams.values()) {
      for (const a of other.config.subjects) {
        for (const b of resolved.subjects) {
          if (filtersOverlap(a, b)) {
            throw new EnablementError(
              'PL-409',
              `subject '${b}' overlaps '${a}' of stream '${other.config.name}'`,
            );
          }
        }
      }
    }
    const stream: StreamState = {
      config: resolved,
      filters: resolved.subjects.map((s) => compileFilter(s)),
      messages: new Map(),
      lastSeq: 0,
      firstSeq: 1,
      bytes: 0,
      dedup: new Map(),
      consumers: new Map(),
      ageTimer: undefined,
      deleted: false,
    };
    streams.set(resolved.name, stream);
    return streamInfo(stream);
  };

  const addConsumerSync = (streamName: string, config: ConsumerConfig): ConsumerInfo => {
    assertOpen();
    const stream = getStream(streamName);
    const resolved = resolveConsumerConfig(config);
    const existing = stream.consumers.get(resolved.name);
    if (existing !== undefined) {
      if (sameConfig(existing.config, resolved)) return consumerInfo(existing);
      throw new EnablementError(
        'PL-409',
        `consumer '${resolved.name}' exists on stream '${streamName}' with a different configuration`,
      );
    }
    if (!stream.config.subjects.some((s) => filtersOverlap(s, resolved.filterSubject))) {
      throw new EnablementError(
        'PL-400',
        `ConsumerConfig.filterSubject: '${resolved.filterSubject}' matches no subject of stream '${streamName}'`,
      );
    }
    if (stream.config.retention === 'workqueue') {
      if (resolved.deliverPolicy !== 'all') {
        throw new EnablementError('PL-400', 'ConsumerConfig.deliverPolicy: a work-queue stream needs `all`');
      }
      for (const other of stream.consumers.values()) {
        if (filtersOverlap(other.config.filterSubject, resolved.filterSubject)) {
          throw new EnablementError(
            'PL-409',
            `work-queue stream '${streamName}': filter '${resolved.filterSubject}' overlaps consumer '${other.config.name}'`,
          );
        }
      }
    }
    if (stream.consumers.size >= maxConsumers) {
      throw new EnablementError(
        'PL-409',
        `stream '${streamName}' already has ${maxConsumers} consumers (maxConsumersPerStream)`,
      );
    }
    const consumer: ConsumerState = {
      stream,
      incarnation: String(++consumersCreated),
      config: resolved,
      filter: compileFilter(resolved.filterSubject),
      nextSeq: resolved.deliverPolicy === 'new' ? stream.lastSeq + 1 : firstSeqOf(stream),
      deliveredSeq: 0,
      pending: new Map(),
      ready: [],
      ackQueue: [],
      ackHead: 0,
      ackTimer: undefined,
      subscription: undefined,
      pumpQueued: false,
      redelivered: 0,
      deadLettered: 0,
      deleted: false,
    };
    stream.consumers.set(resolved.name, consumer);
    return consumerInfo(consumer);
  };

  const subscribeSync = (streamName: string, consumerName: string, handler: MessageHandler): Subscription => {
    assertOpen();
    const consumer = getConsumer(streamName, consumerName);
    if (typeof handler !== 'function') throw new EnablementError('PL-400', 'handler: expected a function');
    if (consumer.subscription !== undefined) {
      throw new EnablementError(
        'PL-409',
        `consumer '${consumerName}' on stream '${streamName}' already has a subscription`,
      );
    }
    const sub = new SubscriptionImpl(streamName, consumerName, handler, (s) => {
      if (consumer.subscription === s) consumer.subscription = undefined;
    });
    consumer.subscription = sub;
    schedulePump(consumer);
    return sub;
  };

  addStreamSync({
    name: DEAD_LETTER_STREAM,
    subjects: [DEAD_LETTER_SUBJECTS],
    maxMessages: parsed.deadLetter?.maxMessages ?? 10_000,
    maxBytes: parsed.deadLetter?.maxBytes ?? 64 * 1024 * 1024,
    maxAgeMs: parsed.deadLetter?.maxAgeMs ?? 0,
  });

  return Object.freeze({
    publishSync,
    async publish(subject: string, data: Uint8Array, publishOptions?: PublishOptions): Promise<PublishAck> {
      return publishSync(subject, data, publishOptions);
    },
    async addStream(config: StreamConfig): Promise<StreamInfo> {
      return addStreamSync(config);
    },
    async streamInfo(name: string): Promise<StreamInfo> {
      assertOpen();
      return streamInfo(getStream(name));
    },
    async deleteStream(name: string): Promise<void> {
      assertOpen();
      const stream = getStream(name);
      if (name === DEAD_LETTER_STREAM) {
        throw new EnablementError(
          'PL-409',
          `the dead-letter stream '${DEAD_LETTER_STREAM}' cannot be deleted`,
        );
      }
      for (const consumer of [...stream.consumers.values()]) removeConsumer(consumer);
      stream.deleted = true;
      stream.ageTimer?.cancel();
      stream.ageTimer = undefined;
      streams.delete(name);
    },
    async addConsumer(stream: string, config: ConsumerConfig): Promise<ConsumerInfo> {
      return addConsumerSync(stream, config);
    },
    async consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
      assertOpen();
      return consumerInfo(getConsumer(stream, name));
    },
    async deleteConsumer(stream: string, name: string): Promise<void> {
      assertOpen();
      removeConsumer(getConsumer(stream, name));
    },
    async subscribe(stream: string, consumer: string, handler: MessageHandler): Promise<Subscription> {
      return subscribeSync(stream, consumer, handler);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const stream of streams.values()) {
        for (const consumer of stream.consumers.values()) deactivate(consumer);
      }
      scheduler.dispose();
    },
    get closed(): boolean {
      return closed;
    },
  });
}
