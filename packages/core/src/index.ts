/**
 * `@creto/core`: the shared platform of the Creto Enablement SDK.
 * @packageDocumentation
 */
export * from './canonical/index.js';
export * from './crypto/index.js';
export * from './encoding/index.js';
export * from './errors/index.js';
export * from './time/index.js';
