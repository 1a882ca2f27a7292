import {
  EnablementError,
  MAX_OVERSIGHT_TIERS,
  MAX_TIER_APPROVERS,
  MAX_TIER_TIMEOUT_MS,
  OVERSIGHT_FINAL_ACTIONS,
  type OversightRequirement,
  type OversightTier,
  PRINCIPAL_LIMITS,
  parseNhi,
} from '@creto/core';

/** Prefix of a tier entry naming every principal with a role (`role:cfo`). */
export const ROLE_ENTRY_PREFIX = 'role:';
/** Prefix of a tier entry naming every principal in a group (`group:finance`). */
export const GROUP_ENTRY_PREFIX = 'group:';

/**
 * One entry of a tier's `approvers`: a principal by NHI, or every principal whose NHI
 * registration lists a role (`role:<name>`) or group (`group:<name>`). The names are matched
 * exactly against `Principal.roles` / `Principal.groups` (so `group:team:payments` matches the
 * group `team:payments`). NHIs start with `agent:`, `human:` or `service:`, so the prefixes never
 * collide with one.
 */
export type ApproverEntry =
  | { readonly kind: 'principal'; readonly nhi: string }
  | { readonly kind: 'role'; readonly name: string }
  | { readonly kind: 'group'; readonly name: string };

/** What eligibility is decided on: a verified approver's NHI, roles and groups. */
export interface ApproverProfile {
  /** The approver's NHI. */
  readonly nhi: string;
  /** Roles from the NHI registry. */
  readonly roles: readonly string[];
  /** Groups from the NHI registry. */
  readonly groups: readonly string[];
}

// Role and group names as the NHI registry bounds them; no control characters (they end up in
// notification recipients and logs).
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const NAME = /^[^\u0000-\u001F\u007F]+$/;

function bad(field: string, why: string): EnablementError {
  return new EnablementError('OV-400', `${field}: ${why}`);
}

/** Parses one tier entry; `OV-400` naming `field` when it is neither an NHI nor `role:`/`group:`. */
export function parseApproverEntry(text: unknown, field = 'approver'): ApproverEntry {
  if (typeof text !== 'string') throw bad(field, 'expected a string');
  for (const [prefix, kind] of [
    [ROLE_ENTRY_PREFIX, 'role'],
    [GROUP_ENTRY_PREFIX, 'group'],
  ] as const) {
    if (!text.startsWith(prefix)) continue;
    const name = text.slice(prefix.length);
    if (name.length === 0 || name.length > PRINCIPAL_LIMITS.maxRoleLength || !NAME.test(name)) {
      throw bad(
        field,
        `expected '${prefix}<name>' with a name of 1-${PRINCIPAL_LIMITS.maxRoleLength} characters`,
      );
    }
    return { kind, name };
  }
  try {
    parseNhi(text, field);
  } catch (cause) {
    throw new EnablementError('OV-400', `${field}: expected an NHI, 'role:<name>' or 'group:<name>'`, {
      cause,
    });
  }
  return { kind: 'principal', nhi: text };
}

/** True when `profile` is named by `entry`. */
export function entryMatches(entry: ApproverEntry, profile: ApproverProfile): boolean {
  switch (entry.kind) {
    case 'principal':
      return entry.nhi === profile.nhi;
    case 'role':
      return profile.roles.includes(entry.name);
    case 'group':
      return profile.groups.includes(entry.name);
  }
}

/**
 * Indices of the tiers among `tiers` (indices into the requirement) whose approvers name
 * `profile`, in ascending order.
 */
export function matchingTiers(
  requirement: OversightRequirement,
  profile: ApproverProfile,
  tiers: readonly number[],
): number[] {
  const out: number[] = [];
  for (const index of tiers) {
    const tier = requirement.tiers[index];
    if (tier === undefined) continue;
    if (tier.approvers.some((text) => entryMatches(parseApproverEntry(text), profile))) out.push(index);
  }
  return out;
}

function integer(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(field, `expected an integer in [${min}, ${max}]`);
  }
  return value;
}

/**
 * Validates an `OversightRequirement` and returns a fresh frozen copy; `OV-400` naming the path.
 *
 * The bounds are core's wire bounds (1–8 tiers, 1–32 entries per tier, no duplicate entry, 1 ms
 * to 30 days per tier), with one extension: an entry may be `role:<name>` or `group:<name>` as
 * well as an NHI. A tier made of NHIs only needs `quorum ≤ approvers.length` (m of n); a tier
 * with a role or group entry may ask for up to 32 distinct approvers, since a role can name many
 * principals. Core's wire codec accepts NHIs only, so a requirement with role or group entries
 * can be given to the engine in TypeScript but not carried in a `RuntimeOversightRequestWire`.
 */
export function validateRequirement(input: unknown, field = 'requirement'): OversightRequirement {
  if (typeof input !== 'object' || input === null) throw bad(field, 'expected an object');
  const { tiers, finalAction } = input as Partial<OversightRequirement>;
  if (!Array.isArray(tiers) || tiers.length < 1 || tiers.length > MAX_OVERSIGHT_TIERS) {
    throw bad(`${field}.tiers`, `expected 1-${MAX_OVERSIGHT_TIERS} tiers`);
  }
  if (!(OVERSIGHT_FINAL_ACTIONS as readonly unknown[]).includes(finalAction)) {
    throw bad(`${field}.finalAction`, `expected one of ${OVERSIGHT_FINAL_ACTIONS.join(', ')}`);
  }
  const extra = Object.keys(input).filter((key) => key !== 'tiers' && key !== 'finalAction');
  if (extra.length > 0) throw bad(field, `unknown member ${extra[0]}`);
  const copy: OversightTier[] = [];
  tiers.forEach((tier: unknown, i) => {
    const at = `${field}.tiers[${i}]`;
    if (typeof tier !== 'object' || tier === null) throw bad(at, 'expected an object');
    const { approvers, quorum, timeoutMs } = tier as Partial<OversightTier>;
    const unknownKey = Object.keys(tier).find(
      (k) => k !== 'approvers' && k !== 'quorum' && k !== 'timeoutMs',
    );
    if (unknownKey !== undefined) throw bad(at, `unknown member ${unknownKey}`);
    if (!Array.isArray(approvers) || approvers.length < 1 || approvers.length > MAX_TIER_APPROVERS) {
      throw bad(`${at}.approvers`, `expected 1-${MAX_TIER_APPROVERS} entries`);
    }
    let onlyPrincipals = true;
    approvers.forEach((entry: unknown, j) => {
      const parsed = parseApproverEntry(entry, `${at}.approvers[${j}]`);
      if (parsed.kind !== 'principal') onlyPrincipals = false;
    });
    if (new Set(approvers).size !== approvers.length) throw bad(`${at}.approvers`, 'duplicate approver');
    const q = integer(quorum, 1, MAX_TIER_APPROVERS, `${at}.quorum`);
    if (onlyPrincipals && q > approvers.length) {
      throw bad(`${at}.quorum`, `quorum ${q} exceeds the ${approvers.length} approver(s)`);
    }
    const t = integer(timeoutMs, 1, MAX_TIER_TIMEOUT_MS, `${at}.timeoutMs`);
    copy.push(
      Object.freeze({ approvers: Object.freeze([...approvers]) as string[], quorum: q, timeoutMs: t }),
    );
  });
  return Object.freeze({ tiers: Object.freeze(copy) as OversightTier[], finalAction: finalAction as never });
}

/** Every principal NHI named literally in the requirement (role and group entries excluded). */
export function namedPrincipals(requirement: OversightRequirement): string[] {
  const out = new Set<string>();
  for (const tier of requirement.tiers) {
    for (const text of tier.approvers) {
      if (!text.startsWith(ROLE_ENTRY_PREFIX) && !text.startsWith(GROUP_ENTRY_PREFIX)) out.add(text);
    }
  }
  return [...out];
}
