import { decodeWire, MAX_MODEL_ID_LENGTH } from '@creto/core';
import { z } from 'zod';
import { isModelId } from './patterns.js';
import type { InferenceRequest } from './types.js';

/** Most messages in one request. */
export const MAX_INFERENCE_MESSAGES = 1000;
/** Most characters (UTF-16 code units) of all message contents of one request together. */
export const MAX_INFERENCE_PROMPT_CHARS = 4 * 1024 * 1024;
/** Largest `maxTokens` accepted. */
export const MAX_INFERENCE_MAX_TOKENS = 10_000_000;
/** Most stop sequences, and the longest one (characters). */
export const MAX_STOP_SEQUENCES = 16;
/** Longest stop sequence, in characters. */
export const MAX_STOP_SEQUENCE_LENGTH = 1000;

const requestSchema = z
  .strictObject({
    model: z
      .string()
      .max(MAX_MODEL_ID_LENGTH, { abort: true })
      .refine(isModelId, { error: 'expected a model id: visible ASCII, no spaces, no `*`' }),
    messages: z
      .array(
        z.strictObject({
          role: z.enum(['system', 'user', 'assistant']),
          content: z.string().max(MAX_INFERENCE_PROMPT_CHARS, { abort: true }),
        }),
      )
      .min(1)
      .max(MAX_INFERENCE_MESSAGES, { abort: true }),
    maxTokens: z.number().int().min(1).max(MAX_INFERENCE_MAX_TOKENS).optional(),
    temperature: z.number().min(0).max(2).optional(),
    stop: z
      .array(z.string().min(1).max(MAX_STOP_SEQUENCE_LENGTH))
      .max(MAX_STOP_SEQUENCES, { abort: true })
      .optional(),
  })
  .superRefine((request, ctx) => {
    let total = 0;
    for (const message of request.messages) total += message.content.length;
    if (total > MAX_INFERENCE_PROMPT_CHARS) {
      ctx.addIssue({
        code: 'custom',
        path: ['messages'],
        message: `message contents exceed ${MAX_INFERENCE_PROMPT_CHARS} characters in total`,
      });
    }
  });

/**
 * Validates an {@link InferenceRequest} and returns a copy (so a caller mutating its object later
 * cannot change what is sent or metered). Unknown fields, a bad model id, no messages, a role
 * other than `system`/`user`/`assistant`, out-of-range `maxTokens`/`temperature` or oversized
 * input throw `RT-400` naming the field.
 */
export function parseInferenceRequest(request: unknown): InferenceRequest {
  return decodeWire(requestSchema, request, { contract: 'InferenceRequest', code: 'RT-400' });
}
