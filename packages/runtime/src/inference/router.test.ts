import { createJsonLogger, EnablementError, RetryError } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createDeterministicProvider, DETERMINISTIC_PRICE_ENTRIES } from './deterministic.js';
import { createPriceTable } from './price-table.js';
import { createInferenceRouter, MAX_METRIC_MODEL_LABELS, OTHER_MODEL_LABEL } from './router.js';
import type {
  InferenceProvider,
  InferenceRequest,
  InferenceRouterOptions,
  ProviderCompletion,
} from './types.js';

const request = (model: string): InferenceRequest => ({ model, messages: [{ role: 'user', content: 'hi' }] });

/** A provider whose behaviour per call is scripted; records the requests it gets. */
function scripted(
  name: string,
  models: string[],
  steps: ((signal: AbortSignal) => Promise<ProviderCompletion> | ProviderCompletion)[] = [],
) {
  const calls: InferenceRequest[] = [];
  const provider: InferenceProvider = {
    name,
    models,
    async complete(req, { signal }) {
      calls.push(req);
      const step = steps[calls.length - 1];
      if (step) return step(signal);
      return {
        provider: name,
        model: req.model,
        content: `${name}:${req.model}`,
        inputTokens: 10n,
        outputTokens: 20n,
        finishReason: 'stop',
      };
    },
  };
  return { provider, calls };
}

const ok =
  (extra: Partial<ProviderCompletion> = {}) =>
  () =>
    ({
      provider: 'x',
      model: 'x',
      content: 'done',
      inputTokens: 1000n,
      outputTokens: 500n,
      finishReason: 'stop',
      ...extra,
    }) as ProviderCompletion;
const unavailable = (retryAfterMs?: number) => () => {
  throw new EnablementError('RT-503', 'upstream down', {
    retryable: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
};

const prices = createPriceTable([{ provider: '*', model: '*', inputPerMillion: '1', outputPerMillion: '2' }]);

function fakeMetrics() {
  const adds: { value: number; labels: Record<string, unknown> }[] = [];
  return {
    adds,
    metrics: {
      runtimeInferenceRequests: {
        add: (value: number, labels: Record<string, unknown>) => adds.push({ value, labels }),
      },
    } as unknown as NonNullable<InferenceRouterOptions['metrics']>,
  };
}

describe('createInferenceRouter: routing', () => {
  const a = scripted('a', ['claude-*', 'exact-model']);
  const b = scripted('b', ['claude-3-5-*', 'gpt-*']);
  const c = scripted('c', ['*']);
  const router = createInferenceRouter({ providers: [a.provider, b.provider, c.provider], prices });

  it('routes by exact id, then the longest prefix, then the catch-all', () => {
    expect(router.route('exact-model').name).toBe('a');
    expect(router.route('claude-3-5-sonnet').name).toBe('b');
    expect(router.route('claude-3-opus').name).toBe('a');
    expect(router.route('gpt-4o').name).toBe('b');
    expect(router.route('mistral-large').name).toBe('c');
  });

  it('refuses a model no provider serves, and a malformed model id, with RT-400', async () => {
    const narrow = createInferenceRouter({ providers: [a.provider], prices });
    expectEnablementError(() => narrow.route('gpt-4o'), 'RT-400', 'no provider serves "gpt-4o"');
    expectEnablementError(() => narrow.route('claude *'), 'RT-400', 'model');
    await expectEnablementRejection(narrow.complete(request('gpt-4o')), 'RT-400', 'no provider');
  });

  it('refuses ambiguous or malformed configurations with PL-400', () => {
    const dup = scripted('a', ['other']);
    expectEnablementError(
      () => createInferenceRouter({ providers: [a.provider, dup.provider], prices }),
      'PL-400',
      'appears twice',
    );
    const clash = scripted('z', ['claude-*']);
    expectEnablementError(
      () => createInferenceRouter({ providers: [a.provider, clash.provider], prices }),
      'PL-400',
      '"claude-*" appears twice',
    );
    expectEnablementError(
      () => createInferenceRouter({ providers: [scripted('x', ['a*b']).provider], prices }),
      'PL-400',
      'providers[0].models[0]',
    );
    expectEnablementError(
      () => createInferenceRouter({ providers: [scripted('x y', ['m']).provider], prices }),
      'PL-400',
      'providers[0].name',
    );
    expectEnablementError(() => createInferenceRouter({ providers: [], prices }), 'PL-400', 'providers');
    expectEnablementError(
      () => createInferenceRouter({ providers: [a.provider], prices: {} as never }),
      'PL-400',
      'prices',
    );
    expectEnablementError(
      () => createInferenceRouter({ providers: [a.provider], prices, retry: { maxAttempts: 0 } }),
      'PL-400',
      'retry.maxAttempts',
    );
  });

  it('routes on a snapshot of the model lists taken at construction', () => {
    const models = ['m-*'];
    const p = scripted('p', models);
    const r = createInferenceRouter({ providers: [p.provider], prices });
    models.push('late');
    expectEnablementError(() => r.route('late'), 'RT-400');
  });
});

describe('createInferenceRouter: complete', () => {
  it('returns the completion with the exact cost, the routed provider name and the requested model', async () => {
    const p = scripted('p', ['m-*'], [ok({ provider: 'liar', model: 'other' })]);
    const router = createInferenceRouter({ providers: [p.provider], prices });
    const result = await router.complete(request('m-1'));
    expect(result).toMatchObject({
      provider: 'p',
      model: 'm-1',
      content: 'done',
      inputTokens: 1000n,
      outputTokens: 500n,
      finishReason: 'stop',
    });
    expect(result.costUsd.toString()).toBe('0.002');
    expect(Object.isFrozen(result)).toBe(true);
  });

  it('measures latency on the clock, retries included', async () => {
    const clock = new FakeClock();
    const p = scripted('p', ['m'], [unavailable(), ok()]);
    const router = createInferenceRouter({
      providers: [p.provider],
      prices,
      clock,
      retry: { random: () => 0, initialDelayMs: 300 },
    });
    const pending = router.complete(request('m'));
    await clock.advanceAsync(300);
    expect((await pending).latencyMs).toBe(300);
  });

  it('does not call the provider for a model without a price (RT-400 before any token is spent)', async () => {
    const p = scripted('p', ['m-*']);
    const narrowPrices = createPriceTable([
      { provider: 'p', model: 'm-priced', inputPerMillion: '1', outputPerMillion: '1' },
    ]);
    const router = createInferenceRouter({ providers: [p.provider], prices: narrowPrices });
    await expectEnablementRejection(router.complete(request('m-unpriced')), 'RT-400', 'no price');
    expect(p.calls).toHaveLength(0);
    await expect(router.complete(request('m-priced'))).resolves.toMatchObject({ provider: 'p' });
  });

  it('validates the request and call options with RT-400 naming the field', async () => {
    const router = createInferenceRouter({ providers: [scripted('p', ['*']).provider], prices });
    await expectEnablementRejection(
      router.complete({ model: 'm', messages: [{ role: 'tool', content: 'x' }] } as never),
      'RT-400',
      'messages[0].role',
    );
    await expectEnablementRejection(
      router.complete({ ...request('m'), max_tokens: 5 } as never),
      'RT-400',
      'max_tokens',
    );
    await expectEnablementRejection(
      router.complete({ ...request('m'), temperature: 3 }),
      'RT-400',
      'temperature',
    );
    await expectEnablementRejection(router.complete(request('m'), { timeoutMs: 0 }), 'RT-400', 'timeoutMs');
    await expectEnablementRejection(
      router.complete(request('m'), { signal: {} as AbortSignal }),
      'RT-400',
      'signal',
    );
  });

  it('retries a retryable RT-503 with backoff on the clock, then succeeds', async () => {
    const clock = new FakeClock();
    const p = scripted('p', ['m'], [unavailable(), unavailable(), ok()]);
    const router = createInferenceRouter({
      providers: [p.provider],
      prices,
      clock,
      retry: { random: () => 0 },
    });
    const pending = router.complete(request('m'));
    await clock.advanceAsync(250);
    expect(p.calls).toHaveLength(2);
    await clock.advanceAsync(250);
    await expect(pending).resolves.toMatchObject({ content: 'done' });
    expect(p.calls).toHaveLength(3);
  });

  it('waits at least the Retry-After hint, and gives up at once when the hint exceeds maxDelayMs', async () => {
    const clock = new FakeClock();
    const p = scripted('p', ['m'], [unavailable(2000), ok()]);
    const router = createInferenceRouter({
      providers: [p.provider],
      prices,
      clock,
      retry: { random: () => 0 },
    });
    const pending = router.complete(request('m'));
    await clock.advanceAsync(1999);
    expect(p.calls).toHaveLength(1);
    await clock.advanceAsync(1);
    await expect(pending).resolves.toMatchObject({ content: 'done' });

    const slow = scripted('p', ['m'], [unavailable(60_000), ok()]);
    const strict = createInferenceRouter({ providers: [slow.provider], prices, clock });
    const error = await expectEnablementRejection(strict.complete(request('m')), 'RT-503');
    expect(error.retryAfterMs).toBe(60_000);
    expect(slow.calls).toHaveLength(1);
  });

  it('stops after maxAttempts with a RetryError (RT-503) that counts the attempts', async () => {
    const clock = new FakeClock();
    const p = scripted('p', ['m'], [unavailable(), unavailable(), unavailable()]);
    const router = createInferenceRouter({
      providers: [p.provider],
      prices,
      clock,
      retry: { maxAttempts: 2, random: () => 0 },
    });
    const pending = expectEnablementRejection(
      router.complete(request('m')),
      'RT-503',
      'gave up after 2 attempts',
    );
    await clock.advanceAsync(250);
    const error = await pending;
    expect(RetryError.is(error) && error.attempts).toBe(2);
    expect(p.calls).toHaveLength(2);
  });

  it('does not retry final errors (RT-400, RT-500, a non-retryable RT-503)', async () => {
    for (const err of [
      new EnablementError('RT-400', 'bad'),
      new EnablementError('RT-500', 'creds'),
      new EnablementError('RT-503', 'broken', { retryable: false }),
    ]) {
      const p = scripted(
        'p',
        ['m'],
        [
          () => {
            throw err;
          },
          ok(),
        ],
      );
      const router = createInferenceRouter({ providers: [p.provider], prices, retry: { random: () => 0 } });
      await expect(router.complete(request('m'))).rejects.toBe(err);
      expect(p.calls).toHaveLength(1);
    }
  });

  it('turns a foreign error into RT-500 without copying its text', async () => {
    const p = scripted(
      'p',
      ['m'],
      [
        () => {
          throw new Error('secret sk-123 leaked');
        },
      ],
    );
    const router = createInferenceRouter({ providers: [p.provider], prices });
    const error = await expectEnablementRejection(
      router.complete(request('m')),
      'RT-500',
      'not an EnablementError',
    );
    expect(JSON.stringify(error)).not.toContain('sk-123');
  });

  it.each([
    ['content', { content: 5 }],
    ['inputTokens', { inputTokens: -1n }],
    ['outputTokens', { outputTokens: 3 }],
    ['finishReason', { finishReason: 'tool_calls' }],
  ])('refuses a completion with a bad %s with RT-500', async (field, bad) => {
    const p = scripted('p', ['m'], [ok(bad as Partial<ProviderCompletion>)]);
    const router = createInferenceRouter({ providers: [p.provider], prices });
    await expectEnablementRejection(router.complete(request('m')), 'RT-500', field);
  });

  it('rejects with RT-408 at the deadline (on the clock), aborting the provider and abandoning it', async () => {
    const clock = new FakeClock();
    let seen: AbortSignal | undefined;
    // This provider never settles and ignores its signal: the router must not wait for it.
    const p = scripted(
      'p',
      ['m'],
      [
        (signal) => {
          seen = signal;
          return new Promise<never>(() => {});
        },
      ],
    );
    const router = createInferenceRouter({ providers: [p.provider], prices, clock, defaultTimeoutMs: 1000 });
    const pending = expectEnablementRejection(router.complete(request('m')), 'RT-408', 'within 1000 ms');
    await clock.advanceAsync(999);
    expect(seen?.aborted).toBe(false);
    await clock.advanceAsync(1);
    await pending;
    expect(seen?.aborted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('the per-call timeoutMs overrides the default, and covers retry waits too', async () => {
    const clock = new FakeClock();
    const p = scripted('p', ['m'], [unavailable(5000), ok()]);
    const router = createInferenceRouter({ providers: [p.provider], prices, clock });
    const pending = expectEnablementRejection(router.complete(request('m'), { timeoutMs: 3000 }), 'RT-408');
    await clock.advanceAsync(3000);
    await pending;
    expect(p.calls).toHaveLength(1);
  });

  it("rejects with the caller's abort reason, before or during the call, and leaves no timer behind", async () => {
    const clock = new FakeClock();
    const p = scripted(
      'p',
      ['m'],
      [
        (signal) =>
          new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      ],
    );
    const router = createInferenceRouter({ providers: [p.provider], prices, clock });
    const controller = new AbortController();
    const pending = router.complete(request('m'), { signal: controller.signal });
    const reason = new Error('user cancelled');
    await Promise.resolve();
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    await expect(router.complete(request('m'), { signal: controller.signal })).rejects.toBe(reason);
  });

  it('counts runtime_inference_requests_total{provider,model}, bounding the model label values', async () => {
    const { adds, metrics } = fakeMetrics();
    const router = createInferenceRouter({
      providers: [createDeterministicProvider()],
      prices: createPriceTable(DETERMINISTIC_PRICE_ENTRIES),
      metrics,
    });
    await router.complete(request('deterministic-a'));
    expect(adds).toEqual([{ value: 1, labels: { provider: 'deterministic', model: 'deterministic-a' } }]);
    for (let i = 0; i < MAX_METRIC_MODEL_LABELS + 5; i++)
      await router.complete(request(`deterministic-${i}`));
    const labels = new Set(adds.map((a) => a.labels.model));
    expect(labels.size).toBe(MAX_METRIC_MODEL_LABELS + 1);
    expect(labels.has(OTHER_MODEL_LABEL)).toBe(true);
    await router.complete(request('deterministic-a'));
    expect(adds.at(-1)?.labels.model).toBe('deterministic-a');
  });

  it('logs retries and failures with provider, model and code, never the prompt', async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const logger = createJsonLogger({ sink: (l) => lines.push(l), clock, level: 'debug' });
    const p = scripted(
      'p',
      ['m'],
      [
        unavailable(),
        () => {
          throw new EnablementError('RT-400', 'rejected');
        },
      ],
    );
    const router = createInferenceRouter({
      providers: [p.provider],
      prices,
      clock,
      logger,
      retry: { random: () => 0 },
    });
    const pending = expectEnablementRejection(
      router.complete({ model: 'm', messages: [{ role: 'user', content: 'TOP-SECRET-PROMPT' }] }),
      'RT-400',
    );
    await clock.advanceAsync(250);
    await pending;
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).toContain('RT-503');
    expect(lines.join('\n')).not.toContain('TOP-SECRET-PROMPT');
  });
});
