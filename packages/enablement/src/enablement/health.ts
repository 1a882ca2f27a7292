import {
  bytesToHex,
  type Clock,
  createHealthRegistry,
  type HealthCheckFn,
  type HealthRegistry,
  type HealthReport,
  type HealthStatus,
  type Logger,
  registerDependencyChecks,
  utf8ToBytes,
} from '@creto/core';
import type { EnablementProduct } from '../startup/index.js';

/** Name of the check each product registers on itself: `down` once the layer is shut down. */
export const ENGINE_CHECK_NAME = 'engine';

/** Probes of the platform services, one per spec §2 dependency name. @internal */
export interface PlatformProbes {
  readonly 'creto-nhi': HealthCheckFn;
  readonly 'creto-authz': HealthCheckFn;
  readonly 'creto-crypto': HealthCheckFn;
  readonly 'creto-consensus': HealthCheckFn;
  readonly 'creto-audit': HealthCheckFn;
  /** The memory Runtime stores checkpoints in (absent: the host's own, not probed). */
  readonly 'creto-memory'?: HealthCheckFn | undefined;
  /** The memory Oversight reads reasoning from (may be the host's). */
  readonly oversightMemory: HealthCheckFn;
  /** The relay and the notification bot. */
  readonly 'creto-messaging': HealthCheckFn;
}

/** SHA-256("abc") (FIPS 180-2 appendix B.1): a known answer, so a broken provider is caught. */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

/** A crypto probe: the provider's SHA-256 gives the known answer. @internal */
export function cryptoProbe(sha256: (data: Uint8Array) => Uint8Array): HealthCheckFn {
  return () => bytesToHex(sha256(utf8ToBytes('abc'))) === SHA256_ABC;
}

/**
 * One core health registry per product (spec §2.2, §2.3, §11.2), with the spec's dependency rows
 * (`registerDependencyChecks`: hard ones block readiness, soft ones degrade it — Oversight
 * without memory is `degraded`: "no reasoning context shown") plus a hard `engine` check that is
 * down once the layer is shut down. @internal
 */
export function createProductHealth(options: {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly probes: PlatformProbes;
  readonly running: () => boolean;
}): Readonly<Record<EnablementProduct, HealthRegistry>> {
  const { clock, logger, probes, running } = options;
  const registry = (product: EnablementProduct): HealthRegistry => {
    const r = createHealthRegistry({ clock, product, logger });
    r.register({ name: ENGINE_CHECK_NAME, kind: 'hard', check: running });
    return r;
  };
  const runtime = registry('runtime');
  const runtimeMemory = probes['creto-memory'];
  registerDependencyChecks(runtime, 'runtime', {
    'creto-nhi': probes['creto-nhi'],
    'creto-authz': probes['creto-authz'],
    'creto-crypto': probes['creto-crypto'],
    'creto-audit': probes['creto-audit'],
    ...(runtimeMemory === undefined ? {} : { 'creto-memory': runtimeMemory }),
  });
  const metering = registry('metering');
  registerDependencyChecks(metering, 'metering', {
    'creto-nhi': probes['creto-nhi'],
    'creto-authz': probes['creto-authz'],
    'creto-consensus': probes['creto-consensus'],
    'creto-audit': probes['creto-audit'],
  });
  const oversight = registry('oversight');
  registerDependencyChecks(oversight, 'oversight', {
    'creto-nhi': probes['creto-nhi'],
    'creto-authz': probes['creto-authz'],
    'creto-memory': probes.oversightMemory,
    'creto-messaging': probes['creto-messaging'],
  });
  const messaging = registry('messaging');
  registerDependencyChecks(messaging, 'messaging', {
    'creto-nhi': probes['creto-nhi'],
    'creto-crypto': probes['creto-crypto'],
    'creto-audit': probes['creto-audit'],
  });
  return Object.freeze({ runtime, metering, oversight, messaging });
}

const RANK: Readonly<Record<HealthStatus, number>> = { ready: 0, degraded: 1, not_ready: 2 };

/** The worst of the products' statuses. @internal */
export function worstStatus(reports: readonly HealthReport[]): HealthStatus {
  let worst: HealthStatus = 'ready';
  for (const r of reports) if (RANK[r.status] > RANK[worst]) worst = r.status;
  return worst;
}

/** The hard dependencies that are down in a report, by name. @internal */
export function hardDown(report: HealthReport): string[] {
  return report.dependencies.filter((d) => d.kind === 'hard' && d.status === 'down').map((d) => d.name);
}
