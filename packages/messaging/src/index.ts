/**
 * `@creto/messaging`: agent-to-agent end-to-end encryption (PQXDH + Double Ratchet).
 *
 * The engine arrives with its own issue; today the package publishes the error codes it owns, so
 * callers can already match on them.
 * @module @creto/messaging
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

/** The error codes Messaging raises (spec §8.1), taken from the core catalogue. */
export const MESSAGING_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('messaging'));
