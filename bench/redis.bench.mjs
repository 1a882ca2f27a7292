// Idempotency guard over the Redis store (@creto/redis) against the memory store, in the same
// run. Skipped (no suites) when no Redis answers at CRETO_REDIS_URL (default redis://127.0.0.1:6379).

import { createConnection } from 'node:net';
import { createIdempotencyGuard, createMemoryIdempotencyStore } from '@creto/core';
import { createRedisIdempotencyStore } from '@creto/redis';

const URL_TEXT = process.env.CRETO_REDIS_URL || 'redis://127.0.0.1:6379';
const PREFIX = `creto-bench:${globalThis.crypto.randomUUID()}:`;
// The Redis client is opened on first use and closed after this long without a call (its keys
// deleted), so the process can exit when the harness is done.
const IDLE_CLOSE_MS = 2000;

function reachable(text) {
  const url = new URL(text);
  return new Promise((resolve) => {
    const socket = createConnection({ host: url.hostname, port: Number(url.port || 6379) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A clock that moves only when told (as in bench/idempotency.bench.mjs): memory misses expire. */
function manualClock(start = 1_767_225_600_000_000_000n) {
  let now = start;
  return {
    now: () => now,
    step: (ns) => {
      now += ns;
    },
    schedule: () => () => {},
  };
}

const parameters = {
  image: 'agent-base:latest',
  runtimeClass: 'wasm',
  limits: { memoryMb: 256, cpuMs: 1000 },
};
const result = { sandboxId: 'sb-0192f3c4-7a1b-7c2d-8e3f-4a5b6c7d8e9f', attestation: 'x'.repeat(88) };
const operation = () => result;
const hitRequest = { product: 'runtime', operation: 'spawn_sandbox', key: 'bench-hit', parameters };

let redisState;
let idle;
async function redis() {
  clearTimeout(idle);
  idle = setTimeout(async () => {
    const current = redisState;
    redisState = undefined;
    const { store } = await current;
    let cursor = '0';
    do {
      const [next, keys] = await store.client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
      if (keys.length > 0) await store.client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await store.close();
  }, IDLE_CLOSE_MS);
  idle.unref?.();
  redisState ??= (async () => {
    const store = createRedisIdempotencyStore({ url: URL_TEXT, keyPrefix: PREFIX });
    const guard = createIdempotencyGuard({ store });
    await guard.run(hitRequest, operation);
    return { store, guard };
  })();
  return redisState;
}

const hitClock = manualClock();
const memoryHit = createIdempotencyGuard({
  store: createMemoryIdempotencyStore({ clock: hitClock }),
  clock: hitClock,
});
await memoryHit.run(hitRequest, operation);
const missClock = manualClock();
const memoryMiss = createIdempotencyGuard({
  store: createMemoryIdempotencyStore({ clock: missClock }),
  clock: missClock,
});
let missSeq = 0;
const missRequest = (windowMs) => ({
  product: 'runtime',
  operation: 'spawn_sandbox',
  key: `bench-miss-${++missSeq}`,
  parameters,
  windowMs,
});

let suitesFound = [];
if (await reachable(URL_TEXT)) {
  suitesFound = [
    {
      id: 'redis',
      title: 'Idempotency guard: Redis store vs memory store',
      description: `
\`IdempotencyGuard.run\` over \`createRedisIdempotencyStore\` (@creto/redis) on the Redis at
\`CRETO_REDIS_URL\` (loopback in the reference run), compared in the same run with the memory store;
spawn-sandbox-sized parameters and result, as in the idempotency section. *Hit*: the key completed
earlier; one \`begin\` script returns the stored result. *Miss*: a new key each call: \`begin\`
(lock), the operation, \`complete\` (store the result): two Lua scripts, so two round trips. Redis
misses use a 1 s window, so keys expire on their own; the memory store steps a manual clock past
its window instead. The memory store is the baseline: the ratio is the price of a shared store
that several processes can use.`,
      baseline: 'memory',
      cases: [
        {
          name: 'guard.run, hit (stored result returned)',
          variant: 'memory',
          fn: () => memoryHit.run(hitRequest, operation),
        },
        {
          name: 'guard.run, hit (stored result returned)',
          variant: 'redis',
          fn: async () => (await redis()).guard.run(hitRequest, operation),
        },
        {
          name: 'guard.run, miss (lock, run, store)',
          variant: 'memory',
          fn: () => {
            missClock.step(2_000_000n);
            return memoryMiss.run(missRequest(1), operation);
          },
        },
        {
          name: 'guard.run, miss (lock, run, store)',
          variant: 'redis',
          fn: async () => (await redis()).guard.run(missRequest(1000), operation),
        },
      ],
    },
  ];
} else {
  console.warn(`redis bench skipped: no Redis at ${URL_TEXT} (set CRETO_REDIS_URL)`);
}

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = suitesFound;
