import { expectEnablementError } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEgressTarget } from './fetch.js';
import { compileNetworkPolicy, networkPolicyAllows, normalizeHost } from './hosts.js';

const allows = (policy: Parameters<typeof compileNetworkPolicy>[0], host: string) =>
  networkPolicyAllows(compileNetworkPolicy(policy), normalizeHost(host) ?? host).allowed;

describe('sandbox network lists', () => {
  it('match exact hosts, subdomain wildcards, any, IP literals and IPv4 CIDR blocks', () => {
    const policy = { allowOut: ['api.example.com', '*.internal.test', '10.0.0.0/8', '[2001:db8::1]'] };
    expect(allows(policy, 'api.example.com')).toBe(true);
    expect(allows(policy, 'API.Example.COM.')).toBe(true);
    expect(allows(policy, 'www.example.com')).toBe(false);
    expect(allows(policy, 'a.b.internal.test')).toBe(true);
    expect(allows(policy, 'internal.test')).toBe(false);
    expect(allows(policy, 'evilinternal.test')).toBe(false);
    expect(allows(policy, '10.20.30.40')).toBe(true);
    expect(allows(policy, '11.0.0.1')).toBe(false);
    expect(allows(policy, '[2001:0db8:0:0:0:0:0:1]')).toBe(true);
    expect(allows({ allowOut: ['*'] }, 'anything.test')).toBe(true);
    expect(allows(undefined, 'anything.test')).toBe(true);
    expect(allows({ allowOut: [] }, 'anything.test')).toBe(false);
  });

  it('let denyOut win over allowOut', () => {
    const policy = { allowOut: ['*'], denyOut: ['*.pastebin.com', '169.254.0.0/16'] };
    expect(allows(policy, 'x.pastebin.com')).toBe(false);
    expect(allows(policy, '169.254.169.254')).toBe(false);
    expect(allows(policy, 'example.com')).toBe(true);
  });

  it('normalize hosts like the URL parser (IPv4 forms, IDN, case)', () => {
    expect(normalizeHost('0x7f.1')).toBe('127.0.0.1');
    expect(normalizeHost('2130706433')).toBe('127.0.0.1');
    expect(normalizeHost('Bücher.Example')).toBe('xn--bcher-kva.example');
    expect(normalizeHost('a b')).toBeUndefined();
    expect(normalizeHost('host:80')).toBeUndefined();
    expect(normalizeHost('user@host')).toBeUndefined();
    // A denied IP cannot be reached through another spelling of it.
    expect(allows({ denyOut: ['127.0.0.0/8'] }, '0x7f.1')).toBe(false);
    expect(parseEgressTarget({ url: 'http://2130706433:8080/x', method: 'get', headers: {} })).toEqual({
      url: 'http://127.0.0.1:8080/x',
      host: '127.0.0.1',
      port: 8080,
      method: 'GET',
    });
  });

  it('reject invalid rules with RT-400 naming the entry', () => {
    expectEnablementError(
      () => compileNetworkPolicy({ allowOut: ['ok.com', 'bad host'] }),
      'RT-400',
      /allowOut\[1\]/,
    );
    expectEnablementError(() => compileNetworkPolicy({ denyOut: ['10.0.0.0/33'] }), 'RT-400', /CIDR/);
    expectEnablementError(() => compileNetworkPolicy({ denyOut: ['*.'] }), 'RT-400');
    expectEnablementError(() => compileNetworkPolicy({ allowOut: 'x' as never }), 'RT-400');
    expectEnablementError(() => compileNetworkPolicy({ other: [] } as never), 'RT-400', /network\.other/);
    expectEnablementError(
      () => compileNetworkPolicy({ allowOut: Array.from({ length: 257 }, (_, i) => `h${i}.test`) }),
      'RT-400',
      /at most 256/,
    );
  });

  it('never let a host through that an exact allow list does not name (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), label, (allowed, probe) => {
        const hosts = allowed.map((l) => `${l}.test`);
        return allows({ allowOut: hosts }, `${probe}.test`) === hosts.includes(`${probe}.test`);
      }),
      { numRuns: 200 },
    );
  });
});
