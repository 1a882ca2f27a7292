import type { Policy } from '@creto/core';

/**
 * The host policies a test environment starts with: any principal may spawn sandboxes and
 * message any agent (spec §3.2 `messaging:send` on `agent:<nhi>`). Nothing else is granted:
 * egress, tools and everything else stay denied until a test adds policies (`env.addPolicies`),
 * so a test states what it relies on.
 */
export const DEFAULT_TEST_POLICIES: readonly Policy[] = Object.freeze([
  Object.freeze({
    id: 'test.spawn',
    description: 'Test environment: any principal may spawn sandboxes',
    effect: 'permit',
    action: 'sandbox.spawn',
  }),
  Object.freeze({
    id: 'test.messaging',
    description: 'Test environment: any principal may message any agent',
    effect: 'permit',
    action: 'messaging:send',
    resource: 'agent:*',
  }),
] satisfies Policy[]);

/** Id of the plan `env.subscribe` puts agents on. */
export const TEST_PLAN_ID = 'test-plan';
