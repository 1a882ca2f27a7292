import type { Clock, Decimal, EnablementMetrics, Logger } from '@creto/core';

/** Who wrote a message of a conversation. */
export type InferenceRole = 'system' | 'user' | 'assistant';

/** One message of the conversation sent to a model. */
export interface InferenceMessage {
  /** `system` (instructions), `user` (the agent's prompt) or `assistant` (an earlier model reply). */
  readonly role: InferenceRole;
  /** The message text. */
  readonly content: string;
}

/** A chat completion request, provider-neutral (spec §4.3, §7.1 `inference_call(model, prompt)`). */
export interface InferenceRequest {
  /**
   * Model id as the provider spells it (`claude-sonnet-4-5`, `gpt-4o-mini`): it picks the provider
   * and the price. Visible ASCII, at most `MAX_MODEL_ID_LENGTH` characters (the `InferenceCall`
   * usage event's `model_id`, spec §4.1).
   */
  readonly model: string;
  /** The conversation, oldest first; at least one message. */
  readonly messages: readonly InferenceMessage[];
  /** Most tokens the model may generate. */
  readonly maxTokens?: number;
  /** Sampling temperature (0 to 2; providers may accept a narrower range). */
  readonly temperature?: number;
  /** Sequences that stop generation when produced. */
  readonly stop?: readonly string[];
}

/** Why the model stopped: a natural end or stop sequence, the token limit, or anything else. */
export type InferenceFinishReason = 'stop' | 'length' | 'other';

/**
 * A completed inference call, metered: the router's answer, and what the engine turns into a
 * signed `InferenceCall` usage event (spec §4.1: `model_id`, `provider`, `input_tokens`,
 * `output_tokens`, `cost_usd`).
 */
export interface InferenceResult {
  /** Name of the provider that served the call (the usage event's `provider`). */
  readonly provider: string;
  /** The model requested and priced (the usage event's `model_id`). */
  readonly model: string;
  /** The generated text. */
  readonly content: string;
  /** Prompt tokens, as the provider counted them. */
  readonly inputTokens: bigint;
  /** Generated tokens, as the provider counted them. */
  readonly outputTokens: bigint;
  /** Why generation stopped. */
  readonly finishReason: InferenceFinishReason;
  /** Exact cost from the price table, unrounded (rounding happens once, on invoices). */
  readonly costUsd: Decimal;
  /** Time the caller waited, retries included, in milliseconds, measured on the router's clock. */
  readonly latencyMs: number;
}

/** What a provider returns: the result before the router prices and times it. */
export type ProviderCompletion = Omit<InferenceResult, 'costUsd' | 'latencyMs'>;

/** Options the router passes to {@link InferenceProvider.complete}. */
export interface ProviderCallOptions {
  /** Aborted on the caller's abort or the router's deadline; the provider should stop then. */
  readonly signal: AbortSignal;
}

/**
 * A model provider (an upstream API or a local model). Providers throw `EnablementError`s:
 * `RT-503` with `retryable: true` (and `retryAfterMs` when known) for transient failures, which
 * the router retries; anything else is final.
 */
export interface InferenceProvider {
  /** Provider name: price-table key, metric label and the usage event's `provider`. */
  readonly name: string;
  /** Models it serves: exact ids, or prefix patterns ending in `*` such as `claude-*` (`*` alone: any). */
  readonly models: readonly string[];
  /** Runs one completion, without retrying. */
  complete(request: InferenceRequest, options: ProviderCallOptions): Promise<ProviderCompletion>;
}

/** A price table entry: USD per million tokens for a provider's model or model pattern. */
export interface PriceEntry {
  /** Provider name, or `*` for an entry that applies to every provider. */
  readonly provider: string;
  /** Exact model id, a prefix pattern ending in `*`, or `*` alone (the explicit default). */
  readonly model: string;
  /** USD per million input tokens, exact (a `Decimal` or a decimal string, never a `number`). */
  readonly inputPerMillion: Decimal | string;
  /** USD per million output tokens, exact. */
  readonly outputPerMillion: Decimal | string;
}

/** The prices that apply to one call, as {@link PriceTable.price} found them. */
export interface ModelPrice {
  /** The matching entry's provider (`*` for a catch-all entry). */
  readonly provider: string;
  /** The matching entry's model pattern. */
  readonly model: string;
  /** USD per million input tokens. */
  readonly inputPerMillion: Decimal;
  /** USD per million output tokens. */
  readonly outputPerMillion: Decimal;
}

/** Prices of models, used by the router to compute each call's exact `costUsd`. */
export interface PriceTable {
  /**
   * Exact cost in USD: `(inputTokens × inputPerMillion + outputTokens × outputPerMillion) / 10^6`,
   * unrounded. Throws `RT-400` for a model without a price: unpriced usage is never silently free.
   */
  cost(provider: string, model: string, inputTokens: bigint, outputTokens: bigint): Decimal;
  /** The price that applies to a model, or `undefined` when none does. */
  price?(provider: string, model: string): ModelPrice | undefined;
}

/** Retry settings of the router (core `retry`, spec §8.4). */
export interface InferenceRetryOptions {
  /** Most attempts per call, the first included (default 3; 1 disables retrying). */
  readonly maxAttempts?: number;
  /** First backoff delay, ms (default 250); later delays grow with decorrelated jitter. */
  readonly initialDelayMs?: number;
  /**
   * Longest wait between attempts, ms (default 10 000). A `Retry-After` longer than this is not
   * slept: the call fails at once with the error and its `retryAfterMs` hint.
   */
  readonly maxDelayMs?: number;
  /** Uniform random numbers in `[0, 1)` for the jitter (tests); `Math.random` by default. */
  readonly random?: () => number;
}

/** Options of `createInferenceRouter`. */
export interface InferenceRouterOptions {
  /** The providers, at least one; names must be unique and model patterns unambiguous. */
  readonly providers: readonly InferenceProvider[];
  /** Prices of every model the providers serve. */
  readonly prices: PriceTable;
  /** Clock for latency, deadlines and retry waits (the system clock by default). */
  readonly clock?: Clock;
  /** Retry settings for transient provider failures. */
  readonly retry?: InferenceRetryOptions;
  /** Deadline of one `complete` call, retries included, when the caller gives none (default 120 000 ms). */
  readonly defaultTimeoutMs?: number;
  /** Structured logger for retries and failures (no prompts, no keys); silent by default. */
  readonly logger?: Logger;
  /** Where `runtime_inference_requests_total` is counted; `createEnablementMetrics()` by default. */
  readonly metrics?: Pick<EnablementMetrics, 'runtimeInferenceRequests'>;
}

/** Options of {@link InferenceRouter.complete}. */
export interface InferenceCallOptions {
  /** Aborting rejects the call with the signal's reason and aborts the provider call. */
  readonly signal?: AbortSignal;
  /** Deadline of this call, retries included, in ms; on expiry the call rejects with `RT-408`. */
  readonly timeoutMs?: number;
}

/** Routes inference requests to providers by model, retries, meters and prices them. */
export interface InferenceRouter {
  /** The provider serving `model` (exact pattern first, then the longest prefix); `RT-400` if none. */
  route(model: string): InferenceProvider;
  /** Validates, routes, calls (with retries and a deadline) and prices one completion. */
  complete(request: InferenceRequest, options?: InferenceCallOptions): Promise<InferenceResult>;
}
