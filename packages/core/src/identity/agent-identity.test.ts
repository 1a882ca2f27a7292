import { inspect } from 'node:util';
import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { AgentIdentity, ML_DSA_65_PUBLIC_KEY_LENGTH } from './agent-identity.js';
import { formatNhi } from './nhi.js';

const ED_KEY = nobleCryptoProvider.ed25519.publicKey(new Uint8Array(32).fill(3));
const OTHER_KEY = nobleCryptoProvider.ed25519.publicKey(new Uint8Array(32).fill(4));
const ML_KEY = new Uint8Array(ML_DSA_65_PUBLIC_KEY_LENGTH).fill(9);

describe('AgentIdentity', () => {
  it('is built from an NHI or from keys, with the same result', () => {
    const nhi = formatNhi('agent', ED_KEY);
    const a = AgentIdentity.fromNhi(nhi);
    const b = AgentIdentity.fromPublicKeys('agent', ED_KEY);
    expect(a.nhi).toBe(nhi);
    expect(a.kind).toBe('agent');
    expect(a.publicKeyEd25519).toEqual(ED_KEY);
    expect(a.publicKeyMlDsa65).toBeUndefined();
    expect(a.hasPostQuantumKey).toBe(false);
    expect(a.equals(b)).toBe(true);
    expect(a.toString()).toBe(nhi);
    expect(`${a}`).toBe(nhi);
    expect(JSON.stringify({ who: a })).toBe(JSON.stringify({ who: nhi }));
    expect(inspect(a)).toBe(`AgentIdentity(${nhi})`);
  });

  it('rejects an invalid NHI, kind or key with PL-400', () => {
    expectEnablementError(() => AgentIdentity.fromNhi('agent:nhi:ed25519:xyz'), 'PL-400');
    expectEnablementError(() => AgentIdentity.fromNhi(7 as unknown as string), 'PL-400');
    expectEnablementError(() => AgentIdentity.fromPublicKeys('bot' as 'agent', ED_KEY), 'PL-400');
    expectEnablementError(() => AgentIdentity.fromPublicKeys('agent', new Uint8Array(32)), 'PL-400');
  });

  it('names the field given in options', () => {
    expect(() => AgentIdentity.fromNhi('x', { field: 'link.subject' })).toThrow(/^link\.subject: /);
  });

  it('validates the ML-DSA-65 key length', () => {
    const nhi = formatNhi('service', ED_KEY);
    for (const bad of [new Uint8Array(1951), new Uint8Array(1953), new Uint8Array(0)]) {
      expectEnablementError(() => AgentIdentity.fromNhi(nhi, { mlDsa65PublicKey: bad }), 'PL-400');
      expectEnablementError(() => AgentIdentity.fromPublicKeys('service', ED_KEY, bad), 'PL-400');
    }
    const notBytes = Array.from(ML_KEY) as unknown as Uint8Array;
    expectEnablementError(() => AgentIdentity.fromNhi(nhi, { mlDsa65PublicKey: notBytes }), 'PL-400');
    const id = AgentIdentity.fromNhi(nhi, { mlDsa65PublicKey: ML_KEY });
    expect(id.publicKeyMlDsa65).toEqual(ML_KEY);
    expect(id.hasPostQuantumKey).toBe(true);
    expect(inspect(id)).toBe(`AgentIdentity(${nhi} +ML-DSA-65)`);
  });

  it('cannot be changed through its inputs, its getters or assignment', () => {
    const ed = ED_KEY.slice();
    const ml = ML_KEY.slice();
    const id = AgentIdentity.fromPublicKeys('agent', ed, ml);
    ed.fill(0);
    ml.fill(0);
    expect(id.publicKeyEd25519).toEqual(ED_KEY);
    expect(id.publicKeyMlDsa65).toEqual(ML_KEY);
    id.publicKeyEd25519.fill(1);
    (id.publicKeyMlDsa65 as Uint8Array).fill(1);
    id.hybridPublicKey().ed25519.fill(1);
    expect(id.publicKeyEd25519).toEqual(ED_KEY);
    expect(id.publicKeyMlDsa65).toEqual(ML_KEY);
    expect(Object.isFrozen(id)).toBe(true);
    expect(() => {
      (id as { nhi: string }).nhi = 'agent:nhi:ed25519:other';
    }).toThrow(TypeError);
  });

  it('compares NHI and ML-DSA-65 key', () => {
    const nhi = formatNhi('agent', ED_KEY);
    const plain = AgentIdentity.fromNhi(nhi);
    const pq = AgentIdentity.fromNhi(nhi, { mlDsa65PublicKey: ML_KEY });
    const pq2 = AgentIdentity.fromPublicKeys('agent', ED_KEY, ML_KEY.slice());
    const otherMl = ML_KEY.slice();
    otherMl[100] = 1;
    expect(pq.equals(pq2)).toBe(true);
    expect(pq.equals(plain)).toBe(false);
    expect(plain.equals(pq)).toBe(false);
    expect(pq.equals(AgentIdentity.fromNhi(nhi, { mlDsa65PublicKey: otherMl }))).toBe(false);
    expect(plain.equals(AgentIdentity.fromPublicKeys('human', ED_KEY))).toBe(false);
    expect(plain.equals(AgentIdentity.fromPublicKeys('agent', OTHER_KEY))).toBe(false);
    expect(plain.equals({ nhi } as unknown as AgentIdentity)).toBe(false);
  });

  it('gives the hybrid public key only when it has an ML-DSA-65 key', () => {
    const plain = AgentIdentity.fromPublicKeys('agent', ED_KEY);
    expectEnablementError(() => plain.hybridPublicKey(), 'PL-400');
    const pq = AgentIdentity.fromPublicKeys('agent', ED_KEY, ML_KEY);
    expect(pq.hybridPublicKey()).toEqual({ ed25519: ED_KEY, mlDsa65: ML_KEY });
  });
});
