import { type Clock, decodeWire, EnablementError, parseOptions, systemClock } from '@creto/core';
import { z } from 'zod';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  type FetchLike,
  type HttpCallContext,
  httpProviderOptionsShape,
  postJson,
  trimBaseUrl,
} from './http.js';
import { MAX_INFERENCE_MAX_TOKENS, parseInferenceRequest } from './request.js';
import type {
  InferenceFinishReason,
  InferenceProvider,
  ProviderCallOptions,
  ProviderCompletion,
} from './types.js';

/** The `anthropic-version` header sent unless told otherwise. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';
/** `max_tokens` sent when the request gives none (the Messages API requires one). */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 1024;

/** Options of {@link createAnthropicCompatibleProvider}. */
export interface AnthropicCompatibleProviderOptions {
  /** API root that `/v1/messages` is appended to, e.g. `https://api.anthropic.com`. */
  readonly baseUrl: string;
  /** Sent as `x-api-key`; never logged, never in errors or `JSON.stringify`. */
  readonly apiKey: string;
  /** Models served: exact ids or prefix patterns such as `claude-*`. */
  readonly models: readonly string[];
  /** `fetch` to use (a proxy, a test double); `globalThis.fetch` by default. */
  readonly fetch?: FetchLike;
  /** Provider name for routing, prices, metrics and usage events (default `anthropic`). */
  readonly name?: string;
  /** `anthropic-version` header (default {@link DEFAULT_ANTHROPIC_VERSION}). */
  readonly anthropicVersion?: string;
  /** `max_tokens` when a request has no `maxTokens` (default {@link DEFAULT_ANTHROPIC_MAX_TOKENS}). */
  readonly defaultMaxTokens?: number;
  /** Bound on a response body, bytes (default 4 MiB). */
  readonly maxResponseBytes?: number;
  /** Clock for `Retry-After` dates (the system clock by default). */
  readonly clock?: Clock;
}

const optionsSchema = z.strictObject({
  ...httpProviderOptionsShape,
  anthropicVersion: z
    .string()
    .max(64)
    .regex(/^[\x21-\x7E]+$/, { error: 'expected visible ASCII' })
    .optional(),
  defaultMaxTokens: z.number().int().min(1).max(MAX_INFERENCE_MAX_TOKENS).optional(),
});

const tokenCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

// Only the fields used are checked; anything else the server adds is ignored.
const responseSchema = z.object({
  content: z.array(z.object({ type: z.string().max(64), text: z.string().optional() })),
  stop_reason: z.string().max(64).nullable().optional(),
  usage: z.object({
    input_tokens: tokenCount,
    output_tokens: tokenCount,
    cache_creation_input_tokens: tokenCount.nullable().optional(),
    cache_read_input_tokens: tokenCount.nullable().optional(),
  }),
});

function finishReasonOf(reason: string | null | undefined): InferenceFinishReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  return reason === 'max_tokens' ? 'length' : 'other';
}

/**
 * A provider for servers that speak the Anthropic Messages API: `POST {baseUrl}/v1/messages` with
 * `x-api-key` and `anthropic-version` headers and `{ model, max_tokens, system?, messages,
 * temperature?, stop_sequences? }`. System messages are joined (blank line between them) into the
 * top-level `system` field, as the API wants; `max_tokens` is required there, so a request
 * without `maxTokens` sends `defaultMaxTokens`. Reads the `text` of the `content` blocks
 * (concatenated), `stop_reason` (`end_turn`/`stop_sequence` → `stop`, `max_tokens` → `length`,
 * else `other`) and `usage`.
 *
 * Input tokens are `input_tokens` plus any `cache_creation_input_tokens` and
 * `cache_read_input_tokens` (the API counts those separately; this provider never asks for
 * caching, so they are normally absent), all priced at the input price. A response without
 * `usage` is refused (`RT-500`). Error mapping, bounds and redirects: see `postJson`. The key lives
 * only in a closure.
 *
 * @example
 * ```ts
 * const anthropic = createAnthropicCompatibleProvider({
 *   baseUrl: 'https://api.anthropic.com', apiKey: process.env.ANTHROPIC_API_KEY ?? '', models: ['claude-*'],
 * });
 * ```
 */
export function createAnthropicCompatibleProvider(
  options: AnthropicCompatibleProviderOptions,
): InferenceProvider {
  const parsed = parseOptions(optionsSchema, options, 'createAnthropicCompatibleProvider');
  const name = parsed.name ?? 'anthropic';
  const baseUrl = trimBaseUrl(parsed.baseUrl);
  const url = `${baseUrl}/v1/messages`;
  const models = Object.freeze([...parsed.models]);
  const defaultMaxTokens = parsed.defaultMaxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS;
  const ctx: HttpCallContext = {
    provider: name,
    apiKey: parsed.apiKey,
    fetch: parsed.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock: parsed.clock ?? systemClock,
    maxResponseBytes: parsed.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
  const headers = {
    'x-api-key': parsed.apiKey,
    'anthropic-version': parsed.anthropicVersion ?? DEFAULT_ANTHROPIC_VERSION,
  };

  async function complete(request: unknown, call: ProviderCallOptions): Promise<ProviderCompletion> {
    const req = parseInferenceRequest(request);
    const system = req.messages.filter((m) => m.role === 'system').map((m) => m.content);
    const messages = req.messages
      .filter((m) => m.role !== 'system')
      .map((m) => ({ role: m.role, content: m.content }));
    if (messages.length === 0) {
      throw new EnablementError(
        'RT-400',
        `${name}: messages: at least one user or assistant message is required`,
      );
    }
    const body = {
      model: req.model,
      max_tokens: req.maxTokens ?? defaultMaxTokens,
      ...(system.length === 0 ? {} : { system: system.join('\n\n') }),
      messages,
      ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
      ...(req.stop === undefined ? {} : { stop_sequences: [...req.stop] }),
    };
    const json = await postJson(ctx, url, headers, body, call.signal);
    const response = decodeWire(responseSchema, json, { contract: `${name} message`, code: 'RT-500' });
    let content = '';
    for (const block of response.content) {
      if (block.type === 'text' && block.text !== undefined) content += block.text;
    }
    const { usage } = response;
    const inputTokens =
      BigInt(usage.input_tokens) +
      BigInt(usage.cache_creation_input_tokens ?? 0) +
      BigInt(usage.cache_read_input_tokens ?? 0);
    return Object.freeze({
      provider: name,
      model: req.model,
      content,
      inputTokens,
      outputTokens: BigInt(usage.output_tokens),
      finishReason: finishReasonOf(response.stop_reason),
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
