import {
  AgentIdentity,
  type AgentKeyPair,
  bytesToBase64url,
  bytesToUtf8,
  type Clock,
  type CryptoProvider,
  constantTimeEqual,
  EnablementError,
  type KeyPair,
  type NhiClient,
  newUuid,
  nobleCryptoProvider,
  type Uuid,
  utf8ToBytes,
  zeroize,
} from '@creto/core';
import {
  createEnvelopeVerifier,
  createReplayGuard,
  DEFAULT_ENVELOPE_SIGNATURE_POLICY,
  DEFAULT_ENVELOPE_TTL_MS,
  type EnvelopeSignaturePolicy,
  envelopeRequiresSignature,
  type MessageEnvelope,
  sealEnvelope,
} from '../envelope/index.js';
import { DoubleRatchet, type DoubleRatchetOptions } from '../protocol/double-ratchet.js';
import { X3DH } from '../protocol/pqxdh.js';
import { KeyedMutex } from '../session/mutex.js';
import { type Session, SessionRecord } from '../session/record.js';
import type { SessionStore } from '../session/store.js';
import { decodeSessionMessage, encodeSessionMessage } from '../session/wire.js';
import type { EnvelopeHandler, MessageTransport, SendResult } from '../transport/index.js';
import { PrekeySecrets } from './prekeys.js';

/** A decrypted message handed to the application. */
export interface ReceivedMessage {
  /** Envelope message id. */
  readonly messageId: Uuid;
  /** Sender NHI (authenticated by the session's AEAD and, when signed, the envelope signature). */
  readonly sender: string;
  /** The plaintext payload. */
  readonly payload: Uint8Array;
  /** Sender's consensus timestamp, Unix ns. */
  readonly sentAt: bigint;
}

/** Options of {@link createMessagingClient}. */
export interface MessagingClientOptions {
  /** This agent's key pair (signs prekeys and envelopes; hybrid signing needs `postQuantum`). */
  readonly identity: AgentKeyPair;
  /**
   * The X25519 form of `identity`'s Ed25519 key, for the PQXDH identity DH (see README: we use
   * the birational map, so nothing extra is published). Default: `identity.x25519KeyPair()`
   * (the client keeps its own copy and wipes the derived one). When given (e.g. from an HSM-held
   * seed), it is checked against `identity` (`MS-400`); the caller keeps ownership of it.
   */
  readonly identityDhKey?: KeyPair;
  /** NHI service: prekey directory and sender verification. */
  readonly nhi: NhiClient;
  /**
   * The relay transport, or a function that connects one given the client's envelope handler
   * (e.g. `(onEnvelope) => connectInProcessTransport({ relay, keyPair, onEnvelope })`).
   */
  readonly transport: MessageTransport | ((onEnvelope: EnvelopeHandler) => Promise<MessageTransport>);
  /** Where sessions and prekey secrets persist. */
  readonly sessionStore: SessionStore;
  /** Time source (envelope timestamps and TTL checks). */
  readonly clock: Clock;
  /** Crypto implementation; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** Envelope signature policy; default `every-envelope` (handshakes are always signed). */
  readonly signaturePolicy?: EnvelopeSignaturePolicy;
  /** Accept / initiate X3DH without a KEM step; default `false` (`MS-403`). */
  readonly allowX3dhFallback?: boolean;
  /** One-time prekeys of each kind to publish, and to top up to; default 20 (max 100). */
  readonly oneTimePrekeys?: number;
  /** Replenish when fewer than this many one-time prekeys remain; default 5. */
  readonly replenishBelow?: number;
  /** Ratchet options (AEAD, skip bounds). */
  readonly ratchet?: DoubleRatchetOptions;
  /** Messages buffered for the async iterator; beyond it a delivery fails `MS-413` (the relay redelivers). Default 1,000. */
  readonly maxBufferedMessages?: number;
}

/** Options of {@link MessagingClient.send}. */
export interface SendOptions {
  /** Envelope lifetime, ms; default 7 days, at most 30 days. */
  readonly ttlMs?: number;
}

/** An end-to-end encrypted messaging client (see {@link createMessagingClient}). */
export interface MessagingClient {
  /** This client's NHI. */
  readonly nhi: string;
  /** Encrypts `payload` for `recipient` (opening a PQXDH session when needed) and hands it to the relay; resolves to the message id. */
  send(recipient: string, payload: Uint8Array, options?: SendOptions): Promise<Uuid>;
  /**
   * Like {@link MessagingClient.send}, and also says whether the relay `delivered` the message to
   * a connected recipient or `queued` it for an offline one (Oversight maps `queued` to `OV-202`).
   * The shape satisfies core's `MessageSender` port.
   */
  sendMessage(recipient: string, payload: Uint8Array, options?: SendOptions): Promise<SendResult>;
  /** Registers a callback for each decrypted message; returns an unsubscribe function. */
  onMessage(callback: (message: ReceivedMessage) => void): () => void;
  /** Decrypted messages as an async iterator (ends on {@link MessagingClient.close}). */
  messages(): AsyncIterableIterator<ReceivedMessage>;
  /** Sends a read receipt for a received message (through the relay). */
  markRead(messageId: Uuid): Promise<void>;
  /** Processes one incoming envelope (wired to the transport automatically when `transport` is a connect function). */
  receive(envelope: MessageEnvelope): Promise<ReceivedMessage>;
  /** Publishes new one-time prekeys when the directory runs low; resolves to whether it did. */
  replenishPrekeys(): Promise<boolean>;
  /** Closes the transport and ends iterators. */
  close(): Promise<void>;
}

const PREKEYS_KEY = 'prekeys';
const sessionKey = (peer: string) => `session:${peer}`;
const INNER_VERSION = 1;

/** Inner plaintext: `0x01 ‖ UTF-8(message id, 36) ‖ timestamp (u64 BE) ‖ ttl (u32 BE) ‖ payload`, so a relay cannot re-wrap a ciphertext in another envelope. */
function encodeInner(messageId: string, timestamp: bigint, ttlMs: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 36 + 8 + 4 + payload.length);
  out[0] = INNER_VERSION;
  out.set(utf8ToBytes(messageId), 1);
  const view = new DataView(out.buffer);
  view.setBigUint64(37, timestamp);
  view.setUint32(45, ttlMs);
  out.set(payload, 49);
  return out;
}

function decodeInner(bytes: Uint8Array, envelope: MessageEnvelope): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (
    bytes.length < 49 ||
    bytes[0] !== INNER_VERSION ||
    bytesToUtf8(bytes.subarray(1, 37)) !== envelope.messageId ||
    view.getBigUint64(37) !== envelope.timestamp ||
    view.getUint32(45) !== envelope.ttlMs
  ) {
    throw new EnablementError(
      'MS-400',
      `envelope ${envelope.messageId}: does not match the encrypted message (re-wrapped)`,
    );
  }
  return bytes.slice(49);
}

/**
 * Creates a messaging client: PQXDH session setup against the NHI prekey directory, the Double
 * Ratchet per peer, envelopes (hybrid-signed per `signaturePolicy`), persistence of every
 * session after each operation (so a restarted process continues), and a per-peer mutex so the
 * ratchet never forks. Publishes its prekey bundle on first start.
 */
export async function createMessagingClient(options: MessagingClientOptions): Promise<MessagingClient> {
  const provider = options.provider ?? nobleCryptoProvider;
  const { identity, nhi, sessionStore, clock } = options;
  const me = identity.identity.nhi;
  const policy = options.signaturePolicy ?? DEFAULT_ENVELOPE_SIGNATURE_POLICY;
  const allowX3dhFallback = options.allowX3dhFallback === true;
  const oneTimeTarget = options.oneTimePrekeys ?? 20;
  const replenishBelow = options.replenishBelow ?? 5;
  const maxBuffered = options.maxBufferedMessages ?? 1000;
  if (!Number.isInteger(oneTimeTarget) || oneTimeTarget < 0 || oneTimeTarget > 100) {
    throw new EnablementError('MS-400', 'oneTimePrekeys: expected an integer in [0, 100]');
  }
  const derived = options.identityDhKey === undefined ? identity.x25519KeyPair() : undefined;
  const idKey = derived ?? options.identityDhKey;
  let identityDhKey: KeyPair;
  try {
    if (
      !(idKey?.publicKey instanceof Uint8Array) ||
      !(idKey.secretKey instanceof Uint8Array) ||
      !constantTimeEqual(provider.x25519.publicKey(idKey.secretKey), identity.identity.x25519PublicKey())
    ) {
      throw new EnablementError('MS-400', 'identityDhKey: is not the X25519 form of the identity key');
    }
    identityDhKey = {
      publicKey: provider.x25519.publicKey(idKey.secretKey),
      secretKey: idKey.secretKey.slice(),
    };
  } finally {
    if (derived !== undefined) zeroize(derived.secretKey);
  }

  const mutex = new KeyedMutex();
  const verifier = createEnvelopeVerifier({
    nhi,
    clock,
    replay: createReplayGuard({ clock }),
    policy,
    recipientNhi: me,
  });
  const callbacks = new Set<(message: ReceivedMessage) => void>();
  const buffer: ReceivedMessage[] = [];
  const waiters: ((result: IteratorResult<ReceivedMessage>) => void)[] = [];
  let closed = false;

  // ---- prekeys --------------------------------------------------------------------------
  const loadPrekeys = async (): Promise<PrekeySecrets> => {
    const bytes = await sessionStore.get(PREKEYS_KEY);
    return bytes === undefined ? PrekeySecrets.empty() : PrekeySecrets.deserialize(bytes);
  };
  const publish = async (full: boolean, count: number) => {
    const secrets = await loadPrekeys();
    const upload = secrets.generate(provider, identity, full || secrets.isEmpty, count);
    // Secrets first: a crash after the store write but before publishing wastes ids, never keys.
    await sessionStore.set(PREKEYS_KEY, secrets.serialize());
    await nhi.publishPrekeys(me, upload);
  };
  const replenishPrekeys = async (): Promise<boolean> =>
    mutex.run(PREKEYS_KEY, async () => {
      const counts = await nhi.prekeyCounts(me);
      if (!counts.hasSignedPrekey || !counts.hasLastResortKemPrekey) {
        await publish(true, oneTimeTarget);
        return true;
      }
      const low = Math.min(counts.oneTimePrekeys, counts.oneTimeKemPrekeys);
      if (low >= replenishBelow) return false;
      await publish(false, oneTimeTarget - low);
      return true;
    });
  await replenishPrekeys();

  // ---- sessions -------------------------------------------------------------------------
  const loadRecord = async (peer: string): Promise<SessionRecord> => {
    const bytes = await sessionStore.get(sessionKey(peer));
    return bytes === undefined ? new SessionRecord(peer) : SessionRecord.deserialize(provider, bytes, peer);
  };
  const saveRecord = (record: SessionRecord) => sessionStore.set(sessionKey(record.peer), record.serialize());

  const deliver = (message: ReceivedMessage) => {
    for (const callback of callbacks) {
      try {
        callback(message);
      } catch {
        // a failing callback must not stop delivery to the others
      }
    }
    const waiter = waiters.shift();
    if (waiter) waiter({ value: message, done: false });
    else buffer.push(message);
  };

  // ---- transport ------------------------------------------------------------------------
  let transport: MessageTransport;
  const onEnvelope: EnvelopeHandler = async (envelope) => {
    await client.receive(envelope);
  };
  const client: MessagingClient = {
    nhi: me,

    async send(recipient, payload, sendOptions) {
      return (await client.sendMessage(recipient, payload, sendOptions)).messageId;
    },

    async sendMessage(recipient, payload, sendOptions = {}) {
      if (closed) throw new EnablementError('MS-400', 'client is closed');
      AgentIdentity.fromNhi(recipient, { field: 'recipient' });
      if (!(payload instanceof Uint8Array))
        throw new EnablementError('MS-400', 'payload: expected a Uint8Array');
      const ttlMs = sendOptions.ttlMs ?? DEFAULT_ENVELOPE_TTL_MS;
      const messageId = newUuid();
      const envelope = await mutex.run(recipient, async () => {
        const record = await loadRecord(recipient);
        let session = record.active;
        if (session === undefined) {
          let bundle: Awaited<ReturnType<NhiClient['getKeyBundle']>>;
          try {
            bundle = await nhi.getKeyBundle(recipient);
          } catch (cause) {
            if (EnablementError.is(cause) && (cause.code === 'PL-404' || cause.code === 'PL-410')) {
              throw new EnablementError('MS-404', `no key bundle for ${recipient}`, { cause });
            }
            throw cause;
          }
          const agreement = X3DH.initiateFromBundle({
            provider,
            identityKey: identityDhKey,
            bundle,
            allowX3dhFallback,
          });
          const ratchet = DoubleRatchet.initiator(
            provider,
            agreement.sharedSecret,
            bundle.signedPrekey.publicKey,
            agreement.associatedData,
            options.ratchet,
          );
          agreement.sharedSecret.fill(0);
          session = {
            id: bytesToBase64url(agreement.initial.ephemeralKey),
            ratchet,
            pending: agreement.initial,
          };
          record.promote(session);
        }
        const timestamp = clock.now();
        const message = session.ratchet.encrypt(encodeInner(messageId, timestamp, ttlMs, payload));
        const ciphertext = encodeSessionMessage({
          ...(session.pending ? { initial: session.pending } : {}),
          message,
        });
        const kind = session.pending ? 'handshake' : 'message';
        const sealed = sealEnvelope({
          sender: identity,
          messageId,
          kind,
          recipientNhi: recipient,
          timestamp,
          ttlMs,
          ciphertext,
          sign: envelopeRequiresSignature(kind, policy),
        });
        // Persist before sending: a crash after this never reuses a message key.
        await saveRecord(record);
        return sealed;
      });
      return transport.send(envelope);
    },

    onMessage(callback) {
      callbacks.add(callback);
      return () => {
        callbacks.delete(callback);
      };
    },

    messages() {
      const iterator: AsyncIterableIterator<ReceivedMessage> = {
        next: () => {
          const value = buffer.shift();
          if (value !== undefined) return Promise.resolve({ value, done: false });
          if (closed) return Promise.resolve({ value: undefined, done: true });
          return new Promise((resolve) => waiters.push(resolve));
        },
        [Symbol.asyncIterator]: () => iterator,
      };
      return iterator;
    },

    markRead: (messageId) => transport.markRead(messageId),

    async receive(envelope) {
      if (buffer.length >= maxBuffered) {
        throw new EnablementError(
          'MS-413',
          `receive buffer full (${maxBuffered} messages): read messages() first`,
        );
      }
      const sender = envelope.senderNhi;
      // The id is recorded only once the message is decrypted and its session saved: a failure
      // before that (a session store down) frees it, and the relay's redelivery is processed.
      const { plaintext, handshake } = await verifier.accept(envelope, async () => {
        const wire = decodeSessionMessage(envelope.ciphertext);
        const plaintext = await mutex.run(sender, async () => {
          const record = await loadRecord(sender);
          const initial = wire.initial;
          let session: Session | undefined = initial
            ? record.find(bytesToBase64url(initial.ephemeralKey))
            : undefined;
          let consume: (() => Promise<void>) | undefined;
          if (initial && session === undefined) {
            // The handshake's identity key must be the envelope sender's NHI key.
            const senderDh = AgentIdentity.fromNhi(sender).x25519PublicKey();
            if (!constantTimeEqual(senderDh, initial.identityKey)) {
              throw new EnablementError(
                'MS-001',
                `envelope ${envelope.messageId}: handshake identity key is not the sender's`,
              );
            }
            const secrets = await loadPrekeys();
            const spk = secrets.signed(initial.signedPrekeyId);
            const opk =
              initial.oneTimePrekeyId === undefined ? undefined : secrets.oneTime(initial.oneTimePrekeyId);
            const kem = initial.kem ? secrets.kem(initial.kem.prekeyKind, initial.kem.prekeyId) : undefined;
            if (
              spk === undefined ||
              (initial.oneTimePrekeyId !== undefined && opk === undefined) ||
              (initial.kem && kem === undefined)
            ) {
              throw new EnablementError(
                'MS-003',
                `envelope ${envelope.messageId}: names prekeys already used or unknown`,
              );
            }
            const agreement = X3DH.respond({
              provider,
              identityKey: identityDhKey,
              initial,
              signedPrekey: spk,
              ...(opk ? { oneTimePrekey: opk } : {}),
              ...(kem ? { kemSecretKey: kem.secretKey } : {}),
              allowX3dhFallback,
            });
            const ratchet = DoubleRatchet.responder(
              provider,
              agreement.sharedSecret,
              spk,
              agreement.associatedData,
              options.ratchet,
            );
            agreement.sharedSecret.fill(0);
            session = { id: bytesToBase64url(initial.ephemeralKey), ratchet, pending: undefined };
            consume = async () => {
              secrets.consume(
                initial.oneTimePrekeyId,
                initial.kem?.prekeyKind === 'one-time' ? initial.kem.prekeyId : undefined,
              );
              await sessionStore.set(PREKEYS_KEY, secrets.serialize());
            };
            const decrypted = session.ratchet.decrypt(wire.message);
            record.promote(session);
            await saveRecord(record);
            await mutex.run(PREKEYS_KEY, consume);
            return decrypted;
          }
          const candidates = session ? [session] : record.sessions;
          let lastError: unknown = new EnablementError(
            'MS-004',
            `envelope ${envelope.messageId}: no session with ${sender}`,
          );
          for (const candidate of candidates) {
            try {
              const decrypted = candidate.ratchet.decrypt(wire.message);
              candidate.pending = undefined; // the peer answered: it has the session
              record.promote(candidate);
              await saveRecord(record);
              return decrypted;
            } catch (error) {
              lastError = error;
            }
          }
          throw lastError;
        });
        return { plaintext, handshake: wire.initial !== undefined };
      });
      const message: ReceivedMessage = Object.freeze({
        messageId: envelope.messageId,
        sender,
        payload: decodeInner(plaintext, envelope),
        sentAt: envelope.timestamp,
      });
      deliver(message);
      if (handshake) void replenishPrekeys().catch(() => {});
      return message;
    },

    replenishPrekeys,

    async close() {
      if (closed) return;
      closed = true;
      for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true });
      await transport.close();
    },
  };
  transport =
    typeof options.transport === 'function' ? await options.transport(onEnvelope) : options.transport;
  return Object.freeze(client);
}
