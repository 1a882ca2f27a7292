import { EnablementError, OVERSIGHT_STATES, type OversightState, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { SqlClient, SqlExecutor } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { decodeDocument, encodeDocument } from '../sql/document.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText } from '../sql/text.js';

// Oversight's `OversightStore` port, declared here structurally (this package imports only
// `@creto/core`). The store reads the few fields it indexes; everything else in a record, vote or
// transition is kept as an opaque document and handed back equal (bigints, Decimals, bytes and
// `undefined` included). Instantiate with oversight's own record types, e.g.
// `createPostgresOversightStore<OversightRequestRecord, VoteRecord, TransitionRecord>(…)`, and the
// result is assignable to its `OversightStore`.

/** What the store reads from a request record. */
export interface OversightRecordLike {
  /** The request id. */
  readonly requestId: string;
  /** 1 at creation, +1 on every commit (optimistic concurrency). */
  readonly version: number;
  /** Current state. */
  readonly state: OversightState;
  /** When the current tier times out (Unix ns); `undefined` once final. */
  readonly deadlineAt: bigint | undefined;
  /** The request: its agent and the approvers its tiers name. */
  readonly request: {
    /** The agent asking. */
    readonly agentNhi: string;
    /** Its tiers. */
    readonly requirement: { readonly tiers: readonly { readonly approvers: readonly string[] }[] };
  };
}

/** What the store reads from a vote. */
export interface OversightVoteLike {
  /** The request voted on. */
  readonly requestId: string;
  /** The approver (one vote per approver and request). */
  readonly approver: string;
}

/** What the store reads from a transition. */
export interface OversightTransitionLike {
  /** The request. */
  readonly requestId: string;
  /** 1 for the creation, then +1 per transition. */
  readonly seq: number;
}

/** A request with its votes and transitions, in order. */
export interface StoredOversightRequestLike<R, V, T> {
  /** The request row. */
  readonly record: R;
  /** Its votes, in acceptance order. */
  readonly votes: readonly V[];
  /** Its transitions, by `seq`. */
  readonly transitions: readonly T[];
}

/** One atomic change: the new record (version `expectedVersion + 1`) and rows to append. */
export interface OversightStoreChangeLike<R, V, T> {
  /** The request. */
  readonly requestId: string;
  /** The version the change was computed from. */
  readonly expectedVersion: number;
  /** The new record. */
  readonly record: R;
  /** Votes to append. */
  readonly votes?: readonly V[];
  /** Transitions to append. */
  readonly transitions?: readonly T[];
}

/** A query of {@link OversightStoreLike.list}. */
export interface OversightRequestQueryLike {
  /** Only requests in this state. */
  readonly state?: OversightState;
  /** Only requests of this agent NHI. */
  readonly agent?: string;
  /** Only requests whose tiers name this approver entry literally, or that it voted on. */
  readonly approver?: string;
  /** Page size, 1 to {@link MAX_OVERSIGHT_PAGE_SIZE} (default {@link DEFAULT_OVERSIGHT_PAGE_SIZE}). */
  readonly limit?: number;
  /** Where the previous page ended (its `nextCursor`). */
  readonly cursor?: string;
}

/** One page of records, in creation order. */
export interface OversightRequestPageLike<R> {
  /** The records. */
  readonly records: readonly R[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** Oversight's `OversightStore` port, over the record, vote and transition types given. */
export interface OversightStoreLike<
  R extends OversightRecordLike,
  V extends OversightVoteLike,
  T extends OversightTransitionLike,
> {
  /** Inserts a new request (version 1) with its creation transition. */
  create(record: R, transition: T): Promise<void>;
  /** The request with its votes and transitions, or `undefined`. */
  get(requestId: string): Promise<StoredOversightRequestLike<R, V, T> | undefined>;
  /** Applies one change atomically, if the request is still at `expectedVersion`. */
  commit(change: OversightStoreChangeLike<R, V, T>): Promise<void>;
  /** Requests matching the query, in creation order, one bounded page at a time. */
  list(query: OversightRequestQueryLike): Promise<OversightRequestPageLike<R>>;
  /** Open requests (`PENDING`, `ESCALATED`), in creation order, one page at a time (recovery). */
  listOpen(query: {
    readonly limit?: number;
    readonly cursor?: string;
  }): Promise<OversightRequestPageLike<R>>;
  /**
   * Tells `listener` (at least once, best effort) about every create and commit on the store,
   * by any process, after it is committed: the request and its new version. Resolves once
   * notifications are in force, to the function that ends the subscription. Absent when the
   * client cannot `listen`.
   */
  watch?(
    listener: (change: { readonly requestId: string; readonly version: number }) => void,
  ): Promise<() => void>;
}

/** Most votes stored for one request (as oversight's `MAX_VOTES_PER_REQUEST`). */
export const MAX_OVERSIGHT_VOTES_PER_REQUEST = 256;
/** Most transitions stored for one request (as oversight's `MAX_TRANSITIONS_PER_REQUEST`). */
export const MAX_OVERSIGHT_TRANSITIONS_PER_REQUEST = 32;
/** Largest page of `list` and `listOpen` (as oversight's `MAX_PAGE_SIZE`). */
export const MAX_OVERSIGHT_PAGE_SIZE = 1000;
/** Default page size of `list` and `listOpen`. */
export const DEFAULT_OVERSIGHT_PAGE_SIZE = 100;
/** Largest encoded record, vote or transition accepted: 1 MiB of JSON. */
export const MAX_OVERSIGHT_DOCUMENT_LENGTH = 1_048_576;

/** Options of {@link createPostgresOversightStore}. */
export interface PostgresOversightStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Most requests kept, open and final together. Absent (the default): no count, the table is
   * bounded by the disk. When set, the semantics of the in-memory store: creating a request at the
   * bound first deletes the request that became final longest ago (with its votes and
   * transitions; the audit log keeps the history), and when every request is open, `create`
   * throws a retryable `PL-503` and stores nothing.
   */
  readonly maxRequests?: number;
}

const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  maxRequests: z.number().int().min(1).max(1_000_000_000).optional(),
});

const WHAT = 'oversight store';
const OPEN_STATES: readonly OversightState[] = ['PENDING', 'ESCALATED'];

function malformed(why: string): EnablementError {
  return new EnablementError('PL-400', `${WHAT}: ${why}`);
}

function pageSize(limit: unknown): number {
  if (limit === undefined) return DEFAULT_OVERSIGHT_PAGE_SIZE;
  if (
    typeof limit !== 'number' ||
    !Number.isSafeInteger(limit) ||
    limit < 1 ||
    limit > MAX_OVERSIGHT_PAGE_SIZE
  ) {
    throw new EnablementError('OV-400', `limit: expected an integer in [1, ${MAX_OVERSIGHT_PAGE_SIZE}]`);
  }
  return limit;
}

function cursorSeq(cursor: unknown): bigint {
  if (cursor === undefined) return 0n;
  if (typeof cursor !== 'string' || !/^[0-9]{1,15}$/.test(cursor)) {
    throw new EnablementError('OV-400', 'cursor: expected the nextCursor of a previous page');
  }
  return BigInt(cursor);
}

/** Checks what the store reads from a record, returning the indexed columns. */
function columnsOf(record: unknown) {
  if (typeof record !== 'object' || record === null) throw malformed('record: expected an object');
  const r = record as OversightRecordLike;
  assertStorableText(r.requestId, 'record.requestId', { max: 256, code: 'PL-400', what: WHAT });
  if (!Number.isSafeInteger(r.version) || r.version < 1)
    throw malformed('record.version: expected a positive integer');
  if (!OVERSIGHT_STATES.includes(r.state)) throw malformed('record.state: expected an oversight state');
  if (r.deadlineAt !== undefined && typeof r.deadlineAt !== 'bigint') {
    throw malformed('record.deadlineAt: expected a bigint or undefined');
  }
  const agent = r.request?.agentNhi;
  assertStorableText(agent, 'record.request.agentNhi', { max: 1024, code: 'PL-400', what: WHAT });
  const tiers = r.request?.requirement?.tiers;
  if (!Array.isArray(tiers)) throw malformed('record.request.requirement.tiers: expected an array');
  const approvers = new Set<string>();
  for (const tier of tiers as readonly { readonly approvers?: unknown }[]) {
    if (!Array.isArray(tier?.approvers))
      throw malformed('record.request.requirement.tiers[].approvers: expected an array');
    for (const approver of tier.approvers) {
      assertStorableText(approver, 'approver', { max: 1024, code: 'PL-400', what: WHAT });
      approvers.add(approver);
    }
  }
  return {
    requestId: r.requestId,
    version: r.version,
    state: r.state,
    deadlineAt: r.deadlineAt,
    agent,
    approvers,
  };
}

function encode(value: unknown, what: string): string {
  const text = encodeDocument(value, `${WHAT}: ${what}`);
  if (text.length > MAX_OVERSIGHT_DOCUMENT_LENGTH) {
    throw malformed(`${what} is longer than ${MAX_OVERSIGHT_DOCUMENT_LENGTH} characters of JSON`);
  }
  return text;
}

/** Most watchers of one store object; one more is refused (`PL-409`). */
export const MAX_OVERSIGHT_WATCHERS = 64;

/** FNV-1a (32 bits) of `text`, in hex: a short, stable tag for a long schema name. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * The notification channel of `schema`'s oversight tables: `creto_oversight_<schema>`, or for a
 * schema too long for a 63-character identifier, a prefix of it and a hash. Two schemas sharing
 * a channel only cost spurious notifications (an id the other store does not hold).
 */
export function oversightChannel(schema: string): string {
  const plain = `creto_oversight_${schema}`;
  if (plain.length <= 63) return plain;
  return `creto_oversight_${schema.slice(0, 63 - 'creto_oversight_'.length - 9)}_${fnv1a(schema)}`;
}

/** Parses a `requestId:version` payload; `undefined` for anything else (ignored). */
function parseChange(payload: string): { readonly requestId: string; readonly version: number } | undefined {
  const colon = payload.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const digits = payload.slice(colon + 1);
  if (!/^[1-9][0-9]{0,14}$/.test(digits)) return undefined;
  return { requestId: payload.slice(0, colon), version: Number(digits) };
}

type RequestRow = { seq: bigint; record: string };
type FullRow = { record: string; votes: string; transitions: string };
type CurrentRow = { version: number; votes: bigint; transitions: bigint; final_seq: bigint | null };

/**
 * Oversight's `OversightStore` port in PostgreSQL or PGlite: `<schema>.oversight_requests` (the
 * record as a document beside indexed state, agent, approvers and deadline columns),
 * `oversight_votes` and `oversight_transitions`. Every method is one statement or one
 * transaction, so a change is all-or-nothing and durable once it resolves:
 *
 * - `commit` locks the request row (`SELECT … FOR UPDATE`), checks `expectedVersion` (a moved
 *   version is a retryable `PL-409`: another engine changed the request; re-read and re-apply),
 *   then writes the new record, the votes and the transitions together. Two engines racing on one
 *   request: exactly one commit wins.
 * - `get` reads a request, its votes and its transitions in one statement (one snapshot).
 * - `list` and `listOpen` page in creation order with an opaque cursor.
 * - `watch` (when the client can `listen`): every create and commit sends `NOTIFY` on the
 *   schema's channel (`oversightChannel`) with the payload `requestId:version` inside its
 *   transaction, so it is delivered only once committed, to every process listening. Engines on
 *   one database wake each other's `awaitApproval` waiters and schedule each other's deadlines
 *   with it. Best effort: a notification lost while a listening connection is down only delays
 *   a waiter to its own timeout and a deadline to the engine that holds it (or to recovery).
 *
 * Errors and bounds as the in-memory store: `OV-404` unknown request on commit, `PL-409` an
 * existing id on create, `PL-400` a malformed change, `OV-400` a bad page query, 256 votes and
 * 32 transitions per request (`PL-409`), `maxRequests` (see its doc). The records hold override
 * tokens, bearer credentials until used: protect the database accordingly.
 *
 * @example
 * ```ts
 * const store = createPostgresOversightStore<OversightRequestRecord, VoteRecord, TransitionRecord>({ client });
 * const oversight = createOversight({ ...services, store });
 * ```
 */
export function createPostgresOversightStore<
  R extends OversightRecordLike = OversightRecordLike,
  V extends OversightVoteLike = OversightVoteLike,
  T extends OversightTransitionLike = OversightTransitionLike,
>(options: PostgresOversightStoreOptions): OversightStoreLike<R, V, T> {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresOversightStore');
  const { client, maxRequests } = parsed;
  const schema = quoteSchema(parsed.schema ?? DEFAULT_SCHEMA);
  const requests = qualified(schema, 'oversight_requests');
  const votes = qualified(schema, 'oversight_votes');
  const transitions = qualified(schema, 'oversight_transitions');
  const finalSeq = qualified(schema, 'oversight_final_seq');
  const channel = oversightChannel(parsed.schema ?? DEFAULT_SCHEMA);
  // Sent inside the committing transaction: PostgreSQL delivers it only if that commits.
  const notify = (tx: SqlExecutor, requestId: string, version: number) =>
    tx.query('SELECT pg_notify($1, $2)', [channel, `${requestId}:${version}`]);
  const watchers = new Set<(change: { readonly requestId: string; readonly version: number }) => void>();
  let listening: Promise<() => Promise<void>> | undefined;
  const dispatch = (payload: string) => {
    const change = parseChange(payload);
    if (change === undefined) return;
    for (const watcher of [...watchers]) {
      try {
        watcher(change);
      } catch {
        // One failing watcher must not keep the change from the others.
      }
    }
  };
  const nextFinal = (state: OversightState) =>
    OPEN_STATES.includes(state) ? 'NULL::bigint' : `nextval('${finalSeq.replaceAll("'", "''")}')`;

  async function makeRoom(tx: SqlExecutor, bound: number): Promise<void> {
    // One creator at a time counts, so the bound holds across processes.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), 0)', [requests]);
    const { rows } = await tx.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${requests}`);
    if ((rows[0]?.n ?? 0n) < BigInt(bound)) return;
    const evicted = await tx.query(
      `DELETE FROM ${requests} WHERE request_id = (
         SELECT request_id FROM ${requests} WHERE final_seq IS NOT NULL ORDER BY final_seq LIMIT 1)`,
    );
    if (evicted.rowCount === 0) {
      throw new EnablementError('PL-503', `${WHAT} is full (${bound} open requests); nothing was stored`, {
        retryable: true,
      });
    }
  }

  async function page(
    where: string,
    params: (string | bigint | null)[],
    query: { readonly limit?: number; readonly cursor?: string },
  ): Promise<OversightRequestPageLike<R>> {
    const limit = pageSize(query.limit);
    const after = cursorSeq(query.cursor);
    const { rows } = await client.query<RequestRow>(
      `SELECT r.seq, r.record FROM ${requests} r WHERE r.seq > $1 AND ${where} ORDER BY r.seq LIMIT $2`,
      [after, limit + 1, ...params],
    );
    const records = rows.slice(0, limit).map((row) => decodeDocument<R>(row.record, WHAT));
    const last = rows[limit - 1];
    return rows.length > limit && last !== undefined
      ? { records, nextCursor: String(last.seq) }
      : { records };
  }

  const listen = client.listen?.bind(client);
  const watch =
    listen === undefined
      ? {}
      : {
          async watch(
            listener: (change: { readonly requestId: string; readonly version: number }) => void,
          ): Promise<() => void> {
            if (typeof listener !== 'function') throw malformed('watch: listener must be a function');
            if (watchers.size >= MAX_OVERSIGHT_WATCHERS) {
              throw new EnablementError('PL-409', `${WHAT}: at most ${MAX_OVERSIGHT_WATCHERS} watchers`);
            }
            // One LISTEN per store object, shared by its watchers.
            if (listening === undefined) {
              const attempt = listen(channel, dispatch);
              listening = attempt;
              attempt.catch(() => {
                if (listening === attempt) listening = undefined;
              });
            }
            const own = (change: { readonly requestId: string; readonly version: number }) =>
              listener(change);
            watchers.add(own);
            try {
              await listening;
            } catch (error) {
              watchers.delete(own);
              throw error;
            }
            return () => {
              if (!watchers.delete(own) || watchers.size > 0) return;
              const current = listening;
              listening = undefined;
              void current?.then(
                (unlisten) => unlisten(),
                () => undefined,
              );
            };
          },
        };

  return Object.freeze({
    ...watch,
    async create(record: R, transition: T): Promise<void> {
      const c = columnsOf(record);
      if (c.version !== 1) throw malformed('a new record has version 1');
      if (typeof transition !== 'object' || transition === null)
        throw malformed('transition: expected an object');
      if (transition.requestId !== c.requestId) throw malformed('transition of another request');
      if (transition.seq !== 1) throw malformed(`transition seq ${transition.seq}, expected 1`);
      const recordText = encode(record, 'record');
      const transitionText = encode(transition, 'transition');
      await client.transaction(async (tx) => {
        if (maxRequests !== undefined) await makeRoom(tx, maxRequests);
        const inserted = await tx.query(
          `INSERT INTO ${requests} (request_id, version, state, agent_nhi, approvers, deadline_at, final_seq, record)
           VALUES ($1, 1, $2, $3, ARRAY(SELECT json_array_elements_text($4::json)), $5, ${nextFinal(c.state)}, $6)
           ON CONFLICT (request_id) DO NOTHING`,
          [c.requestId, c.state, c.agent, JSON.stringify([...c.approvers]), c.deadlineAt ?? null, recordText],
        );
        if (inserted.rowCount !== 1) {
          throw new EnablementError('PL-409', `oversight request ${c.requestId} already exists`);
        }
        await tx.query(`INSERT INTO ${transitions} (request_id, seq, transition) VALUES ($1, 1, $2)`, [
          c.requestId,
          transitionText,
        ]);
        await notify(tx, c.requestId, 1);
      });
    },

    async get(requestId: string): Promise<StoredOversightRequestLike<R, V, T> | undefined> {
      if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 256) return undefined;
      // One statement: the record, its votes and its transitions from one snapshot.
      const { rows } = await client.query<FullRow>(
        `SELECT r.record,
           COALESCE((SELECT json_agg(v.vote ORDER BY v.position) FROM ${votes} v WHERE v.request_id = r.request_id), '[]') AS votes,
           COALESCE((SELECT json_agg(t.transition ORDER BY t.seq) FROM ${transitions} t WHERE t.request_id = r.request_id), '[]') AS transitions
         FROM ${requests} r WHERE r.request_id = $1`,
        [requestId],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      const list = <X>(json: string) =>
        (JSON.parse(json) as string[]).map((text) => decodeDocument<X>(text, WHAT));
      return Object.freeze({
        record: decodeDocument<R>(row.record, WHAT),
        votes: Object.freeze(list<V>(row.votes)),
        transitions: Object.freeze(list<T>(row.transitions)),
      });
    },

    async commit(change: OversightStoreChangeLike<R, V, T>): Promise<void> {
      if (typeof change !== 'object' || change === null) throw malformed('change: expected an object');
      const { requestId, expectedVersion, record } = change;
      if (typeof requestId !== 'string') throw malformed('change.requestId: expected a string');
      const c = columnsOf(record);
      const newVotes = change.votes ?? [];
      const newTransitions = change.transitions ?? [];
      if (!Array.isArray(newVotes) || !Array.isArray(newTransitions)) {
        throw malformed('change.votes and change.transitions: expected arrays');
      }
      const recordText = encode(record, 'record');
      const voteTexts = newVotes.map((vote) => encode(vote, 'vote'));
      const transitionTexts = newTransitions.map((t) => encode(t, 'transition'));
      await client.transaction(async (tx) => {
        const { rows } = await tx.query<CurrentRow>(
          `SELECT r.version, r.final_seq,
             (SELECT count(*) FROM ${votes} v WHERE v.request_id = r.request_id) AS votes,
             (SELECT count(*) FROM ${transitions} t WHERE t.request_id = r.request_id) AS transitions
           FROM ${requests} r WHERE r.request_id = $1 FOR UPDATE OF r`,
          [requestId],
        );
        const current = rows[0];
        if (current === undefined)
          throw new EnablementError('OV-404', `oversight request ${requestId} not found`);
        if (current.version !== expectedVersion) {
          throw new EnablementError(
            'PL-409',
            `oversight request ${requestId} changed (version ${current.version}, expected ${expectedVersion})`,
            { retryable: true },
          );
        }
        if (c.requestId !== requestId || c.version !== expectedVersion + 1) {
          throw malformed('the new record must keep the id and have version expectedVersion + 1');
        }
        const voteCount = Number(current.votes);
        const transitionCount = Number(current.transitions);
        if (voteCount + newVotes.length > MAX_OVERSIGHT_VOTES_PER_REQUEST) {
          throw new EnablementError(
            'PL-409',
            `more than ${MAX_OVERSIGHT_VOTES_PER_REQUEST} votes on one request`,
          );
        }
        if (transitionCount + newTransitions.length > MAX_OVERSIGHT_TRANSITIONS_PER_REQUEST) {
          throw new EnablementError(
            'PL-409',
            `more than ${MAX_OVERSIGHT_TRANSITIONS_PER_REQUEST} transitions on one request`,
          );
        }
        const voters = new Set(
          (
            await tx.query<{ approver: string }>(`SELECT approver FROM ${votes} WHERE request_id = $1`, [
              requestId,
            ])
          ).rows.map((r) => r.approver),
        );
        for (const vote of newVotes) {
          if (typeof vote !== 'object' || vote === null || vote.requestId !== requestId) {
            throw malformed('vote of another request');
          }
          assertStorableText(vote.approver, 'vote.approver', { max: 1024, code: 'PL-400', what: WHAT });
          if (voters.has(vote.approver)) throw malformed(`a second vote by ${vote.approver}`);
          voters.add(vote.approver);
        }
        newTransitions.forEach((t, i) => {
          if (typeof t !== 'object' || t === null || t.requestId !== requestId) {
            throw malformed('transition of another request');
          }
          const expected = transitionCount + 1 + i;
          if (t.seq !== expected) throw malformed(`transition seq ${t.seq}, expected ${expected}`);
        });
        const becameFinal = current.final_seq === null ? nextFinal(c.state) : 'final_seq';
        await tx.query(
          `UPDATE ${requests}
             SET version = $2, state = $3, approvers = ARRAY(SELECT json_array_elements_text($4::json)),
                 deadline_at = $5, record = $6,
                 final_seq = CASE WHEN $3 IN ('PENDING', 'ESCALATED') THEN NULL::bigint ELSE ${becameFinal} END
           WHERE request_id = $1`,
          [requestId, c.version, c.state, JSON.stringify([...c.approvers]), c.deadlineAt ?? null, recordText],
        );
        for (const [i, text] of voteTexts.entries()) {
          await tx.query(
            `INSERT INTO ${votes} (request_id, position, approver, vote) VALUES ($1, $2, $3, $4)`,
            [requestId, voteCount + i, (newVotes[i] as V).approver, text],
          );
        }
        for (const [i, text] of transitionTexts.entries()) {
          await tx.query(`INSERT INTO ${transitions} (request_id, seq, transition) VALUES ($1, $2, $3)`, [
            requestId,
            transitionCount + 1 + i,
            text,
          ]);
        }
        await notify(tx, requestId, c.version);
      });
    },

    async list(query: OversightRequestQueryLike): Promise<OversightRequestPageLike<R>> {
      if (typeof query !== 'object' || query === null)
        throw new EnablementError('OV-400', 'query: expected an object');
      const { state, agent, approver } = query;
      if (state !== undefined && !OVERSIGHT_STATES.includes(state)) {
        throw new EnablementError('OV-400', 'state: expected an oversight state');
      }
      for (const [field, value] of [
        ['agent', agent],
        ['approver', approver],
      ] as const) {
        if (value !== undefined) assertStorableText(value, field, { max: 1024, code: 'OV-400', what: WHAT });
      }
      return page(
        `($3::text IS NULL OR r.state = $3)
         AND ($4::text IS NULL OR r.agent_nhi = $4)
         AND ($5::text IS NULL OR $5 = ANY (r.approvers)
              OR EXISTS (SELECT 1 FROM ${votes} v WHERE v.request_id = r.request_id AND v.approver = $5))`,
        [state ?? null, agent ?? null, approver ?? null],
        query,
      );
    },

    async listOpen(query: {
      readonly limit?: number;
      readonly cursor?: string;
    }): Promise<OversightRequestPageLike<R>> {
      if (typeof query !== 'object' || query === null)
        throw new EnablementError('OV-400', 'query: expected an object');
      return page(`r.state IN ('PENDING', 'ESCALATED')`, [], query);
    },
  });
}
