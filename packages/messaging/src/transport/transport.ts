import {
  type AgentKeyPair,
  type ConsensusTimestamp,
  concatBytes,
  EnablementError,
  type Uuid,
  utf8ToBytes,
} from '@creto/core';
import {
  decodeEnvelope,
  encodeEnvelope,
  type MessageEnvelope,
  type MessageEnvelopeWire,
} from '../envelope/index.js';

/** Domain-separation tag of {@link relayConnectProofBytes}. */
export const RELAY_CONNECT_DOMAIN = 'creto/messaging.relay-connect/v1';

/**
 * The bytes a principal signs (Ed25519, its NHI key) to open a relay connection:
 * `UTF-8(RELAY_CONNECT_DOMAIN) ‖ 0x00 ‖ challenge ‖ UTF-8(nhi)`. The challenge is fresh and
 * single-use, so a proof cannot be replayed; the tag keeps it from verifying as anything else
 * the key signs (which is UTF-8 JSON or hybrid-framed, never this prefix).
 */
export function relayConnectProofBytes(nhi: string, challenge: Uint8Array): Uint8Array {
  return concatBytes(utf8ToBytes(RELAY_CONNECT_DOMAIN), Uint8Array.of(0), challenge, utf8ToBytes(nhi));
}

/** What the relay did with an accepted envelope. */
export type SendStatus = 'delivered' | 'queued';

/** The relay's answer to a send. */
export interface SendResult {
  /** The message. */
  readonly messageId: Uuid;
  /**
   * `delivered`: the recipient was connected and took it. `queued`: the recipient is offline (or
   * its handler failed); the envelope waits in its queue until it connects or the TTL runs out
   * (then a `failed` receipt is published). Oversight maps `queued` to `OV-202`.
   */
  readonly status: SendStatus;
  /** Consensus time at which the relay accepted it. */
  readonly acceptedAt: ConsensusTimestamp;
}

/** Receives an envelope addressed to the connection's principal (wire shape, as from a network). */
export type RelayDeliveryHandler = (envelope: MessageEnvelopeWire) => Promise<void> | void;

/** The proof that opens a connection (see {@link relayConnectProofBytes}). */
export interface RelayConnectRequest {
  /** The principal connecting. */
  readonly nhi: string;
  /** The challenge the relay issued to it. */
  readonly challenge: Uint8Array;
  /** Ed25519 signature by the NHI's key over {@link relayConnectProofBytes}. */
  readonly signature: Uint8Array;
}

/**
 * The relay's side of the wire: the port a transport talks to. The relay implements it
 * in-process; a remote transport (WebSocket, HTTP, NATS) serves it over the network, which is why
 * every envelope crosses it in wire shape.
 */
export interface RelayEndpoint {
  /** A fresh single-use challenge for `nhi` to sign; `MS-400` for a malformed NHI. */
  challenge(nhi: string): Promise<Uint8Array>;
  /**
   * Opens an authenticated connection; `MS-001` when the proof does not verify or the challenge
   * is unknown, used or expired. Envelopes queued for the principal are then delivered to
   * `deliver` in order. A newer connection of the same principal replaces the older one.
   */
  connect(request: RelayConnectRequest, deliver: RelayDeliveryHandler): Promise<RelayConnection>;
}

/** An authenticated connection of one principal to the relay. */
export interface RelayConnection {
  /** The authenticated principal: envelopes it submits must name it as sender. */
  readonly nhi: string;
  /** Submits an envelope; see `MessagingRelay.submit` for the checks and errors. */
  submit(envelope: MessageEnvelopeWire): Promise<SendResult>;
  /** Tells the relay the principal read a message delivered to it (publishes a `read` receipt). */
  markRead(messageId: Uuid): Promise<void>;
  /** Closes the connection; later envelopes are queued. Idempotent. */
  close(): Promise<void>;
}

/**
 * What a messaging client uses to hand envelopes to a relay and receive its own: the client's
 * port. Implementations: {@link connectInProcessTransport}; remote ones wrap a network client.
 */
export interface MessageTransport {
  /** The principal this transport is authenticated as. */
  readonly nhi: string;
  /** Hands an envelope to the relay; resolves to `delivered` or `queued`. */
  send(envelope: MessageEnvelope): Promise<SendResult>;
  /** Reports that a received message was read. */
  markRead(messageId: Uuid): Promise<void>;
  /** Disconnects. Idempotent. */
  close(): Promise<void>;
}

/** Receives envelopes addressed to the transport's principal, decoded and validated. */
export type EnvelopeHandler = (envelope: MessageEnvelope) => Promise<void> | void;

/** Options of {@link connectInProcessTransport}. */
export interface InProcessTransportOptions {
  /** The relay (or anything serving the relay port in this process). */
  readonly relay: RelayEndpoint;
  /** The principal's key pair: signs the connection proof (its Ed25519 key). */
  readonly keyPair: AgentKeyPair;
  /**
   * Receives the principal's envelopes. When it throws, the envelope stays queued at the relay
   * and is offered again on the next connection (at-least-once delivery).
   */
  readonly onEnvelope: EnvelopeHandler;
}

/**
 * Connects to a relay in the same process. Envelopes cross in wire shape (encoded and decoded as
 * over a network), so the in-process path exercises the same codec as a remote one and never
 * shares buffers with the relay.
 */
export async function connectInProcessTransport(
  options: InProcessTransportOptions,
): Promise<MessageTransport> {
  const { relay, keyPair, onEnvelope } = options;
  if (typeof onEnvelope !== 'function') {
    throw new EnablementError('MS-400', 'onEnvelope: expected a function');
  }
  const nhi = keyPair.identity.nhi;
  const challenge = await relay.challenge(nhi);
  const signature = keyPair.sign(relayConnectProofBytes(nhi, challenge));
  const connection = await relay.connect({ nhi, challenge, signature }, (wire) =>
    onEnvelope(decodeEnvelope(structuredClone(wire))),
  );
  return Object.freeze({
    nhi,
    send: (envelope: MessageEnvelope) => connection.submit(structuredClone(encodeEnvelope(envelope))),
    markRead: (messageId: Uuid) => connection.markRead(messageId),
    close: () => connection.close(),
  });
}
