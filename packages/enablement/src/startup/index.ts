/**
 * Startup model of spec §2.2 and §11.1: the phases (platform services, then products) and each
 * product's hard dependencies, which `createEnablement` follows.
 * @module
 */

/** A platform service of spec §1.1. */
export type PlatformService = 'nhi' | 'authz' | 'crypto' | 'consensus' | 'memory' | 'audit';

/** An Enablement-layer product of spec §1.1. */
export type EnablementProduct = 'runtime' | 'metering' | 'oversight' | 'messaging';

/**
 * Startup phases of spec §11.1: every platform service first (in parallel), then every product
 * (in parallel) once the platform is ready.
 */
export const STARTUP_PHASES: readonly [readonly PlatformService[], readonly EnablementProduct[]] =
  Object.freeze([
    Object.freeze(['nhi', 'authz', 'crypto', 'consensus', 'memory', 'audit'] as const),
    Object.freeze(['runtime', 'metering', 'oversight', 'messaging'] as const),
  ]);

/**
 * Hard dependencies of each product (spec §2.2): the product cannot start without them.
 * Soft dependencies (spec §2.3) degrade instead and are not listed here; memory is one for Oversight
 * (§2.2 lists it, but §2.3 and the §11.2 readiness probe make it optional: no reasoning shown).
 */
export const HARD_DEPENDENCIES: Readonly<Record<EnablementProduct, readonly PlatformService[]>> =
  Object.freeze({
    runtime: Object.freeze(['nhi', 'authz', 'crypto'] as const),
    metering: Object.freeze(['nhi', 'authz', 'consensus'] as const),
    oversight: Object.freeze(['nhi', 'authz'] as const),
    messaging: Object.freeze(['nhi', 'crypto'] as const),
  });
