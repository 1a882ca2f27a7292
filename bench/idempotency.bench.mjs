// Idempotency guard overhead per call (hit and miss), and the cost of the retry executor and
// circuit breaker around a call that succeeds.

import {
  createCircuitBreaker,
  createIdempotencyGuard,
  createMemoryIdempotencyStore,
  retry,
} from '@creto/core';

/**
 * A clock that moves only when told: the miss case steps it past the window on every call, so the
 * previous call's record has expired and the store stays small (the benchmark measures the guard,
 * not a growing map). No timer is ever scheduled by these paths.
 */
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

const hitClock = manualClock();
const hitGuard = createIdempotencyGuard({
  store: createMemoryIdempotencyStore({ clock: hitClock }),
  clock: hitClock,
});
const hitRequest = { product: 'runtime', operation: 'spawn_sandbox', key: 'bench-hit', parameters };
await hitGuard.run(hitRequest, operation);

const missClock = manualClock();
const missGuard = createIdempotencyGuard({
  store: createMemoryIdempotencyStore({ clock: missClock }),
  clock: missClock,
});
let missSeq = 0;

const breaker = createCircuitBreaker({ name: 'bench', clock: hitClock });
const sampledBreaker = createCircuitBreaker({
  name: 'bench-sampled',
  clock: hitClock,
  sampling: { failureRateThreshold: 0.5, windowMs: 10_000, minimumThroughput: 20 },
});

/** @type {import('./harness.mjs').BenchSuite[]} */
export const suites = [
  {
    id: 'idempotency',
    title: 'Idempotency guard, retry and circuit breaker overhead',
    description: `
\`IdempotencyGuard.run\` over the in-memory store, with spawn-sandbox-sized parameters (fingerprinted
as SHA-256 of their RFC 8785 form) and result. *Hit*: the key completed earlier, so the stored
result is parsed and returned without running the operation. *Miss*: a new key each call, so the
guard locks, runs the operation, canonicalizes and stores its result, then parses it back (every
caller, the first included, gets the stored JSON). The baseline is awaiting the bare operation;
"fingerprint only" isolates the hashing. The last rows add \`retry\` and a closed circuit breaker
around an operation that succeeds at once: their fixed cost on the happy path.`,
    cases: [
      { name: 'baseline: await the operation', fn: async () => operation() },
      { name: 'fingerprint only (JCS + SHA-256)', fn: () => hitGuard.fingerprint(parameters) },
      { name: 'guard.run, hit (stored result returned)', fn: () => hitGuard.run(hitRequest, operation) },
      {
        name: 'guard.run, miss (lock, run, store)',
        fn: () => {
          missSeq += 1;
          // One window (1 ms) plus one: the previous miss's record has expired.
          missClock.step(2_000_000n);
          return missGuard.run(
            {
              product: 'runtime',
              operation: 'spawn_sandbox',
              key: `bench-miss-${missSeq}`,
              parameters,
              windowMs: 1,
            },
            operation,
          );
        },
      },
      { name: 'retry, first attempt succeeds', fn: () => retry(operation, { clock: hitClock }) },
      { name: 'breaker.execute, closed', fn: () => breaker.execute(operation) },
      { name: 'breaker.execute, closed, with sampling', fn: () => sampledBreaker.execute(operation) },
    ],
  },
];
