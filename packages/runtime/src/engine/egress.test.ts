import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { auditEventDetail } from '@creto/core';
import { expectEnablementRejection } from '@creto/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EgressRequest } from '../driver/types.js';
import { harness, KEYS } from './runtime.test-support.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        res.end();
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(4096, 1));
      } else {
        res.writeHead(201, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end(JSON.stringify({ ok: true }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('egress (spec §3.2)', () => {
  it('performs an allowed request, audits the decision and meters request + response bytes', async () => {
    const h = await harness({ fetch: (input, init) => globalThis.fetch(input, init) });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const before = seen.length;
    const response = await sandbox.fetch({
      url: `${base}/orders?id=7`,
      method: 'post',
      headers: { 'content-type': 'text/plain', host: 'evil.example', connection: 'close' },
      body: new TextEncoder().encode('hello'),
    });
    expect(response.status).toBe(201);
    expect(response.headers['x-upstream']).toBe('yes');
    expect(new TextDecoder().decode(response.body)).toBe('{"ok":true}');
    const request = seen[before];
    expect(request).toMatchObject({ method: 'POST', url: '/orders?id=7', body: 'hello' });
    expect(request?.headers.host).toBe(base.slice('http://'.length)); // the sandbox cannot pick the Host

    await h.runtime.flushUsage(); // egress usage is signed off the request path
    const egress = h.events.find((e) => e.eventType === 'network_egress');
    expect(egress?.properties).toEqual({
      type: 'NetworkEgress',
      sandboxId: sandbox.sandboxId,
      destination: '127.0.0.1',
      bytesTransferred: 16n, // 5 bytes sent + 11 received
    });
    expect(egress?.idempotencyKey).toBe(`${sandbox.sandboxId}:egress:1`);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'network.egress');
    expect(audit.map((e) => [e.outcome, e.resource])).toEqual([['success', 'network:127.0.0.1']]);
    expect(audit[0] && auditEventDetail(audit[0])).toMatchObject({
      kind: 'EgressAttempt',
      decision: 'allow',
    });
  });

  it('denies a host authz does not allow with RT-403: audited, nothing sent, nothing metered', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const before = seen.length;
    const url = base.replace('127.0.0.1', 'localhost');
    await expectEnablementRejection(
      sandbox.fetch({ url, method: 'GET', headers: {} }),
      'RT-403',
      /network\.egress on network:localhost denied/,
    );
    expect(seen.length).toBe(before);
    expect(h.events.filter((e) => e.eventType === 'network_egress')).toHaveLength(0);
    const audit = (await h.auditEvents()).filter((e) => e.action === 'network.egress');
    expect(audit.map((e) => [e.outcome, e.resource])).toEqual([['denied', 'network:localhost']]);
  });

  it("applies the sandbox's denyOut / allowOut lists on top of authz (they only narrow)", async () => {
    const h = await harness({
      policies: [
        { id: 'spawn', effect: 'permit', action: 'sandbox.spawn' },
        { id: 'egress-any', effect: 'permit', action: 'network.egress' },
      ],
    });
    const denied = await h.runtime.spawnSandbox({ agent: KEYS.agent, network: { denyOut: ['127.0.0.0/8'] } });
    await expectEnablementRejection(
      denied.fetch({ url: base, method: 'GET', headers: {} }),
      'RT-403',
      /denyOut/,
    );
    const narrow = await h.runtime.spawnSandbox({
      agent: KEYS.agent,
      network: { allowOut: ['*.example.com'] },
    });
    await expectEnablementRejection(
      narrow.fetch({ url: base, method: 'GET', headers: {} }),
      'RT-403',
      /allowOut/,
    );
    const open = await h.runtime.spawnSandbox({ agent: KEYS.agent, network: { allowOut: ['127.0.0.1'] } });
    expect((await open.fetch({ url: base, method: 'GET', headers: {} })).status).toBe(201);
    expect(open.network).toEqual({ allowOut: ['127.0.0.1'] });

    // A list cannot widen what authz refuses.
    const h2 = await harness({ policies: [{ id: 'spawn', effect: 'permit', action: 'sandbox.spawn' }] });
    const wide = await h2.runtime.spawnSandbox({ agent: KEYS.agent, network: { allowOut: ['*'] } });
    await expectEnablementRejection(wide.fetch({ url: base, method: 'GET', headers: {} }), 'RT-403');
  });

  it('does not follow redirects: the next hop is checked again', async () => {
    const h = await harness();
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const response = await sandbox.fetch({ url: `${base}/redirect`, method: 'GET', headers: {} });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('http://169.254.169.254/latest/meta-data');
    await expectEnablementRejection(
      sandbox.fetch({ url: response.headers.location ?? '', method: 'GET', headers: {} }),
      'RT-403',
    );
  });

  it('bounds bodies (RT-413) and rejects malformed requests (RT-400)', async () => {
    const h = await harness({ limits: { egress: { maxResponseBodyBytes: 1024, maxRequestBodyBytes: 8 } } });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    await expectEnablementRejection(
      sandbox.fetch({ url: `${base}/big`, method: 'GET', headers: {} }),
      'RT-413',
    );
    await expectEnablementRejection(
      sandbox.fetch({ url: base, method: 'POST', headers: {}, body: new Uint8Array(9) }),
      'RT-413',
    );
    const bad: EgressRequest[] = [
      { url: 'file:///etc/passwd', method: 'GET', headers: {} },
      { url: 'http://user:pw@127.0.0.1/', method: 'GET', headers: {} },
      { url: 'not a url', method: 'GET', headers: {} },
      { url: base, method: 'CONNECT', headers: {} },
      { url: base, method: 'GET', headers: {}, body: new Uint8Array(1) },
      { url: base, method: 'GET', headers: { 'bad header': 'x' } },
    ];
    for (const request of bad) await expectEnablementRejection(sandbox.fetch(request), 'RT-400');
    expect(h.events.filter((e) => e.eventType === 'network_egress')).toHaveLength(0);
  });

  it('reports network failures as retryable RT-503 without metering', async () => {
    const h = await harness({
      fetch: async () => {
        throw new TypeError('connect ECONNREFUSED 10.1.2.3:443');
      },
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const error = await expectEnablementRejection(
      sandbox.fetch({ url: 'http://127.0.0.1:9/', method: 'GET', headers: {} }),
      'RT-503',
    );
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain('10.1.2.3');
    expect(h.runtime.stats().usage).toMatchObject({ pending: 0, reserved: 0 });
  });

  it('times out on the runtime clock (RT-503)', async () => {
    const h = await harness({
      limits: { egress: { timeoutMs: 5000 } },
      fetch: (_input, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        }),
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    const pending = expectEnablementRejection(
      sandbox.fetch({ url: 'http://127.0.0.1:9/', method: 'GET', headers: {} }),
      'RT-503',
      /timed out after 5000 ms/,
    );
    for (let i = 0; i < 20; i++) await h.clock.advanceAsync(500);
    await pending;
  });

  it('lets sandbox code see a denial as an error with its code', async () => {
    const h = await harness({ policies: [{ id: 'spawn', effect: 'permit', action: 'sandbox.spawn' }] });
    h.driver.scripts.set('fetch', async (caps) => {
      const response = await caps.fetch({ url: base, method: 'GET', headers: {} });
      return response.status;
    });
    const sandbox = await h.runtime.spawnSandbox({ agent: KEYS.agent });
    expect(await sandbox.exec({ code: 'fetch' })).toMatchObject({ outcome: 'error', errorCode: 'RT-403' });
  });
});
