import {
  type ConsensusTimestamp,
  type ConsumerInfo,
  EnablementError,
  NANOS_PER_MILLI,
  type ResolvedConsumerConfig,
  type ResolvedStreamConfig,
  type StreamInfo,
} from '@creto/core';
import type {
  ConsumerConfig as JsConsumerConfig,
  ConsumerInfo as JsConsumerInfo,
  StreamConfig as JsStreamConfig,
  StreamInfo as JsStreamInfo,
} from '@nats-io/jetstream';

const NS_PER_MS = 1_000_000;

/**
 * JetStream's smallest duplicate window (nats-server refuses less than 100 ms). The port allows
 * `0` (no deduplication), which JetStream cannot express: such a stream is refused with `PL-400`.
 */
export const MIN_JETSTREAM_DUPLICATE_WINDOW_MS = 100;

/** Where JetStream keeps the messages of streams the adapter creates. */
export type StorageKind = 'file' | 'memory';

/** Deployment settings of the streams the adapter creates (not part of the port's configuration). */
export interface StreamPlacement {
  /** `file` (survives a server restart) or `memory`. */
  readonly storage: StorageKind;
  /** Replicas in a cluster (1 on a single server). */
  readonly replicas: number;
}

/**
 * The JetStream stream configuration of a resolved port configuration. `duplicateWindowMs`
 * must already fit JetStream (see {@link fitDuplicateWindow}).
 */
export function toJetStreamStream(
  config: ResolvedStreamConfig,
  placement: StreamPlacement,
): Partial<JsStreamConfig> & { name: string } {
  return {
    name: config.name,
    subjects: [...config.subjects],
    retention: config.retention,
    discard: config.discard,
    max_msgs: config.maxMessages,
    max_bytes: config.maxBytes,
    max_age: config.maxAgeMs * NS_PER_MS,
    max_msg_size: config.maxMessageSize,
    duplicate_window: config.duplicateWindowMs * NS_PER_MS,
    storage: placement.storage,
    num_replicas: placement.replicas,
  };
}

/**
 * Makes a resolved configuration's duplicate window acceptable to JetStream, which refuses a
 * window below {@link MIN_JETSTREAM_DUPLICATE_WINDOW_MS} or above `max_age`. A window the
 * caller left to its default is shortened to `maxAgeMs` (as nats-server itself does when the
 * window is unset); one the caller chose is refused with `PL-400` rather than silently changed.
 */
export function fitDuplicateWindow(config: ResolvedStreamConfig, explicit: boolean): ResolvedStreamConfig {
  let window = config.duplicateWindowMs;
  if (config.maxAgeMs > 0 && window > config.maxAgeMs) {
    if (explicit) {
      throw new EnablementError(
        'PL-400',
        `StreamConfig.duplicateWindowMs: JetStream needs it at most maxAgeMs (${config.maxAgeMs})`,
      );
    }
    window = config.maxAgeMs;
  }
  if (window < MIN_JETSTREAM_DUPLICATE_WINDOW_MS) {
    throw new EnablementError(
      'PL-400',
      `StreamConfig.${explicit ? 'duplicateWindowMs' : 'maxAgeMs'}: JetStream needs a duplicate window of at least ${MIN_JETSTREAM_DUPLICATE_WINDOW_MS} ms (and maxAgeMs, when set, at least as long)`,
    );
  }
  return window === config.duplicateWindowMs
    ? config
    : Object.freeze({ ...config, duplicateWindowMs: window });
}

/** JetStream's `-1` (unlimited) as the port reports it: no limit is an infinite one. */
const limit = (n: number | undefined): number => (n === undefined || n < 0 ? Number.POSITIVE_INFINITY : n);

const msFromNs = (ns: number | undefined): number => Math.round((ns ?? 0) / NS_PER_MS);

/**
 * The port's view of a JetStream stream configuration. Settings the port has no words for are
 * approximated: `interest` retention reads as `limits`; unlimited (`-1`) limits read as
 * `Infinity`. Use {@link sameStreamConfig} (which compares JetStream's own values) to decide
 * whether two configurations are the same.
 */
export function fromJetStreamStream(config: JsStreamConfig): ResolvedStreamConfig {
  return Object.freeze({
    name: config.name,
    subjects: Object.freeze([...(config.subjects ?? [])]),
    retention: config.retention === 'workqueue' ? 'workqueue' : 'limits',
    discard: config.discard === 'old' ? 'old' : 'new',
    maxMessages: limit(config.max_msgs),
    maxBytes: limit(config.max_bytes),
    maxAgeMs: msFromNs(config.max_age),
    maxMessageSize: limit(config.max_msg_size),
    duplicateWindowMs: msFromNs(config.duplicate_window),
  });
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/**
 * Whether the stream on the server has the configuration the adapter would create: the port's
 * settings compared in JetStream's terms (subjects as a set, limits, policies, windows).
 * Deployment settings (storage, replicas, placement) and JetStream-only settings the port does
 * not use are ignored, so an operator may tune them.
 */
export function sameStreamConfig(wanted: Partial<JsStreamConfig>, actual: JsStreamConfig): boolean {
  return (
    sameSet(wanted.subjects ?? [], actual.subjects ?? []) &&
    wanted.retention === actual.retention &&
    wanted.discard === actual.discard &&
    wanted.max_msgs === actual.max_msgs &&
    wanted.max_bytes === actual.max_bytes &&
    msFromNs(wanted.max_age) === msFromNs(actual.max_age) &&
    wanted.max_msg_size === actual.max_msg_size &&
    msFromNs(wanted.duplicate_window) === msFromNs(actual.duplicate_window)
  );
}

/** The port's view of a JetStream stream and its state. */
export function fromJetStreamStreamInfo(info: JsStreamInfo): StreamInfo {
  const { state } = info;
  return Object.freeze({
    config: fromJetStreamStream(info.config),
    state: Object.freeze({
      messages: state.messages,
      bytes: state.bytes,
      // JetStream reports an empty stream's first sequence as last + 1, as the port does.
      firstSeq: state.first_seq,
      lastSeq: state.last_seq,
      consumers: state.consumer_count,
    }),
  });
}

/** The durable pull consumer, explicit acks, of a resolved port configuration. */
export function toJetStreamConsumer(config: ResolvedConsumerConfig): Partial<JsConsumerConfig> {
  const out: Partial<JsConsumerConfig> = {
    durable_name: config.name,
    deliver_policy: config.deliverPolicy,
    ack_policy: 'explicit',
    ack_wait: config.ackWaitMs * NS_PER_MS,
    max_deliver: config.maxDeliver,
    max_ack_pending: config.maxAckPending,
    replay_policy: 'instant',
  };
  // `>` is "every subject of the stream": JetStream says that with no filter at all.
  if (config.filterSubject !== '>') out.filter_subject = config.filterSubject;
  return out;
}

const filterOf = (config: Partial<JsConsumerConfig>): string =>
  config.filter_subject === undefined || config.filter_subject === '' ? '>' : config.filter_subject;

/**
 * Whether the consumer on the server has the configuration the adapter would create, compared in
 * JetStream's terms. A push consumer (one with a deliver subject) never matches.
 */
export function sameConsumerConfig(wanted: Partial<JsConsumerConfig>, actual: JsConsumerConfig): boolean {
  return (
    (actual.deliver_subject === undefined || actual.deliver_subject === '') &&
    filterOf(wanted) === filterOf(actual) &&
    wanted.deliver_policy === actual.deliver_policy &&
    wanted.ack_policy === actual.ack_policy &&
    msFromNs(wanted.ack_wait) === msFromNs(actual.ack_wait) &&
    (wanted.max_deliver ?? -1) === (actual.max_deliver ?? -1) &&
    wanted.max_ack_pending === actual.max_ack_pending
  );
}

/** The port's view of a JetStream consumer configuration (`last`, … deliver policies read as `all`). */
export function fromJetStreamConsumer(config: JsConsumerConfig): ResolvedConsumerConfig {
  const maxDeliver = config.max_deliver === undefined || config.max_deliver <= 0 ? -1 : config.max_deliver;
  return Object.freeze({
    name: config.durable_name ?? config.name ?? '',
    filterSubject: filterOf(config),
    deliverPolicy: config.deliver_policy === 'new' ? 'new' : 'all',
    ackPolicy: 'explicit',
    ackWaitMs: msFromNs(config.ack_wait),
    maxDeliver,
    maxAckPending: config.max_ack_pending ?? -1,
  });
}

/** Counters the server does not keep the way the port defines them (see the bus). */
export interface LocalConsumerCounters {
  /** Redeliveries this bus received. */
  readonly redelivered: number;
  /** Dead letters this bus published. */
  readonly deadLettered: number;
  /** Whether this bus has a subscription bound to the consumer. */
  readonly bound: boolean;
}

/**
 * The port's view of a JetStream consumer. JetStream's `num_redelivered` counts only the
 * redelivered messages still unacknowledged, and it keeps no dead-letter count, so both come
 * from this bus's own counters (the larger of the two for redeliveries): they cover what this
 * bus instance saw. `bound` is this bus's subscription, or any client pulling right now.
 */
export function fromJetStreamConsumerInfo(info: JsConsumerInfo, local: LocalConsumerCounters): ConsumerInfo {
  return Object.freeze({
    stream: info.stream_name,
    config: fromJetStreamConsumer(info.config),
    state: Object.freeze({
      // JetStream reports the start position as "delivered" before any delivery.
      deliveredSeq: info.delivered.consumer_seq === 0 ? 0 : info.delivered.stream_seq,
      ackPending: info.num_ack_pending,
      numPending: info.num_pending,
      redelivered: Math.max(info.num_redelivered, local.redelivered),
      deadLettered: local.deadLettered,
      bound: local.bound || info.num_waiting > 0,
    }),
  });
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Unix nanoseconds of an RFC 3339 timestamp with up to nanosecond precision, as nats-server
 * writes them (`2026-01-02T03:04:05.123456789Z`); `undefined` when malformed. `Date` keeps only
 * milliseconds, so the fraction is added separately.
 */
export function rfc3339ToNanos(text: string): ConsensusTimestamp | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(seconds)) return undefined;
  const fraction = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(seconds) * NANOS_PER_MILLI + fraction;
}
