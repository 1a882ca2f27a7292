/**
 * Health: per-engine readiness from hard and soft dependency checks (spec §2.2, §2.3, §11.2), and
 * the `/ready` and `/health` responses for any HTTP server.
 * @module
 */
export {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  DEPENDENCY_DEFAULTS,
  type DependencyDefault,
  type DependencyKind,
  dependencyDefaults,
  type EngineProduct,
  READINESS_PROBE_DEFAULTS,
} from './dependencies.js';
export {
  type DependencyHealthJson,
  type HealthEndpoint,
  type HealthHttpResponse,
  type HealthReportJson,
  healthHttpResponse,
  healthReportJson,
} from './http.js';
export {
  createHealthRegistry,
  DEFAULT_MAX_HEALTH_CHECKS,
  type DependencyHealth,
  type HealthCheckFn,
  type HealthCheckRegistration,
  type HealthRegistry,
  type HealthRegistryOptions,
  type HealthReport,
  type HealthStatus,
  registerDependencyChecks,
} from './registry.js';
