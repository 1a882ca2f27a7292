import { canonicalBytes } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { CRYPTO_SIZES, type CryptoProvider } from '../crypto/provider.js';
import { bytesToBase64url, bytesToHex, concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { INT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { isClock } from '../options/options.js';
import type { Clock, ConsensusTimestamp } from '../time/clock.js';
import { assertPattern, type Capability } from './pattern.js';

/** Length of a link's random nonce. */
export const DELEGATION_NONCE_LENGTH = 16;

/** Most capabilities one link may grant. */
export const MAX_CAPABILITIES_PER_LINK = 64;

/**
 * Domain-separation context prepended (with a 0x00 separator) to the canonical JSON of a link
 * body before signing. A principal's Ed25519 key also signs usage events, envelopes and approvals
 * as canonical JSON; no JSON text starts with `c`, so no other signed object can ever be mistaken
 * for a delegation link.
 */
export const DELEGATION_SIGNING_CONTEXT = 'creto-delegation-link-v1';

/** The `type` tag inside the signed JSON payload. */
export const DELEGATION_LINK_TYPE = 'creto.delegation.link';

/** The `version` inside the signed JSON payload. */
export const DELEGATION_LINK_VERSION = 1;

/**
 * One signed delegation: `issuer` grants `subject` the `capabilities`, valid in
 * `[notBefore, expiresAt)` (ConsensusTimestamp, Unix ns). Plain data; the wire codec maps it to
 * snake_case JSON. Create links with {@link issueDelegation}; check them with `DelegationChain`.
 */
export interface DelegationLink {
  /** NHI of the signer; its Ed25519 key (inside the NHI) verifies `signature`. */
  readonly issuer: string;
  /** NHI of the principal receiving the capabilities. */
  readonly subject: string;
  /** Granted capabilities (patterns); at most {@link MAX_CAPABILITIES_PER_LINK}, may be empty. */
  readonly capabilities: readonly Capability[];
  /** First instant the link is valid (inclusive). */
  readonly notBefore: ConsensusTimestamp;
  /** First instant the link is no longer valid (exclusive). */
  readonly expiresAt: ConsensusTimestamp;
  /** 16 random bytes: two grants with equal fields still get distinct bytes and link ids. */
  readonly nonce: Uint8Array;
  /** Issuer's 64-byte Ed25519 signature over {@link delegationSigningBytes}. */
  readonly signature: Uint8Array;
}

/** A link without its signature: the part that is signed. */
export type DelegationLinkBody = Omit<DelegationLink, 'signature'>;

/** A link whose structure was checked, with its parsed principals and signed bytes. @internal */
export interface CheckedLink {
  readonly link: DelegationLink;
  readonly issuer: AgentIdentity;
  readonly subject: AgentIdentity;
  readonly signedBytes: Uint8Array;
}

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

function checkTimestamp(value: unknown, field: string): bigint {
  if (typeof value !== 'bigint') throw bad(field, 'expected a bigint (Unix nanoseconds)');
  if (value < 0n || value > INT64_MAX) throw bad(field, 'out of range (0 to 2^63-1 ns)');
  return value;
}

function checkBytes(value: unknown, length: number, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw bad(field, 'expected a Uint8Array');
  if (value.length !== length) throw bad(field, `expected ${length} bytes, got ${value.length}`);
  return value.slice();
}

function checkCapabilities(value: unknown, field: string): readonly Capability[] {
  if (!Array.isArray(value)) throw bad(field, 'expected an array');
  const length = value.length; // read once: a hostile array cannot grow while we copy it
  if (length > MAX_CAPABILITIES_PER_LINK) {
    throw bad(field, `at most ${MAX_CAPABILITIES_PER_LINK} capabilities per link`);
  }
  const out: Capability[] = [];
  for (let i = 0; i < length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'object' || item === null)
      throw bad(`${field}[${i}]`, 'expected { action, resource }');
    const { action, resource } = item as Record<string, unknown>;
    assertPattern(action, `${field}[${i}].action`);
    assertPattern(resource, `${field}[${i}].resource`);
    out.push(Object.freeze({ action, resource }));
  }
  return Object.freeze(out);
}

/** Structural checks of a body; returns a frozen deep copy with parsed principals. */
function checkBody(
  value: unknown,
  field: string,
): { body: DelegationLinkBody; issuer: AgentIdentity; subject: AgentIdentity } {
  if (typeof value !== 'object' || value === null) throw bad(field, 'expected a delegation link object');
  const o = value as Record<string, unknown>;
  const issuer = parseIdentity(o.issuer, `${field}.issuer`);
  const subject = parseIdentity(o.subject, `${field}.subject`);
  const capabilities = checkCapabilities(o.capabilities, `${field}.capabilities`);
  const notBefore = checkTimestamp(o.notBefore, `${field}.notBefore`);
  const expiresAt = checkTimestamp(o.expiresAt, `${field}.expiresAt`);
  if (expiresAt <= notBefore) throw bad(`${field}.expiresAt`, 'must be later than notBefore');
  const nonce = checkBytes(o.nonce, DELEGATION_NONCE_LENGTH, `${field}.nonce`);
  const body = { issuer: issuer.nhi, subject: subject.nhi, capabilities, notBefore, expiresAt, nonce };
  return { body, issuer, subject };
}

function parseIdentity(value: unknown, field: string): AgentIdentity {
  if (typeof value !== 'string') throw bad(field, 'expected an NHI string');
  return AgentIdentity.fromNhi(value, { field });
}

/** The exact bytes signed for an already-checked body (see {@link delegationSigningBytes}). */
function signingBytesOf(body: DelegationLinkBody): Uint8Array {
  const payload = {
    type: DELEGATION_LINK_TYPE,
    version: DELEGATION_LINK_VERSION,
    issuer: body.issuer,
    subject: body.subject,
    capabilities: body.capabilities.map((c) => ({ action: c.action, resource: c.resource })),
    not_before: body.notBefore.toString(),
    expires_at: body.expiresAt.toString(),
    nonce: bytesToBase64url(body.nonce),
  };
  return concatBytes(utf8ToBytes(DELEGATION_SIGNING_CONTEXT), Uint8Array.of(0), canonicalBytes(payload));
}

/** Structural check of a whole link (see {@link normalizeDelegationLink}). @internal */
export function checkLink(value: unknown, field = 'link'): CheckedLink {
  const { body, issuer, subject } = checkBody(value, field);
  const signature = checkBytes(
    (value as Record<string, unknown>).signature,
    CRYPTO_SIZES.ed25519Signature,
    `${field}.signature`,
  );
  const link: DelegationLink = Object.freeze({ ...body, signature });
  return Object.freeze({ link, issuer, subject, signedBytes: signingBytesOf(body) });
}

/**
 * Checks the structure of an untrusted link and returns a frozen deep copy (the byte arrays are
 * copied, so later changes to the input cannot alter it). Throws `PL-400` naming the field:
 * issuer/subject must be NHIs, capabilities valid patterns (at most
 * {@link MAX_CAPABILITIES_PER_LINK}), times int64 nanoseconds with `notBefore < expiresAt`, a
 * 16-byte nonce and a 64-byte signature. The signature is NOT verified here: that, and every
 * semantic check, is `DelegationChain.validate`'s job.
 */
export function normalizeDelegationLink(value: unknown, field = 'link'): DelegationLink {
  return checkLink(value, field).link;
}

/**
 * The exact bytes an issuer signs (a wire format; docs/delegation.md):
 *
 * ```
 * UTF-8("creto-delegation-link-v1") ‖ 0x00 ‖ JCS({
 *   "type": "creto.delegation.link", "version": 1,
 *   "issuer": <NHI>, "subject": <NHI>,
 *   "capabilities": [{ "action": <pattern>, "resource": <pattern> }, ...],   // order kept
 *   "not_before": <int64 decimal string>, "expires_at": <int64 decimal string>,
 *   "nonce": <base64url, no padding>
 * })
 * ```
 *
 * where JCS is RFC 8785 canonical JSON. Throws `PL-400` for a structurally invalid body.
 */
export function delegationSigningBytes(body: DelegationLinkBody): Uint8Array {
  return signingBytesOf(checkBody(body, 'link').body);
}

/**
 * The link id used for revocation: lowercase hex of SHA-256 over {@link delegationSigningBytes}.
 * The signed bytes include the nonce, so every issued link has its own id; the signature is
 * excluded because strict Ed25519 admits only one valid signature per key and message anyway.
 */
export function delegationLinkId(
  link: DelegationLinkBody,
  provider: CryptoProvider = nobleCryptoProvider,
): string {
  return bytesToHex(provider.sha256(delegationSigningBytes(link)));
}

/** Link id of an already-checked link. @internal */
export function linkIdOf(checked: CheckedLink, provider: CryptoProvider): string {
  return bytesToHex(provider.sha256(checked.signedBytes));
}

/** Options of {@link issueDelegation}. */
export interface IssueDelegationOptions {
  /** The issuer's key pair; it signs the link. */
  readonly issuer: AgentKeyPair;
  /** Who receives the capabilities: an identity or its NHI. */
  readonly subject: AgentIdentity | string;
  /** Granted capabilities (validated patterns); at most {@link MAX_CAPABILITIES_PER_LINK}. */
  readonly capabilities: readonly Capability[];
  /** Start of validity; default `clock.now()`. */
  readonly notBefore?: ConsensusTimestamp;
  /** End of validity (exclusive); must be after `notBefore` and after `clock.now()`. */
  readonly expiresAt: ConsensusTimestamp;
  /** Source of time (ARCHITECTURE §3: never the wall clock directly). */
  readonly clock: Clock;
  /** Randomness for the nonce; default `nobleCryptoProvider`. Signing uses the issuer's provider. */
  readonly provider?: CryptoProvider;
}

/**
 * Issues a signed delegation link from `issuer` to `subject`. Throws `PL-400` for invalid input
 * (bad subject NHI, invalid patterns, an empty or already-past validity window).
 *
 * @example
 * ```ts
 * const link = issueDelegation({
 *   issuer: human, subject: agent.identity, clock,
 *   capabilities: [{ action: 'payment.*', resource: 'invoice:*' }],
 *   expiresAt: clock.now() + 3_600_000_000_000n,
 * });
 * ```
 */
export function issueDelegation(options: IssueDelegationOptions): DelegationLink {
  if (typeof options !== 'object' || options === null) throw bad('options', 'expected an object');
  const { issuer, subject, clock } = options;
  if (!(issuer instanceof AgentKeyPair)) throw bad('issuer', 'expected an AgentKeyPair');
  if (!isClock(clock)) throw bad('clock', 'expected a Clock');
  const now = clock.now();
  const provider = options.provider ?? nobleCryptoProvider;
  const subjectNhi = subject instanceof AgentIdentity ? subject.nhi : subject;
  const { body } = checkBody(
    {
      issuer: issuer.identity.nhi,
      subject: subjectNhi,
      capabilities: options.capabilities,
      notBefore: options.notBefore ?? now,
      expiresAt: options.expiresAt,
      nonce: provider.randomBytes(DELEGATION_NONCE_LENGTH),
    },
    'delegation',
  );
  if (body.expiresAt <= now) throw bad('delegation.expiresAt', 'must be in the future');
  const signature = issuer.sign(signingBytesOf(body));
  return Object.freeze({ ...body, signature });
}
