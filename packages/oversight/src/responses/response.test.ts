import { AgentKeyPair, bytesToUtf8, createNhiRegistry, registrationProof, type Uuid } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APPROVAL_RESPONSE_SIGNING_DOMAIN,
  approvalResponseSigningBytes,
  decodeApprovalResponse,
  encodeApprovalResponse,
  parseSignedApprovalResponse,
  type SignedApprovalResponse,
  signApprovalResponse,
  verifyApprovalResponse,
} from './response.js';

const requestId = '0192f3c4-7a1b-4c2d-8e3f-4a5b6c7d8e9f' as Uuid;
const otherId = '1b4e28ba-2fa1-41d2-883f-0016d3cca427' as Uuid;
const approver = AgentKeyPair.fromSeed(new Uint8Array(32).fill(1), { kind: 'human' });
const stranger = AgentKeyPair.fromSeed(new Uint8Array(32).fill(2), { kind: 'human' });
// Post-quantum keys are slow: one per file.
const pq = AgentKeyPair.fromSeed(new Uint8Array(32).fill(3), { kind: 'human', postQuantum: true });

async function registry() {
  const nhi = createNhiRegistry({ clock: new FakeClock() });
  await nhi.register({ identity: approver.identity });
  await nhi.register({ identity: pq.identity, proof: registrationProof(pq) });
  return nhi;
}

const base = { requestId, decision: 'APPROVE' as const, respondedAt: 1_767_225_600_000_000_000n };

describe('signing bytes', () => {
  it('are the domain tag, a NUL and the RFC 8785 form of the wire members, absent ones omitted', () => {
    const nonce = new Uint8Array(16).fill(7);
    const bytes = approvalResponseSigningBytes({
      ...base,
      approver: approver.identity.nhi,
      nonce,
      reason: 'ok',
    });
    const text = bytesToUtf8(bytes);
    expect(text).toBe(
      `${APPROVAL_RESPONSE_SIGNING_DOMAIN}\u0000{"approver":"${approver.identity.nhi}","decision":"APPROVE","nonce":"BwcHBwcHBwcHBwcHBwcHBw","reason":"ok","request_id":"${requestId}","responded_at":"1767225600000000000"}`,
    );
  });

  it('distinguish edits to null from no edit', () => {
    const nonce = new Uint8Array(16);
    const unsigned = { ...base, approver: approver.identity.nhi, nonce };
    expect(approvalResponseSigningBytes(unsigned)).not.toEqual(
      approvalResponseSigningBytes({ ...unsigned, editedParameters: null }),
    );
  });
});

describe('signApprovalResponse / verifyApprovalResponse', () => {
  it('signs Ed25519 for a classical key and verifies against the registry', async () => {
    const nhi = await registry();
    const signed = signApprovalResponse(approver, base);
    expect(signed.signature).toHaveLength(64);
    expect(signed.nonce).toHaveLength(16);
    expect(signed.approver).toBe(approver.identity.nhi);
    const principal = await verifyApprovalResponse(nhi, signed);
    expect(principal.nhi).toBe(approver.identity.nhi);
  });

  it('signs hybrid for a post-quantum key; a classical signature from it is refused (no downgrade)', async () => {
    const nhi = await registry();
    const signed = signApprovalResponse(pq, base);
    expect(signed.signature.length).toBeGreaterThan(3000);
    await expect(verifyApprovalResponse(nhi, signed)).resolves.toMatchObject({ nhi: pq.identity.nhi });
    const classical = signApprovalResponse(pq, base, { scheme: 'ed25519' });
    await expectEnablementRejection(verifyApprovalResponse(nhi, classical), 'OV-401', 'hybrid');
    const tampered = { ...signed, signature: signed.signature.slice() };
    tampered.signature[100] = (tampered.signature[100] ?? 0) ^ 1;
    await expectEnablementRejection(verifyApprovalResponse(nhi, tampered), 'OV-401');
  });

  it('refuses a hybrid signature from a classical principal, tampering, unknown and revoked approvers', async () => {
    const nhi = await registry();
    const signed = signApprovalResponse(approver, base);
    await expectEnablementRejection(
      verifyApprovalResponse(nhi, { ...signed, signature: new Uint8Array(3373) }),
      'OV-401',
      'Ed25519 signature is required',
    );
    for (const change of [
      { decision: 'DENY' as const },
      { requestId: otherId },
      { respondedAt: base.respondedAt + 1n },
      { reason: 'added' },
      { nonce: new Uint8Array(16).fill(9) },
    ]) {
      await expectEnablementRejection(verifyApprovalResponse(nhi, { ...signed, ...change }), 'OV-401');
    }
    const foreign = signApprovalResponse(stranger, base);
    await expectEnablementRejection(verifyApprovalResponse(nhi, foreign), 'OV-401', 'cannot be verified');
    await nhi.revoke(approver.identity);
    await expectEnablementRejection(verifyApprovalResponse(nhi, signed), 'OV-401');
  });

  it('refuses to sign for another approver or an invalid response', () => {
    expectEnablementError(
      () => signApprovalResponse(approver, { ...base, approver: stranger.identity.nhi }),
      'OV-400',
      'approver',
    );
    expectEnablementError(
      () => signApprovalResponse(approver, { ...base, reason: 'x'.repeat(2000) }),
      'OV-400',
      'reason',
    );
    expectEnablementError(
      () => signApprovalResponse(approver, { ...base, decision: 'MAYBE' as never }),
      'OV-400',
      'decision',
    );
    expectEnablementError(() => signApprovalResponse({} as never, base), 'OV-400', 'keyPair');
  });
});

describe('wire codec', () => {
  it('round-trips and validates hostile input with OV-400 naming the field', () => {
    const signed = signApprovalResponse(approver, {
      ...base,
      reason: 'Invoice verified',
      editedParameters: { a: [1] },
    });
    const wire = encodeApprovalResponse(signed);
    expect(wire).toMatchObject({
      request_id: requestId,
      responded_at: '1767225600000000000',
      edited_parameters: { a: [1] },
    });
    expect(decodeApprovalResponse(JSON.parse(JSON.stringify(wire)))).toEqual(signed);
    expect(parseSignedApprovalResponse(wire)).toEqual(signed);
    expect(parseSignedApprovalResponse(signed)).toEqual(signed);

    const cases: [unknown, string][] = [
      [{ ...wire, request_id: 'x' }, 'request_id'],
      [{ ...wire, approver: 'agent:nhi:ed25519:0' }, 'approver'],
      [{ ...wire, responded_at: 17 }, 'responded_at'],
      [{ ...wire, responded_at: '99999999999999999999' }, 'responded_at'],
      [{ ...wire, nonce: 'AAAA' }, 'nonce'],
      [{ ...wire, signature: 'AAAA' }, 'signature'],
      [{ ...wire, extra: 1 }, 'extra'],
      [{ ...wire, reason: 'a\u0000b' }, 'reason'],
      [{ ...wire, edited_parameters: 'x'.repeat(70_000) }, 'edited_parameters'],
      [null, ''],
      ['text', ''],
      [[wire], ''],
    ];
    for (const [input, field] of cases) {
      expectEnablementError(() => parseSignedApprovalResponse(input), 'OV-400', field);
    }
  });

  it('property: any valid response survives sign → wire → JSON → decode and still verifies', async () => {
    const nhi = await registry();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('APPROVE' as const, 'DENY' as const),
        fc.option(
          // biome-ignore lint/suspicious/noControlCharactersInRegex: reasons exclude control characters
          fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\u0000-\u001f\ud800-\udfff]/.test(s)),
          {
            nil: undefined,
          },
        ),
        fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
        fc.bigInt(0n, 2n ** 62n),
        async (decision, reason, edited, respondedAt) => {
          const signed: SignedApprovalResponse = signApprovalResponse(approver, {
            requestId,
            decision,
            respondedAt,
            ...(reason === undefined ? {} : { reason }),
            ...(edited === undefined ? {} : { editedParameters: JSON.parse(JSON.stringify(edited)) }),
          });
          const back = decodeApprovalResponse(JSON.parse(JSON.stringify(encodeApprovalResponse(signed))));
          await verifyApprovalResponse(nhi, back);
        },
      ),
      { numRuns: 40 },
    );
  });
});
