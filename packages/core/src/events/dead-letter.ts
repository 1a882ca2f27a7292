import { EnablementError } from '../errors/enablement-error.js';
import type { ConsensusTimestamp } from '../time/clock.js';
import type { EventHeaders } from './types.js';

/**
 * Name of the stream that stores dead letters. Every `EventBus` implementation provides it,
 * capturing {@link DEAD_LETTER_SUBJECTS}; read it with an ordinary durable consumer.
 */
export const DEAD_LETTER_STREAM = 'DLQ';

/** First token of every dead-letter subject. */
export const DEAD_LETTER_PREFIX = '$DLQ';

/** The subjects the dead-letter stream captures: `$DLQ.>`. */
export const DEAD_LETTER_SUBJECTS = `${DEAD_LETTER_PREFIX}.>`;

/** How many of the most recent nak reasons a dead letter carries. */
export const MAX_DEAD_LETTER_REASONS = 5;

/**
 * Headers a dead letter carries on top of the original message's headers. The payload is the
 * original payload, unchanged, so the message can be inspected and republished as it was.
 */
export const DEAD_LETTER_HEADERS = Object.freeze({
  /** Stream that held the original message. */
  stream: 'Creto-Dlq-Stream',
  /** Durable consumer that gave up on it. */
  consumer: 'Creto-Dlq-Consumer',
  /** Subject it was published on. */
  subject: 'Creto-Dlq-Subject',
  /** Its stream sequence, decimal. */
  seq: 'Creto-Dlq-Seq',
  /** Its `msgId`, when it had one. */
  msgId: 'Creto-Dlq-Msg-Id',
  /** When the stream stored it: Unix ns, decimal. */
  publishedAt: 'Creto-Dlq-Published-At',
  /** How many times it was delivered, decimal. */
  deliveries: 'Creto-Dlq-Deliveries',
  /** First delivery: Unix ns, decimal. */
  firstDeliveryAt: 'Creto-Dlq-First-Delivery-At',
  /** Last delivery: Unix ns, decimal. */
  lastDeliveryAt: 'Creto-Dlq-Last-Delivery-At',
  /**
   * The last {@link MAX_DEAD_LETTER_REASONS} failures, oldest first, as a JSON array of
   * `{"delivery": n, "reason": "…"}` with non-ASCII characters `\u`-escaped.
   */
  reasons: 'Creto-Dlq-Reasons',
});

/** One recorded failure of a delivery. */
export interface DeliveryFailure {
  /** Which delivery failed (1 = first). */
  readonly delivery: number;
  /** Why: the nak/term reason, `ack wait expired`, or what the handler threw. */
  readonly reason: string;
}

/** What a dead letter says about the message it carries (see {@link parseDeadLetter}). */
export interface DeadLetterInfo {
  /** Stream that held the original. */
  readonly stream: string;
  /** Consumer that gave up on it. */
  readonly consumer: string;
  /** Original subject. */
  readonly subject: string;
  /** Original stream sequence. */
  readonly seq: number;
  /** Original `msgId`, if any. */
  readonly msgId: string | undefined;
  /** When the original was stored (Unix ns). */
  readonly publishedAt: ConsensusTimestamp;
  /** Deliveries made. */
  readonly deliveries: number;
  /** First delivery (Unix ns). */
  readonly firstDeliveryAt: ConsensusTimestamp;
  /** Last delivery (Unix ns). */
  readonly lastDeliveryAt: ConsensusTimestamp;
  /** The most recent failures, oldest first. */
  readonly reasons: readonly DeliveryFailure[];
}

/** The dead-letter subject of a consumer: `$DLQ.<stream>.<consumer>`. */
export function deadLetterSubject(stream: string, consumer: string): string {
  return `${DEAD_LETTER_PREFIX}.${stream}.${consumer}`;
}

/** JSON with every character outside printable ASCII escaped, so it is a valid header value. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// Longest escaped reason in the reasons header: five of them (plus JSON framing) stay under the
// 4096-character header value limit, whatever characters the reasons hold.
const MAX_ESCAPED_REASON = 700;

/** Cuts `reason` (at code-point boundaries) until its escaped JSON fits the header budget. */
function fitReason(reason: string): string {
  let points = Array.from(reason);
  while (points.length > 0 && asciiJson(points.join('')).length > MAX_ESCAPED_REASON) {
    points = points.slice(0, Math.floor(points.length * 0.8));
  }
  return points.length === Array.from(reason).length ? reason : `${points.join('')}…`;
}

/**
 * The headers of a dead letter: the original's headers plus {@link DEAD_LETTER_HEADERS}. Used by
 * bus implementations, so that every one writes the same format.
 */
export function deadLetterHeaders(info: DeadLetterInfo, original: EventHeaders): EventHeaders {
  const h = DEAD_LETTER_HEADERS;
  const out: Record<string, string> = { ...original };
  out[h.stream] = info.stream;
  out[h.consumer] = info.consumer;
  out[h.subject] = info.subject;
  out[h.seq] = String(info.seq);
  if (info.msgId !== undefined) out[h.msgId] = info.msgId;
  out[h.publishedAt] = info.publishedAt.toString();
  out[h.deliveries] = String(info.deliveries);
  out[h.firstDeliveryAt] = info.firstDeliveryAt.toString();
  out[h.lastDeliveryAt] = info.lastDeliveryAt.toString();
  out[h.reasons] = asciiJson(
    info.reasons
      .slice(-MAX_DEAD_LETTER_REASONS)
      .map((f) => ({ delivery: f.delivery, reason: fitReason(f.reason) })),
  );
  return Object.freeze(out);
}

/**
 * The `msgId` under which a dead letter is stored, so a retried dead-lettering stores it once:
 * `dlq:<stream>:<consumer>:<incarnation>:<seq>`. `incarnation` tells apart consumers (and streams)
 * deleted and created again under the same name, whose sequences and deliveries start over: the
 * in-process bus uses a counter of consumers created, a broker adapter the consumer's creation
 * time.
 */
export function deadLetterMsgId(stream: string, consumer: string, incarnation: string, seq: number): string {
  return `dlq:${stream}:${consumer}:${incarnation}:${seq}`;
}

function bad(what: string): EnablementError {
  return new EnablementError('PL-400', `not a dead letter: ${what}`);
}

function header(headers: EventHeaders, name: string): string {
  const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (value === undefined) throw bad(`header ${name} missing`);
  return value;
}

function decimal(headers: EventHeaders, name: string): string {
  const value = header(headers, name);
  if (!/^(0|[1-9][0-9]{0,18})$/.test(value)) throw bad(`header ${name} is not a decimal integer`);
  return value;
}

function safeInt(headers: EventHeaders, name: string): number {
  const n = Number(decimal(headers, name));
  if (!Number.isSafeInteger(n)) throw bad(`header ${name} is out of range`);
  return n;
}

/**
 * Reads the delivery history of a dead letter from its headers; `PL-400` when a header is
 * missing or malformed.
 *
 * @example
 * ```ts
 * await bus.subscribe(DEAD_LETTER_STREAM, 'ops-review', (m) => {
 *   const { stream, seq, deliveries, reasons } = parseDeadLetter(m.headers);
 *   // … alert, then m.ack()
 * });
 * ```
 */
export function parseDeadLetter(headers: EventHeaders): DeadLetterInfo {
  const h = DEAD_LETTER_HEADERS;
  let reasons: unknown;
  try {
    reasons = JSON.parse(header(headers, h.reasons));
  } catch (error) {
    if (EnablementError.is(error)) throw error;
    throw bad(`header ${h.reasons} is not JSON`);
  }
  if (!Array.isArray(reasons) || reasons.length > MAX_DEAD_LETTER_REASONS) {
    throw bad(`header ${h.reasons} is not an array of at most ${MAX_DEAD_LETTER_REASONS}`);
  }
  const failures: DeliveryFailure[] = reasons.map((r: unknown) => {
    const o = r as Record<string, unknown>;
    if (
      typeof r !== 'object' ||
      r === null ||
      !Number.isSafeInteger(o.delivery) ||
      typeof o.reason !== 'string'
    ) {
      throw bad(`header ${h.reasons} has an entry that is not {delivery, reason}`);
    }
    return Object.freeze({ delivery: o.delivery as number, reason: o.reason });
  });
  const msgId = Object.hasOwn(headers, h.msgId) ? headers[h.msgId] : undefined;
  return Object.freeze({
    stream: header(headers, h.stream),
    consumer: header(headers, h.consumer),
    subject: header(headers, h.subject),
    seq: safeInt(headers, h.seq),
    msgId,
    publishedAt: BigInt(decimal(headers, h.publishedAt)),
    deliveries: safeInt(headers, h.deliveries),
    firstDeliveryAt: BigInt(decimal(headers, h.firstDeliveryAt)),
    lastDeliveryAt: BigInt(decimal(headers, h.lastDeliveryAt)),
    reasons: Object.freeze(failures),
  });
}
