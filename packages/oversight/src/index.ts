/**
 * `@creto/oversight`: human approval of risky agent actions.
 *
 * The engine arrives with its own issue; today the package publishes the error codes it owns, so
 * callers can already match on them.
 * @module @creto/oversight
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

/** The error codes Oversight raises (spec §8.1), taken from the core catalogue. */
export const OVERSIGHT_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('oversight'));
