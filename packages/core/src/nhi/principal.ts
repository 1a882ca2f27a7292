import { canonicalBytes } from '../canonical/canonicalize.js';
import { type HybridSignature, verifyHybrid } from '../crypto/hybrid.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { bytesToBase64url, concatBytes, utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import type { PrincipalKind } from '../identity/nhi.js';
import type { ConsensusTimestamp } from '../time/clock.js';

/** A free-form principal attribute value, testable by authz conditions. */
export type AttributeValue = string | number | boolean;

/** Descriptive attributes of a principal, used by authz policies and oversight eligibility. */
export interface PrincipalAttributes {
  /** Human-readable name, at most {@link PRINCIPAL_LIMITS}.maxDisplayNameLength characters. */
  readonly displayName?: string;
  /** Roles, e.g. `finance-approver`; deduplicated, order kept. */
  readonly roles?: readonly string[];
  /** Groups, e.g. `team:payments`; deduplicated, order kept. */
  readonly groups?: readonly string[];
  /** Other attributes (`region`, `clearance`, …): names match `[A-Za-z_][A-Za-z0-9_.-]*`. */
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** What `register` takes. */
export interface PrincipalRegistration extends PrincipalAttributes {
  /** The principal's identity (an NHI string for a classical-only principal). */
  readonly identity: AgentIdentity | string;
  /**
   * Proof of possession, required when the identity carries an ML-DSA-65 key: the hybrid
   * signature over {@link registrationProofBytes} (see {@link registrationProof}). Without it
   * anyone could pair someone else's Ed25519 key (the NHI) with their own ML-DSA-65 key.
   */
  readonly proof?: HybridSignature;
}

/** A registered principal, as the registry returns it (immutable). */
export interface Principal {
  /** The identity (NHI, Ed25519 key, ML-DSA-65 key when registered with one). */
  readonly identity: AgentIdentity;
  /** The NHI string. */
  readonly nhi: string;
  /** `agent`, `human` or `service`. */
  readonly kind: PrincipalKind;
  /** Human-readable name, if any. */
  readonly displayName: string | undefined;
  /** Roles. */
  readonly roles: readonly string[];
  /** Groups. */
  readonly groups: readonly string[];
  /** Other attributes. */
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** When it was registered (registry clock). */
  readonly registeredAt: ConsensusTimestamp;
  /** When its attributes last changed (registry clock). */
  readonly updatedAt: ConsensusTimestamp;
}

/** Bounds on principal attributes (inputs beyond them are rejected with `PL-400`). */
export const PRINCIPAL_LIMITS = Object.freeze({
  /** Characters in `displayName`. */
  maxDisplayNameLength: 256,
  /** Entries in `roles` and in `groups`. */
  maxRoles: 64,
  /** Characters in one role or group. */
  maxRoleLength: 128,
  /** Entries in `attributes`. */
  maxAttributes: 64,
  /** Characters in an attribute name. */
  maxAttributeNameLength: 64,
  /** Characters in a string attribute value. */
  maxAttributeValueLength: 1024,
});

/** Domain-separation context of {@link registrationProofBytes}. */
export const REGISTRATION_SIGNING_CONTEXT = 'creto-nhi-registration-v1';

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

/**
 * The bytes a principal signs (with {@link AgentKeyPair.signHybrid}) to prove it holds both the
 * Ed25519 and the ML-DSA-65 secret keys of `identity`:
 *
 * ```
 * UTF-8("creto-nhi-registration-v1") ‖ 0x00 ‖ JCS({
 *   "type": "creto.nhi.registration", "version": 1,
 *   "nhi": <NHI>, "ml_dsa_65_public_key": <base64url, no padding>
 * })
 * ```
 *
 * `PL-400` when the identity has no ML-DSA-65 key.
 */
export function registrationProofBytes(identity: AgentIdentity): Uint8Array {
  if (!(identity instanceof AgentIdentity)) throw bad('identity', 'expected an AgentIdentity');
  const mlDsa = identity.publicKeyMlDsa65;
  if (mlDsa === undefined) throw bad('identity', 'has no ML-DSA-65 key: no proof of possession applies');
  const payload = {
    type: 'creto.nhi.registration',
    version: 1,
    nhi: identity.nhi,
    ml_dsa_65_public_key: bytesToBase64url(mlDsa),
  };
  return concatBytes(utf8ToBytes(REGISTRATION_SIGNING_CONTEXT), Uint8Array.of(0), canonicalBytes(payload));
}

/** The proof of possession a post-quantum principal attaches to its registration. */
export function registrationProof(keyPair: AgentKeyPair): HybridSignature {
  if (!(keyPair instanceof AgentKeyPair)) throw bad('keyPair', 'expected an AgentKeyPair');
  return keyPair.signHybrid(registrationProofBytes(keyPair.identity));
}

/** Checks a registration's proof of possession; `PL-401` when it is missing or does not verify. @internal */
export function checkProof(identity: AgentIdentity, proof: unknown, provider: CryptoProvider): void {
  if (!identity.hasPostQuantumKey) {
    if (proof !== undefined) {
      throw bad('proof', 'only identities with an ML-DSA-65 key take a proof of possession');
    }
    return;
  }
  if (proof === undefined) {
    throw new EnablementError(
      'PL-401',
      `registration of ${identity.nhi}: an identity with an ML-DSA-65 key needs a proof of possession`,
    );
  }
  const ok = verifyHybrid(
    provider,
    identity.hybridPublicKey(),
    registrationProofBytes(identity),
    proof as HybridSignature,
  );
  if (!ok) {
    throw new EnablementError(
      'PL-401',
      `registration of ${identity.nhi}: proof of possession does not verify`,
    );
  }
}

function checkNames(value: unknown, field: string): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw bad(field, 'expected an array of strings');
  const length = value.length;
  if (length > PRINCIPAL_LIMITS.maxRoles) throw bad(field, `at most ${PRINCIPAL_LIMITS.maxRoles} entries`);
  const out: string[] = [];
  for (let i = 0; i < length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string' || item.length === 0 || item.length > PRINCIPAL_LIMITS.maxRoleLength) {
      throw bad(`${field}[${i}]`, `expected a string of 1 to ${PRINCIPAL_LIMITS.maxRoleLength} characters`);
    }
    if (!out.includes(item)) out.push(item);
  }
  return Object.freeze(out);
}

function checkAttributes(value: unknown): Readonly<Record<string, AttributeValue>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('attributes', 'expected an object of string, number or boolean values');
  }
  const entries = Object.entries(value);
  if (entries.length > PRINCIPAL_LIMITS.maxAttributes) {
    throw bad('attributes', `at most ${PRINCIPAL_LIMITS.maxAttributes} entries`);
  }
  const out: Record<string, AttributeValue> = {};
  for (const [name, v] of entries) {
    if (
      name.length > PRINCIPAL_LIMITS.maxAttributeNameLength ||
      !ATTRIBUTE_NAME.test(name) ||
      RESERVED_NAMES.has(name)
    ) {
      throw bad(
        'attributes',
        `invalid attribute name (expected [A-Za-z_][A-Za-z0-9_.-]*, at most ${PRINCIPAL_LIMITS.maxAttributeNameLength} characters)`,
      );
    }
    const field = `attributes.${name}`;
    if (typeof v === 'string') {
      if (v.length > PRINCIPAL_LIMITS.maxAttributeValueLength) {
        throw bad(field, `longer than ${PRINCIPAL_LIMITS.maxAttributeValueLength} characters`);
      }
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw bad(field, 'expected a finite number');
    } else if (typeof v !== 'boolean') {
      throw bad(field, 'expected a string, number or boolean');
    }
    Object.defineProperty(out, name, { value: v, enumerable: true });
  }
  return Object.freeze(out);
}

function checkDisplayName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > PRINCIPAL_LIMITS.maxDisplayNameLength) {
    throw bad(
      'displayName',
      `expected a string of at most ${PRINCIPAL_LIMITS.maxDisplayNameLength} characters`,
    );
  }
  return value;
}

/** Validated, frozen copies of the attributes given; absent fields stay absent. @internal */
export function checkAttributesPatch(input: PrincipalAttributes): {
  displayName?: string | undefined;
  roles?: readonly string[];
  groups?: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
} {
  if (typeof input !== 'object' || input === null) throw bad('attributes', 'expected an object');
  return {
    ...('displayName' in input ? { displayName: checkDisplayName(input.displayName) } : {}),
    ...(input.roles !== undefined ? { roles: checkNames(input.roles, 'roles') } : {}),
    ...(input.groups !== undefined ? { groups: checkNames(input.groups, 'groups') } : {}),
    ...(input.attributes !== undefined ? { attributes: checkAttributes(input.attributes) } : {}),
  };
}
