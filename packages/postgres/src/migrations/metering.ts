import { qualified } from '../sql/identifiers.js';
import type { Migration } from './types.js';

// Aggregate rows keep their running state in columns (events, value as exact numeric, latest_at,
// the number of distinct values) so that commitEvent updates them in SQL, inside its transaction;
// distinct values of `unique_count` meters live in their own tables.
// `input` and `input_at` hold the raw value and instant of the latest measurement written: an
// upsert reads them back through EXCLUDED, so one statement updates many rows exactly.
const aggregateColumns = `
      groups text NOT NULL,
      aggregation text NOT NULL,
      events bigint NOT NULL,
      value numeric NOT NULL,
      latest_at bigint NOT NULL,
      distinct_count integer NOT NULL DEFAULT 0,
      input numeric NOT NULL,
      input_at bigint NOT NULL`;

/** Metering (spec §4.1): deduplication keys, events, aggregates, plans, subscriptions, quotas, invoices. */
export const METERING_MIGRATION: Migration = {
  version: 3,
  name: 'metering store',
  statements: (s) => [
    `CREATE TABLE ${qualified(s, 'metering_dedup')} (scope text PRIMARY KEY, expires_at bigint NOT NULL)`,
    `CREATE INDEX metering_dedup_expires ON ${qualified(s, 'metering_dedup')} (expires_at)`,
    `CREATE TABLE ${qualified(s, 'metering_subscriptions')} (id text PRIMARY KEY, doc text NOT NULL)`,
    `CREATE TABLE ${qualified(s, 'metering_agents')} (
      nhi text PRIMARY KEY,
      subscription_id text NOT NULL
    )`,
    `CREATE INDEX metering_agents_subscription ON ${qualified(s, 'metering_agents')} (subscription_id)`,
    `CREATE TABLE ${qualified(s, 'metering_plans')} (id text PRIMARY KEY, doc text NOT NULL)`,
    `CREATE TABLE ${qualified(s, 'metering_quotas')} (
      id text PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      subscription_id text NOT NULL,
      doc text NOT NULL
    )`,
    `CREATE INDEX metering_quotas_subscription ON ${qualified(s, 'metering_quotas')} (subscription_id, seq)`,
    `CREATE TABLE ${qualified(s, 'metering_marks')} (key text PRIMARY KEY, expires_at bigint NOT NULL)`,
    `CREATE INDEX metering_marks_expires ON ${qualified(s, 'metering_marks')} (expires_at)`,
    `CREATE TABLE ${qualified(s, 'metering_closed_periods')} (
      subscription_id text NOT NULL,
      period_start bigint NOT NULL,
      PRIMARY KEY (subscription_id, period_start)
    )`,
    `CREATE TABLE ${qualified(s, 'metering_invoices')} (
      subscription_id text NOT NULL,
      period_start bigint NOT NULL,
      doc text NOT NULL,
      PRIMARY KEY (subscription_id, period_start)
    )`,
    `CREATE TABLE ${qualified(s, 'metering_events')} (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      scope text NOT NULL,
      subscription_id text NOT NULL,
      billed_at bigint NOT NULL,
      ingested_at bigint NOT NULL,
      doc text NOT NULL
    )`,
    `CREATE INDEX metering_events_subscription ON ${qualified(s, 'metering_events')} (subscription_id, seq)`,
    `CREATE INDEX metering_events_ingested ON ${qualified(s, 'metering_events')} (ingested_at)`,
    `CREATE TABLE ${qualified(s, 'metering_period_aggregates')} (
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      subscription_id text NOT NULL,
      meter_id text NOT NULL,
      agent_nhi text NOT NULL,
      group_key text NOT NULL,
      usage_period_start bigint NOT NULL,
      invoice_period_start bigint NOT NULL,
      ingest_period_start bigint NOT NULL,${aggregateColumns},
      PRIMARY KEY (subscription_id, meter_id, agent_nhi, group_key, usage_period_start, invoice_period_start, ingest_period_start)
    )`,
    `CREATE TABLE ${qualified(s, 'metering_period_distinct')} (
      aggregate_seq bigint NOT NULL REFERENCES ${qualified(s, 'metering_period_aggregates')} (seq) ON DELETE CASCADE,
      value text NOT NULL,
      position integer NOT NULL,
      PRIMARY KEY (aggregate_seq, value)
    )`,
    `CREATE TABLE ${qualified(s, 'metering_buckets')} (
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      subscription_id text NOT NULL,
      meter_id text NOT NULL,
      agent_nhi text NOT NULL,
      group_key text NOT NULL,
      bucket_start bigint NOT NULL,${aggregateColumns},
      PRIMARY KEY (subscription_id, meter_id, agent_nhi, group_key, bucket_start)
    )`,
    `CREATE INDEX metering_buckets_window ON ${qualified(s, 'metering_buckets')} (subscription_id, meter_id, bucket_start)`,
    `CREATE INDEX metering_buckets_start ON ${qualified(s, 'metering_buckets')} (bucket_start)`,
    `CREATE TABLE ${qualified(s, 'metering_bucket_distinct')} (
      aggregate_seq bigint NOT NULL REFERENCES ${qualified(s, 'metering_buckets')} (seq) ON DELETE CASCADE,
      value text NOT NULL,
      position integer NOT NULL,
      PRIMARY KEY (aggregate_seq, value)
    )`,
  ],
};
