import {
  bytesToHex,
  type Clock,
  canonicalBytes,
  clockSchema,
  nobleCryptoProvider,
  parseOptions,
  sleep,
  systemClock,
} from '@creto/core';
import { z } from 'zod';
import { isModelId, isModelPattern, MAX_MODEL_PATTERNS } from './patterns.js';
import { parseInferenceRequest } from './request.js';
import type {
  InferenceFinishReason,
  InferenceProvider,
  PriceEntry,
  ProviderCallOptions,
  ProviderCompletion,
} from './types.js';

/** Default name of the deterministic provider. */
export const DETERMINISTIC_PROVIDER_NAME = 'deterministic';
/** Default model pattern of the deterministic provider: any model id starting `deterministic-`. */
export const DETERMINISTIC_MODEL_PATTERN = 'deterministic-*';
/** Tokens counted per message on top of its text (role and framing), as chat APIs do. */
export const DETERMINISTIC_TOKENS_PER_MESSAGE = 4n;
/** Most scripted responses one deterministic provider holds. */
export const MAX_SCRIPTED_RESPONSES = 1000;

/**
 * Demo prices for the deterministic provider under its default name and models (USD per million
 * tokens; made up, for demos and tests): pass them to `createPriceTable`, alone or with real ones.
 */
export const DETERMINISTIC_PRICE_ENTRIES: readonly PriceEntry[] = Object.freeze([
  Object.freeze({
    provider: DETERMINISTIC_PROVIDER_NAME,
    model: DETERMINISTIC_MODEL_PATTERN,
    inputPerMillion: '0.50',
    outputPerMillion: '1.50',
  }),
]);

/** A scripted answer: when the last user message matches, the provider replies `reply`. */
export interface DeterministicResponse {
  /** Exact text of the last user message, or a pattern it must match. */
  readonly lastUserMessage: string | RegExp;
  /** The reply. */
  readonly reply: string;
}

/** Options of {@link createDeterministicProvider}. */
export interface DeterministicProviderOptions {
  /** Models served (default `['deterministic-*']`). */
  readonly models?: readonly string[];
  /** Mixed into the hash, so two seeds give two different (each stable) conversations. */
  readonly seed?: string;
  /** Provider name (default `deterministic`). */
  readonly name?: string;
  /** Scripted replies, tried in order before the hash-derived one. */
  readonly responses?: readonly DeterministicResponse[];
  /** Simulated latency per call, ms, waited on `clock` (default 0: no wait). */
  readonly latencyMs?: number;
  /** Clock for the simulated latency (the system clock by default). */
  readonly clock?: Clock;
}

const optionsSchema = z.strictObject({
  models: z
    .array(
      z.string().refine(isModelPattern, { error: 'expected a model id or a prefix pattern ending in `*`' }),
    )
    .min(1)
    .max(MAX_MODEL_PATTERNS, { abort: true })
    .optional(),
  seed: z.string().max(1024).optional(),
  name: z
    .string()
    .refine(isModelId, { error: 'expected a provider name: visible ASCII, no spaces, no `*`' })
    .optional(),
  responses: z
    .array(
      z.strictObject({
        lastUserMessage: z.union([z.string(), z.instanceof(RegExp)]),
        reply: z.string().max(1024 * 1024),
      }),
    )
    .max(MAX_SCRIPTED_RESPONSES, { abort: true })
    .optional(),
  latencyMs: z.number().min(0).max(3_600_000).optional(),
  clock: clockSchema.optional(),
});

/**
 * The deterministic provider's tokenizer approximation: one token per 4 UTF-16 code units,
 * rounded up (`''` → 0, `'abcd'` → 1, `'abcde'` → 2). Real tokenizers average about 4 characters
 * per token on English text; this one is only meant to be stable and cheap.
 */
export function approximateTokenCount(text: string): bigint {
  return BigInt(Math.ceil(text.length / 4));
}

const WORDS = [
  'agent',
  'sandbox',
  'ledger',
  'signal',
  'policy',
  'token',
  'window',
  'quorum',
  'relay',
  'meter',
  'budget',
  'answer',
  'vector',
  'prompt',
  'result',
  'context',
  'review',
  'channel',
  'record',
  'audit',
  'approve',
  'compute',
  'route',
  'verify',
  'observe',
  'balance',
  'schedule',
  'deliver',
  'measure',
  'settle',
  'quietly',
  'exactly',
  'promptly',
  'safely',
  'clearly',
  'briefly',
  'the',
  'a',
  'every',
  'each',
];

/** A sentence of 8 to 24 words chosen by the hash bytes, plus a short hash tag. */
function sentenceFrom(hash: Uint8Array): string {
  const count = 8 + ((hash[0] ?? 0) % 17);
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    const byte = hash[(i + 1) % hash.length] ?? 0;
    words.push(WORDS[(byte + i * 7) % WORDS.length] ?? 'agent');
  }
  const text = words.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}. [${bytesToHex(hash.subarray(0, 6))}]`;
}

/**
 * A local provider for demos and tests: no network, and the same request (model, messages,
 * options) with the same `seed` always gets the same reply and token counts.
 *
 * The reply is the first scripted response whose `lastUserMessage` equals (string) or matches
 * (RegExp) the last user message; otherwise a sentence derived from SHA-256 of the RFC 8785 form
 * of `{ seed, model, messages }`. `stop` cuts the reply before the first stop sequence (finish
 * `stop`); a reply longer than `maxTokens` is cut to `maxTokens × 4` characters (finish
 * `length`). Tokens: {@link approximateTokenCount} of each message plus
 * {@link DETERMINISTIC_TOKENS_PER_MESSAGE} per message in, of the reply out. Price it with
 * {@link DETERMINISTIC_PRICE_ENTRIES}.
 *
 * @example
 * ```ts
 * const router = createInferenceRouter({
 *   providers: [createDeterministicProvider({ responses: [{ lastUserMessage: 'ping', reply: 'pong' }] })],
 *   prices: createPriceTable(DETERMINISTIC_PRICE_ENTRIES),
 * });
 * (await router.complete({ model: 'deterministic-1', messages: [{ role: 'user', content: 'ping' }] })).content; // 'pong'
 * ```
 */
export function createDeterministicProvider(options: DeterministicProviderOptions = {}): InferenceProvider {
  const parsed = parseOptions(optionsSchema, options, 'createDeterministicProvider');
  const name = parsed.name ?? DETERMINISTIC_PROVIDER_NAME;
  const models = Object.freeze([...(parsed.models ?? [DETERMINISTIC_MODEL_PATTERN])]);
  const seed = parsed.seed ?? '';
  const latencyMs = parsed.latencyMs ?? 0;
  const clock = parsed.clock ?? systemClock;
  // Copies without the `g`/`y` flags: their `lastIndex` state would make `test` alternate results.
  const responses = (parsed.responses ?? []).map(({ lastUserMessage, reply }) => ({
    match:
      typeof lastUserMessage === 'string'
        ? lastUserMessage
        : new RegExp(lastUserMessage.source, lastUserMessage.flags.replace(/[gy]/g, '')),
    reply,
  }));

  async function complete(request: unknown, call: ProviderCallOptions): Promise<ProviderCompletion> {
    const req = parseInferenceRequest(request);
    if (call.signal.aborted) throw call.signal.reason;
    if (latencyMs > 0) await sleep(clock, latencyMs, call.signal);
    let lastUser: string | undefined;
    for (let i = req.messages.length - 1; i >= 0 && lastUser === undefined; i--) {
      const message = req.messages[i];
      if (message?.role === 'user') lastUser = message.content;
    }
    let reply: string | undefined;
    if (lastUser !== undefined) {
      const text = lastUser;
      reply = responses.find((r) =>
        typeof r.match === 'string' ? r.match === text : r.match.test(text),
      )?.reply;
    }
    reply ??= sentenceFrom(
      nobleCryptoProvider.sha256(
        canonicalBytes({
          seed,
          model: req.model,
          messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
        }),
      ),
    );
    let finishReason: InferenceFinishReason = 'stop';
    let cut = reply.length;
    for (const stop of req.stop ?? []) {
      const at = reply.indexOf(stop);
      if (at >= 0 && at < cut) cut = at;
    }
    reply = reply.slice(0, cut);
    if (req.maxTokens !== undefined && approximateTokenCount(reply) > BigInt(req.maxTokens)) {
      reply = reply.slice(0, req.maxTokens * 4);
      finishReason = 'length';
    }
    let inputTokens = 0n;
    for (const m of req.messages)
      inputTokens += approximateTokenCount(m.content) + DETERMINISTIC_TOKENS_PER_MESSAGE;
    return Object.freeze({
      provider: name,
      model: req.model,
      content: reply,
      inputTokens,
      outputTokens: approximateTokenCount(reply),
      finishReason,
    });
  }

  return Object.freeze({
    name,
    models,
    complete,
    toJSON: () => ({ name, models }),
    toString: () => `InferenceProvider(${name})`,
  });
}
