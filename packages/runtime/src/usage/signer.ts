import {
  AgentIdentity,
  AgentKeyPair,
  decodeHybridSignature,
  EnablementError,
  encodeHybridSignature,
  nobleCryptoProvider,
  type RuntimeUsageEvent,
  type UnsignedRuntimeUsageEvent,
  usageEventSigningBytes,
  verifyHybrid,
  WIRE_SIGNATURE_LENGTHS,
  wireSignatureScheme,
} from '@creto/core';

/**
 * Signs the bytes of a usage event on the agent's behalf (spec §4.1 "sign with sandbox NHI"):
 * returns an ML-DSA-65 (3309 bytes) or hybrid Ed25519 ‖ ML-DSA-65 (3373 bytes) signature. Use it
 * to keep the agent's secret key in a KMS or another process; {@link keyPairUsageSigner} signs
 * in-process.
 */
export type UsageEventSigner = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/**
 * The signer of an in-process agent key pair: hybrid signatures (Ed25519 ‖ ML-DSA-65). `RT-400`
 * when the pair has no ML-DSA-65 key, because usage events require a post-quantum signature
 * (spec §4.1 `MlDsa65Signature`).
 */
export function keyPairUsageSigner(agent: AgentKeyPair): UsageEventSigner {
  if (!(agent instanceof AgentKeyPair)) {
    throw new EnablementError('RT-400', 'agent: expected an AgentKeyPair');
  }
  if (!agent.postQuantum) {
    throw new EnablementError(
      'RT-400',
      `agent: ${agent.identity.nhi} has no ML-DSA-65 key; usage events need a post-quantum signature (create it with { postQuantum: true })`,
    );
  }
  return (message) => encodeHybridSignature(agent.signHybrid(message));
}

/**
 * Signs a usage event with `signer`. When `verifyWith` is given (signers outside this process),
 * the signature is checked before use: a hybrid signature must verify with both keys of the
 * identity; an ML-DSA-65 signature with its ML-DSA-65 key. `RT-500` when the signer fails or
 * returns a bad signature.
 */
export async function signUsageEvent(
  unsigned: UnsignedRuntimeUsageEvent,
  signer: UsageEventSigner,
  verifyWith?: AgentIdentity,
): Promise<RuntimeUsageEvent> {
  const bytes = usageEventSigningBytes(unsigned);
  let signature: Uint8Array;
  try {
    signature = await signer(bytes);
  } catch (cause) {
    throw new EnablementError('RT-500', `usage event signer failed for ${unsigned.agentNhi}`, { cause });
  }
  if (!(signature instanceof Uint8Array)) {
    throw new EnablementError('RT-500', 'usage event signer returned no bytes');
  }
  let scheme: ReturnType<typeof wireSignatureScheme>;
  try {
    scheme = wireSignatureScheme(signature);
  } catch (cause) {
    throw new EnablementError(
      'RT-500',
      `usage event signer returned ${signature.length} bytes; expected ${WIRE_SIGNATURE_LENGTHS['ml-dsa-65']} or ${WIRE_SIGNATURE_LENGTHS.hybrid}`,
      { cause },
    );
  }
  if (verifyWith instanceof AgentIdentity && !verifies(verifyWith, bytes, signature, scheme)) {
    throw new EnablementError('RT-500', `usage event signature does not verify for ${verifyWith.nhi}`);
  }
  return { ...unsigned, signature } as RuntimeUsageEvent;
}

function verifies(
  identity: AgentIdentity,
  message: Uint8Array,
  signature: Uint8Array,
  scheme: 'ml-dsa-65' | 'hybrid',
): boolean {
  if (!identity.hasPostQuantumKey) return false;
  const key = identity.hybridPublicKey();
  if (scheme === 'hybrid')
    return verifyHybrid(nobleCryptoProvider, key, message, decodeHybridSignature(signature));
  try {
    return nobleCryptoProvider.mlDsa65.verify(key.mlDsa65, message, signature);
  } catch {
    return false;
  }
}
