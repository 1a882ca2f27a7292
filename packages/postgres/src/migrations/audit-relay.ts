import { qualified } from '../sql/identifiers.js';
import type { Migration } from './types.js';

/**
 * The durable audit log (leaves and signed checkpoints) and the messaging relay's offline queues.
 *
 * Audit rows are keyed by the log's name (its origin), so several logs share the tables. A leaf is
 * its leaf text at its RFC 9162 index, written once; the size of a log is `max(leaf_index) + 1`,
 * read backwards on the primary key. Checkpoints are kept per tree size; the latest is the
 * largest.
 *
 * Relay entries are keyed by (relay, message id). `seq` breaks ties of `accepted_at` in insertion
 * order, and `relay_queue_counts` holds each relay's entry count, updated in the transaction that
 * inserts or deletes, so the `maxEntries` bound is checked in O(1) under the counter's row lock.
 */
export const AUDIT_RELAY_MIGRATION: Migration = {
  version: 4,
  name: 'audit leaves and checkpoints, relay queues',
  statements: (s) => [
    `CREATE TABLE ${qualified(s, 'audit_leaves')} (
      log text NOT NULL,
      leaf_index bigint NOT NULL CHECK (leaf_index >= 0),
      leaf text NOT NULL,
      PRIMARY KEY (log, leaf_index)
    )`,
    `CREATE TABLE ${qualified(s, 'audit_checkpoints')} (
      log text NOT NULL,
      tree_size bigint NOT NULL CHECK (tree_size >= 0),
      note text NOT NULL,
      PRIMARY KEY (log, tree_size)
    )`,
    `CREATE TABLE ${qualified(s, 'relay_queue')} (
      relay text NOT NULL,
      message_id text NOT NULL,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      recipient_nhi text NOT NULL,
      accepted_at bigint NOT NULL,
      expires_at bigint NOT NULL,
      envelope text NOT NULL,
      PRIMARY KEY (relay, message_id)
    )`,
    `CREATE INDEX relay_queue_order ON ${qualified(s, 'relay_queue')} (relay, accepted_at, seq)`,
    `CREATE TABLE ${qualified(s, 'relay_queue_counts')} (
      relay text PRIMARY KEY,
      entries bigint NOT NULL CHECK (entries >= 0)
    )`,
  ],
};
