import { type AuditLogOptions, createAuditLog, type InProcessAuditLog } from '../audit/log.js';
import { createPolicyEngine, type PolicyEngine, type PolicyEngineOptions } from '../authz/engine.js';
import type { Attributes } from '../authz/types.js';
import {
  createHybridLogicalClock,
  type HybridLogicalClock,
  type HybridLogicalClockOptions,
} from '../consensus/hlc.js';
import { createScheduler, type Scheduler, type SchedulerOptions } from '../consensus/scheduler.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { EnablementError } from '../errors/enablement-error.js';
import { type AgentMemory, type AgentMemoryOptions, createAgentMemory } from '../memory/memory.js';
import { createNhiRegistry, type NhiRegistry, type NhiRegistryOptions } from '../nhi/registry.js';
import { type Clock, systemClock } from '../time/clock.js';

/** Options of {@link createPlatform}: shared `clock` and `provider`, then per-service settings. */
export interface PlatformOptions {
  /** Time for every service; default `systemClock` (tests pass `FakeClock`). */
  readonly clock?: Clock;
  /** Crypto for every service; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** NHI registry settings (clock and provider come from above). */
  readonly nhi?: Omit<NhiRegistryOptions, 'clock' | 'provider'>;
  /**
   * Policy engine settings. Unless given here, principal attributes come from the NHI registry
   * and chain revocation is the registry's.
   */
  readonly authz?: Omit<PolicyEngineOptions, 'clock' | 'provider'>;
  /** Settings of the in-memory audit log the platform builds (not with `auditLog`). */
  readonly audit?: Omit<AuditLogOptions, 'clock' | 'crypto'>;
  /**
   * An audit log the caller opened, used as `platform.audit` instead of building an in-memory
   * one: typically a durable log, `await openAuditLog({ store, signingKey, clock, crypto })`
   * (open it with this platform's `clock` and `provider`). Giving `audit` as well is `PL-400`.
   */
  readonly auditLog?: InProcessAuditLog;
  /** Hybrid logical clock settings (its physical source is `clock`). */
  readonly consensus?: Omit<HybridLogicalClockOptions, 'clock'>;
  /** Scheduler settings. */
  readonly scheduler?: Omit<SchedulerOptions, 'clock'>;
  /** Agent memory settings. */
  readonly memory?: Omit<AgentMemoryOptions, 'clock'>;
}

/** The in-process Sovereign platform of spec §3: every shared service, wired together. */
export interface Platform {
  /** The clock every service reads. */
  readonly clock: Clock;
  /** The crypto every service uses. */
  readonly provider: CryptoProvider;
  /** creto-nhi (§3.1): principals, keys, revocation, sandbox bindings, prekeys. */
  readonly nhi: NhiRegistry;
  /** creto-authz (§3.2): the policy engine. */
  readonly authz: PolicyEngine;
  /** creto-audit (§3.3): the Merkle log. */
  readonly audit: InProcessAuditLog;
  /** creto-consensus (§3.5): the hybrid logical clock. */
  readonly consensus: HybridLogicalClock;
  /** Deadlines (escalations, TTLs, retries) on `clock`. */
  readonly scheduler: Scheduler;
  /** creto-memory (§3.6): per-agent context. */
  readonly memory: AgentMemory;
  /** Stops timers and listeners. Idempotent. */
  dispose(): void;
}

/** Whether `value` has the methods of an {@link InProcessAuditLog} (a shape check). */
function isAuditLog(value: unknown): value is InProcessAuditLog {
  if (typeof value !== 'object' || value === null) return false;
  const log = value as Record<keyof InProcessAuditLog, unknown>;
  return (['append', 'query', 'inclusionProof', 'consistencyProof', 'checkpoint'] as const).every(
    (method) => typeof log[method] === 'function',
  );
}

/**
 * Principal attributes for policies, from the registry: `kind`, `roles`, `groups`, `display_name`
 * and the free-form attributes. Unknown or revoked principals have none (policies that read them
 * then see missing attributes, which makes their conditions false).
 */
function registryAttributes(nhi: NhiRegistry) {
  return (principal: string): Attributes | undefined => {
    if (nhi.status(principal) !== 'active') return undefined;
    const p = nhi.lookupSync(principal);
    const attributes: Record<string, unknown> = {
      ...p.attributes,
      kind: p.kind,
      roles: p.roles,
      groups: p.groups,
    };
    if (p.displayName !== undefined) attributes.display_name = p.displayName;
    return attributes;
  };
}

/**
 * Builds every platform service of spec §3 in-process, sharing one clock and one crypto
 * provider, and wires them: the policy engine reads principal attributes from the NHI registry,
 * validates delegation chains against the registry's revocations, and drops cached decisions
 * the moment the registry revokes a principal or a link.
 *
 * @example
 * ```ts
 * const platform = createPlatform({ clock: new FakeClock() });
 * await platform.nhi.register({ identity: agent.identity, roles: ['payments'] });
 * platform.authz.setPolicies([{ id: 'payments', effect: 'permit', principal: { roles: 'payments' }, … }]);
 * platform.authz.evaluate({ principal: agent.identity.nhi, action: 'payment.approve', resource: 'invoice:42' });
 * ```
 */
export function createPlatform(options: PlatformOptions = {}): Platform {
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('PL-400', 'createPlatform: options must be an object');
  }
  if (options.auditLog !== undefined) {
    if (options.audit !== undefined) {
      throw new EnablementError(
        'PL-400',
        'createPlatform: give either audit (settings) or auditLog, not both',
      );
    }
    if (!isAuditLog(options.auditLog)) {
      throw new EnablementError(
        'PL-400',
        'createPlatform: auditLog: expected an audit log (append, query, …)',
      );
    }
  }
  const clock = options.clock ?? systemClock;
  const provider = options.provider ?? nobleCryptoProvider;
  const nhi = createNhiRegistry({ ...options.nhi, clock, provider });
  const authz = createPolicyEngine({
    principalAttributes: registryAttributes(nhi),
    ...options.authz,
    delegation: { revocation: nhi.revocationChecker, ...options.authz?.delegation },
    clock,
    provider,
  });
  const audit = options.auditLog ?? createAuditLog({ ...options.audit, clock, crypto: provider });
  const stopRevocations = nhi.onRevocation((event) => authz.revoke(event.ref));
  const consensus = createHybridLogicalClock({ ...options.consensus, clock });
  const scheduler = createScheduler({ ...options.scheduler, clock });
  const memory = createAgentMemory({ ...options.memory, clock });
  let disposed = false;
  return Object.freeze({
    clock,
    provider,
    nhi,
    authz,
    audit,
    consensus,
    scheduler,
    memory,
    dispose() {
      if (disposed) return;
      disposed = true;
      stopRevocations();
      scheduler.dispose();
    },
  });
}
