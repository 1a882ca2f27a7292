import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { AgentKeyPair } from '../identity/key-pair.js';
import { createRevocationList, MAX_REVOCATION_LIST_ENTRIES, type RevocationRef } from './revocation.js';

const NHI = AgentKeyPair.fromSeed(new Uint8Array(32).fill(1)).identity.nhi;
const ID = 'ab'.repeat(32);

describe('createRevocationList', () => {
  it('revokes principals and links independently, idempotently', () => {
    const list = createRevocationList();
    expect(list.isRevoked({ kind: 'principal', nhi: NHI })).toBe(false);
    list.revoke({ kind: 'principal', nhi: NHI });
    list.revoke({ kind: 'principal', nhi: NHI });
    expect(list.size).toBe(1);
    expect(list.isRevoked({ kind: 'principal', nhi: NHI })).toBe(true);
    expect(list.isRevoked({ kind: 'link', id: ID })).toBe(false);
    list.revoke({ kind: 'link', id: ID });
    expect(list.isRevoked({ kind: 'link', id: ID })).toBe(true);
    expect(list.size).toBe(2);
  });

  it('rejects malformed references with PL-400', () => {
    const list = createRevocationList();
    const bad: unknown[] = [
      null,
      'link',
      { kind: 'link', id: ID.toUpperCase() },
      { kind: 'link', id: ID.slice(1) },
      { kind: 'principal', nhi: 'agent:nhi:ed25519:zzz' },
      { kind: 'principal', nhi: 5 },
      { kind: 'other', id: ID },
    ];
    for (const ref of bad) {
      expectEnablementError(() => list.revoke(ref as RevocationRef), 'PL-400');
      expect(list.isRevoked(ref as RevocationRef)).toBe(false);
    }
    expect(list.size).toBe(0);
  });

  it('is bounded and never evicts: a full list refuses new entries with PL-409', () => {
    const list = createRevocationList({ maxEntries: 2 });
    list.revoke({ kind: 'link', id: 'a'.repeat(64) });
    list.revoke({ kind: 'link', id: 'b'.repeat(64) });
    expectEnablementError(() => list.revoke({ kind: 'link', id: 'c'.repeat(64) }), 'PL-409');
    expect(list.isRevoked({ kind: 'link', id: 'a'.repeat(64) })).toBe(true);
    expect(list.isRevoked({ kind: 'link', id: 'c'.repeat(64) })).toBe(false);
    // Re-revoking an existing entry is still fine when full.
    expect(() => list.revoke({ kind: 'link', id: 'b'.repeat(64) })).not.toThrow();
    expect(list.size).toBe(2);
    expect(list.maxEntries).toBe(2);
  });

  it('validates maxEntries', () => {
    for (const maxEntries of [0, -1, 1.5, MAX_REVOCATION_LIST_ENTRIES + 1, Number.NaN]) {
      expectEnablementError(() => createRevocationList({ maxEntries }), 'PL-400');
    }
  });
});
