import {
  canonicalize,
  Decimal,
  EnablementError,
  type RuntimeUsageEvent,
  USAGE_EVENT_TYPES,
  type UsageEventType,
} from '@creto/core';
import { z } from 'zod';
import type { MeterAggregation } from '../plans/types.js';
import {
  type Measurement,
  type Meter,
  MISSING_GROUP_VALUE,
  type UsageRecord,
  type UsageValue,
} from './types.js';

/** Every meter aggregation. */
export const METER_AGGREGATIONS: readonly MeterAggregation[] = Object.freeze([
  'sum',
  'count',
  'max',
  'unique_count',
  'latest',
]);

/** Most group-by dimensions of one meter (each multiplies the rows a store keeps). */
export const MAX_METER_DIMENSIONS = 8;
/** Longest group value kept (longer text values are refused, `MT-400`). */
export const MAX_GROUP_VALUE_LENGTH = 256;

const ID = /^[a-z][a-z0-9_]{0,63}$/;
const EVENT_TYPE = /^[a-z][a-z0-9_.-]{0,63}$/;
const PATH = /^(value|agent_nhi|event_type|(properties|derived)\.[a-z][a-z0-9_]{0,63})$/;

/** What a field of a usage event holds: an exact number or text. */
export type MeterFieldKind = 'number' | 'text';

const SANDBOX_FIELDS: Readonly<Record<string, MeterFieldKind>> = {
  'properties.sandbox_id': 'text',
  'properties.runtime_class': 'text',
  'properties.cpu_millicores': 'number',
  'properties.memory_bytes': 'number',
  'properties.duration_seconds': 'number',
  'derived.cpu_core_seconds': 'number',
  'derived.memory_byte_seconds': 'number',
};

/**
 * The fields each Runtime event type offers to meters, with their kind (spec §4.1
 * `RuntimeEventProperties`, wire spelling). Derived values:
 * - `derived.cpu_core_seconds` = `cpu_millicores × duration_seconds / 1000` (sandbox events);
 * - `derived.memory_byte_seconds` = `memory_bytes × duration_seconds` (sandbox events);
 * - `derived.total_tokens` = `input_tokens + output_tokens` (inference calls).
 */
export const RUNTIME_EVENT_FIELDS: Readonly<
  Record<UsageEventType, Readonly<Record<string, MeterFieldKind>>>
> = Object.freeze({
  sandbox_allocated: SANDBOX_FIELDS,
  sandbox_terminated: SANDBOX_FIELDS,
  inference_call: {
    'properties.sandbox_id': 'text',
    'properties.model_id': 'text',
    'properties.provider': 'text',
    'properties.input_tokens': 'number',
    'properties.output_tokens': 'number',
    'properties.cost_usd': 'number',
    'derived.total_tokens': 'number',
  },
  network_egress: {
    'properties.sandbox_id': 'text',
    'properties.destination': 'text',
    'properties.bytes_transferred': 'number',
  },
});

const HEADER_FIELDS: Readonly<Record<string, MeterFieldKind>> = { agent_nhi: 'text', event_type: 'text' };

const meterSchema = z.strictObject({
  id: z.string().regex(ID, { error: 'expected a lowercase id: [a-z][a-z0-9_]{0,63}' }),
  eventType: z.string().regex(EVENT_TYPE, { error: 'expected an event type token: [a-z][a-z0-9_.-]{0,63}' }),
  aggregation: z.enum(['sum', 'count', 'max', 'unique_count', 'latest']),
  valuePath: z
    .string()
    .regex(PATH, { error: 'expected value, properties.<name> or derived.<name>' })
    .optional(),
  groupBy: z
    .record(
      z.string().regex(ID, { error: 'expected a dimension name: [a-z][a-z0-9_]{0,63}' }),
      z.string().regex(PATH, { error: 'expected properties.<name>, derived.<name> or a header field' }),
    )
    .refine((g) => Object.keys(g).length <= MAX_METER_DIMENSIONS, {
      error: `at most ${MAX_METER_DIMENSIONS} dimensions`,
    })
    .optional(),
  description: z.string().max(1024).optional(),
});

function invalid(message: string): EnablementError {
  return new EnablementError('MT-400', `invalid meter: ${message}`);
}

function isRuntimeType(eventType: string): eventType is UsageEventType {
  return (USAGE_EVENT_TYPES as readonly string[]).includes(eventType);
}

/**
 * A validated, frozen copy of `meter`; `MT-400` naming the field otherwise. For the Runtime event
 * types the paths are checked against {@link RUNTIME_EVENT_FIELDS} (a numeric field for `sum`,
 * `max`, `latest`); host event types are checked when an event arrives.
 */
export function validateMeter(meter: unknown): Meter {
  const parsed = meterSchema.safeParse(meter);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue === undefined || issue.path.length === 0 ? '(root)' : issue.path.join('.');
    throw invalid(`${path}: ${issue?.message ?? 'invalid'}`);
  }
  const m = parsed.data;
  if (m.aggregation !== 'count' && m.valuePath === undefined) {
    throw invalid(`valuePath: required for ${m.aggregation}`);
  }
  if (isRuntimeType(m.eventType)) {
    const fields = { ...RUNTIME_EVENT_FIELDS[m.eventType], ...HEADER_FIELDS };
    if (m.valuePath !== undefined && m.aggregation !== 'count') {
      const kind = fields[m.valuePath];
      if (kind === undefined) throw invalid(`valuePath: ${m.eventType} events have no ${m.valuePath}`);
      if (kind !== 'number' && m.aggregation !== 'unique_count') {
        throw invalid(`valuePath: ${m.valuePath} is not numeric; ${m.aggregation} needs a number`);
      }
    }
    for (const [dimension, path] of Object.entries(m.groupBy ?? {})) {
      if (fields[path] === undefined)
        throw invalid(`groupBy.${dimension}: ${m.eventType} events have no ${path}`);
    }
  } else if (m.valuePath?.startsWith('derived.')) {
    throw invalid(`valuePath: derived values exist only for Runtime event types`);
  }
  const out: Meter = {
    id: m.id,
    eventType: m.eventType,
    aggregation: m.aggregation,
    ...(m.valuePath === undefined || m.aggregation === 'count' ? {} : { valuePath: m.valuePath }),
    ...(m.groupBy === undefined ? {} : { groupBy: Object.freeze({ ...m.groupBy }) }),
    ...(m.description === undefined ? {} : { description: m.description }),
  };
  return Object.freeze(out);
}

const RUNTIME_GROUPS = Object.freeze({ runtime_class: 'properties.runtime_class' });
const INFERENCE_GROUPS = Object.freeze({ model: 'properties.model_id', provider: 'properties.provider' });

/**
 * Sensible meters for the four Runtime event types (spec §4.1), registered by default:
 * sandbox allocations and distinct sandboxes, sandbox seconds and CPU core-seconds (from
 * `sandbox_terminated`, which carries the final duration), inference calls, input/output/total
 * tokens and provider cost by model and provider, and egress bytes.
 */
export const DEFAULT_METERS: readonly Meter[] = Object.freeze(
  (
    [
      {
        id: 'sandbox_allocations',
        eventType: 'sandbox_allocated',
        aggregation: 'count',
        groupBy: RUNTIME_GROUPS,
        description: 'Sandboxes allocated',
      },
      {
        id: 'unique_sandboxes',
        eventType: 'sandbox_allocated',
        aggregation: 'unique_count',
        valuePath: 'properties.sandbox_id',
        description: 'Distinct sandboxes allocated',
      },
      {
        id: 'sandbox_seconds',
        eventType: 'sandbox_terminated',
        aggregation: 'sum',
        valuePath: 'properties.duration_seconds',
        groupBy: RUNTIME_GROUPS,
        description: 'Sandbox run time, seconds',
      },
      {
        id: 'sandbox_cpu_core_seconds',
        eventType: 'sandbox_terminated',
        aggregation: 'sum',
        valuePath: 'derived.cpu_core_seconds',
        groupBy: RUNTIME_GROUPS,
        description: 'CPU core-seconds',
      },
      {
        id: 'inference_calls',
        eventType: 'inference_call',
        aggregation: 'count',
        groupBy: INFERENCE_GROUPS,
        description: 'Inference calls',
      },
      {
        id: 'inference_input_tokens',
        eventType: 'inference_call',
        aggregation: 'sum',
        valuePath: 'properties.input_tokens',
        groupBy: INFERENCE_GROUPS,
        description: 'Input tokens',
      },
      {
        id: 'inference_output_tokens',
        eventType: 'inference_call',
        aggregation: 'sum',
        valuePath: 'properties.output_tokens',
        groupBy: INFERENCE_GROUPS,
        description: 'Output tokens',
      },
      {
        id: 'inference_tokens',
        eventType: 'inference_call',
        aggregation: 'sum',
        valuePath: 'derived.total_tokens',
        groupBy: INFERENCE_GROUPS,
        description: 'Input plus output tokens',
      },
      {
        id: 'inference_cost_usd',
        eventType: 'inference_call',
        aggregation: 'sum',
        valuePath: 'properties.cost_usd',
        groupBy: INFERENCE_GROUPS,
        description: 'Provider cost, USD',
      },
      {
        id: 'egress_bytes',
        eventType: 'network_egress',
        aggregation: 'sum',
        valuePath: 'properties.bytes_transferred',
        description: 'Bytes sent out of sandboxes',
      },
    ] satisfies Meter[]
  ).map(validateMeter),
);

const THOUSAND = 3;
const ONE = Decimal.from(1n);

/** The {@link UsageRecord} of a decoded Runtime usage event (wire spelling, exact numbers). */
export function runtimeUsageRecord(event: RuntimeUsageEvent): UsageRecord {
  const p = event.properties;
  let properties: Record<string, UsageValue>;
  let derived: Record<string, UsageValue>;
  switch (p.type) {
    case 'SandboxAllocated':
      properties = {
        sandbox_id: p.sandboxId,
        runtime_class: p.runtimeClass,
        cpu_millicores: Decimal.from(BigInt(p.cpuMillicores)),
        memory_bytes: Decimal.from(p.memoryBytes),
        duration_seconds: Decimal.from(p.durationSeconds),
      };
      derived = {
        cpu_core_seconds: Decimal.fromParts(
          BigInt(p.cpuMillicores) * p.durationSeconds,
          THOUSAND,
        ).normalize(),
        memory_byte_seconds: Decimal.from(p.memoryBytes * p.durationSeconds),
      };
      break;
    case 'InferenceCall':
      properties = {
        sandbox_id: p.sandboxId,
        model_id: p.modelId,
        provider: p.provider,
        input_tokens: Decimal.from(p.inputTokens),
        output_tokens: Decimal.from(p.outputTokens),
        cost_usd: p.costUsd,
      };
      derived = { total_tokens: Decimal.from(p.inputTokens + p.outputTokens) };
      break;
    case 'NetworkEgress':
      properties = {
        sandbox_id: p.sandboxId,
        destination: p.destination,
        bytes_transferred: Decimal.from(p.bytesTransferred),
      };
      derived = {};
      break;
  }
  return {
    source: 'runtime',
    eventType: event.eventType,
    agentNhi: event.agentNhi,
    value: undefined,
    properties,
    derived,
  };
}

/** The value at `path` in `record`, or `undefined` when the record has none. */
export function readPath(record: UsageRecord, path: string): UsageValue | undefined {
  if (path === 'value') return record.value;
  if (path === 'agent_nhi') return record.agentNhi;
  if (path === 'event_type') return record.eventType;
  const dot = path.indexOf('.');
  const name = path.slice(dot + 1);
  const bag = path.startsWith('properties.') ? record.properties : record.derived;
  return Object.hasOwn(bag, name) ? bag[name] : undefined;
}

function groupText(value: UsageValue | undefined, dimension: string): string {
  if (value === undefined) return MISSING_GROUP_VALUE;
  const text = typeof value === 'string' ? value : value.toString();
  if (text.length === 0 || text.length > MAX_GROUP_VALUE_LENGTH) {
    throw new EnablementError(
      'MT-400',
      `invalid usage event: group ${dimension}: expected 1–${MAX_GROUP_VALUE_LENGTH} characters`,
    );
  }
  return text;
}

/**
 * What `meter` reads from `record`; `MT-400` naming the path when a required value is missing,
 * not a number, or negative (usage never decreases a meter: corrections are adjustments).
 */
export function measure(meter: Meter, record: UsageRecord): Measurement {
  const groups: Record<string, string> = {};
  if (meter.groupBy !== undefined) {
    for (const dimension of Object.keys(meter.groupBy).sort()) {
      const path = meter.groupBy[dimension] as string;
      groups[dimension] = groupText(readPath(record, path), dimension);
    }
  }
  let value = ONE;
  let distinct: string | undefined;
  if (meter.aggregation !== 'count') {
    const path = meter.valuePath as string;
    const read = readPath(record, path);
    if (read === undefined) {
      throw new EnablementError('MT-400', `invalid usage event: ${path}: required by meter ${meter.id}`);
    }
    if (meter.aggregation === 'unique_count') {
      distinct = groupText(read, path);
    } else {
      if (typeof read === 'string') {
        throw new EnablementError(
          'MT-400',
          `invalid usage event: ${path}: meter ${meter.id} needs a number, got text`,
        );
      }
      if (read.isNegative()) {
        throw new EnablementError('MT-400', `invalid usage event: ${path}: must not be negative`);
      }
      value = read;
    }
  }
  return Object.freeze({
    meterId: meter.id,
    aggregation: meter.aggregation,
    value,
    distinct,
    groups: Object.freeze(groups),
    groupKey: canonicalize(groups),
  });
}
