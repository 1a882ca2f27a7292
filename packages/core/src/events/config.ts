import { z } from 'zod';
import { isBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { decodeWire } from '../wire/errors.js';
import { assertFilter, assertSubject } from './subject.js';
import type {
  ConsumerConfig,
  EventHeaders,
  PublishOptions,
  ResolvedConsumerConfig,
  ResolvedStreamConfig,
  StreamConfig,
} from './types.js';

const MIB = 1024 * 1024;
const DAY_MS = 86_400_000;

/**
 * Stream limits applied when a {@link StreamConfig} leaves them out: 100 000 messages, 64 MiB,
 * no age limit, 1 MiB per message (the NATS default `max_payload`), a 2-minute duplicate window
 * (the JetStream default).
 */
export const DEFAULT_STREAM_LIMITS = Object.freeze({
  maxMessages: 100_000,
  maxBytes: 64 * MIB,
  maxAgeMs: 0,
  maxMessageSize: MIB,
  duplicateWindowMs: 120_000,
});

/**
 * Consumer settings applied when a {@link ConsumerConfig} leaves them out: 30 s ack wait and
 * 1000 ack-pending messages (the JetStream defaults), and 5 deliveries before dead-lettering
 * (JetStream's default is unlimited; a bound keeps a poison message from looping forever).
 */
export const DEFAULT_CONSUMER_SETTINGS = Object.freeze({
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 1000,
});

/** Hard upper bounds on configuration values (larger values are rejected with `PL-400`). */
export const EVENT_BUS_LIMITS = Object.freeze({
  /** Most messages one stream may be configured to hold. */
  maxMessages: 10_000_000,
  /** Most bytes one stream may be configured to hold (16 GiB). */
  maxBytes: 16 * 1024 * MIB,
  /** Largest message size limit (64 MiB). */
  maxMessageSize: 64 * MIB,
  /** Longest duplicate window (7 days, the metering idempotency window of spec §9.2). */
  duplicateWindowMs: 7 * DAY_MS,
  /** Longest age limit (10 years). */
  maxAgeMs: 3650 * DAY_MS,
  /** Longest ack wait and nak delay (1 day). */
  ackWaitMs: DAY_MS,
  /** Most deliveries of one message. */
  maxDeliver: 1000,
  /** Most ack-pending messages of one consumer. */
  maxAckPending: 100_000,
  /** Most subjects one stream captures. */
  subjectsPerStream: 32,
  /** Most headers on one message. */
  headers: 32,
  /** Longest header name. */
  headerNameLength: 64,
  /** Longest header value. */
  headerValueLength: 4096,
  /** Longest `msgId`. */
  msgIdLength: 256,
});

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
// RFC 9110 §5.6.2 token characters.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Printable ASCII and horizontal tab: no CR/LF (header injection) and no other control bytes.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const MSG_ID = /^[\x20-\x7e]+$/;

/** Header-name prefixes the bus reserves (checked without regard to case). */
export const RESERVED_HEADER_PREFIXES: readonly string[] = Object.freeze(['nats-', 'creto-dlq-']);

const nameSchema = z.string().regex(NAME, 'expected 1-64 characters of A-Z a-z 0-9 _ -');
const positiveInt = (max: number) => z.number().int().min(1).max(max);

const streamSchema = z.strictObject({
  name: nameSchema,
  subjects: z.array(z.string()).min(1).max(EVENT_BUS_LIMITS.subjectsPerStream),
  retention: z.enum(['limits', 'workqueue']).optional(),
  discard: z.enum(['new', 'old']).optional(),
  maxMessages: positiveInt(EVENT_BUS_LIMITS.maxMessages).optional(),
  maxBytes: positiveInt(EVENT_BUS_LIMITS.maxBytes).optional(),
  maxAgeMs: z.number().int().min(0).max(EVENT_BUS_LIMITS.maxAgeMs).optional(),
  maxMessageSize: positiveInt(EVENT_BUS_LIMITS.maxMessageSize).optional(),
  duplicateWindowMs: z.number().int().min(0).max(EVENT_BUS_LIMITS.duplicateWindowMs).optional(),
});

const consumerSchema = z.strictObject({
  name: nameSchema,
  filterSubject: z.string().optional(),
  deliverPolicy: z.enum(['all', 'new']).optional(),
  ackPolicy: z.literal('explicit').optional(),
  ackWaitMs: positiveInt(EVENT_BUS_LIMITS.ackWaitMs).optional(),
  maxDeliver: z
    .number()
    .int()
    .min(-1)
    .max(EVENT_BUS_LIMITS.maxDeliver)
    .refine((n) => n !== 0, 'must be -1 (unlimited) or at least 1')
    .optional(),
  maxAckPending: positiveInt(EVENT_BUS_LIMITS.maxAckPending).optional(),
});

/** Throws `PL-400` unless `name` is a valid stream or consumer name. */
export function assertName(name: unknown, field: string): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new EnablementError('PL-400', `${field}: expected 1-64 characters of A-Z a-z 0-9 _ -`);
  }
}

/** Validates a stream configuration and fills in defaults (`PL-400` naming the field). */
export function resolveStreamConfig(config: StreamConfig): ResolvedStreamConfig {
  const parsed = decodeWire(streamSchema, config, { contract: 'StreamConfig', code: 'PL-400' });
  const subjects = [...parsed.subjects];
  for (const [i, subject] of subjects.entries()) assertFilter(subject, `StreamConfig.subjects[${i}]`);
  if (new Set(subjects).size !== subjects.length) {
    throw new EnablementError('PL-400', 'StreamConfig.subjects: listed twice');
  }
  const resolved: ResolvedStreamConfig = {
    name: parsed.name,
    subjects: Object.freeze(subjects),
    retention: parsed.retention ?? 'limits',
    discard: parsed.discard ?? 'new',
    maxMessages: parsed.maxMessages ?? DEFAULT_STREAM_LIMITS.maxMessages,
    maxBytes: parsed.maxBytes ?? DEFAULT_STREAM_LIMITS.maxBytes,
    maxAgeMs: parsed.maxAgeMs ?? DEFAULT_STREAM_LIMITS.maxAgeMs,
    maxMessageSize:
      parsed.maxMessageSize ?? Math.min(DEFAULT_STREAM_LIMITS.maxMessageSize, parsed.maxBytes ?? MIB),
    duplicateWindowMs: parsed.duplicateWindowMs ?? DEFAULT_STREAM_LIMITS.duplicateWindowMs,
  };
  if (resolved.maxMessageSize > resolved.maxBytes) {
    throw new EnablementError('PL-400', 'StreamConfig.maxMessageSize: larger than maxBytes');
  }
  return Object.freeze(resolved);
}

/** Validates a consumer configuration and fills in defaults (`PL-400` naming the field). */
export function resolveConsumerConfig(config: ConsumerConfig): ResolvedConsumerConfig {
  const parsed = decodeWire(consumerSchema, config, { contract: 'ConsumerConfig', code: 'PL-400' });
  const filterSubject = parsed.filterSubject ?? '>';
  assertFilter(filterSubject, 'ConsumerConfig.filterSubject');
  return Object.freeze({
    name: parsed.name,
    filterSubject,
    deliverPolicy: parsed.deliverPolicy ?? 'all',
    ackPolicy: 'explicit',
    ackWaitMs: parsed.ackWaitMs ?? DEFAULT_CONSUMER_SETTINGS.ackWaitMs,
    maxDeliver: parsed.maxDeliver ?? DEFAULT_CONSUMER_SETTINGS.maxDeliver,
    maxAckPending: parsed.maxAckPending ?? DEFAULT_CONSUMER_SETTINGS.maxAckPending,
  });
}

/** Two resolved configurations are the same (subjects compared as sets). */
export function sameConfig(
  a: ResolvedStreamConfig | ResolvedConsumerConfig,
  b: ResolvedStreamConfig | ResolvedConsumerConfig,
): boolean {
  const norm = (c: ResolvedStreamConfig | ResolvedConsumerConfig) =>
    JSON.stringify(
      Object.entries(c)
        .map(([k, v]) => [k, Array.isArray(v) ? [...v].sort() : v])
        .sort(([x], [y]) => String(x).localeCompare(String(y))),
    );
  return norm(a) === norm(b);
}

/** Checked publish input: the subject, a private copy of the payload, frozen headers, size. */
export interface CheckedPublish {
  /** Subject (literal). */
  readonly subject: string;
  /** A copy of the payload. */
  readonly data: Uint8Array;
  /** Frozen copy of the headers. */
  readonly headers: EventHeaders;
  /** Message id, if any. */
  readonly msgId: string | undefined;
  /** Bytes counted against stream limits: payload plus `name: value\r\n` per header. */
  readonly size: number;
}

const EMPTY_HEADERS: EventHeaders = Object.freeze({});

/**
 * Validates headers (`PL-400` naming the header): at most {@link EVENT_BUS_LIMITS}`.headers`
 * entries, token names, printable-ASCII values, no reserved prefix, no two names equal but for
 * case. Returns a frozen copy and its size in bytes.
 */
export function checkHeaders(
  headers: unknown,
  options: { allowReserved?: boolean } = {},
): { headers: EventHeaders; size: number } {
  if (headers === undefined) return { headers: EMPTY_HEADERS, size: 0 };
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new EnablementError('PL-400', 'headers: expected an object of name → value strings');
  }
  const entries = Object.entries(headers);
  if (entries.length > EVENT_BUS_LIMITS.headers) {
    throw new EnablementError('PL-400', `headers: more than ${EVENT_BUS_LIMITS.headers}`);
  }
  const seen = new Set<string>();
  let size = 0;
  for (const [name, value] of entries) {
    if (name.length > EVENT_BUS_LIMITS.headerNameLength || !HEADER_NAME.test(name)) {
      throw new EnablementError(
        'PL-400',
        `headers: name ${JSON.stringify(name.slice(0, 64))} is not a token of at most ${EVENT_BUS_LIMITS.headerNameLength} characters`,
      );
    }
    const lower = name.toLowerCase();
    if (!options.allowReserved && RESERVED_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
      throw new EnablementError(
        'PL-400',
        `headers.${name}: the prefixes Nats- and Creto-Dlq- are reserved (use options.msgId for Nats-Msg-Id)`,
      );
    }
    if (seen.has(lower))
      throw new EnablementError('PL-400', `headers.${name}: given twice (names ignore case)`);
    seen.add(lower);
    if (typeof value !== 'string') throw new EnablementError('PL-400', `headers.${name}: expected a string`);
    if (value.length > EVENT_BUS_LIMITS.headerValueLength || !HEADER_VALUE.test(value)) {
      throw new EnablementError(
        'PL-400',
        `headers.${name}: value must be printable ASCII (no CR/LF), at most ${EVENT_BUS_LIMITS.headerValueLength} characters`,
      );
    }
    size += name.length + value.length + 4;
  }
  return { headers: Object.freeze(Object.fromEntries(entries)) as EventHeaders, size };
}

/** Validates a `msgId` (`PL-400`): 1–256 printable ASCII characters. */
export function checkMsgId(msgId: unknown): string | undefined {
  if (msgId === undefined) return undefined;
  if (typeof msgId !== 'string' || msgId.length > EVENT_BUS_LIMITS.msgIdLength || !MSG_ID.test(msgId)) {
    throw new EnablementError(
      'PL-400',
      `options.msgId: expected 1-${EVENT_BUS_LIMITS.msgIdLength} printable ASCII characters`,
    );
  }
  return msgId;
}

/**
 * Validates everything a publish carries (`PL-400` naming the field) and copies the payload, so
 * a caller that reuses its buffer cannot change a stored message.
 */
export function checkPublish(
  subject: unknown,
  data: unknown,
  options: PublishOptions | undefined,
): CheckedPublish {
  assertSubject(subject, 'subject');
  if (!isBytes(data)) throw new EnablementError('PL-400', 'data: expected a Uint8Array');
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new EnablementError('PL-400', 'options: expected an object');
  }
  const msgId = checkMsgId(options?.msgId);
  const { headers, size } = checkHeaders(options?.headers);
  return { subject, data: data.slice(), headers, msgId, size: data.byteLength + size };
}

/** Throws `PL-400` unless `delayMs` is a finite delay in `[0, 1 day]`. */
export function checkDelay(delayMs: unknown, field: string): number {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > DAY_MS) {
    throw new EnablementError('PL-400', `${field}: expected a number of milliseconds in [0, ${DAY_MS}]`);
  }
  return delayMs;
}
