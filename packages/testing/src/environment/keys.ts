import {
  AgentKeyPair,
  concatBytes,
  EnablementError,
  nobleCryptoProvider,
  type PrincipalKind,
  utf8ToBytes,
} from '@creto/core';

/** Length of a test environment seed, bytes (what `createEnablement` takes). */
export const TEST_SEED_LENGTH = 32;

/** Longest name of a test agent (`test:agent:001`, `cfo@test.com`, …). */
export const MAX_AGENT_NAME_LENGTH = 256;

/** Label mixed into every agent key derivation, apart from the layer's own service-key labels. */
export const AGENT_KEY_LABEL = 'creto.testing.agent:';

/** The seed used when none is given: SHA-256 of `creto.testing.default-seed`. Same keys every run. */
export const DEFAULT_TEST_SEED: Uint8Array = nobleCryptoProvider.sha256(
  utf8ToBytes('creto.testing.default-seed'),
);

/**
 * A 32-byte seed from what a test gives: 32 bytes as they are, or any other text hashed with
 * SHA-256 (so `seed: 'scenario 7'` works). `PL-400` for anything else.
 */
export function normalizeSeed(seed: Uint8Array | string | undefined): Uint8Array {
  if (seed === undefined) return DEFAULT_TEST_SEED.slice();
  if (typeof seed === 'string') {
    if (seed.length === 0 || seed.length > 1024)
      throw new EnablementError('PL-400', 'seed: expected 1-1024 characters');
    return nobleCryptoProvider.sha256(utf8ToBytes(seed));
  }
  if (!(seed instanceof Uint8Array) || seed.length !== TEST_SEED_LENGTH) {
    throw new EnablementError('PL-400', `seed: expected ${TEST_SEED_LENGTH} bytes or a string`);
  }
  return seed.slice();
}

/** Checks a test agent name: 1–256 printable characters (no control characters). */
export function checkAgentName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_AGENT_NAME_LENGTH ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    /[\u0000-\u001f\u007f]/.test(name)
  ) {
    throw new EnablementError(
      'PL-400',
      `agent name: expected 1-${MAX_AGENT_NAME_LENGTH} printable characters`,
    );
  }
  return name;
}

/**
 * The post-quantum key pair of the test agent `name` under `seed`:
 * `AgentKeyPair.fromSeed(SHA-256(seed ‖ UTF-8("creto.testing.agent:" ‖ name)), { postQuantum: true, kind })`.
 * The same seed and name give the same key (and NHI) in every run; the principal kind is not an
 * input of the derivation (as in `AgentKeyPair.fromSeed`).
 *
 * @example
 * ```ts
 * const cfo = deriveTestAgentKey(DEFAULT_TEST_SEED, 'cfo@test.com');
 * cfo.identity.nhi; // agent:nhi:ed25519:… — the same every run
 * ```
 */
export function deriveTestAgentKey(
  seed: Uint8Array,
  name: string,
  kind: PrincipalKind = 'agent',
): AgentKeyPair {
  const agentSeed = nobleCryptoProvider.sha256(
    concatBytes(seed, utf8ToBytes(AGENT_KEY_LABEL + checkAgentName(name))),
  );
  return AgentKeyPair.fromSeed(agentSeed, { postQuantum: true, kind });
}
