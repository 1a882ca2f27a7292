import { z } from 'zod';
import { canonicalize } from '../canonical/canonicalize.js';
import { utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { PolicyId } from '../ids/policy-id.js';
import type { SandboxId } from '../ids/sandbox-id.js';
import type { Uuid } from '../ids/uuid.js';
import { decodeWire, encodeWire, type WireFailureContext } from './errors.js';
import { ACTION_PARAMETERS_BOUNDS, boundedJson, type JsonValue, RISK_FACTOR_EXTRA_BOUNDS } from './json.js';
import { asciiToken, boundedText, nhiCodec, uuidCodec } from './leaf.js';
import { withMeta } from './registry.js';
import { policyIdCodec, sandboxIdCodec } from './shared-types.js';
import { MAX_WIRE_DELEGATION_CHAIN } from './usage-event.js';

const oversightContext = (contract: string): WireFailureContext => ({ contract, code: 'OV-400' });

// ---------------------------------------------------------------------------------------------
// RiskFactor
// ---------------------------------------------------------------------------------------------

/** How serious a risk factor is, lowest first. */
export const RISK_SEVERITIES = Object.freeze(['low', 'medium', 'high', 'critical'] as const);

/** One of {@link RISK_SEVERITIES}. */
export type RiskSeverity = (typeof RISK_SEVERITIES)[number];

/** Most members of one risk factor, extra fields included. */
export const MAX_RISK_FACTOR_FIELDS = 16;
/** Largest risk factor, in bytes of its RFC 8785 form. */
export const MAX_RISK_FACTOR_BYTES = 4096;
/** Most risk factors in one request or notification. */
export const MAX_RISK_FACTORS = 32;

/**
 * Why an action is risky, shown to approvers (spec §4.2 `RiskFactor`, §5.2 `array<object>`).
 * `name` and `severity` are required; `description` and `score` are optional; any other member is
 * an open extra field (any JSON value, e.g. `{ "amount": "50000.00", "limit": "10000.00" }`),
 * bounded to {@link MAX_RISK_FACTOR_FIELDS} members and {@link MAX_RISK_FACTOR_BYTES} bytes.
 * Member names are the same in TypeScript and on the wire (single words), so extra fields pass
 * through untouched.
 */
export interface RiskFactor {
  /** Short identifier of the factor, e.g. `large_transfer`, `new_recipient`. */
  name: string;
  /** How serious it is. */
  severity: RiskSeverity;
  /** Human-readable explanation. */
  description?: string;
  /** Normalized risk score in [0, 1], when the producer computes one. */
  score?: number;
  /** Open extra fields. */
  [extra: string]: JsonValue | undefined;
}

const riskFactorSchema = withMeta(
  z
    .object({
      name: asciiToken(128),
      severity: z.enum(RISK_SEVERITIES),
      description: boundedText(1024).optional(),
      score: z.number().min(0).max(1).optional(),
    })
    .catchall(boundedJson(RISK_FACTOR_EXTRA_BOUNDS))
    .check((payload) => {
      const value = payload.value as Record<string, unknown>;
      if (Object.keys(value).length > MAX_RISK_FACTOR_FIELDS) {
        payload.issues.push({
          code: 'custom',
          message: `at most ${MAX_RISK_FACTOR_FIELDS} members`,
          input: value,
        });
        return;
      }
      if (utf8ToBytes(canonicalize(value)).length > MAX_RISK_FACTOR_BYTES) {
        payload.issues.push({
          code: 'custom',
          message: `larger than ${MAX_RISK_FACTOR_BYTES} bytes`,
          input: value,
        });
      }
    }),
  {
    id: 'RiskFactor',
    description: `Risk factor: name, severity, optional description and score, plus open extra fields (at most ${MAX_RISK_FACTOR_FIELDS} members, ${MAX_RISK_FACTOR_BYTES} bytes).`,
    maxProperties: MAX_RISK_FACTOR_FIELDS,
  },
);

/** Codec of a {@link RiskFactor}: the same shape on both sides (validated and bounded). */
export const riskFactorCodec: z.ZodType<RiskFactor, RiskFactor> = riskFactorSchema as unknown as z.ZodType<
  RiskFactor,
  RiskFactor
>;

const riskFactorsSchema = z.array(riskFactorCodec).max(MAX_RISK_FACTORS);

// ---------------------------------------------------------------------------------------------
// OversightNotification (spec §5.2 oversight.notifications.{channel_type})
// ---------------------------------------------------------------------------------------------

/** Notification channels (spec §5.2). */
export const CHANNEL_TYPES = Object.freeze(['slack', 'email', 'webhook'] as const);

/** One of {@link CHANNEL_TYPES}. */
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** Longest `action_description`. */
export const MAX_ACTION_DESCRIPTION_LENGTH = 4096;
/** Longest `reasoning_context`. */
export const MAX_REASONING_CONTEXT_LENGTH = 16_384;
/** Longest `approval_link`. */
export const MAX_APPROVAL_LINK_LENGTH = 2048;

/** What an approver is shown (spec §5.2 `notification_payload`). */
export interface NotificationPayload {
  /** What the agent wants to do, in words. */
  actionDescription: string;
  /** Why it needs approval. */
  riskFactors: RiskFactor[];
  /** The agent's reasoning fetched from memory; empty when none was available (`OV-503`, degraded). */
  reasoningContext: string;
  /** Absolute `http(s)` URL where the approver responds. */
  approvalLink: string;
}

/** Wire shape of {@link NotificationPayload}. */
export interface NotificationPayloadWire {
  /** Action description (1–4096 characters). */
  action_description: string;
  /** Risk factors (at most 32). */
  risk_factors: RiskFactor[];
  /** Reasoning context (0–16384 characters). */
  reasoning_context: string;
  /** Approval URL. */
  approval_link: string;
}

/**
 * A request to notify one approver over one channel, published by Oversight on
 * `oversight.notifications.{channel_type}` and delivered by Messaging (spec §4.4, §5.2).
 */
export interface OversightNotification {
  /** The oversight request. */
  requestId: Uuid;
  /**
   * Who to notify: the approver as named in the requirement tier (normally their NHI); channel
   * adapters map it to an address (Slack user, mailbox, endpoint).
   */
  approverIdentity: string;
  /** Channel; also the last token of the subject. */
  channelType: ChannelType;
  /** What the approver sees. */
  notificationPayload: NotificationPayload;
}

/** Wire shape of {@link OversightNotification}. */
export interface OversightNotificationWire {
  /** UUID. */
  request_id: string;
  /** Approver (1–320 characters, no control characters). */
  approver_identity: string;
  /** `slack`, `email` or `webhook`. */
  channel_type: ChannelType;
  /** Payload. */
  notification_payload: NotificationPayloadWire;
}

const approvalLinkSchema = z
  .string()
  .max(MAX_APPROVAL_LINK_LENGTH, { abort: true })
  .regex(/^https?:\/\/[\x21-\x7E]+$/, { error: 'expected an absolute http(s) URL', abort: true })
  .refine((text) => URL.canParse(text), { error: 'expected an absolute http(s) URL' });

const notificationPayloadCodec = z.codec(
  z.strictObject({
    action_description: boundedText(MAX_ACTION_DESCRIPTION_LENGTH),
    risk_factors: riskFactorsSchema,
    reasoning_context: boundedText(MAX_REASONING_CONTEXT_LENGTH, 0),
    approval_link: approvalLinkSchema,
  }),
  z.strictObject({
    actionDescription: boundedText(MAX_ACTION_DESCRIPTION_LENGTH),
    riskFactors: riskFactorsSchema,
    reasoningContext: boundedText(MAX_REASONING_CONTEXT_LENGTH, 0),
    approvalLink: approvalLinkSchema,
  }),
  {
    decode: (w) => ({
      actionDescription: w.action_description,
      riskFactors: w.risk_factors,
      reasoningContext: w.reasoning_context,
      approvalLink: w.approval_link,
    }),
    encode: (t) => ({
      action_description: t.actionDescription,
      risk_factors: t.riskFactors,
      reasoning_context: t.reasoningContext,
      approval_link: t.approvalLink,
    }),
  },
);

/** Codec of {@link OversightNotification} ↔ {@link OversightNotificationWire}. */
export const oversightNotificationCodec: z.ZodType<OversightNotification, OversightNotificationWire> =
  withMeta(
    z.codec(
      z.strictObject({
        request_id: uuidCodec,
        approver_identity: boundedText(320),
        channel_type: z.enum(CHANNEL_TYPES),
        notification_payload: notificationPayloadCodec,
      }),
      z.strictObject({
        requestId: uuidCodec.out,
        approverIdentity: boundedText(320),
        channelType: z.enum(CHANNEL_TYPES),
        notificationPayload: notificationPayloadCodec.out,
      }),
      {
        decode: (w) => ({
          requestId: w.request_id,
          approverIdentity: w.approver_identity,
          channelType: w.channel_type,
          notificationPayload: w.notification_payload,
        }),
        encode: (t) => ({
          request_id: t.requestId,
          approver_identity: t.approverIdentity,
          channel_type: t.channelType,
          notification_payload: t.notificationPayload,
        }),
      },
    ),
    {
      title: 'OversightNotification',
      description:
        'Approver notification published by Oversight on oversight.notifications.{channel_type} (spec §5.2).',
    },
  );

/** Decodes an {@link OversightNotificationWire}; `OV-400` naming the failing path otherwise. */
export function decodeOversightNotification(json: unknown): OversightNotification {
  return decodeWire(oversightNotificationCodec, json, oversightContext('OversightNotification'));
}

/** Encodes an {@link OversightNotification}; `OV-400` naming the failing field otherwise. */
export function encodeOversightNotification(value: OversightNotification): OversightNotificationWire {
  return encodeWire(oversightNotificationCodec, value, oversightContext('OversightNotification'));
}

/** The subject a notification for `channelType` is published on: `oversight.notifications.<channel>`. */
export function oversightNotificationSubject(channelType: ChannelType): string {
  if (!(CHANNEL_TYPES as readonly string[]).includes(channelType)) {
    throw new EnablementError('OV-400', `channelType: expected one of ${CHANNEL_TYPES.join(', ')}`);
  }
  return `oversight.notifications.${channelType}`;
}

// ---------------------------------------------------------------------------------------------
// OversightRequirement
// ---------------------------------------------------------------------------------------------

/** What happens when the last tier times out without a decision. */
export const OVERSIGHT_FINAL_ACTIONS = Object.freeze(['auto_deny', 'auto_approve'] as const);

/**
 * One of {@link OVERSIGHT_FINAL_ACTIONS}. Either way the request ends `EXPIRED` and the outcome
 * is recorded as the final action taken on timeout, never as a human decision (ARCHITECTURE §6).
 */
export type OversightFinalAction = (typeof OVERSIGHT_FINAL_ACTIONS)[number];

/** Most tiers in a requirement. */
export const MAX_OVERSIGHT_TIERS = 8;
/** Most approvers in one tier. */
export const MAX_TIER_APPROVERS = 32;
/** Longest tier timeout: 30 days, in milliseconds. */
export const MAX_TIER_TIMEOUT_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * One escalation tier: `quorum` of the `approvers` must approve within `timeoutMs`.
 */
export interface OversightTier {
  /** NHIs of the approvers eligible at this tier (1–32, no duplicates). Responses are signed by these keys. */
  approvers: string[];
  /** Approvals needed from this tier's approvers: m of n, `1 ≤ quorum ≤ approvers.length`. */
  quorum: number;
  /**
   * How long this tier has, in milliseconds (1 ms to 30 days), counted from when the request
   * reaches the tier (creation for the first tier, escalation for the others).
   */
  timeoutMs: number;
}

/**
 * The human oversight an action requires (returned by authz with `requires_oversight`; carried
 * by `RuntimeOversightRequest`). Semantics:
 *
 * - The request starts at `tiers[0]`. When a tier's timeout elapses before its quorum is met,
 *   the request escalates to the next tier (state `ESCALATED`) and that tier's timer starts.
 * - Quorum is counted per tier, over approvals from that tier's `approvers` only.
 * - When the last tier times out, `finalAction` applies: `auto_deny` or `auto_approve`; the
 *   request is recorded as `EXPIRED` with that outcome, never disguised as a human decision.
 */
export interface OversightRequirement {
  /** Escalation tiers in order (1–8). */
  tiers: OversightTier[];
  /** What happens when the last tier times out. */
  finalAction: OversightFinalAction;
}

/** Wire shape of {@link OversightTier}. */
export interface OversightTierWire {
  /** Approver NHIs. */
  approvers: string[];
  /** m of n, a JSON integer. */
  quorum: number;
  /** Milliseconds, a JSON integer. */
  timeout_ms: number;
}

/** Wire shape of {@link OversightRequirement}. */
export interface OversightRequirementWire {
  /** Tiers in escalation order. */
  tiers: OversightTierWire[];
  /** `auto_deny` or `auto_approve`. */
  final_action: OversightFinalAction;
}

function checkTier(payload: z.core.ParsePayload<{ approvers: string[]; quorum: number }>): void {
  const { approvers, quorum } = payload.value;
  if (new Set(approvers).size !== approvers.length) {
    payload.issues.push({
      code: 'custom',
      message: 'duplicate approver',
      input: approvers,
      path: ['approvers'],
    });
  }
  if (quorum > approvers.length) {
    payload.issues.push({
      code: 'custom',
      message: `quorum ${quorum} exceeds the ${approvers.length} approver(s)`,
      input: quorum,
      path: ['quorum'],
    });
  }
}

const approversSchema = z.array(nhiCodec).min(1).max(MAX_TIER_APPROVERS);
const quorumSchema = z.number().int().min(1).max(MAX_TIER_APPROVERS);
const timeoutMsSchema = z.number().int().min(1).max(MAX_TIER_TIMEOUT_MS);

const oversightTierCodec = withMeta(
  z.codec(
    z
      .strictObject({ approvers: approversSchema, quorum: quorumSchema, timeout_ms: timeoutMsSchema })
      .check(checkTier),
    z
      .strictObject({
        approvers: z.array(z.string()).min(1).max(MAX_TIER_APPROVERS),
        quorum: quorumSchema,
        timeoutMs: timeoutMsSchema,
      })
      .check(checkTier),
    {
      decode: (w) => ({ approvers: w.approvers, quorum: w.quorum, timeoutMs: w.timeout_ms }),
      encode: (t) => ({ approvers: t.approvers, quorum: t.quorum, timeout_ms: t.timeoutMs }),
    },
  ),
  {
    id: 'OversightTier',
    description:
      'Escalation tier: quorum (m of n, 1 ≤ m ≤ n) of the approver NHIs must approve within timeout_ms.',
  },
);

const requirementCodec = withMeta(
  z.codec(
    z.strictObject({
      tiers: z.array(oversightTierCodec).min(1).max(MAX_OVERSIGHT_TIERS),
      final_action: z.enum(OVERSIGHT_FINAL_ACTIONS),
    }),
    z.strictObject({
      tiers: z.array(oversightTierCodec.out).min(1).max(MAX_OVERSIGHT_TIERS),
      finalAction: z.enum(OVERSIGHT_FINAL_ACTIONS),
    }),
    {
      decode: (w) => ({ tiers: w.tiers, finalAction: w.final_action }),
      encode: (t) => ({ tiers: t.tiers, final_action: t.finalAction }),
    },
  ),
  {
    id: 'OversightRequirement',
    title: 'OversightRequirement',
    description:
      'Required human oversight: escalation tiers (approvers, quorum, timeout) and the final action when the last tier times out.',
  },
);

/** Codec of {@link OversightRequirement} ↔ {@link OversightRequirementWire}. */
export const oversightRequirementCodec: z.ZodType<OversightRequirement, OversightRequirementWire> =
  requirementCodec;

/** Decodes an {@link OversightRequirementWire}; `OV-400` naming the failing path otherwise. */
export function decodeOversightRequirement(json: unknown): OversightRequirement {
  return decodeWire(oversightRequirementCodec, json, oversightContext('OversightRequirement'));
}

/** Encodes an {@link OversightRequirement}; `OV-400` naming the failing field otherwise. */
export function encodeOversightRequirement(value: OversightRequirement): OversightRequirementWire {
  return encodeWire(oversightRequirementCodec, value, oversightContext('OversightRequirement'));
}

// ---------------------------------------------------------------------------------------------
// RuntimeOversightRequest (spec §4.2)
// ---------------------------------------------------------------------------------------------

/** The action awaiting approval (spec §4.2 `Action`). */
export interface Action {
  /** Action name as authz saw it, e.g. `spawn_sandbox`, `network.egress`, `funds.transfer`. */
  name: string;
  /** The call's arguments (any JSON, at most 64 KiB in RFC 8785 form, depth 16). */
  parameters: JsonValue;
}

/** The resource acted on (spec §4.2 `Resource`). */
export interface Resource {
  /** Kind of resource, e.g. `sandbox`, `network`. */
  resourceType: string;
  /** Its id, e.g. `sb-…` or `api.example.com`. */
  resourceId: string;
}

/** Wire shape of {@link Resource}. */
export interface ResourceWire {
  /** Kind of resource (visible ASCII, 1–64). */
  resource_type: string;
  /** Resource id (1–1024 characters, no control characters). */
  resource_id: string;
}

/** An approval request Runtime sends to Oversight when authz answers `requires_oversight` (spec §4.2). */
export interface RuntimeOversightRequest {
  /** The agent asking. */
  agentNhi: string;
  /** NHIs from root principal to the agent (spec §6.2). */
  delegationChain: string[];
  /** What it wants to do. */
  action: Action;
  /** On what. */
  resource: Resource;
  /** The policy that required oversight. */
  policyId: PolicyId;
  /** Who must approve, how many, how fast, and what happens on timeout. */
  requirement: OversightRequirement;
  /** The sandbox the action comes from, when it comes from one. */
  sandboxId?: SandboxId;
  /** What the action does, in words, for approvers. */
  actionDescription: string;
  /** Why it is risky. */
  riskFactors: RiskFactor[];
}

/** Wire shape of {@link RuntimeOversightRequest}. */
export interface RuntimeOversightRequestWire {
  /** NHI. */
  agent_nhi: string;
  /** NHIs, root first. */
  delegation_chain: string[];
  /** `{ name, parameters }`. */
  action: Action;
  /** `{ resource_type, resource_id }`. */
  resource: ResourceWire;
  /** Policy id. */
  policy_id: string;
  /** Requirement. */
  requirement: OversightRequirementWire;
  /** Sandbox id, or `null` (serde's `Option::None`). */
  sandbox_id: string | null;
  /** Description. */
  action_description: string;
  /** Risk factors. */
  risk_factors: RiskFactor[];
}

const actionSchema = withMeta(
  z.strictObject({ name: asciiToken(128), parameters: boundedJson(ACTION_PARAMETERS_BOUNDS) }),
  { id: 'Action', description: 'The action: its name and its JSON parameters (spec §4.2).' },
);

const resourceCodec = withMeta(
  z.codec(
    z.strictObject({ resource_type: asciiToken(64), resource_id: boundedText(1024) }),
    z.strictObject({ resourceType: asciiToken(64), resourceId: boundedText(1024) }),
    {
      decode: (w) => ({ resourceType: w.resource_type, resourceId: w.resource_id }),
      encode: (t) => ({ resource_type: t.resourceType, resource_id: t.resourceId }),
    },
  ),
  { id: 'Resource', description: 'The resource acted on: its type and id (spec §4.2).' },
);

const requestWireSchema = z.strictObject({
  agent_nhi: nhiCodec,
  delegation_chain: z.array(nhiCodec).max(MAX_WIRE_DELEGATION_CHAIN),
  action: actionSchema,
  resource: resourceCodec,
  policy_id: policyIdCodec,
  requirement: requirementCodec,
  sandbox_id: sandboxIdCodec.nullable(),
  action_description: boundedText(MAX_ACTION_DESCRIPTION_LENGTH),
  risk_factors: riskFactorsSchema,
});

const requestTsSchema = z.strictObject({
  agentNhi: z.string(),
  delegationChain: z.array(z.string()).max(MAX_WIRE_DELEGATION_CHAIN),
  action: actionSchema,
  resource: resourceCodec.out,
  policyId: policyIdCodec.out,
  requirement: requirementCodec.out,
  sandboxId: sandboxIdCodec.out.optional(),
  actionDescription: boundedText(MAX_ACTION_DESCRIPTION_LENGTH),
  riskFactors: riskFactorsSchema,
});

/** Codec of {@link RuntimeOversightRequest} ↔ {@link RuntimeOversightRequestWire}. */
export const runtimeOversightRequestCodec: z.ZodType<RuntimeOversightRequest, RuntimeOversightRequestWire> =
  withMeta(
    z.codec(requestWireSchema, requestTsSchema, {
      decode: (w) => {
        const out: z.input<typeof requestTsSchema> = {
          agentNhi: w.agent_nhi,
          delegationChain: w.delegation_chain,
          action: w.action,
          resource: w.resource,
          policyId: w.policy_id,
          requirement: w.requirement,
          actionDescription: w.action_description,
          riskFactors: w.risk_factors,
        };
        if (w.sandbox_id !== null) out.sandboxId = w.sandbox_id;
        return out;
      },
      encode: (t) => ({
        agent_nhi: t.agentNhi,
        delegation_chain: t.delegationChain,
        action: t.action,
        resource: t.resource,
        policy_id: t.policyId,
        requirement: t.requirement,
        sandbox_id: t.sandboxId ?? null,
        action_description: t.actionDescription,
        risk_factors: t.riskFactors,
      }),
    }),
    {
      title: 'RuntimeOversightRequest',
      description:
        'Approval request from Runtime to Oversight after authz returned requires_oversight (spec §4.2).',
    },
  );

/** Decodes a {@link RuntimeOversightRequestWire}; `OV-400` naming the failing path otherwise. */
export function decodeRuntimeOversightRequest(json: unknown): RuntimeOversightRequest {
  return decodeWire(runtimeOversightRequestCodec, json, oversightContext('RuntimeOversightRequest'));
}

/** Encodes a {@link RuntimeOversightRequest}; `OV-400` naming the failing field otherwise. */
export function encodeRuntimeOversightRequest(value: RuntimeOversightRequest): RuntimeOversightRequestWire {
  return encodeWire(runtimeOversightRequestCodec, value, oversightContext('RuntimeOversightRequest'));
}
