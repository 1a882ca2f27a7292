import {
  DelegationChain,
  type DelegationLink,
  EnablementError,
  encodeRuntimeOversightRequest,
  MAX_WIRE_TRACE_ID_LENGTH,
  type OversightRequirement,
  type Resource,
  type RuntimeOversightRequest,
  type RuntimeOversightRequestWire,
} from '@creto/core';
import { validateRequirement } from '../policy/index.js';
import type { OversightRequestInput } from './types.js';

/** Longest caller idempotency key part. */
export const MAX_CALLER_IDEMPOTENCY_KEY_LENGTH = 256;

/** A validated `createRequest` input. */
export interface ParsedRequestInput {
  /** The request, a fresh copy. */
  readonly request: RuntimeOversightRequest;
  /** Blocking (default true). */
  readonly blocking: boolean;
  /** Trace id. */
  readonly traceId?: string;
  /** The signed chain, when given. */
  readonly delegation?: DelegationChain;
  /** Caller idempotency part. */
  readonly idempotencyKey?: string;
}

const PRINTABLE = /^[\x20-\x7E]+$/;
const VISIBLE = /^[\x21-\x7E]+$/;

function bad(field: string, why: string, cause?: unknown): EnablementError {
  return new EnablementError('OV-400', `${field}: ${why}`, cause === undefined ? {} : { cause });
}

/**
 * Validates a `createRequest` input: the §4.2 fields with core's `RuntimeOversightRequest` codec
 * (strict: an unknown member is refused), the requirement with {@link validateRequirement}
 * (which also accepts `role:` / `group:` approver entries), and the engine's extras. `OV-400`
 * naming the field.
 *
 * `placeholder` is a valid NHI-only requirement that stands in for the real one while the codec
 * checks the other fields, since the codec accepts NHI approvers only.
 */
export function parseRequestInput(input: unknown, placeholder: OversightRequirement): ParsedRequestInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad('request', 'expected an object');
  }
  const { blocking, traceId, delegation, idempotencyKey, requirement, ...rest } =
    input as OversightRequestInput;
  if (blocking !== undefined && typeof blocking !== 'boolean') throw bad('blocking', 'expected a boolean');
  if (
    traceId !== undefined &&
    (typeof traceId !== 'string' || traceId.length > MAX_WIRE_TRACE_ID_LENGTH || !PRINTABLE.test(traceId))
  ) {
    throw bad('traceId', `expected 1-${MAX_WIRE_TRACE_ID_LENGTH} printable ASCII characters`);
  }
  if (
    idempotencyKey !== undefined &&
    (typeof idempotencyKey !== 'string' ||
      idempotencyKey.length > MAX_CALLER_IDEMPOTENCY_KEY_LENGTH ||
      !VISIBLE.test(idempotencyKey))
  ) {
    throw bad('idempotencyKey', `expected 1-${MAX_CALLER_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`);
  }
  let chain: DelegationChain | undefined;
  if (delegation !== undefined) {
    try {
      chain =
        delegation instanceof DelegationChain
          ? delegation
          : DelegationChain.from(delegation as DelegationLink[]);
    } catch (cause) {
      throw bad('delegation', 'expected a DelegationChain or its links, root first', cause);
    }
  }
  const checked = validateRequirement(requirement);
  // One validating pass (the codec's encode); the copy is read back from the validated wire JSON
  // by plain mapping, so nothing of the caller's objects is shared.
  const wire = JSON.parse(
    JSON.stringify(
      encodeRuntimeOversightRequest({ ...(rest as RuntimeOversightRequest), requirement: placeholder }),
    ),
  ) as RuntimeOversightRequestWire;
  const request: RuntimeOversightRequest = {
    agentNhi: wire.agent_nhi,
    delegationChain: wire.delegation_chain,
    action: wire.action,
    resource: { resourceType: wire.resource.resource_type, resourceId: wire.resource.resource_id },
    policyId: wire.policy_id as RuntimeOversightRequest['policyId'],
    requirement: checked,
    ...(wire.sandbox_id === null
      ? {}
      : { sandboxId: wire.sandbox_id as RuntimeOversightRequest['sandboxId'] }),
    actionDescription: wire.action_description,
    riskFactors: wire.risk_factors,
  };
  return {
    request,
    blocking: blocking ?? true,
    ...(traceId === undefined ? {} : { traceId }),
    ...(chain === undefined ? {} : { delegation: chain }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  };
}

// No control characters (the URI goes into tokens, audit events and logs).
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const CONTROL = /[\u0000-\u001F\u007F]/;

/** The default resource URI: `<resourceType>:<resourceId>`. */
export function defaultResourceUri(resource: Resource): string {
  return `${resource.resourceType}:${resource.resourceId}`;
}

/** Checks a resource URI as the override token and authz accept it (1–1024 characters, no control characters). */
export function checkResourceUri(uri: unknown): string {
  if (typeof uri !== 'string' || uri.length === 0 || uri.length > 1024 || CONTROL.test(uri)) {
    throw bad('resource', 'the resource URI must be 1-1024 characters without control characters');
  }
  return uri;
}
