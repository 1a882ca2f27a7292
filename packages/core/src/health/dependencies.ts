/** How a missing dependency affects readiness: `hard` blocks it, `soft` only degrades it. */
export type DependencyKind = 'hard' | 'soft';

/** The four engines whose dependencies spec §2.2 and §2.3 list. */
export type EngineProduct = 'runtime' | 'metering' | 'oversight' | 'messaging';

/** One row of the spec's dependency tables. */
export interface DependencyDefault {
  /** Engine that depends. */
  readonly product: EngineProduct;
  /** Platform service depended on, e.g. `creto-nhi`; used as the health check name. */
  readonly name: string;
  /** Hard (blocking) or soft (degraded mode). */
  readonly kind: DependencyKind;
  /** Why the engine needs it. */
  readonly reason: string;
  /** How long startup waits for it before the engine is considered failed (spec §2.2). */
  readonly startupTimeoutMs: number;
  /** What the engine does without it (soft dependencies, spec §2.3 / §11.3). */
  readonly degradedBehavior?: string;
  /** How the engine catches up once it is back (spec §2.3). */
  readonly recovery?: string;
  /** Where the row comes from. */
  readonly source: string;
}

/** Per-check timeout of the spec's readiness probes (§11.2 `timeout: 2s`). */
export const DEFAULT_CHECK_TIMEOUT_MS = 2_000;
/** The most common startup timeout of spec §2.2, used when a check names none. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

/**
 * Readiness-probe settings of spec §11.2, for the orchestrator that polls `/ready` (a Kubernetes
 * `readinessProbe`). `failureThreshold` belongs to the prober: the registry reports each check
 * as it is, so that thresholds are not applied twice.
 */
export const READINESS_PROBE_DEFAULTS = Object.freeze({
  initialDelayMs: 10_000,
  periodMs: 5_000,
  timeoutMs: 2_000,
  failureThreshold: 3,
});

const row = (d: DependencyDefault): DependencyDefault => Object.freeze(d);

/**
 * The dependency tables of spec §2.2 (hard, with startup timeouts) and §2.3 (soft, with the
 * degraded behaviour), plus the two soft dependencies only §11.3 names.
 *
 * One conflict is resolved here: §2.2 lists Oversight → creto-memory as hard (60 s), but §2.3,
 * §11.2 (`optional: true  # Can start without Memory (degraded mode)`) and §11.3 all treat it as
 * soft, and the error catalogue has `OV-503` "No reasoning context" as a *degraded* outcome; so
 * it is soft here, keeping the 60 s startup timeout. §11.3 also says Metering can run on local
 * timestamps without creto-consensus, but §2.2 and §11.2 make consensus a hard readiness
 * dependency; the hard rule is kept.
 */
export const DEPENDENCY_DEFAULTS: readonly DependencyDefault[] = Object.freeze([
  row({
    product: 'runtime',
    name: 'creto-nhi',
    kind: 'hard',
    reason: 'Agent identity for sandboxes',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'runtime',
    name: 'creto-authz',
    kind: 'hard',
    reason: 'Network policy enforcement',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'runtime',
    name: 'creto-crypto',
    kind: 'hard',
    reason: 'Attestation signatures',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'runtime',
    name: 'creto-audit',
    kind: 'soft',
    reason: 'Audit trail',
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    degradedBehavior: 'Logs buffered locally',
    recovery: 'Flush on reconnect',
    source: '§2.3',
  }),
  row({
    product: 'runtime',
    name: 'creto-memory',
    kind: 'soft',
    reason: 'Agent context',
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    degradedBehavior: 'Continue without context',
    recovery: 'No impact on core function',
    source: '§11.3',
  }),
  row({
    product: 'metering',
    name: 'creto-nhi',
    kind: 'hard',
    reason: 'Agent attribution',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'metering',
    name: 'creto-authz',
    kind: 'hard',
    reason: 'Quota inline enforcement',
    startupTimeoutMs: 10_000,
    source: '§2.2',
  }),
  row({
    product: 'metering',
    name: 'creto-consensus',
    kind: 'hard',
    reason: 'Timestamp ordering',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'metering',
    name: 'creto-audit',
    kind: 'soft',
    reason: 'Audit trail',
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    degradedBehavior: 'Events queued',
    recovery: 'Replay from queue',
    source: '§2.3',
  }),
  row({
    product: 'oversight',
    name: 'creto-nhi',
    kind: 'hard',
    reason: 'Delegation chain validation',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'oversight',
    name: 'creto-authz',
    kind: 'hard',
    reason: 'Policy triggers',
    startupTimeoutMs: 10_000,
    source: '§2.2',
  }),
  row({
    product: 'oversight',
    name: 'creto-memory',
    kind: 'soft',
    reason: 'Agent reasoning context',
    startupTimeoutMs: 60_000,
    degradedBehavior: 'No reasoning context shown',
    recovery: 'Fetch on restore',
    source: '§2.2, §2.3, §11.2',
  }),
  row({
    product: 'oversight',
    name: 'creto-messaging',
    kind: 'soft',
    reason: 'Approver notifications',
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    degradedBehavior: 'Notification retry',
    recovery: 'Delayed notifications',
    source: '§11.3',
  }),
  row({
    product: 'messaging',
    name: 'creto-nhi',
    kind: 'hard',
    reason: 'Key bundles',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'messaging',
    name: 'creto-crypto',
    kind: 'hard',
    reason: 'Hybrid signatures',
    startupTimeoutMs: 30_000,
    source: '§2.2',
  }),
  row({
    product: 'messaging',
    name: 'creto-audit',
    kind: 'soft',
    reason: 'Receipt logging',
    startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS,
    degradedBehavior: 'Receipt logging delayed',
    recovery: 'Async replay',
    source: '§2.3',
  }),
]);

/** The {@link DEPENDENCY_DEFAULTS} rows of one engine. */
export function dependencyDefaults(product: EngineProduct): readonly DependencyDefault[] {
  return DEPENDENCY_DEFAULTS.filter((d) => d.product === product);
}
