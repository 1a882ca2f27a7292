import {
  AgentKeyPair,
  bytesToUtf8,
  EnablementError,
  isNhi,
  type MessageSender,
  type MessageSendResult,
  newUuid,
} from '@creto/core';
import { BoundedLog, DEFAULT_MAX_RECORDED } from './recorder.js';

/** One message a {@link FakeMessageSender} was asked to send. */
export interface SentMessage {
  /** The id returned. */
  readonly messageId: string;
  /** Recipient NHI. */
  readonly recipient: string;
  /** The payload (a copy). */
  readonly payload: Uint8Array;
  /** The payload as UTF-8 text (`undefined` when it is not valid UTF-8). */
  readonly text: string | undefined;
  /** The payload parsed as JSON (`undefined` when it is not JSON). */
  readonly json: unknown;
  /** The TTL asked for. */
  readonly ttlMs: number | undefined;
  /** What the fake answered. */
  readonly status: 'delivered' | 'queued';
}

/** Options of {@link createFakeMessageSender}. */
export interface FakeMessageSenderOptions {
  /** The sender's NHI; default the NHI of a fixed classical test key. */
  readonly nhi?: string;
  /** What `send` answers: `delivered` (default) or `queued` (recipient offline). */
  readonly status?: 'delivered' | 'queued';
  /** Most messages kept (oldest forgotten first, counted in `dropped`); default 10 000. */
  readonly maxMessages?: number;
  /**
   * Refuse (`MS-400`) a recipient that is not an NHI, as the real client does; default `true`.
   * Turn off to use plain names such as `test:agent:approver` in a unit test.
   */
  readonly requireNhiRecipient?: boolean;
}

/** A {@link MessageSender} that records instead of encrypting. */
export interface FakeMessageSender extends MessageSender {
  /** Messages sent, in order. */
  readonly sent: readonly SentMessage[];
  /** Messages forgotten at the bound. */
  readonly dropped: number;
  /** The messages to one recipient. */
  sentTo(recipient: string): SentMessage[];
  /** Later sends answer this status. */
  setStatus(status: 'delivered' | 'queued'): void;
  /**
   * Later sends reject with `error` (e.g. `MS-403` not permitted, `MS-503` relay down) until
   * `recover()`; the message is not recorded.
   */
  fail(error: EnablementError): void;
  /** Sends succeed again. */
  recover(): void;
  /** Forgets the messages. */
  clear(): void;
}

let defaultNhi: string | undefined;

// A fixed classical key (cheap to derive): the same default sender NHI in every run.
function fixedNhi(): string {
  defaultNhi ??= AgentKeyPair.fromSeed(new Uint8Array(32).fill(0x6d)).identity.nhi;
  return defaultNhi;
}

function decodeText(payload: Uint8Array): string | undefined {
  try {
    return bytesToUtf8(payload);
  } catch {
    return undefined;
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A recording fake of core's `MessageSender` port (what Oversight's messaging notifier and the
 * composition root send end-to-end messages through): no keys, no relay; it records each message
 * with its payload decoded as text and JSON, and answers `delivered`, `queued` or an error.
 *
 * @example
 * ```ts
 * const sender = createFakeMessageSender({ status: 'queued' });
 * const notifier = createMessagingNotifier({ sender, clock });
 * await notifier.notify(notification); // a `queued` receipt
 * expect(sender.sentTo(approver.nhi)[0]?.text).toContain('Approval Required');
 * ```
 */
export function createFakeMessageSender(options: FakeMessageSenderOptions = {}): FakeMessageSender {
  const nhi = options.nhi ?? fixedNhi();
  if (!isNhi(nhi)) throw new EnablementError('PL-400', 'nhi: expected an NHI string');
  const sent = new BoundedLog<SentMessage>(options.maxMessages ?? DEFAULT_MAX_RECORDED, 'maxMessages');
  const requireNhi = options.requireNhiRecipient ?? true;
  let status = options.status ?? 'delivered';
  let failure: EnablementError | undefined;
  const setStatus = (next: 'delivered' | 'queued') => {
    if (next !== 'delivered' && next !== 'queued') {
      throw new EnablementError('PL-400', 'status: expected delivered or queued');
    }
    status = next;
  };
  setStatus(status);
  return {
    nhi,
    get sent() {
      return sent.toArray();
    },
    get dropped() {
      return sent.dropped;
    },
    async send(recipient: string, payload: Uint8Array, sendOptions?: { readonly ttlMs?: number }) {
      if (typeof recipient !== 'string' || recipient.length === 0 || (requireNhi && !isNhi(recipient))) {
        throw new EnablementError('MS-400', 'send: recipient must be an NHI');
      }
      if (!(payload instanceof Uint8Array))
        throw new EnablementError('MS-400', 'send: payload must be bytes');
      if (failure !== undefined) throw failure;
      const copy = payload.slice();
      const text = decodeText(copy);
      const result: MessageSendResult = { messageId: newUuid(), status };
      sent.push(
        Object.freeze({
          messageId: result.messageId,
          recipient,
          payload: copy,
          text,
          json: parseJson(text),
          ttlMs: sendOptions?.ttlMs,
          status,
        }),
      );
      return result;
    },
    sentTo: (recipient) => sent.items.filter((m) => m.recipient === recipient),
    setStatus,
    fail(error: EnablementError) {
      failure = error;
    },
    recover() {
      failure = undefined;
    },
    clear() {
      sent.clear();
    },
  };
}
