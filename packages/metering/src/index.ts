/**
 * `@creto/metering`: signed usage events, meters, quotas, plans, pricing, subscriptions and
 * invoices (ARCHITECTURE §6 Metering; spec §4.1, §4.5, §7.1, §7.3, §7.4).
 * @module @creto/metering
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

export * from './engine/index.js';
export * from './invoice/index.js';
export * from './meters/index.js';
export * from './plans/index.js';
export * from './pricing/index.js';
export * from './quota/index.js';
export * from './store/index.js';
export * from './subscriptions/index.js';

/** The error codes Metering raises (spec §8.1), taken from the core catalogue. */
export const METERING_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('metering'));
