import { EnablementError } from '../errors/enablement-error.js';
import { isClock } from '../options/options.js';
import type { Logger } from '../telemetry/logger.js';
import { noopLogger } from '../telemetry/logger.js';
import {
  type CancelTimer,
  type Clock,
  type ConsensusTimestamp,
  millisToNanos,
  nanosToMillis,
} from '../time/clock.js';
import {
  DEFAULT_CHECK_TIMEOUT_MS,
  DEFAULT_STARTUP_TIMEOUT_MS,
  type DependencyKind,
  dependencyDefaults,
  type EngineProduct,
} from './dependencies.js';

/**
 * Readiness of an engine: `ready`; `degraded` (a soft dependency is down: the engine serves, with
 * the degraded behaviour of spec §2.3); `not_ready` (a hard dependency is down).
 */
export type HealthStatus = 'ready' | 'degraded' | 'not_ready';

/**
 * Probes one dependency. Resolving (with anything but `false`) means up; resolving `false` or
 * throwing means down. `signal` aborts when the check times out; a check should stop then.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: lets a probe that returns nothing (`async () => {}`) type-check.
export type HealthCheckFn = (signal: AbortSignal) => Promise<boolean | void> | boolean | void;

/** A dependency check to register. */
export interface HealthCheckRegistration {
  /** Dependency name, e.g. `creto-nhi`: letters, digits, `_ . -`; at most 64 characters; unique. */
  readonly name: string;
  /** Hard (blocks readiness) or soft (degrades it). */
  readonly kind: DependencyKind;
  /** The probe. */
  readonly check: HealthCheckFn;
  /** Per-check timeout; default {@link DEFAULT_CHECK_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /**
   * How long after registration the dependency may stay down before the engine counts as failed
   * to start (spec §2.2); default {@link DEFAULT_STARTUP_TIMEOUT_MS}. Only hard dependencies
   * affect liveness; for soft ones it is reported, nothing more.
   */
  readonly startupTimeoutMs?: number;
  /** What the engine does without a soft dependency (spec §2.3), shown while it is down. */
  readonly degradedBehavior?: string;
}

/** The last known state of one dependency. */
export interface DependencyHealth {
  /** Dependency name. */
  readonly name: string;
  /** Hard or soft. */
  readonly kind: DependencyKind;
  /** Up or down; a dependency never checked is down. */
  readonly status: 'up' | 'down';
  /** Why it is down: a timeout, `check reported down`, or an `EnablementError`'s code and message. */
  readonly error?: string;
  /** How long the last check took, in milliseconds. */
  readonly durationMs?: number;
  /** When the last check finished (Clock time). */
  readonly lastCheckedAt?: ConsensusTimestamp;
  /** When a check last found it up (Clock time). */
  readonly lastUpAt?: ConsensusTimestamp;
  /** Its startup timeout, in milliseconds. */
  readonly startupTimeoutMs: number;
  /** True when it has never been up and its startup timeout has passed. */
  readonly startupTimedOut: boolean;
  /** Degraded behaviour (soft dependencies that are down). */
  readonly degradedBehavior?: string;
}

/** Health of an engine at one instant. */
export interface HealthReport {
  /** Readiness, from the dependencies' states. */
  readonly status: HealthStatus;
  /**
   * Liveness: false once a hard dependency has missed its startup timeout without ever being up
   * (the engine failed to start and should be restarted). A dependency that was up and then went
   * down makes the engine `not_ready`, not dead: restarting would not bring the dependency back.
   */
  readonly live: boolean;
  /** The product reporting, if the registry was given one. */
  readonly product?: string;
  /** When the report was made (Clock time). */
  readonly checkedAt: ConsensusTimestamp;
  /** Each dependency, in registration order. */
  readonly dependencies: readonly DependencyHealth[];
}

/** Options of {@link createHealthRegistry}. */
export interface HealthRegistryOptions {
  /** Time source for timeouts and timestamps. */
  readonly clock: Clock;
  /** Product reported in every report (e.g. `runtime`). */
  readonly product?: string;
  /** Readiness changes are logged here (`warn` when worse, `info` when better). */
  readonly logger?: Logger;
  /** Most checks registered at once; default 64. */
  readonly maxChecks?: number;
}

/** Readiness of one engine: registered dependency checks and the reports made from them. */
export interface HealthRegistry {
  /**
   * Registers a check; returns a function that unregisters it. Throws `PL-400` for a bad
   * registration, `PL-409` for a name already registered or beyond `maxChecks`.
   */
  register(registration: HealthCheckRegistration): () => void;
  /**
   * Runs every check now, at once, each bounded by its timeout, and reports. A check still
   * running from an earlier call is awaited rather than started twice.
   */
  check(): Promise<HealthReport>;
  /** A report from the last results, without running any check. */
  report(): HealthReport;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_ERROR_LENGTH = 256;
const MAX_TIMEOUT_MS = 24 * 3600 * 1000;
/** Default bound on checks in one {@link HealthRegistry}. */
export const DEFAULT_MAX_HEALTH_CHECKS = 64;

interface Entry {
  readonly name: string;
  readonly kind: DependencyKind;
  readonly check: HealthCheckFn;
  readonly timeoutMs: number;
  readonly startupTimeoutMs: number;
  readonly degradedBehavior: string | undefined;
  readonly registeredAt: bigint;
  up: boolean;
  error: string | undefined;
  durationMs: number | undefined;
  lastCheckedAt: bigint | undefined;
  lastUpAt: bigint | undefined;
  inflight: Promise<void> | undefined;
  removed: boolean;
}

const invalid = (message: string) => new EnablementError('PL-400', message);

function durationOption(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
    throw invalid(`${field}: expected milliseconds in (0, ${MAX_TIMEOUT_MS}]`);
  }
  return value;
}

// Foreign error text can carry connection strings with passwords, and health bodies are often
// served without authentication: only our own errors (secret-free by rule) are described.
function describeFailure(error: unknown): string {
  if (EnablementError.is(error)) return `${error.code}: ${error.message}`.slice(0, MAX_ERROR_LENGTH);
  return 'check failed';
}

/**
 * A registry of dependency checks for one engine (spec §2.2, §2.3, §11.2): components register
 * hard or soft dependency checks with startup and check timeouts, and the registry reports
 * `ready`, `degraded` or `not_ready` plus liveness. Timeouts run on the given Clock, so
 * `FakeClock` drives them in tests. Serve the reports with {@link healthHttpResponse}.
 *
 * @example
 * ```ts
 * const health = createHealthRegistry({ clock, product: 'oversight' });
 * health.register({ name: 'creto-nhi', kind: 'hard', check: () => nhi.ping() });
 * health.register({ name: 'creto-memory', kind: 'soft', startupTimeoutMs: 60_000,
 *   degradedBehavior: 'No reasoning context shown', check: () => memory.ping() });
 * const report = await health.check(); // { status: 'ready', live: true, … }
 * ```
 */
export function createHealthRegistry(options: HealthRegistryOptions): HealthRegistry {
  if (typeof options !== 'object' || options === null) throw invalid('health options: expected an object');
  const { clock } = options;
  if (!isClock(clock)) throw invalid('clock: expected a Clock');
  if (options.product !== undefined && (typeof options.product !== 'string' || options.product.length > 64)) {
    throw invalid('product: expected a string of at most 64 characters');
  }
  const maxChecks = options.maxChecks ?? DEFAULT_MAX_HEALTH_CHECKS;
  if (!Number.isSafeInteger(maxChecks) || maxChecks < 1)
    throw invalid('maxChecks: expected a positive integer');
  const logger = options.logger ?? noopLogger;
  const entries = new Map<string, Entry>();
  let lastStatus: HealthStatus | undefined;

  function register(registration: HealthCheckRegistration): () => void {
    if (typeof registration !== 'object' || registration === null)
      throw invalid('registration: expected an object');
    const { name, kind, check, degradedBehavior } = registration;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw invalid('name: expected up to 64 letters, digits or _ . - (starting with a letter or digit)');
    }
    if (kind !== 'hard' && kind !== 'soft') throw invalid(`${name}.kind: expected 'hard' or 'soft'`);
    if (typeof check !== 'function') throw invalid(`${name}.check: expected a function`);
    if (
      degradedBehavior !== undefined &&
      (typeof degradedBehavior !== 'string' || degradedBehavior.length > 256)
    ) {
      throw invalid(`${name}.degradedBehavior: expected a string of at most 256 characters`);
    }
    const timeoutMs = durationOption(registration.timeoutMs, DEFAULT_CHECK_TIMEOUT_MS, `${name}.timeoutMs`);
    const startupTimeoutMs = durationOption(
      registration.startupTimeoutMs,
      DEFAULT_STARTUP_TIMEOUT_MS,
      `${name}.startupTimeoutMs`,
    );
    if (entries.has(name))
      throw new EnablementError('PL-409', `health check '${name}' is already registered`);
    if (entries.size >= maxChecks)
      throw new EnablementError('PL-409', `more than ${maxChecks} health checks`);
    const entry: Entry = {
      name,
      kind,
      check,
      timeoutMs,
      startupTimeoutMs,
      degradedBehavior,
      registeredAt: clock.now(),
      up: false,
      error: 'not checked yet',
      durationMs: undefined,
      lastCheckedAt: undefined,
      lastUpAt: undefined,
      inflight: undefined,
      removed: false,
    };
    entries.set(name, entry);
    return () => {
      if (entries.get(name) === entry) entries.delete(name);
      entry.removed = true;
    };
  }

  async function probe(entry: Entry): Promise<void> {
    const started = clock.now();
    const controller = new AbortController();
    let cancel: CancelTimer = () => {};
    const timedOut = new Promise<{ up: false; error: string }>((resolve) => {
      cancel = clock.schedule(started + millisToNanos(entry.timeoutMs), () => {
        resolve({ up: false, error: `timed out after ${entry.timeoutMs} ms` });
        controller.abort(new EnablementError('PL-503', `health check '${entry.name}' timed out`));
      });
    });
    const attempt = (async () => {
      try {
        const value = await entry.check(controller.signal);
        return value === false ? { up: false, error: 'check reported down' } : { up: true, error: undefined };
      } catch (error) {
        return { up: false, error: describeFailure(error) };
      }
    })();
    const outcome = await Promise.race([attempt, timedOut]);
    cancel();
    const finished = clock.now();
    entry.up = outcome.up;
    entry.error = outcome.error;
    entry.durationMs = nanosToMillis(finished - started);
    entry.lastCheckedAt = finished;
    if (outcome.up) entry.lastUpAt = finished;
  }

  function runCheck(entry: Entry): Promise<void> {
    if (!entry.inflight) {
      entry.inflight = probe(entry)
        .catch((error: unknown) => {
          // Only the Clock can throw here (e.g. too many timers): the check could not run.
          entry.up = false;
          entry.error = describeFailure(error);
        })
        .finally(() => {
          entry.inflight = undefined;
        });
    }
    return entry.inflight;
  }

  function snapshot(entry: Entry, now: bigint): DependencyHealth {
    const startupTimedOut =
      entry.lastUpAt === undefined && now - entry.registeredAt >= millisToNanos(entry.startupTimeoutMs);
    return Object.freeze({
      name: entry.name,
      kind: entry.kind,
      status: entry.up ? 'up' : 'down',
      ...(entry.up || entry.error === undefined ? {} : { error: entry.error }),
      ...(entry.durationMs === undefined ? {} : { durationMs: entry.durationMs }),
      ...(entry.lastCheckedAt === undefined ? {} : { lastCheckedAt: entry.lastCheckedAt }),
      ...(entry.lastUpAt === undefined ? {} : { lastUpAt: entry.lastUpAt }),
      startupTimeoutMs: entry.startupTimeoutMs,
      startupTimedOut,
      ...(!entry.up && entry.degradedBehavior !== undefined
        ? { degradedBehavior: entry.degradedBehavior }
        : {}),
    });
  }

  function report(): HealthReport {
    const now = clock.now();
    const dependencies = [...entries.values()].map((entry) => snapshot(entry, now));
    const hardDown = dependencies.some((d) => d.kind === 'hard' && d.status === 'down');
    const softDown = dependencies.some((d) => d.kind === 'soft' && d.status === 'down');
    const status: HealthStatus = hardDown ? 'not_ready' : softDown ? 'degraded' : 'ready';
    const live = !dependencies.some((d) => d.kind === 'hard' && d.startupTimedOut);
    if (status !== lastStatus) {
      const down = dependencies.filter((d) => d.status === 'down').map((d) => d.name);
      const better = lastStatus === undefined || rank(status) < rank(lastStatus);
      (better ? logger.info : logger.warn)(`health: ${lastStatus ?? 'unknown'} -> ${status}`, {
        ...(options.product === undefined ? {} : { product: options.product }),
        operation: 'health.check',
        down,
      });
      lastStatus = status;
    }
    return Object.freeze({
      status,
      live,
      ...(options.product === undefined ? {} : { product: options.product }),
      checkedAt: now,
      dependencies: Object.freeze(dependencies),
    });
  }

  async function check(): Promise<HealthReport> {
    await Promise.all([...entries.values()].map(runCheck));
    return report();
  }

  return Object.freeze({ register, check, report });
}

function rank(status: HealthStatus): number {
  return status === 'ready' ? 0 : status === 'degraded' ? 1 : 2;
}

/**
 * Registers the spec's dependency rows of `product` ({@link dependencyDefaults}) that `checks`
 * provides a probe for, with their kind, startup timeout and degraded behaviour. A dependency
 * served in-process needs no probe and is simply left out. Throws `PL-400` for a check named after
 * no dependency of the product. Returns a function that unregisters them all.
 *
 * @example
 * ```ts
 * registerDependencyChecks(health, 'oversight', {
 *   'creto-nhi': () => nhiClient.ping(),
 *   'creto-memory': () => memoryClient.ping(),
 * });
 * ```
 */
export function registerDependencyChecks(
  registry: HealthRegistry,
  product: EngineProduct,
  checks: Readonly<Record<string, HealthCheckFn>>,
): () => void {
  const defaults = dependencyDefaults(product);
  if (defaults.length === 0) throw invalid(`product: unknown engine '${String(product)}'`);
  const known = new Map(defaults.map((d) => [d.name, d]));
  for (const name of Object.keys(checks)) {
    if (!known.has(name)) throw invalid(`checks.${name}: not a dependency of ${product}`);
  }
  const undo: (() => void)[] = [];
  try {
    for (const [name, check] of Object.entries(checks)) {
      const d = known.get(name);
      if (!d) continue;
      undo.push(
        registry.register({
          name,
          kind: d.kind,
          check,
          startupTimeoutMs: d.startupTimeoutMs,
          ...(d.degradedBehavior === undefined ? {} : { degradedBehavior: d.degradedBehavior }),
        }),
      );
    }
  } catch (error) {
    for (const u of undo) u();
    throw error;
  }
  return () => {
    for (const u of undo) u();
  };
}
