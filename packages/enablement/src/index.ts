/**
 * `@creto/enablement`: the composition root that wires the four products together
 * (`createEnablement`), the cross-product wiring of spec §4 and §7, the lifecycle of §11 and the
 * `EnablementSaga` of §9.1.
 * @module @creto/enablement
 */

export * from './enablement/index.js';
export * from './startup/index.js';
