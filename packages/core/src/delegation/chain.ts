import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { ErrorCode } from '../errors/catalogue.js';
import { EnablementError } from '../errors/enablement-error.js';
import type { AgentIdentity } from '../identity/agent-identity.js';
import { isClock } from '../options/options.js';
import type { Clock } from '../time/clock.js';
import { type CheckedLink, checkLink, type DelegationLink, linkIdOf } from './link.js';
import { capabilityCovers, capabilityMatches } from './pattern.js';
import type { RevocationChecker, RevocationRef, SyncRevocationChecker } from './revocation.js';

/** Default longest chain that `validate` accepts (links from root to leaf). */
export const DEFAULT_MAX_CHAIN_LENGTH = 16;

/** Hard ceiling on links held by one {@link DelegationChain} (and on `maxLength`). */
export const MAX_CHAIN_LINKS = 64;

/** Most NHIs in `trustedRoots`. */
const MAX_TRUSTED_ROOTS = 1024;

/** Options of {@link DelegationChain.validateSync}. */
export interface ValidateDelegationSyncOptions {
  /** Time source; `now` is read once, so every link is judged at the same instant. */
  readonly clock: Clock;
  /** Crypto implementation for signatures and link ids; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /** Longest chain accepted, 1 to {@link MAX_CHAIN_LINKS}; default {@link DEFAULT_MAX_CHAIN_LENGTH}. */
  readonly maxLength?: number;
  /**
   * NHIs allowed to root the chain. The kind in an NHI is self-declared (anyone can mint a
   * `human:` NHI), so a verifier that does not pin its roots here must check `chain.root()`
   * against its own registry.
   */
  readonly trustedRoots?: readonly string[];
  /** Synchronous revocation check (e.g. `createRevocationList()`); none by default. */
  readonly revocation?: SyncRevocationChecker;
}

/** Options of {@link DelegationChain.validate}. */
export interface ValidateDelegationOptions extends Omit<ValidateDelegationSyncOptions, 'revocation'> {
  /** Revocation port (local list or remote NHI service); none by default. */
  readonly revocation?: RevocationChecker;
}

/** A revocation lookup that the static checks queued, with what to say if it hits. */
interface PendingRevocation {
  readonly ref: RevocationRef;
  readonly index: number;
  readonly what: string;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A chain of signed delegation links from a root principal (`human` or `service`) to the leaf
 * (the current agent): link 0 is issued by the root, link i+1 by the subject of link i
 * (spec §6.2, ARCHITECTURE §4 delegation).
 *
 * Construction (`from`, `extend`) checks structure only (`PL-400`); trust comes from
 * {@link DelegationChain.validate}. Chains are immutable: links are deep-copied in and out.
 *
 * @example
 * ```ts
 * const chain = DelegationChain.from([rootToAgent, agentToSubAgent]);
 * await chain.validate({ clock, revocation });
 * if (chain.allows('payment.approve', 'invoice:42')) { ... }
 * ```
 */
export class DelegationChain {
  readonly #entries: readonly CheckedLink[];

  private constructor(entries: readonly CheckedLink[]) {
    this.#entries = Object.freeze(entries);
    Object.freeze(this);
  }

  /**
   * A chain of `links`, ordered root first. Each link is structurally checked and copied (see
   * `normalizeDelegationLink`); at most {@link MAX_CHAIN_LINKS}. An empty chain can be built (for
   * instance decoded from the wire) but never validates.
   */
  static from(links: readonly DelegationLink[]): DelegationChain {
    if (!Array.isArray(links)) throw new EnablementError('PL-400', 'links: expected an array');
    const length = links.length; // read once: a hostile array cannot grow while we copy it
    if (length > MAX_CHAIN_LINKS) {
      throw new EnablementError('PL-400', `links: at most ${MAX_CHAIN_LINKS} links in a chain`);
    }
    const entries: CheckedLink[] = [];
    for (let i = 0; i < length; i++) entries.push(checkLink(links[i], `links[${i}]`));
    return new DelegationChain(entries);
  }

  /** A new chain with `link` appended as the new leaf; this chain is unchanged. */
  extend(link: DelegationLink): DelegationChain {
    if (this.#entries.length >= MAX_CHAIN_LINKS) {
      throw new EnablementError('PL-400', `links: at most ${MAX_CHAIN_LINKS} links in a chain`);
    }
    return new DelegationChain([...this.#entries, checkLink(link, `links[${this.#entries.length}]`)]);
  }

  /** The links, root first (copies: changing them does not change the chain). */
  get links(): readonly DelegationLink[] {
    return Object.freeze(
      this.#entries.map(({ link }) =>
        Object.freeze({ ...link, nonce: link.nonce.slice(), signature: link.signature.slice() }),
      ),
    );
  }

  /** Number of links. */
  get length(): number {
    return this.#entries.length;
  }

  /** The root principal: issuer of the first link. `PL-403` for an empty chain. */
  root(): AgentIdentity {
    const first = this.#entries[0];
    if (first === undefined) throw new EnablementError('PL-403', 'delegation chain is empty');
    return first.issuer;
  }

  /** The current (leaf) principal: subject of the last link. `PL-403` for an empty chain. */
  current(): AgentIdentity {
    const last = this.#entries[this.#entries.length - 1];
    if (last === undefined) throw new EnablementError('PL-403', 'delegation chain is empty');
    return last.subject;
  }

  /**
   * True when the leaf may perform the concrete `action` on the concrete `resource`: every link of
   * the chain grants a capability matching it. For a valid chain this is exactly "the leaf's
   * capabilities match" (attenuation makes each link a subset of its parent); requiring every link
   * keeps the answer safe even on a chain that was never validated. It does not check signatures,
   * time or revocation: call {@link DelegationChain.validate} first. An empty chain allows nothing.
   */
  allows(action: string, resource: string): boolean {
    if (this.#entries.length === 0) return false;
    return this.#entries.every(({ link }) =>
      link.capabilities.some((capability) => capabilityMatches(capability, action, resource)),
    );
  }

  /**
   * Validates the chain, throwing an `EnablementError` that names the failing link and why:
   * `PL-401` for a bad signature, `PL-410` for a revoked principal or link, `PL-403` for any other
   * failure (empty or over-long chain, a root that is not `human`/`service` or not in
   * `trustedRoots`, issuer/subject misalignment, a link outside its validity window or outside its
   * parent's window, a capability not covered by the parent link). Each link's signature is
   * verified before any of its other fields is trusted. Revocation of every principal (root and
   * each subject) and every link id is looked up last, in parallel; a failing port rejects the
   * validation (`PL-503` unless it threw an `EnablementError` itself).
   */
  async validate(options: ValidateDelegationOptions): Promise<void> {
    const pending = checkChain(this.#entries, options);
    const revocation = options.revocation;
    if (revocation === undefined) return;
    const answers = await Promise.all(
      pending.map(async ({ ref }) => {
        try {
          return await revocation.isRevoked(ref);
        } catch (cause) {
          throw revocationFailure(cause);
        }
      }),
    );
    pending.forEach((item, i) => {
      settleRevocation(this.#entries, item, answers[i]);
    });
  }

  /**
   * {@link DelegationChain.validate} without promises, for synchronous hot paths (authz
   * `evaluate`). Takes only a synchronous revocation checker; a checker that returns a promise
   * fails with `PL-500`.
   */
  validateSync(options: ValidateDelegationSyncOptions): void {
    const pending = checkChain(this.#entries, options);
    const revocation = options.revocation;
    if (revocation === undefined) return;
    for (const item of pending) {
      let answer: unknown;
      try {
        answer = revocation.isRevoked(item.ref);
      } catch (cause) {
        throw revocationFailure(cause);
      }
      if (answer instanceof Promise) {
        answer.catch(() => undefined); // never leave an unhandled rejection behind
        throw new EnablementError('PL-500', 'revocation checker returned a promise; use validate()');
      }
      settleRevocation(this.#entries, item, answer);
    }
  }

  /** A summary with NHIs only. */
  toString(): string {
    if (this.#entries.length === 0) return 'DelegationChain(empty)';
    return `DelegationChain(${this.root().nhi} → … → ${this.current().nhi}, ${this.#entries.length} links)`;
  }

  /** Node's `util.inspect` shows the summary. */
  [INSPECT](): string {
    return this.toString();
  }
}

function linkError(
  code: ErrorCode,
  entries: readonly CheckedLink[],
  index: number,
  why: string,
): EnablementError {
  const entry = entries[index];
  const who = entry ? ` (issuer ${entry.link.issuer}, subject ${entry.link.subject})` : '';
  return new EnablementError(code, `delegation link ${index} of ${entries.length}${who}: ${why}`);
}

function revocationFailure(cause: unknown): EnablementError {
  if (EnablementError.is(cause)) return cause;
  return new EnablementError('PL-503', 'delegation revocation check failed', { cause });
}

function settleRevocation(entries: readonly CheckedLink[], item: PendingRevocation, answer: unknown): void {
  if (answer === false) return;
  if (answer === true) throw linkError('PL-410', entries, item.index, `${item.what} is revoked`);
  throw new EnablementError('PL-500', 'revocation checker returned a non-boolean answer');
}

function readOptions(options: ValidateDelegationSyncOptions | ValidateDelegationOptions) {
  if (typeof options !== 'object' || options === null) {
    throw new EnablementError('PL-400', 'options: expected an object');
  }
  const { clock } = options;
  if (!isClock(clock)) throw new EnablementError('PL-400', 'clock: expected a Clock');
  const maxLength = options.maxLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  if (!Number.isSafeInteger(maxLength) || maxLength < 1 || maxLength > MAX_CHAIN_LINKS) {
    throw new EnablementError('PL-400', `maxLength: expected an integer in [1, ${MAX_CHAIN_LINKS}]`);
  }
  let trustedRoots: ReadonlySet<string> | undefined;
  if (options.trustedRoots !== undefined) {
    if (!Array.isArray(options.trustedRoots) || options.trustedRoots.length > MAX_TRUSTED_ROOTS) {
      throw new EnablementError(
        'PL-400',
        `trustedRoots: expected an array of at most ${MAX_TRUSTED_ROOTS} NHIs`,
      );
    }
    trustedRoots = new Set(options.trustedRoots);
  }
  const now = clock.now();
  if (typeof now !== 'bigint') throw new EnablementError('PL-400', 'clock.now(): expected a bigint');
  return { now, maxLength, trustedRoots, provider: options.provider ?? nobleCryptoProvider };
}

/**
 * Every check that needs no revocation port, link by link; returns the revocation lookups to make.
 * The order inside a link matters: the signature first, so nothing unauthenticated is reasoned on.
 */
function checkChain(
  entries: readonly CheckedLink[],
  options: ValidateDelegationSyncOptions | ValidateDelegationOptions,
): PendingRevocation[] {
  const { now, maxLength, trustedRoots, provider } = readOptions(options);
  if (entries.length === 0) throw new EnablementError('PL-403', 'delegation chain is empty');
  if (entries.length > maxLength) {
    throw new EnablementError(
      'PL-403',
      `delegation chain has ${entries.length} links, more than the maximum of ${maxLength}`,
    );
  }
  const pending: PendingRevocation[] = [];
  let parent: CheckedLink | undefined;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as CheckedLink;
    const { link, issuer } = entry;
    const fail = (why: string, code: ErrorCode = 'PL-403') => linkError(code, entries, i, why);

    if (!provider.ed25519.verify(issuer.publicKeyEd25519, entry.signedBytes, link.signature)) {
      throw fail("issuer's signature does not verify", 'PL-401');
    }

    if (parent === undefined) {
      if (issuer.kind !== 'human' && issuer.kind !== 'service') {
        throw fail(`root issuer must be a human or service principal, not ${issuer.kind}`);
      }
      if (trustedRoots !== undefined && !trustedRoots.has(link.issuer)) {
        throw fail('root issuer is not a trusted root');
      }
      pending.push({ ref: { kind: 'principal', nhi: link.issuer }, index: i, what: `issuer ${link.issuer}` });
    } else if (link.issuer !== parent.link.subject) {
      throw fail(`issuer is not the subject of link ${i - 1} (${parent.link.subject})`);
    }

    if (now < link.notBefore) throw fail(`not valid before ${link.notBefore} ns (now ${now} ns)`);
    if (now >= link.expiresAt) throw fail(`expired at ${link.expiresAt} ns (now ${now} ns)`);

    if (parent !== undefined) {
      const p = parent.link;
      if (link.notBefore < p.notBefore || link.expiresAt > p.expiresAt) {
        throw fail(
          `validity [${link.notBefore}, ${link.expiresAt}) is not inside link ${i - 1}'s [${p.notBefore}, ${p.expiresAt})`,
        );
      }
      for (const capability of link.capabilities) {
        if (!p.capabilities.some((granted) => capabilityCovers(granted, capability))) {
          throw fail(
            `capability { action: ${capability.action}, resource: ${capability.resource} } is not covered by link ${i - 1}`,
          );
        }
      }
    }

    const id = linkIdOf(entry, provider);
    pending.push(
      { ref: { kind: 'principal', nhi: link.subject }, index: i, what: `subject ${link.subject}` },
      { ref: { kind: 'link', id }, index: i, what: `link ${id}` },
    );
    parent = entry;
  }
  return pending;
}
