import { formatRfc3339Micros } from '../telemetry/timestamp.js';
import type { HealthReport } from './registry.js';

/** Which endpoint a response is for: `/ready` (readiness) or `/health` (liveness). */
export type HealthEndpoint = 'ready' | 'health';

/** JSON shape of one dependency in a health body (snake_case, like the spec's logs). */
export interface DependencyHealthJson {
  /** Dependency name. */
  name: string;
  /** `hard` or `soft`. */
  kind: string;
  /** `up` or `down`. */
  status: string;
  /** Why it is down, or `null`. */
  error: string | null;
  /** Duration of the last check in milliseconds, or `null`. */
  duration_ms: number | null;
  /** RFC 3339 time it was last seen up, or `null`. */
  last_up_at: string | null;
  /** Whether it has missed its startup timeout without ever being up. */
  startup_timed_out: boolean;
  /** Degraded behaviour while a soft dependency is down, or `null`. */
  degraded_behavior: string | null;
}

/** JSON body of `/ready` and `/health`. */
export interface HealthReportJson {
  /** `ready`, `degraded` or `not_ready`. */
  status: string;
  /** Liveness. */
  live: boolean;
  /** Product, or `null`. */
  product: string | null;
  /** RFC 3339 time of the report. */
  checked_at: string;
  /** Each dependency. */
  dependencies: DependencyHealthJson[];
}

/** Status code, headers and body of a health endpoint, for any HTTP server. */
export interface HealthHttpResponse {
  /** 200 or 503. */
  readonly statusCode: 200 | 503;
  /** `content-type` (JSON) and `cache-control: no-store`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body. */
  readonly body: string;
}

/** The JSON body of a report. */
export function healthReportJson(report: HealthReport): HealthReportJson {
  return {
    status: report.status,
    live: report.live,
    product: report.product ?? null,
    checked_at: formatRfc3339Micros(report.checkedAt),
    dependencies: report.dependencies.map((d) => ({
      name: d.name,
      kind: d.kind,
      status: d.status,
      error: d.error ?? null,
      duration_ms: d.durationMs ?? null,
      last_up_at: d.lastUpAt === undefined ? null : formatRfc3339Micros(d.lastUpAt),
      startup_timed_out: d.startupTimedOut,
      degraded_behavior: d.degradedBehavior ?? null,
    })),
  };
}

/**
 * The HTTP response for a health endpoint, with no server dependency:
 *
 * - `/ready`: 200 when `ready` or `degraded` (the engine serves, in degraded mode if need be),
 *   503 when `not_ready`; this is what spec §11.1 waits on and §11.2 probes.
 * - `/health`: 200 while the engine is live, 503 once a hard dependency missed its startup
 *   timeout (spec §2.2): the engine failed to start and should be restarted.
 *
 * Both carry the full report as JSON and must not be cached.
 */
export function healthHttpResponse(report: HealthReport, endpoint: HealthEndpoint): HealthHttpResponse {
  const ok = endpoint === 'ready' ? report.status !== 'not_ready' : report.live;
  return Object.freeze({
    statusCode: ok ? 200 : 503,
    headers: Object.freeze({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    }),
    body: JSON.stringify(healthReportJson(report)),
  });
}
