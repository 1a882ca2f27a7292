import {
  type AgentKeyPair,
  base64urlToBytes,
  bytesToUtf8,
  type Clock,
  type JsonValue,
  type NhiClient,
  type Notification,
} from '@creto/core';
import type {
  MessageEnvelopeWire,
  MessagingClient,
  ReceivedMessage,
  RelayDeliveryHandler,
  RelayEndpoint,
} from '@creto/messaging';
import { BoundedLog } from '../fakes/recorder.js';
import type { TestMessage } from './types.js';

/** The parts of `@creto/messaging` and `@creto/oversight` a connection needs (loaded lazily). */
export interface MessagingModules {
  readonly messaging: typeof import('@creto/messaging');
  readonly oversight: Pick<typeof import('@creto/oversight'), 'decodeNotificationPayload'>;
}

/** A test agent connected to the relay, with what it received. */
export interface AgentConnection {
  /** Its client. */
  readonly client: MessagingClient;
  /** Received messages, oldest first (bounded). */
  readonly messages: BoundedLog<TestMessage>;
  /** Message ids already returned by `waitForMessage`. */
  readonly consumed: Set<string>;
  /** Closes the client. */
  close(): Promise<void>;
}

/** One-time prekeys a connected test agent publishes (the client's default is 20). */
export const TEST_ONE_TIME_PREKEYS = 4;

/** True when `needle` occurs in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return false;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

function textOf(bytes: Uint8Array): string | undefined {
  try {
    return bytesToUtf8(bytes);
  } catch {
    return undefined;
  }
}

function jsonOf(text: string | undefined): JsonValue | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
}

/** Options of {@link connectTestAgent}. */
export interface ConnectTestAgentOptions {
  /** The agent (registered in NHI). */
  readonly key: AgentKeyPair;
  /** The layer's relay. */
  readonly relay: RelayEndpoint;
  /** NHI (prekey directory). */
  readonly nhi: NhiClient;
  /** The environment clock. */
  readonly clock: Clock;
  /** Lazily loaded modules. */
  readonly modules: MessagingModules;
  /** Bound of the message log and of envelopes remembered for pairing. */
  readonly maxRecorded: number;
  /** Names an NHI for `senderName`. */
  readonly nameOf: (nhi: string) => string | undefined;
  /** Told about each message as it is recorded. */
  readonly onMessage?: (message: TestMessage) => void;
}

/**
 * Connects a test agent through a recording view of the relay port: every envelope the relay
 * hands to the agent is kept in wire shape, so each decrypted message can be paired with exactly
 * what the relay carried (and checked for plaintext leaks), and the key agreement of the session
 * (`PQXDH` or the `X3DH` fallback) is read from the handshake envelope's public header.
 */
export async function connectTestAgent(options: ConnectTestAgentOptions): Promise<AgentConnection> {
  const { key, relay, modules, maxRecorded, nameOf } = options;
  const { messaging, oversight } = modules;
  const envelopes = new Map<string, MessageEnvelopeWire>();
  const sessionProtocol = new Map<string, 'PQXDH' | 'X3DH'>();
  const messages = new BoundedLog<TestMessage>(maxRecorded, 'maxRecorded');

  const recordEnvelope = (wire: MessageEnvelopeWire) => {
    envelopes.set(wire.message_id, structuredClone(wire));
    // Bounded: forget the oldest unpaired envelope (a message that never decrypted).
    if (envelopes.size > maxRecorded) {
      const oldest = envelopes.keys().next().value;
      if (oldest !== undefined) envelopes.delete(oldest);
    }
  };

  const endpoint: RelayEndpoint = {
    challenge: (nhi) => relay.challenge(nhi),
    connect: (request, deliver: RelayDeliveryHandler) =>
      relay.connect(request, (wire) => {
        recordEnvelope(wire);
        return deliver(wire);
      }),
  };

  const toTestMessage = (m: ReceivedMessage): TestMessage | undefined => {
    const wire = envelopes.get(m.messageId);
    if (wire === undefined) return undefined;
    envelopes.delete(m.messageId);
    const ciphertext = base64urlToBytes(wire.ciphertext);
    let protocol = sessionProtocol.get(m.sender);
    if (wire.kind === 'handshake') {
      try {
        protocol = messaging.decodeSessionMessage(ciphertext).initial?.protocol;
      } catch {
        protocol = undefined;
      }
      if (protocol !== undefined) sessionProtocol.set(m.sender, protocol);
    }
    const text = textOf(m.payload);
    const json = jsonOf(text);
    let notification: Notification | undefined;
    if (
      typeof json === 'object' &&
      json !== null &&
      !Array.isArray(json) &&
      json.type === 'creto.notification'
    ) {
      try {
        notification = oversight.decodeNotificationPayload(m.payload);
      } catch {
        notification = undefined;
      }
    }
    const wireText = JSON.stringify(wire);
    const relaySawPlaintext =
      containsBytes(ciphertext, m.payload) ||
      (text !== undefined && text.length > 0 && wireText.includes(text));
    return Object.freeze({
      messageId: m.messageId,
      sender: m.sender,
      senderName: nameOf(m.sender),
      recipient: key.identity.nhi,
      payload: m.payload,
      text,
      json,
      notification,
      envelopeKind: wire.kind,
      protocol,
      envelope: wire,
      ciphertextBytes: ciphertext.length,
      relaySawPlaintext,
      sentAt: m.sentAt,
    });
  };

  const client = await messaging.createMessagingClient({
    identity: key,
    nhi: options.nhi,
    transport: (onEnvelope) =>
      messaging.connectInProcessTransport({ relay: endpoint, keyPair: key, onEnvelope }),
    sessionStore: messaging.createInMemorySessionStore(),
    clock: options.clock,
    // Each one-time prekey is signed with ML-DSA-65: a few keep connecting cheap (~70 ms, not 350).
    oneTimePrekeys: TEST_ONE_TIME_PREKEYS,
    replenishBelow: 2,
  });
  client.onMessage((m) => {
    const message = toTestMessage(m);
    if (message === undefined) return;
    messages.push(message);
    options.onMessage?.(message);
  });
  return Object.freeze({
    client,
    messages,
    consumed: new Set<string>(),
    close: () => client.close(),
  });
}
