/**
 * `@creto/runtime`: sandboxes bound to an agent identity, with policy-checked egress and tools,
 * human approval for sensitive calls, an inference proxy, host-signed attestations and signed
 * usage events (ARCHITECTURE §6 Runtime).
 * @module @creto/runtime
 */
import { type ErrorCode, errorCodesOf } from '@creto/core';

export * from './attestation/index.js';
export * from './driver/index.js';
export * from './drivers/index.js';
export * from './egress/index.js';
export * from './engine/index.js';
export * from './inference/index.js';
export * from './tools/index.js';
export * from './usage/index.js';

/** The error codes Runtime raises (spec §8.1), taken from the core catalogue. */
export const RUNTIME_ERROR_CODES: readonly ErrorCode[] = Object.freeze(errorCodesOf('runtime'));
