import { z } from 'zod';
import { CRYPTO_SIZES } from '../crypto/provider.js';
import { constantTimeEqual } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { isPolicyId, MAX_POLICY_ID_LENGTH, type PolicyId, policyId } from '../ids/policy-id.js';
import {
  isResourceId,
  MAX_CUSTOM_ID_LENGTH,
  MAX_CUSTOM_PRODUCT_LENGTH,
  type ResourceId,
  resourceIdFromUri,
  resourceIdToUri,
} from '../ids/resource-id.js';
import { isSandboxId, MAX_SANDBOX_ID_LENGTH, type SandboxId, sandboxId } from '../ids/sandbox-id.js';
import type { ConsensusTimestamp } from '../time/clock.js';
import { decodeWire, encodeWire } from './errors.js';
import { bytesCodec, consensusTimestampCodec, guarded, nhiCodec } from './leaf.js';
import { withMeta } from './registry.js';

// ---------------------------------------------------------------------------------------------
// PolicyId, SandboxId, ResourceId (spec §6.4, §6.5)
// ---------------------------------------------------------------------------------------------

/** A policy id (spec §6.4): the same validated text on both sides, branded `PolicyId` in TypeScript. */
export const policyIdCodec = withMeta(
  z.codec(
    z
      .string()
      .max(MAX_POLICY_ID_LENGTH, { abort: true })
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, {
        error: 'only letters, digits and . _ - : / @ are allowed, starting with a letter or digit',
      }),
    z.custom<PolicyId>(isPolicyId, { error: 'expected a policy id' }),
    { decode: guarded((text: string, field) => policyId(text, field)), encode: (id) => id as string },
  ),
  { id: 'PolicyId', description: 'Authorization policy id (spec §6.4), e.g. "spawn-limits/v2".' },
);

/** A sandbox id (`sb-…`): the same validated text on both sides, branded `SandboxId` in TypeScript. */
export const sandboxIdCodec = withMeta(
  z.codec(
    z
      .string()
      .max(MAX_SANDBOX_ID_LENGTH, { abort: true })
      .regex(/^sb-[A-Za-z0-9_-]+$/, { error: "expected 'sb-' followed by A-Z a-z 0-9 _ -" }),
    z.custom<SandboxId>(isSandboxId, { error: 'expected a sandbox id' }),
    { decode: guarded((text: string, field) => sandboxId(text, field)), encode: (id) => id as string },
  ),
  { id: 'SandboxId', description: "Runtime sandbox id: 'sb-' followed by 1-125 of A-Z a-z 0-9 _ -." },
);

const RESOURCE_URI_MAX_LENGTH = MAX_CUSTOM_PRODUCT_LENGTH + 1 + MAX_CUSTOM_ID_LENGTH;

/**
 * A resource id (spec §6.5): on the wire its URI (`runtime:sandbox:sb-…`,
 * `oversight:request:<uuid>`, `<product>:<id>`), in TypeScript the `ResourceId` union.
 */
export const resourceIdCodec = withMeta(
  z.codec(
    z
      .string()
      .max(RESOURCE_URI_MAX_LENGTH, { abort: true })
      .regex(
        new RegExp(
          `^[a-z][a-z0-9_-]{0,${MAX_CUSTOM_PRODUCT_LENGTH - 1}}:[A-Za-z0-9._~:/@+=%-]{1,${MAX_CUSTOM_ID_LENGTH}}$`,
        ),
        { error: "expected a resource URI '<product>:<id>'" },
      ),
    z.custom<ResourceId>(isResourceId, { error: 'expected a ResourceId' }),
    {
      decode: guarded((uri: string, field) => resourceIdFromUri(uri, field)),
      encode: guarded((id: ResourceId, field) => resourceIdToUri(id, field)),
    },
  ),
  {
    id: 'ResourceUri',
    description:
      'Resource id as a URI (spec §6.5): runtime:sandbox:<id>, messaging:message:<uuid>, oversight:request:<uuid>, metering:subscription:<uuid>, messaging:channel:<uuid> or <product>:<id>.',
  },
);

// ---------------------------------------------------------------------------------------------
// AgentIdentity (spec §6.1)
// ---------------------------------------------------------------------------------------------

/** Wire shape of an {@link AgentIdentity} (spec §6.1). */
export interface AgentIdentityWire {
  /** The NHI string; its Ed25519 key must equal `public_key_ed25519`. */
  nhi: string;
  /** The 32-byte Ed25519 public key, unpadded base64url. */
  public_key_ed25519: string;
  /** The 1952-byte ML-DSA-65 public key, unpadded base64url, or `null` for a classical-only principal. */
  public_key_ml_dsa: string | null;
}

const ed25519KeyCodec = bytesCodec([CRYPTO_SIZES.ed25519PublicKey], {
  id: 'Ed25519PublicKey',
  description: 'Ed25519 public key (RFC 8032), 32 bytes as unpadded base64url.',
});
const mlDsa65KeyCodec = bytesCodec([CRYPTO_SIZES.mlDsa65PublicKey], {
  id: 'MlDsa65PublicKey',
  description: 'ML-DSA-65 public key (FIPS 204), 1952 bytes as unpadded base64url.',
});

const agentIdentityWireSchema = z.strictObject({
  nhi: nhiCodec,
  public_key_ed25519: ed25519KeyCodec,
  public_key_ml_dsa: mlDsa65KeyCodec.nullable(),
});

/**
 * An {@link AgentIdentity} ↔ `{ nhi, public_key_ed25519, public_key_ml_dsa | null }`. Decoding
 * rejects an Ed25519 key that differs from the one inside the NHI: the NHI is the identity, the
 * key field a convenience, and the two must never disagree.
 */
export const agentIdentityCodec: z.ZodType<AgentIdentity, AgentIdentityWire> = withMeta(
  z.codec(
    agentIdentityWireSchema,
    z.custom<AgentIdentity>((value) => value instanceof AgentIdentity, {
      error: 'expected an AgentIdentity',
    }),
    {
      decode: guarded((wire: z.output<typeof agentIdentityWireSchema>, field) => {
        const identity = AgentIdentity.fromNhi(wire.nhi, {
          field,
          mlDsa65PublicKey: wire.public_key_ml_dsa ?? undefined,
        });
        if (!constantTimeEqual(identity.publicKeyEd25519, wire.public_key_ed25519)) {
          throw new EnablementError('PL-400', 'public_key_ed25519 does not match the key in the NHI');
        }
        return identity;
      }),
      encode: (identity) => ({
        nhi: identity.nhi,
        public_key_ed25519: identity.publicKeyEd25519,
        public_key_ml_dsa: identity.publicKeyMlDsa65 ?? null,
      }),
    },
  ),
  {
    title: 'AgentIdentity',
    description:
      'A principal’s public identity (spec §6.1): NHI, Ed25519 key (must match the NHI) and optional ML-DSA-65 key.',
  },
);

// ---------------------------------------------------------------------------------------------
// decode / encode helpers of the leaf contracts
// ---------------------------------------------------------------------------------------------

const leafContext = (contract: string) => ({ contract, code: 'PL-400' as const });

/** Decodes an {@link AgentIdentityWire}; `PL-400` naming the failing field otherwise. */
export function decodeAgentIdentity(json: unknown): AgentIdentity {
  return decodeWire(agentIdentityCodec, json, leafContext('AgentIdentity'));
}

/** Encodes an {@link AgentIdentity} to its wire shape. */
export function encodeAgentIdentity(identity: AgentIdentity): AgentIdentityWire {
  return encodeWire(agentIdentityCodec, identity, leafContext('AgentIdentity'));
}

/** Decodes a consensus timestamp (int64 decimal string) to Unix nanoseconds; `PL-400` otherwise. */
export function decodeConsensusTimestamp(json: unknown): ConsensusTimestamp {
  return decodeWire(consensusTimestampCodec, json, leafContext('ConsensusTimestamp'));
}

/** Encodes a consensus timestamp as its int64 decimal string. */
export function encodeConsensusTimestamp(timestamp: ConsensusTimestamp): string {
  return encodeWire(consensusTimestampCodec, timestamp, leafContext('ConsensusTimestamp'));
}

/** Decodes a policy id; `PL-400` otherwise. */
export function decodePolicyId(json: unknown): PolicyId {
  return decodeWire(policyIdCodec, json, leafContext('PolicyId'));
}

/** Encodes a policy id (validated). */
export function encodePolicyId(id: PolicyId): string {
  return encodeWire(policyIdCodec, id, leafContext('PolicyId'));
}

/** Decodes a sandbox id; `PL-400` otherwise. */
export function decodeSandboxId(json: unknown): SandboxId {
  return decodeWire(sandboxIdCodec, json, leafContext('SandboxId'));
}

/** Encodes a sandbox id (validated). */
export function encodeSandboxId(id: SandboxId): string {
  return encodeWire(sandboxIdCodec, id, leafContext('SandboxId'));
}

/** Decodes a resource URI to a {@link ResourceId}; `PL-400` otherwise. */
export function decodeResourceId(json: unknown): ResourceId {
  return decodeWire(resourceIdCodec, json, leafContext('ResourceId'));
}

/** Encodes a {@link ResourceId} as its URI. */
export function encodeResourceId(id: ResourceId): string {
  return encodeWire(resourceIdCodec, id, leafContext('ResourceId'));
}
