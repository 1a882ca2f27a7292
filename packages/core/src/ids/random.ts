import { randomBytes } from '@noble/hashes/utils.js';
import { EnablementError } from '../errors/enablement-error.js';

/**
 * A source of random bytes: returns `length` fresh bytes. `CryptoProvider.randomBytes` (bound to
 * its provider) fits; tests pass a seeded source so that generated ids are reproducible.
 */
export type RandomSource = (length: number) => Uint8Array;

/** The default {@link RandomSource}: the platform CSPRNG (`crypto.getRandomValues`, via noble). */
export const secureRandom: RandomSource = (length) => randomBytes(length);

/**
 * Draws `length` bytes from `random` and checks that it kept its contract, so that a broken test
 * double cannot silently produce short (and therefore colliding) ids.
 */
export function drawRandom(random: RandomSource, length: number): Uint8Array {
  const bytes = random(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new EnablementError('PL-400', `random source: expected ${length} bytes`);
  }
  return bytes;
}
