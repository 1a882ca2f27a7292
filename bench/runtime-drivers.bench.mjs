// Sandbox drivers: the cost of creating and disposing a sandbox, of a trivial execution, and of
// a capability round trip from sandbox code into the host, per driver.

import { createProcessDriver, createQuickJsDriver, probeBubblewrap } from '@creto/runtime';

const LIMITS = {
  memoryBytes: 64n * 1024n * 1024n,
  cpuMillicores: 1000,
  execTimeoutMs: 10_000,
  maxOutputBytes: 64 * 1024,
};

/** Capabilities that answer at once, so a round trip measures the driver's bridge only. */
const capabilities = {
  fetch: async () => ({ status: 200, statusText: 'OK', headers: {}, body: new Uint8Array(0) }),
  callTool: async (_name, args) => args,
};

let seq = 0;
const spec = () => {
  seq += 1;
  return {
    sandboxId: `sb-bench-${seq}`,
    agentNhi: 'agent:nhi:ed25519:bench',
    limits: LIMITS,
    env: {},
    capabilities,
  };
};
const never = new AbortController().signal;
const exec = (code) => ({ code, timeoutMs: 10_000, signal: never });

const quickjs = createQuickJsDriver();
// Warm sandboxes (and the compiled engine) are built outside the timed region.
const warm = await quickjs.create(spec());
await warm.exec(exec('return 1'));

const probe = await probeBubblewrap();
const processDriver = createProcessDriver(
  probe.available ? { probe } : { useBubblewrap: false, allowUnisolated: true },
);
const processVariant = probe.available ? 'process (bubblewrap)' : 'process (unisolated)';
const warmProcess = await processDriver.create(spec());
// The harness has no teardown: remove the warm sandbox's directory when the run is over.
process.once('beforeExit', () => {
  void processDriver.close();
});
const run = (command, args = []) => ({ command, args, timeoutMs: 10_000, signal: never });

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'runtime-drivers',
    title: 'Sandbox drivers: create, exec and capability overhead',
    description: `
*Create + dispose*: \`driver.create(spec)\` then \`sandbox.dispose()\`. For \`quickjs\` that is a new
WebAssembly instance of the (once-compiled) QuickJS engine, a runtime and context with limits, and
the sandbox prelude; the goal is under 5 ms at the median. For \`process\` it is a private
directory, an egress proxy listening on a Unix socket, and their removal. *Exec, trivial*: one
execution on a warm sandbox that does nothing (\`return 1\` in QuickJS; \`/bin/true\` in a process,
${probe.available ? 'inside bubblewrap' : 'without isolation: bubblewrap could not run on this machine'}).
*tools.call round trip*: sandbox code awaiting one host tool call that answers at once, against
the trivial exec: their difference is the bridge's cost (JSON across the boundary, a QuickJS promise
settled from the host, one more job round). *10 sequential calls* shows the per-call cost once the
exec itself is paid for.`,
    options: { maxTimeMs: 1500 },
    cases: [
      {
        name: 'create + dispose',
        variant: 'quickjs',
        fn: async () => {
          const sandbox = await quickjs.create(spec());
          await sandbox.dispose();
        },
      },
      {
        name: 'create + dispose',
        variant: processVariant,
        fn: async () => {
          const sandbox = await processDriver.create(spec());
          await sandbox.dispose();
        },
      },
      { name: 'exec, trivial', variant: 'quickjs', fn: () => warm.exec(exec('return 1')) },
      { name: 'exec, trivial', variant: processVariant, fn: () => warmProcess.exec(run('/bin/true')) },
      {
        name: 'exec with one tools.call round trip',
        variant: 'quickjs',
        fn: () => warm.exec(exec('return await tools.call("echo", { n: 1 })')),
      },
      {
        name: 'exec with 10 sequential tools.call',
        variant: 'quickjs',
        fn: () =>
          warm.exec(
            exec('let n = 0; for (let i = 0; i < 10; i++) n += await tools.call("echo", 1); return n'),
          ),
      },
    ],
  },
];
