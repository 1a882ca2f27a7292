// Shared fixtures of the enablement tests (not part of the package: only the tests import it).
import { AgentKeyPair, bytesToUtf8, type Policy, type PrincipalKind, registrationProof } from '@creto/core';
import type { ReceivedMessage } from '@creto/messaging';
import { decodeNotificationPayload } from '@creto/oversight';
import {
  createDeterministicProvider,
  createInferenceRouter,
  createPriceTable,
  DETERMINISTIC_PRICE_ENTRIES,
} from '@creto/runtime';
import { FakeClock } from '@creto/testing';
import { createEnablement } from './create.js';
import { deriveEnablementKeys } from './keys.js';
import type { Enablement, EnablementOptions } from './types.js';

/** The layer's seed in every test. */
export const SEED = new Uint8Array(32).fill(42);
/** Service keys derived once per test file (ML-DSA key generation is slow). */
export const KEYS = deriveEnablementKeys(SEED);

/** A post-quantum key pair from a one-byte seed (cached per file). */
const cache = new Map<string, AgentKeyPair>();
export function keyOf(n: number, kind: PrincipalKind = 'agent'): AgentKeyPair {
  const id = `${n}:${kind}`;
  let key = cache.get(id);
  if (key === undefined) {
    key = AgentKeyPair.fromSeed(new Uint8Array(32).fill(n), { postQuantum: true, kind });
    cache.set(id, key);
  }
  return key;
}

/** Registers `key` in the layer's NHI registry. */
export async function register(
  layer: Enablement,
  key: AgentKeyPair,
  attributes: { roles?: string[]; groups?: string[]; displayName?: string } = {},
): Promise<string> {
  await layer.platform.nhi.register({ identity: key.identity, proof: registrationProof(key), ...attributes });
  return key.identity.nhi;
}

/** Agents may spawn sandboxes of any class. */
export const SPAWN_POLICY: Policy = {
  id: 'agents-spawn',
  effect: 'permit',
  principal: 'agent:*',
  action: 'sandbox.spawn',
  resource: 'runtime:sandbox:*',
};

/** Agents may message agents and humans (§7.4 "send_message(accounting_agent, …)"). */
export const MESSAGING_POLICY: Policy = {
  id: 'agents-message',
  effect: 'permit',
  principal: 'agent:*',
  action: 'messaging:send',
  resource: 'agent:*',
};

/** A plan billing sandboxes and tokens. */
export const PLAN = {
  id: 'pro',
  name: 'Pro',
  currency: 'USD',
  interval: 'month',
  baseFee: '49.00',
  charges: [
    { id: 'sandboxes', meterId: 'sandbox_allocations', model: { type: 'per_unit', unitPrice: '0.05' } },
    { id: 'tokens', meterId: 'inference_tokens', model: { type: 'per_unit', unitPrice: '0.00001' } },
  ],
};

/** A layer on a FakeClock with the deterministic inference provider. */
export async function newLayer(
  overrides: EnablementOptions = {},
): Promise<{ readonly layer: Enablement; readonly clock: FakeClock }> {
  const clock = (overrides.clock as FakeClock | undefined) ?? new FakeClock();
  const inference = createInferenceRouter({
    providers: [createDeterministicProvider({ clock })],
    prices: createPriceTable(DETERMINISTIC_PRICE_ENTRIES),
    clock,
  });
  const layer = await createEnablement({
    keys: KEYS,
    policies: [SPAWN_POLICY, MESSAGING_POLICY],
    ...overrides,
    clock,
    runtime: { inference, ...overrides.runtime },
  });
  return { layer, clock };
}

/** A connected agent's inbox: decrypted messages, in arrival order. */
export interface Inbox {
  readonly messages: ReceivedMessage[];
  /** The payloads as text. */
  texts(): string[];
  /** The notifications among them (the `creto.notification` envelope), decoded. */
  notifications(): ReturnType<typeof decodeNotificationPayload>[];
}

/** Connects `key` through the layer and records what it receives. */
export async function connectInbox(layer: Enablement, key: AgentKeyPair): Promise<Inbox> {
  const client = await layer.messaging.connect(key);
  const messages: ReceivedMessage[] = [];
  client.onMessage((m) => messages.push(m));
  return {
    messages,
    texts: () => messages.map((m) => bytesToUtf8(m.payload)),
    notifications: () =>
      messages.flatMap((m) => {
        try {
          return [decodeNotificationPayload(m.payload)];
        } catch {
          return [];
        }
      }),
  };
}
