/**
 * Platform: `createPlatform` builds every shared service of spec §3 in-process and wires them.
 * @module
 */
export { createPlatform, type Platform, type PlatformOptions } from './platform.js';
