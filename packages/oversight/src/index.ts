/**
 * `@creto/oversight`: human approval of risky agent actions (spec §4.2, §4.4, §4.5, §7.2,
 * §7.3): approval requests with a durable state machine, escalation tiers, m-of-n quorum,
 * signed approver responses, notifications, `awaitApproval` and override tokens bound to the
 * exact call that was approved.
 * @module @creto/oversight
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

export * from './engine/index.js';
export * from './notifiers/index.js';
export * from './policy/index.js';
export * from './responses/index.js';
export * from './store/index.js';

/** The error codes Oversight raises (spec §8.1), taken from the core catalogue. */
export const OVERSIGHT_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('oversight'));
