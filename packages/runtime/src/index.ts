/**
 * `@creto/runtime`: sandboxes bound to an agent identity, with policy-checked egress and tools.
 *
 * The engine arrives with its own issue; today the package publishes the error codes it owns, so
 * callers can already match on them.
 * @module @creto/runtime
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

/** The error codes Runtime raises (spec §8.1), taken from the core catalogue. */
export const RUNTIME_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('runtime'));
