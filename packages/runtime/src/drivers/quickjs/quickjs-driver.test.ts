import { EnablementError, type JsonValue } from '@creto/core';
import { expectEnablementError, expectEnablementRejection } from '@creto/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type {
  DriverExecRequest,
  DriverSandbox,
  DriverSandboxSpec,
  EgressRequest,
  EgressResponse,
  SandboxCapabilities,
  SandboxLimits,
} from '../../driver/types.js';
import { createQuickJsDriver } from '../index.js';

const encoder = new TextEncoder();

const LIMITS: SandboxLimits = {
  memoryBytes: 32n * 1024n * 1024n,
  cpuMillicores: 1000,
  execTimeoutMs: 2000,
  maxOutputBytes: 4096,
};

interface Recorder extends SandboxCapabilities {
  readonly fetches: EgressRequest[];
  readonly tools: { name: string; args: JsonValue }[];
}

function recorder(overrides: Partial<SandboxCapabilities> = {}): Recorder {
  const fetches: EgressRequest[] = [];
  const tools: { name: string; args: JsonValue }[] = [];
  return {
    fetches,
    tools,
    async fetch(request) {
      fetches.push(request);
      if (overrides.fetch) return overrides.fetch(request);
      const response: EgressResponse = {
        status: 200,
        statusText: 'OK',
        headers: { 'content-type': 'application/json', 'x-echo': request.method },
        body: encoder.encode(JSON.stringify({ url: request.url })),
      };
      return response;
    },
    async callTool(name, args) {
      tools.push({ name, args });
      if (overrides.callTool) return overrides.callTool(name, args);
      return { tool: name, echoed: args };
    },
  };
}

let seq = 0;
function spec(
  capabilities: SandboxCapabilities = recorder(),
  limits: Partial<SandboxLimits> = {},
): DriverSandboxSpec {
  seq += 1;
  return {
    sandboxId: `sb-test-${seq}`,
    agentNhi: 'agent:nhi:ed25519:test',
    limits: { ...LIMITS, ...limits },
    env: {},
    capabilities,
  };
}

function request(code: string, extra: Partial<DriverExecRequest> = {}): DriverExecRequest {
  return { code, timeoutMs: 2000, signal: new AbortController().signal, ...extra };
}

const driver = createQuickJsDriver();
afterAll(() => driver.close?.());

async function withSandbox<T>(
  fn: (sandbox: DriverSandbox) => Promise<T>,
  capabilities?: SandboxCapabilities,
  limits?: Partial<SandboxLimits>,
): Promise<T> {
  const sandbox = await driver.create(spec(capabilities, limits));
  try {
    return await fn(sandbox);
  } finally {
    await sandbox.dispose();
  }
}

/** After a limit was hit, the same driver still creates working sandboxes. */
async function expectDriverHealthy(): Promise<void> {
  await withSandbox(async (sandbox) => {
    const result = await sandbox.exec(request('return [1, 2, 3].map((x) => x * 2)'));
    expect(result).toMatchObject({ outcome: 'ok', value: [2, 4, 6] });
  });
}

describe('createQuickJsDriver', () => {
  it('reports itself as an isolated driver', () => {
    expect(driver.info).toEqual({
      name: 'quickjs',
      isolation: expect.stringContaining('QuickJS'),
      isolated: true,
    });
  });

  it('rejects bad options with PL-400 naming the option', () => {
    expectEnablementError(() => createQuickJsDriver({ maxMemoryBytes: 1 }), 'PL-400', 'maxMemoryBytes');
    expectEnablementError(
      () => createQuickJsDriver({ maxStackBytes: 4 * 1024 * 1024 }),
      'PL-400',
      'maxStackBytes',
    );
    expectEnablementError(
      () => createQuickJsDriver({ unknown: 1 } as unknown as Parameters<typeof createQuickJsDriver>[0]),
      'PL-400',
    );
  });

  it('refuses limits it cannot meet (RT-413) and malformed specs (RT-400)', async () => {
    await expectEnablementRejection(driver.create(spec(recorder(), { memoryBytes: 1024n })), 'RT-413');
    await expectEnablementRejection(
      driver.create({ ...spec(), limits: { ...LIMITS, memoryBytes: 5 as unknown as bigint } }),
      'RT-400',
      'memoryBytes',
    );
    await expectEnablementRejection(
      driver.create({ ...spec(), capabilities: {} as SandboxCapabilities }),
      'RT-400',
      'capabilities',
    );
  });

  it('bounds the number of live sandboxes', async () => {
    const small = createQuickJsDriver({ maxSandboxes: 1 });
    const first = await small.create(spec());
    await expectEnablementRejection(small.create(spec()), 'RT-413');
    await first.dispose();
    const second = await small.create(spec());
    await small.close?.();
    await expect(second.exec(request('return 1'))).resolves.toMatchObject({ outcome: 'aborted' });
    await expectEnablementRejection(small.create(spec()), 'RT-500', 'closed');
  });
});

describe('exec', () => {
  it('runs the code as an async function body and returns its JSON value', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request('const x = await Promise.resolve(20); return { answer: x + 22, list: [true, null, "s"] };'),
      );
      expect(result).toMatchObject({
        outcome: 'ok',
        value: { answer: 42, list: [true, null, 's'] },
        exitCode: null,
        truncated: false,
        stdout: '',
        stderr: '',
      });
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
    });
  });

  it('omits values that are not JSON', async () => {
    await withSandbox(async (sandbox) => {
      for (const code of [
        'return undefined',
        'return () => 1',
        'return 10n',
        'const a = {}; a.a = a; return a',
      ]) {
        const result = await sandbox.exec(request(code));
        expect(result.outcome).toBe('ok');
        expect(result).not.toHaveProperty('value');
      }
    });
  });

  it('bounds the size of the return value', async () => {
    const small = createQuickJsDriver({ maxValueBytes: 1024 });
    const sandbox = await small.create(spec());
    const result = await sandbox.exec(request('return "x".repeat(2000)'));
    expect(result.outcome).toBe('output_limit');
    expect(result.error).toContain('more than 1024');
    await small.close?.();
  });

  it('keeps globals between execs of one sandbox, not between sandboxes', async () => {
    await withSandbox(async (sandbox) => {
      await sandbox.exec(request('globalThis.counter = 1; var local = 5;'));
      const second = await sandbox.exec(request('counter += 1; return [counter, typeof local]'));
      expect(second.value).toEqual([2, 'undefined']);
      await withSandbox(async (other) => {
        expect((await other.exec(request('return typeof counter'))).value).toBe('undefined');
      });
    });
  });

  it('captures console output and cuts it at maxOutputBytes', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request('console.log("hello", 1, { a: [1] }, null); console.error(new TypeError("bad")); return 1'),
      );
      expect(result.stdout).toBe('hello 1 {"a":[1]} null\n');
      expect(result.stderr).toMatch(/^TypeError: bad\n/);
      expect(result.truncated).toBe(false);
    });
    await withSandbox(
      async (sandbox) => {
        const flood = await sandbox.exec(
          request('for (let i = 0; i < 1000; i++) console.log("é".repeat(10)); return 7'),
        );
        expect(flood.outcome).toBe('ok');
        expect(flood.value).toBe(7);
        expect(flood.truncated).toBe(true);
        expect(Buffer.byteLength(flood.stdout)).toBeLessThanOrEqual(64);
        // Cut on a character boundary: no replacement character at the end.
        expect(flood.stdout).not.toContain('\uFFFD');
      },
      undefined,
      { maxOutputBytes: 64 },
    );
  });

  it('reports syntax errors and uncaught errors with their text', async () => {
    await withSandbox(async (sandbox) => {
      const syntax = await sandbox.exec(request('return (;'));
      expect(syntax).toMatchObject({ outcome: 'error', error: expect.stringContaining('SyntaxError') });
      const thrown = await sandbox.exec(request('throw new RangeError("out of range")'));
      expect(thrown).toMatchObject({
        outcome: 'error',
        error: expect.stringContaining('RangeError: out of range'),
      });
      expect(thrown).not.toHaveProperty('errorCode');
      const primitive = await sandbox.exec(request('throw 42'));
      expect(primitive).toMatchObject({ outcome: 'error', error: 'Uncaught 42' });
      // A code that is not in the catalogue is not reported as an errorCode.
      const fake = await sandbox.exec(request('const e = new Error("x"); e.code = "NOPE"; throw e'));
      expect(fake).not.toHaveProperty('errorCode');
      // The sandbox is still usable after errors.
      expect((await sandbox.exec(request('return 1'))).value).toBe(1);
    });
  });

  it('rejects requests without code and refuses oversized queues', async () => {
    await withSandbox(async (sandbox) => {
      await expectEnablementRejection(sandbox.exec({ ...request(''), code: undefined }), 'RT-400', 'code');
    });
    const small = createQuickJsDriver({ maxQueuedExecs: 1 });
    let release: (value: JsonValue) => void = () => undefined;
    const sandbox = await small.create(
      spec(recorder({ callTool: () => new Promise<JsonValue>((resolve) => (release = resolve)) })),
    );
    const first = sandbox.exec(request('return await tools.call("wait", {})'));
    await expectEnablementRejection(sandbox.exec(request('return 2')), 'RT-413', 'queued');
    await new Promise((resolve) => setImmediate(resolve));
    release('done');
    await expect(first).resolves.toMatchObject({ outcome: 'ok', value: 'done' });
    await small.close?.();
  });

  it('runs execs one at a time, in call order', async () => {
    await withSandbox(async (sandbox) => {
      const results = await Promise.all([
        sandbox.exec(request('globalThis.log = ["a"]; await tools.call("t", 1); log.push("a2"); return log')),
        sandbox.exec(request('log.push("b"); return log')),
      ]);
      expect(results[0]?.value).toEqual(['a', 'a2']);
      expect(results[1]?.value).toEqual(['a', 'a2', 'b']);
    });
  });

  it('runs virtual timers in due order without waiting', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(`
          const order = [];
          const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
          setTimeout(() => order.push("late"), 60000);
          const id = setTimeout(() => order.push("cleared"), 10);
          clearTimeout(id);
          queueMicrotask(() => order.push("micro"));
          await sleep(1000);
          order.push("slept");
          await sleep(60000);
          return order;
        `),
      );
      expect(result).toMatchObject({ outcome: 'ok', value: ['micro', 'slept', 'late'] });
      expect(result.durationMs).toBeLessThan(2000);
    });
  });

  it('ends with an error when the code waits for nothing', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(request('await new Promise(() => {}); return 1'));
      expect(result).toMatchObject({ outcome: 'error', error: expect.stringContaining('never settle') });
      expect((await sandbox.exec(request('return 2'))).value).toBe(2);
    });
  });
});

describe('capabilities', () => {
  it('passes fetch requests to capabilities.fetch and gives a Response-like answer', async () => {
    const caps = recorder();
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(`
          const res = await fetch("https://api.example.com/v1/items?q=1", {
            method: "post",
            headers: { "Content-Type": "application/json", "X-Trace": "t1" },
            body: JSON.stringify({ a: 1 }),
          });
          return { ok: res.ok, status: res.status, type: res.headers.get("Content-Type"),
                   missing: res.headers.get("constructor"), body: await res.json() };
        `),
      );
      expect(result).toMatchObject({
        outcome: 'ok',
        value: {
          ok: true,
          status: 200,
          type: 'application/json',
          missing: null,
          body: { url: 'https://api.example.com/v1/items?q=1' },
        },
      });
    }, caps);
    expect(caps.fetches).toHaveLength(1);
    const sent = caps.fetches[0];
    expect(sent?.url).toBe('https://api.example.com/v1/items?q=1');
    expect(sent?.method).toBe('POST');
    expect(sent?.headers).toEqual({ 'content-type': 'application/json', 'x-trace': 't1' });
    expect(new TextDecoder().decode(sent?.body)).toBe('{"a":1}');
  });

  it('passes tool calls with their JSON arguments and returns the result', async () => {
    const caps = recorder();
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(
          'const [a, b] = await Promise.all([tools.call("search", { q: "x", n: [1, 2] }), tools.call("noargs")]); return [a, b]',
        ),
      );
      expect(result.value).toEqual([
        { tool: 'search', echoed: { q: 'x', n: [1, 2] } },
        { tool: 'noargs', echoed: null },
      ]);
    }, caps);
    expect(caps.tools).toEqual([
      { name: 'search', args: { q: 'x', n: [1, 2] } },
      { name: 'noargs', args: null },
    ]);
  });

  it('surfaces capability rejections as catchable errors carrying the code', async () => {
    const caps = recorder({
      fetch: async () => {
        throw new EnablementError('RT-403', 'egress to evil.example is denied by policy');
      },
      callTool: async (name) => {
        if (name === 'pending')
          throw new EnablementError('RT-202', 'waiting for approval', { retryAfterMs: 5000 });
        throw new Error('secret host detail: password=hunter2');
      },
    });
    await withSandbox(async (sandbox) => {
      const caught = await sandbox.exec(
        request(`
          try { await fetch("https://evil.example/"); return "no"; }
          catch (e) { return { name: e.name, code: e.code, message: e.message, isError: e instanceof Error }; }
        `),
      );
      expect(caught.value).toEqual({
        name: 'EnablementError',
        code: 'RT-403',
        message: 'egress to evil.example is denied by policy',
        isError: true,
      });
      const pending = await sandbox.exec(
        request(
          'try { await tools.call("pending", {}) } catch (e) { return [e.code, e.retryable, e.retryAfterMs] }',
        ),
      );
      expect(pending.value).toEqual(['RT-202', true, 5000]);
      const hidden = await sandbox.exec(
        request('try { await tools.call("boom", {}) } catch (e) { return [e.code, e.message] }'),
      );
      expect(hidden.value).toEqual(['RT-500', 'the host capability failed']);
      expect(JSON.stringify(hidden)).not.toContain('hunter2');

      const uncaught = await sandbox.exec(request('await fetch("https://evil.example/")'));
      expect(uncaught).toMatchObject({
        outcome: 'error',
        errorCode: 'RT-403',
        error: expect.stringContaining('egress to evil.example is denied by policy'),
      });
    }, caps);
  });

  it('validates fetch requests in the host (RT-400) before calling the capability', async () => {
    const caps = recorder();
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(`
          const codes = [];
          for (const [url, init] of [["file:///etc/passwd"], ["not a url"], ["https://x.example", { method: "GE T" }],
                                     ["https://x.example", { headers: { "bad header": "v" } }],
                                     ["https://x.example", { headers: { h: "a\\r\\nInjected: 1" } }]]) {
            try { await fetch(url, init); codes.push("sent"); } catch (e) { codes.push(e.code); }
          }
          try { await fetch("https://x.example", { method: "POST", body: { a: 1 } }); } catch (e) { codes.push(e.name); }
          return codes;
        `),
      );
      expect(result.value).toEqual(['RT-400', 'RT-400', 'RT-400', 'RT-400', 'RT-400', 'TypeError']);
    }, caps);
    expect(caps.fetches).toHaveLength(0);
  });

  it('bounds payloads and pending calls', async () => {
    const small = createQuickJsDriver({ maxCapabilityBytes: 2048, maxPendingCalls: 2 });
    const caps = recorder({
      fetch: async () => ({ status: 200, statusText: 'OK', headers: {}, body: new Uint8Array(4096) }),
    });
    const sandbox = await small.create(spec(caps));
    const result = await sandbox.exec(
      request(`
        const out = [];
        try { await tools.call("big", "x".repeat(5000)); } catch (e) { out.push(e.code); }
        try { await fetch("https://x.example/"); } catch (e) { out.push(e.code); }
        const calls = [tools.call("a"), tools.call("b"), tools.call("c")];
        const settled = await Promise.allSettled(calls);
        out.push(settled.map((s) => s.status === "fulfilled" ? "ok" : s.reason.code));
        return out;
      `),
    );
    expect(result.value).toEqual(['RT-413', 'RT-413', ['ok', 'ok', 'RT-413']]);
    expect(caps.tools.map((t) => t.name)).toEqual(['a', 'b']);
    await small.close?.();
  });

  it('ignores results that arrive after their exec ended', async () => {
    let release: (value: JsonValue) => void = () => undefined;
    const caps = recorder({ callTool: () => new Promise<JsonValue>((resolve) => (release = resolve)) });
    await withSandbox(async (sandbox) => {
      const first = await sandbox.exec(
        request('tools.call("slow").then((v) => { globalThis.late = v; }); return "not awaited"'),
      );
      expect(first.value).toBe('not awaited');
      release('arrived');
      await new Promise((resolve) => setImmediate(resolve));
      const second = await sandbox.exec(request('return typeof late'));
      expect(second.value).toBe('undefined');
    }, caps);
  });
});

describe('limits (the host survives each one)', () => {
  it('stops an infinite loop at the deadline: timeout', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(request('while (true) {}', { timeoutMs: 100 }));
      expect(result).toMatchObject({ outcome: 'timeout', error: expect.stringContaining('100 ms') });
      // A runtime stopped mid-JS is not reused.
      await expectEnablementRejection(sandbox.exec(request('return 1')), 'RT-413', 'time limit');
      await expectEnablementRejection(sandbox.checkpoint(), 'RT-413');
    });
    await expectDriverHealthy();
  });

  it('stops a busy wait on Date and an endless job queue', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request('const end = Date.now() + 60000; while (Date.now() < end) {} return 1', { timeoutMs: 100 }),
      );
      expect(result.outcome).toBe('timeout');
    });
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(request('for (;;) await null', { timeoutMs: 100 }));
      expect(result.outcome).toBe('timeout');
    });
    await expectDriverHealthy();
  });

  it('times out while waiting for a host call without poisoning the sandbox', async () => {
    const caps = recorder({ callTool: () => new Promise<JsonValue>(() => undefined) });
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request('console.log("before"); await tools.call("hang")', { timeoutMs: 50 }),
      );
      expect(result).toMatchObject({ outcome: 'timeout', stdout: 'before\n' });
      expect((await sandbox.exec(request('return "still usable"'))).value).toBe('still usable');
    }, caps);
  });

  it('stops an allocation bomb at the memory limit: memory_limit', async () => {
    await withSandbox(
      async (sandbox) => {
        const result = await sandbox.exec(
          request("let a = []; for (;;) a.push('x'.repeat(1e6))", { timeoutMs: 10_000 }),
        );
        expect(result).toMatchObject({ outcome: 'memory_limit' });
        await expectEnablementRejection(sandbox.exec(request('return 1')), 'RT-413', 'memory limit');
      },
      undefined,
      { memoryBytes: 8n * 1024n * 1024n },
    );
    await withSandbox(
      async (sandbox) => {
        // Many small objects allocated inside a promise job (quickjs-emscripten issue #269).
        const result = await sandbox.exec(request('await 0; const a = []; for (;;) a.push({ k: a.length })'));
        expect(result.outcome).toBe('memory_limit');
      },
      undefined,
      { memoryBytes: 8n * 1024n * 1024n },
    );
    await expectDriverHealthy();
  });

  it('clamps the memory limit to maxMemoryBytes', async () => {
    const small = createQuickJsDriver({ maxMemoryBytes: 8 * 1024 * 1024 });
    const sandbox = await small.create(spec(recorder(), { memoryBytes: 2n * 1024n * 1024n * 1024n }));
    const result = await sandbox.exec(
      request('const a = []; for (let i = 0; i < 64; i++) a.push(new ArrayBuffer(1 << 20)); return a.length'),
    );
    expect(result.outcome).toBe('memory_limit');
    await small.close?.();
  });

  it('turns deep recursion into a stack error, not a host crash', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(request('function f(n) { return f(n + 1) + 1 } return f(0)'));
      expect(result.outcome).toBe('error');
      expect(result.error).toMatch(/stack overflow|call stack/i);
      // A recursion error caught by the code is just an error.
      const caught = await sandbox.exec(
        request('function g() { g() } try { g() } catch (e) { return String(e) }'),
      );
      expect(caught.value).toMatch(/stack overflow/);
    });
    await withSandbox(async (sandbox) => {
      // Pathological nesting in C code (the parser) may exhaust the host stack first; the
      // sandbox is then lost, never the host.
      const result = await sandbox.exec(request('return eval("[".repeat(1e5) + "]".repeat(1e5)).length'));
      expect(result.outcome).toBe('error');
      expect(result.error).toMatch(/stack|nest|too many/i);
    });
    await expectDriverHealthy();
  });

  it('ends a running exec with aborted when the sandbox is disposed', async () => {
    let called: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (called = resolve));
    const caps = recorder({
      callTool: () => {
        called();
        return new Promise<JsonValue>(() => undefined);
      },
    });
    const sandbox = await driver.create(spec(caps));
    const running = sandbox.exec(request('await tools.call("forever"); return 1', { timeoutMs: 10_000 }));
    const queued = sandbox.exec(request('return 2'));
    await started;
    await sandbox.dispose();
    await expect(running).resolves.toMatchObject({ outcome: 'aborted' });
    await expect(queued).resolves.toMatchObject({ outcome: 'aborted' });
    await expect(sandbox.exec(request('return 3'))).resolves.toMatchObject({ outcome: 'aborted' });
    await expectEnablementRejection(sandbox.checkpoint(), 'RT-404');
    await sandbox.dispose();
  });

  it('ends an exec with aborted when its signal aborts', async () => {
    const controller = new AbortController();
    const caps = recorder({
      callTool: () => {
        controller.abort();
        return new Promise<JsonValue>(() => undefined);
      },
    });
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(request('await tools.call("x")', { signal: controller.signal }));
      expect(result.outcome).toBe('aborted');
      const already = await sandbox.exec(request('return 1', { signal: controller.signal }));
      expect(already.outcome).toBe('aborted');
    }, caps);
  });
});

describe('isolation', () => {
  it('gives the code no host objects', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(`
          const probes = {};
          probes.process = typeof process;
          probes.require = typeof require;
          probes.module = typeof module;
          probes.Buffer = typeof Buffer;
          probes.ctorProcess = typeof globalThis.constructor.constructor("return typeof process")() === "string"
            ? globalThis.constructor.constructor("return typeof process")() : "threw";
          probes.fnProcess = Function("return typeof process")();
          try { await import("fs"); probes.importFs = "loaded"; } catch (e) { probes.importFs = e.name; }
          try { await import("node:child_process"); probes.importCp = "loaded"; } catch (e) { probes.importCp = e.name; }
          probes.std = typeof std + typeof os;
          return probes;
        `),
      );
      expect(result.value).toEqual({
        process: 'undefined',
        require: 'undefined',
        module: 'undefined',
        Buffer: 'undefined',
        ctorProcess: 'undefined',
        fnProcess: 'undefined',
        importFs: expect.stringMatching(/Error/),
        importCp: expect.stringMatching(/Error/),
        std: 'undefinedundefined',
      });
    });
  });

  it('keeps prototype pollution inside the sandbox', async () => {
    await withSandbox(async (sandbox) => {
      const result = await sandbox.exec(
        request(`
          Object.prototype.polluted = "yes";
          Array.prototype.map = () => "hijacked";
          JSON.stringify = () => "hijacked";
          return JSON.parse('{"__proto__": {"polluted2": true}, "a": 1}');
        `),
      );
      expect(result.outcome).toBe('ok');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted2).toBeUndefined();
      expect([1].map((x) => x)).toEqual([1]);
      expect(JSON.stringify({ a: 1 })).toBe('{"a":1}');
      // The value crossed as JSON, so its own "__proto__" key is data, not a prototype.
      const value = result.value as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      // Replacing console or tools changes only the sandbox's own view.
      const after = await sandbox.exec(request('globalThis.console = null; return 5'));
      expect(after.value).toBe(5);
    });
  });
});

describe('checkpoint', () => {
  it('returns the JSON of globalThis.state, or {} without one', async () => {
    await withSandbox(async (sandbox) => {
      expect(await sandbox.checkpoint()).toEqual({});
      await sandbox.exec(request('globalThis.state = { step: 3, notes: ["a"], skipped: undefined }'));
      expect(await sandbox.checkpoint()).toEqual({ step: 3, notes: ['a'] });
      await sandbox.exec(request('state.step += 1'));
      expect(await sandbox.checkpoint()).toEqual({ step: 4, notes: ['a'] });
    });
  });

  it('rejects state that is not JSON and bounds its time', async () => {
    const quick = createQuickJsDriver({ checkpointTimeoutMs: 50 });
    const sandbox = await quick.create(spec());
    await sandbox.exec(request('globalThis.state = {}; state.self = state'));
    await expectEnablementRejection(sandbox.checkpoint(), 'RT-400', 'JSON');
    await sandbox.exec(request('globalThis.state = { toJSON() { while (true) {} } }'));
    await expectEnablementRejection(sandbox.checkpoint(), 'RT-408');
    await expectEnablementRejection(sandbox.exec(request('return 1')), 'RT-413');
    await quick.close?.();
  });

  it('gives capabilities no way in while serialising', async () => {
    const caps = recorder();
    await withSandbox(async (sandbox) => {
      await sandbox.exec(
        request('globalThis.state = { get leak() { tools.call("sneaky"); console.log("x"); return 1; } }'),
      );
      expect(await sandbox.checkpoint()).toEqual({ leak: 1 });
    }, caps);
    expect(caps.tools).toHaveLength(0);
  });
});

describe('error type', () => {
  it('uses EnablementError for every rejection', async () => {
    const error = await driver.create(spec(recorder(), { memoryBytes: 1n })).catch((e: unknown) => e);
    expect(EnablementError.is(error)).toBe(true);
  });
});
