import { EnablementError, parseOptions } from '@creto/core';
import { z } from 'zod';
import {
  MAX_PAGE_SIZE,
  MAX_TRANSITIONS_PER_REQUEST,
  MAX_VOTES_PER_REQUEST,
  type OversightRequestPage,
  type OversightRequestQuery,
  type OversightRequestRecord,
  type OversightStore,
  type OversightStoreChange,
  type OversightStoreWatcher,
  type StoredOversightRequest,
  type TransitionRecord,
} from './types.js';

/** Default bound of {@link MemoryOversightStoreOptions.maxRequests}. */
export const DEFAULT_MAX_STORED_REQUESTS = 100_000;

/** Largest `maxRequests` accepted. */
export const MAX_STORED_REQUESTS_LIMIT = 10_000_000;

/** Default page size of `list` and `listOpen`. */
export const DEFAULT_PAGE_SIZE = 100;

/** Most watchers of one in-memory store (engines sharing it); one more is refused (`PL-409`). */
export const MAX_STORE_WATCHERS = 64;

/** Options of {@link createMemoryOversightStore}. */
export interface MemoryOversightStoreOptions {
  /**
   * Most requests held, open and final together (default {@link DEFAULT_MAX_STORED_REQUESTS}).
   * At the bound, creating a request first forgets the request that became final longest ago
   * (with its votes and transitions; the audit log keeps the history); when every request held
   * is still open, `create` throws a retryable `PL-503` and stores nothing.
   */
  readonly maxRequests?: number;
}

/** The in-memory {@link OversightStore}, with counts for tests and monitoring. */
export interface MemoryOversightStore extends OversightStore {
  /** Change notifications to engines sharing this store object (always present here). */
  watch(listener: OversightStoreWatcher): Promise<() => void>;
  /** Requests held. */
  readonly size: number;
  /** Open requests held. */
  readonly openCount: number;
}

const optionsSchema = z.strictObject({
  maxRequests: z.number().int().min(1).max(MAX_STORED_REQUESTS_LIMIT).optional(),
});

interface Entry {
  readonly seq: number;
  stored: StoredOversightRequest;
}

const isOpen = (record: OversightRequestRecord) => record.state === 'PENDING' || record.state === 'ESCALATED';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** A private, frozen copy: later changes to the caller's objects never reach the store. */
function snapshot<T>(value: T): T {
  return deepFreeze(structuredClone(value));
}

function pageSize(limit: unknown): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new EnablementError('OV-400', `limit: expected an integer in [1, ${MAX_PAGE_SIZE}]`);
  }
  return limit;
}

function cursorSeq(cursor: unknown): number {
  if (cursor === undefined) return 0;
  if (typeof cursor !== 'string' || !/^[0-9]{1,15}$/.test(cursor)) {
    throw new EnablementError('OV-400', 'cursor: expected the nextCursor of a previous page');
  }
  return Number(cursor);
}

function malformed(why: string): EnablementError {
  return new EnablementError('PL-400', `oversight store: ${why}`);
}

function checkTransition(transition: TransitionRecord, requestId: string, seq: number): void {
  if (transition.requestId !== requestId) throw malformed('transition of another request');
  if (transition.seq !== seq) throw malformed(`transition seq ${transition.seq}, expected ${seq}`);
}

/**
 * An {@link OversightStore} in memory: a bounded map of immutable snapshots. Every record, vote
 * and transition is copied in (`structuredClone`) and frozen, so what it returns can be shared
 * and what callers later change never reaches it. Requests survive an engine restart as long as
 * the store object does (tests, one process); use a SQL store to survive the process. Engines
 * sharing one store object see each other's changes through `watch` (told on the next
 * microtask after each create and commit).
 *
 * @example
 * ```ts
 * const store = createMemoryOversightStore({ maxRequests: 50_000 });
 * const oversight = createOversight({ ...services, store });
 * ```
 */
export function createMemoryOversightStore(options: MemoryOversightStoreOptions = {}): MemoryOversightStore {
  const parsed = parseOptions(optionsSchema, options, 'createMemoryOversightStore');
  const maxRequests = parsed.maxRequests ?? DEFAULT_MAX_STORED_REQUESTS;
  const entries = new Map<string, Entry>();
  // Open ids in creation order; final ids in the order they became final (eviction order).
  const open = new Set<string>();
  const finals = new Set<string>();
  let nextSeq = 1;
  const watchers = new Set<OversightStoreWatcher>();

  /** Tells the watchers after the change is in place (never inside the caller's await). */
  const announce = (requestId: string, version: number): void => {
    if (watchers.size === 0) return;
    const change = Object.freeze({ requestId, version });
    queueMicrotask(() => {
      for (const watcher of [...watchers]) {
        try {
          watcher(change);
        } catch {
          // One failing watcher must not keep the change from the others.
        }
      }
    });
  };

  const makeRoom = (): void => {
    if (entries.size < maxRequests) return;
    const oldest = finals.values().next();
    if (oldest.done === true) {
      throw new EnablementError(
        'PL-503',
        `oversight store is full (${maxRequests} open requests); nothing was stored`,
        { retryable: true },
      );
    }
    finals.delete(oldest.value);
    entries.delete(oldest.value);
  };

  const page = (
    ids: Iterable<string>,
    query: { readonly limit?: number; readonly cursor?: string },
    keep: (entry: Entry) => boolean,
  ): OversightRequestPage => {
    const limit = pageSize(query.limit);
    const after = cursorSeq(query.cursor);
    const records: OversightRequestRecord[] = [];
    let last = 0;
    let more = false;
    for (const id of ids) {
      const entry = entries.get(id);
      if (entry === undefined || entry.seq <= after || !keep(entry)) continue;
      if (records.length === limit) {
        more = true;
        break;
      }
      records.push(entry.stored.record);
      last = entry.seq;
    }
    return more ? { records, nextCursor: String(last) } : { records };
  };

  return {
    async create(record: OversightRequestRecord, transition: TransitionRecord): Promise<void> {
      if (typeof record !== 'object' || record === null) throw malformed('record: expected an object');
      if (entries.has(record.requestId)) {
        throw new EnablementError('PL-409', `oversight request ${record.requestId} already exists`);
      }
      if (record.version !== 1) throw malformed('a new record has version 1');
      checkTransition(transition, record.requestId, 1);
      makeRoom();
      const stored: StoredOversightRequest = snapshot({ record, votes: [], transitions: [transition] });
      entries.set(record.requestId, { seq: nextSeq++, stored });
      (isOpen(record) ? open : finals).add(record.requestId);
      announce(record.requestId, 1);
    },

    async get(requestId: string): Promise<StoredOversightRequest | undefined> {
      return entries.get(requestId)?.stored;
    },

    async commit(change: OversightStoreChange): Promise<void> {
      if (typeof change !== 'object' || change === null) throw malformed('change: expected an object');
      const { requestId, expectedVersion, record } = change;
      const entry = entries.get(requestId);
      if (entry === undefined)
        throw new EnablementError('OV-404', `oversight request ${requestId} not found`);
      const current = entry.stored;
      if (current.record.version !== expectedVersion) {
        throw new EnablementError(
          'PL-409',
          `oversight request ${requestId} changed (version ${current.record.version}, expected ${expectedVersion})`,
          { retryable: true },
        );
      }
      if (record.requestId !== requestId || record.version !== expectedVersion + 1) {
        throw malformed('the new record must keep the id and have version expectedVersion + 1');
      }
      const votes = change.votes ?? [];
      const transitions = change.transitions ?? [];
      if (current.votes.length + votes.length > MAX_VOTES_PER_REQUEST) {
        throw new EnablementError('PL-409', `more than ${MAX_VOTES_PER_REQUEST} votes on one request`);
      }
      if (current.transitions.length + transitions.length > MAX_TRANSITIONS_PER_REQUEST) {
        throw new EnablementError(
          'PL-409',
          `more than ${MAX_TRANSITIONS_PER_REQUEST} transitions on one request`,
        );
      }
      for (const vote of votes) {
        if (vote.requestId !== requestId) throw malformed('vote of another request');
        if (current.votes.some((v) => v.approver === vote.approver)) {
          throw malformed(`a second vote by ${vote.approver}`);
        }
      }
      transitions.forEach((t, i) => {
        checkTransition(t, requestId, current.transitions.length + 1 + i);
      });
      // The request payload and rules never change after creation: when the new record carries
      // the stored (frozen) objects, they are kept instead of copied again.
      const kept = record.request === current.record.request && record.rules === current.record.rules;
      const next: StoredOversightRequest = kept
        ? (() => {
            const { request: _request, rules: _rules, ...rest } = record;
            const copy = snapshot({ record: rest, votes, transitions });
            return {
              ...copy,
              record: Object.freeze({
                ...copy.record,
                request: current.record.request,
                rules: current.record.rules,
              }),
            };
          })()
        : snapshot({ record, votes, transitions });
      entry.stored = Object.freeze({
        record: next.record,
        votes: Object.freeze([...current.votes, ...next.votes]),
        transitions: Object.freeze([...current.transitions, ...next.transitions]),
      });
      if (isOpen(record)) {
        open.add(requestId);
      } else if (open.delete(requestId) || !finals.has(requestId)) {
        finals.add(requestId);
      }
      announce(requestId, record.version);
    },

    async list(query: OversightRequestQuery): Promise<OversightRequestPage> {
      if (typeof query !== 'object' || query === null)
        throw new EnablementError('OV-400', 'query: expected an object');
      const { state, agent, approver } = query;
      return page(entries.keys(), query, ({ stored }) => {
        const { record } = stored;
        if (state !== undefined && record.state !== state) return false;
        if (agent !== undefined && record.request.agentNhi !== agent) return false;
        if (approver !== undefined) {
          const named = record.request.requirement.tiers.some((tier) => tier.approvers.includes(approver));
          if (!named && !stored.votes.some((vote) => vote.approver === approver)) return false;
        }
        return true;
      });
    },

    async listOpen(query: {
      readonly limit?: number;
      readonly cursor?: string;
    }): Promise<OversightRequestPage> {
      if (typeof query !== 'object' || query === null)
        throw new EnablementError('OV-400', 'query: expected an object');
      return page(open, query, () => true);
    },

    async watch(listener: OversightStoreWatcher): Promise<() => void> {
      if (typeof listener !== 'function') throw malformed('watch: listener must be a function');
      if (watchers.size >= MAX_STORE_WATCHERS) {
        throw new EnablementError('PL-409', `oversight store: at most ${MAX_STORE_WATCHERS} watchers`);
      }
      const own: OversightStoreWatcher = (change) => listener(change);
      watchers.add(own);
      return () => {
        watchers.delete(own);
      };
    },

    get size(): number {
      return entries.size;
    },

    get openCount(): number {
      return open.size;
    },
  };
}
