import { z } from 'zod';
import { canonicalBytes, canonicalize } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { CRYPTO_SIZES, type CryptoProvider } from '../crypto/provider.js';
import {
  base64urlToBytes,
  bytesToBase64url,
  bytesToUtf8,
  concatBytes,
  constantTimeEqual,
  utf8ToBytes,
} from '../encoding/bytes.js';
import { INT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { parseNhi } from '../identity/nhi.js';
import { type Clock, type ConsensusTimestamp, systemClock } from '../time/clock.js';
import { ACTION_PARAMETERS_BOUNDS, assertBoundedJson } from '../wire/json.js';
import { type Json, sameCanonicalJson } from './json-equal.js';
import { hasNoControlCharacters, NHI_SHAPE, PRINTABLE } from './text.js';

/** The `type` tag inside the signed payload. */
export const OVERRIDE_TOKEN_TYPE = 'creto.override_token';

/** The `version` inside the signed payload. */
export const OVERRIDE_TOKEN_VERSION = 1;

/**
 * Domain separation: the issuer signs `UTF-8(context) ‖ 0x00 ‖ payload`, so no other object the
 * key signs (delegation links, usage events, approvals) can pass for an override token.
 */
export const OVERRIDE_TOKEN_SIGNING_CONTEXT = 'creto-override-token-v1';

/** Longest token accepted, checked before any decoding. */
export const MAX_OVERRIDE_TOKEN_LENGTH = 8192;

/** Default bound on the tokens a validator tracks (verified payloads and use counts). */
export const DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS = 100_000;

/** Most trusted issuers of one validator. */
export const MAX_TRUSTED_OVERRIDE_ISSUERS = 1024;

/** Length of the random token id, in bytes (22 base64url characters). */
const TOKEN_ID_BYTES = 16;

/**
 * Characters of a seen token's lookup key: the last 12 of its signature (72 bits that no two
 * tokens share in practice; a clash only costs a re-verification, since the whole string must then
 * equal the verified one). Hashing a whole ~700-character token that arrives as a fresh string
 * would cost more than the 500 ns budget; 12 characters are copied and hashed in a few tens of ns.
 */
const LOOKUP_KEY_CHARS = 12;

/** The verified content of an override token (TypeScript shape; the wire payload is snake_case). */
export interface OverrideTokenClaims {
  /** Random id (base64url of 16 bytes); with `issuer`, the key of the use count. */
  readonly tokenId: string;
  /** NHI of the signer (Oversight's service identity). */
  readonly issuer: string;
  /** The principal the approved call is for. */
  readonly principal: string;
  /** The approved action. */
  readonly action: string;
  /** The approved resource. */
  readonly resource: string;
  /** Base64url SHA-256 of the RFC 8785 canonical arguments of the approved call. */
  readonly argumentsSha256: string;
  /** When it was issued (Unix ns). */
  readonly issuedAt: ConsensusTimestamp;
  /** First instant it is no longer valid (Unix ns, exclusive). */
  readonly expiresAt: ConsensusTimestamp;
  /** How many validations it allows. */
  readonly maxUses: number;
  /** The oversight request that approved the call. */
  readonly requestId: string;
}

/** Options of {@link issueOverrideToken}. */
export interface IssueOverrideTokenOptions {
  /** The issuer's key pair (Oversight's service identity); it signs the token. */
  readonly signer: AgentKeyPair;
  /** NHI of the principal whose call was approved. */
  readonly principal: string;
  /** The approved action. */
  readonly action: string;
  /** The approved resource. */
  readonly resource: string;
  /** The approved call's arguments: the request `context` authz will see (JSON, at most 64 KiB). */
  readonly arguments: unknown;
  /** End of validity (Unix ns, exclusive); must be after `clock.now()`. */
  readonly expiresAt: ConsensusTimestamp;
  /** Validations allowed; default 1 (single use). */
  readonly maxUses?: number;
  /** The approving oversight request's id (1–128 printable ASCII characters, e.g. a UUID). */
  readonly requestId: string;
  /** Time source for `issued_at` (ARCHITECTURE §3). */
  readonly clock: Clock;
  /** Randomness and hashing; default `nobleCryptoProvider`. Signing uses the signer's provider. */
  readonly provider?: CryptoProvider;
}

/** The call a token is validated against. */
export interface OverrideTokenCall {
  /** NHI of the principal making the call. */
  readonly principal: string;
  /** The action. */
  readonly action: string;
  /** The resource. */
  readonly resource: string;
  /** The call's arguments (the request `context`); absent means `{}`. */
  readonly arguments?: unknown;
}

/** Options of {@link createOverrideTokenValidator}. */
export interface OverrideTokenValidatorOptions {
  /** NHIs whose tokens are accepted (at most 1024); tokens from anyone else fail with `PL-401`. */
  readonly trustedIssuers: readonly string[];
  /** Time source for expiry; default `systemClock`. */
  readonly clock?: Clock;
  /** Hashing and signature verification; default `nobleCryptoProvider`. */
  readonly provider?: CryptoProvider;
  /**
   * Most tokens tracked at once (default {@link DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS}). A token is
   * tracked from its first validation until it expires; expired entries are swept when the table
   * is full, and a table full of live tokens refuses new ones with `PL-503` (forgetting a use
   * count would let a single-use token be replayed).
   */
  readonly maxTrackedTokens?: number;
}

/** Validates override tokens and counts their uses (see {@link createOverrideTokenValidator}). */
export interface OverrideTokenValidator {
  /**
   * Checks `token` against `call` and consumes one use; returns the claims. Throws `PL-400`
   * (malformed), `PL-401` (untrusted issuer or bad signature), `OV-410` (expired, or all uses
   * consumed), `PL-403` (principal, action, resource or arguments differ) or `PL-503` (tracking
   * table full of live tokens). A failed validation consumes nothing.
   */
  validate(token: string, call: OverrideTokenCall): OverrideTokenClaims;
  /** Number of tokens currently tracked. */
  readonly trackedTokens: number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const INT64_TEXT = /^(0|[1-9][0-9]{0,18})$/;

const int64Text = z
  .string()
  .regex(INT64_TEXT, 'expected a non-negative int64 decimal string')
  .refine((text) => BigInt(text) <= INT64_MAX, 'out of int64 range');

const payloadSchema = z
  .strictObject({
    type: z.literal(OVERRIDE_TOKEN_TYPE),
    version: z.literal(OVERRIDE_TOKEN_VERSION),
    token_id: z.string().length(22).regex(BASE64URL),
    issuer: z.string().regex(NHI_SHAPE, 'expected an NHI'),
    principal: z.string().regex(NHI_SHAPE, 'expected an NHI'),
    action: z.string().max(1024).regex(PRINTABLE),
    resource: z
      .string()
      .min(1)
      .max(1024)
      .refine(hasNoControlCharacters, 'control characters are not allowed'),
    arguments_sha256: z.string().length(43).regex(BASE64URL),
    issued_at: int64Text,
    expires_at: int64Text,
    max_uses: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    request_id: z.string().max(128).regex(PRINTABLE),
  })
  .check((payload) => {
    const { issued_at, expires_at } = payload.value;
    if (
      INT64_TEXT.test(issued_at) &&
      INT64_TEXT.test(expires_at) &&
      BigInt(expires_at) <= BigInt(issued_at)
    ) {
      payload.issues.push({
        code: 'custom',
        message: 'must be later than issued_at',
        input: expires_at,
        path: ['expires_at'],
      });
    }
  });

type Payload = z.output<typeof payloadSchema>;

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

function signingBytes(payload: Uint8Array): Uint8Array {
  return concatBytes(utf8ToBytes(OVERRIDE_TOKEN_SIGNING_CONTEXT), Uint8Array.of(0), payload);
}

function claimsOf(p: Payload): OverrideTokenClaims {
  return Object.freeze({
    tokenId: p.token_id,
    issuer: p.issuer,
    principal: p.principal,
    action: p.action,
    resource: p.resource,
    argumentsSha256: p.arguments_sha256,
    issuedAt: BigInt(p.issued_at),
    expiresAt: BigInt(p.expires_at),
    maxUses: p.max_uses,
    requestId: p.request_id,
  });
}

/**
 * Base64url SHA-256 of the RFC 8785 canonical form of `args` (what a token binds). `PL-400` when
 * `args` is not a JSON value.
 */
export function overrideTokenArgumentsHash(
  args: unknown,
  provider: CryptoProvider = nobleCryptoProvider,
): string {
  return bytesToBase64url(provider.sha256(canonicalBytes(args)));
}

function checkText(value: unknown, valid: (text: string) => boolean, max: number, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !valid(value)) {
    throw bad(
      field,
      `expected 1-${max} characters${valid === isPrintable ? ' of printable ASCII' : ' without control characters'}`,
    );
  }
  return value;
}

const isPrintable = (text: string): boolean => PRINTABLE.test(text);

/**
 * Issues an override token: Oversight calls it when a request is approved, and the caller
 * presents the token with the exact approved call (docs/authz.md "Override tokens"). The format is
 *
 * ```
 * token     = base64url(payload) "." base64url(signature)            (RFC 4648 §5, no padding)
 * payload   = JCS({ "type": "creto.override_token", "version": 1, "token_id", "issuer",
 *                   "principal", "action", "resource", "arguments_sha256", "issued_at",
 *                   "expires_at", "max_uses", "request_id" })           (RFC 8785)
 * signature = Ed25519(issuer key, UTF-8("creto-override-token-v1") ‖ 0x00 ‖ payload)  (RFC 8032)
 * ```
 *
 * with times as int64 decimal strings (Unix ns) and `arguments_sha256` the base64url SHA-256 of
 * the canonical arguments. Throws `PL-400` naming the bad option.
 *
 * @example
 * ```ts
 * const token = issueOverrideToken({
 *   signer: oversightKeys, principal: agent.nhi, action: 'funds.transfer',
 *   resource: 'payments:account:ops', arguments: { amount: 50000 },
 *   expiresAt: clock.now() + 600_000_000_000n, requestId, clock,
 * });
 * ```
 */
export function issueOverrideToken(options: IssueOverrideTokenOptions): string {
  if (typeof options !== 'object' || options === null) throw bad('options', 'expected an object');
  const { signer, clock } = options;
  if (!(signer instanceof AgentKeyPair)) throw bad('signer', 'expected an AgentKeyPair');
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw bad('clock', 'expected a Clock');
  }
  const provider = options.provider ?? nobleCryptoProvider;
  parseNhi(options.principal, 'principal');
  const action = checkText(options.action, isPrintable, 1024, 'action');
  const resource = checkText(options.resource, hasNoControlCharacters, 1024, 'resource');
  const requestId = checkText(options.requestId, isPrintable, 128, 'requestId');
  const maxUses = options.maxUses ?? 1;
  if (!Number.isSafeInteger(maxUses) || maxUses < 1) throw bad('maxUses', 'expected a positive safe integer');
  const now = clock.now();
  const { expiresAt } = options;
  if (typeof expiresAt !== 'bigint' || expiresAt > INT64_MAX) {
    throw bad('expiresAt', 'expected a bigint (Unix ns) within int64');
  }
  if (expiresAt <= now) throw bad('expiresAt', 'must be in the future');
  try {
    assertBoundedJson(options.arguments, ACTION_PARAMETERS_BOUNDS);
  } catch (cause) {
    throw bad('arguments', cause instanceof Error ? cause.message : 'not a JSON value');
  }
  const payload: Payload = {
    type: OVERRIDE_TOKEN_TYPE,
    version: OVERRIDE_TOKEN_VERSION,
    token_id: bytesToBase64url(provider.randomBytes(TOKEN_ID_BYTES)),
    issuer: signer.identity.nhi,
    principal: options.principal,
    action,
    resource,
    arguments_sha256: overrideTokenArgumentsHash(options.arguments, provider),
    issued_at: now.toString(),
    expires_at: expiresAt.toString(),
    max_uses: maxUses,
    request_id: requestId,
  };
  const bytes = canonicalBytes(payload);
  return `${bytesToBase64url(bytes)}.${bytesToBase64url(signer.sign(signingBytes(bytes)))}`;
}

/** A token split and decoded, not yet verified. */
interface DecodedToken {
  readonly payload: Payload;
  readonly payloadBytes: Uint8Array;
  readonly signature: Uint8Array;
}

function decode(token: unknown): DecodedToken {
  if (typeof token !== 'string') throw bad('overrideToken', 'expected a string');
  if (token.length > MAX_OVERRIDE_TOKEN_LENGTH) {
    throw bad('overrideToken', `longer than ${MAX_OVERRIDE_TOKEN_LENGTH} characters`);
  }
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) {
    throw bad('overrideToken', "expected '<base64url payload>.<base64url signature>'");
  }
  const payloadBytes = base64urlToBytes(token.slice(0, dot));
  const signature = base64urlToBytes(token.slice(dot + 1));
  if (signature.length !== CRYPTO_SIZES.ed25519Signature) {
    throw bad('overrideToken', `signature must be ${CRYPTO_SIZES.ed25519Signature} bytes`);
  }
  const text = bytesToUtf8(payloadBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad('overrideToken', 'payload is not JSON');
  }
  const result = payloadSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined ? '' : `.${issue.path.join('.')}`;
    throw bad(`overrideToken${where}`, issue?.message ?? 'invalid payload');
  }
  // One token, one spelling: the signed bytes must be the canonical form of what they say.
  if (canonicalize(json) !== text) throw bad('overrideToken', 'payload is not RFC 8785 canonical JSON');
  return { payload: result.data, payloadBytes, signature };
}

/**
 * The claims of a token WITHOUT verifying it (for display and logs only; never authorise on
 * them). Throws `PL-400` when the token is malformed.
 */
export function decodeOverrideToken(token: string): OverrideTokenClaims {
  return claimsOf(decode(token).payload);
}

/** How many times a token (issuer + token id) was used. */
interface UseState {
  used: number;
  readonly expiresAt: bigint;
}

/** A verified token, found by the last characters of its signature and checked against its exact string. */
interface TokenEntry {
  /** The exact token string that was verified. */
  readonly token: string;
  readonly claims: OverrideTokenClaims;
  readonly argumentsHash: Uint8Array;
  readonly uses: UseState;
  /** The canonical arguments the token was last checked against (fast-path witness). */
  witness: Json | undefined;
}

function mismatch(field: string, expected: string, got: string): EnablementError {
  return new EnablementError(
    'PL-403',
    `override token does not match the call: ${field} is ${got}, token is for ${expected}`,
  );
}

/**
 * A validator of override tokens with use counting (spec §3.2: validation < 500 ns for a seen
 * token). The first validation of a token string decodes it and verifies the issuer's signature;
 * the verified claims are then kept, keyed by the exact token string, so later validations skip
 * only the decoding and the signature, never the binding, expiry and use checks. Arguments are
 * compared with the canonical value they were last verified against (`sameCanonicalJson`), and
 * hashed again only when they differ.
 *
 * Memory is bounded by `maxTrackedTokens`; an entry lives until its token expires.
 */
export function createOverrideTokenValidator(options: OverrideTokenValidatorOptions): OverrideTokenValidator {
  if (typeof options !== 'object' || options === null) throw bad('options', 'expected an object');
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw bad('clock', 'expected a Clock');
  }
  const provider = options.provider ?? nobleCryptoProvider;
  const max = options.maxTrackedTokens ?? DEFAULT_MAX_TRACKED_OVERRIDE_TOKENS;
  if (!Number.isSafeInteger(max) || max < 1 || max > 10_000_000) {
    throw bad('maxTrackedTokens', 'expected an integer in [1, 10000000]');
  }
  const issuers = options.trustedIssuers;
  if (!Array.isArray(issuers) || issuers.length > MAX_TRUSTED_OVERRIDE_ISSUERS) {
    throw bad('trustedIssuers', `expected an array of at most ${MAX_TRUSTED_OVERRIDE_ISSUERS} NHIs`);
  }
  const keys = new Map<string, Uint8Array>();
  issuers.forEach((nhi, i) => {
    keys.set(nhi, parseNhi(nhi, `trustedIssuers[${i}]`).publicKey);
  });

  const entries = new Map<string, TokenEntry>();
  /** The entry of the last token validated (dropped with the others when swept). */
  let last: TokenEntry | undefined;
  const uses = new Map<string, UseState>();

  function sweep(now: bigint): void {
    if (last !== undefined && now >= last.claims.expiresAt) last = undefined;
    for (const [key, entry] of entries) if (now >= entry.claims.expiresAt) entries.delete(key);
    for (const [key, state] of uses) if (now >= state.expiresAt) uses.delete(key);
  }

  function verify(token: string, now: bigint): TokenEntry {
    const { payload, payloadBytes, signature } = decode(token);
    const key = keys.get(payload.issuer);
    if (key === undefined) {
      throw new EnablementError('PL-401', `override token issuer ${payload.issuer} is not trusted`);
    }
    if (!provider.ed25519.verify(key, signingBytes(payloadBytes), signature)) {
      throw new EnablementError('PL-401', 'override token signature does not verify');
    }
    const claims = claimsOf(payload);
    if (entries.size >= max || uses.size >= max) sweep(now);
    if (entries.size >= max || uses.size >= max) {
      throw new EnablementError('PL-503', `override token table is full (${max} live tokens)`, {
        retryable: true,
      });
    }
    const useKey = `${claims.issuer}\n${claims.tokenId}`;
    let state = uses.get(useKey);
    if (state === undefined) {
      state = { used: 0, expiresAt: claims.expiresAt };
      uses.set(useKey, state);
    }
    const entry: TokenEntry = {
      token,
      claims,
      argumentsHash: base64urlToBytes(claims.argumentsSha256),
      uses: state,
      witness: undefined,
    };
    entries.set(token.slice(-LOOKUP_KEY_CHARS), entry);
    return entry;
  }

  function checkArguments(entry: TokenEntry, args: unknown): void {
    if (entry.witness !== undefined && sameCanonicalJson(args, entry.witness)) return;
    let canonical: string;
    try {
      canonical = canonicalize(args);
    } catch (cause) {
      throw new EnablementError('PL-400', 'arguments: not a JSON value', { cause });
    }
    const hash = provider.sha256(utf8ToBytes(canonical));
    if (!constantTimeEqual(hash, entry.argumentsHash)) {
      throw new EnablementError('PL-403', 'override token does not match the call: arguments differ');
    }
    entry.witness = deepFreeze(JSON.parse(canonical) as Json);
  }

  return Object.freeze({
    validate(token: string, call: OverrideTokenCall): OverrideTokenClaims {
      if (typeof call !== 'object' || call === null) throw bad('call', 'expected an object');
      const now = clock.now();
      // The last token validated is checked first (a pointer comparison when the caller reuses its
      // string, a memcmp otherwise); then the map, by the signature's last characters.
      let entry = last;
      if (entry === undefined || entry.token !== token) {
        const seen = typeof token === 'string' ? entries.get(token.slice(-LOOKUP_KEY_CHARS)) : undefined;
        entry = seen !== undefined && seen.token === token ? seen : verify(token, now);
        last = entry;
      }
      const { claims } = entry;
      if (now >= claims.expiresAt) {
        throw new EnablementError(
          'OV-410',
          `override token ${claims.tokenId} expired at ${claims.expiresAt} ns`,
        );
      }
      if (call.principal !== claims.principal) {
        throw mismatch('principal', claims.principal, String(call.principal));
      }
      if (call.action !== claims.action) throw mismatch('action', claims.action, String(call.action));
      if (call.resource !== claims.resource)
        throw mismatch('resource', claims.resource, String(call.resource));
      checkArguments(entry, call.arguments === undefined ? {} : call.arguments);
      if (entry.uses.used >= claims.maxUses) {
        throw new EnablementError(
          'OV-410',
          `override token ${claims.tokenId} already used ${entry.uses.used} of ${claims.maxUses} time(s)`,
        );
      }
      entry.uses.used++;
      return claims;
    },
    get trackedTokens(): number {
      return entries.size;
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
