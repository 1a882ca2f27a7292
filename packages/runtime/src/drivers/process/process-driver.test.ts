import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnablementError, type JsonValue } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DriverExecRequest,
  DriverSandbox,
  DriverSandboxSpec,
  EgressRequest,
  EgressResponse,
  SandboxCapabilities,
  SandboxDriver,
  SandboxLimits,
} from '../../driver/types.js';
import { createProcessDriver, EGRESS_SOCKET_ENV, probeBubblewrap, startEgressProxy } from '../index.js';

const NODE = process.execPath;
const encoder = new TextEncoder();
const probe = await probeBubblewrap();
const bwrapNote = probe.available
  ? ''
  : ` (skipped: bubblewrap cannot run here: ${probe.reason ?? 'unknown'})`;

const LIMITS: SandboxLimits = {
  memoryBytes: 256n * 1024n * 1024n,
  cpuMillicores: 1000,
  execTimeoutMs: 10_000,
  maxOutputBytes: 64 * 1024,
};

interface Recorder extends SandboxCapabilities {
  readonly fetches: EgressRequest[];
}

function recorder(fetch?: SandboxCapabilities['fetch']): Recorder {
  const fetches: EgressRequest[] = [];
  return {
    fetches,
    async fetch(request) {
      fetches.push(request);
      if (fetch) return fetch(request);
      return {
        status: 201,
        statusText: 'Created',
        headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'x-upstream': 'yes' },
        body: encoder.encode(`fetched ${request.method} ${request.url}`),
      };
    },
    async callTool(): Promise<JsonValue> {
      return null;
    },
  };
}

let seq = 0;
function spec(
  env: Record<string, string> = {},
  capabilities: SandboxCapabilities = recorder(),
  limits: Partial<SandboxLimits> = {},
): DriverSandboxSpec {
  seq += 1;
  return {
    sandboxId: `sb-proc-${seq}`,
    agentNhi: 'agent:nhi:ed25519:test',
    limits: { ...LIMITS, ...limits },
    env,
    capabilities,
  };
}

function node(script: string, extra: Partial<DriverExecRequest> = {}): DriverExecRequest {
  return {
    command: NODE,
    args: ['-e', script],
    timeoutMs: 10_000,
    signal: new AbortController().signal,
    ...extra,
  };
}

async function withSandbox<T>(
  driver: SandboxDriver,
  fn: (sandbox: DriverSandbox) => Promise<T>,
  sandboxSpec: DriverSandboxSpec = spec(),
): Promise<T> {
  const sandbox = await driver.create(sandboxSpec);
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.dispose();
  }
}

// A script that asks the egress proxy for a URL and prints status, code header and body.
const PROXY_CLIENT = `
const http = require('http');
const [method, url, body] = process.argv.slice(1);
const req = http.request({ socketPath: process.env.${EGRESS_SOCKET_ENV}, path: url, method,
  headers: { 'x-from-sandbox': '1', 'proxy-authorization': 'Basic c2VjcmV0' } }, (res) => {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (d) => (text += d));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, code: res.headers['x-creto-error-code'] ?? null,
    encoding: res.headers['content-encoding'] ?? null, upstream: res.headers['x-upstream'] ?? null, text })));
});
req.on('error', (e) => console.log(JSON.stringify({ error: e.code })));
req.end(body);
`;

// Prints whether a TCP connection to 127.0.0.1:<port> succeeds.
const TCP_CLIENT = `
const socket = require('net').connect(Number(process.argv[1]), '127.0.0.1');
socket.on('connect', () => { console.log('connected'); socket.destroy(); });
socket.on('error', (e) => console.log('failed:' + e.code));
`;

/** Whether a process runs (a zombie waiting for a reaper does not). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

let tcpServer: Server;
let tcpPort = 0;
beforeAll(async () => {
  tcpServer = createServer((_req, res) => res.end('host'));
  await new Promise<void>((resolve) => tcpServer.listen(0, '127.0.0.1', resolve));
  tcpPort = (tcpServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => tcpServer.close(() => resolve()));
});

describe('createProcessDriver', () => {
  it('rejects bad options with PL-400 naming the option', () => {
    expectEnablementError(() => createProcessDriver({ maxSandboxes: 0 }), 'PL-400', 'maxSandboxes');
    expectEnablementError(() => createProcessDriver({ hiddenPaths: ['relative'] }), 'PL-400', 'hiddenPaths');
  });

  it('refuses to run unisolated unless allowed (RT-403)', async () => {
    const driver = createProcessDriver({ useBubblewrap: false });
    expect(driver.info).toMatchObject({ name: 'process', isolated: false });
    await expectEnablementRejection(driver.create(spec()), 'RT-403', 'allowUnisolated');
    const broken = createProcessDriver({ bwrapPath: '/nonexistent/bwrap' });
    expect(broken.info.isolated).toBe(false);
    expect(broken.probe.reason).toBeDefined();
    await expectEnablementRejection(broken.create(spec()), 'RT-403');
  });

  it('validates the environment it is given (RT-400)', async () => {
    const driver = createProcessDriver({ useBubblewrap: false, allowUnisolated: true });
    await expectEnablementRejection(driver.create(spec({ 'BAD NAME': 'x' })), 'RT-400', 'BAD NAME');
    await expectEnablementRejection(driver.create(spec({ [EGRESS_SOCKET_ENV]: '/x' })), 'RT-400');
    await expectEnablementRejection(driver.create(spec({ A: 'nul\0byte' })), 'RT-400');
  });
});

describe('unisolated child processes (allowUnisolated)', () => {
  const driver = createProcessDriver({ useBubblewrap: false, allowUnisolated: true });
  afterAll(() => driver.close?.());

  it('returns output, exit code and stdin round trips', async () => {
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec(
        node("process.stdout.write('out'); process.stderr.write('err'); process.exit(3)"),
      );
      expect(result).toMatchObject({
        outcome: 'error',
        stdout: 'out',
        stderr: 'err',
        exitCode: 3,
        truncated: false,
        error: expect.stringContaining('code 3'),
      });
      const echoed = await sandbox.exec(
        node('process.stdin.pipe(process.stdout)', { stdin: encoder.encode('héllo stdin') }),
      );
      expect(echoed).toMatchObject({ outcome: 'ok', stdout: 'héllo stdin', exitCode: 0 });
      const missing = await sandbox.exec({ ...node(''), command: 'definitely-not-a-command-xyz', args: [] });
      expect(missing).toMatchObject({ outcome: 'error', error: expect.stringContaining('ENOENT') });
      await expectEnablementRejection(sandbox.exec({ ...node(''), command: undefined }), 'RT-400', 'command');
    });
  });

  it('scrubs the environment down to spec.env and a minimal base', async () => {
    process.env.SECRET_TOKEN = 'hunter2-host-secret';
    try {
      await withSandbox(
        driver,
        async (sandbox) => {
          const result = await sandbox.exec(node('console.log(JSON.stringify(process.env))'));
          const env = JSON.parse(result.stdout) as Record<string, string>;
          expect(env.SECRET_TOKEN).toBeUndefined();
          expect(result.stdout).not.toContain('hunter2');
          expect(env.GIVEN).toBe('yes');
          expect(Object.keys(env).sort()).toEqual(
            ['GIVEN', 'HOME', 'LANG', 'PATH', 'TMPDIR', EGRESS_SOCKET_ENV].sort(),
          );
        },
        spec({ GIVEN: 'yes' }),
      );
    } finally {
      delete process.env.SECRET_TOKEN;
    }
  });

  it('kills the process group at the deadline: timeout', async () => {
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec(
        node(
          "const c = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000)",
          { timeoutMs: 300 },
        ),
      );
      expect(result).toMatchObject({ outcome: 'timeout', exitCode: null });
      // The grandchild went with the group.
      const grandchild = Number(result.stdout.trim());
      expect(grandchild).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isAlive(grandchild)).toBe(false);
    });
  });

  it('kills a process that floods its output: output_limit', async () => {
    await withSandbox(
      driver,
      async (sandbox) => {
        const result = await sandbox.exec(node("for (;;) process.stdout.write('x'.repeat(65536))"));
        expect(result).toMatchObject({ outcome: 'output_limit', truncated: true, exitCode: null });
        expect(result.stdout.length).toBe(1000);
      },
      spec({}, recorder(), { maxOutputBytes: 1000 }),
    );
  });

  it('aborts on the signal and on dispose, and removes the sandbox directory', async () => {
    const sandbox = await driver.create(spec());
    const cwd = (await sandbox.exec(node('console.log(process.cwd())'))).stdout.trim();
    expect(existsSync(cwd)).toBe(true);
    const controller = new AbortController();
    const aborted = sandbox.exec(node('setInterval(() => {}, 1000)', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    await expect(aborted).resolves.toMatchObject({ outcome: 'aborted' });
    const running = sandbox.exec(node('setInterval(() => {}, 1000)'));
    setTimeout(() => void sandbox.dispose(), 100);
    await expect(running).resolves.toMatchObject({ outcome: 'aborted' });
    await sandbox.dispose();
    expect(existsSync(cwd)).toBe(false);
    await expect(sandbox.exec(node('1'))).resolves.toMatchObject({ outcome: 'aborted' });
    expect(await driver.create(spec()).then((s) => s.checkpoint().finally(() => s.dispose()))).toEqual({});
  });

  it('reaches a host TCP server (there is no network namespace without bubblewrap)', async () => {
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec({ ...node(TCP_CLIENT), args: ['-e', TCP_CLIENT, String(tcpPort)] });
      expect(result.stdout.trim()).toBe('connected');
    });
  });
});

describe('egress proxy', () => {
  async function ask(socketPath: string, method: string, path: string, body?: string) {
    return new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
      (resolve, reject) => {
        const req = httpRequest(
          { socketPath, path, method, headers: { 'x-a': '1', connection: 'keep-alive' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  }

  it('turns absolute-URI requests into capabilities.fetch and refuses the rest', async () => {
    const caps = recorder(async (request): Promise<EgressResponse> => {
      if (request.url.includes('denied'))
        throw new EnablementError('RT-403', 'egress to denied.example is denied');
      if (request.url.includes('crash')) throw new Error('internal detail /etc/secret');
      if (request.url.includes('big'))
        return { status: 200, statusText: 'OK', headers: {}, body: new Uint8Array(2048) };
      return {
        status: 200,
        statusText: 'OK\r\nInjected: 1',
        headers: { 'x-up': 'v', 'bad\nname': 'x' },
        body: encoder.encode('pong'),
      };
    });
    const socketPath = join(tmpdir(), `creto-proxy-test-${process.pid}-${Date.now()}.sock`);
    const proxy = await startEgressProxy(socketPath, caps, {
      maxConnections: 4,
      maxRequestBytes: 1024,
      maxResponseBytes: 1024,
      requestTimeoutMs: 5000,
    });
    try {
      const ok = await ask(socketPath, 'POST', 'http://api.example.com/v1?q=1', 'body!');
      expect(ok).toMatchObject({ status: 200, text: 'pong' });
      expect(ok.headers['x-up']).toBe('v');
      expect(caps.fetches[0]).toMatchObject({ url: 'http://api.example.com/v1?q=1', method: 'POST' });
      expect(caps.fetches[0]?.headers['x-a']).toBe('1');
      expect(caps.fetches[0]?.headers.connection).toBeUndefined();
      expect(new TextDecoder().decode(caps.fetches[0]?.body)).toBe('body!');

      const denied = await ask(socketPath, 'GET', 'https://denied.example/');
      expect(denied).toMatchObject({ status: 403, headers: { 'x-creto-error-code': 'RT-403' } });
      expect(JSON.parse(denied.text)).toEqual({
        code: 'RT-403',
        message: 'egress to denied.example is denied',
      });

      const crashed = await ask(socketPath, 'GET', 'https://crash.example/');
      expect(crashed.status).toBe(502);
      expect(crashed.text).not.toContain('secret');

      expect((await ask(socketPath, 'GET', '/relative')).status).toBe(400);
      expect((await ask(socketPath, 'POST', 'http://x.example/', 'y'.repeat(2000))).status).toBe(413);
      expect((await ask(socketPath, 'GET', 'http://big.example/')).status).toBe(502);

      const connect = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ socketPath, method: 'CONNECT', path: 'example.com:443' });
        req.on('connect', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('response', (res) => resolve(res.statusCode ?? 0));
        req.on('error', reject);
        req.end();
      });
      expect(connect).toBe(403);
      expect(caps.fetches.map((f) => f.url)).toEqual([
        'http://api.example.com/v1?q=1',
        'https://denied.example/',
        'https://crash.example/',
        'http://big.example/',
      ]);
    } finally {
      await proxy.close();
      await proxy.close();
    }
  });
});

describe.skipIf(!probe.available)(`under bubblewrap${bwrapNote}`, () => {
  const driver = createProcessDriver({ probe });
  afterAll(() => driver.close?.());

  it('reports itself isolated', () => {
    expect(driver.info).toMatchObject({
      name: 'process',
      isolated: true,
      isolation: expect.stringContaining('bubblewrap'),
    });
  });

  it('runs commands with output, exit code and a scrubbed environment', async () => {
    process.env.SECRET_TOKEN = 'hunter2-host-secret';
    try {
      await withSandbox(
        driver,
        async (sandbox) => {
          const result = await sandbox.exec(
            node(
              "console.log(JSON.stringify({ env: process.env, cwd: process.cwd() })); process.stderr.write('e'); process.exit(2)",
            ),
          );
          expect(result).toMatchObject({ outcome: 'error', exitCode: 2, stderr: 'e' });
          const { env } = JSON.parse(result.stdout) as { env: Record<string, string> };
          expect(env.SECRET_TOKEN).toBeUndefined();
          expect(env.GIVEN).toBe('yes');
          expect(env[EGRESS_SOCKET_ENV]).toBe('/run/creto/egress.sock');
          expect(env.TMPDIR).toBe('/tmp');
        },
        spec({ GIVEN: 'yes' }),
      );
    } finally {
      delete process.env.SECRET_TOKEN;
    }
  });

  it('cannot reach the network: a host TCP server is unreachable', async () => {
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec({ ...node(TCP_CLIENT), args: ['-e', TCP_CLIENT, String(tcpPort)] });
      expect(result.stdout.trim()).toMatch(/^failed:/);
    });
  });

  it('sees a read-only root, a private /tmp and a writable sandbox directory', async () => {
    const marker = `creto-bwrap-marker-${process.pid}-${seq}`;
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec(
        node(`
          const fs = require('fs');
          const out = {};
          for (const path of ['/etc/creto-should-not-exist', '/usr/creto-x']) {
            try { fs.writeFileSync(path, 'x'); out[path] = 'written'; } catch (e) { out[path] = e.code; }
          }
          fs.writeFileSync('here.txt', 'ok'); out.cwd = fs.readFileSync('here.txt', 'utf8');
          fs.writeFileSync('/tmp/${marker}', 'x'); out.tmp = fs.existsSync('/tmp/${marker}');
          out.home = fs.existsSync('/root') ? fs.readdirSync('/root').length : 'absent';
          out.run = fs.readdirSync('/run').join(',');
          console.log(JSON.stringify(out));
        `),
      );
      expect(result.outcome).toBe('ok');
      expect(JSON.parse(result.stdout)).toEqual({
        '/etc/creto-should-not-exist': 'EROFS',
        '/usr/creto-x': 'EROFS',
        cwd: 'ok',
        tmp: true,
        home: expect.anything(),
        run: 'creto',
      });
    });
    // The sandbox's /tmp was private: nothing reached the host's.
    expect(existsSync(join('/tmp', marker))).toBe(false);
    expect(existsSync('/etc/creto-should-not-exist')).toBe(false);
  });

  it('reaches capabilities.fetch through the egress socket, and a denial is a 403', async () => {
    const caps = recorder(async (request) => {
      if (request.url.includes('denied')) throw new EnablementError('RT-403', 'egress denied by policy');
      return {
        status: 200,
        statusText: 'OK',
        headers: { 'content-encoding': 'gzip', 'x-upstream': 'yes' },
        body: encoder.encode('hello from the host'),
      };
    });
    await withSandbox(
      driver,
      async (sandbox) => {
        const allowed = await sandbox.exec({
          ...node(PROXY_CLIENT),
          args: ['-e', PROXY_CLIENT, 'POST', 'https://api.example.com/items', '{"a":1}'],
        });
        expect(JSON.parse(allowed.stdout)).toEqual({
          status: 200,
          code: null,
          encoding: null,
          upstream: 'yes',
          text: 'hello from the host',
        });
        const denied = await sandbox.exec({
          ...node(PROXY_CLIENT),
          args: ['-e', PROXY_CLIENT, 'GET', 'http://denied.example/'],
        });
        expect(JSON.parse(denied.stdout)).toMatchObject({ status: 403, code: 'RT-403' });
      },
      spec({}, caps),
    );
    expect(caps.fetches).toHaveLength(2);
    expect(caps.fetches[0]).toMatchObject({ url: 'https://api.example.com/items', method: 'POST' });
    expect(caps.fetches[0]?.headers['x-from-sandbox']).toBe('1');
    // A credential meant for the proxy is not forwarded.
    expect(caps.fetches[0]?.headers['proxy-authorization']).toBeUndefined();
    expect(new TextDecoder().decode(caps.fetches[0]?.body)).toBe('{"a":1}');
  });

  it("cannot see other sandboxes' directories or egress sockets", async () => {
    const parent = mkdtempSync(join('/var/tmp', 'creto-driver-test-'));
    const isolatedDriver = createProcessDriver({ probe, tmpDir: parent });
    try {
      const other = await isolatedDriver.create(spec());
      const otherWork = (await other.exec(node('console.log(process.cwd())'))).stdout.trim();
      const otherSocket = join(otherWork, '..', 'run', 'egress.sock');
      expect(existsSync(otherSocket)).toBe(true);
      await withSandbox(isolatedDriver, async (sandbox) => {
        const seen = await sandbox.exec({
          ...node(''),
          args: [
            '-e',
            'const fs = require("fs"); console.log(JSON.stringify(process.argv.slice(1).map((p) => fs.existsSync(p))))',
            otherWork,
            otherSocket,
          ],
        });
        expect(JSON.parse(seen.stdout)).toEqual([false, false]);
      });
      await other.dispose();
    } finally {
      await isolatedDriver.close?.();
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('kills everything at the deadline', async () => {
    await withSandbox(driver, async (sandbox) => {
      const result = await sandbox.exec(node('setInterval(() => {}, 1000)', { timeoutMs: 300 }));
      expect(result).toMatchObject({ outcome: 'timeout', exitCode: null });
      // The sandbox stays usable.
      expect((await sandbox.exec(node('console.log(1)'))).stdout).toBe('1\n');
    });
  });
});
