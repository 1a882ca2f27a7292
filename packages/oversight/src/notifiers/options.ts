import { type Logger, noopLogger } from '@creto/core';
import { z } from 'zod';
import {
  DEFAULT_MAX_QUEUED_NOTIFICATIONS,
  DEFAULT_NOTIFIER_RETRY,
  MAX_QUEUED_NOTIFICATIONS,
  type NotificationDeliveredEvent,
  type NotificationFailedEvent,
  type NotifierRetryOptions,
  type ResolvedNotifierRetry,
} from './types.js';

const DAY_MS = 86_400_000;

/** zod schema of a function option (the issue reads `expected a function`). */
export const functionSchema = <F>() =>
  z.custom<F>((value) => typeof value === 'function', { error: 'expected a function' });

/** zod schema of a `Logger` option: an object with the four level methods. */
export const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every(
      (m) => typeof (value as Record<string, unknown>)[m] === 'function',
    ),
  { error: 'expected a Logger' },
);

/** zod schema of {@link NotifierRetryOptions}. */
export const retryOptionsSchema = z.strictObject({
  initialDelayMs: z.number().min(1).max(DAY_MS).optional(),
  maxDelayMs: z.number().min(1).max(DAY_MS).optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  maxRetryAfterMs: z.number().min(0).max(DAY_MS).optional(),
});

/** Options every queueing notifier shares (validated with each factory's own). */
export const queueOptionsShape = {
  maxQueued: z.number().int().min(1).max(MAX_QUEUED_NOTIFICATIONS).optional(),
  retry: retryOptionsSchema.optional(),
  random: functionSchema<() => number>().optional(),
  logger: loggerSchema.optional(),
  onDelivered: functionSchema<(event: NotificationDeliveredEvent) => void>().optional(),
  onFailed: functionSchema<(event: NotificationFailedEvent) => void>().optional(),
};

/** Fills in the defaults; `maxDelayMs` is raised to `initialDelayMs` when below it. */
export function resolveRetry(options: NotifierRetryOptions | undefined): ResolvedNotifierRetry {
  const initialDelayMs = options?.initialDelayMs ?? DEFAULT_NOTIFIER_RETRY.initialDelayMs;
  return Object.freeze({
    initialDelayMs,
    maxDelayMs: Math.max(options?.maxDelayMs ?? DEFAULT_NOTIFIER_RETRY.maxDelayMs, initialDelayMs),
    maxAttempts: options?.maxAttempts ?? DEFAULT_NOTIFIER_RETRY.maxAttempts,
    maxRetryAfterMs: options?.maxRetryAfterMs ?? DEFAULT_NOTIFIER_RETRY.maxRetryAfterMs,
  });
}

/** The bound on the retry queue. */
export function resolveMaxQueued(value: number | undefined): number {
  return value ?? DEFAULT_MAX_QUEUED_NOTIFICATIONS;
}

/** The logger, or the no-op one. */
export function resolveLogger(value: Logger | undefined): Logger {
  return value ?? noopLogger;
}
