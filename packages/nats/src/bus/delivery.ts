import {
  type ConsensusTimestamp,
  type DeliveryFailure,
  EnablementError,
  type EventHeaders,
  type EventMessage,
  MAX_DEAD_LETTER_REASONS,
  MAX_NAK_REASON_LENGTH,
} from '@creto/core';
import type { JsMsg } from '@nats-io/jetstream';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node';

const DAY_MS = 86_400_000;

/** What the bus remembers about a message it delivered, for its dead-letter history. */
export interface DeliveryHistory {
  /** Highest delivery count seen by this bus (answers from older deliveries are stale). */
  latest: number;
  /** When this bus first delivered it (Unix ns, bus clock). */
  readonly firstDeliveredAt: ConsensusTimestamp;
  /** When this bus last delivered it. */
  lastDeliveredAt: ConsensusTimestamp;
  /** The most recent failures, oldest first (at most {@link MAX_DEAD_LETTER_REASONS}). */
  readonly failures: DeliveryFailure[];
}

/** Records a failure of delivery `delivery` unless one is already recorded for it. */
export function recordFailure(history: DeliveryHistory, delivery: number, reason: string): void {
  if (history.failures.some((f) => f.delivery === delivery)) return;
  history.failures.push({ delivery, reason });
  history.failures.sort((a, b) => a.delivery - b.delivery);
  while (history.failures.length > MAX_DEAD_LETTER_REASONS) history.failures.shift();
}

/** Header names the broker mapping owns (`Nats-Msg-Id`, …): never shown to handlers as headers. */
const isBrokerHeader = (name: string): boolean => name.toLowerCase().startsWith('nats-');

/**
 * The port's headers of a NATS message: every header but the broker's own (`Nats-*`); a header
 * given several times (possible only from foreign publishers) keeps its values joined by `, `,
 * as HTTP lists are (RFC 9110 §5.3).
 */
export function portHeaders(headers: MsgHdrs | undefined): EventHeaders {
  const out: Record<string, string> = {};
  if (headers === undefined) return Object.freeze(out);
  for (const [name, values] of headers) {
    if (!isBrokerHeader(name)) out[name] = values.join(', ');
  }
  return Object.freeze(out);
}

/** The `Nats-Msg-Id` of a NATS message, if any. */
export function msgIdOf(headers: MsgHdrs | undefined): string | undefined {
  const id = headers?.get('Nats-Msg-Id');
  return id === undefined || id === '' ? undefined : id;
}

/** NATS headers carrying `headers` (already validated by the port's rules). */
export function toNatsHeaders(headers: EventHeaders | undefined): MsgHdrs | undefined {
  if (headers === undefined) return undefined;
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const out = natsHeaders();
  for (const [name, value] of entries) out.set(name, value);
  return out;
}

/** A `nak`/`term` reason as kept in the history: at most {@link MAX_NAK_REASON_LENGTH} characters. */
export function cutReason(reason: unknown, fallback: string): string {
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
 * What a throwing handler leaves in the dead-letter history, as the in-process bus writes it: an
 * `EnablementError`'s code and message (SDK text), or only the name of any other error, whose
 * text may hold secrets.
 */
export function handlerFailure(error: unknown): string {
  if (EnablementError.is(error)) return `handler threw ${error.code}: ${error.message}`;
  if (error instanceof Error) return `handler threw ${error.name}`;
  return `handler threw a ${typeof error}`;
}

/** Throws `PL-400` unless `delayMs` is a finite delay in `[0, 1 day]` (the port's nak bound). */
export function checkNakDelay(delayMs: unknown): number {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > DAY_MS) {
    throw new EnablementError('PL-400', `nak delayMs: expected a number of milliseconds in [0, ${DAY_MS}]`);
  }
  return delayMs;
}

/** What a delivery's answers do; implemented by the bus for one subscription. */
export interface DeliveryAnswers {
  /** `ack` or `term` went to the server: forget the message. */
  settled(seq: number): void;
  /**
   * A failed delivery (nak or handler error) that was the last one allowed: dead-letter it, then
   * `term` it through `message`.
   */
  exhausted(message: JsMsg, history: DeliveryHistory): void;
  /** The consumer's `maxDeliver` (`-1`: unlimited). */
  readonly maxDeliver: number;
}

/**
 * A delivered message: the port's `EventMessage` over a JetStream message. Only the first
 * answer counts; `nak` and `inProgress` from a delivery this bus has since seen redelivered are
 * ignored (JetStream would act on them), while `ack` and `term` from an older delivery still
 * settle the message, as JetStream acks name the stream sequence.
 */
export class NatsDelivery implements EventMessage {
  readonly stream: string;
  readonly consumer: string;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: EventHeaders;
  readonly msgId: string | undefined;
  readonly seq: number;
  readonly deliveryCount: number;
  readonly timestamp: ConsensusTimestamp;
  readonly #message: JsMsg;
  readonly #history: DeliveryHistory;
  readonly #answers: DeliveryAnswers;
  #answered = false;

  constructor(
    stream: string,
    consumer: string,
    message: JsMsg,
    history: DeliveryHistory,
    answers: DeliveryAnswers,
  ) {
    this.stream = stream;
    this.consumer = consumer;
    this.subject = message.subject;
    // A private copy: the client's buffer may be reused, and a handler may mutate its copy.
    this.data = message.data.slice();
    this.headers = portHeaders(message.headers);
    this.msgId = msgIdOf(message.headers);
    this.seq = message.seq;
    this.deliveryCount = message.info.deliveryCount;
    this.timestamp = message.timestampNanos;
    this.#message = message;
    this.#history = history;
    this.#answers = answers;
  }

  #claim(): boolean {
    if (this.#answered) return false;
    this.#answered = true;
    return true;
  }

  /** A newer delivery of the same message reached this bus. */
  #stale(): boolean {
    return this.#history.latest > this.deliveryCount;
  }

  ack(): void {
    if (!this.#claim()) return;
    this.#message.ack();
    this.#answers.settled(this.seq);
  }

  term(_reason?: string): void {
    if (!this.#claim()) return;
    // The reason stays local: servers before 2.11 ignore it, and it is caller text.
    this.#message.term();
    this.#answers.settled(this.seq);
  }

  nak(delayMs?: number, reason?: string): void {
    const delay = delayMs === undefined ? 0 : checkNakDelay(delayMs);
    if (this.#claim()) this.#fail(cutReason(reason, 'nak'), delay);
  }

  inProgress(): void {
    if (!this.#answered && !this.#stale()) this.#message.working();
  }

  /** The handler threw or rejected: a nak with the failure as reason, unless already answered. */
  handlerFailed(error: unknown): void {
    if (this.#claim()) this.#fail(handlerFailure(error), 0);
  }

  #fail(reason: string, delayMs: number): void {
    if (this.#stale()) return;
    recordFailure(this.#history, this.deliveryCount, reason);
    const { maxDeliver } = this.#answers;
    if (maxDeliver !== -1 && this.deliveryCount >= maxDeliver) {
      this.#answers.exhausted(this.#message, this.#history);
    } else if (delayMs > 0) {
      // JetStream takes whole milliseconds here; a positive delay never rounds to "at once".
      this.#message.nak(Math.max(1, Math.round(delayMs)));
    } else {
      this.#message.nak();
    }
  }
}
