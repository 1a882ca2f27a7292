import { EnablementError } from '../errors/enablement-error.js';
import type { RandomSource } from './random.js';
import { newUuid } from './uuid.js';

declare const sandboxIdBrand: unique symbol;

/**
 * Identifier of a Runtime sandbox (spec §6.5 `SandboxId`): `sb-` followed by 1 to
 * {@link MAX_SANDBOX_ID_LENGTH} − 3 characters of `[A-Za-z0-9_-]`. The SDK generates
 * `sb-<uuid v4>`; remote drivers may use any id of that shape.
 */
export type SandboxId = string & { readonly [sandboxIdBrand]: 'SandboxId' };

/** Prefix of every {@link SandboxId}. */
export const SANDBOX_ID_PREFIX = 'sb-';

/** Longest accepted {@link SandboxId}, in characters, prefix included. */
export const MAX_SANDBOX_ID_LENGTH = 128;

// No ':' (so `runtime:sandbox:<id>` has exactly one reading), no '.', '*' or '>' (so the id is
// one NATS subject token and never a wildcard), no whitespace.
const SANDBOX_ID_PATTERN = /^sb-[A-Za-z0-9_-]+$/;

/** True when `value` is a valid {@link SandboxId}. */
export function isSandboxId(value: unknown): value is SandboxId {
  return typeof value === 'string' && value.length <= MAX_SANDBOX_ID_LENGTH && SANDBOX_ID_PATTERN.test(value);
}

/**
 * Validates `text` as a sandbox id (see {@link SandboxId}); throws `PL-400` naming `field` otherwise.
 *
 * @example
 * ```ts
 * sandboxId('sb-1b4e28ba-2fa1-41d2-883f-0016d3cca427');
 * ```
 */
export function sandboxId(text: unknown, field = 'sandboxId'): SandboxId {
  if (typeof text !== 'string' || !text.startsWith(SANDBOX_ID_PREFIX)) {
    throw new EnablementError('PL-400', `${field}: expected a string starting with '${SANDBOX_ID_PREFIX}'`);
  }
  if (text.length > MAX_SANDBOX_ID_LENGTH) {
    throw new EnablementError('PL-400', `${field}: longer than ${MAX_SANDBOX_ID_LENGTH} characters`);
  }
  if (!SANDBOX_ID_PATTERN.test(text)) {
    throw new EnablementError(
      'PL-400',
      `${field}: after '${SANDBOX_ID_PREFIX}' expected one or more of A-Z a-z 0-9 _ -`,
    );
  }
  return text as SandboxId;
}

/**
 * A fresh sandbox id, `sb-<uuid v4>`.
 *
 * @param random - source of randomness; the platform CSPRNG by default (tests pass a seeded one)
 */
export function newSandboxId(random?: RandomSource): SandboxId {
  return `${SANDBOX_ID_PREFIX}${newUuid(random)}` as SandboxId;
}
