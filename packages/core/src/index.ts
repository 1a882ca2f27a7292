/**
 * `@creto/core`: the shared platform of the Creto Enablement SDK.
 * @module @creto/core
 */
export * from './audit/index.js';
export * from './authz/index.js';
export * from './canonical/index.js';
export * from './clients/index.js';
export * from './consensus/index.js';
export * from './crypto/index.js';
export * from './decimal/index.js';
export * from './delegation/index.js';
export * from './encoding/index.js';
export * from './errors/index.js';
export * from './events/index.js';
export * from './health/index.js';
export * from './idempotency/index.js';
export * from './identity/index.js';
export * from './ids/index.js';
export * from './memory/index.js';
export * from './nhi/index.js';
export * from './options/index.js';
export * from './platform/index.js';
export * from './resilience/index.js';
export * from './saga/index.js';
export * from './telemetry/index.js';
export * from './time/index.js';
export * from './wire/index.js';
