import { Decimal } from '@creto/core';
import type { Measurement } from '../meters/types.js';
import type { MeterAggregation } from '../plans/types.js';
import type { AggregateState } from './types.js';

/**
 * Most distinct values one `unique_count` aggregate remembers. Past the bound, new values are not
 * counted (the count is then a lower bound, which never over-bills); a meter that needs more should
 * count in a dedicated system.
 */
export const MAX_DISTINCT_VALUES = 100_000;

/** A mutable aggregate, for stores to update in place. */
export interface Accumulator {
  /** The meter's aggregation. */
  readonly aggregation: MeterAggregation;
  /** Events merged. */
  events: bigint;
  /** See {@link AggregateState.value} (for `count` and `unique_count` derived on snapshot). */
  value: Decimal;
  /** See {@link AggregateState.latestAt}; -1 before any value. */
  latestAt: bigint;
  /** Distinct values of a `unique_count`. */
  readonly distinct: Set<string> | undefined;
}

/** An empty accumulator. */
export function newAccumulator(aggregation: MeterAggregation): Accumulator {
  return {
    aggregation,
    events: 0n,
    value: Decimal.ZERO,
    latestAt: -1n,
    distinct: aggregation === 'unique_count' ? new Set() : undefined,
  };
}

function addDistinct(set: Set<string>, value: string): void {
  if (set.size < MAX_DISTINCT_VALUES || set.has(value)) set.add(value);
}

/** Adds one measurement (its event billed at `at`); events arrive in ingestion order. */
export function accumulate(acc: Accumulator, m: Measurement, at: bigint): void {
  acc.events += 1n;
  switch (acc.aggregation) {
    case 'sum':
      acc.value = acc.value.add(m.value);
      break;
    case 'count':
      break;
    case 'max':
      if (m.value.gt(acc.value)) acc.value = m.value;
      break;
    case 'latest':
      if (at >= acc.latestAt) {
        acc.value = m.value;
        acc.latestAt = at;
      }
      break;
    case 'unique_count':
      if (m.distinct !== undefined && acc.distinct !== undefined) addDistinct(acc.distinct, m.distinct);
      break;
  }
}

/** Merges a snapshot into an accumulator (rows of one meter: across agents, groups, buckets). */
export function mergeInto(acc: Accumulator, state: AggregateState): void {
  acc.events += state.events;
  switch (acc.aggregation) {
    case 'sum':
      acc.value = acc.value.add(state.value);
      break;
    case 'count':
      break;
    case 'max':
      if (state.value.gt(acc.value)) acc.value = state.value;
      break;
    case 'latest':
      if (state.latestAt >= acc.latestAt && state.events > 0n) {
        acc.value = state.value;
        acc.latestAt = state.latestAt;
      }
      break;
    case 'unique_count':
      if (acc.distinct !== undefined) for (const v of state.distinct ?? []) addDistinct(acc.distinct, v);
      break;
  }
}

/** An immutable snapshot of an accumulator. */
export function snapshot(acc: Accumulator): AggregateState {
  let value = acc.value;
  if (acc.aggregation === 'count') value = Decimal.from(acc.events);
  else if (acc.aggregation === 'unique_count') value = Decimal.from(BigInt(acc.distinct?.size ?? 0));
  return Object.freeze({
    aggregation: acc.aggregation,
    events: acc.events,
    value,
    latestAt: acc.latestAt,
    distinct: acc.distinct === undefined ? undefined : Object.freeze([...acc.distinct]),
  });
}

/** The merge of several snapshots of one meter. */
export function mergeStates(aggregation: MeterAggregation, states: Iterable<AggregateState>): AggregateState {
  const acc = newAccumulator(aggregation);
  for (const state of states) mergeInto(acc, state);
  return snapshot(acc);
}
