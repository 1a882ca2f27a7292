import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToUtf8, type JsonValue } from '@creto/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { verifyAttestation } from '../attestation/attestation.js';
import { type Harness, harness, KEYS, settle } from './runtime.test-support.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ echoed: Buffer.concat(chunks).toString('utf8'), path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function until(h: Harness, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    await settle(2);
    await h.clock.advanceAsync(0);
  }
  expect(done()).toBe(true);
}

describe('end to end with the QuickJS driver', () => {
  it('sandbox JavaScript reaches the network and tools only through the checked capabilities', async () => {
    // No `drivers` option: the runtime builds its default QuickJS driver (and `gvisor` aliases it).
    const h = await harness({ drivers: undefined, fetch: (input, init) => globalThis.fetch(input, init) });
    const transfers: JsonValue[] = [];
    h.runtime.registerTool({
      name: 'transfer_funds',
      description: 'Move money',
      schema: z.object({ amount: z.number().positive(), to: z.string() }),
      action: 'funds.transfer',
      handler: (args) => {
        transfers.push(args);
        return { ok: true, amount: args.amount };
      },
    });
    const sandbox = await h.runtime.spawnSandbox({
      agent: KEYS.agent,
      runtimeClass: 'gvisor',
      memoryBytes: 64n << 20n,
    });
    expect(sandbox.driver).toBe('quickjs');
    expect(verifyAttestation(sandbox.attestation, KEYS.host.identity)).toBe(true);

    const execution = sandbox.startExec({
      timeoutMs: 20_000,
      code: `
        const res = await fetch(${JSON.stringify(`${base}/invoices`)}, { method: 'POST', body: 'inv-42' });
        const data = await res.json();
        let denied = null;
        try { await fetch('http://localhost:9/'); } catch (e) { denied = e.code; }
        const paid = await tools.call('transfer_funds', { amount: 50000, to: 'acme' });
        globalThis.state = { paid: paid.amount };
        console.log('done');
        return { status: res.status, data, denied, paid };
      `,
    });
    await until(h, () => execution.state === 'pending_approval');
    expect(transfers).toEqual([]);
    h.oversight.approve(h.oversight.latest()[0]);
    const result = await execution.result;
    expect(result).toMatchObject({
      outcome: 'ok',
      stdout: 'done\n',
      value: {
        status: 200,
        data: { echoed: 'inv-42', path: '/invoices' },
        denied: 'RT-403',
        paid: { ok: true, amount: 50000 },
      },
    });
    expect(transfers).toEqual([{ amount: 50000, to: 'acme' }]);

    // Metered: allocation and one egress of 6 bytes out + the JSON back.
    await h.runtime.flushUsage();
    const egress = h.events.filter((e) => e.eventType === 'network_egress');
    expect(egress).toHaveLength(1);
    expect(egress[0]?.properties).toMatchObject({ destination: '127.0.0.1' });
    const audit = (await h.auditEvents()).filter((e) => e.action === 'network.egress').map((e) => e.outcome);
    expect(audit).toEqual(['success', 'denied']);

    // Checkpoint: the sandbox's `globalThis.state` lands in the agent's memory.
    await sandbox.checkpoint();
    const stored = await h.platform.memory.latestCheckpoint(KEYS.agent.identity, sandbox.sandboxId);
    expect(JSON.parse(bytesToUtf8(stored?.bytes ?? new Uint8Array()))).toEqual({ paid: 50000 });

    await h.runtime.close();
    expect(sandbox.state).toBe('terminated');
  });
});
