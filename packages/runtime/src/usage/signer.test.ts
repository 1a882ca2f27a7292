import {
  AgentIdentity,
  AgentKeyPair,
  newSandboxId,
  newUuid,
  nobleCryptoProvider,
  type UnsignedRuntimeUsageEvent,
  usageEventSigningBytes,
} from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { keyPairUsageSigner, signUsageEvent } from './signer.js';

const seed = new Uint8Array(32).fill(1);
const agent = AgentKeyPair.fromSeed(seed, { postQuantum: true });
const unsigned: UnsignedRuntimeUsageEvent = {
  eventId: newUuid(),
  agentNhi: agent.identity.nhi,
  delegationChain: [],
  eventType: 'network_egress',
  consensusTimestamp: 1n,
  idempotencyKey: 'k',
  properties: { type: 'NetworkEgress', sandboxId: newSandboxId(), destination: 'h', bytesTransferred: 1n },
};

describe('usage event signing', () => {
  it('accepts a plain ML-DSA-65 signature from an external signer after verifying it', async () => {
    const ml = nobleCryptoProvider.mlDsa65.generateKeyPair(new Uint8Array(32).fill(7));
    const ed = nobleCryptoProvider.ed25519.generateKeyPair(new Uint8Array(32).fill(7));
    const identity = AgentIdentity.fromPublicKeys('agent', ed.publicKey, ml.publicKey);
    const event = await signUsageEvent(
      { ...unsigned, agentNhi: identity.nhi },
      (bytes) => nobleCryptoProvider.mlDsa65.sign(ml.secretKey, bytes),
      identity,
    );
    expect(event.signature).toHaveLength(3309);
    expect(
      nobleCryptoProvider.mlDsa65.verify(ml.publicKey, usageEventSigningBytes(event), event.signature),
    ).toBe(true);
    // The in-process signer produces hybrid signatures.
    const hybrid = await signUsageEvent(unsigned, keyPairUsageSigner(agent), agent.identity);
    expect(hybrid.signature).toHaveLength(3373);
  });

  it('refuses signers that fail, return the wrong size or the wrong key (RT-500)', async () => {
    await expectEnablementRejection(
      signUsageEvent(unsigned, () => {
        throw new Error('kms down');
      }),
      'RT-500',
      /signer failed/,
    );
    await expectEnablementRejection(
      signUsageEvent(unsigned, () => new Uint8Array(64)),
      'RT-500',
      /64 bytes/,
    );
    await expectEnablementRejection(
      signUsageEvent(unsigned, () => new Uint8Array(3309), agent.identity),
      'RT-500',
      /does not verify/,
    );
  });

  it('needs a post-quantum key pair (RT-400)', () => {
    expectEnablementError(() => keyPairUsageSigner(AgentKeyPair.fromSeed(seed)), 'RT-400', /postQuantum/);
  });
});
