import {
  AgentIdentity,
  type AgentKeyPair,
  base64urlToBytes,
  bytesToBase64url,
  type ConsensusTimestamp,
  type CryptoProvider,
  decodeHybridSignature,
  decodeWire,
  EnablementError,
  encodeHybridSignature,
  HYBRID_SIGNATURE_LENGTH,
  type HybridPublicKey,
  INT64_PATTERN,
  NHI_PATTERN,
  nobleCryptoProvider,
  RUNTIME_CLASS_PATTERN,
  type SandboxId,
  verifyHybrid,
  wireSigningBytes,
} from '@creto/core';
import { z } from 'zod';

/**
 * Domain-separation tag of {@link attestationSigningBytes}: the host signs
 * `UTF-8(tag) ‖ 0x00 ‖ JCS(wire attestation without "signature")`, so no other object the host
 * key signs can pass for an attestation.
 */
export const ATTESTATION_SIGNING_DOMAIN = 'creto/runtime.sandbox-attestation/v1';

/**
 * A host-signed statement that a sandbox was created for an agent from an exact spec (spec §3.4
 * "Runtime: sign attestations"; ARCHITECTURE §6 Runtime). Hybrid-signed (Ed25519 ‖ ML-DSA-65) by
 * the runtime host's service identity over the RFC 8785 canonical wire form.
 */
export interface SandboxAttestation {
  /** The sandbox. */
  readonly sandboxId: SandboxId;
  /** Lower-case hex SHA-256 of the canonical sandbox spec (see the runtime's spec hash). */
  readonly specHash: string;
  /** The runtime class the agent asked for (e.g. `gvisor`, possibly served through an alias). */
  readonly runtimeClass: string;
  /**
   * The driver that actually serves the sandbox (`quickjs`, `process`, …). It differs from
   * `runtimeClass` when the class is an alias, so a verifier is never misled about isolation.
   */
  readonly driver: string;
  /** The agent the sandbox is bound to. */
  readonly agentNhi: string;
  /** Lower-case hex SHA-256 of the image name or the code, or `null` when the spec had neither. */
  readonly imageOrCodeHash: string | null;
  /** NHI of the runtime host that signed. */
  readonly hostNhi: string;
  /** When it was issued (consensus time, Unix ns). */
  readonly issuedAt: ConsensusTimestamp;
  /** Hybrid signature (3373 bytes) over {@link attestationSigningBytes}. */
  readonly signature: Uint8Array;
}

/** Wire shape of {@link SandboxAttestation} (snake_case; int64 as a decimal string; base64url bytes). */
export interface SandboxAttestationWire {
  /** Sandbox id. */
  sandbox_id: string;
  /** 64 lower-case hex characters. */
  spec_hash: string;
  /** Runtime class token. */
  runtime_class: string;
  /** Driver name. */
  driver: string;
  /** Agent NHI. */
  agent_nhi: string;
  /** 64 lower-case hex characters, or `null`. */
  image_or_code_hash: string | null;
  /** Host NHI. */
  host_nhi: string;
  /** Unix ns, int64 decimal string. */
  issued_at: string;
  /** Unpadded base64url of the 3373-byte hybrid signature. */
  signature: string;
}

/** {@link SandboxAttestation} before signing. */
export type UnsignedSandboxAttestation = Omit<SandboxAttestation, 'signature'>;

const HEX_256 = /^[0-9a-f]{64}$/;
const SANDBOX_ID = /^sb-[A-Za-z0-9_-]{1,125}$/;
const DRIVER = /^[a-z][a-z0-9_-]{0,63}$/;
const SIGNATURE_TEXT_LENGTH = Math.ceil((HYBRID_SIGNATURE_LENGTH * 4) / 3);

const wireSchema = z.strictObject({
  sandbox_id: z.string().regex(SANDBOX_ID, { error: "expected 'sb-' followed by A-Z a-z 0-9 _ -" }),
  spec_hash: z.string().regex(HEX_256, { error: 'expected 64 lower-case hex characters' }),
  runtime_class: z.string().max(64).regex(RUNTIME_CLASS_PATTERN, { error: 'expected a runtime class token' }),
  driver: z.string().max(64).regex(DRIVER, { error: 'expected a driver name token' }),
  agent_nhi: z.string().max(64).regex(NHI_PATTERN, { error: 'expected an NHI' }),
  image_or_code_hash: z
    .string()
    .regex(HEX_256, { error: 'expected 64 lower-case hex characters' })
    .nullable(),
  host_nhi: z.string().max(64).regex(NHI_PATTERN, { error: 'expected an NHI' }),
  issued_at: z
    .string()
    .regex(INT64_PATTERN, { error: 'expected an int64 decimal string' })
    .refine((text) => !text.startsWith('-'), { error: 'expected a non-negative timestamp' }),
  signature: z
    .string()
    .length(SIGNATURE_TEXT_LENGTH, { error: `expected ${HYBRID_SIGNATURE_LENGTH} bytes of base64url` })
    .regex(/^[A-Za-z0-9_-]+$/, { error: 'expected unpadded base64url' }),
});

function unsignedWire(attestation: UnsignedSandboxAttestation): Omit<SandboxAttestationWire, 'signature'> {
  return {
    sandbox_id: attestation.sandboxId,
    spec_hash: attestation.specHash,
    runtime_class: attestation.runtimeClass,
    driver: attestation.driver,
    agent_nhi: attestation.agentNhi,
    image_or_code_hash: attestation.imageOrCodeHash,
    host_nhi: attestation.hostNhi,
    issued_at: attestation.issuedAt.toString(),
  };
}

/** Encodes an attestation to its wire JSON; `RT-400` naming the field when it is malformed. */
export function encodeAttestation(attestation: SandboxAttestation): SandboxAttestationWire {
  if (typeof attestation !== 'object' || attestation === null) {
    throw new EnablementError('RT-400', 'invalid SandboxAttestation: expected an object');
  }
  if (!(attestation.signature instanceof Uint8Array)) {
    throw new EnablementError('RT-400', 'invalid SandboxAttestation: signature: expected bytes');
  }
  const wire = { ...unsignedWire(attestation), signature: bytesToBase64url(attestation.signature) };
  return decodeWire(wireSchema, wire, { contract: 'SandboxAttestation', code: 'RT-400' });
}

/** Decodes wire JSON to an attestation (no signature check: see {@link verifyAttestation}); `RT-400` when malformed. */
export function decodeAttestation(json: unknown): SandboxAttestation {
  const wire = decodeWire(wireSchema, json, { contract: 'SandboxAttestation', code: 'RT-400' });
  const signature = base64urlToBytes(wire.signature);
  if (signature.length !== HYBRID_SIGNATURE_LENGTH) {
    throw new EnablementError(
      'RT-400',
      `invalid SandboxAttestation: signature: expected ${HYBRID_SIGNATURE_LENGTH} bytes`,
    );
  }
  return Object.freeze({
    sandboxId: wire.sandbox_id as SandboxId,
    specHash: wire.spec_hash,
    runtimeClass: wire.runtime_class,
    driver: wire.driver,
    agentNhi: wire.agent_nhi,
    imageOrCodeHash: wire.image_or_code_hash,
    hostNhi: wire.host_nhi,
    issuedAt: BigInt(wire.issued_at),
    signature,
  });
}

/**
 * The exact bytes the host signs: `UTF-8("creto/runtime.sandbox-attestation/v1") ‖ 0x00 ‖
 * JCS({ sandbox_id, spec_hash, runtime_class, driver, agent_nhi, image_or_code_hash, host_nhi,
 * issued_at })` (RFC 8785). Any `signature` member is ignored.
 */
export function attestationSigningBytes(attestation: UnsignedSandboxAttestation): Uint8Array {
  return wireSigningBytes(ATTESTATION_SIGNING_DOMAIN, unsignedWire(attestation));
}

/**
 * Signs an attestation with the host's hybrid key (spec §3.4). `PL-400` when the key has no
 * ML-DSA-65 half; `RT-400` when a field is malformed. The host NHI is taken from the key.
 */
export function signAttestation(
  body: Omit<UnsignedSandboxAttestation, 'hostNhi'>,
  hostKey: AgentKeyPair,
): SandboxAttestation {
  const unsigned: UnsignedSandboxAttestation = { ...body, hostNhi: hostKey.identity.nhi };
  const signature = encodeHybridSignature(hostKey.signHybrid(attestationSigningBytes(unsigned)));
  const attestation = Object.freeze({ ...unsigned, signature });
  encodeAttestation(attestation); // validates every field before the attestation leaves the host
  return attestation;
}

/**
 * True when `attestation` carries a valid hybrid signature by `hostPublicKey` (both halves must
 * verify) and, when an `AgentIdentity` is given, names that identity as `hostNhi`. False, never a
 * throw, for anything malformed, tampered or signed by another key.
 *
 * @example
 * ```ts
 * const sandbox = await runtime.spawnSandbox({ agent });
 * verifyAttestation(sandbox.attestation, hostKey.identity); // true
 * ```
 */
export function verifyAttestation(
  attestation: SandboxAttestation,
  hostPublicKey: AgentIdentity | HybridPublicKey,
  provider: CryptoProvider = nobleCryptoProvider,
): boolean {
  try {
    // Re-encoding validates every field (a tampered field that no longer parses is rejected).
    encodeAttestation(attestation);
    let key: HybridPublicKey;
    if (hostPublicKey instanceof AgentIdentity) {
      if (!hostPublicKey.hasPostQuantumKey || hostPublicKey.nhi !== attestation.hostNhi) return false;
      key = hostPublicKey.hybridPublicKey();
    } else {
      key = hostPublicKey;
    }
    const signature = decodeHybridSignature(attestation.signature);
    return verifyHybrid(provider, key, attestationSigningBytes(attestation), signature);
  } catch {
    return false;
  }
}
