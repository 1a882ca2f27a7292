/**
 * `@creto/metering`: signed usage events, quotas, pricing and invoices.
 *
 * The engine arrives with its own issue; today the package publishes the error codes it owns, so
 * callers can already match on them.
 * @module @creto/metering
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

/** The error codes Metering raises (spec §8.1), taken from the core catalogue. */
export const METERING_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('metering'));
