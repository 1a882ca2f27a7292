/**
 * Telemetry harness: the OpenTelemetry SDK (in-memory spans, on-demand metrics, async-hooks
 * context) registered for one test file. A separate entry, so that `@creto/testing` needs the SDK
 * packages only where this is imported (they are optional peer dependencies).
 * @module @creto/testing/telemetry
 */
export { createTelemetryHarness, type TelemetryHarness } from './telemetry-harness.js';
