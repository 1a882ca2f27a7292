import { Decimal, newSandboxId, newUuid, type RuntimeUsageEvent } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { DEFAULT_METERS, measure, readPath, runtimeUsageRecord, validateMeter } from './meters.js';
import { MISSING_GROUP_VALUE, type UsageRecord } from './types.js';

const header = {
  eventId: newUuid(),
  agentNhi: 'agent:nhi:ed25519:x',
  delegationChain: [],
  consensusTimestamp: 1n,
  idempotencyKey: 'k',
  signature: new Uint8Array(3309),
};

const terminated: RuntimeUsageEvent = {
  ...header,
  eventType: 'sandbox_terminated',
  properties: {
    type: 'SandboxAllocated',
    sandboxId: newSandboxId(),
    runtimeClass: 'gvisor',
    cpuMillicores: 1500,
    memoryBytes: 2_147_483_648n,
    durationSeconds: 601n,
  },
};

const call: RuntimeUsageEvent = {
  ...header,
  eventType: 'inference_call',
  properties: {
    type: 'InferenceCall',
    sandboxId: newSandboxId(),
    modelId: 'claude-3',
    provider: 'anthropic',
    inputTokens: 18_446_744_073_709_551_615n, // u64 max stays exact
    outputTokens: 1n,
    costUsd: Decimal.parse('0.018510'),
  },
};

const meter = (id: string) => {
  const found = DEFAULT_METERS.find((m) => m.id === id);
  if (found === undefined) throw new Error(id);
  return found;
};

describe('meters', () => {
  it('reads Runtime events in wire spelling, exactly, with derived values', () => {
    const record = runtimeUsageRecord(terminated);
    expect(readPath(record, 'properties.duration_seconds')?.toString()).toBe('601');
    expect(readPath(record, 'derived.cpu_core_seconds')?.toString()).toBe('901.5');
    expect(readPath(record, 'derived.memory_byte_seconds')?.toString()).toBe('1290637672448');
    expect(readPath(record, 'properties.runtime_class')).toBe('gvisor');
    expect(readPath(record, 'properties.nothing')).toBeUndefined();
    expect(readPath(record, 'properties.constructor')).toBeUndefined(); // own properties only
    const tokens = runtimeUsageRecord(call);
    expect(readPath(tokens, 'derived.total_tokens')?.toString()).toBe('18446744073709551616');
    expect(readPath(tokens, 'agent_nhi')).toBe(header.agentNhi);
  });

  it('measures with groups, and every default meter applies to its event type', () => {
    const cost = measure(meter('inference_cost_usd'), runtimeUsageRecord(call));
    expect(cost).toMatchObject({
      value: Decimal.parse('0.018510'),
      groups: { model: 'claude-3', provider: 'anthropic' },
    });
    expect(cost.groupKey).toBe('{"model":"claude-3","provider":"anthropic"}');
    expect(measure(meter('sandbox_seconds'), runtimeUsageRecord(terminated)).value.toString()).toBe('601');
    expect(measure(meter('inference_calls'), runtimeUsageRecord(call)).value.toString()).toBe('1');
    const unique = measure(
      meter('unique_sandboxes'),
      runtimeUsageRecord({ ...terminated, eventType: 'sandbox_allocated' }),
    );
    expect(unique.distinct).toBe(terminated.properties.sandboxId);
    for (const m of DEFAULT_METERS) expect(validateMeter(m)).toEqual(m);
  });

  it('names the path of a missing, textual or negative value (host events)', () => {
    const host = (properties: UsageRecord['properties'], value?: Decimal): UsageRecord => ({
      source: 'host',
      eventType: 'api_call',
      agentNhi: undefined,
      value,
      properties,
      derived: {},
    });
    const sum = validateMeter({
      id: 'bytes',
      eventType: 'api_call',
      aggregation: 'sum',
      valuePath: 'properties.bytes',
      groupBy: { route: 'properties.route' },
    });
    expectEnablementError(() => measure(sum, host({})), 'MT-400', /properties\.bytes: required/);
    expectEnablementError(() => measure(sum, host({ bytes: 'ten' })), 'MT-400', /needs a number/);
    expectEnablementError(() => measure(sum, host({ bytes: Decimal.parse('-1') })), 'MT-400', /negative/);
    expectEnablementError(
      () => measure(sum, host({ bytes: Decimal.parse('1'), route: 'x'.repeat(300) })),
      'MT-400',
      /route/,
    );
    expect(measure(sum, host({ bytes: Decimal.parse('2') })).groups).toEqual({ route: MISSING_GROUP_VALUE });
  });

  it('rejects invalid meters with MT-400 naming the field', () => {
    const ok = {
      id: 'm',
      eventType: 'inference_call',
      aggregation: 'sum',
      valuePath: 'properties.input_tokens',
    };
    expectEnablementError(() => validateMeter({ ...ok, id: 'Bad Id' }), 'MT-400', /id/);
    expectEnablementError(() => validateMeter({ ...ok, aggregation: 'avg' }), 'MT-400', /aggregation/);
    expectEnablementError(
      () => validateMeter({ ...ok, valuePath: undefined }),
      'MT-400',
      /valuePath: required/,
    );
    expectEnablementError(
      () => validateMeter({ ...ok, valuePath: 'properties.model_id' }),
      'MT-400',
      /not numeric/,
    );
    expectEnablementError(
      () => validateMeter({ ...ok, valuePath: 'properties.bytes_transferred' }),
      'MT-400',
      /no properties/,
    );
    expectEnablementError(
      () => validateMeter({ ...ok, groupBy: { region: 'properties.region' } }),
      'MT-400',
      /groupBy\.region/,
    );
    expectEnablementError(() => validateMeter({ ...ok, extra: 1 }), 'MT-400');
    expectEnablementError(
      () => validateMeter({ ...ok, eventType: 'api_call', valuePath: 'derived.total_tokens' }),
      'MT-400',
      /derived/,
    );
    expectEnablementError(() => validateMeter(null), 'MT-400');
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`d${i}`, 'properties.model_id']));
    expectEnablementError(() => validateMeter({ ...ok, groupBy: many }), 'MT-400', /dimensions/);
    // count ignores a value path; unique_count may count text.
    expect(validateMeter({ ...ok, aggregation: 'count' }).valuePath).toBeUndefined();
    expect(
      validateMeter({ ...ok, aggregation: 'unique_count', valuePath: 'properties.model_id' }).aggregation,
    ).toBe('unique_count');
  });
});
