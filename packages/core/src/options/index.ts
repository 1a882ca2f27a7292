/**
 * Options: validation of factory options shared by every engine: the `Clock` and
 * `CryptoProvider` port checks, their zod schemas, and `parseOptions`, which turns a failed
 * check into a `PL-400` naming the option (ARCHITECTURE §3).
 * @module
 */
export { clockSchema, cryptoProviderSchema, isClock, isCryptoProvider, parseOptions } from './options.js';
