/**
 * `@creto/messaging`: agent-to-agent end-to-end encryption (PQXDH + Double Ratchet).
 *
 * Protocol building blocks (`X3DH`, `DoubleRatchet`), sessions, the `MessagingClient`, envelopes,
 * the relay, receipts and the transport port.
 * @module @creto/messaging
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

/** The error codes Messaging raises (spec §8.1), taken from the core catalogue. */
export const MESSAGING_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('messaging'));
export * from './client/index.js';
export * from './envelope/index.js';
export * from './protocol/index.js';
export * from './receipts/index.js';
export * from './relay/index.js';
export * from './session/index.js';
export * from './transport/index.js';
