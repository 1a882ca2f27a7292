import { clockSchema, cryptoProviderSchema, EnablementError, isNhi, parseOptions } from '@creto/core';
import { z } from 'zod';
import type { MeteringOptions } from './types.js';

const DAY_MS = 86_400_000;

/** Default {@link MeteringOptions.gracePeriodMs}: one hour. */
export const DEFAULT_GRACE_PERIOD_MS = 3_600_000;
/** Longest grace period: the 7-day deduplication window (spec §9.2) bounds how late an event may be. */
export const MAX_GRACE_PERIOD_MS = 7 * DAY_MS;
/** Default bus consumer settings (spec §4.1: unknown agent → retry 3×, then dead-letter). */
export const DEFAULT_BUS_OPTIONS = Object.freeze({
  stream: 'METERING',
  streamSubjects: Object.freeze(['metering.events.>']),
  createStream: true,
  consumer: 'metering',
  ackWaitMs: 30_000,
  retries: 3,
  retryDelayMs: 5_000,
});
/** Default {@link MeteringOptions.maxLearnedAgents}. */
export const DEFAULT_MAX_LEARNED_AGENTS = 100_000;
/** Default {@link MeteringOptions.maxPendingNotifications}. */
export const DEFAULT_MAX_PENDING_NOTIFICATIONS = 1_000;

const withMethods = (...methods: string[]) =>
  z.custom<unknown>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    { error: `expected an object with ${methods.join(', ')}` },
  );

const token = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected 1–64 of A–Z a–z 0–9 _ -' });

const optionsSchema = z.strictObject({
  nhi: withMethods('lookup', 'validateHybridSignature', 'verifyDelegation'),
  clock: clockSchema.optional(),
  consensus: withMethods('getTimestamp').optional(),
  provider: cryptoProviderSchema.optional(),
  store: withMethods('commitEvent', 'periodAggregates', 'putInvoice').optional(),
  scheduler: withMethods('schedule').optional(),
  audit: withMethods('append').optional(),
  auditIngestedEvents: z.boolean().optional(),
  serviceNhi: z.custom<string>(isNhi, { error: 'expected an NHI' }).optional(),
  bus: withMethods('addStream', 'addConsumer', 'subscribe').optional(),
  busOptions: z
    .strictObject({
      stream: token.optional(),
      streamSubjects: z.array(z.string().min(1).max(256)).min(1).max(16).optional(),
      createStream: z.boolean().optional(),
      consumer: token.optional(),
      ackWaitMs: z.number().int().min(1).max(DAY_MS).optional(),
      retries: z.number().int().min(0).max(100).optional(),
      retryDelayMs: z.number().int().min(0).max(DAY_MS).optional(),
    })
    .optional(),
  oversight: withMethods('createRequest').optional(),
  quotaOversight: z
    .strictObject({
      requirement: z.custom<unknown>((v) => typeof v === 'object' && v !== null, {
        error: 'expected an object',
      }),
      policyId: z.string().min(1).max(256).optional(),
    })
    .optional(),
  notifier: withMethods('notify').optional(),
  meters: z.array(z.unknown()).max(10_000).optional(),
  gracePeriodMs: z.number().int().min(0).max(MAX_GRACE_PERIOD_MS).optional(),
  verifySignatures: z.boolean().optional(),
  requireHybridSignatures: z.boolean().optional(),
  maxLearnedAgents: z.number().int().min(1).max(10_000_000).optional(),
  maxPendingNotifications: z.number().int().min(1).max(1_000_000).optional(),
  metrics: withMethods().optional(),
  logger: withMethods('debug', 'info', 'warn', 'error', 'child').optional(),
});

/** Validates the options of `createMetering` (`PL-400` naming the option). */
export function parseMeteringOptions(options: MeteringOptions): MeteringOptions {
  parseOptions(optionsSchema, options, 'createMetering');
  if (options.oversight !== undefined && options.quotaOversight === undefined) {
    throw new EnablementError(
      'PL-400',
      'invalid createMetering options: quotaOversight: required when oversight is given',
    );
  }
  // The schema checked shapes; the typed object is the caller's, ports included (not cloned).
  return options;
}
