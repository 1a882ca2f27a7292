import { expectEnablementError } from '@creto/testing';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import { verifyIdentitySignature } from '../identity/verify.js';
import type { Clock } from '../time/clock.js';
import {
  type DelegationLink,
  type DelegationLinkBody,
  delegationLinkId,
  delegationSigningBytes,
  issueDelegation,
  MAX_CAPABILITIES_PER_LINK,
  normalizeDelegationLink,
} from './link.js';

const T0 = 1_700_000_000_000_000_000n;
const HOUR = 3_600_000_000_000n;

function clockAt(t: bigint): Clock {
  return { now: () => t, schedule: () => () => undefined };
}

function seed(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

const human = AgentKeyPair.fromSeed(seed(1), { kind: 'human' });
const agent = AgentKeyPair.fromSeed(seed(2));
const clock = clockAt(T0);
const CAPS = [{ action: 'payment.*', resource: 'invoice:*' }];

describe('signed payload', () => {
  it('is the documented byte format', () => {
    const body: DelegationLinkBody = {
      issuer: human.identity.nhi,
      subject: agent.identity.nhi,
      capabilities: CAPS,
      notBefore: T0,
      expiresAt: T0 + HOUR,
      nonce: Uint8Array.from({ length: 16 }, (_, i) => i),
    };
    const expected =
      'creto-delegation-link-v1\u0000' +
      '{"capabilities":[{"action":"payment.*","resource":"invoice:*"}],' +
      '"expires_at":"1700003600000000000",' +
      `"issuer":"${human.identity.nhi}",` +
      '"nonce":"AAECAwQFBgcICQoLDA0ODw",' +
      '"not_before":"1700000000000000000",' +
      `"subject":"${agent.identity.nhi}",` +
      '"type":"creto.delegation.link","version":1}';
    const bytes = delegationSigningBytes(body);
    expect(new TextDecoder().decode(bytes)).toBe(expected);
    expect(delegationLinkId({ ...body })).toBe(Buffer.from(sha256(bytes)).toString('hex'));
  });

  it('keeps capability order (it is signed as given)', () => {
    const base = {
      issuer: human.identity.nhi,
      subject: agent.identity.nhi,
      notBefore: T0,
      expiresAt: T0 + HOUR,
      nonce: new Uint8Array(16),
    };
    const a = { action: 'a', resource: 'x' };
    const b = { action: 'b', resource: 'y' };
    expect(delegationSigningBytes({ ...base, capabilities: [a, b] })).not.toEqual(
      delegationSigningBytes({ ...base, capabilities: [b, a] }),
    );
  });
});

describe('issueDelegation', () => {
  it('signs the payload with the issuer key and a fresh nonce', () => {
    const link = issueDelegation({
      issuer: human,
      subject: agent.identity,
      capabilities: CAPS,
      expiresAt: T0 + HOUR,
      clock,
    });
    expect(link.issuer).toBe(human.identity.nhi);
    expect(link.subject).toBe(agent.identity.nhi);
    expect(link.notBefore).toBe(T0);
    expect(link.nonce.length).toBe(16);
    expect(verifyIdentitySignature(human.identity, delegationSigningBytes(link), link.signature)).toBe(true);
    expect(Object.isFrozen(link)).toBe(true);
    const again = issueDelegation({
      issuer: human,
      subject: agent.identity.nhi,
      capabilities: CAPS,
      expiresAt: T0 + HOUR,
      clock,
    });
    expect(again.nonce).not.toEqual(link.nonce);
    expect(delegationLinkId(again)).not.toBe(delegationLinkId(link));
  });

  it('takes the nonce from the provider', () => {
    const provider: CryptoProvider = {
      ...nobleCryptoProvider,
      randomBytes: (n) => new Uint8Array(n).fill(0xab),
    };
    const link = issueDelegation({
      issuer: human,
      subject: agent.identity,
      capabilities: [],
      expiresAt: T0 + 1n,
      clock,
      provider,
    });
    expect(link.nonce).toEqual(new Uint8Array(16).fill(0xab));
  });

  it('rejects invalid input with PL-400 naming the field', () => {
    const ok = { issuer: human, subject: agent.identity, capabilities: CAPS, expiresAt: T0 + HOUR, clock };
    expectEnablementError(() => issueDelegation({ ...ok, expiresAt: T0 }), 'PL-400', /expiresAt: must be/);
    expectEnablementError(
      () => issueDelegation({ ...ok, notBefore: T0 + HOUR }),
      'PL-400',
      /expiresAt: must be later than notBefore/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, notBefore: T0 - 2n * HOUR, expiresAt: T0 - HOUR }),
      'PL-400',
      /in the future/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, expiresAt: 5 as unknown as bigint }),
      'PL-400',
      /expiresAt: expected a bigint/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, notBefore: -1n }),
      'PL-400',
      /notBefore: out of range/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, expiresAt: 2n ** 63n }),
      'PL-400',
      /expiresAt: out of range/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, subject: 'agent:nhi:ed25519:nope' }),
      'PL-400',
      /^delegation\.subject: /,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, subject: 42 as unknown as string }),
      'PL-400',
      /subject: expected an NHI/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, capabilities: [{ action: 'network:*.example.com', resource: '*' }] }),
      'PL-400',
      /capabilities\[0\]\.action: '\*' is only allowed once/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, capabilities: [{ action: 'a' }] as never }),
      'PL-400',
      /capabilities\[0\]\.resource/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, capabilities: 'payment.*' as never }),
      'PL-400',
      /capabilities: expected an array/,
    );
    const tooMany = Array.from({ length: MAX_CAPABILITIES_PER_LINK + 1 }, () => CAPS[0]) as typeof CAPS;
    expectEnablementError(() => issueDelegation({ ...ok, capabilities: tooMany }), 'PL-400', /at most 64/);
    expectEnablementError(
      () => issueDelegation({ ...ok, issuer: human.identity as unknown as AgentKeyPair }),
      'PL-400',
      /issuer: expected/,
    );
    expectEnablementError(
      () => issueDelegation({ ...ok, clock: undefined as unknown as Clock }),
      'PL-400',
      /clock: expected a Clock/,
    );
  });

  it('refuses a disposed issuer', () => {
    const temp = AgentKeyPair.generate({ kind: 'human' });
    temp.dispose();
    expectEnablementError(
      () =>
        issueDelegation({
          issuer: temp,
          subject: agent.identity,
          capabilities: CAPS,
          expiresAt: T0 + HOUR,
          clock,
        }),
      'PL-400',
      /disposed/,
    );
  });
});

describe('normalizeDelegationLink', () => {
  const link = issueDelegation({
    issuer: human,
    subject: agent.identity,
    capabilities: CAPS,
    expiresAt: T0 + HOUR,
    clock,
  });

  it('returns a frozen deep copy', () => {
    const input = { ...link, nonce: link.nonce.slice(), signature: link.signature.slice() };
    const copy = normalizeDelegationLink(input);
    input.nonce.fill(0);
    input.signature.fill(0);
    expect(copy.nonce).toEqual(link.nonce);
    expect(copy.signature).toEqual(link.signature);
    expect(Object.isFrozen(copy)).toBe(true);
    expect(Object.isFrozen(copy.capabilities)).toBe(true);
  });

  it.each<[string, unknown, RegExp]>([
    ['null', null, /expected a delegation link object/],
    ['a string', 'link', /expected a delegation link object/],
    [
      'short signature',
      { ...link, signature: link.signature.subarray(0, 63) },
      /signature: expected 64 bytes/,
    ],
    ['missing signature', { ...link, signature: undefined }, /signature: expected a Uint8Array/],
    ['short nonce', { ...link, nonce: new Uint8Array(15) }, /nonce: expected 16 bytes/],
    ['bad issuer', { ...link, issuer: 'human:nhi:ed25519:0' }, /^x\.issuer: /],
    ['number time', { ...link, notBefore: 1 }, /notBefore: expected a bigint/],
    ['empty window', { ...link, expiresAt: link.notBefore }, /must be later than notBefore/],
    ['null capability', { ...link, capabilities: [null] }, /capabilities\[0\]: expected/],
  ])('rejects %s', (_label, value, message) => {
    expectEnablementError(() => normalizeDelegationLink(value, 'x'), 'PL-400', message);
  });

  it('does not verify the signature (that is the chain validator’s job)', () => {
    const forged: DelegationLink = { ...link, signature: new Uint8Array(64) };
    expect(() => normalizeDelegationLink(forged)).not.toThrow();
  });
});
