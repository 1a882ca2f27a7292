import { EnablementError } from '../errors/enablement-error.js';
import { NHI_MAX_LENGTH, parseNhi } from '../identity/nhi.js';

/**
 * What can be revoked: a whole principal (every link it issued or received stops validating) or
 * one link, by its {@link delegationLinkId}.
 */
export type RevocationRef =
  | {
      /** A principal, by NHI. */
      readonly kind: 'principal';
      /** The principal's NHI string. */
      readonly nhi: string;
    }
  | {
      /** One delegation link. */
      readonly kind: 'link';
      /** The link id: 64 lowercase hex characters (see `delegationLinkId`). */
      readonly id: string;
    };

/**
 * The revocation port consulted by `DelegationChain.validate`. May be remote (the NHI service),
 * hence the optional promise. Must answer exactly `true` or `false`; anything else, a throw or a
 * rejection fails validation closed.
 */
export interface RevocationChecker {
  /** True when the principal or link is revoked. */
  isRevoked(ref: RevocationRef): boolean | Promise<boolean>;
}

/** A {@link RevocationChecker} that answers synchronously (usable by `validateSync`). */
export interface SyncRevocationChecker extends RevocationChecker {
  /** True when the principal or link is revoked. */
  isRevoked(ref: RevocationRef): boolean;
}

/** An in-memory revocation list (see {@link createRevocationList}). */
export interface RevocationList extends SyncRevocationChecker {
  /**
   * Revokes a principal or link; idempotent. Throws `PL-400` for a malformed reference and
   * `PL-409` when the list is full: an entry is never evicted, since forgetting a revocation
   * would silently re-enable what it revoked.
   */
  revoke(ref: RevocationRef): void;
  /** True when `ref` was revoked; `false` for anything unknown or malformed. */
  isRevoked(ref: RevocationRef): boolean;
  /** Number of entries held. */
  readonly size: number;
  /** Capacity (see {@link RevocationListOptions.maxEntries}). */
  readonly maxEntries: number;
}

/** Options of {@link createRevocationList}. */
export interface RevocationListOptions {
  /** Most entries held (principals plus links); default {@link DEFAULT_REVOCATION_LIST_MAX_ENTRIES}. */
  readonly maxEntries?: number;
}

/** Default capacity of {@link createRevocationList}: about 15 MB of keys at worst. */
export const DEFAULT_REVOCATION_LIST_MAX_ENTRIES = 100_000;

/** Largest capacity accepted by {@link createRevocationList}. */
export const MAX_REVOCATION_LIST_ENTRIES = 10_000_000;

const LINK_ID = /^[0-9a-f]{64}$/;

/** The canonical map key of a reference; `undefined` when it is malformed. */
function keyOf(ref: unknown): string | undefined {
  if (typeof ref !== 'object' || ref === null) return undefined;
  const r = ref as Record<string, unknown>;
  if (r.kind === 'principal' && typeof r.nhi === 'string' && r.nhi.length <= NHI_MAX_LENGTH)
    return `principal:${r.nhi}`;
  if (r.kind === 'link' && typeof r.id === 'string' && LINK_ID.test(r.id)) return `link:${r.id}`;
  return undefined;
}

/**
 * An in-memory {@link RevocationList}. Bounded by `maxEntries` (default 100 000): when full,
 * `revoke` throws `PL-409` instead of dropping an entry. Entries are kept for the life of the
 * process; a host that needs persistence or more capacity implements {@link RevocationChecker}
 * over its store (or the NHI service).
 *
 * @example
 * ```ts
 * const revocations = createRevocationList();
 * revocations.revoke({ kind: 'link', id: delegationLinkId(link) });
 * await chain.validate({ clock, revocation: revocations }); // throws PL-410
 * ```
 */
export function createRevocationList(options: RevocationListOptions = {}): RevocationList {
  const maxEntries = options.maxEntries ?? DEFAULT_REVOCATION_LIST_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_REVOCATION_LIST_ENTRIES) {
    throw new EnablementError(
      'PL-400',
      `maxEntries: expected an integer in [1, ${MAX_REVOCATION_LIST_ENTRIES}]`,
    );
  }
  const entries = new Set<string>();
  return Object.freeze({
    revoke(ref: RevocationRef): void {
      if (typeof ref === 'object' && ref !== null && ref.kind === 'principal') parseNhi(ref.nhi, 'ref.nhi');
      const key = keyOf(ref);
      if (key === undefined) {
        throw new EnablementError(
          'PL-400',
          "ref: expected { kind: 'principal', nhi } or { kind: 'link', id: <64 lowercase hex> }",
        );
      }
      if (entries.has(key)) return;
      if (entries.size >= maxEntries) {
        throw new EnablementError(
          'PL-409',
          `revocation list is full (${maxEntries} entries); nothing was evicted`,
        );
      }
      entries.add(key);
    },
    isRevoked(ref: RevocationRef): boolean {
      const key = keyOf(ref);
      return key !== undefined && entries.has(key);
    },
    get size(): number {
      return entries.size;
    },
    maxEntries,
  });
}
