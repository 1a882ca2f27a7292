import {
  type Clock,
  clockSchema,
  createEnablementMetrics,
  EnablementError,
  type Logger,
  millisToNanos,
  noopLogger,
  parseOptions,
  type RetryStrategy,
  retry,
  SPAN_NAMES,
  systemClock,
  UINT64_MAX,
  withSpan,
} from '@creto/core';
import { z } from 'zod';
import { createPatternMatcher, isModelId, isModelPattern, MAX_MODEL_PATTERNS } from './patterns.js';
import { parseInferenceRequest } from './request.js';
import type {
  InferenceCallOptions,
  InferenceFinishReason,
  InferenceProvider,
  InferenceRequest,
  InferenceResult,
  InferenceRouter,
  InferenceRouterOptions,
  PriceTable,
  ProviderCompletion,
} from './types.js';

/** Default deadline of one `complete` call, retries included: 2 minutes. */
export const DEFAULT_INFERENCE_TIMEOUT_MS = 120_000;
/** Longest deadline a call may ask for: 1 hour. */
export const MAX_INFERENCE_TIMEOUT_MS = 3_600_000;
/** Default attempts per call (the first included). */
export const DEFAULT_INFERENCE_MAX_ATTEMPTS = 3;
/** Most attempts per call a router may be configured with. */
export const MAX_INFERENCE_ATTEMPTS = 10;
/** Default first backoff delay, ms. */
export const DEFAULT_INFERENCE_RETRY_INITIAL_DELAY_MS = 250;
/** Default longest wait between attempts, ms. */
export const DEFAULT_INFERENCE_RETRY_MAX_DELAY_MS = 10_000;
/** Most providers one router holds. */
export const MAX_ROUTER_PROVIDERS = 64;
/**
 * Most distinct `model` label values the router gives `runtime_inference_requests_total`. Prefix
 * patterns let callers invent model ids; past this many, further new ids are counted as
 * {@link OTHER_MODEL_LABEL}, so a caller cannot blow up the metric's cardinality.
 */
export const MAX_METRIC_MODEL_LABELS = 256;
/** The `model` label of requests beyond {@link MAX_METRIC_MODEL_LABELS}. */
export const OTHER_MODEL_LABEL = 'other';

// OpenTelemetry GenAI semantic-convention attribute keys (spec §10.1 names none for inference).
const ATTR_PROVIDER = 'gen_ai.provider.name';
const ATTR_OPERATION = 'gen_ai.operation.name';
const ATTR_REQUEST_MODEL = 'gen_ai.request.model';
const ATTR_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
const ATTR_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
const ATTR_FINISH_REASONS = 'gen_ai.response.finish_reasons';

const FINISH_REASONS: ReadonlySet<string> = new Set<InferenceFinishReason>(['stop', 'length', 'other']);
const NEVER: RetryStrategy = Object.freeze({ kind: 'never' });

const isFunction = (value: unknown) => typeof value === 'function';

const optionsSchema = z.strictObject({
  providers: z
    .array(
      z.custom<InferenceProvider>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          isFunction((v as InferenceProvider).complete) &&
          Array.isArray((v as InferenceProvider).models),
        { error: 'expected an InferenceProvider { name, models, complete }' },
      ),
    )
    .min(1)
    .max(MAX_ROUTER_PROVIDERS),
  prices: z.custom<PriceTable>(
    (v) => typeof v === 'object' && v !== null && isFunction((v as PriceTable).cost),
    { error: 'expected a PriceTable (createPriceTable)' },
  ),
  clock: clockSchema.optional(),
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(MAX_INFERENCE_ATTEMPTS).optional(),
      initialDelayMs: z.number().min(0).max(60_000).optional(),
      maxDelayMs: z.number().min(0).max(300_000).optional(),
      random: z.custom<() => number>(isFunction, { error: 'expected a function' }).optional(),
    })
    .optional(),
  defaultTimeoutMs: z.number().int().min(1).max(MAX_INFERENCE_TIMEOUT_MS).optional(),
  logger: z
    .custom<Logger>((v) => typeof v === 'object' && v !== null && isFunction((v as Logger).warn), {
      error: 'expected a Logger',
    })
    .optional(),
  metrics: z
    .custom<NonNullable<InferenceRouterOptions['metrics']>>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        isFunction((v as { runtimeInferenceRequests?: { add?: unknown } }).runtimeInferenceRequests?.add),
      { error: 'expected EnablementMetrics (createEnablementMetrics)' },
    )
    .optional(),
});

function invalidOption(message: string): EnablementError {
  return new EnablementError('PL-400', `invalid createInferenceRouter options: ${message}`);
}

/** Quotes at most 64 characters of caller text for an error message. */
function quote(text: unknown): string {
  const s = typeof text === 'string' ? text : typeof text;
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** Resolves with `promise`, or rejects with the signal's reason as soon as it aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function isTokenCount(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= 0n && value <= UINT64_MAX;
}

/** Checks what a provider returned: a buggy or hostile provider gets `RT-500`, never a crash. */
function checkCompletion(provider: string, completion: unknown): ProviderCompletion {
  const bad = (field: string) =>
    new EnablementError(
      'RT-500',
      `inference: provider ${quote(provider)} returned an invalid completion: ${field}`,
    );
  if (typeof completion !== 'object' || completion === null) throw bad('not an object');
  const c = completion as Partial<ProviderCompletion>;
  if (typeof c.content !== 'string') throw bad('content must be a string');
  if (!isTokenCount(c.inputTokens)) throw bad('inputTokens must be a bigint from 0 to 2^64 - 1');
  if (!isTokenCount(c.outputTokens)) throw bad('outputTokens must be a bigint from 0 to 2^64 - 1');
  if (typeof c.finishReason !== 'string' || !FINISH_REASONS.has(c.finishReason)) {
    throw bad('finishReason must be stop, length or other');
  }
  return c as ProviderCompletion;
}

function checkCallOptions(options: unknown): InferenceCallOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('RT-400', 'inference options: expected { signal?, timeoutMs? }');
  }
  const { signal, timeoutMs } = options as InferenceCallOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new EnablementError('RT-400', 'inference options.signal: expected an AbortSignal');
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' ||
      !Number.isInteger(timeoutMs) ||
      timeoutMs < 1 ||
      timeoutMs > MAX_INFERENCE_TIMEOUT_MS)
  ) {
    throw new EnablementError(
      'RT-400',
      `inference options.timeoutMs: expected an integer from 1 to ${MAX_INFERENCE_TIMEOUT_MS}`,
    );
  }
  return options as InferenceCallOptions;
}

/**
 * Builds the inference proxy's router (spec §4.3, §7.1: "Route to Anthropic API").
 *
 * `complete(request, { signal, timeoutMs })`:
 * 1. validates the request (`RT-400` naming the field);
 * 2. routes by model: an exact pattern first, then the longest prefix (`RT-400` when no provider
 *    serves it);
 * 3. checks the model has a price **before** calling the provider (`RT-400` otherwise: tokens
 *    that cannot be billed are not spent);
 * 4. counts `runtime_inference_requests_total{provider,model}` (spec §10.2) and opens the span
 *    `runtime.inference` with OpenTelemetry GenAI attributes (`gen_ai.provider.name`,
 *    `gen_ai.request.model`, `gen_ai.usage.*`);
 * 5. calls the provider, retrying transient failures (retryable `*-503`, honouring
 *    `retryAfterMs`) with core `retry` and decorrelated jitter, at most `retry.maxAttempts`
 *    times; a `Retry-After` longer than `retry.maxDelayMs` fails at once with the hint;
 * 6. prices the tokens exactly with the price table and measures the latency on the clock.
 *
 * The deadline (`timeoutMs`, else `defaultTimeoutMs`) covers the whole call, retries included,
 * and is kept on the clock (so `FakeClock` drives it): on expiry the provider call is aborted
 * and the call rejects with `RT-408`. Aborting `signal` rejects with the signal's reason. A
 * provider that ignores its signal is abandoned, not awaited. A provider that throws something
 * other than an `EnablementError`, or returns a malformed completion, yields `RT-500`.
 *
 * The result's `provider` is the routed provider's name and `model` the requested id (what was
 * priced), whatever the provider echoes.
 *
 * Options are validated (`PL-400`): provider names must be unique and no model pattern may be
 * claimed twice, so routing never depends on the order of the list.
 */
export function createInferenceRouter(options: InferenceRouterOptions): InferenceRouter {
  const parsed = parseOptions(optionsSchema, options, 'createInferenceRouter');
  const clock: Clock = parsed.clock ?? systemClock;
  const logger = parsed.logger ?? noopLogger;
  const counter = (parsed.metrics ?? createEnablementMetrics()).runtimeInferenceRequests;
  const prices = parsed.prices;
  const defaultTimeoutMs = parsed.defaultTimeoutMs ?? DEFAULT_INFERENCE_TIMEOUT_MS;
  const maxAttempts = parsed.retry?.maxAttempts ?? DEFAULT_INFERENCE_MAX_ATTEMPTS;
  const maxDelayMs = parsed.retry?.maxDelayMs ?? DEFAULT_INFERENCE_RETRY_MAX_DELAY_MS;
  const backoff: RetryStrategy = Object.freeze({
    kind: 'exponential_backoff',
    initialDelayMs: Math.min(
      parsed.retry?.initialDelayMs ?? DEFAULT_INFERENCE_RETRY_INITIAL_DELAY_MS,
      maxDelayMs,
    ),
    maxDelayMs,
    maxAttempts,
  });
  const random = parsed.retry?.random;

  const names = new Set<string>();
  const routes: [string, InferenceProvider][] = [];
  parsed.providers.forEach((provider, i) => {
    if (!isModelId(provider.name)) {
      throw invalidOption(
        `providers[${i}].name: expected a provider name: visible ASCII, no spaces, no \`*\``,
      );
    }
    if (names.has(provider.name))
      throw invalidOption(`providers[${i}].name: ${quote(provider.name)} appears twice`);
    names.add(provider.name);
    // A snapshot: a provider changing its list later does not change routing.
    const models = [...provider.models];
    if (models.length === 0 || models.length > MAX_MODEL_PATTERNS) {
      throw invalidOption(`providers[${i}].models: expected 1 to ${MAX_MODEL_PATTERNS} model patterns`);
    }
    models.forEach((pattern, j) => {
      if (!isModelPattern(pattern)) {
        throw invalidOption(
          `providers[${i}].models[${j}]: expected a model id, a prefix pattern ending in \`*\`, or \`*\``,
        );
      }
      routes.push([pattern, provider]);
    });
  });
  const matcher = createPatternMatcher(routes, 'invalid createInferenceRouter options: providers');

  const modelLabels = new Set<string>();
  const modelLabel = (model: string): string => {
    if (modelLabels.has(model)) return model;
    if (modelLabels.size >= MAX_METRIC_MODEL_LABELS) return OTHER_MODEL_LABEL;
    modelLabels.add(model);
    return model;
  };

  const route = (model: string): InferenceProvider => {
    if (!isModelId(model)) {
      throw new EnablementError('RT-400', 'model: expected a model id: visible ASCII, no spaces, no `*`');
    }
    const provider = matcher.match(model);
    if (provider === undefined)
      throw new EnablementError('RT-400', `model: no provider serves ${quote(model)}`);
    return provider;
  };

  const assertPriced = (provider: string, model: string): void => {
    if (prices.price !== undefined) {
      if (prices.price(provider, model) !== undefined) return;
      // No price: `cost` raises the table's own RT-400.
    }
    prices.cost(provider, model, 0n, 0n);
  };

  const strategy = (error: unknown): RetryStrategy =>
    EnablementError.is(error) && error.retryable && error.code.endsWith('-503') ? backoff : NEVER;

  async function attempt(
    provider: InferenceProvider,
    request: InferenceRequest,
    signal: AbortSignal,
  ): Promise<ProviderCompletion> {
    try {
      return await raceAbort(provider.complete(request, { signal }), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (EnablementError.is(error)) throw error;
      // Foreign error text may hold secrets: kept as `cause` only, never in the message.
      throw new EnablementError(
        'RT-500',
        `inference: provider ${quote(provider.name)} failed with an error that is not an EnablementError`,
        { cause: error },
      );
    }
  }

  async function complete(
    request: InferenceRequest,
    options?: InferenceCallOptions,
  ): Promise<InferenceResult> {
    const req = parseInferenceRequest(request);
    const { signal, timeoutMs = defaultTimeoutMs } = checkCallOptions(options);
    const provider = route(req.model);
    assertPriced(provider.name, req.model);
    counter.add(1, { provider: provider.name, model: modelLabel(req.model) });
    const attributes = {
      [ATTR_PROVIDER]: provider.name,
      [ATTR_REQUEST_MODEL]: req.model,
      [ATTR_OPERATION]: 'chat',
    };
    return withSpan(SPAN_NAMES.runtimeInference, attributes, async (span) => {
      if (signal?.aborted) throw signal.reason;
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const start = clock.now();
      const cancelDeadline = clock.schedule(start + millisToNanos(timeoutMs), () =>
        controller.abort(
          new EnablementError(
            'RT-408',
            `inference: ${provider.name} did not complete ${quote(req.model)} within ${timeoutMs} ms`,
          ),
        ),
      );
      try {
        const completion = checkCompletion(
          provider.name,
          await retry(() => attempt(provider, req, controller.signal), {
            clock,
            signal: controller.signal,
            strategy,
            maxAttempts,
            maxDelayMs,
            ...(random === undefined ? {} : { random }),
            onRetry: ({ attempt: n, error, delayMs }) =>
              logger.warn('inference attempt failed; retrying', {
                operation: SPAN_NAMES.runtimeInference,
                provider: provider.name,
                model: req.model,
                attempt: n,
                delayMs,
                error,
              }),
          }),
        );
        const costUsd = prices.cost(
          provider.name,
          req.model,
          completion.inputTokens,
          completion.outputTokens,
        );
        const elapsed = clock.now() - start;
        const result: InferenceResult = Object.freeze({
          provider: provider.name,
          model: req.model,
          content: completion.content,
          inputTokens: completion.inputTokens,
          outputTokens: completion.outputTokens,
          finishReason: completion.finishReason,
          costUsd,
          latencyMs: elapsed > 0n ? Number(elapsed) / 1e6 : 0,
        });
        span.setAttributes({
          [ATTR_FINISH_REASONS]: [result.finishReason],
          ...(result.inputTokens <= BigInt(Number.MAX_SAFE_INTEGER)
            ? { [ATTR_INPUT_TOKENS]: Number(result.inputTokens) }
            : {}),
          ...(result.outputTokens <= BigInt(Number.MAX_SAFE_INTEGER)
            ? { [ATTR_OUTPUT_TOKENS]: Number(result.outputTokens) }
            : {}),
        });
        return result;
      } catch (error) {
        logger.warn('inference failed', {
          operation: SPAN_NAMES.runtimeInference,
          provider: provider.name,
          model: req.model,
          error,
        });
        throw error;
      } finally {
        cancelDeadline();
        signal?.removeEventListener('abort', onAbort);
      }
    });
  }

  return Object.freeze({ route, complete });
}
