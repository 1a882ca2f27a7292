/**
 * The inference proxy (spec §4.3, §7.1): a router that sends chat completions to pluggable
 * providers by model, retries transient failures, and meters tokens and exact cost from a price
 * table, ready to become a signed `InferenceCall` usage event (§4.1).
 * @module
 */
export {
  type AnthropicCompatibleProviderOptions,
  createAnthropicCompatibleProvider,
  DEFAULT_ANTHROPIC_MAX_TOKENS,
  DEFAULT_ANTHROPIC_VERSION,
} from './anthropic.js';
export {
  approximateTokenCount,
  createDeterministicProvider,
  DETERMINISTIC_MODEL_PATTERN,
  DETERMINISTIC_PRICE_ENTRIES,
  DETERMINISTIC_PROVIDER_NAME,
  DETERMINISTIC_TOKENS_PER_MESSAGE,
  type DeterministicProviderOptions,
  type DeterministicResponse,
  MAX_SCRIPTED_RESPONSES,
} from './deterministic.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  type FetchLike,
  MAX_ERROR_BODY_BYTES,
  MAX_RESPONSE_BYTES_LIMIT,
  MAX_UPSTREAM_MESSAGE_LENGTH,
} from './http.js';
export { createOpenAiCompatibleProvider, type OpenAiCompatibleProviderOptions } from './openai.js';
export { isModelId, isModelPattern, MAX_MODEL_PATTERNS } from './patterns.js';
export {
  ANY_PROVIDER,
  createPriceTable,
  MAX_PRICE_ENTRIES,
  MAX_PRICE_PER_MILLION,
  MAX_PRICE_SCALE,
} from './price-table.js';
export {
  MAX_INFERENCE_MAX_TOKENS,
  MAX_INFERENCE_MESSAGES,
  MAX_INFERENCE_PROMPT_CHARS,
  MAX_STOP_SEQUENCE_LENGTH,
  MAX_STOP_SEQUENCES,
  parseInferenceRequest,
} from './request.js';
export {
  createInferenceRouter,
  DEFAULT_INFERENCE_MAX_ATTEMPTS,
  DEFAULT_INFERENCE_RETRY_INITIAL_DELAY_MS,
  DEFAULT_INFERENCE_RETRY_MAX_DELAY_MS,
  DEFAULT_INFERENCE_TIMEOUT_MS,
  MAX_INFERENCE_ATTEMPTS,
  MAX_INFERENCE_TIMEOUT_MS,
  MAX_METRIC_MODEL_LABELS,
  MAX_ROUTER_PROVIDERS,
  OTHER_MODEL_LABEL,
} from './router.js';
export type {
  InferenceCallOptions,
  InferenceFinishReason,
  InferenceMessage,
  InferenceProvider,
  InferenceRequest,
  InferenceResult,
  InferenceRetryOptions,
  InferenceRole,
  InferenceRouter,
  InferenceRouterOptions,
  ModelPrice,
  PriceEntry,
  PriceTable,
  ProviderCallOptions,
  ProviderCompletion,
} from './types.js';
