import { z } from 'zod';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../time/clock.js';
import { decodeWire } from '../wire/errors.js';

/**
 * Whether `value` can serve as a {@link Clock} port: a non-null object whose `now` and
 * `schedule` are functions. A shape check only: it does not call either method.
 *
 * @example
 * ```ts
 * if (!isClock(options.clock)) throw new EnablementError('PL-400', 'clock: expected a Clock');
 * ```
 */
export function isClock(value: unknown): value is Clock {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Clock).now === 'function' &&
    typeof (value as Clock).schedule === 'function'
  );
}

/**
 * Whether `value` can serve as a {@link CryptoProvider} port: a non-null object with an `ed25519`
 * object. A shape check only, cheap enough for option validation; a provider missing a primitive
 * fails when that primitive is used.
 */
export function isCryptoProvider(value: unknown): value is CryptoProvider {
  return typeof value === 'object' && value !== null && typeof (value as CryptoProvider).ed25519 === 'object';
}

/**
 * zod schema of a {@link Clock} option ({@link isClock}); the issue reads `expected a Clock`.
 * Add `.optional()` where the clock defaults to the system clock.
 */
export const clockSchema = z.custom<Clock>(isClock, { error: 'expected a Clock' });

/**
 * zod schema of a {@link CryptoProvider} option ({@link isCryptoProvider}); the issue reads
 * `expected a CryptoProvider`.
 */
export const cryptoProviderSchema = z.custom<CryptoProvider>(isCryptoProvider, {
  error: 'expected a CryptoProvider',
});

/**
 * Validates the options of a factory with `schema` (ARCHITECTURE §3: options are checked at
 * construction) and returns the parsed value. A bad option throws `PL-400` whose message names
 * the factory and each failing option path, e.g.
 * `invalid createScheduler options: clock: expected a Clock`.
 *
 * @param schema - The options' zod schema (usually a `z.strictObject`, so unknown keys fail too).
 * @param options - What the caller passed.
 * @param name - The factory's name, e.g. `createScheduler`.
 *
 * @example
 * ```ts
 * const optionsSchema = z.strictObject({ clock: clockSchema.optional(), maxItems: z.number().int().min(1).optional() });
 * const parsed = parseOptions(optionsSchema, options, 'createWidget');
 * ```
 */
export function parseOptions<T>(schema: z.ZodType<T>, options: unknown, name: string): T {
  return decodeWire(schema, options, { contract: `${name} options`, code: 'PL-400' });
}
