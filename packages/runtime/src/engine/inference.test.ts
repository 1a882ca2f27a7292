import { Decimal } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  DETERMINISTIC_PRICE_ENTRIES,
} from '../inference/index.js';
import { fakeQuota, harness, KEYS } from './runtime.test-support.js';

const request = {
  model: 'deterministic-small',
  messages: [{ role: 'user' as const, content: 'Extract invoice data' }],
};

function router() {
  return createInferenceRouter({
    providers: [createDeterministicProvider()],
    prices: createPriceTable(DETERMINISTIC_PRICE_ENTRIES),
  });
}

describe('inference (spec §4.3, §7.1)', () => {
  it('routes the call and emits a signed InferenceCall usage event with the exact cost', async () => {
    const h = await harness({ inference: router() });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const result = await sandbox.inference(request);
    expect(result.provider).toBe('deterministic');
    await h.runtime.flushUsage();
    const event = h.events.find((e) => e.eventType === 'inference_call');
    expect(event?.idempotencyKey).toBe(`${sandbox.sandboxId}:inference:1`);
    expect(event?.properties).toMatchObject({
      type: 'InferenceCall',
      sandboxId: sandbox.sandboxId,
      modelId: 'deterministic-small',
      provider: 'deterministic',
      inputTokens: result.inputTokens,
      outputTokens: result.outputTokens,
    });
    // cost = (in × 0.50 + out × 1.50) / 10^6, exactly.
    const expected = Decimal.fromParts(result.inputTokens * 50n + result.outputTokens * 150n, 8);
    expect(event?.properties.type === 'InferenceCall' && event.properties.costUsd.eq(expected)).toBe(true);
  });

  it('checks the inference_call quota first (RT-429 caused by MT-429)', async () => {
    const quota = fakeQuota(1);
    const h = await harness({ inference: router(), quota });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await sandbox.inference(request);
    const error = await expectEnablementRejection(sandbox.inference(request), 'RT-429');
    expect(error.causedBy?.code).toBe('MT-429');
    await h.runtime.flushUsage();
    expect(h.events.filter((e) => e.eventType === 'inference_call')).toHaveLength(1);
  });

  it('passes router errors through and meters nothing for them', async () => {
    const h = await harness({ inference: router() });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(sandbox.inference({ ...request, model: 'unknown-model' }), 'RT-400');
    expect(h.events.filter((e) => e.eventType === 'inference_call')).toHaveLength(0);
    expect(h.runtime.stats().usage.reserved).toBe(0);
  });

  it('answers RT-503 without a router', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(sandbox.inference(request), 'RT-503', /no inference router/);
  });
});
