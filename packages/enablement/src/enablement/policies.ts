import { EnablementError, type Policy, parsePolicies } from '@creto/core';

/** Policy ids starting with this are the layer's own (system policies); hosts may not use it. */
export const SYSTEM_POLICY_PREFIX = 'creto.';

/** Id of the system policy that lets the notification bot message any principal. */
export const NOTIFICATION_BOT_POLICY_ID = 'creto.notification-bot.messaging';

/**
 * The system policies placed in front of the host's (spec §3.2): the notification bot may send
 * end-to-end messages (`messaging:send`) to any principal (`agent:*`, the relay's resource for a
 * recipient NHI), so approval requests (§4.4), quota warnings (§7.3), invoices (§7.4) and welcome
 * messages (§9.1) reach their recipients. Nothing else is granted: the host's policies decide
 * everything agents do. A host `forbid` still wins (forbid overrides everything).
 */
export function systemPolicies(botNhi: string): readonly Policy[] {
  return Object.freeze([
    Object.freeze({
      id: NOTIFICATION_BOT_POLICY_ID,
      description:
        'The Creto notification bot may send end-to-end messages to any principal (spec §4.4, §7.3, §7.4, §9.1).',
      effect: 'permit',
      principal: botNhi,
      action: 'messaging:send',
      resource: 'agent:*',
    } satisfies Policy),
  ]);
}

/**
 * Validates the host's policies (core `parsePolicies`: `PL-400` naming `field[i]…`) and refuses a
 * policy that claims the reserved `creto.` prefix (it would shadow or impersonate a system
 * policy). @internal
 */
export function assertHostPolicies(policies: unknown, field: string): asserts policies is readonly Policy[] {
  parsePolicies(policies, field).forEach((policy, i) => {
    if (policy.id.startsWith(SYSTEM_POLICY_PREFIX)) {
      throw new EnablementError(
        'PL-400',
        `${field}[${i}].id: the '${SYSTEM_POLICY_PREFIX}' prefix is reserved for system policies`,
      );
    }
  });
}

/** The host's part of an installed policy set (everything but the system policies). @internal */
export function hostPart(policies: readonly Policy[]): readonly Policy[] {
  return policies.filter((p) => !p.id.startsWith(SYSTEM_POLICY_PREFIX));
}
