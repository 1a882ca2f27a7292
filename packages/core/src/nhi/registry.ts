import { z } from 'zod';
import { decodeHybridSignature, type HybridSignature, verifyHybrid } from '../crypto/hybrid.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { DelegationChain } from '../delegation/chain.js';
import { type DelegationLink, delegationLinkId } from '../delegation/link.js';
import {
  createRevocationList,
  DEFAULT_REVOCATION_LIST_MAX_ENTRIES,
  MAX_REVOCATION_LIST_ENTRIES,
  type RevocationChecker,
  type RevocationRef,
  type SyncRevocationChecker,
} from '../delegation/revocation.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { parseNhi } from '../identity/nhi.js';
import { sandboxId as parseSandboxId, type SandboxId } from '../ids/sandbox-id.js';
import { clockSchema, cryptoProviderSchema, parseOptions } from '../options/options.js';
import { type Clock, type ConsensusTimestamp, systemClock } from '../time/clock.js';
import {
  DEFAULT_MAX_ONE_TIME_PREKEYS,
  DEFAULT_MAX_PREKEY_DIRECTORY_BYTES,
  type KeyBundle,
  MAX_ONE_TIME_PREKEYS_LIMIT,
  type PrekeyCounts,
  PrekeyDirectory,
  type PrekeyUpload,
} from './prekeys.js';
import {
  checkAttributesPatch,
  checkProof,
  type Principal,
  type PrincipalAttributes,
  type PrincipalRegistration,
} from './principal.js';

/** A principal, by identity or NHI string. */
export type PrincipalRef = AgentIdentity | string;

/** Registry status of an NHI. */
export type PrincipalStatus = 'active' | 'revoked' | 'unknown';

/** A revocation the registry announces to its listeners. */
export interface RevocationEvent {
  /** What was revoked (a principal or a delegation link). */
  readonly ref: RevocationRef;
  /** When (registry clock). */
  readonly at: ConsensusTimestamp;
  /** The reason given to `revoke`, if any. */
  readonly reason: string | undefined;
}

/** Called synchronously after a revocation took effect (e.g. to invalidate an authz cache). */
export type RevocationListener = (event: RevocationEvent) => void;

/** Options of {@link NhiClient.revoke}. */
export interface RevokeOptions {
  /** Why, for audit; at most 256 characters. */
  readonly reason?: string;
}

/** Options of {@link NhiClient.validateDelegationChain}. */
export interface ValidateChainOptions {
  /**
   * Which principals of the chain must be registered and active: `root` (default) — the root's
   * kind is self-declared in its NHI, so only registration makes it a trusted human or service —
   * or `all` (every issuer and subject).
   */
  readonly requireRegistered?: 'root' | 'all';
  /** Additional pin on the root NHIs accepted (see `DelegationChain.validate`). */
  readonly trustedRoots?: readonly string[];
  /** Longest chain accepted (see `DelegationChain.validate`). */
  readonly maxLength?: number;
}

/** A delegation chain, or its links root first. */
export type DelegationChainInput = DelegationChain | readonly DelegationLink[];

/**
 * The NHI port (spec §3.1): principals, revocation, sandbox binding, signature and delegation
 * validation, and the PQXDH prekey directory. May be remote; every failure is an
 * `EnablementError`: `PL-400` bad input, `PL-401` bad signature, `PL-403` delegation denied,
 * `PL-404` unknown principal or key, `PL-409` conflict or capacity, `PL-410` revoked.
 *
 * It is a `RevocationChecker` of `../delegation/`, so any chain validation can consult it.
 */
export interface NhiClient extends RevocationChecker {
  /** Registers a principal with its keys and attributes; `PL-409` if already registered. */
  register(registration: PrincipalRegistration): Promise<Principal>;
  /** The registered, unrevoked principal; `PL-404` unknown, `PL-410` revoked. */
  lookup(principal: PrincipalRef): Promise<Principal>;
  /** Replaces the attributes given (others are kept); `PL-404` / `PL-410` as `lookup`. */
  updateAttributes(principal: PrincipalRef, attributes: PrincipalAttributes): Promise<Principal>;
  /**
   * Revokes a principal, registered or not (so delegation chains naming it stop validating);
   * idempotent. Its prekeys and sandbox bindings are dropped and listeners told once.
   */
  revoke(principal: PrincipalRef, options?: RevokeOptions): Promise<void>;
  /** Revokes one delegation link by its `delegationLinkId`; idempotent. */
  revokeLink(linkId: string, options?: RevokeOptions): Promise<void>;
  /** True when the principal or link is revoked (the delegation `RevocationChecker` port). */
  isRevoked(ref: RevocationRef): Promise<boolean>;
  /** Subscribes to revocations; returns the unsubscribe function. */
  onRevocation(listener: RevocationListener): () => void;
  /**
   * Binds a registered, active principal to a sandbox (one principal per sandbox; binding the
   * same one again is a no-op, another one is `PL-409`).
   */
  bindIdentity(sandboxId: string, agent: PrincipalRef): Promise<void>;
  /** Removes a sandbox binding; true when there was one. */
  unbindIdentity(sandboxId: string): Promise<boolean>;
  /** The identity bound to a sandbox, or `undefined`. */
  boundIdentity(sandboxId: string): Promise<AgentIdentity | undefined>;
  /** Verifies an Ed25519 signature with the registered key; `PL-401` when it does not verify. */
  validateSignature(principal: PrincipalRef, message: Uint8Array, signature: Uint8Array): Promise<Principal>;
  /**
   * Verifies a hybrid signature (object or its 3373-byte wire form) with the registered keys;
   * `PL-401` when either half fails or no ML-DSA-65 key is registered (never downgraded).
   */
  validateHybridSignature(
    principal: PrincipalRef,
    message: Uint8Array,
    signature: HybridSignature | Uint8Array,
  ): Promise<Principal>;
  /**
   * Validates a delegation chain with the registry as revocation checker and the registry clock,
   * then requires its root (or every principal, see options) to be registered and active.
   * Returns the chain.
   */
  validateDelegationChain(
    chain: DelegationChainInput,
    options?: ValidateChainOptions,
  ): Promise<DelegationChain>;
  /**
   * True when this NHI service has validated a signed delegation link from `parent` to `child`
   * (spec §6.2 `verify_delegation`: a chain is trusted pair by pair) and that link is still inside
   * its validity window, the link is not revoked and neither principal is revoked. Only links of a
   * chain that passed `validateDelegationChain` count: names alone, as a usage event's
   * `delegation_chain` carries them, prove nothing. `false` for a pair never recorded (malformed
   * NHIs included); `PL-400` for a reference that is neither an identity nor a string; a remote
   * implementation fails with `PL-503` when it cannot answer (never `false` for "unknown").
   */
  verifyDelegation(parent: PrincipalRef, child: PrincipalRef): Promise<boolean>;
  /** Publishes prekeys (all or nothing; see `PrekeyUpload`); returns what is pending. */
  publishPrekeys(owner: PrincipalRef, upload: PrekeyUpload): Promise<PrekeyCounts>;
  /** A PQXDH key bundle, each one-time prekey handed out at most once; `PL-404` when none published. */
  getKeyBundle(agent: PrincipalRef): Promise<KeyBundle>;
  /** Pending prekey counts of an active principal. */
  prekeyCounts(owner: PrincipalRef): Promise<PrekeyCounts>;
}

/** Options of {@link createNhiRegistry}. */
export interface NhiRegistryOptions {
  /** Time source (registration times, delegation validity); default `systemClock`. */
  readonly clock?: Clock;
  /** Crypto implementation for verification; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** Most principals (revoked ones included); default 100 000; beyond it `PL-409`. */
  readonly maxPrincipals?: number;
  /** Most revocations (principals plus links); default 100 000; beyond it `PL-409`. */
  readonly maxRevocations?: number;
  /** Most sandbox bindings; default 100 000; beyond it `PL-409`. */
  readonly maxSandboxBindings?: number;
  /** Pending one-time prekeys per owner, for each of X25519 and ML-KEM-768; default 100. */
  readonly maxOneTimePrekeys?: number;
  /** Bytes of public keys and signatures held by the prekey directory; default 256 MiB. */
  readonly maxPrekeyBytes?: number;
  /**
   * Most delegation links remembered for `verifyDelegation`; default 100 000 (like
   * `maxPrincipals`). At the bound the least recently validated link is forgotten (see
   * {@link createNhiRegistry}).
   */
  readonly maxVerifiedLinks?: number;
  /**
   * Called with what a revocation listener threw (the other listeners still run). Without it,
   * the error is rethrown from a microtask, as an exception in a timer callback would be.
   */
  readonly onListenerError?: (error: unknown, event: RevocationEvent) => void;
}

/** The in-process NHI registry: the port plus synchronous twins of the hot paths. */
export interface NhiRegistry extends NhiClient {
  /** Sync twin of `lookup`. */
  lookupSync(principal: PrincipalRef): Principal;
  /** Registry status of an NHI (`unknown` also for malformed input); never throws. */
  status(principal: PrincipalRef): PrincipalStatus;
  /** Sync twin of `isRevoked`; `false` for malformed references. */
  isRevokedSync(ref: RevocationRef): boolean;
  /** The registry as a synchronous revocation checker (for `DelegationChain.validateSync`). */
  readonly revocationChecker: SyncRevocationChecker;
  /** Sync twin of `validateSignature`. */
  validateSignatureSync(principal: PrincipalRef, message: Uint8Array, signature: Uint8Array): Principal;
  /** Sync twin of `validateHybridSignature`. */
  validateHybridSignatureSync(
    principal: PrincipalRef,
    message: Uint8Array,
    signature: HybridSignature | Uint8Array,
  ): Principal;
  /** Sync twin of `validateDelegationChain`. */
  validateDelegationChainSync(chain: DelegationChainInput, options?: ValidateChainOptions): DelegationChain;
  /** Sync twin of `verifyDelegation`. */
  verifyDelegationSync(parent: PrincipalRef, child: PrincipalRef): boolean;
  /** Number of delegation links remembered for `verifyDelegation` (expired ones included until swept). */
  readonly verifiedLinks: number;
  /** Sync twin of `getKeyBundle`. */
  getKeyBundleSync(agent: PrincipalRef): KeyBundle;
  /** Number of principals held (revoked ones included). */
  readonly size: number;
}

/** Default of {@link NhiRegistryOptions.maxPrincipals}, `maxSandboxBindings` and `maxVerifiedLinks`. */
export const DEFAULT_MAX_PRINCIPALS = 100_000;

/** Most revocation listeners at once (a leak guard). */
export const MAX_REVOCATION_LISTENERS = 1024;

const MAX_REASON_LENGTH = 256;

const optionsSchema = z.strictObject({
  clock: clockSchema.optional(),
  provider: cryptoProviderSchema.optional(),
  maxPrincipals: z.number().int().min(1).max(10_000_000).optional(),
  maxRevocations: z.number().int().min(1).max(MAX_REVOCATION_LIST_ENTRIES).optional(),
  maxSandboxBindings: z.number().int().min(1).max(10_000_000).optional(),
  maxVerifiedLinks: z.number().int().min(1).max(10_000_000).optional(),
  maxOneTimePrekeys: z.number().int().min(1).max(MAX_ONE_TIME_PREKEYS_LIMIT).optional(),
  maxPrekeyBytes: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 ** 3)
    .optional(),
  onListenerError: z
    .custom<(error: unknown, event: RevocationEvent) => void>((v) => typeof v === 'function', {
      error: 'expected a function',
    })
    .optional(),
});

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

function nhiOf(principal: PrincipalRef, field = 'nhi'): string {
  if (principal instanceof AgentIdentity) return principal.nhi;
  parseNhi(principal, field); // PL-400 for anything that is not an NHI
  return principal;
}

function checkReason(options: RevokeOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw bad('options', 'expected { reason? }');
  const { reason } = options;
  if (reason === undefined) return undefined;
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH) {
    throw bad('reason', `expected a string of at most ${MAX_REASON_LENGTH} characters`);
  }
  return reason;
}

/** The NHI of a reference without parsing it; `PL-400` for what is neither an identity nor a string. */
function nameOf(principal: PrincipalRef, field: string): string {
  if (principal instanceof AgentIdentity) return principal.nhi;
  if (typeof principal !== 'string') throw bad(field, 'expected an AgentIdentity or an NHI string');
  return principal;
}

/** A validated delegation link, as `verifyDelegation` remembers it. */
interface VerifiedLink {
  readonly id: string;
  readonly pair: string;
  readonly issuer: string;
  readonly subject: string;
  readonly notBefore: ConsensusTimestamp;
  readonly expiresAt: ConsensusTimestamp;
}

/** Key of a (parent, child) pair; no NHI contains a newline. */
const pairKey = (parent: string, child: string): string => `${parent}\n${child}`;

function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/**
 * The in-process {@link NhiRegistry} (spec §3.1; docs/platform.md). Everything is held in
 * bounded maps: principals, revocations (a `RevocationList` of `../delegation/`, never evicted),
 * sandbox bindings and the prekey directory; a full map refuses with `PL-409` rather than
 * forgetting anything.
 *
 * The one exception is the record of validated delegation links behind `verifyDelegation`
 * (`maxVerifiedLinks`, default 100 000): at the bound the least recently validated link is
 * evicted (validating a chain again refreshes its links). Refusing instead would either fail
 * `validateDelegationChain` for everyone once the record filled up, or silently leave new links
 * out; forgetting an old one can only turn a `true` into `false` — a consumer such as Metering then
 * declines to attribute through that link (MT-404, retried) until a spawn validates the chain
 * again — and never turns any answer into a wrong `true`. Expired links are dropped when looked up.
 *
 * @example
 * ```ts
 * const nhi = createNhiRegistry({ clock });
 * await nhi.register({ identity: human.identity, roles: ['finance-approver'] });
 * await nhi.register({ identity: agent.identity, proof: registrationProof(agent) });
 * await nhi.validateDelegationChain(chain); // signatures, time, attenuation, revocation, root registered
 * ```
 */
export function createNhiRegistry(options: NhiRegistryOptions = {}): NhiRegistry {
  const parsed = parseOptions(optionsSchema, options, 'createNhiRegistry');
  const clock = parsed.clock ?? systemClock;
  const provider = parsed.provider ?? nobleCryptoProvider;
  const maxPrincipals = parsed.maxPrincipals ?? DEFAULT_MAX_PRINCIPALS;
  const maxSandboxBindings = parsed.maxSandboxBindings ?? DEFAULT_MAX_PRINCIPALS;
  const onListenerError = parsed.onListenerError;
  const revocations = createRevocationList({
    maxEntries: parsed.maxRevocations ?? DEFAULT_REVOCATION_LIST_MAX_ENTRIES,
  });
  const principals = new Map<string, Principal>();
  const bindings = new Map<SandboxId, string>();
  const sandboxesOf = new Map<string, Set<SandboxId>>();
  const listeners = new Set<RevocationListener>();
  const maxVerifiedLinks = parsed.maxVerifiedLinks ?? DEFAULT_MAX_PRINCIPALS;
  // Insertion order is recency: re-validating a link deletes and re-inserts it.
  const verified = new Map<string, VerifiedLink>();
  const verifiedByPair = new Map<string, Set<string>>();
  const prekeys = new PrekeyDirectory({
    provider,
    maxOneTimePrekeys: parsed.maxOneTimePrekeys ?? DEFAULT_MAX_ONE_TIME_PREKEYS,
    maxBytes: parsed.maxPrekeyBytes ?? DEFAULT_MAX_PREKEY_DIRECTORY_BYTES,
  });

  const isRevokedSync = (ref: RevocationRef): boolean => revocations.isRevoked(ref);

  /**
   * The active principal; `PL-410` revoked (registered or not), `PL-404` unknown, `PL-400` not an
   * NHI. Only validated NHIs are ever stored, so a hit needs no parsing: the costly NHI parse
   * (base58 and Ed25519 point decoding) runs only on a miss, to tell malformed from unknown.
   */
  const active = (principal: PrincipalRef, field = 'nhi'): Principal => {
    const nhi = principal instanceof AgentIdentity ? principal.nhi : principal;
    if (typeof nhi === 'string') {
      if (revocations.isRevoked({ kind: 'principal', nhi })) {
        throw new EnablementError('PL-410', `principal ${nhi} is revoked`);
      }
      const found = principals.get(nhi);
      if (found !== undefined) return found;
    }
    throw new EnablementError('PL-404', `principal ${nhiOf(principal, field)} is not registered`);
  };

  const emit = (ref: RevocationRef, reason: string | undefined): void => {
    const event: RevocationEvent = Object.freeze({ ref: Object.freeze({ ...ref }), at: clock.now(), reason });
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (error) {
        if (onListenerError === undefined) rethrowLater(error);
        else {
          try {
            onListenerError(error, event);
          } catch (hookError) {
            rethrowLater(hookError);
          }
        }
      }
    }
  };

  const register = (registration: PrincipalRegistration): Principal => {
    if (typeof registration !== 'object' || registration === null) {
      throw bad('registration', 'expected { identity, ... }');
    }
    const { identity: input } = registration;
    const identity =
      input instanceof AgentIdentity
        ? input
        : typeof input === 'string'
          ? AgentIdentity.fromNhi(input, { field: 'identity' })
          : undefined;
    if (identity === undefined) throw bad('identity', 'expected an AgentIdentity or an NHI string');
    const patch = checkAttributesPatch(registration);
    if (revocations.isRevoked({ kind: 'principal', nhi: identity.nhi })) {
      throw new EnablementError('PL-410', `principal ${identity.nhi} is revoked and cannot be registered`);
    }
    if (principals.has(identity.nhi)) {
      throw new EnablementError('PL-409', `principal ${identity.nhi} is already registered`);
    }
    if (principals.size >= maxPrincipals) {
      throw new EnablementError('PL-409', `registry holds the maximum of ${maxPrincipals} principals`);
    }
    checkProof(identity, registration.proof, provider);
    const now = clock.now();
    const principal: Principal = Object.freeze({
      identity,
      nhi: identity.nhi,
      kind: identity.kind,
      displayName: patch.displayName,
      roles: patch.roles ?? Object.freeze([]),
      groups: patch.groups ?? Object.freeze([]),
      attributes: patch.attributes ?? Object.freeze({}),
      registeredAt: now,
      updatedAt: now,
    });
    principals.set(identity.nhi, principal);
    return principal;
  };

  const updateAttributes = (ref: PrincipalRef, attributes: PrincipalAttributes): Principal => {
    const current = active(ref);
    const patch = checkAttributesPatch(attributes);
    const next: Principal = Object.freeze({ ...current, ...patch, updatedAt: clock.now() });
    principals.set(current.nhi, next);
    return next;
  };

  const unbindAll = (nhi: string): void => {
    const sandboxes = sandboxesOf.get(nhi);
    if (sandboxes === undefined) return;
    for (const id of sandboxes) bindings.delete(id);
    sandboxesOf.delete(nhi);
  };

  const revoke = (ref: PrincipalRef, opts?: RevokeOptions): void => {
    const nhi = nhiOf(ref);
    const reason = checkReason(opts);
    const target: RevocationRef = { kind: 'principal', nhi };
    if (revocations.isRevoked(target)) return;
    revocations.revoke(target); // PL-409 when full: then nothing changed
    // The record stays, so later lookups answer PL-410 (revoked) rather than PL-404 (unknown).
    prekeys.drop(nhi);
    unbindAll(nhi);
    emit(target, reason);
  };

  const revokeLink = (linkId: string, opts?: RevokeOptions): void => {
    const reason = checkReason(opts);
    const target: RevocationRef = { kind: 'link', id: linkId };
    if (typeof linkId !== 'string' || !/^[0-9a-f]{64}$/.test(linkId)) {
      throw bad('linkId', 'expected 64 lowercase hex characters (delegationLinkId)');
    }
    if (revocations.isRevoked(target)) return;
    revocations.revoke(target);
    emit(target, reason);
  };

  const bindIdentity = (sandbox: string, agent: PrincipalRef): void => {
    const id = parseSandboxId(sandbox, 'sandboxId');
    const principal = active(agent, 'agent');
    const bound = bindings.get(id);
    if (bound === principal.nhi) return;
    if (bound !== undefined) {
      throw new EnablementError('PL-409', `sandbox ${id} is already bound to ${bound}`);
    }
    if (bindings.size >= maxSandboxBindings) {
      throw new EnablementError(
        'PL-409',
        `registry holds the maximum of ${maxSandboxBindings} sandbox bindings`,
      );
    }
    bindings.set(id, principal.nhi);
    let set = sandboxesOf.get(principal.nhi);
    if (set === undefined) {
      set = new Set();
      sandboxesOf.set(principal.nhi, set);
    }
    set.add(id);
  };

  const unbindIdentity = (sandbox: string): boolean => {
    const id = parseSandboxId(sandbox, 'sandboxId');
    const nhi = bindings.get(id);
    if (nhi === undefined) return false;
    bindings.delete(id);
    const set = sandboxesOf.get(nhi);
    set?.delete(id);
    if (set?.size === 0) sandboxesOf.delete(nhi);
    return true;
  };

  const checkMessage = (message: unknown): void => {
    if (!(message instanceof Uint8Array)) throw bad('message', 'expected a Uint8Array');
  };

  const validateSignature = (ref: PrincipalRef, message: Uint8Array, signature: Uint8Array): Principal => {
    const principal = active(ref);
    checkMessage(message);
    if (!(signature instanceof Uint8Array)) throw bad('signature', 'expected a Uint8Array');
    if (!provider.ed25519.verify(principal.identity.publicKeyEd25519, message, signature)) {
      throw new EnablementError('PL-401', `signature of ${principal.nhi} does not verify`);
    }
    return principal;
  };

  const validateHybridSignature = (
    ref: PrincipalRef,
    message: Uint8Array,
    signature: HybridSignature | Uint8Array,
  ): Principal => {
    const principal = active(ref);
    checkMessage(message);
    if (typeof signature !== 'object' || signature === null) {
      throw bad('signature', 'expected a HybridSignature or its 3373-byte encoding');
    }
    const { identity } = principal;
    if (!identity.hasPostQuantumKey) {
      throw new EnablementError(
        'PL-401',
        `principal ${principal.nhi} has no registered ML-DSA-65 key: a hybrid signature cannot verify`,
      );
    }
    let decoded: HybridSignature | undefined;
    if (signature instanceof Uint8Array) {
      try {
        decoded = decodeHybridSignature(signature);
      } catch {
        decoded = undefined; // wrong length: an invalid signature, not malformed input
      }
    } else {
      decoded = signature;
    }
    if (decoded === undefined || !verifyHybrid(provider, identity.hybridPublicKey(), message, decoded)) {
      throw new EnablementError('PL-401', `hybrid signature of ${principal.nhi} does not verify`);
    }
    return principal;
  };

  const toChain = (chain: DelegationChainInput): DelegationChain =>
    chain instanceof DelegationChain ? chain : DelegationChain.from(chain);

  const checkChainOptions = (opts: ValidateChainOptions | undefined) => {
    if (opts !== undefined && (typeof opts !== 'object' || opts === null)) {
      throw bad('options', 'expected an object');
    }
    const requireRegistered = opts?.requireRegistered ?? 'root';
    if (requireRegistered !== 'root' && requireRegistered !== 'all') {
      throw bad('requireRegistered', "expected 'root' or 'all'");
    }
    return {
      requireRegistered,
      validate: {
        clock,
        provider,
        ...(opts?.trustedRoots !== undefined ? { trustedRoots: opts.trustedRoots } : {}),
        ...(opts?.maxLength !== undefined ? { maxLength: opts.maxLength } : {}),
      },
    };
  };

  /** After the chain itself validated: its principals must be known to the registry. */
  const checkRegistered = (chain: DelegationChain, requireRegistered: 'root' | 'all'): void => {
    const names =
      requireRegistered === 'root'
        ? [chain.root().nhi]
        : [chain.root().nhi, ...chain.links.map((l) => l.subject)];
    for (const nhi of names) {
      if (!principals.has(nhi)) {
        const role = nhi === chain.root().nhi ? 'root' : 'principal';
        throw new EnablementError('PL-403', `delegation chain ${role} ${nhi} is not a registered principal`);
      }
    }
  };

  const forgetLink = (link: VerifiedLink): void => {
    verified.delete(link.id);
    const ids = verifiedByPair.get(link.pair);
    ids?.delete(link.id);
    if (ids?.size === 0) verifiedByPair.delete(link.pair);
  };

  /** Remembers every link of a chain that has just validated (most recent last). */
  const recordLinks = (chain: DelegationChain): void => {
    for (const link of chain.links) {
      const id = delegationLinkId(link, provider);
      const known = verified.get(id);
      if (known !== undefined) {
        verified.delete(id); // refresh recency
        verified.set(id, known);
        continue;
      }
      if (verified.size >= maxVerifiedLinks) {
        const oldest = verified.values().next().value;
        if (oldest !== undefined) forgetLink(oldest);
      }
      const pair = pairKey(link.issuer, link.subject);
      const entry: VerifiedLink = Object.freeze({
        id,
        pair,
        issuer: link.issuer,
        subject: link.subject,
        notBefore: link.notBefore,
        expiresAt: link.expiresAt,
      });
      verified.set(id, entry);
      let ids = verifiedByPair.get(pair);
      if (ids === undefined) {
        ids = new Set();
        verifiedByPair.set(pair, ids);
      }
      ids.add(id);
    }
  };

  const verifyDelegation = (parentRef: PrincipalRef, childRef: PrincipalRef): boolean => {
    const parent = nameOf(parentRef, 'parent');
    const child = nameOf(childRef, 'child');
    const ids = verifiedByPair.get(pairKey(parent, child));
    if (ids === undefined) return false;
    if (
      revocations.isRevoked({ kind: 'principal', nhi: parent }) ||
      revocations.isRevoked({ kind: 'principal', nhi: child })
    ) {
      return false;
    }
    const now = clock.now();
    for (const id of [...ids]) {
      const link = verified.get(id);
      if (link === undefined) continue;
      if (now >= link.expiresAt) {
        forgetLink(link); // expiry is final
        continue;
      }
      if (now >= link.notBefore && !revocations.isRevoked({ kind: 'link', id })) return true;
    }
    return false;
  };

  const revocationChecker: SyncRevocationChecker = Object.freeze({ isRevoked: isRevokedSync });

  const registry: NhiRegistry = {
    async register(registration) {
      return register(registration);
    },
    async lookup(ref) {
      return active(ref);
    },
    lookupSync: (ref) => active(ref),
    async updateAttributes(ref, attributes) {
      return updateAttributes(ref, attributes);
    },
    status(ref) {
      try {
        const nhi = nhiOf(ref);
        if (revocations.isRevoked({ kind: 'principal', nhi })) return 'revoked';
        return principals.has(nhi) ? 'active' : 'unknown';
      } catch {
        return 'unknown';
      }
    },
    async revoke(ref, opts) {
      revoke(ref, opts);
    },
    async revokeLink(linkId, opts) {
      revokeLink(linkId, opts);
    },
    async isRevoked(ref) {
      return isRevokedSync(ref);
    },
    isRevokedSync,
    revocationChecker,
    onRevocation(listener) {
      if (typeof listener !== 'function') throw bad('listener', 'expected a function');
      if (listeners.size >= MAX_REVOCATION_LISTENERS && !listeners.has(listener)) {
        throw new EnablementError('PL-409', `at most ${MAX_REVOCATION_LISTENERS} revocation listeners`);
      }
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async bindIdentity(sandbox, agent) {
      bindIdentity(sandbox, agent);
    },
    async unbindIdentity(sandbox) {
      return unbindIdentity(sandbox);
    },
    async boundIdentity(sandbox) {
      const nhi = bindings.get(parseSandboxId(sandbox, 'sandboxId'));
      return nhi === undefined ? undefined : principals.get(nhi)?.identity;
    },
    async validateSignature(ref, message, signature) {
      return validateSignature(ref, message, signature);
    },
    validateSignatureSync: validateSignature,
    async validateHybridSignature(ref, message, signature) {
      return validateHybridSignature(ref, message, signature);
    },
    validateHybridSignatureSync: validateHybridSignature,
    async validateDelegationChain(input, opts) {
      const { requireRegistered, validate } = checkChainOptions(opts);
      const chain = toChain(input);
      await chain.validate({ ...validate, revocation: revocationChecker });
      checkRegistered(chain, requireRegistered);
      recordLinks(chain);
      return chain;
    },
    validateDelegationChainSync(input, opts) {
      const { requireRegistered, validate } = checkChainOptions(opts);
      const chain = toChain(input);
      chain.validateSync({ ...validate, revocation: revocationChecker });
      checkRegistered(chain, requireRegistered);
      recordLinks(chain);
      return chain;
    },
    async verifyDelegation(parent, child) {
      return verifyDelegation(parent, child);
    },
    verifyDelegationSync: verifyDelegation,
    async publishPrekeys(owner, upload) {
      return prekeys.publish(active(owner, 'owner').identity, upload);
    },
    async getKeyBundle(agent) {
      // Synchronous from lookup to hand-out: no other call can interleave and take the same key.
      return prekeys.take(active(agent, 'agent').identity);
    },
    getKeyBundleSync: (agent) => prekeys.take(active(agent, 'agent').identity),
    async prekeyCounts(owner) {
      return prekeys.counts(active(owner, 'owner').nhi);
    },
    get size() {
      return principals.size;
    },
    get verifiedLinks() {
      return verified.size;
    },
  };
  return Object.freeze(registry);
}
