import type { ConsensusTimestamp } from '../time/clock.js';

/**
 * Message headers: name → value. Names are RFC 9110 tokens; values printable ASCII. Names that
 * start with `Nats-` are reserved for the broker mapping (use `PublishOptions.msgId`).
 */
export type EventHeaders = Readonly<Record<string, string>>;

/** Options of {@link EventBus.publish}. */
export interface PublishOptions {
  /**
   * Message id (JetStream `Nats-Msg-Id`): a second publish with the same id inside the stream's
   * duplicate window is not stored again; it returns the first message's sequence with
   * `duplicate: true`. Give one to every publish that may be retried.
   */
  readonly msgId?: string;
  /** Headers stored and delivered with the message. */
  readonly headers?: EventHeaders;
}

/** What {@link EventBus.publish} returns once the message is stored (JetStream `PubAck`). */
export interface PublishAck {
  /** The stream that stored the message. */
  readonly stream: string;
  /**
   * Stream sequence of the message (the first copy's when `duplicate`). A safe integer: sequences
   * start at 1 and a stream would need 2^53 messages to leave the safe range.
   */
  readonly seq: number;
  /** True when the `msgId` was seen inside the duplicate window and nothing new was stored. */
  readonly duplicate: boolean;
}

/**
 * When messages leave a stream (JetStream `RetentionPolicy`):
 * - `limits`: only the stream limits (`maxMessages`, `maxBytes`, `maxAgeMs`) remove messages;
 *   every consumer can read every message still stored.
 * - `workqueue`: a message is removed once a consumer settles it (ack, term or dead-letter);
 *   consumers of one stream must have non-overlapping filters.
 */
export type RetentionPolicy = 'limits' | 'workqueue';

/**
 * What a full stream does (JetStream `DiscardPolicy`):
 * - `new` (default): refuse the new message with `PL-503` (retryable); nothing stored is lost.
 * - `old`: remove the oldest messages to make room, even if consumers have not read them.
 */
export type DiscardPolicy = 'new' | 'old';

/** A stream: the stored log of every message published on subjects it captures. */
export interface StreamConfig {
  /** Name: 1–64 characters of `A–Z a–z 0–9 _ -`. */
  readonly name: string;
  /** Subject filters the stream captures (wildcards allowed); no two streams may overlap. */
  readonly subjects: readonly string[];
  /** See {@link RetentionPolicy}; default `limits`. */
  readonly retention?: RetentionPolicy;
  /** See {@link DiscardPolicy}; default `new`. */
  readonly discard?: DiscardPolicy;
  /** Most messages stored; default {@link DEFAULT_STREAM_LIMITS}. */
  readonly maxMessages?: number;
  /** Most bytes stored (payloads plus headers); default {@link DEFAULT_STREAM_LIMITS}. */
  readonly maxBytes?: number;
  /** Messages older than this are removed; `0` (default) keeps them until other limits apply. */
  readonly maxAgeMs?: number;
  /** Largest message (payload plus headers) accepted, in bytes; default 1 MiB. */
  readonly maxMessageSize?: number;
  /** How long a `msgId` is remembered for deduplication; default 2 minutes (as JetStream). */
  readonly duplicateWindowMs?: number;
}

/** A stream's configuration with every default filled in. */
export type ResolvedStreamConfig = Required<StreamConfig>;

/** A stream's configuration and current state. */
export interface StreamInfo {
  /** The configuration, defaults resolved. */
  readonly config: ResolvedStreamConfig;
  /** Current contents. */
  readonly state: {
    /** Messages stored. */
    readonly messages: number;
    /** Bytes stored (payloads plus headers). */
    readonly bytes: number;
    /** Sequence of the oldest stored message (`lastSeq + 1` when empty). */
    readonly firstSeq: number;
    /** Sequence of the last message ever stored (0 before the first). */
    readonly lastSeq: number;
    /** Durable consumers on the stream. */
    readonly consumers: number;
  };
}

/** Where a new consumer starts (JetStream `DeliverPolicy`). */
export type DeliverPolicy = 'all' | 'new';

/** A durable consumer: a named cursor over a stream that remembers what was delivered and acked. */
export interface ConsumerConfig {
  /** Durable name: 1–64 characters of `A–Z a–z 0–9 _ -`. */
  readonly name: string;
  /** Only messages whose subject matches are delivered; default `>` (every subject of the stream). */
  readonly filterSubject?: string;
  /** `all` (default): from the first stored message; `new`: only messages stored after creation. */
  readonly deliverPolicy?: DeliverPolicy;
  /** Only `explicit`: every delivered message must be acked, nak'd or termed. */
  readonly ackPolicy?: 'explicit';
  /** Time to answer a delivery before it is redelivered; default 30 000 ms (as JetStream). */
  readonly ackWaitMs?: number;
  /**
   * Deliveries of one message before it is dead-lettered (see {@link deadLetterSubject});
   * `-1` for unlimited; default 5.
   */
  readonly maxDeliver?: number;
  /**
   * Most messages delivered and not yet acked or termed (nak'd ones waiting for redelivery
   * count); default 1000. With `1`, messages are handled strictly one at a time in stream order,
   * which gives ordered delivery per subject, redeliveries included.
   */
  readonly maxAckPending?: number;
}

/** A consumer's configuration with every default filled in. */
export type ResolvedConsumerConfig = Required<ConsumerConfig>;

/** A consumer's configuration and progress. */
export interface ConsumerInfo {
  /** The stream the consumer reads. */
  readonly stream: string;
  /** The configuration, defaults resolved. */
  readonly config: ResolvedConsumerConfig;
  /** Progress. */
  readonly state: {
    /** Stream sequence of the last message delivered for the first time (0 before any). */
    readonly deliveredSeq: number;
    /** Messages delivered and not yet settled (acked, termed or dead-lettered). */
    readonly ackPending: number;
    /** Matching messages stored and not yet delivered. */
    readonly numPending: number;
    /** Deliveries that were redeliveries, since creation. */
    readonly redelivered: number;
    /** Messages sent to the dead-letter subject, since creation. */
    readonly deadLettered: number;
    /** Whether a subscription is currently bound. */
    readonly bound: boolean;
  };
}

/**
 * A delivered message. Answer it once with `ack`, `nak` or `term` (`inProgress` extends the ack
 * wait and may be repeated). Answers after the first are ignored, as are `nak`/`inProgress` from
 * an older delivery of a message that has since been redelivered. An `ack` or `term` from an
 * older delivery still settles the message (as in JetStream, where the ack names the stream
 * sequence, not the delivery).
 */
export interface EventMessage {
  /** Stream that stored the message. */
  readonly stream: string;
  /** Durable consumer that delivered it. */
  readonly consumer: string;
  /** Subject it was published on. */
  readonly subject: string;
  /** Payload (a copy: mutating it changes nothing stored). */
  readonly data: Uint8Array;
  /** Headers it was published with. */
  readonly headers: EventHeaders;
  /** Its `msgId`, when it was published with one. */
  readonly msgId: string | undefined;
  /** Stream sequence. */
  readonly seq: number;
  /** 1 on the first delivery, then 2, 3, … (JetStream `num_delivered`). */
  readonly deliveryCount: number;
  /** When the stream stored it (Unix ns, from the bus's clock). */
  readonly timestamp: ConsensusTimestamp;
  /** Done: never deliver it again to this consumer. */
  ack(): void;
  /**
   * Failed, try again: redeliver after `delayMs` (default 0, immediately). `reason` (at most
   * {@link MAX_NAK_REASON_LENGTH} characters kept) is recorded in the dead-letter history. When
   * this was the last allowed delivery (`maxDeliver`), the message is dead-lettered instead.
   */
  nak(delayMs?: number, reason?: string): void;
  /** Give up: never deliver it again, without dead-lettering (JetStream `AckTerm`). */
  term(reason?: string): void;
  /** Still working: restart the ack-wait timer (JetStream `AckProgress`). */
  inProgress(): void;
}

/**
 * Handles one delivery. A handler that throws (or whose promise rejects) has the delivery
 * nak'd with the error as reason, unless it already answered.
 */
export type MessageHandler = (message: EventMessage) => void | Promise<void>;

/** A bound subscription to a durable consumer. */
export interface Subscription {
  /** Stream name. */
  readonly stream: string;
  /** Consumer name. */
  readonly consumer: string;
  /** False once unsubscribed (or the consumer, stream or bus went away). */
  readonly active: boolean;
  /**
   * Stops deliveries to this handler. Messages delivered and not yet answered stay pending and
   * are redelivered (after their ack wait) to the next subscription of the same durable consumer.
   */
  unsubscribe(): Promise<void>;
}

/**
 * The event bus port, with NATS JetStream semantics (ARCHITECTURE §5, spec §4.1): streams capture
 * subjects and store messages; durable consumers deliver them at least once with explicit
 * acknowledgement, redelivery after the ack wait, nak with delay, term, and dead-lettering after
 * `maxDeliver` deliveries. See `docs/events.md`.
 *
 * Errors are `EnablementError`s: `PL-400` invalid input, `PL-404` unknown stream or consumer or
 * no stream for a subject, `PL-409` conflicting configuration or a consumer already bound,
 * `PL-503` (retryable) when a stream is full or the bus is closed or unreachable.
 */
export interface EventBus {
  /**
   * Creates a stream, or returns the existing one when its configuration is the same; `PL-409`
   * when a stream of that name differs or another stream captures an overlapping subject.
   */
  addStream(config: StreamConfig): Promise<StreamInfo>;
  /** A stream's configuration and state; `PL-404` when unknown. */
  streamInfo(name: string): Promise<StreamInfo>;
  /** Deletes a stream, its messages and its consumers; `PL-404` when unknown. */
  deleteStream(name: string): Promise<void>;
  /**
   * Creates a durable consumer, or returns the existing one when its configuration is the same;
   * `PL-409` when it differs.
   */
  addConsumer(stream: string, config: ConsumerConfig): Promise<ConsumerInfo>;
  /** A consumer's configuration and progress; `PL-404` when unknown. */
  consumerInfo(stream: string, name: string): Promise<ConsumerInfo>;
  /** Deletes a durable consumer and its progress; `PL-404` when unknown. */
  deleteConsumer(stream: string, name: string): Promise<void>;
  /**
   * Stores `data` in the stream capturing `subject` and resolves once it is stored. `PL-404` when
   * no stream captures the subject; `PL-503` when the stream is full (discard `new`) or the bus
   * is closed or unreachable.
   */
  publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck>;
  /**
   * Binds `handler` to a durable consumer and starts delivering (never synchronously inside this
   * call or inside `publish`). `PL-409` when the consumer already has a subscription.
   */
  subscribe(stream: string, consumer: string, handler: MessageHandler): Promise<Subscription>;
  /** Stops every subscription and timer; later calls reject with `PL-503`. Idempotent. */
  close(): Promise<void>;
}

/** Longest `nak`/`term` reason kept, in characters (longer reasons are cut). */
export const MAX_NAK_REASON_LENGTH = 256;
