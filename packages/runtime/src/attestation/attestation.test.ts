import { AgentKeyPair, bytesToHex, newSandboxId, nobleCryptoProvider } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  attestationSigningBytes,
  decodeAttestation,
  encodeAttestation,
  type SandboxAttestation,
  signAttestation,
  verifyAttestation,
} from './attestation.js';

const host = AgentKeyPair.fromSeed(new Uint8Array(32).fill(4), { postQuantum: true, kind: 'service' });
const other = AgentKeyPair.fromSeed(new Uint8Array(32).fill(8), { postQuantum: true, kind: 'service' });
const agent = AgentKeyPair.fromSeed(new Uint8Array(32).fill(1));
const hex = (text: string) => bytesToHex(nobleCryptoProvider.sha256(new TextEncoder().encode(text)));

const attestation = signAttestation(
  {
    sandboxId: newSandboxId(),
    specHash: hex('spec'),
    runtimeClass: 'gvisor',
    driver: 'quickjs',
    agentNhi: agent.identity.nhi,
    imageOrCodeHash: hex('invoice-processor'),
    issuedAt: 1_767_225_600_000_000_000n,
  },
  host,
);

describe('sandbox attestations', () => {
  it('verify with the host key and survive the wire round trip', () => {
    expect(attestation.hostNhi).toBe(host.identity.nhi);
    expect(verifyAttestation(attestation, host.identity)).toBe(true);
    expect(verifyAttestation(attestation, host.identity.hybridPublicKey())).toBe(true);
    const wire = JSON.parse(JSON.stringify(encodeAttestation(attestation)));
    expect(Object.keys(wire).sort()).toEqual([
      'agent_nhi',
      'driver',
      'host_nhi',
      'image_or_code_hash',
      'issued_at',
      'runtime_class',
      'sandbox_id',
      'signature',
      'spec_hash',
    ]);
    const decoded = decodeAttestation(wire);
    expect(decoded).toEqual(attestation);
    expect(verifyAttestation(decoded, host.identity)).toBe(true);
  });

  it('fail with another key, or when the identity named is not the signer', () => {
    expect(verifyAttestation(attestation, other.identity)).toBe(false);
    expect(verifyAttestation(attestation, other.identity.hybridPublicKey())).toBe(false);
    // The right key bytes but a classical-only identity: no ML-DSA half to check, so false.
    expect(verifyAttestation(attestation, agent.identity)).toBe(false);
  });

  it('fail when any field is tampered with', () => {
    const tampered: SandboxAttestation[] = [
      { ...attestation, sandboxId: newSandboxId() },
      { ...attestation, specHash: hex('other spec') },
      { ...attestation, runtimeClass: 'quickjs' },
      { ...attestation, driver: 'process' },
      { ...attestation, agentNhi: other.identity.nhi.replace('service', 'agent') },
      { ...attestation, imageOrCodeHash: null },
      { ...attestation, hostNhi: other.identity.nhi },
      { ...attestation, issuedAt: attestation.issuedAt + 1n },
      { ...attestation, signature: attestation.signature.slice(0, 100) },
      { ...attestation, specHash: 'not hex' },
    ];
    for (const t of tampered) expect(verifyAttestation(t, host.identity)).toBe(false);
  });

  it('fail for any flipped signature bit (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: attestation.signature.length * 8 - 1 }), (bit) => {
        const signature = attestation.signature.slice();
        signature[bit >> 3] = (signature[bit >> 3] as number) ^ (1 << (bit & 7));
        return !verifyAttestation({ ...attestation, signature }, host.identity);
      }),
      { numRuns: 12 },
    );
  });

  it('are domain separated from other signed objects', () => {
    const bytes = attestationSigningBytes(attestation);
    expect(new TextDecoder().decode(bytes.slice(0, 37))).toBe('creto/runtime.sandbox-attestation/v1\0');
  });

  it('reject malformed wire JSON with RT-400 naming the field', () => {
    const wire = encodeAttestation(attestation);
    expectEnablementError(() => decodeAttestation({ ...wire, issued_at: '-1' }), 'RT-400', /issued_at/);
    expectEnablementError(() => decodeAttestation({ ...wire, extra: 1 }), 'RT-400');
    expectEnablementError(() => decodeAttestation({ ...wire, signature: 'AAAA' }), 'RT-400', /signature/);
    expectEnablementError(() => decodeAttestation('nope'), 'RT-400');
  });

  it('need a post-quantum host key', () => {
    expectEnablementError(
      () => signAttestation({ ...attestation }, AgentKeyPair.fromSeed(new Uint8Array(32).fill(3))),
      'PL-400',
      /ML-DSA-65/,
    );
  });
});
