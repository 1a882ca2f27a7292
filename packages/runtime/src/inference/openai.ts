import { type Clock, decodeWire, parseOptions, systemClock } from '@creto/core';
import { z } from 'zod';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  type FetchLike,
  type HttpCallContext,
  httpProviderOptionsShape,
  postJson,
  trimBaseUrl,
} from './http.js';
import { parseInferenceRequest } from './request.js';
import type {
  InferenceFinishReason,
  InferenceProvider,
  ProviderCallOptions,
  ProviderCompletion,
} from './types.js';

/** Options of {@link createOpenAiCompatibleProvider}. */
export interface OpenAiCompatibleProviderOptions {
  /** API root that `/chat/completions` is appended to, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer …`; never logged, never in errors or `JSON.stringify`. */
  readonly apiKey: string;
  /** Models served: exact ids or prefix patterns such as `gpt-4o*`. */
  readonly models: readonly string[];
  /** `fetch` to use (a proxy, a test double); `globalThis.fetch` by default. */
  readonly fetch?: FetchLike;
  /** Provider name for routing, prices, metrics and usage events (default `openai`). */
  readonly name?: string;
  /** Bound on a response body, bytes (default 4 MiB). */
  readonly maxResponseBytes?: number;
  /** Clock for `Retry-After` dates (the system clock by default). */
  readonly clock?: Clock;
}

const optionsSchema = z.strictObject(httpProviderOptionsShape);

const tokenCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

// Only the fields used are checked; anything else the server adds is ignored (`z.object` strips).
const responseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional() }),
        finish_reason: z.string().max(64).nullable().optional(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: tokenCount, completion_tokens: tokenCount }),
});

function finishReasonOf(reason: string | null | undefined): InferenceFinishReason {
  return reason === 'stop' ? 'stop' : reason === 'length' ? 'length' : 'other';
}

/**
 * A provider for any server that speaks the OpenAI Chat Completions API (OpenAI, Azure-style
 * gateways, vLLM, Ollama, LiteLLM, OpenRouter, …): `POST {baseUrl}/chat/completions` with
 * `Authorization: Bearer <apiKey>` and `{ model, messages, max_tokens?, temperature?, stop? }`;
 * reads `choices[0].message.content`, `choices[0].finish_reason` (`stop` → `stop`, `length` →
 * `length`, anything else → `other`), `usage.prompt_tokens` and `usage.completion_tokens`.
 *
 * A response without `usage` is refused (`RT-500`): a call that cannot be metered is not returned.
 * A `null` content (a refusal or tool call) becomes `''` with finish reason `other`. Error mapping,
 * bounds and redirects: see `postJson`. The key lives only in a closure: `JSON.stringify`,
 * `String()` and `util.inspect` of the provider show its name, models and base URL.
 *
 * @example
 * ```ts
 * const openai = createOpenAiCompatibleProvider({
 *   baseUrl: 'https://api.openai.com/v1', apiKey: process.env.OPENAI_API_KEY ?? '', models: ['gpt-4o*'],
 * });
 * ```
 */
export function createOpenAiCompatibleProvider(options: OpenAiCompatibleProviderOptions): InferenceProvider {
  const parsed = parseOptions(optionsSchema, options, 'createOpenAiCompatibleProvider');
  const name = parsed.name ?? 'openai';
  const baseUrl = trimBaseUrl(parsed.baseUrl);
  const url = `${baseUrl}/chat/completions`;
  const models = Object.freeze([...parsed.models]);
  const ctx: HttpCallContext = {
    provider: name,
    apiKey: parsed.apiKey,
    fetch: parsed.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: parsed.clock ?? systemClock,
    maxResponseBytes: parsed.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const headers = { authorization: `Bearer ${parsed.apiKey}` };

  async function complete(request: unknown, call: ProviderCallOptions): Promise<ProviderCompletion> {
    const req = parseInferenceRequest(request);
    const body = {
      model: req.model,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      ...(req.maxTokens === undefined ? {} : { max_tokens: req.maxTokens }),
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.stop === undefined ? {} : { stop: [...req.stop] }),
    };
    const json = await postJson(ctx, url, headers, body, call.signal);
    const response = decodeWire(responseSchema, json, {
      contract: `${name} chat completion`,
      code: 'RT-500',
    });
    // `min(1)` above guarantees a first choice.
    const choice = response.choices[0] as (typeof response.choices)[number];
    const content = choice.message.content ?? '';
    return Object.freeze({
      provider: name,
      model: req.model,
      content,
      inputTokens: BigInt(response.usage.prompt_tokens),
      outputTokens: BigInt(response.usage.completion_tokens),
      finishReason: choice.message.content == null ? 'other' : finishReasonOf(choice.finish_reason),
    });
  }

  const describe = { name, models, baseUrl };
  return Object.freeze({
    name,
    models,
    complete,
    toJSON: () => describe,
    toString: () => `InferenceProvider(${name} ${baseUrl})`,
  });
}
