import {
  bytesToHex,
  type ChannelType,
  EnablementError,
  encodeOversightNotification,
  formatRfc3339Micros,
  type JsonValue,
  MAX_REASONING_CONTEXT_LENGTH,
  type Notification,
  nobleCryptoProvider,
  type OversightNotificationWire,
  type ReasoningEntry,
  utf8ToBytes,
} from '@creto/core';
import type { OversightRequestRecord } from '../store/index.js';

/** `kind` of the notifications the engine sends approvers. */
export const APPROVAL_NOTIFICATION_KIND = 'approval_required';

/** Longest notification body, in characters (bodies are cut, never the wire payload). */
export const MAX_APPROVAL_BODY_LENGTH = 16_384;

/** Longest `approver_identity` of an `OversightNotification` (core's wire bound). */
const MAX_APPROVER_IDENTITY_LENGTH = 320;

// What boundedText rejects: C0 controls except TAB, LF, CR, and lone surrogates (with the `u`
// flag a surrogate pair is one code point, so only lone halves match the range).
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const DISALLOWED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF]/gu;

/** `text` without control characters or lone surrogates, cut to at most `max` UTF-16 units on a code point boundary. */
export function cleanText(text: string, max: number): string {
  const clean = text.replace(DISALLOWED, ' ');
  if (clean.length <= max) return clean;
  let cut = max;
  const code = clean.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return clean.slice(0, cut);
}

/**
 * The reasoning shown to approvers: the agent's records about the action, most recent first, one
 * per line, cleaned and cut to the wire bound (spec §5.2 `reasoning_context`).
 */
export function formatReasoning(entries: readonly ReasoningEntry[]): string {
  return cleanText(entries.map((entry) => `- ${entry.text}`).join('\n'), MAX_REASONING_CONTEXT_LENGTH);
}

/** The approval link of a request: `{requestId}` replaced, or `/<id>` appended. */
export function approvalLink(base: string, requestId: string): string {
  if (base.includes('{requestId}')) return base.replaceAll('{requestId}', requestId);
  return `${base.endsWith('/') ? base.slice(0, -1) : base}/${requestId}`;
}

/**
 * A stable notification id (a UUID version 8, RFC 9562 §5.8) from the request, tier and
 * recipient: a notification re-sent after a restart carries the same id, so the recipient and
 * the bus can drop the duplicate.
 */
export function notificationId(requestId: string, tier: number, recipient: string): string {
  const hash = nobleCryptoProvider.sha256(
    utf8ToBytes(`creto-oversight-notification\0${requestId}\0${tier}\0${recipient}`),
  );
  const bytes = hash.slice(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytesToHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function jsonPreview(value: JsonValue): string {
  const text = JSON.stringify(value);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/** The notification to one approver entry of the request's current tier (spec §4.4, §5.2, §12.2). */
export function buildApprovalNotification(
  record: OversightRequestRecord,
  recipient: string,
  channelType: ChannelType,
  linkBase: string,
): ApprovalNotification {
  return buildApprovalNotifications(record, [recipient], channelType, linkBase)[0] as ApprovalNotification;
}

/** A notification with its `OversightNotification` wire JSON (also its `data`). */
export interface ApprovalNotification {
  /** What the `Notifier` port takes. */
  readonly notification: Notification;
  /** What is published on `oversight.notifications.{channel}`. */
  readonly wire: OversightNotificationWire;
}

/**
 * {@link buildApprovalNotification} for several entries of one tier: the wire payload is encoded
 * (and validated) once with core's `encodeOversightNotification`; only `approver_identity`
 * differs, each one checked as the codec would.
 */
export function buildApprovalNotifications(
  record: OversightRequestRecord,
  recipients: readonly string[],
  channelType: ChannelType,
  linkBase: string,
): ApprovalNotification[] {
  const [first] = recipients;
  if (first === undefined) return [];
  const { request } = record;
  const link = approvalLink(linkBase, record.requestId);
  const template = encodeOversightNotification({
    requestId: record.requestId,
    approverIdentity: first,
    channelType,
    notificationPayload: {
      actionDescription: request.actionDescription,
      riskFactors: request.riskFactors,
      reasoningContext: record.reasoningContext,
      approvalLink: link,
    },
  });
  const body = approvalBody(record, link);
  return recipients.map((recipient) => {
    if (
      recipient.length === 0 ||
      recipient.length > MAX_APPROVER_IDENTITY_LENGTH ||
      cleanText(recipient, MAX_APPROVER_IDENTITY_LENGTH) !== recipient
    ) {
      throw new EnablementError('OV-400', 'approverIdentity: 1-320 characters without control characters');
    }
    const wire: OversightNotificationWire = { ...template, approver_identity: recipient };
    const notification: Notification = {
      id: notificationId(record.requestId, record.tier, recipient),
      kind: APPROVAL_NOTIFICATION_KIND,
      recipient,
      subject: `Approval Required: ${request.action.name}`,
      body,
      data: wire as unknown as JsonValue,
      ...(record.traceId === undefined ? {} : { traceId: record.traceId }),
    };
    return { notification, wire };
  });
}

/** The text approvers read: description, the call, tier and deadline, risk factors, reasoning, link. */
function approvalBody(record: OversightRequestRecord, link: string): string {
  const { request } = record;
  const tier = request.requirement.tiers[record.tier];
  const lines = [
    request.actionDescription,
    '',
    `Action: ${request.action.name} on ${record.resourceUri}`,
    `Parameters: ${jsonPreview(request.action.parameters)}`,
    `Requested by: ${request.agentNhi}`,
    `Policy: ${request.policyId}`,
  ];
  if (tier !== undefined && record.deadlineAt !== undefined) {
    const then =
      record.tier + 1 < request.requirement.tiers.length ? 'escalation' : request.requirement.finalAction;
    lines.push(
      `Tier ${record.tier + 1} of ${request.requirement.tiers.length}: ${tier.quorum} approval(s) needed by ${formatRfc3339Micros(record.deadlineAt)} (then ${then})`,
    );
  }
  if (!record.blocking) lines.push('This is a notice: the action was not held up.');
  if (request.riskFactors.length > 0) {
    lines.push('', 'Risk factors:');
    for (const factor of request.riskFactors) {
      const detail = factor.description === undefined ? '' : `: ${factor.description}`;
      lines.push(`- [${factor.severity}] ${factor.name}${detail}`);
    }
  }
  lines.push(
    '',
    'Reasoning:',
    record.reasoningContext.length > 0 ? record.reasoningContext : '(not available)',
  );
  lines.push('', `Approve or deny: ${link}`);
  return cleanText(lines.join('\n'), MAX_APPROVAL_BODY_LENGTH);
}
