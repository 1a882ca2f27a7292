import { EnablementError } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approximateTokenCount,
  createDeterministicProvider,
  DETERMINISTIC_PRICE_ENTRIES,
  DETERMINISTIC_TOKENS_PER_MESSAGE,
} from './deterministic.js';
import { createPriceTable } from './price-table.js';
import type { InferenceRequest } from './types.js';

const signal = new AbortController().signal;
const ask = (content: string, extra: Partial<InferenceRequest> = {}): InferenceRequest => ({
  model: 'deterministic-1',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content },
  ],
  ...extra,
});

describe('createDeterministicProvider', () => {
  it('answers the same request identically, across provider instances (property)', async () => {
    const a = createDeterministicProvider();
    const b = createDeterministicProvider();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (prompt) => {
        const first = await a.complete(ask(prompt), { signal });
        const second = await b.complete(ask(prompt), { signal });
        expect(second).toEqual(first);
        expect(first.content.length).toBeGreaterThan(0);
      }),
      { numRuns: 50 },
    );
  });

  it('pins the reply of a known request, so a change to the algorithm is noticed', async () => {
    const result = await createDeterministicProvider().complete(ask('hello'), { signal });
    expect(result).toMatchInlineSnapshot(`
      {
        "content": "A the safely token a route context result the result token clearly signal route vector channel signal record. [9225e5b34059]",
        "finishReason": "stop",
        "inputTokens": 12n,
        "model": "deterministic-1",
        "outputTokens": 31n,
        "provider": "deterministic",
      }
    `);
  });

  it('varies the reply with the prompt, the model and the seed', async () => {
    const p = createDeterministicProvider();
    const base = (await p.complete(ask('hello'), { signal })).content;
    expect((await p.complete(ask('hello!'), { signal })).content).not.toBe(base);
    expect((await p.complete({ ...ask('hello'), model: 'deterministic-2' }, { signal })).content).not.toBe(
      base,
    );
    const seeded = createDeterministicProvider({ seed: 'other' });
    expect((await seeded.complete(ask('hello'), { signal })).content).not.toBe(base);
  });

  it('counts tokens with the documented approximation: ⌈chars / 4⌉ per text, plus 4 per message in', async () => {
    expect([
      approximateTokenCount(''),
      approximateTokenCount('abcd'),
      approximateTokenCount('abcde'),
    ]).toEqual([0n, 1n, 2n]);
    const result = await createDeterministicProvider().complete(ask('x'.repeat(41)), { signal });
    expect(result.inputTokens).toBe(2n + 11n + 2n * DETERMINISTIC_TOKENS_PER_MESSAGE);
    expect(result.outputTokens).toBe(approximateTokenCount(result.content));
  });

  it('plays scripted replies by the last user message (exact text, then patterns; g flags are harmless)', async () => {
    const p = createDeterministicProvider({
      responses: [
        { lastUserMessage: 'ping', reply: 'pong' },
        { lastUserMessage: /weather/g, reply: 'sunny' },
      ],
    });
    expect((await p.complete(ask('ping'), { signal })).content).toBe('pong');
    expect((await p.complete(ask('ping '), { signal })).content).not.toBe('pong');
    // A global regex keeps `lastIndex` between `test` calls; the provider must not inherit that.
    for (let i = 0; i < 3; i++)
      expect((await p.complete(ask('weather today?'), { signal })).content).toBe('sunny');
    const later = {
      model: 'deterministic-1',
      messages: [
        { role: 'user', content: 'ping' },
        { role: 'assistant', content: 'pong' },
        { role: 'user', content: 'and the weather?' },
      ],
    } as const;
    expect((await p.complete(later, { signal })).content).toBe('sunny');
  });

  it('cuts at the first stop sequence (finish stop) and at maxTokens × 4 characters (finish length)', async () => {
    const p = createDeterministicProvider({
      responses: [{ lastUserMessage: 'go', reply: 'one two. three' }],
    });
    const stopped = await p.complete(ask('go', { stop: ['three', '.'] }), { signal });
    expect(stopped).toMatchObject({ content: 'one two', finishReason: 'stop' });
    const cut = await p.complete(ask('go', { maxTokens: 2 }), { signal });
    expect(cut).toMatchObject({ content: 'one two.', finishReason: 'length', outputTokens: 2n });
    const fits = await p.complete(ask('go', { maxTokens: 4 }), { signal });
    expect(fits).toMatchObject({ content: 'one two. three', finishReason: 'stop' });
  });

  it('waits its simulated latency on the clock and honours aborts', async () => {
    const clock = new FakeClock();
    const p = createDeterministicProvider({ latencyMs: 500, clock });
    let settled = false;
    const pending = p.complete(ask('hi'), { signal }).then((r) => {
      settled = true;
      return r;
    });
    await clock.advanceAsync(499);
    expect(settled).toBe(false);
    await clock.advanceAsync(1);
    await expect(pending).resolves.toMatchObject({ provider: 'deterministic' });

    const controller = new AbortController();
    const aborted = p.complete(ask('hi'), { signal: controller.signal });
    const reason = new EnablementError('RT-408', 'stop');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
  });

  it('validates requests (RT-400) and options (PL-400)', async () => {
    const p = createDeterministicProvider();
    await expectEnablementRejection(
      p.complete({ model: 'deterministic-1', messages: [] }, { signal }),
      'RT-400',
    );
    expectEnablementError(() => createDeterministicProvider({ models: ['bad model'] }), 'PL-400', 'models');
    expectEnablementError(() => createDeterministicProvider({ latencyMs: -1 }), 'PL-400', 'latencyMs');
  });

  it('is priced by the shipped demo entry under its default name and models', async () => {
    const prices = createPriceTable(DETERMINISTIC_PRICE_ENTRIES);
    const p = createDeterministicProvider();
    expect(prices.cost(p.name, 'deterministic-echo', 1_000_000n, 1_000_000n).toString()).toBe('2');
  });
});
