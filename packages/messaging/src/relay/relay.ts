import {
  type AgentKeyPair,
  AuditEvents,
  type AuthzClient,
  bytesToBase64url,
  type CancelTimer,
  type Clock,
  type ConsensusClient,
  type ConsensusTimestamp,
  type CryptoProvider,
  createEnablementMetrics,
  EnablementError,
  type EnablementMetrics,
  type EventBus,
  type IdempotencyStore,
  isNhi,
  type NhiClient,
  nobleCryptoProvider,
  type ReceiptType,
  SPAN_NAMES,
  secondsBetween,
  TRACE_ATTRIBUTES,
  type UnifiedAuditEvent,
  type Uuid,
  withSpan,
} from '@creto/core';
import {
  assertEnvelopeFresh,
  createReplayGuard,
  DEFAULT_ENVELOPE_SIGNATURE_POLICY,
  decodeEnvelope,
  ENVELOPE_SIGNATURE_POLICIES,
  type EnvelopeSignaturePolicy,
  envelopeExpiresAt,
  type MessageEnvelope,
  type MessageEnvelopeWire,
  type ReplayGuard,
  verifyEnvelopeSender,
} from '../envelope/index.js';
import { publishDeliveryReceipt, signDeliveryReceipt } from '../receipts/index.js';
import {
  type RelayConnection,
  type RelayConnectRequest,
  type RelayDeliveryHandler,
  type RelayEndpoint,
  relayConnectProofBytes,
  type SendResult,
} from '../transport/index.js';
import {
  assertRelayQueueEntry,
  MAX_RELAY_QUEUE_LOAD,
  MAX_RELAY_QUEUE_REMOVE,
  type RelayQueueStore,
} from './queue-store.js';

/** Default bound of one recipient's offline queue, in envelopes. */
export const DEFAULT_MAX_QUEUE_PER_RECIPIENT = 1000;
/** Default bound of all offline queues together, in envelopes. */
export const DEFAULT_MAX_QUEUED_TOTAL = 100_000;
/** Default bound of pairs remembered as having a signed handshake (`handshake-only` policy). */
export const DEFAULT_MAX_SESSIONS = 100_000;
/** Default bound of delivered messages remembered for `read` receipts. */
export const DEFAULT_MAX_TRACKED_DELIVERIES = 100_000;
/** Default bound of outstanding connection challenges. */
export const DEFAULT_MAX_PENDING_CHALLENGES = 10_000;
/** How long a connection challenge stays valid, ms. */
export const CHALLENGE_TTL_MS = 30_000;
/** Key agreement protocol named in `SessionEstablished` audit events. */
export const SESSION_PROTOCOL = 'PQXDH';
/** `protocol` label of `messaging_messages_sent_total` (spec §10.2). */
export const MESSAGE_PROTOCOL_LABEL = 'double_ratchet';
/** `channel_type` label of `messaging_delivery_latency_seconds` (spec §10.2). */
export const DELIVERY_CHANNEL_LABEL = 'direct';

/** Where audit events go: core's audit log, or a buffering sink in front of it. */
export interface RelayAuditSink {
  /** Appends one event. */
  append(event: UnifiedAuditEvent): Promise<unknown>;
}

/** Options of {@link createMessagingRelay}. */
export interface MessagingRelayOptions {
  /** Authorization: `messaging:send` on `agent:<recipient NHI>` (spec §3.2) before delivery. */
  readonly authz: Pick<AuthzClient, 'check'>;
  /** NHI service: sender verification, recipient lookup, connection proofs. */
  readonly nhi: Pick<NhiClient, 'lookup' | 'validateHybridSignature' | 'validateSignature'>;
  /** Time source of timers (TTL sweeps, challenge expiry, replay window). */
  readonly clock: Clock;
  /** Consensus time: TTL checks, acceptance and receipt timestamps (spec §3.5). */
  readonly consensus: ConsensusClient;
  /**
   * The relay's own service key (hybrid: needs `postQuantum`), which signs delivery receipts.
   * Its NHI is what receipt consumers verify against.
   */
  readonly serviceKey: AgentKeyPair;
  /** Where receipts are published (`messaging.delivery_receipts`); none published when absent. */
  readonly eventBus?: Pick<EventBus, 'publish'>;
  /** Audit log for `MessageSent`, `MessageDelivered`, `SessionEstablished`; none when absent. */
  readonly audit?: RelayAuditSink;
  /** Signature policy; `every-envelope` (spec §3.4) by default. */
  readonly signaturePolicy?: EnvelopeSignaturePolicy;
  /** Seen-id store (core's idempotency store port); a bounded in-memory store by default. */
  readonly replayStore?: IdempotencyStore;
  /** Bound of the default in-memory seen-id store (see `ReplayGuardOptions.maxEntries`). */
  readonly maxReplayEntries?: number;
  /** Bound of one recipient's queue; beyond it `MS-413`. */
  readonly maxQueuePerRecipient?: number;
  /** Bound of all queues together; beyond it `MS-413`. */
  readonly maxQueuedTotal?: number;
  /** Bound of remembered handshakes (oldest forgotten first: that pair must handshake again). */
  readonly maxSessions?: number;
  /** Bound of deliveries remembered for `read` receipts (oldest forgotten first). */
  readonly maxTrackedDeliveries?: number;
  /** Bound of outstanding connection challenges; beyond it `MS-503` (retryable). */
  readonly maxPendingChallenges?: number;
  /** Metric instruments; `createEnablementMetrics()` (global meter) by default. */
  readonly metrics?: EnablementMetrics;
  /** Crypto provider for challenges; `nobleCryptoProvider` by default. */
  readonly provider?: CryptoProvider;
  /**
   * Told about failures off the sender's path (receipt publication, audit append, a recipient
   * handler that threw). Such failures never undo an accepted message. Ignored when absent.
   */
  readonly onError?: (
    error: unknown,
    context: { readonly operation: string; readonly messageId?: Uuid },
  ) => void;
}

/** Options of {@link openMessagingRelay}: those of {@link createMessagingRelay} and the queue store. */
export interface DurableMessagingRelayOptions extends MessagingRelayOptions {
  /**
   * Where the offline queues live, so that accepted envelopes survive a restart: loaded when the
   * relay opens, written before a sender hears `queued`, pruned on delivery or expiry. One relay
   * owns a store at a time.
   */
  readonly queueStore: RelayQueueStore;
}

/** Counts of what the relay holds. */
export interface MessagingRelayStats {
  /** Envelopes queued, all recipients. */
  readonly queued: number;
  /** Recipients with a non-empty queue. */
  readonly recipients: number;
  /** Open connections. */
  readonly connections: number;
  /** Pairs with a recorded signed handshake. */
  readonly sessions: number;
}

/** The messaging relay (service side): see {@link createMessagingRelay}. */
export interface MessagingRelay extends RelayEndpoint {
  /**
   * Accepts an envelope from the authenticated principal `from` (in order): `MS-400` malformed;
   * `MS-001` sender is not `from`, or signature/identity does not verify (or, under
   * `handshake-only`, no signed handshake for the pair yet); `PL-425` future-dated; `MS-002`
   * expired; `MS-404` unknown or revoked recipient; `MS-003` id seen within 30 days; `MS-403`
   * authz denied; `MS-413` a queue bound reached; `MS-503` a dependency unavailable (retryable).
   * A refused envelope leaves no trace (its id stays free); an accepted one is never dropped
   * except by its TTL, which publishes a `failed` receipt.
   */
  submit(from: string, envelope: MessageEnvelopeWire): Promise<SendResult>;
  /** Envelopes waiting for `recipientNhi`. */
  queueDepth(recipientNhi: string): number;
  /**
   * Removes expired queued envelopes now, publishing a `failed` receipt for each; resolves to
   * how many. Runs by itself on a clock timer at the earliest expiry.
   */
  sweepExpired(): Promise<number>;
  /** Resolves when no delivery is in progress (for tests and orderly shutdown). */
  whenIdle(): Promise<void>;
  /** Current counts. */
  stats(): MessagingRelayStats;
  /** Closes every connection and cancels timers; queued envelopes stay. Idempotent. */
  close(): Promise<void>;
}

interface Queued {
  readonly envelope: MessageEnvelope;
  readonly wire: MessageEnvelopeWire;
  readonly acceptedAt: ConsensusTimestamp;
  readonly expiresAt: ConsensusTimestamp;
  delivered: boolean;
}

interface ConnectionState {
  readonly nhi: string;
  readonly deliver: RelayDeliveryHandler;
  open: boolean;
  draining: Promise<void> | undefined;
}

/** Which factory is validating, so that an options error names the call the caller made. */
type Factory = 'createMessagingRelay' | 'openMessagingRelay';

function bound(value: number | undefined, fallback: number, name: string, factory: Factory): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new EnablementError('MS-400', `${factory}: ${name} must be a positive integer`);
  }
  return n;
}

function required(value: unknown, methods: readonly string[], name: string, factory: Factory): void {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function');
  if (!ok) {
    throw new EnablementError('MS-400', `${factory}: ${name} must have ${methods.join(', ')}`);
  }
}

function unavailable(what: string, cause: unknown): EnablementError {
  return new EnablementError('MS-503', `${what} unavailable`, { cause, retryable: true });
}

const isUnavailable = (error: unknown) =>
  EnablementError.is(error) && (error.retryable || error.code.endsWith('-503'));

/** A recipient handler that rejects with `MS-003` says it already holds that message id. */
const isAlreadyHeld = (error: unknown) => EnablementError.is(error) && error.code === 'MS-003';

/** Validated options with their defaults applied. */
interface RelayConfig {
  readonly options: MessagingRelayOptions;
  readonly serviceKey: AgentKeyPair;
  readonly policy: EnvelopeSignaturePolicy;
  readonly maxPerRecipient: number;
  readonly maxTotal: number;
  readonly maxSessions: number;
  readonly maxDeliveries: number;
  readonly maxChallenges: number;
}

function resolveOptions(options: MessagingRelayOptions, factory: Factory): RelayConfig {
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('MS-400', `${factory}: options must be an object`);
  }
  required(options.authz, ['check'], 'authz', factory);
  required(options.nhi, ['lookup', 'validateHybridSignature', 'validateSignature'], 'nhi', factory);
  required(options.clock, ['now', 'schedule'], 'clock', factory);
  required(options.consensus, ['getTimestamp'], 'consensus', factory);
  if (options.eventBus !== undefined) required(options.eventBus, ['publish'], 'eventBus', factory);
  if (options.audit !== undefined) required(options.audit, ['append'], 'audit', factory);
  const serviceKey = options.serviceKey;
  if (typeof serviceKey !== 'object' || serviceKey === null || serviceKey.postQuantum !== true) {
    throw new EnablementError(
      'MS-400',
      `${factory}: serviceKey must be an AgentKeyPair with an ML-DSA-65 key (postQuantum)`,
    );
  }
  const policy = options.signaturePolicy ?? DEFAULT_ENVELOPE_SIGNATURE_POLICY;
  if (!ENVELOPE_SIGNATURE_POLICIES.includes(policy)) {
    throw new EnablementError(
      'MS-400',
      `${factory}: signaturePolicy must be every-envelope or handshake-only`,
    );
  }
  return {
    options,
    serviceKey,
    policy,
    maxPerRecipient: bound(
      options.maxQueuePerRecipient,
      DEFAULT_MAX_QUEUE_PER_RECIPIENT,
      'maxQueuePerRecipient',
      factory,
    ),
    maxTotal: bound(options.maxQueuedTotal, DEFAULT_MAX_QUEUED_TOTAL, 'maxQueuedTotal', factory),
    maxSessions: bound(options.maxSessions, DEFAULT_MAX_SESSIONS, 'maxSessions', factory),
    maxDeliveries: bound(
      options.maxTrackedDeliveries,
      DEFAULT_MAX_TRACKED_DELIVERIES,
      'maxTrackedDeliveries',
      factory,
    ),
    maxChallenges: bound(
      options.maxPendingChallenges,
      DEFAULT_MAX_PENDING_CHALLENGES,
      'maxPendingChallenges',
      factory,
    ),
  };
}

/**
 * The messaging relay: the service that moves envelopes between agents. It sees only ciphertext
 * and metadata; it verifies envelope signatures (or the handshake-only policy), checks authz
 * `messaging:send` on `agent:<recipient NHI>` (spec §3.2), queues envelopes for offline
 * recipients with bounds, expires them by TTL, refuses message ids seen within 30 days, and
 * publishes signed delivery receipts (spec §5.2) and audit events (spec §3.3).
 *
 * Its queues live in memory and die with the process; {@link openMessagingRelay} is the same
 * relay over a {@link RelayQueueStore}, whose queues survive a restart.
 *
 * **Bounds.** Each recipient's queue holds at most `maxQueuePerRecipient` envelopes and all
 * queues together `maxQueuedTotal`. At a bound the relay refuses the *new* envelope with `MS-413`
 * (not retryable as such, but the sender may retry later, after the recipient drained); it never
 * drops an envelope it already accepted. Seen ids live in a bounded store that refuses new ids
 * (`MS-503`) rather than forget live ones.
 *
 * **Duplicates.** A recipient handler that rejects with `MS-003` (the messaging client's replay
 * guard: it already took that message id) is treated as having taken the envelope: it leaves the
 * queue, so a redelivered duplicate cannot block the envelopes behind it.
 */
export function createMessagingRelay(options: MessagingRelayOptions): MessagingRelay {
  // A store handed to the in-memory factory would be silently ignored: the caller meant durability.
  if (
    typeof options === 'object' &&
    options !== null &&
    (options as { queueStore?: unknown }).queueStore !== undefined
  ) {
    throw new EnablementError(
      'MS-400',
      'createMessagingRelay: queueStore is given; use openMessagingRelay, which loads the stored queues',
    );
  }
  return buildRelay(resolveOptions(options, 'createMessagingRelay'), undefined, []);
}

/**
 * Opens a messaging relay whose offline queues live in `queueStore` (issue #10): the relay of
 * {@link createMessagingRelay}, with these differences.
 *
 * **Open.** Pages through `queueStore.load` ({@link MAX_RELAY_QUEUE_LOAD} a page) and rebuilds
 * every recipient's queue in `acceptedAt` order, then arms the TTL sweep at the earliest expiry:
 * an envelope whose TTL ran out while the relay was down gets its `failed` receipt (spec §5.2) on
 * the first clock tick and leaves the store. A store that cannot be read rejects the open with
 * `MS-503` (retryable). A stored entry that does not decode (a corrupt row, or an envelope
 * version this relay does not know, after a downgrade) is reported to `onError` as `queue.load`
 * and skipped, and *left in the store*: refusing to open would hold every other recipient's mail
 * hostage to one row, and deleting it would destroy mail a newer relay could still deliver.
 * Stored envelopes are not verified again (the relay verified them when it accepted them, and
 * recipients verify every envelope they receive).
 *
 * **Bounds at open.** Stored entries beyond `maxQueuePerRecipient` or `maxQueuedTotal` (the
 * bounds were lowered, or a store held more) are all kept, never dropped: the relay refuses new
 * envelopes (`MS-413`) for a recipient over its bound until it has drained below it, and for
 * everyone while the total is over.
 *
 * **Submit.** After every check, the envelope is written with `queueStore.put` *before* the
 * sender hears `queued` or `delivered`, and before it can be delivered. The bounds count
 * envelopes whose write is in flight, so concurrent submits cannot overrun them across the
 * await. A failed write accepts nothing and frees the message id: `MS-503` (retryable), or the
 * store's `MS-413` (full) / `MS-003` (id already held) as such. Queues stay in `acceptedAt`
 * order when writes finish out of order; a connected recipient gets envelopes in the order their
 * writes finished.
 *
 * **Delivery and expiry: at-least-once across a crash.** A delivered or expired envelope leaves
 * the in-memory queue, its receipt is published, and then it is removed from the store (an
 * expiry sweep removes in batches of {@link MAX_RELAY_QUEUE_REMOVE}). Removing last means a
 * crash in between repeats the receipt (deduplicated on the bus by its `msgId`) instead of losing
 * it. A failed removal is reported as `queue.remove` and does not undo the delivery; after a
 * restart that envelope is offered again. Recipients drop such duplicates by message id: the
 * messaging client's envelope verifier refuses an id it has seen (`MS-003`, its replay guard),
 * and the relay takes that refusal as "already delivered", so the duplicate leaves the queue
 * without blocking the envelopes behind it. A client that restarted as well (its replay guard
 * lives in memory) refuses it from its persisted ratchet, which holds no key for a message it
 * already decrypted (`MS-003` too). Any other refusal keeps the envelope queued for the next
 * connection, as before.
 *
 * **Replay across a restart.** Give a durable `replayStore` too: the 30-day seen-id window
 * (spec §9.2) lives there, not in the queue store. Without one, the queue store still refuses an
 * id it holds (`MS-003`), but a delivered id could be accepted again after a restart.
 *
 * `close()` is unchanged: queued envelopes stay in the store for the next open.
 */
export async function openMessagingRelay(options: DurableMessagingRelayOptions): Promise<MessagingRelay> {
  const config = resolveOptions(options, 'openMessagingRelay');
  const store = options.queueStore;
  required(store, ['load', 'put', 'remove'], 'queueStore', 'openMessagingRelay');
  return buildRelay(config, store, await loadQueueEntries(store));
}

/**
 * Reads every stored entry, a page at a time. Entries are returned as the store gave them (they
 * are checked one by one when restored); a store that fails, returns a malformed page or does not
 * advance fails the open with `MS-503`.
 */
async function loadQueueEntries(store: RelayQueueStore): Promise<unknown[]> {
  const entries: unknown[] = [];
  const seen = new Set<unknown>();
  let cursor: Uuid | undefined;
  for (;;) {
    let page: unknown;
    try {
      page = await store.load(MAX_RELAY_QUEUE_LOAD, cursor);
    } catch (cause) {
      throw unavailable('relay queue store (load)', cause);
    }
    if (!Array.isArray(page) || page.length > MAX_RELAY_QUEUE_LOAD) {
      throw new EnablementError('MS-503', 'relay queue store: load returned a malformed page', {
        retryable: true,
      });
    }
    let advanced = false;
    for (const entry of page as unknown[]) {
      const id =
        typeof entry === 'object' && entry !== null
          ? (entry as { messageId?: unknown }).messageId
          : undefined;
      if (!seen.has(id)) advanced = true;
      seen.add(id);
      entries.push(entry);
    }
    if (page.length < MAX_RELAY_QUEUE_LOAD) return entries;
    const last = (page as unknown[])[page.length - 1] as { messageId?: unknown } | null | undefined;
    // A full page that brought nothing new would page forever; an id-less entry cannot be a cursor.
    if (!advanced || typeof last?.messageId !== 'string') {
      throw new EnablementError('MS-503', 'relay queue store: load does not advance past an entry', {
        retryable: true,
      });
    }
    cursor = last.messageId as Uuid;
  }
}

/**
 * The one relay implementation behind both factories: `store` absent keeps the queues in
 * memory only; present, they are written through to it and `restored` (its loaded entries) seed
 * them.
 */
function buildRelay(
  config: RelayConfig,
  store: RelayQueueStore | undefined,
  restored: readonly unknown[],
): MessagingRelay {
  const {
    options,
    serviceKey,
    policy,
    maxPerRecipient,
    maxTotal,
    maxSessions,
    maxDeliveries,
    maxChallenges,
  } = config;
  const { authz, nhi, clock, consensus, eventBus, audit } = options;
  const provider = options.provider ?? nobleCryptoProvider;
  const metrics = options.metrics ?? createEnablementMetrics();
  const replay: ReplayGuard = createReplayGuard({
    clock,
    ...(options.replayStore === undefined ? {} : { store: options.replayStore }),
    ...(options.maxReplayEntries === undefined ? {} : { maxEntries: options.maxReplayEntries }),
  });
  const report = (error: unknown, operation: string, messageId?: Uuid) => {
    try {
      options.onError?.(error, messageId === undefined ? { operation } : { operation, messageId });
    } catch {
      // A failing error hook must not break delivery.
    }
  };

  // Each recipient's queue, in acceptedAt order (the store's load order, so a restart keeps it).
  const queues = new Map<string, Queued[]>();
  let queuedTotal = 0;
  // Envelopes whose `queueStore.put` is in flight: the bounds count them as queued.
  const writing = new Map<string, number>();
  let writingTotal = 0;
  const connections = new Map<string, ConnectionState>();
  // Insertion-ordered: the first key is the oldest (evicted first at the bound).
  const sessions = new Set<string>();
  const deliveries = new Map<Uuid, string>();
  const challenges = new Map<string, { nhi: string; expiresAt: ConsensusTimestamp }>();
  let sweepTimer: { at: ConsensusTimestamp; cancel: CancelTimer } | undefined;
  let closed = false;

  const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

  function remember<K, V>(map: Map<K, V> | Set<K>, key: K, value: V, max: number): void {
    if (map instanceof Set) {
      map.delete(key);
      map.add(key);
    } else {
      map.delete(key);
      map.set(key, value);
    }
    while (map.size > max) {
      const oldest = map.keys().next();
      if (oldest.done === true) break;
      map.delete(oldest.value);
    }
  }

  async function appendAudit(event: () => UnifiedAuditEvent, messageId?: Uuid): Promise<void> {
    if (audit === undefined) return;
    try {
      await audit.append(event());
    } catch (error) {
      report(error, 'audit.append', messageId);
    }
  }

  async function publishReceipt(
    messageId: Uuid,
    recipientNhi: string,
    receiptType: ReceiptType,
    failureReason?: string,
  ): Promise<void> {
    if (eventBus === undefined) return;
    try {
      const timestamp = await consensus.getTimestamp();
      const receipt = signDeliveryReceipt(
        {
          messageId,
          recipientNhi,
          receiptType,
          timestamp,
          ...(failureReason === undefined ? {} : { failureReason }),
        },
        serviceKey,
      );
      await publishDeliveryReceipt(eventBus, receipt);
    } catch (error) {
      report(error, 'receipt.publish', messageId);
    }
  }

  function armSweep(at: ConsensusTimestamp): void {
    if (closed || (sweepTimer !== undefined && sweepTimer.at <= at)) return;
    sweepTimer?.cancel();
    const cancel = clock.schedule(at, () => {
      sweepTimer = undefined;
      sweepExpired().catch((error: unknown) => report(error, 'sweep'));
    });
    sweepTimer = { at, cancel };
  }

  /** Puts `item` in its recipient's queue after every envelope accepted no later than it. */
  function insertQueued(item: Queued): void {
    const recipient = item.envelope.recipientNhi;
    const queue = queues.get(recipient) ?? [];
    // Almost always an append: scan from the tail. Equal instants keep arrival order.
    let at = queue.length;
    while (at > 0 && (queue[at - 1]?.acceptedAt ?? 0n) > item.acceptedAt) at--;
    queue.splice(at, 0, item);
    queues.set(recipient, queue);
    queuedTotal++;
  }

  function countWriting(recipient: string, delta: 1 | -1): void {
    const n = (writing.get(recipient) ?? 0) + delta;
    if (n > 0) writing.set(recipient, n);
    else writing.delete(recipient);
    writingTotal += delta;
  }

  /** Maps a failed `queueStore.put` to what the sender hears. */
  function putFailure(cause: unknown, messageId: Uuid): EnablementError {
    if (EnablementError.is(cause) && cause.code === 'MS-413') {
      return new EnablementError('MS-413', `envelope ${messageId}: the relay queue store is full`, { cause });
    }
    if (EnablementError.is(cause) && cause.code === 'MS-003') {
      return new EnablementError('MS-003', `message ${messageId} is already queued (replay)`, { cause });
    }
    return unavailable('relay queue store', cause);
  }

  /**
   * Queues an accepted envelope: written to the store first when there is one. The in-flight
   * count and the queue change together, in the continuation of the write, so no bound check can
   * run between the write finishing and the envelope being counted as queued.
   */
  async function enqueue(item: Queued): Promise<void> {
    if (store === undefined) {
      insertQueued(item);
      return;
    }
    const { messageId, recipientNhi } = item.envelope;
    countWriting(recipientNhi, 1);
    try {
      await store.put({
        messageId,
        recipientNhi,
        acceptedAt: item.acceptedAt,
        expiresAt: item.expiresAt,
        envelope: item.wire,
      });
    } catch (cause) {
      countWriting(recipientNhi, -1);
      throw putFailure(cause, messageId);
    }
    countWriting(recipientNhi, -1);
    insertQueued(item);
  }

  /**
   * Removes delivered or expired envelopes from the store, at most {@link MAX_RELAY_QUEUE_REMOVE}
   * ids a call. A failure is reported, never thrown: the envelope is already gone from memory, and
   * a restart merely offers it again (at-least-once).
   */
  async function forget(messageIds: readonly Uuid[]): Promise<void> {
    if (store === undefined) return;
    for (let from = 0; from < messageIds.length; from += MAX_RELAY_QUEUE_REMOVE) {
      const batch = messageIds.slice(from, from + MAX_RELAY_QUEUE_REMOVE);
      try {
        await store.remove(batch);
      } catch (error) {
        report(error, 'queue.remove', batch.length === 1 ? batch[0] : undefined);
      }
    }
  }

  function removeFromQueue(recipient: string, item: Queued): void {
    const queue = queues.get(recipient);
    if (queue === undefined) return;
    const index = queue.indexOf(item);
    if (index < 0) return;
    queue.splice(index, 1);
    queuedTotal--;
    if (queue.length === 0) queues.delete(recipient);
  }

  /** Drops expired envelopes: out of memory, a `failed` receipt each, then out of the store. */
  async function expire(items: readonly Queued[]): Promise<void> {
    for (const item of items) removeFromQueue(item.envelope.recipientNhi, item);
    for (const item of items) {
      await publishReceipt(
        item.envelope.messageId,
        item.envelope.recipientNhi,
        'failed',
        'expired: the TTL elapsed before the recipient connected',
      );
    }
    await forget(items.map((item) => item.envelope.messageId));
  }

  async function sweepExpired(): Promise<number> {
    const now = await consensus.getTimestamp();
    const expired: Queued[] = [];
    let next: ConsensusTimestamp | undefined;
    for (const queue of queues.values()) {
      for (const item of queue) {
        if (item.expiresAt <= now) expired.push(item);
        else if (next === undefined || item.expiresAt < next) next = item.expiresAt;
      }
    }
    for (const item of expired) removeFromQueue(item.envelope.recipientNhi, item);
    if (next !== undefined) armSweep(next);
    await expire(expired);
    return expired.length;
  }

  /**
   * Bookkeeping of a delivery, then the store removal. `duplicate`: the recipient already held
   * the id (a redelivery after a crash), so only the receipt is repeated (idempotent on the bus by
   * its msgId, and possibly never published before the crash); latency and audit are not.
   */
  async function onDelivered(item: Queued, duplicate: boolean): Promise<void> {
    const { messageId, recipientNhi } = item.envelope;
    if (duplicate) {
      remember(deliveries, messageId, recipientNhi, maxDeliveries);
      await publishReceipt(messageId, recipientNhi, 'delivered');
      await forget([messageId]);
      return;
    }
    const deliveredAt = await consensus.getTimestamp();
    // HLC readings never go backwards, but guard anyway: a negative duration would throw.
    let end = deliveredAt;
    if (end < item.acceptedAt) end = item.acceptedAt;
    const seconds = secondsBetween(item.acceptedAt, end);
    metrics.messagingDeliveryLatency.record(seconds, { channel_type: DELIVERY_CHANNEL_LABEL });
    remember(deliveries, messageId, recipientNhi, maxDeliveries);
    await publishReceipt(messageId, recipientNhi, 'delivered');
    const latencyMs = Math.min(Math.round(seconds * 1000), 0xffff_ffff);
    await appendAudit(
      () =>
        AuditEvents.messageDelivered(
          { messageId, agentNhi: recipientNhi, latencyMs },
          { timestamp: deliveredAt },
        ),
      messageId,
    );
    await forget([messageId]);
  }

  const hasWork = (state: ConnectionState) =>
    state.open && connections.get(state.nhi) === state && (queues.get(state.nhi)?.length ?? 0) > 0;

  /**
   * Delivers the principal's queue in order, one drain at a time per connection. A caller that
   * finds a drain running waits for it and then drains again if work is left, because the running
   * drain may have made its last queue check before the caller enqueued.
   */
  function drain(state: ConnectionState): Promise<void> {
    const running = state.draining;
    if (running !== undefined) return running.then(() => (hasWork(state) ? drain(state) : undefined));
    const run = async () => {
      try {
        while (hasWork(state)) {
          const head = queues.get(state.nhi)?.[0];
          if (head === undefined) break;
          if (head.expiresAt <= (await consensus.getTimestamp())) {
            await expire([head]);
            continue;
          }
          let duplicate = false;
          try {
            await withSpan(
              SPAN_NAMES.messagingDeliver,
              { [TRACE_ATTRIBUTES.messagingMessageId]: head.envelope.messageId },
              async () => state.deliver(structuredClone(head.wire)),
            );
          } catch (error) {
            // Any other failure leaves it queued for the next connection (at-least-once).
            if (!isAlreadyHeld(error)) throw error;
            duplicate = true;
          }
          // Taken: only now does it leave the queue (a throwing handler leaves it for next time).
          removeFromQueue(state.nhi, head);
          head.delivered = true;
          await onDelivered(head, duplicate);
        }
      } catch (error) {
        report(error, 'deliver');
      }
    };
    // Cleared in a callback, never synchronously inside `run`: a drain that finds nothing to do
    // finishes before the assignment below, and would otherwise leave a stale promise behind.
    const promise: Promise<void> = run().finally(() => {
      if (state.draining === promise) state.draining = undefined;
    });
    state.draining = promise;
    return promise;
  }

  async function submit(from: string, wire: MessageEnvelopeWire): Promise<SendResult> {
    if (closed) throw new EnablementError('MS-503', 'relay closed', { retryable: true });
    const envelope = decodeEnvelope(wire);
    const { messageId, senderNhi, recipientNhi } = envelope;
    return withSpan(
      SPAN_NAMES.messagingSendMessage,
      {
        [TRACE_ATTRIBUTES.messagingMessageId]: messageId,
        [TRACE_ATTRIBUTES.messagingEncryptedSize]: envelope.ciphertext.length,
        [TRACE_ATTRIBUTES.messagingProtocol]:
          envelope.kind === 'handshake' ? SESSION_PROTOCOL : MESSAGE_PROTOCOL_LABEL,
      },
      async () => {
        if (senderNhi !== from) {
          throw new EnablementError('MS-001', `envelope ${messageId}: sender is not the connected principal`);
        }
        const now = await consensus.getTimestamp();
        assertEnvelopeFresh(envelope, now);
        const authentication = await verifyEnvelopeSender(envelope, nhi, policy);
        if (authentication === 'session' && !sessions.has(pairKey(senderNhi, recipientNhi))) {
          throw new EnablementError(
            'MS-001',
            `envelope ${messageId}: unsigned, and no signed handshake is on record for this pair`,
          );
        }
        try {
          await nhi.lookup(recipientNhi);
        } catch (cause) {
          if (isUnavailable(cause)) throw unavailable('NHI service', cause);
          throw new EnablementError('MS-404', `envelope ${messageId}: recipient not found or revoked`, {
            cause,
          });
        }
        const reservation = await replay.reserve(messageId);
        let item: Queued;
        try {
          let decision: Awaited<ReturnType<AuthzClient['check']>>;
          try {
            decision = await authz.check({
              principal: senderNhi,
              action: 'messaging:send',
              resource: `agent:${recipientNhi}`,
            });
          } catch (cause) {
            throw unavailable('authz', cause);
          }
          if (decision.decision !== 'allow') {
            throw new EnablementError(
              'MS-403',
              `messaging:send to ${recipientNhi} not permitted: ${decision.reason}`,
            );
          }
          // From the checks to `enqueue` counting the envelope nothing awaits, and envelopes being
          // written to the store count as queued, so interleaved submits cannot overrun a bound.
          // `>=`: a queue restored above its bound refuses new envelopes until it drained below.
          const depth = (queues.get(recipientNhi)?.length ?? 0) + (writing.get(recipientNhi) ?? 0);
          if (depth >= maxPerRecipient) {
            throw new EnablementError(
              'MS-413',
              `queue of ${recipientNhi} is full (${maxPerRecipient} envelopes)`,
            );
          }
          if (queuedTotal + writingTotal >= maxTotal) {
            throw new EnablementError('MS-413', `relay queues are full (${maxTotal} envelopes)`);
          }
          if (closed) throw new EnablementError('MS-503', 'relay closed', { retryable: true });
          item = {
            envelope,
            wire: Object.freeze(structuredClone(wire)),
            acceptedAt: now,
            expiresAt: envelopeExpiresAt(envelope),
            delivered: false,
          };
          // Durable (when there is a store) before the sender hears anything. Once written it is
          // accepted even if the relay closed meanwhile: it is in the store for the next open.
          await enqueue(item);
        } catch (error) {
          await reservation.release();
          throw error;
        }
        // Accepted. Everything below is bookkeeping that must not un-accept it.
        try {
          await reservation.commit();
        } catch (error) {
          report(error, 'replay.commit', messageId);
        }
        armSweep(item.expiresAt);
        metrics.messagingMessagesSent.add(1, { protocol: MESSAGE_PROTOCOL_LABEL });
        if (envelope.kind === 'handshake') {
          remember(sessions, pairKey(senderNhi, recipientNhi), undefined, maxSessions);
          await appendAudit(
            () =>
              AuditEvents.sessionEstablished(
                { initiator: senderNhi, responder: recipientNhi, protocol: SESSION_PROTOCOL },
                { timestamp: now },
              ),
            messageId,
          );
        }
        await appendAudit(
          () =>
            AuditEvents.messageSent(
              {
                messageId,
                sender: senderNhi,
                recipient: recipientNhi,
                encryptedSize: envelope.ciphertext.length,
              },
              { timestamp: now },
            ),
          messageId,
        );
        const connection = connections.get(recipientNhi);
        if (connection !== undefined) await drain(connection);
        return Object.freeze({ messageId, status: item.delivered ? 'delivered' : 'queued', acceptedAt: now });
      },
    );
  }

  async function challenge(principal: string): Promise<Uint8Array> {
    if (!isNhi(principal)) throw new EnablementError('MS-400', 'challenge: expected an NHI');
    const now = clock.now();
    if (challenges.size >= maxChallenges) {
      for (const [key, c] of challenges) if (c.expiresAt <= now) challenges.delete(key);
      if (challenges.size >= maxChallenges) {
        throw new EnablementError('MS-503', 'too many pending connection challenges', {
          retryable: true,
          retryAfterMs: CHALLENGE_TTL_MS,
        });
      }
    }
    const bytes = provider.randomBytes(32);
    challenges.set(bytesToBase64url(bytes), {
      nhi: principal,
      expiresAt: now + BigInt(CHALLENGE_TTL_MS) * 1_000_000n,
    });
    return bytes.slice();
  }

  async function connect(
    request: RelayConnectRequest,
    deliver: RelayDeliveryHandler,
  ): Promise<RelayConnection> {
    if (closed) throw new EnablementError('MS-503', 'relay closed', { retryable: true });
    if (typeof deliver !== 'function')
      throw new EnablementError('MS-400', 'connect: deliver must be a function');
    const { nhi: principal, challenge: issued, signature } = request ?? ({} as RelayConnectRequest);
    if (
      !(issued instanceof Uint8Array) ||
      !(signature instanceof Uint8Array) ||
      typeof principal !== 'string'
    ) {
      throw new EnablementError('MS-400', 'connect: expected { nhi, challenge, signature }');
    }
    const key = bytesToBase64url(issued);
    const pending = challenges.get(key);
    // Single use, whatever the outcome: a failed proof cannot be retried against the same challenge.
    challenges.delete(key);
    if (pending === undefined || pending.nhi !== principal || pending.expiresAt <= clock.now()) {
      throw new EnablementError('MS-001', 'connect: unknown, used or expired challenge');
    }
    try {
      await nhi.validateSignature(principal, relayConnectProofBytes(principal, issued), signature);
    } catch (cause) {
      if (isUnavailable(cause)) throw unavailable('NHI service', cause);
      throw new EnablementError('MS-001', 'connect: proof of identity does not verify', { cause });
    }
    const previous = connections.get(principal);
    if (previous !== undefined) previous.open = false;
    const state: ConnectionState = { nhi: principal, deliver, open: true, draining: undefined };
    connections.set(principal, state);
    void drain(state);
    return Object.freeze({
      nhi: principal,
      submit: (wire: MessageEnvelopeWire) => {
        if (!state.open) return Promise.reject(new EnablementError('MS-400', 'connection closed'));
        return submit(principal, wire);
      },
      markRead: async (messageId: Uuid) => {
        if (!state.open) throw new EnablementError('MS-400', 'connection closed');
        if (deliveries.get(messageId) !== principal) {
          throw new EnablementError('MS-404', `no delivered message ${messageId} for this principal`);
        }
        deliveries.delete(messageId);
        await publishReceipt(messageId, principal, 'read');
      },
      close: async () => {
        state.open = false;
        if (connections.get(principal) === state) connections.delete(principal);
      },
    });
  }

  restore();

  /**
   * Rebuilds the queues from the entries `openMessagingRelay` loaded, oldest first, and arms the
   * sweep at the earliest expiry. Bounds are not applied: accepted mail is never dropped.
   */
  function restore(): void {
    const items: Queued[] = [];
    const ids = new Set<Uuid>();
    for (const entry of restored) {
      let messageId: Uuid | undefined;
      try {
        assertRelayQueueEntry(entry);
        messageId = entry.messageId;
        if (ids.has(messageId)) {
          throw new EnablementError('MS-400', `relay queue entry: message ${messageId} is stored twice`);
        }
        const envelope = decodeEnvelope(entry.envelope);
        items.push({
          envelope,
          wire: Object.freeze(structuredClone(entry.envelope)),
          acceptedAt: entry.acceptedAt,
          // The signed envelope's own TTL rules, not the copy the store kept beside it.
          expiresAt: envelopeExpiresAt(envelope),
          delivered: false,
        });
        ids.add(messageId);
      } catch (error) {
        // Skipped and left in the store (see openMessagingRelay): reported, never deleted.
        report(error, 'queue.load', messageId);
      }
    }
    // Stable: entries the store gave in one instant keep its order.
    items.sort((a, b) => (a.acceptedAt < b.acceptedAt ? -1 : a.acceptedAt > b.acceptedAt ? 1 : 0));
    let earliest: ConsensusTimestamp | undefined;
    for (const item of items) {
      insertQueued(item);
      const { kind, senderNhi, recipientNhi } = item.envelope;
      // The handshake was verified when accepted: its pair may go on unsigned (handshake-only).
      if (kind === 'handshake') remember(sessions, pairKey(senderNhi, recipientNhi), undefined, maxSessions);
      if (earliest === undefined || item.expiresAt < earliest) earliest = item.expiresAt;
    }
    if (earliest !== undefined) armSweep(earliest);
  }

  const relay: MessagingRelay = {
    challenge,
    connect,
    submit,
    queueDepth: (recipientNhi) => queues.get(recipientNhi)?.length ?? 0,
    sweepExpired,
    async whenIdle() {
      for (;;) {
        const pending = [...connections.values()].map((c) => c.draining).filter((p) => p !== undefined);
        if (pending.length === 0) return;
        await Promise.all(pending);
      }
    },
    stats: () =>
      Object.freeze({
        queued: queuedTotal,
        recipients: queues.size,
        connections: connections.size,
        sessions: sessions.size,
      }),
    async close() {
      closed = true;
      sweepTimer?.cancel();
      sweepTimer = undefined;
      for (const c of connections.values()) c.open = false;
      connections.clear();
    },
  };
  return Object.freeze(relay);
}
