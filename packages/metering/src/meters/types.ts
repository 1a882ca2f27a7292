import type { Decimal } from '@creto/core';
import type { MeterAggregation } from '../plans/types.js';

/**
 * A meter: which usage events it reads, how it aggregates them and how it splits them into
 * groups (ARCHITECTURE §6 Metering). Paths name a field of a {@link UsageRecord}:
 * - `properties.<name>`: a property of the event, in wire (snake_case) spelling, e.g.
 *   `properties.input_tokens`, `properties.model_id`;
 * - `derived.<name>`: a value Metering computes from the properties (see `DERIVED_PROPERTIES`);
 * - `value`: the value of a host-side usage event (`recordUsage`);
 * - `agent_nhi`, `event_type`: the header fields.
 */
export interface Meter {
  /** Unique id: a lowercase letter, then up to 63 of `a-z 0-9 _`. */
  readonly id: string;
  /** The usage event type it reads, e.g. `inference_call` or a host type such as `api_call`. */
  readonly eventType: string;
  /** How events are combined into one quantity per group and period. */
  readonly aggregation: MeterAggregation;
  /**
   * Where the value comes from. Required for `sum`, `max`, `latest` (a numeric field) and
   * `unique_count` (the field whose distinct values are counted); not used by `count`.
   */
  readonly valuePath?: string;
  /** Group-by dimensions: dimension name → path, e.g. `{ model: 'properties.model_id' }`. */
  readonly groupBy?: Readonly<Record<string, string>>;
  /** What it measures, for people. */
  readonly description?: string;
}

/** A value a path can read: text (ids, names) or an exact number. */
export type UsageValue = string | Decimal;

/**
 * One usage event in the shape meters read: a Runtime event (spec §4.1) or a host-side event
 * (`recordUsage`), normalized so that one path syntax reaches both.
 */
export interface UsageRecord {
  /** `runtime` (a signed `RuntimeUsageEvent`) or `host` (`recordUsage`). */
  readonly source: 'runtime' | 'host';
  /** Event type. */
  readonly eventType: string;
  /** The agent, when the usage is an agent's. */
  readonly agentNhi: string | undefined;
  /** The host event's value (absent for Runtime events). */
  readonly value: Decimal | undefined;
  /** Properties in wire spelling; numbers as exact `Decimal`s. */
  readonly properties: Readonly<Record<string, UsageValue>>;
  /** Derived values (see `DERIVED_PROPERTIES`). */
  readonly derived: Readonly<Record<string, UsageValue>>;
}

/** What one meter reads from one event. */
export interface Measurement {
  /** The meter. */
  readonly meterId: string;
  /** Its aggregation. */
  readonly aggregation: MeterAggregation;
  /** The value: 1 for `count` and `unique_count`, the read number otherwise (non-negative). */
  readonly value: Decimal;
  /** For `unique_count`: the distinct value counted. */
  readonly distinct: string | undefined;
  /** Dimension values; a dimension whose path is absent has the value {@link MISSING_GROUP_VALUE}. */
  readonly groups: Readonly<Record<string, string>>;
  /** Canonical JSON of `groups` (keys sorted): the group's identity in stores. */
  readonly groupKey: string;
}

/** The group value of a dimension whose path is absent from an event. */
export const MISSING_GROUP_VALUE = '(none)';

/** Windows of usage queries: aligned to UTC minute, hour or day boundaries. */
export type UsageWindow = 'minute' | 'hour' | 'day';
