import { z } from 'zod';
import { deliveryReceiptCodec } from './delivery-receipt.js';
import { enablementErrorCodec } from './enablement-error.js';
import { consensusTimestampCodec } from './leaf.js';
import {
  oversightNotificationCodec,
  oversightRequirementCodec,
  runtimeOversightRequestCodec,
} from './oversight.js';
import { wireRegistry } from './registry.js';
import { agentIdentityCodec, policyIdCodec, resourceIdCodec, sandboxIdCodec } from './shared-types.js';
import { runtimeUsageEventCodec } from './usage-event.js';

/** A wire contract: its title (the TypeScript type name) and its codec. */
export interface WireContract {
  /** TypeScript name of the contract, used as the JSON Schema `title`. */
  readonly title: string;
  /** The codec; its input (wire) side is what the JSON Schema describes. */
  readonly codec: z.ZodType;
}

/**
 * Every wire contract, by the file name of its JSON Schema
 * (`packages/core/schemas/<name>.schema.json`, as spec §12.3 names `runtime-usage-event`).
 */
export const WIRE_CONTRACTS = Object.freeze({
  'runtime-usage-event': { title: 'RuntimeUsageEvent', codec: runtimeUsageEventCodec },
  'oversight-notification': { title: 'OversightNotification', codec: oversightNotificationCodec },
  'delivery-receipt': { title: 'DeliveryReceipt', codec: deliveryReceiptCodec },
  'runtime-oversight-request': { title: 'RuntimeOversightRequest', codec: runtimeOversightRequestCodec },
  'oversight-requirement': { title: 'OversightRequirement', codec: oversightRequirementCodec },
  'enablement-error': { title: 'EnablementError', codec: enablementErrorCodec },
  'agent-identity': { title: 'AgentIdentity', codec: agentIdentityCodec },
  'consensus-timestamp': { title: 'ConsensusTimestamp', codec: consensusTimestampCodec },
  'policy-id': { title: 'PolicyId', codec: policyIdCodec },
  'resource-id': { title: 'ResourceId', codec: resourceIdCodec },
  'sandbox-id': { title: 'SandboxId', codec: sandboxIdCodec },
} as const satisfies Record<string, WireContract>);

/** Name of a contract in {@link WIRE_CONTRACTS}. */
export type WireContractName = keyof typeof WIRE_CONTRACTS;

/** Every {@link WireContractName}, sorted. */
export const WIRE_CONTRACT_NAMES: readonly WireContractName[] = Object.freeze(
  (Object.keys(WIRE_CONTRACTS) as WireContractName[]).sort(),
);

/** A JSON Schema document (draft 2020-12). */
export type JsonSchemaDocument = z.core.JSONSchema.BaseSchema;

/**
 * The JSON Schema (draft 2020-12) of a contract's wire side, generated from its codec. Shared
 * definitions (`Uuid`, `Nhi`, `Int64`, `Signature`, …) go under `$defs`. This one function feeds
 * both `scripts/generate-schemas.mjs` and the drift test, so the checked-in files are exactly
 * what the codecs accept.
 */
export function contractJsonSchema(name: WireContractName): JsonSchemaDocument {
  const contract: WireContract | undefined = WIRE_CONTRACTS[name];
  if (contract === undefined) throw new TypeError(`unknown wire contract: ${String(name)}`);
  const generated = z.toJSONSchema(contract.codec, {
    target: 'draft-2020-12',
    io: 'input',
    metadata: wireRegistry,
    unrepresentable: 'throw',
    cycles: 'throw',
    reused: 'inline',
  });
  const { $schema, ...rest } = generated;
  return { $schema, title: contract.title, ...rest };
}

/** {@link contractJsonSchema} as the exact text of the checked-in file (2-space JSON, trailing newline). */
export function contractJsonSchemaText(name: WireContractName): string {
  return `${JSON.stringify(contractJsonSchema(name), null, 2)}\n`;
}
