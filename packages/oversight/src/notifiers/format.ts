import { EnablementError, encodeOversightNotification, type OversightNotification } from '@creto/core';
import { MAX_NOTIFICATION_BODY_LENGTH, MAX_NOTIFICATION_SUBJECT_LENGTH } from './notification.js';

/** Subject prefix of approval notifications (spec §12.2 expects `Approval Required: delete_database`). */
export const APPROVAL_SUBJECT_PREFIX = 'Approval Required: ';
/** Longest action name shown in a subject. */
export const MAX_ACTION_NAME_LENGTH = 128;

/** Options of {@link formatApprovalNotification}. */
export interface ApprovalFormatOptions {
  /**
   * The action's name, e.g. `delete_database` (the request's `action.name`; the
   * `OversightNotification` wire type carries only the description). Default: the first line of
   * the action description, cut to {@link MAX_ACTION_NAME_LENGTH} characters.
   */
  readonly actionName?: string;
  /** Include the reasoning context (default true). */
  readonly includeReasoning?: boolean;
  /** Longest body; default and maximum `MAX_NOTIFICATION_BODY_LENGTH`. The tail is cut, ending with `…`. */
  readonly maxBodyLength?: number;
}

/** Subject and body for a `Notification`. */
export interface FormattedNotification {
  /** `Approval Required: <action name>`, one line. */
  readonly subject: string;
  /** Plain text: description, approval link and request id first, then risk factors and reasoning. */
  readonly body: string;
}

/** Whitespace runs (newlines included) as one space, so agent-supplied text stays on one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Cuts `text` to `max` characters, ending with `…`, never inside a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 2)) ? max - 2 : max - 1;
  return `${text.slice(0, end)}…`;
}

/**
 * Renders an approval request for people (spec §4.4 step 3: action, reasoning, risk): subject
 * `Approval Required: <action name>` and a plain-text body. The link and the request id come
 * right after the description, before the long parts (risk factors, reasoning), so cutting the
 * body to its limit never loses them. Text from the agent (description, reasoning, risk
 * factors) is shown as is; the subject's action name is folded onto one line.
 *
 * Validates `notification` with core `encodeOversightNotification` (`OV-400` naming the field)
 * and the options (`PL-400`).
 *
 * @example
 * ```ts
 * const { subject, body } = formatApprovalNotification(wire, { actionName: 'delete_database' });
 * // subject: 'Approval Required: delete_database'
 * ```
 */
export function formatApprovalNotification(
  notification: OversightNotification,
  options: ApprovalFormatOptions = {},
): FormattedNotification {
  encodeOversightNotification(notification);
  const { actionName, includeReasoning = true, maxBodyLength = MAX_NOTIFICATION_BODY_LENGTH } = options;
  if (actionName !== undefined && (typeof actionName !== 'string' || oneLine(actionName) === '')) {
    throw new EnablementError('PL-400', 'actionName: expected a non-empty string');
  }
  if (typeof includeReasoning !== 'boolean')
    throw new EnablementError('PL-400', 'includeReasoning: expected a boolean');
  if (
    !Number.isSafeInteger(maxBodyLength) ||
    maxBodyLength < 256 ||
    maxBodyLength > MAX_NOTIFICATION_BODY_LENGTH
  ) {
    throw new EnablementError(
      'PL-400',
      `maxBodyLength: expected an integer from 256 to ${MAX_NOTIFICATION_BODY_LENGTH}`,
    );
  }
  const payload = notification.notificationPayload;
  const name = cut(
    oneLine(actionName ?? payload.actionDescription.split(/\r?\n/, 1)[0] ?? ''),
    MAX_ACTION_NAME_LENGTH,
  );
  const subject = cut(
    `${APPROVAL_SUBJECT_PREFIX}${name === '' ? 'action' : name}`,
    MAX_NOTIFICATION_SUBJECT_LENGTH,
  );

  const lines: string[] = [
    subject,
    '',
    payload.actionDescription,
    '',
    `Approve or deny: ${payload.approvalLink}`,
    `Request: ${notification.requestId}`,
    '',
    'Risk factors:',
  ];
  if (payload.riskFactors.length === 0) lines.push('- none given');
  for (const factor of payload.riskFactors) {
    const description = factor.description === undefined ? '' : ` — ${oneLine(factor.description)}`;
    const score = factor.score === undefined ? '' : ` (score ${factor.score})`;
    lines.push(`- [${factor.severity}] ${factor.name}${description}${score}`);
  }
  if (includeReasoning) {
    lines.push(
      '',
      'Reasoning context:',
      payload.reasoningContext === '' ? '(none available)' : payload.reasoningContext,
    );
  }
  return Object.freeze({ subject, body: cut(lines.join('\n'), maxBodyLength) });
}
