import { EnablementError } from '@creto/core';

/** Most entries in one of a sandbox's `allowOut` / `denyOut` lists. */
export const MAX_NETWORK_RULES = 256;
/** Longest host name (RFC 1035 §2.3.4: 253 characters in text form). */
export const MAX_HOST_LENGTH = 253;

/**
 * A sandbox's own egress lists (E2B-style `allowOut` / `denyOut`). They can only NARROW what
 * authz allows (spec §3.2: every request is still checked against `network.egress` on
 * `network:<host>`): a host matching `denyOut` is refused, and when `allowOut` is given a host
 * must match it. Entries:
 *
 * - `example.com`: exactly that host (case-insensitive, IDNs compared in punycode);
 * - `*.example.com`: any subdomain of `example.com` (not `example.com` itself);
 * - `*`: any host;
 * - `203.0.113.7`, `[2001:db8::1]`: exactly that IP literal;
 * - `10.0.0.0/8`: any IPv4 address in the CIDR block.
 *
 * Rules match the URL's host as written: a name is not resolved, so a rule on an IP block does
 * not catch a host name that resolves into it (see the package README on DNS).
 */
export interface NetworkPolicy {
  /** Hosts the sandbox may reach (all that authz allows when absent). */
  readonly allowOut?: readonly string[];
  /** Hosts the sandbox may never reach; wins over `allowOut`. */
  readonly denyOut?: readonly string[];
}

type CompiledRule =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly host: string }
  | { readonly kind: 'suffix'; readonly suffix: string }
  | { readonly kind: 'cidr4'; readonly base: number; readonly mask: number };

/** A {@link NetworkPolicy} validated and compiled for matching. */
export interface CompiledNetworkPolicy {
  /** The allow rules, or `undefined` when every host authz allows is fine. */
  readonly allow: readonly CompiledRule[] | undefined;
  /** The deny rules. */
  readonly deny: readonly CompiledRule[];
  /** The normalized lists (what the spec hash and `getSandbox` show). */
  readonly normalized: { readonly allowOut?: readonly string[]; readonly denyOut?: readonly string[] };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABELS =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function invalid(field: string, why: string): EnablementError {
  return new EnablementError('RT-400', `${field}: ${why}`);
}

/** IPv4 dotted quad to an unsigned 32-bit number. */
function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/**
 * Normalizes a host the way the WHATWG URL parser does (lower case, punycode, IPv4 numeric forms
 * to dotted quads, IPv6 compressed in brackets); `undefined` when it is not a valid host.
 */
export function normalizeHost(host: string): string | undefined {
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_HOST_LENGTH + 2) return undefined;
  if (/[\s/?#@\\]/.test(host)) return undefined;
  // A port is not part of a host; only a bracketed IPv6 literal may hold ':'.
  if (host.startsWith('[') ? !host.endsWith(']') : host.includes(':')) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(`http://${host}/`);
  } catch {
    return undefined;
  }
  // A port or anything else besides the host makes it something other than a host.
  if (parsed.port !== '' || parsed.pathname !== '/' || parsed.username !== '' || parsed.password !== '') {
    return undefined;
  }
  const hostname = parsed.hostname.replace(/\.$/, '');
  if (hostname.startsWith('[')) return hostname;
  if (IPV4.test(hostname)) return hostname;
  return LABELS.test(hostname) ? hostname : undefined;
}

function compileRule(rule: unknown, field: string): { compiled: CompiledRule; text: string } {
  if (typeof rule !== 'string' || rule.length === 0 || rule.length > MAX_HOST_LENGTH + 2) {
    throw invalid(field, `expected a host rule of 1-${MAX_HOST_LENGTH + 2} characters`);
  }
  if (rule === '*') return { compiled: { kind: 'any' }, text: '*' };
  const cidr = /^([0-9.]+)\/(\d{1,2})$/.exec(rule);
  if (cidr !== null) {
    const [, ip = '', bits = ''] = cidr;
    const prefix = Number(bits);
    if (!IPV4.test(ip) || prefix > 32) throw invalid(field, `invalid IPv4 CIDR block '${rule}'`);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return {
      compiled: { kind: 'cidr4', base: (ipv4ToNumber(ip) & mask) >>> 0, mask },
      text: `${ip}/${prefix}`,
    };
  }
  if (rule.startsWith('*.')) {
    const suffix = normalizeHost(rule.slice(2));
    if (suffix === undefined || suffix.startsWith('[') || IPV4.test(suffix)) {
      throw invalid(field, `invalid wildcard host rule '${rule}' (expected '*.<domain>')`);
    }
    return { compiled: { kind: 'suffix', suffix: `.${suffix}` }, text: `*.${suffix}` };
  }
  const host = normalizeHost(rule);
  if (host === undefined) {
    throw invalid(field, `invalid host rule '${rule}' (expected a host, '*.<domain>', '*' or an IPv4 CIDR)`);
  }
  return { compiled: { kind: 'exact', host }, text: host };
}

function compileList(list: unknown, field: string): { rules: CompiledRule[]; texts: string[] } {
  if (!Array.isArray(list)) throw invalid(field, 'expected an array of host rules');
  if (list.length > MAX_NETWORK_RULES) throw invalid(field, `at most ${MAX_NETWORK_RULES} entries`);
  const rules: CompiledRule[] = [];
  const texts: string[] = [];
  list.forEach((rule, i) => {
    const { compiled, text } = compileRule(rule, `${field}[${i}]`);
    rules.push(compiled);
    texts.push(text);
  });
  return { rules, texts };
}

/** Validates and compiles a {@link NetworkPolicy}; `RT-400` naming the bad entry. */
export function compileNetworkPolicy(
  policy: NetworkPolicy | undefined,
  field = 'network',
): CompiledNetworkPolicy {
  if (policy === undefined) return { allow: undefined, deny: [], normalized: {} };
  if (typeof policy !== 'object' || policy === null) throw invalid(field, 'expected { allowOut?, denyOut? }');
  const extra = Object.keys(policy).filter((k) => k !== 'allowOut' && k !== 'denyOut');
  if (extra.length > 0) throw invalid(`${field}.${extra[0]}`, 'unknown field');
  const allow = policy.allowOut === undefined ? undefined : compileList(policy.allowOut, `${field}.allowOut`);
  const deny = policy.denyOut === undefined ? undefined : compileList(policy.denyOut, `${field}.denyOut`);
  return {
    allow: allow?.rules,
    deny: deny?.rules ?? [],
    normalized: {
      ...(allow === undefined ? {} : { allowOut: allow.texts }),
      ...(deny === undefined ? {} : { denyOut: deny.texts }),
    },
  };
}

function matches(rule: CompiledRule, host: string): boolean {
  switch (rule.kind) {
    case 'any':
      return true;
    case 'exact':
      return host === rule.host;
    case 'suffix':
      return host.endsWith(rule.suffix);
    case 'cidr4':
      return IPV4.test(host) && (ipv4ToNumber(host) & rule.mask) >>> 0 === rule.base;
  }
}

/**
 * Whether the sandbox's lists let `host` (already normalized, as {@link normalizeHost} returns
 * it) through; `reason` says which list refused it.
 */
export function networkPolicyAllows(
  policy: CompiledNetworkPolicy,
  host: string,
): { readonly allowed: boolean; readonly reason: string } {
  if (policy.deny.some((rule) => matches(rule, host))) {
    return { allowed: false, reason: `host ${host} matches the sandbox's denyOut list` };
  }
  if (policy.allow !== undefined && !policy.allow.some((rule) => matches(rule, host))) {
    return { allowed: false, reason: `host ${host} is not in the sandbox's allowOut list` };
  }
  return { allowed: true, reason: 'allowed by the sandbox network lists' };
}

/** Whether a normalized host is an IP literal (for the `destination_type` metric label). */
export function isIpHost(host: string): boolean {
  return host.startsWith('[') || IPV4.test(host);
}
