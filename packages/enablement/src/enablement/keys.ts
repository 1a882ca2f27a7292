import {
  AgentKeyPair,
  type CryptoProvider,
  concatBytes,
  EnablementError,
  nobleCryptoProvider,
  type PrincipalKind,
  utf8ToBytes,
  zeroize,
} from '@creto/core';
import type { EnablementKeys } from './types.js';

/** Length of `EnablementOptions.seed`, bytes. */
export const ENABLEMENT_SEED_LENGTH = 32;

/**
 * The role label of each service identity. A seed-derived key is
 * `AgentKeyPair.fromSeed(SHA-256(seed ‖ UTF-8(label)), { postQuantum: true, kind })`, so one seed
 * gives four unrelated keys and the same four every run.
 */
export const SERVICE_KEY_ROLES: Readonly<Record<keyof EnablementKeys, string>> = Object.freeze({
  runtimeHost: 'creto.enablement.runtime-host',
  oversightService: 'creto.enablement.oversight-service',
  relayService: 'creto.enablement.relay-service',
  notificationBot: 'creto.enablement.notification-bot',
});

/** The principal kind each service identity must have (the bot is an agent: it sends messages). */
export const SERVICE_KEY_KINDS: Readonly<Record<keyof EnablementKeys, PrincipalKind>> = Object.freeze({
  runtimeHost: 'service',
  oversightService: 'service',
  relayService: 'service',
  notificationBot: 'agent',
});

const KEY_NAMES = Object.keys(SERVICE_KEY_ROLES) as (keyof EnablementKeys)[];

/**
 * The service identities derived from `seed` (see {@link SERVICE_KEY_ROLES}): what
 * `createEnablement({ seed })` uses for the keys it is not given. Lets a host or a test know the
 * NHIs (e.g. the notification bot's, to allow it in policies) before the layer exists.
 *
 * @example
 * ```ts
 * const keys = deriveEnablementKeys(seed);
 * keys.notificationBot.identity.nhi; // the sender of every notification
 * ```
 */
export function deriveEnablementKeys(
  seed: Uint8Array,
  provider: CryptoProvider = nobleCryptoProvider,
): Required<EnablementKeys> {
  assertSeed(seed, 'seed');
  const out: Partial<Record<keyof EnablementKeys, AgentKeyPair>> = {};
  for (const name of KEY_NAMES) out[name] = deriveOne(seed, name, provider);
  return Object.freeze(out as Required<EnablementKeys>);
}

/** Throws `PL-400` unless `seed` is a 32-byte `Uint8Array`. @internal */
export function assertSeed(seed: unknown, field: string): asserts seed is Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== ENABLEMENT_SEED_LENGTH) {
    throw new EnablementError('PL-400', `${field}: expected ${ENABLEMENT_SEED_LENGTH} bytes`);
  }
}

function deriveOne(seed: Uint8Array, name: keyof EnablementKeys, provider: CryptoProvider): AgentKeyPair {
  const input = concatBytes(seed, utf8ToBytes(SERVICE_KEY_ROLES[name]));
  const roleSeed = provider.sha256(input);
  try {
    return AgentKeyPair.fromSeed(roleSeed, { postQuantum: true, kind: SERVICE_KEY_KINDS[name], provider });
  } finally {
    zeroize(input, roleSeed);
  }
}

/**
 * Throws `PL-400` naming `keys.<name>` unless `key` is a post-quantum `AgentKeyPair` of the right
 * kind: every service identity signs hybrid (attestations, receipts, envelopes) or is listed as
 * a token issuer, and a wrong kind would be refused later, further from the cause. @internal
 */
export function assertServiceKey(key: unknown, name: keyof EnablementKeys): asserts key is AgentKeyPair {
  const field = `keys.${name}`;
  if (!(key instanceof AgentKeyPair))
    throw new EnablementError('PL-400', `${field}: expected an AgentKeyPair`);
  if (key.disposed) throw new EnablementError('PL-400', `${field}: the key pair is disposed`);
  if (!key.postQuantum) {
    throw new EnablementError('PL-400', `${field}: expected a post-quantum key pair ({ postQuantum: true })`);
  }
  const kind = SERVICE_KEY_KINDS[name];
  if (key.identity.kind !== kind) {
    throw new EnablementError('PL-400', `${field}: expected a key pair of kind '${kind}'`);
  }
}

/**
 * The four service identities: the given ones (checked), the others derived from `seed`, or
 * generated when there is no seed. Every one is post-quantum. @internal
 */
export function resolveKeys(
  given: EnablementKeys | undefined,
  seed: Uint8Array | undefined,
  provider: CryptoProvider,
): Required<EnablementKeys> {
  const out: Partial<Record<keyof EnablementKeys, AgentKeyPair>> = {};
  for (const name of KEY_NAMES) {
    const key = given?.[name];
    if (key !== undefined) {
      assertServiceKey(key, name);
      out[name] = key;
    } else if (seed !== undefined) {
      out[name] = deriveOne(seed, name, provider);
    } else {
      out[name] = AgentKeyPair.generate({ postQuantum: true, kind: SERVICE_KEY_KINDS[name], provider });
    }
  }
  const nhis = new Set(KEY_NAMES.map((name) => out[name]?.identity.nhi));
  if (nhis.size !== KEY_NAMES.length) {
    throw new EnablementError('PL-400', 'keys: each service identity must be a different key');
  }
  return Object.freeze(out as Required<EnablementKeys>);
}
