/**
 * Identifiers: policy ids (spec §6.4), sandbox ids, UUIDs and the unified resource id with its
 * URI form (spec §6.5).
 * @module
 */
export { isPolicyId, MAX_POLICY_ID_LENGTH, type PolicyId, policyId } from './policy-id.js';
export { type RandomSource, secureRandom } from './random.js';
export {
  isResourceId,
  MAX_CUSTOM_ID_LENGTH,
  MAX_CUSTOM_PRODUCT_LENGTH,
  RESOURCE_URI_PREFIXES,
  type ResourceId,
  type ResourceKind,
  resourceIdFromUri,
  resourceIdToUri,
} from './resource-id.js';
export {
  isSandboxId,
  MAX_SANDBOX_ID_LENGTH,
  newSandboxId,
  SANDBOX_ID_PREFIX,
  type SandboxId,
  sandboxId,
} from './sandbox-id.js';
export { assertUuid, isUuid, newUuid, parseUuid, UUID_PATTERN, type Uuid } from './uuid.js';
