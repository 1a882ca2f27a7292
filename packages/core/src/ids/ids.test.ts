import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  assertUuid,
  isPolicyId,
  isResourceId,
  isSandboxId,
  isUuid,
  MAX_CUSTOM_ID_LENGTH,
  MAX_CUSTOM_PRODUCT_LENGTH,
  MAX_POLICY_ID_LENGTH,
  MAX_SANDBOX_ID_LENGTH,
  newSandboxId,
  newUuid,
  parseUuid,
  policyId,
  type ResourceId,
  resourceIdFromUri,
  resourceIdToUri,
  sandboxId,
  type Uuid,
} from './index.js';

/** A random source that always returns the given bytes (recording the lengths asked for). */
function fixedSource(bytes: Uint8Array): (length: number) => Uint8Array {
  return (length) => {
    expect(length).toBe(bytes.length);
    return bytes;
  };
}

const UUID_A = '1b4e28ba-2fa1-41d2-883f-0016d3cca427' as Uuid;

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => newUuid(fixedSource(b)));
const sandboxArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,125}$/).map((tail) => sandboxId(`sb-${tail}`));
const customArb = fc
  .record({
    product: fc.stringMatching(/^[a-z][a-z0-9_-]{0,63}$/),
    id: fc.stringMatching(/^[A-Za-z0-9._~:/@+=%-]{1,80}$/),
  })
  .filter(({ product, id }) => {
    const uri = `${product}:${id}`;
    return ![
      'runtime:sandbox:',
      'messaging:message:',
      'oversight:request:',
      'metering:subscription:',
      'messaging:channel:',
    ].some((p) => uri.startsWith(p));
  })
  .map(({ product, id }): ResourceId => ({ kind: 'custom', product, id }));
const resourceArb: fc.Arbitrary<ResourceId> = fc.oneof(
  sandboxArb.map((id): ResourceId => ({ kind: 'sandbox', id })),
  uuidArb.map((id): ResourceId => ({ kind: 'message', id })),
  uuidArb.map((id): ResourceId => ({ kind: 'oversight_request', id })),
  uuidArb.map((id): ResourceId => ({ kind: 'subscription', id })),
  uuidArb.map((id): ResourceId => ({ kind: 'channel', id })),
  customArb,
);

describe('policyId', () => {
  it('accepts ids in the documented charset and returns them unchanged', () => {
    for (const text of ['p', 'spawn-limits/v2', 'org:acme:egress', 'team@acme.io/policy_1', '0']) {
      expect(policyId(text)).toBe(text);
      expect(isPolicyId(text)).toBe(true);
    }
  });

  it('accepts exactly MAX_POLICY_ID_LENGTH characters and rejects one more', () => {
    expect(policyId('a'.repeat(MAX_POLICY_ID_LENGTH))).toHaveLength(256);
    expectEnablementError(() => policyId('a'.repeat(MAX_POLICY_ID_LENGTH + 1)), 'PL-400', 'longer than 256');
    expect(isPolicyId('a'.repeat(257))).toBe(false);
  });

  it('rejects empty, non-string, whitespace, wildcards, leading punctuation and non-ASCII', () => {
    expectEnablementError(() => policyId(''), 'PL-400', 'policyId: expected a non-empty string');
    expectEnablementError(() => policyId(42), 'PL-400', 'non-empty string');
    expectEnablementError(() => policyId(null, 'rule.policy'), 'PL-400', 'rule.policy:');
    for (const bad of ['a b', 'a\n', 'a*', 'a>b', '-a', '/a', '.a', ':a', 'é', 'a\u0000', 'a#b', 'a?b']) {
      expectEnablementError(() => policyId(bad), 'PL-400', 'only letters, digits');
      expect(isPolicyId(bad)).toBe(false);
    }
  });

  it('property: accepted exactly when the text matches the documented grammar', () => {
    const grammar = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}$/;
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.stringMatching(/^[A-Za-z0-9._:/@*\s-]{0,40}$/)),
        (text) => {
          expect(isPolicyId(text)).toBe(grammar.test(text));
          if (grammar.test(text)) expect(policyId(text)).toBe(text);
          else expectEnablementError(() => policyId(text), 'PL-400');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('uuid', () => {
  it('newUuid sets the version 4 and variant bits from fixed random bytes', () => {
    expect(newUuid(fixedSource(new Uint8Array(16)))).toBe('00000000-0000-4000-8000-000000000000');
    expect(newUuid(fixedSource(new Uint8Array(16).fill(0xff)))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    const counting = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
    expect(newUuid(fixedSource(counting))).toBe('00112233-4455-4677-8899-aabbccddeeff');
  });

  it('does not modify the bytes returned by the random source', () => {
    const bytes = new Uint8Array(16).fill(0xff);
    newUuid(fixedSource(bytes));
    expect(bytes).toEqual(new Uint8Array(16).fill(0xff));
  });

  it('property: newUuid keeps all 122 random bits and is a valid v4 UUID', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const id = newUuid(fixedSource(bytes));
        expect(isUuid(id)).toBe(true);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        const hex = id.replaceAll('-', '');
        const back = Uint8Array.from({ length: 16 }, (_, i) =>
          Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16),
        );
        const expected = Uint8Array.from(bytes);
        expected[6] = ((expected[6] as number) & 0x0f) | 0x40;
        expected[8] = ((expected[8] as number) & 0x3f) | 0x80;
        expect(back).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('the default source is random: 1000 ids are distinct', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newUuid()));
    expect(ids.size).toBe(1000);
  });

  it('rejects a random source that breaks its contract', () => {
    expectEnablementError(() => newUuid(() => new Uint8Array(15)), 'PL-400', 'random source');
    expectEnablementError(() => newUuid(() => [1, 2, 3] as unknown as Uint8Array), 'PL-400', 'random source');
  });

  it('isUuid accepts canonical UUIDs of every RFC 9562 version', () => {
    fc.assert(
      fc.property(fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8] }), (text) => {
        expect(isUuid(text)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('isUuid rejects non-canonical spellings, nil/max, wrong version or variant, non-strings', () => {
    for (const bad of [
      UUID_A.toUpperCase(),
      `{${UUID_A}}`,
      UUID_A.replaceAll('-', ''),
      `${UUID_A} `,
      `urn:uuid:${UUID_A}`,
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '1b4e28ba-2fa1-01d2-883f-0016d3cca427', // version 0
      '1b4e28ba-2fa1-91d2-883f-0016d3cca427', // version 9
      '1b4e28ba-2fa1-41d2-c83f-0016d3cca427', // variant 110x
      '1b4e28ba-2fa1-41d2-783f-0016d3cca427', // variant 0xxx
      '1b4e28ba-2fa1-41d2-883f-0016d3cca42',
      '',
    ]) {
      expect(isUuid(bad)).toBe(false);
      expectEnablementError(() => parseUuid(bad, 'messageId'), 'PL-400', 'messageId:');
    }
    expect(isUuid(42)).toBe(false);
    expect(isUuid(undefined)).toBe(false);
  });

  it('assertUuid and parseUuid pass canonical UUIDs through', () => {
    const value: unknown = UUID_A;
    assertUuid(value);
    const typed: Uuid = value;
    expect(typed).toBe(UUID_A);
    expect(parseUuid(UUID_A)).toBe(UUID_A);
    expectEnablementError(
      () => assertUuid('nope', 'requestId'),
      'PL-400',
      'requestId: expected a lowercase RFC 9562 UUID',
    );
  });
});

describe('sandboxId', () => {
  it('newSandboxId is sb- followed by a v4 UUID, deterministic with a fixed source', () => {
    expect(newSandboxId(fixedSource(new Uint8Array(16)))).toBe('sb-00000000-0000-4000-8000-000000000000');
    const id = newSandboxId();
    expect(isSandboxId(id)).toBe(true);
    expect(isUuid(id.slice(3))).toBe(true);
    expect(newSandboxId()).not.toBe(id);
  });

  it('accepts sb- followed by [A-Za-z0-9_-], up to the length limit', () => {
    expect(sandboxId('sb-1')).toBe('sb-1');
    expect(sandboxId('sb-Abc_DEF-9')).toBe('sb-Abc_DEF-9');
    const longest = `sb-${'x'.repeat(MAX_SANDBOX_ID_LENGTH - 3)}`;
    expect(sandboxId(longest)).toBe(longest);
    expectEnablementError(() => sandboxId(`${longest}x`), 'PL-400', 'longer than 128');
  });

  it('rejects a missing prefix, an empty tail, separators, wildcards and non-strings', () => {
    expectEnablementError(() => sandboxId('1234'), 'PL-400', "starting with 'sb-'");
    expectEnablementError(() => sandboxId('SB-1'), 'PL-400', "starting with 'sb-'");
    expectEnablementError(() => sandboxId(undefined, 'spawn.id'), 'PL-400', 'spawn.id:');
    for (const bad of ['sb-', 'sb-a:b', 'sb-a.b', 'sb-*', 'sb->', 'sb-a b', 'sb-é']) {
      expectEnablementError(() => sandboxId(bad), 'PL-400', 'expected one or more');
      expect(isSandboxId(bad)).toBe(false);
    }
  });
});

describe('ResourceId URIs (spec §6.5)', () => {
  it('gives exactly the spec URI for every variant', () => {
    const sb = sandboxId('sb-42');
    const cases: [ResourceId, string][] = [
      [{ kind: 'sandbox', id: sb }, 'runtime:sandbox:sb-42'],
      [{ kind: 'message', id: UUID_A }, `messaging:message:${UUID_A}`],
      [{ kind: 'oversight_request', id: UUID_A }, `oversight:request:${UUID_A}`],
      [{ kind: 'subscription', id: UUID_A }, `metering:subscription:${UUID_A}`],
      [{ kind: 'channel', id: UUID_A }, `messaging:channel:${UUID_A}`],
      [{ kind: 'custom', product: 'network', id: 'api.example.com' }, 'network:api.example.com'],
      [{ kind: 'custom', product: 'agent', id: 'agent:nhi:ed25519:abc' }, 'agent:agent:nhi:ed25519:abc'],
    ];
    for (const [resource, uri] of cases) {
      expect(resourceIdToUri(resource)).toBe(uri);
      expect(resourceIdFromUri(uri)).toEqual(resource);
      expect(isResourceId(resource)).toBe(true);
    }
  });

  it('property: round trip for every variant', () => {
    fc.assert(
      fc.property(resourceArb, (resource) => {
        const uri = resourceIdToUri(resource);
        const back = resourceIdFromUri(uri);
        expect(back).toEqual(resource);
        expect(Object.isFrozen(back)).toBe(true);
        expect(resourceIdToUri(back)).toBe(uri);
      }),
      { numRuns: 300 },
    );
  });

  it('property: any string either fails with PL-400 or parses to the one resource that prints back to it', () => {
    const uriLike = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc
        .tuple(
          fc.constantFrom(
            'runtime:sandbox:',
            'messaging:message:',
            'oversight:request:',
            'metering:',
            'net:',
            '',
          ),
          fc.oneof(
            fc.string({ maxLength: 40 }),
            uuidArb,
            fc.uuid(),
            fc.stringMatching(/^[A-Za-z0-9:_.-]{0,40}$/),
          ),
        )
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(uriLike, (uri) => {
        let parsed: ResourceId;
        try {
          parsed = resourceIdFromUri(uri);
        } catch (error) {
          expect(EnablementError.is(error) && error.code).toBe('PL-400');
          return;
        }
        expect(resourceIdToUri(parsed)).toBe(uri);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects custom resources that would read back as a built-in variant', () => {
    const collisions: [string, string][] = [
      ['runtime', 'sandbox:sb-1'],
      ['messaging', 'message:x'],
      ['messaging', 'channel:y'],
      ['oversight', 'request:z'],
      ['metering', `subscription:${UUID_A}`],
    ];
    for (const [product, id] of collisions) {
      expectEnablementError(
        () => resourceIdToUri({ kind: 'custom', product, id }),
        'PL-400',
        'cannot start with',
      );
      expect(isResourceId({ kind: 'custom', product, id })).toBe(false);
    }
  });

  it('treats near-collisions as ordinary custom resources', () => {
    for (const uri of [
      'runtime:sandboxes:sb-1',
      'runtime:tool:echo',
      'messaging:messages:x',
      'oversight:requests',
    ]) {
      const parsed = resourceIdFromUri(uri);
      expect(parsed.kind).toBe('custom');
      expect(resourceIdToUri(parsed)).toBe(uri);
    }
  });

  it('parses built-in prefixes strictly: a bad id is an error, never a custom resource', () => {
    expectEnablementError(
      () => resourceIdFromUri('messaging:message:not-a-uuid'),
      'PL-400',
      'lowercase RFC 9562 UUID',
    );
    expectEnablementError(
      () => resourceIdFromUri(`oversight:request:${UUID_A.toUpperCase()}`),
      'PL-400',
      'UUID',
    );
    expectEnablementError(() => resourceIdFromUri(`metering:subscription:${UUID_A}:extra`), 'PL-400', 'UUID');
    expectEnablementError(() => resourceIdFromUri('messaging:channel:'), 'PL-400', 'UUID');
    expectEnablementError(() => resourceIdFromUri('runtime:sandbox:'), 'PL-400', 'sandbox id');
    expectEnablementError(() => resourceIdFromUri('runtime:sandbox:42'), 'PL-400', 'sandbox id');
    expectEnablementError(() => resourceIdFromUri('runtime:sandbox:sb-1:2'), 'PL-400', 'sandbox id');
  });

  it('rejects malformed custom URIs with a reason naming the part', () => {
    expectEnablementError(() => resourceIdFromUri('no-colon'), 'PL-400', "expected '<product>:<id>'");
    expectEnablementError(() => resourceIdFromUri(':id'), 'PL-400', 'resource.product');
    expectEnablementError(() => resourceIdFromUri('Net:x'), 'PL-400', 'resource.product');
    expectEnablementError(() => resourceIdFromUri('1net:x'), 'PL-400', 'resource.product');
    expectEnablementError(() => resourceIdFromUri('net:'), 'PL-400', 'resource.id');
    expectEnablementError(() => resourceIdFromUri('net:a b'), 'PL-400', 'resource.id');
    expectEnablementError(() => resourceIdFromUri('net:a*'), 'PL-400', 'resource.id');
    expectEnablementError(() => resourceIdFromUri('net:\u00e9'), 'PL-400', 'resource.id');
    expectEnablementError(
      () => resourceIdFromUri(`${'p'.repeat(MAX_CUSTOM_PRODUCT_LENGTH + 1)}:x`),
      'PL-400',
      'product',
    );
    expectEnablementError(
      () => resourceIdFromUri(`p:${'x'.repeat(MAX_CUSTOM_ID_LENGTH + 1)}`),
      'PL-400',
      'resource.id',
    );
    expect(resourceIdFromUri(`p:${'x'.repeat(MAX_CUSTOM_ID_LENGTH)}`).kind).toBe('custom');
    expectEnablementError(
      () => resourceIdFromUri(42, 'target'),
      'PL-400',
      'target: expected a resource URI string',
    );
  });

  it('validates every field of a ResourceId before printing it', () => {
    const hostile = [
      null,
      'runtime:sandbox:sb-1',
      { kind: 'volume', id: UUID_A },
      { kind: 'toString', id: UUID_A },
      { kind: 'message', id: 'nope' },
      { kind: 'message', id: UUID_A.toUpperCase() },
      { kind: 'sandbox', id: UUID_A },
      { kind: 'custom', product: 'net' },
      { kind: 'custom', product: 'NET', id: 'x' },
      { kind: 'custom', product: 'net:x', id: 'y' },
    ];
    for (const value of hostile) {
      expectEnablementError(() => resourceIdToUri(value as unknown as ResourceId), 'PL-400');
      expect(isResourceId(value)).toBe(false);
    }
    expectEnablementError(
      () => resourceIdToUri({ kind: 'channel', id: 'x' } as unknown as ResourceId, 'grant.resource'),
      'PL-400',
      'grant.resource.id',
    );
  });
});
