import { Decimal, EnablementError, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { SqlClient, SqlExecutor } from '../sql/client.js';
import { sqlClientSchema } from '../sql/client-schema.js';
import { decodeDocument, encodeDocument } from '../sql/document.js';
import { DEFAULT_SCHEMA, qualified, quoteSchema, schemaNameSchema } from '../sql/identifiers.js';
import { assertStorableText } from '../sql/text.js';
import { withUnavailableAs } from '../sql/unavailable.js';
import type {
  AggregateStateLike,
  BucketAggregateQueryLike,
  BucketAggregateRowLike,
  CommitResultLike,
  EventCommitLike,
  EventQueryLike,
  MeasurementLike,
  MeterAggregationLike,
  MeteringDocumentTypes,
  MeteringStoreLike,
  PeriodAggregateQueryLike,
  PeriodAggregateRowLike,
  PutInvoiceResultLike,
  StoredUsageEventLike,
} from './types.js';

const DAY_MS = 86_400_000;
const NS_PER_MS = 1_000_000n;
const PRUNE_EVERY_NS = 60_000_000_000n;

/** Most distinct values one `unique_count` aggregate remembers (as metering's `MAX_DISTINCT_VALUES`). */
export const MAX_METERING_DISTINCT_VALUES = 100_000;
/** Largest page of `listEvents` (as the in-memory store). */
export const MAX_METERING_EVENT_PAGE = 1000;
/** Largest encoded document (plan, subscription, quota, invoice, event) accepted: 4 MiB of JSON. */
export const MAX_METERING_DOCUMENT_LENGTH = 4_194_304;
/** Defaults of {@link PostgresMeteringStoreOptions}, as the in-memory store's retentions. */
export const POSTGRES_METERING_DEFAULTS = Object.freeze({
  eventRetentionMs: 7 * DAY_MS,
  bucketRetentionMs: 35 * DAY_MS,
});

/** Options of {@link createPostgresMeteringStore}. */
export interface PostgresMeteringStoreOptions {
  /** The database (`createPgClient` or `createPGliteClient`), migrated with `migrate`. */
  readonly client: SqlClient;
  /** Schema holding the tables ({@link DEFAULT_SCHEMA} by default). */
  readonly schema?: string;
  /**
   * Raw events older than this (by ingestion) are deleted as new events arrive, at most once a
   * minute of ingestion time per store (7 days).
   */
  readonly eventRetentionMs?: number;
  /** Minute buckets older than this are deleted as new events arrive (35 days). */
  readonly bucketRetentionMs?: number;
}

/** The PostgreSQL metering store, plus housekeeping. */
export interface PostgresMeteringStore<D extends MeteringDocumentTypes = MeteringDocumentTypes>
  extends MeteringStoreLike<D> {
  /**
   * Deletes up to `limit` deduplication keys and up to `limit` fire-once markers expired at `now`
   * (default 10 000 each) and returns how many rows went. Expired rows are already ignored (and
   * reused in place); purging reclaims space, from a periodic job.
   */
  purgeExpired(now: bigint, limit?: number): Promise<number>;
}

const retention = z
  .number()
  .int()
  .min(0)
  .max(3650 * DAY_MS)
  .optional();
const optionsSchema = z.strictObject({
  client: sqlClientSchema,
  schema: schemaNameSchema.optional(),
  eventRetentionMs: retention,
  bucketRetentionMs: retention,
});

const WHAT = 'metering store';

function invalid(why: string): EnablementError {
  return new EnablementError('MT-400', `${WHAT}: ${why}`);
}

const text = (value: unknown, field: string, max = 1024): string => {
  assertStorableText(value, field, { max, code: 'MT-400', what: WHAT });
  return value;
};

const instant = (value: unknown, field: string): bigint => {
  if (typeof value !== 'bigint') throw invalid(`${field}: expected a bigint (Unix ns)`);
  return value;
};

const AGGREGATIONS: readonly MeterAggregationLike[] = ['sum', 'count', 'max', 'unique_count', 'latest'];

function checkMeasurement(m: unknown, index: number): MeasurementLike {
  if (typeof m !== 'object' || m === null) throw invalid(`measurements[${index}]: expected an object`);
  const measurement = m as MeasurementLike;
  text(measurement.meterId, `measurements[${index}].meterId`);
  text(measurement.groupKey, `measurements[${index}].groupKey`, 65_536);
  if (!AGGREGATIONS.includes(measurement.aggregation)) {
    throw invalid(`measurements[${index}].aggregation: expected one of ${AGGREGATIONS.join(', ')}`);
  }
  if (!Decimal.isDecimal(measurement.value))
    throw invalid(`measurements[${index}].value: expected a Decimal`);
  if (measurement.distinct !== undefined)
    text(measurement.distinct, `measurements[${index}].distinct`, 65_536);
  return measurement;
}

/** Re-raises an unavailable database as `MT-503` (retryable). */
const guarded = <T>(operation: () => Promise<T>): Promise<T> => withUnavailableAs('MT-503', WHAT, operation);

type AggregateRow = {
  subscription_id: string;
  meter_id: string;
  agent_nhi: string;
  group_key: string;
  groups: string;
  aggregation: MeterAggregationLike;
  events: bigint;
  value: string;
  latest_at: bigint;
  distinct_count: number;
  distinct_values: string | null;
};

function stateOf(row: AggregateRow): AggregateStateLike {
  let value: Decimal;
  if (row.aggregation === 'count') value = Decimal.from(row.events);
  else if (row.aggregation === 'unique_count') value = Decimal.from(BigInt(row.distinct_count));
  else value = Decimal.parse(row.value);
  const distinct =
    row.aggregation === 'unique_count'
      ? Object.freeze(row.distinct_values === null ? [] : (JSON.parse(row.distinct_values) as string[]))
      : undefined;
  return Object.freeze({
    aggregation: row.aggregation,
    events: row.events,
    value,
    latestAt: row.latest_at,
    distinct,
  });
}

/**
 * Metering's `MeteringStore` port in PostgreSQL or PGlite. What spec §4.1 demands happens in ONE
 * transaction in {@link MeteringStoreLike.commitEvent}: the deduplication key is recorded (an
 * `INSERT … ON CONFLICT` on the key, so of concurrent commits of one key exactly one stores), the
 * event is stored, and every per-period and per-minute aggregate is updated in SQL (exact
 * `numeric` arithmetic) — all or nothing, durable once it resolves. Regular vs adjustment is
 * decided under a share lock on the subscription row, which `closePeriod` and `putInvoice` take
 * exclusively: late usage is never lost between an invoice being built and an event arriving.
 *
 * Plans, subscriptions, quotas and invoices are stored as documents (Decimals, bigints and all)
 * and handed back equal, deeply frozen. Errors as the port: `MT-409` conflicts, `MT-404` unknown
 * subscription, `MT-503` (retryable) when the database is unavailable, `MT-400` a malformed call.
 *
 * Bounds differ from the in-memory store's on purpose: rows that carry money or correctness
 * (keys, aggregates, subscriptions, invoices) are bounded by the disk, not refused at a count;
 * raw events and minute buckets are deleted past their retention as events arrive, and expired
 * keys and markers by `purgeExpired`. A `unique_count` aggregate remembers at most
 * {@link MAX_METERING_DISTINCT_VALUES} values (then counts a lower bound, never over-bills).
 *
 * @example
 * ```ts
 * const store = createPostgresMeteringStore<{ plan: Plan; subscription: Subscription; quota: Quota; invoice: Invoice }>({ client });
 * const metering = createMetering({ nhi: platform.nhi, store });
 * ```
 */
export function createPostgresMeteringStore<D extends MeteringDocumentTypes = MeteringDocumentTypes>(
  options: PostgresMeteringStoreOptions,
): PostgresMeteringStore<D> {
  const parsed = parseOptions(optionsSchema, options, 'createPostgresMeteringStore');
  const { client } = parsed;
  const eventRetentionNs =
    BigInt(parsed.eventRetentionMs ?? POSTGRES_METERING_DEFAULTS.eventRetentionMs) * NS_PER_MS;
  const bucketRetentionNs =
    BigInt(parsed.bucketRetentionMs ?? POSTGRES_METERING_DEFAULTS.bucketRetentionMs) * NS_PER_MS;
  const s = quoteSchema(parsed.schema ?? DEFAULT_SCHEMA);
  const t = {
    dedup: qualified(s, 'metering_dedup'),
    subs: qualified(s, 'metering_subscriptions'),
    agents: qualified(s, 'metering_agents'),
    plans: qualified(s, 'metering_plans'),
    quotas: qualified(s, 'metering_quotas'),
    marks: qualified(s, 'metering_marks'),
    closed: qualified(s, 'metering_closed_periods'),
    invoices: qualified(s, 'metering_invoices'),
    events: qualified(s, 'metering_events'),
    periods: qualified(s, 'metering_period_aggregates'),
    periodDistinct: qualified(s, 'metering_period_distinct'),
    buckets: qualified(s, 'metering_buckets'),
    bucketDistinct: qualified(s, 'metering_bucket_distinct'),
  };

  const encode = (value: unknown, what: string): string => {
    const out = encodeDocument(value, `${WHAT}: ${what}`, 'MT-400');
    if (out.length > MAX_METERING_DOCUMENT_LENGTH) {
      throw invalid(`${what} is longer than ${MAX_METERING_DOCUMENT_LENGTH} characters of JSON`);
    }
    return out;
  };
  const decode = <X>(doc: string): X => decodeDocument<X>(doc, WHAT);

  // The running state of an aggregate row is updated in SQL, exactly as metering's accumulator
  // does in memory: sum adds, max keeps the larger (ties keep the old), latest keeps the value
  // with the greatest billedAt (ties: the later ingestion), count and unique_count count. One
  // statement upserts every row of an event: the measurement's raw value and instant travel in
  // the `input` columns, which the update reads back through EXCLUDED.
  let prunedAt: bigint | undefined;

  const upsertState = (table: string, key: readonly string[]) => {
    const columns = key.map((column) => `x.${column}`).join(', ');
    return `
    INSERT INTO ${table} AS a (${key.join(', ')}, groups, aggregation, events, value, latest_at, input, input_at)
    SELECT ${columns}, x.groups, x.aggregation, 1,
      CASE x.aggregation
        WHEN 'sum' THEN x.input
        WHEN 'max' THEN CASE WHEN x.input > 0 THEN x.input ELSE 0 END
        WHEN 'latest' THEN x.input
        ELSE 0 END,
      CASE WHEN x.aggregation = 'latest' THEN x.input_at ELSE -1 END,
      x.input, x.input_at
    FROM json_to_recordset($1::json) AS x(${key.map((column) => `${column} ${column.endsWith('_start') ? 'bigint' : 'text'}`).join(', ')},
      groups text, aggregation text, input numeric, input_at bigint)
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET
      events = a.events + 1,
      value = CASE a.aggregation
        WHEN 'sum' THEN a.value + EXCLUDED.input
        WHEN 'max' THEN CASE WHEN EXCLUDED.input > a.value THEN EXCLUDED.input ELSE a.value END
        WHEN 'latest' THEN CASE WHEN EXCLUDED.input_at >= a.latest_at THEN EXCLUDED.input ELSE a.value END
        ELSE a.value END,
      latest_at = CASE WHEN a.aggregation = 'latest' AND EXCLUDED.input_at >= a.latest_at
        THEN EXCLUDED.input_at ELSE a.latest_at END,
      input = EXCLUDED.input,
      input_at = EXCLUDED.input_at
    RETURNING a.seq, a.aggregation, a.distinct_count, a.meter_id, a.group_key`;
  };
  // New distinct values of unique_count rows, and their counters, in one statement.
  const addDistinct = (distinctTable: string, aggregateTable: string) => `
    WITH added AS (
      INSERT INTO ${distinctTable} (aggregate_seq, value, position)
      SELECT x.seq, x.value, x.position FROM json_to_recordset($1::json) AS x(seq bigint, value text, position integer)
      ON CONFLICT DO NOTHING
      RETURNING aggregate_seq)
    UPDATE ${aggregateTable} SET distinct_count = distinct_count + 1 WHERE seq IN (SELECT aggregate_seq FROM added)`;
  const periodKey = [
    'subscription_id',
    'meter_id',
    'agent_nhi',
    'group_key',
    'usage_period_start',
    'invoice_period_start',
    'ingest_period_start',
  ];
  const bucketKey = ['subscription_id', 'meter_id', 'agent_nhi', 'group_key', 'bucket_start'];
  const upsertPeriod = upsertState(t.periods, periodKey);
  const upsertBucket = upsertState(t.buckets, bucketKey);
  const addPeriodDistinct = addDistinct(t.periodDistinct, t.periods);
  const addBucketDistinct = addDistinct(t.bucketDistinct, t.buckets);

  /**
   * Adds every measurement to its aggregate row of one table (`key(m)` names the row). Rows of one
   * event are distinct (one measurement per meter and group); should two measurements name the
   * same row, they go one statement each, in order, since one upsert cannot touch a row twice.
   */
  async function accumulate(
    tx: SqlExecutor,
    upsert: string,
    addNew: string,
    measurements: readonly MeasurementLike[],
    key: (m: MeasurementLike) => Record<string, string>,
    billedAt: bigint,
  ): Promise<void> {
    const rowsOf = measurements.map((m) => ({
      ...key(m),
      groups: JSON.stringify(m.groups),
      aggregation: m.aggregation,
      input: m.value.toString(),
      input_at: billedAt.toString(),
    }));
    const identity = (r: Record<string, string>) => `${r.meter_id}\u0000${r.group_key}`;
    const unique = new Set(rowsOf.map(identity)).size === rowsOf.length;
    const batches = unique ? [rowsOf] : rowsOf.map((r) => [r]);
    for (const batch of batches) {
      if (batch.length === 0) continue;
      const { rows } = await tx.query<{
        seq: bigint;
        aggregation: string;
        distinct_count: number;
        meter_id: string;
        group_key: string;
      }>(upsert, [JSON.stringify(batch)]);
      const fresh: { seq: string; value: string; position: number }[] = [];
      for (const row of rows) {
        if (row.aggregation !== 'unique_count' || row.distinct_count >= MAX_METERING_DISTINCT_VALUES)
          continue;
        const m = measurements.find((x) => x.meterId === row.meter_id && x.groupKey === row.group_key);
        if (m?.distinct === undefined) continue;
        fresh.push({ seq: row.seq.toString(), value: m.distinct, position: row.distinct_count });
      }
      if (fresh.length > 0) await tx.query(addNew, [JSON.stringify(fresh)]);
    }
  }

  async function bindAgents(tx: SqlExecutor, id: string, agents: readonly string[]): Promise<void> {
    await tx.query(`DELETE FROM ${t.agents} WHERE subscription_id = $1`, [id]);
    if (agents.length === 0) return;
    const list = JSON.stringify(agents);
    await tx.query(
      `INSERT INTO ${t.agents} (nhi, subscription_id) SELECT a, $1 FROM json_array_elements_text($2::json) AS a
       ON CONFLICT (nhi) DO NOTHING`,
      [id, list],
    );
    const { rows } = await tx.query<{ nhi: string; subscription_id: string }>(
      `SELECT nhi, subscription_id FROM ${t.agents}
        WHERE nhi IN (SELECT json_array_elements_text($2::json)) AND subscription_id <> $1 LIMIT 1`,
      [id, list],
    );
    const taken = rows[0];
    if (taken !== undefined) {
      throw new EnablementError(
        'MT-409',
        `agent ${taken.nhi} is already bound to subscription ${taken.subscription_id}`,
      );
    }
  }

  function checkSubscription(subscription: unknown): { id: string; agents: readonly string[] } {
    if (typeof subscription !== 'object' || subscription === null)
      throw invalid('subscription: expected an object');
    const sub = subscription as { id: unknown; agents: unknown };
    const id = text(sub.id, 'subscription.id', 256);
    if (!Array.isArray(sub.agents)) throw invalid('subscription.agents: expected an array');
    const agents = (sub.agents as unknown[]).map((a, i) => text(a, `subscription.agents[${i}]`));
    return { id, agents };
  }

  const store: PostgresMeteringStore<D> = {
    isDuplicate: (scope, now) =>
      guarded(async () => {
        text(scope, 'scope', 4096);
        const { rows } = await client.query(`SELECT 1 FROM ${t.dedup} WHERE scope = $1 AND expires_at > $2`, [
          scope,
          instant(now, 'now'),
        ]);
        return rows.length === 1;
      }),

    commitEvent: (commit: EventCommitLike) =>
      guarded(async (): Promise<CommitResultLike> => {
        if (typeof commit !== 'object' || commit === null) throw invalid('commit: expected an object');
        const { event } = commit;
        if (typeof event !== 'object' || event === null) throw invalid('commit.event: expected an object');
        const scope = text(commit.idempotencyScope, 'idempotencyScope', 4096);
        const sub = text(event.subscriptionId, 'event.subscriptionId', 256);
        const now = instant(event.ingestedAt, 'event.ingestedAt');
        const billedAt = instant(event.billedAt, 'event.billedAt');
        const usage = instant(event.usagePeriodStart, 'event.usagePeriodStart');
        const expiresAt = instant(commit.idempotencyExpiresAt, 'idempotencyExpiresAt');
        const bucketStart = instant(commit.bucketStart, 'bucketStart');
        const ingestStart = instant(commit.ingestPeriod?.start, 'ingestPeriod.start');
        const ingestEnd = instant(commit.ingestPeriod?.end, 'ingestPeriod.end');
        if (!Array.isArray(commit.measurements)) throw invalid('measurements: expected an array');
        const measurements = commit.measurements.map(checkMeasurement);
        const agent = event.agentNhi === undefined ? '' : text(event.agentNhi, 'event.agentNhi');

        return client.transaction(async (tx) => {
          // Share lock: concurrent commits of one subscription proceed together; closePeriod and
          // putInvoice (exclusive) wait for them, and they for it.
          const { rows: subRows } = await tx.query(`SELECT 1 FROM ${t.subs} WHERE id = $1 FOR SHARE`, [sub]);
          if (subRows.length === 0) {
            const { rows } = await tx.query(`SELECT 1 FROM ${t.dedup} WHERE scope = $1 AND expires_at > $2`, [
              scope,
              now,
            ]);
            if (rows.length === 1) return { status: 'duplicate' };
            throw new EnablementError('MT-404', `subscription ${sub} is unknown`);
          }
          // The key first: a concurrent commit of the same key waits here for this one, then
          // finds the key recorded and reports a duplicate.
          const recorded = await tx.query(
            `INSERT INTO ${t.dedup} AS d (scope, expires_at) VALUES ($1, $2)
             ON CONFLICT (scope) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE d.expires_at <= $3`,
            [scope, expiresAt, now],
          );
          if (recorded.rowCount !== 1) return { status: 'duplicate' };

          const { rows: closedRows } = await tx.query<{ period_start: bigint }>(
            `SELECT period_start FROM ${t.closed} WHERE subscription_id = $1 AND period_start IN ($2, $3)`,
            [sub, usage, ingestStart],
          );
          const closed = new Set(closedRows.map((r) => r.period_start));
          let invoicePeriodStart: bigint;
          if (usage === ingestStart) {
            invoicePeriodStart = closed.has(usage) ? ingestEnd : usage;
          } else if (!commit.graceExpired && !closed.has(usage)) {
            invoicePeriodStart = usage;
          } else {
            invoicePeriodStart = closed.has(ingestStart) ? ingestEnd : ingestStart;
          }

          const stored: StoredUsageEventLike = { ...event, invoicePeriodStart };
          await tx.query(
            `INSERT INTO ${t.events} (scope, subscription_id, billed_at, ingested_at, doc) VALUES ($1, $2, $3, $4, $5)`,
            [scope, sub, billedAt, now, encode(stored, 'event')],
          );
          const usageText = usage.toString();
          const invoiceText = invoicePeriodStart.toString();
          const ingestText = ingestStart.toString();
          const bucketText = bucketStart.toString();
          await accumulate(
            tx,
            upsertPeriod,
            addPeriodDistinct,
            measurements,
            (m) => ({
              subscription_id: sub,
              meter_id: m.meterId,
              agent_nhi: agent,
              group_key: m.groupKey,
              usage_period_start: usageText,
              invoice_period_start: invoiceText,
              ingest_period_start: ingestText,
            }),
            billedAt,
          );
          await accumulate(
            tx,
            upsertBucket,
            addBucketDistinct,
            measurements,
            (m) => ({
              subscription_id: sub,
              meter_id: m.meterId,
              agent_nhi: agent,
              group_key: m.groupKey,
              bucket_start: bucketText,
            }),
            billedAt,
          );
          // Retention of the conveniences (raw events, minute buckets), as the in-memory store,
          // checked at most once per minute of ingestion time (a bucket's width).
          if (prunedAt === undefined || now < prunedAt || now - prunedAt >= PRUNE_EVERY_NS) {
            await tx.query(`DELETE FROM ${t.events} WHERE ingested_at <= $1`, [now - eventRetentionNs]);
            await tx.query(`DELETE FROM ${t.buckets} WHERE bucket_start <= $1`, [now - bucketRetentionNs]);
            prunedAt = now;
          }
          return {
            status: 'stored',
            kind: invoicePeriodStart === usage ? 'regular' : 'adjustment',
            invoicePeriodStart,
          };
        });
      }),

    listEvents: (query: EventQueryLike) =>
      guarded(async () => {
        const sub = text(query?.subscriptionId, 'subscriptionId', 256);
        const raw = query.limit ?? MAX_METERING_EVENT_PAGE;
        const limit = Number.isFinite(raw)
          ? Math.min(Math.max(1, Math.trunc(raw)), MAX_METERING_EVENT_PAGE)
          : MAX_METERING_EVENT_PAGE;
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.events}
            WHERE subscription_id = $1 AND ($2::bigint IS NULL OR billed_at >= $2) AND ($3::bigint IS NULL OR billed_at < $3)
            ORDER BY seq LIMIT $4`,
          [
            sub,
            query.from === undefined ? null : instant(query.from, 'from'),
            query.to === undefined ? null : instant(query.to, 'to'),
            limit,
          ],
        );
        return Object.freeze(rows.map((r) => decode<StoredUsageEventLike>(r.doc)));
      }),

    periodAggregates: (query: PeriodAggregateQueryLike) =>
      guarded(async () => {
        const sub = text(query?.subscriptionId, 'subscriptionId', 256);
        const opt = (value: bigint | undefined, field: string) =>
          value === undefined ? null : instant(value, field);
        const { rows } = await client.query<
          AggregateRow & {
            usage_period_start: bigint;
            invoice_period_start: bigint;
            ingest_period_start: bigint;
          }
        >(
          `SELECT a.*, a.value::text AS value,
             (SELECT json_agg(d.value ORDER BY d.position) FROM ${t.periodDistinct} d WHERE d.aggregate_seq = a.seq) AS distinct_values
           FROM ${t.periods} a
           WHERE a.subscription_id = $1 AND ($2::text IS NULL OR a.meter_id = $2)
             AND ($3::bigint IS NULL OR a.usage_period_start = $3)
             AND ($4::bigint IS NULL OR a.invoice_period_start = $4)
             AND ($5::bigint IS NULL OR a.ingest_period_start = $5)
           ORDER BY a.seq`,
          [
            sub,
            query.meterId === undefined ? null : text(query.meterId, 'meterId'),
            opt(query.usagePeriodStart, 'usagePeriodStart'),
            opt(query.invoicePeriodStart, 'invoicePeriodStart'),
            opt(query.ingestPeriodStart, 'ingestPeriodStart'),
          ],
        );
        return Object.freeze(
          rows.map(
            (row): PeriodAggregateRowLike =>
              Object.freeze({
                subscriptionId: row.subscription_id,
                meterId: row.meter_id,
                agentNhi: row.agent_nhi,
                groupKey: row.group_key,
                usagePeriodStart: row.usage_period_start,
                invoicePeriodStart: row.invoice_period_start,
                ingestPeriodStart: row.ingest_period_start,
                groups: Object.freeze(JSON.parse(row.groups) as Record<string, string>),
                state: stateOf(row),
              }),
          ),
        );
      }),

    bucketAggregates: (query: BucketAggregateQueryLike) =>
      guarded(async () => {
        const sub = text(query?.subscriptionId, 'subscriptionId', 256);
        const { rows } = await client.query<AggregateRow & { bucket_start: bigint }>(
          `SELECT a.*, a.value::text AS value,
             (SELECT json_agg(d.value ORDER BY d.position) FROM ${t.bucketDistinct} d WHERE d.aggregate_seq = a.seq) AS distinct_values
           FROM ${t.buckets} a
           WHERE a.subscription_id = $1 AND a.meter_id = $2 AND a.bucket_start >= $3 AND a.bucket_start < $4
             AND ($5::text IS NULL OR a.agent_nhi = $5)
           ORDER BY a.seq`,
          [
            sub,
            text(query.meterId, 'meterId'),
            instant(query.from, 'from'),
            instant(query.to, 'to'),
            query.agentNhi === undefined ? null : text(query.agentNhi, 'agentNhi'),
          ],
        );
        return Object.freeze(
          rows.map(
            (row): BucketAggregateRowLike =>
              Object.freeze({
                subscriptionId: row.subscription_id,
                meterId: row.meter_id,
                agentNhi: row.agent_nhi,
                groupKey: row.group_key,
                groups: Object.freeze(JSON.parse(row.groups) as Record<string, string>),
                bucketStart: row.bucket_start,
                state: stateOf(row),
              }),
          ),
        );
      }),

    putPlan: (plan) =>
      guarded(async () => {
        if (typeof plan !== 'object' || plan === null) throw invalid('plan: expected an object');
        const id = text(plan.id, 'plan.id', 256);
        const doc = encode(plan, 'plan');
        const inserted = await client.query(
          `INSERT INTO ${t.plans} (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
          [id, doc],
        );
        if (inserted.rowCount === 1) return plan;
        const { rows } = await client.query<{ doc: string }>(`SELECT doc FROM ${t.plans} WHERE id = $1`, [
          id,
        ]);
        const existing = rows[0]?.doc;
        if (existing !== doc)
          throw new EnablementError('MT-409', `plan ${id} already exists with different content`);
        return decode<D['plan']>(existing);
      }),
    getPlan: (id) =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(`SELECT doc FROM ${t.plans} WHERE id = $1`, [
          text(id, 'id', 256),
        ]);
        return rows[0] === undefined ? undefined : decode<D['plan']>(rows[0].doc);
      }),
    listPlans: () =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.plans} ORDER BY id COLLATE "C"`,
        );
        return Object.freeze(rows.map((r) => decode<D['plan']>(r.doc)));
      }),

    createSubscription: (subscription) =>
      guarded(async () => {
        const { id, agents } = checkSubscription(subscription);
        const doc = encode(subscription, 'subscription');
        await client.transaction(async (tx) => {
          const inserted = await tx.query(
            `INSERT INTO ${t.subs} (id, doc) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
            [id, doc],
          );
          if (inserted.rowCount !== 1)
            throw new EnablementError('MT-409', `subscription ${id} already exists`);
          await bindAgents(tx, id, agents);
        });
      }),
    updateSubscription: (subscription) =>
      guarded(async () => {
        const { id, agents } = checkSubscription(subscription);
        const doc = encode(subscription, 'subscription');
        await client.transaction(async (tx) => {
          const updated = await tx.query(`UPDATE ${t.subs} SET doc = $2 WHERE id = $1`, [id, doc]);
          if (updated.rowCount !== 1) throw new EnablementError('MT-404', `subscription ${id} is unknown`);
          await bindAgents(tx, id, agents);
        });
      }),
    getSubscription: (id) =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(`SELECT doc FROM ${t.subs} WHERE id = $1`, [
          text(id, 'id', 256),
        ]);
        return rows[0] === undefined ? undefined : decode<D['subscription']>(rows[0].doc);
      }),
    listSubscriptions: (page) =>
      guarded(async () => {
        const limit = Math.min(
          Math.max(1, Math.trunc(Number.isFinite(page?.limit) ? page.limit : 1)),
          10_000,
        );
        const after = page.after === undefined ? null : text(page.after, 'after', 256);
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.subs} WHERE $1::text IS NULL OR id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
          [after, limit],
        );
        return Object.freeze(rows.map((r) => decode<D['subscription']>(r.doc)));
      }),
    deleteSubscription: (id) =>
      guarded(async () => {
        text(id, 'id', 256);
        return client.transaction(async (tx) => {
          // The row lock waits for commits in flight; later commits find no subscription.
          const deleted = await tx.query(`DELETE FROM ${t.subs} WHERE id = $1`, [id]);
          if (deleted.rowCount !== 1) return false;
          for (const table of [t.agents, t.quotas, t.periods, t.buckets, t.events, t.invoices, t.closed]) {
            await tx.query(`DELETE FROM ${table} WHERE subscription_id = $1`, [id]);
          }
          return true;
        });
      }),
    subscriptionOfAgent: (nhi) =>
      guarded(async () => {
        const { rows } = await client.query<{ subscription_id: string }>(
          `SELECT subscription_id FROM ${t.agents} WHERE nhi = $1`,
          [text(nhi, 'nhi')],
        );
        return rows[0]?.subscription_id;
      }),

    putQuota: (quota) =>
      guarded(async () => {
        if (typeof quota !== 'object' || quota === null) throw invalid('quota: expected an object');
        const id = text(quota.id, 'quota.id', 256);
        const sub = text(quota.subscriptionId, 'quota.subscriptionId', 256);
        const doc = encode(quota, 'quota');
        await client.transaction(async (tx) => {
          const { rows } = await tx.query(`SELECT 1 FROM ${t.subs} WHERE id = $1 FOR SHARE`, [sub]);
          if (rows.length === 0) throw new EnablementError('MT-404', `subscription ${sub} is unknown`);
          await tx.query(
            `INSERT INTO ${t.quotas} (id, subscription_id, doc) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET subscription_id = EXCLUDED.subscription_id, doc = EXCLUDED.doc`,
            [id, sub, doc],
          );
        });
      }),
    getQuota: (id) =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(`SELECT doc FROM ${t.quotas} WHERE id = $1`, [
          text(id, 'id', 256),
        ]);
        return rows[0] === undefined ? undefined : decode<D['quota']>(rows[0].doc);
      }),
    listQuotas: (subscriptionId) =>
      guarded(async () => {
        const sub = subscriptionId === undefined ? null : text(subscriptionId, 'subscriptionId', 256);
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.quotas} WHERE $1::text IS NULL OR subscription_id = $1 ORDER BY seq`,
          [sub],
        );
        return Object.freeze(rows.map((r) => decode<D['quota']>(r.doc)));
      }),
    deleteQuota: (id) =>
      guarded(async () => {
        const deleted = await client.query(`DELETE FROM ${t.quotas} WHERE id = $1`, [text(id, 'id', 256)]);
        return deleted.rowCount === 1;
      }),
    markOnce: (key, expiresAt, now) =>
      guarded(async () => {
        const marked = await client.query(
          `INSERT INTO ${t.marks} AS m (key, expires_at) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE m.expires_at <= $3`,
          [text(key, 'key', 4096), instant(expiresAt, 'expiresAt'), instant(now, 'now')],
        );
        return marked.rowCount === 1;
      }),

    closePeriod: (subscriptionId, periodStart) =>
      guarded(async () => {
        const sub = text(subscriptionId, 'subscriptionId', 256);
        const start = instant(periodStart, 'periodStart');
        await client.transaction(async (tx) => {
          // Exclusive: waits for commits of this subscription in flight (see commitEvent).
          await tx.query(`SELECT 1 FROM ${t.subs} WHERE id = $1 FOR UPDATE`, [sub]);
          await tx.query(
            `INSERT INTO ${t.closed} (subscription_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
            [sub, start],
          );
        });
      }),
    putInvoice: (subscriptionId, periodStart, invoice) =>
      guarded(async () => {
        const sub = text(subscriptionId, 'subscriptionId', 256);
        const start = instant(periodStart, 'periodStart');
        const doc = encode(invoice, 'invoice');
        return client.transaction(async (tx): Promise<PutInvoiceResultLike<D['invoice']>> => {
          const { rows: subRows } = await tx.query(`SELECT 1 FROM ${t.subs} WHERE id = $1 FOR UPDATE`, [sub]);
          const { rows } = await tx.query<{ doc: string }>(
            `SELECT doc FROM ${t.invoices} WHERE subscription_id = $1 AND period_start = $2`,
            [sub, start],
          );
          if (rows[0] !== undefined) return { invoice: decode<D['invoice']>(rows[0].doc), created: false };
          if (subRows.length === 0) throw new EnablementError('MT-404', `subscription ${sub} is unknown`);
          await tx.query(
            `INSERT INTO ${t.invoices} (subscription_id, period_start, doc) VALUES ($1, $2, $3)`,
            [sub, start, doc],
          );
          await tx.query(
            `INSERT INTO ${t.closed} (subscription_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
            [sub, start],
          );
          return { invoice, created: true };
        });
      }),
    getInvoice: (subscriptionId, periodStart) =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.invoices} WHERE subscription_id = $1 AND period_start = $2`,
          [text(subscriptionId, 'subscriptionId', 256), instant(periodStart, 'periodStart')],
        );
        return rows[0] === undefined ? undefined : decode<D['invoice']>(rows[0].doc);
      }),
    listInvoices: (subscriptionId) =>
      guarded(async () => {
        const { rows } = await client.query<{ doc: string }>(
          `SELECT doc FROM ${t.invoices} WHERE subscription_id = $1 ORDER BY period_start`,
          [text(subscriptionId, 'subscriptionId', 256)],
        );
        return Object.freeze(rows.map((r) => decode<D['invoice']>(r.doc)));
      }),

    purgeExpired: (now, limit = 10_000) =>
      guarded(async () => {
        instant(now, 'now');
        if (!Number.isSafeInteger(limit) || limit < 1) throw invalid('limit: expected a positive integer');
        let purged = 0;
        for (const table of [t.dedup, t.marks]) {
          const key = table === t.dedup ? 'scope' : 'key';
          const deleted = await client.query(
            `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE expires_at <= $1 LIMIT $2)`,
            [now, limit],
          );
          purged += deleted.rowCount;
        }
        return purged;
      }),
  };
  return Object.freeze(store);
}
