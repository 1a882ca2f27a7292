/**
 * RFC 8785 JSON canonicalization: the byte form of everything that is signed.
 * @module
 */
export { canonicalBytes, canonicalize } from './canonicalize.js';
