import { expectEnablementError, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../canonical/canonicalize.js';
import { base64urlToBytes, bytesToBase64url, bytesToUtf8, utf8ToBytes } from '../encoding/bytes.js';
import { AgentKeyPair } from '../identity/key-pair.js';
import type { Clock } from '../time/clock.js';
import {
  createOverrideTokenValidator,
  decodeOverrideToken,
  type IssueOverrideTokenOptions,
  issueOverrideToken,
  OVERRIDE_TOKEN_SIGNING_CONTEXT,
  overrideTokenArgumentsHash,
} from './override-token.js';

/** A settable clock (core cannot depend on @creto/testing's FakeClock). */
const SECOND = 1_000_000_000n;
const T0 = 1_767_225_600n * SECOND; // 2026-01-01T00:00:00Z

const seed = (n: number) => new Uint8Array(32).fill(n);
const oversight = AgentKeyPair.fromSeed(seed(1), { kind: 'service' });
const agent = AgentKeyPair.fromSeed(seed(2)).identity.nhi;
const otherAgent = AgentKeyPair.fromSeed(seed(3)).identity.nhi;
const attacker = AgentKeyPair.fromSeed(seed(4), { kind: 'service' });

const call = {
  principal: agent,
  action: 'funds.transfer',
  resource: 'payments:account:ops',
  arguments: { amount: 50000, currency: 'USD' },
};

function issue(clock: Clock, overrides: Partial<IssueOverrideTokenOptions> = {}): string {
  return issueOverrideToken({
    signer: oversight,
    principal: call.principal,
    action: call.action,
    resource: call.resource,
    arguments: call.arguments,
    expiresAt: clock.now() + 600n * SECOND,
    requestId: '0b8f6c1e-3d44-4c55-9e1a-2f3b4c5d6e7f',
    clock,
    ...overrides,
  });
}

function setup(options: { maxTrackedTokens?: number; trusted?: string[] } = {}) {
  const clock = new FakeClock({ start: T0 });
  const validator = createOverrideTokenValidator({
    trustedIssuers: options.trusted ?? [oversight.identity.nhi],
    clock,
    ...(options.maxTrackedTokens === undefined ? {} : { maxTrackedTokens: options.maxTrackedTokens }),
  });
  return { clock, validator };
}

/** Re-signs a modified payload with `signer` (a structurally perfect token). */
function resign(token: string, edit: (payload: Record<string, unknown>) => void, signer = oversight): string {
  const [body = ''] = token.split('.');
  const payload = JSON.parse(bytesToUtf8(base64urlToBytes(body))) as Record<string, unknown>;
  edit(payload);
  const bytes = utf8ToBytes(canonicalize(payload));
  const signed = new Uint8Array([...utf8ToBytes(OVERRIDE_TOKEN_SIGNING_CONTEXT), 0, ...bytes]);
  return `${bytesToBase64url(bytes)}.${bytesToBase64url(signer.sign(signed))}`;
}

describe('issueOverrideToken / decodeOverrideToken', () => {
  it('produces <base64url JCS payload>.<base64url signature> binding the whole call', () => {
    const { clock } = setup();
    const token = issue(clock, { maxUses: 3 });
    const [payload = '', signature = ''] = token.split('.');
    expect(token.split('.')).toHaveLength(2);
    expect(base64urlToBytes(signature)).toHaveLength(64);
    const json = bytesToUtf8(base64urlToBytes(payload));
    expect(canonicalize(JSON.parse(json))).toBe(json);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      type: 'creto.override_token',
      version: 1,
      issuer: oversight.identity.nhi,
      principal: agent,
      action: 'funds.transfer',
      resource: 'payments:account:ops',
      arguments_sha256: overrideTokenArgumentsHash(call.arguments),
      issued_at: T0.toString(),
      expires_at: (T0 + 600n * SECOND).toString(),
      max_uses: 3,
      request_id: '0b8f6c1e-3d44-4c55-9e1a-2f3b4c5d6e7f',
    });
    expect(parsed.token_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const claims = decodeOverrideToken(token);
    expect(claims).toMatchObject({
      principal: agent,
      maxUses: 3,
      expiresAt: T0 + 600n * SECOND,
      issuedAt: T0,
    });
  });

  it('gives every token its own id', () => {
    const { clock } = setup();
    expect(decodeOverrideToken(issue(clock)).tokenId).not.toBe(decodeOverrideToken(issue(clock)).tokenId);
  });

  it('rejects bad options with PL-400 naming them', () => {
    const { clock } = setup();
    expectEnablementError(() => issue(clock, { principal: 'nobody' }), 'PL-400', 'principal');
    expectEnablementError(() => issue(clock, { action: 'has space' }), 'PL-400', 'action');
    expectEnablementError(() => issue(clock, { resource: 'a\nb' }), 'PL-400', 'resource');
    expectEnablementError(() => issue(clock, { requestId: '' }), 'PL-400', 'requestId');
    expectEnablementError(() => issue(clock, { maxUses: 0 }), 'PL-400', 'maxUses');
    expectEnablementError(() => issue(clock, { maxUses: 1.5 }), 'PL-400', 'maxUses');
    expectEnablementError(() => issue(clock, { expiresAt: T0 }), 'PL-400', 'expiresAt');
    expectEnablementError(() => issue(clock, { expiresAt: 5 as unknown as bigint }), 'PL-400', 'expiresAt');
    expectEnablementError(() => issue(clock, { arguments: { n: 1n } }), 'PL-400', 'arguments');
    expectEnablementError(
      () => issue(clock, { arguments: { big: 'x'.repeat(70_000) } }),
      'PL-400',
      'arguments',
    );
    expectEnablementError(
      () => issue(clock, { signer: 'key' as unknown as AgentKeyPair }),
      'PL-400',
      'signer',
    );
  });
});

describe('createOverrideTokenValidator', () => {
  it('accepts the exact call once (single use by default), then OV-410', () => {
    const { clock, validator } = setup();
    const token = issue(clock);
    const claims = validator.validate(token, call);
    expect(claims.principal).toBe(agent);
    expectEnablementError(() => validator.validate(token, call), 'OV-410', 'already used 1 of 1');
  });

  it('allows maxUses validations, counting across re-encodings of the same call', () => {
    const { clock, validator } = setup();
    const token = issue(clock, { maxUses: 3 });
    validator.validate(token, call);
    validator.validate(token, { ...call, arguments: { currency: 'USD', amount: 50000 } }); // key order is irrelevant
    validator.validate(token, { ...call, arguments: { amount: 50000, currency: 'USD', note: undefined } });
    expectEnablementError(() => validator.validate(token, call), 'OV-410', 'already used 3 of 3');
  });

  it('rejects a mismatch on each bound field with PL-403, consuming nothing', () => {
    const { clock, validator } = setup();
    const token = issue(clock);
    expectEnablementError(
      () => validator.validate(token, { ...call, principal: otherAgent }),
      'PL-403',
      'principal',
    );
    expectEnablementError(
      () => validator.validate(token, { ...call, action: 'funds.withdraw' }),
      'PL-403',
      'action',
    );
    expectEnablementError(
      () => validator.validate(token, { ...call, resource: 'payments:account:other' }),
      'PL-403',
      'resource',
    );
    // A token for amount 50000 does not authorise 50001.
    expectEnablementError(
      () => validator.validate(token, { ...call, arguments: { amount: 50001, currency: 'USD' } }),
      'PL-403',
      'arguments',
    );
    expectEnablementError(
      () => validator.validate(token, { ...call, arguments: { amount: 50000 } }),
      'PL-403',
      'arguments',
    );
    expectEnablementError(
      () => validator.validate(token, { ...call, arguments: undefined }),
      'PL-403',
      'arguments',
    );
    expectEnablementError(
      () => validator.validate(token, { ...call, arguments: { amount: 50000n } }),
      'PL-400',
      'arguments',
    );
    expect(validator.validate(token, call).tokenId).toBe(decodeOverrideToken(token).tokenId);
  });

  it('keeps checking the binding on the fast path of a seen token', () => {
    const { clock, validator } = setup();
    const token = issue(clock, { maxUses: 10 });
    validator.validate(token, call); // now seen, with a verified-arguments witness
    expectEnablementError(
      () => validator.validate(token, { ...call, arguments: { amount: 50001, currency: 'USD' } }),
      'PL-403',
    );
    expectEnablementError(() => validator.validate(token, { ...call, principal: otherAgent }), 'PL-403');
    const mutable = { amount: 50000, currency: 'USD' };
    validator.validate(token, { ...call, arguments: mutable });
    mutable.amount = 1_000_000; // the witness is a copy: mutating the caller's object changes nothing
    expectEnablementError(() => validator.validate(token, { ...call, arguments: mutable }), 'PL-403');
  });

  it('binds empty arguments as {}', () => {
    const { clock, validator } = setup();
    const token = issue(clock, { arguments: {}, maxUses: 2 });
    validator.validate(token, { principal: call.principal, action: call.action, resource: call.resource });
    validator.validate(token, { ...call, arguments: {} });
  });

  it('rejects an expired token with OV-410 (expiry exclusive), also when it was seen before', () => {
    const { clock, validator } = setup();
    const token = issue(clock, { expiresAt: T0 + 10n * SECOND, maxUses: 5 });
    clock.advanceTo(T0 + 10n * SECOND - 1n);
    validator.validate(token, call);
    clock.advanceTo(T0 + 10n * SECOND);
    expectEnablementError(() => validator.validate(token, call), 'OV-410', 'expired');
    const fresh = setup();
    const other = issue(fresh.clock, { expiresAt: T0 + SECOND });
    fresh.clock.advanceTo(T0 + 2n * SECOND);
    expectEnablementError(() => fresh.validator.validate(other, call), 'OV-410', 'expired');
  });

  it('rejects forged and tampered tokens with PL-401', () => {
    const { clock, validator } = setup();
    const token = issue(clock);
    // Signed by someone else, claiming the trusted issuer.
    expectEnablementError(
      () =>
        validator.validate(
          resign(token, () => undefined, attacker),
          call,
        ),
      'PL-401',
      'signature',
    );
    // A payload edit without a new signature.
    const [, signature] = token.split('.');
    const edited = resign(token, (p) => {
      p.max_uses = 1000;
    });
    const [editedBody] = edited.split('.');
    expectEnablementError(
      () => validator.validate(`${editedBody}.${signature}`, call),
      'PL-401',
      'signature',
    );
    // One flipped signature bit.
    const sig = base64urlToBytes(signature ?? '');
    sig[10] = (sig[10] ?? 0) ^ 1;
    expectEnablementError(
      () => validator.validate(`${token.split('.')[0]}.${bytesToBase64url(sig)}`, call),
      'PL-401',
    );
    // The real token still works: failures consumed nothing.
    validator.validate(token, call);
    // Once the real token is seen, its signature on another payload is still not accepted.
    expectEnablementError(
      () => validator.validate(`${editedBody}.${signature}`, call),
      'PL-401',
      'signature',
    );
  });

  it('rejects tokens from untrusted issuers with PL-401, even when perfectly signed', () => {
    const { clock, validator } = setup();
    const foreign = issueOverrideToken({
      signer: attacker,
      principal: agent,
      action: call.action,
      resource: call.resource,
      arguments: call.arguments,
      expiresAt: T0 + SECOND,
      requestId: 'r1',
      clock,
    });
    expectEnablementError(() => validator.validate(foreign, call), 'PL-401', 'not trusted');
    const none = setup({ trusted: [] });
    expectEnablementError(() => none.validator.validate(issue(none.clock), call), 'PL-401', 'not trusted');
  });

  it('rejects malformed tokens with PL-400 before verifying anything', () => {
    const { clock, validator } = setup();
    const token = issue(clock);
    const [body = '', sig = ''] = token.split('.');
    const cases: unknown[] = [
      42,
      '',
      'abc',
      `${body}.${sig}.x`,
      `${body}.${sig}=`,
      `${body}.${sig.slice(0, -4)}`,
      `x${'a'.repeat(9000)}`,
      `${bytesToBase64url(utf8ToBytes('not json'))}.${sig}`,
      `${bytesToBase64url(utf8ToBytes(' {}'))}.${sig}`,
    ];
    for (const bad of cases) expectEnablementError(() => validator.validate(bad as string, call), 'PL-400');
    // Valid JSON, valid signature, but not the canonical spelling.
    const json = bytesToUtf8(base64urlToBytes(body));
    const spaced = utf8ToBytes(json.replace('{', '{ '));
    const signed = new Uint8Array([...utf8ToBytes(OVERRIDE_TOKEN_SIGNING_CONTEXT), 0, ...spaced]);
    const nonCanonical = `${bytesToBase64url(spaced)}.${bytesToBase64url(oversight.sign(signed))}`;
    expectEnablementError(() => validator.validate(nonCanonical, call), 'PL-400', 'canonical');
    // Unknown version or type, extra members, expiry before issuance.
    expectEnablementError(
      () =>
        validator.validate(
          resign(token, (p) => {
            p.version = 2;
          }),
          call,
        ),
      'PL-400',
      'version',
    );
    expectEnablementError(
      () =>
        validator.validate(
          resign(token, (p) => {
            p.type = 'jwt';
          }),
          call,
        ),
      'PL-400',
      'type',
    );
    expectEnablementError(
      () =>
        validator.validate(
          resign(token, (p) => {
            p.admin = true;
          }),
          call,
        ),
      'PL-400',
    );
    expectEnablementError(
      () =>
        validator.validate(
          resign(token, (p) => {
            p.expires_at = p.issued_at;
          }),
          call,
        ),
      'PL-400',
      'expires_at',
    );
    expectEnablementError(() => validator.validate(token, null as unknown as typeof call), 'PL-400', 'call');
  });

  it('bounds the tracking table: expired entries are swept, live ones are never dropped', () => {
    const { clock, validator } = setup({ maxTrackedTokens: 2 });
    const short = issue(clock, { expiresAt: T0 + SECOND });
    const long = issue(clock, { expiresAt: T0 + 100n * SECOND });
    validator.validate(short, call);
    validator.validate(long, call);
    expect(validator.trackedTokens).toBe(2);
    const third = issue(clock, { expiresAt: T0 + 100n * SECOND });
    const full = expectEnablementError(() => validator.validate(third, call), 'PL-503', 'full');
    expect(full.retryable).toBe(true);
    clock.advanceTo(T0 + SECOND); // `short` expires: its slot can be reclaimed
    validator.validate(third, call);
    expect(validator.trackedTokens).toBe(2);
    expectEnablementError(() => validator.validate(long, call), 'OV-410', 'already used'); // still remembered
  });

  it('rejects bad options', () => {
    expectEnablementError(
      () => createOverrideTokenValidator({ trustedIssuers: ['nope'] }),
      'PL-400',
      'trustedIssuers[0]',
    );
    expectEnablementError(
      () => createOverrideTokenValidator({ trustedIssuers: [], maxTrackedTokens: 0 }),
      'PL-400',
      'maxTrackedTokens',
    );
    expectEnablementError(
      () => createOverrideTokenValidator({ trustedIssuers: 'x' as unknown as string[] }),
      'PL-400',
      'trustedIssuers',
    );
  });
});
