import { qualified } from '../sql/identifiers.js';
import type { Migration } from './types.js';

/**
 * Oversight requests with their votes and transitions. The record is stored whole, as a document;
 * the columns beside it are what queries filter and order on: state, agent, deadline, the
 * approvers the tiers name, creation order (`seq`, the page cursor) and the order in which
 * requests became final (`final_seq`, for eviction at a bound).
 */
export const OVERSIGHT_MIGRATION: Migration = {
  version: 2,
  name: 'oversight requests, votes, transitions',
  statements: (s) => [
    `CREATE TABLE ${qualified(s, 'oversight_requests')} (
      request_id text PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      version integer NOT NULL,
      state text NOT NULL,
      agent_nhi text NOT NULL,
      approvers text[] NOT NULL,
      deadline_at bigint,
      final_seq bigint,
      record text NOT NULL
    )`,
    `CREATE SEQUENCE ${qualified(s, 'oversight_final_seq')}`,
    `CREATE INDEX oversight_requests_state ON ${qualified(s, 'oversight_requests')} (state, seq)`,
    `CREATE INDEX oversight_requests_agent ON ${qualified(s, 'oversight_requests')} (agent_nhi, seq)`,
    `CREATE INDEX oversight_requests_open ON ${qualified(s, 'oversight_requests')} (seq)
      WHERE state IN ('PENDING', 'ESCALATED')`,
    `CREATE INDEX oversight_requests_deadline ON ${qualified(s, 'oversight_requests')} (deadline_at)
      WHERE deadline_at IS NOT NULL`,
    `CREATE INDEX oversight_requests_final ON ${qualified(s, 'oversight_requests')} (final_seq)
      WHERE final_seq IS NOT NULL`,
    `CREATE INDEX oversight_requests_approvers ON ${qualified(s, 'oversight_requests')} USING gin (approvers)`,
    `CREATE TABLE ${qualified(s, 'oversight_votes')} (
      request_id text NOT NULL REFERENCES ${qualified(s, 'oversight_requests')} (request_id) ON DELETE CASCADE,
      position integer NOT NULL,
      approver text NOT NULL,
      vote text NOT NULL,
      PRIMARY KEY (request_id, position),
      UNIQUE (request_id, approver)
    )`,
    `CREATE INDEX oversight_votes_approver ON ${qualified(s, 'oversight_votes')} (approver)`,
    `CREATE TABLE ${qualified(s, 'oversight_transitions')} (
      request_id text NOT NULL REFERENCES ${qualified(s, 'oversight_requests')} (request_id) ON DELETE CASCADE,
      seq integer NOT NULL,
      transition text NOT NULL,
      PRIMARY KEY (request_id, seq)
    )`,
  ],
};
