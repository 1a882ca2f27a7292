import { expectEnablementRejection, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../canonical/canonicalize.js';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { bytesToHex } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { createIdempotencyGuard, type IdempotencyGuardOptions, type IdempotentRequest } from './guard.js';
import { createMemoryIdempotencyStore } from './memory-store.js';
import type { IdempotencyBeginResult, IdempotencyStore } from './store.js';
import { composeIdempotencyKey, DEFAULT_IDEMPOTENCY_WINDOWS, idempotencyStoreKey } from './windows.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A store that records every call, around a real memory store. */
function spyStore(inner: IdempotencyStore) {
  const calls: { method: string; args: unknown[] }[] = [];
  const store: IdempotencyStore = {
    begin: (...args) => {
      calls.push({ method: 'begin', args });
      return inner.begin(...args);
    },
    complete: (...args) => {
      calls.push({ method: 'complete', args });
      return inner.complete(...args);
    },
    release: (...args) => {
      calls.push({ method: 'release', args });
      return inner.release(...args);
    },
    get: (...args) => inner.get(...args),
  };
  const count = (method: string) => calls.filter((c) => c.method === method).length;
  return { store, calls, count };
}

function setup(options: Partial<IdempotencyGuardOptions> = {}) {
  const clock = new FakeClock();
  const memory = createMemoryIdempotencyStore({ clock });
  const spy = spyStore(memory);
  const storeErrors: { error: unknown; phase: string }[] = [];
  const guard = createIdempotencyGuard({
    store: spy.store,
    clock,
    onStoreError: (error, phase) => storeErrors.push({ error, phase }),
    ...options,
  });
  return { clock, memory, spy, guard, storeErrors };
}

/** A promise with its resolve and reject, to hold an operation in flight. */
function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const spawn = (key: string, parameters: unknown = { image: 'agent-base:latest' }): IdempotentRequest => ({
  product: 'runtime',
  operation: 'spawn_sandbox',
  key,
  parameters,
});

/** Lets queued promise continuations run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('idempotency keys', () => {
  it('has the exact format idem:{product}:{operation}:{key}', async () => {
    expect(idempotencyStoreKey('runtime', 'spawn_sandbox', 'k-1')).toBe('idem:runtime:spawn_sandbox:k-1');
    const nhi = 'agent:nhi:ed25519:DdS5o8TzS6hU5xwpC5AEx6PNHKbC39hC8kqu3TotQSLP';
    expect(idempotencyStoreKey('oversight', 'create_request', nhi)).toBe(
      `idem:oversight:create_request:${nhi}`,
    );
    const { guard, spy } = setup();
    await guard.run(spawn('abc'), () => 1);
    expect(spy.calls[0]?.args[0]).toBe('idem:runtime:spawn_sandbox:abc');
  });

  it('rejects bad parts with PL-400 naming the part', () => {
    const cases: [unknown, unknown, unknown, string][] = [
      ['billing', 'op', 'k', 'product'],
      ['runtime', 'Spawn', 'k', 'operation'],
      ['runtime', 'spawn:sandbox', 'k', 'operation'],
      ['runtime', '', 'k', 'operation'],
      ['runtime', 'op', '', 'key'],
      ['runtime', 'op', 'has space', 'key'],
      ['runtime', 'op', 'line\nbreak', 'key'],
      ['runtime', 'op', 'é', 'key'],
      ['runtime', 'op', 'x'.repeat(513), 'key'],
      ['runtime', 'op', 7, 'key'],
    ];
    for (const [product, operation, key, field] of cases) {
      let thrown: unknown;
      try {
        idempotencyStoreKey(product as 'runtime', operation as string, key as string);
      } catch (error) {
        thrown = error;
      }
      expect(EnablementError.is(thrown) && thrown.code).toBe('PL-400');
      expect((thrown as Error).message).toContain(field);
    }
    expect(idempotencyStoreKey('runtime', 'op', 'x'.repeat(512))).toHaveLength(
      512 + 'idem:runtime:op:'.length,
    );
  });

  it('composes multi-part keys unambiguously as SHA-256 of the canonical array', () => {
    const key = composeIdempotencyKey(nobleCryptoProvider, ['a:b', 'c']);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).toBe(bytesToHex(nobleCryptoProvider.sha256(canonicalBytes(['a:b', 'c']))));
    expect(composeIdempotencyKey(nobleCryptoProvider, ['a', 'b:c'])).not.toBe(key);
    expect(composeIdempotencyKey(nobleCryptoProvider, ['c', 'a:b'])).not.toBe(key);
    for (const parts of [[], [''], ['x'.repeat(4097)], [1], 'ab', Array(17).fill('p')]) {
      expect(() => composeIdempotencyKey(nobleCryptoProvider, parts as string[])).toThrow(EnablementError);
    }
  });

  it('exports the windows of spec §9.2', () => {
    const byOp = Object.fromEntries(
      DEFAULT_IDEMPOTENCY_WINDOWS.map((w) => [`${w.product}:${w.operation}`, w]),
    );
    expect(byOp['runtime:spawn_sandbox']).toMatchObject({
      windowMs: HOUR,
      keyedBy: ['agent_nhi', 'spec_hash'],
    });
    expect(byOp['metering:ingest_event']).toMatchObject({ windowMs: 7 * DAY });
    expect(byOp['oversight:create_request']).toMatchObject({
      windowMs: DAY,
      keyedBy: ['agent_nhi', 'action', 'resource'],
    });
    expect(byOp['messaging:send_message']).toMatchObject({ windowMs: 30 * DAY, keyedBy: ['message_id'] });
    expect(DEFAULT_IDEMPOTENCY_WINDOWS).toHaveLength(4);
    expect(Object.isFrozen(DEFAULT_IDEMPOTENCY_WINDOWS)).toBe(true);
  });
});

describe('IdempotencyGuard: one execution', () => {
  it('runs 100 concurrent duplicates once and gives every caller the result, without polling', async () => {
    const { guard, spy } = setup();
    const gate = deferred<void>();
    let executions = 0;
    const fn = async () => {
      executions++;
      await gate.promise;
      return { sandboxId: 'sb-1', ports: [80, 443] };
    };
    const calls = Array.from({ length: 100 }, () => guard.run(spawn('dup'), fn));
    await turn();
    expect(guard.inFlight).toBe(1);
    gate.resolve();
    const results = await Promise.all(calls);
    expect(executions).toBe(1);
    expect(spy.count('begin')).toBe(1);
    expect(spy.count('complete')).toBe(1);
    for (const result of results) expect(result).toEqual({ sandboxId: 'sb-1', ports: [80, 443] });
    // Each caller owns its copy: mutating one result cannot leak into another's.
    expect(results[0]).not.toBe(results[1]);
    expect(guard.inFlight).toBe(0);
  });

  it('returns the stored result to later duplicates until the window ends, then runs again', async () => {
    const { guard, clock, spy } = setup();
    let executions = 0;
    const fn = () => ({ n: ++executions });
    expect(await guard.run(spawn('k'), fn)).toEqual({ n: 1 });
    clock.advance(HOUR - 1);
    expect(await guard.run(spawn('k'), fn)).toEqual({ n: 1 });
    expect(spy.calls.find((c) => c.method === 'complete')?.args[3]).toBe(HOUR);
    clock.advance(1);
    expect(await guard.run(spawn('k'), fn)).toEqual({ n: 2 });
    expect(executions).toBe(2);
  });

  it('stores each default operation for its spec window', async () => {
    const { guard, spy } = setup();
    for (const w of DEFAULT_IDEMPOTENCY_WINDOWS) {
      await guard.run({ product: w.product, operation: w.operation, key: 'k', parameters: {} }, () => 'ok');
    }
    const ttls = spy.calls.filter((c) => c.method === 'complete').map((c) => c.args[3]);
    expect(ttls).toEqual([HOUR, 7 * DAY, DAY, 30 * DAY]);
  });

  it('gives the first caller the same JSON round-trip as its duplicates', async () => {
    const { guard } = setup();
    const first = await guard.run(spawn('json'), () => ({ a: 1, dropped: undefined, list: [undefined, 2] }));
    const second = await guard.run(spawn('json'), () => 'never');
    expect(first).toEqual({ a: 1, list: [null, 2] });
    expect(Object.hasOwn(first, 'dropped')).toBe(false);
    expect(second).toEqual(first);
    expect(await guard.run(spawn('void'), () => undefined)).toBeNull();
  });

  it('treats parameters with reordered members as the same request (RFC 8785 fingerprint)', async () => {
    const { guard } = setup();
    let executions = 0;
    await guard.run(spawn('k', { b: 2, a: { y: 1, x: [1, 'two'] } }), () => ++executions);
    expect(await guard.run(spawn('k', { a: { x: [1, 'two'], y: 1 }, b: 2 }), () => ++executions)).toBe(1);
    expect(guard.fingerprint({ b: 2, a: 1 })).toBe(
      bytesToHex(nobleCryptoProvider.sha256(canonicalBytes({ a: 1, b: 2 }))),
    );
  });

  it('property: concurrent callers with random parameters → one execution; others mismatch', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('p', 'q', 'r'), { minLength: 1, maxLength: 30 }),
        async (params) => {
          const { guard } = setup();
          let executions = 0;
          const settled = await Promise.allSettled(
            params.map((p) =>
              guard.run(spawn('same', { p }), async () => {
                executions++;
                await turn();
                return p;
              }),
            ),
          );
          expect(executions).toBe(1);
          const winner = params[0];
          settled.forEach((s, i) => {
            if (params[i] === winner) expect(s).toEqual({ status: 'fulfilled', value: winner });
            else expect(s.status === 'rejected' && (s.reason as EnablementError).code).toBe('PL-409');
          });
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('IdempotencyGuard: mismatch', () => {
  it('rejects the same key with other parameters, once completed: PL-409, not retryable', async () => {
    const { guard } = setup();
    await guard.run(spawn('k', { image: 'a' }), () => 'done');
    let ran = false;
    const error = await expectEnablementRejection(
      guard.run(spawn('k', { image: 'b' }), () => {
        ran = true;
      }),
      'PL-409',
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('different parameters');
    expect(error.message).toContain('runtime:spawn_sandbox');
    expect(ran).toBe(false);
  });

  it('rejects it while the first is in flight, in this guard and in another', async () => {
    const { guard, clock, memory } = setup();
    const gate = deferred<string>();
    const first = guard.run(spawn('k', { image: 'a' }), () => gate.promise);
    const local = await expectEnablementRejection(
      guard.run(spawn('k', { image: 'b' }), () => 'x'),
      'PL-409',
    );
    expect(local.retryable).toBe(false);
    const other = createIdempotencyGuard({ store: memory, clock });
    const remote = await expectEnablementRejection(
      other.run(spawn('k', { image: 'b' }), () => 'x'),
      'PL-409',
    );
    expect(remote.retryable).toBe(false);
    gate.resolve('a');
    expect(await first).toBe('a');
  });
});

describe('IdempotencyGuard: failures', () => {
  it('does not cache a failure: the key is released and a retry runs again', async () => {
    const { guard, memory } = setup();
    const boom = new EnablementError('RT-503', 'driver unavailable');
    await expect(
      guard.run(spawn('k'), () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await memory.get('idem:runtime:spawn_sandbox:k')).toBeUndefined();
    expect(await guard.run(spawn('k'), () => 'second try')).toBe('second try');
  });

  it('gives the failure to the duplicates that shared the execution', async () => {
    const { guard } = setup();
    const gate = deferred<never>();
    const calls = Array.from({ length: 5 }, () => guard.run(spawn('k'), () => gate.promise));
    const boom = new Error('boom');
    gate.reject(boom);
    const settled = await Promise.allSettled(calls);
    expect(settled.every((s) => s.status === 'rejected' && s.reason === boom)).toBe(true);
  });

  it('caches failures that cacheFailure selects and replays them as EnablementErrors', async () => {
    const { guard, spy } = setup({ cacheFailure: (e) => e.code === 'RT-400' });
    let executions = 0;
    const fn = () => {
      executions++;
      throw new EnablementError('RT-400', 'image is required', { traceId: 't-1' });
    };
    const first = await expectEnablementRejection(guard.run(spawn('k'), fn), 'RT-400');
    const again = await expectEnablementRejection(guard.run(spawn('k'), fn), 'RT-400');
    expect(executions).toBe(1);
    expect(first.toJSON()).toEqual(again.toJSON());
    expect(again.traceId).toBe('t-1');
    expect(spy.count('release')).toBe(0);
    // Not selected: released, not cached.
    const transient = () => {
      throw new EnablementError('RT-503', 'down');
    };
    await expectEnablementRejection(guard.run(spawn('t'), transient), 'RT-503');
    expect(spy.count('release')).toBe(1);
  });

  it('never caches a foreign error, even if asked to', async () => {
    const { guard } = setup({ cacheFailure: () => true });
    await expect(
      guard.run(spawn('k'), () => {
        throw new TypeError('bug');
      }),
    ).rejects.toThrow(TypeError);
    expect(await guard.run(spawn('k'), () => 'ok')).toBe('ok');
  });

  it('rejects a non-JSON result with PL-400 and releases the key', async () => {
    const { guard } = setup();
    for (const bad of [new Date(0), 1n, { f: () => 1 }, Number.NaN, new Map()]) {
      await expectEnablementRejection(
        guard.run(spawn('k'), () => bad),
        'PL-400',
        'result must be JSON',
      );
    }
    expect(await guard.run(spawn('k'), () => 'fine')).toBe('fine');
  });

  it('rejects a result longer than maxResultLength with PL-400', async () => {
    const { guard } = setup({ maxResultLength: 100 });
    await expectEnablementRejection(
      guard.run(spawn('k'), () => 'x'.repeat(100)),
      'PL-400',
      'longer than 100',
    );
    expect(await guard.run(spawn('k'), () => 'short')).toBe('short');
  });

  it('rejects non-JSON parameters with PL-400 before running anything', async () => {
    const { guard, spy } = setup();
    let ran = false;
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const parameters of [{ n: 1n }, cyclic, { d: new Date(0) }, Number.POSITIVE_INFINITY]) {
      await expectEnablementRejection(
        guard.run(spawn('k', parameters), () => {
          ran = true;
        }),
        'PL-400',
        'parameters',
      );
    }
    expect(ran).toBe(false);
    expect(spy.calls).toHaveLength(0);
  });
});

describe('IdempotencyGuard: in flight elsewhere, crashes and lock TTL', () => {
  it('answers a duplicate from another process with a retryable PL-409 and a retry hint', async () => {
    const { guard, clock, memory } = setup();
    const gate = deferred<string>();
    const first = guard.run(spawn('k'), () => gate.promise);
    await turn();
    const other = createIdempotencyGuard({ store: memory, clock });
    const error = await expectEnablementRejection(
      other.run(spawn('k'), () => 'second'),
      'PL-409',
    );
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(100);
    expect(error.message).toContain('in flight');
    gate.resolve('first');
    await first;
    expect(await other.run(spawn('k'), () => 'second')).toBe('first');
  });

  it('caps the hint by the time left on the lock', async () => {
    const { guard, clock, memory } = setup({ lockTtlMs: 1_000 });
    void guard.run(spawn('k'), () => new Promise(() => {}));
    await turn();
    clock.advance(950);
    const other = createIdempotencyGuard({ store: memory, clock });
    const error = await expectEnablementRejection(
      other.run(spawn('k'), () => 1),
      'PL-409',
    );
    expect(error.retryAfterMs).toBe(50);
  });

  it('waits up to inFlightWaitMs for another process, polling the store on the clock', async () => {
    const { guard, clock, memory } = setup();
    const gate = deferred<string>();
    const first = guard.run(spawn('k'), () => gate.promise);
    await turn();
    const other = createIdempotencyGuard({ store: memory, clock, inFlightWaitMs: 1_000 });
    let ran = false;
    const waiting = other.run(spawn('k'), () => {
      ran = true;
      return 'second';
    });
    await clock.advanceAsync(300);
    gate.resolve('first');
    await first;
    await clock.advanceAsync(100);
    expect(await waiting).toBe('first');
    expect(ran).toBe(false);

    // And gives up with PL-409 when the wait is over.
    void guard.run(spawn('slow'), () => new Promise(() => {}));
    await turn();
    const gaveUp = expectEnablementRejection(
      other.run(spawn('slow'), () => 'x'),
      'PL-409',
    );
    await clock.advanceAsync(1_000);
    const error = await gaveUp;
    expect(error.retryable).toBe(true);
  });

  it('runs again after a crashed executor’s lock expires', async () => {
    const { guard, clock, memory } = setup({ lockTtlMs: 5_000 });
    // A process took the lock and died before completing.
    const crashed = (await memory.begin(
      'idem:runtime:spawn_sandbox:k',
      guard.fingerprint({ image: 'agent-base:latest' }),
      5_000,
    )) as IdempotencyBeginResult;
    expect(crashed.status).toBe('acquired');
    await expectEnablementRejection(
      guard.run(spawn('k'), () => 'x'),
      'PL-409',
    );
    clock.advance(5_000);
    expect(await guard.run(spawn('k'), () => 'recovered')).toBe('recovered');
    expect(await guard.run(spawn('k'), () => 'again')).toBe('recovered');
  });

  it('fences a slow executor whose lock expired: its result is returned but not stored', async () => {
    const { guard, clock, memory, storeErrors } = setup({ lockTtlMs: 1_000 });
    const slow = deferred<string>();
    const first = guard.run(spawn('k'), () => slow.promise);
    await turn();
    clock.advance(1_000);
    const other = createIdempotencyGuard({ store: memory, clock });
    expect(await other.run(spawn('k'), () => 'second')).toBe('second');
    slow.resolve('first');
    expect(await first).toBe('first');
    expect(storeErrors.map((e) => e.phase)).toEqual(['lost_lock']);
    expect(await other.run(spawn('k'), () => 'third')).toBe('second');
  });

  it('lets a waiter stop waiting with its AbortSignal without cancelling the execution', async () => {
    const { guard } = setup();
    const gate = deferred<string>();
    const first = guard.run(spawn('k'), () => gate.promise);
    const controller = new AbortController();
    const waiter = guard.run({ ...spawn('k'), signal: controller.signal }, () => 'never');
    controller.abort(new Error('caller gave up'));
    await expect(waiter).rejects.toThrow('caller gave up');
    gate.resolve('done');
    expect(await first).toBe('done');
    const aborted = AbortSignal.abort(new Error('already'));
    await expect(guard.run({ ...spawn('other'), signal: aborted }, () => 'x')).rejects.toThrow('already');
    expect(guard.inFlight).toBe(0);
  });
});

describe('IdempotencyGuard: store failures and bounds', () => {
  it('rejects run when begin fails, without running the operation', async () => {
    const clock = new FakeClock();
    const down = new EnablementError('PL-503', 'redis down');
    const store = createMemoryIdempotencyStore({ clock });
    const guard = createIdempotencyGuard({
      clock,
      store: { ...bind(store), begin: () => Promise.reject(down) },
    });
    let ran = false;
    await expect(
      guard.run(spawn('k'), () => {
        ran = true;
      }),
    ).rejects.toBe(down);
    expect(ran).toBe(false);
    expect(guard.inFlight).toBe(0);
  });

  it('returns the result when complete fails, and reports it', async () => {
    const clock = new FakeClock();
    const store = bind(createMemoryIdempotencyStore({ clock }));
    const phases: string[] = [];
    const guard = createIdempotencyGuard({
      clock,
      store: { ...store, complete: () => Promise.reject(new Error('write failed')) },
      onStoreError: (_e, phase) => {
        phases.push(phase);
        throw new Error('observer bug is contained');
      },
    });
    expect(await guard.run(spawn('k'), () => 'ran')).toBe('ran');
    expect(phases).toEqual(['complete']);
  });

  it('rethrows the operation’s error when release fails, and reports it', async () => {
    const clock = new FakeClock();
    const store = bind(createMemoryIdempotencyStore({ clock }));
    const phases: string[] = [];
    const guard = createIdempotencyGuard({
      clock,
      store: { ...store, release: () => Promise.reject(new Error('release failed')) },
      onStoreError: (_e, phase) => phases.push(phase),
    });
    const boom = new Error('operation failed');
    await expect(
      guard.run(spawn('k'), () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(phases).toEqual(['release']);
  });

  it('rejects a corrupt stored result with PL-500', async () => {
    const clock = new FakeClock();
    const store = bind(createMemoryIdempotencyStore({ clock }));
    const cases = [
      ['not json', 'PL-500'],
      ['[1]', 'PL-500'],
      ['{"ok":"yes"}', 'PL-500'],
      ['{"ok":false,"error":{"code":"XX"}}', 'PL-400'],
    ] as const;
    for (const [result, code] of cases) {
      const guard = createIdempotencyGuard({
        clock,
        store: { ...store, begin: async () => ({ status: 'completed', result }) },
      });
      await expectEnablementRejection(
        guard.run(spawn('k'), () => 1),
        code,
      );
    }
  });

  it('bounds distinct keys in flight with a retryable PL-503', async () => {
    const { guard } = setup({ maxInFlight: 2 });
    const gate = deferred<number>();
    const a = guard.run(spawn('a'), () => gate.promise);
    const b = guard.run(spawn('b'), () => gate.promise);
    // A duplicate joins and is not counted.
    const a2 = guard.run(spawn('a'), () => 0);
    const error = await expectEnablementRejection(
      guard.run(spawn('c'), () => 0),
      'PL-503',
    );
    expect(error.retryable).toBe(true);
    gate.resolve(1);
    expect(await Promise.all([a, b, a2])).toEqual([1, 1, 1]);
    expect(await guard.run(spawn('c'), () => 3)).toBe(3);
  });

  it('needs a window for operations outside the spec table', async () => {
    const { guard } = setup({
      windows: [{ product: 'platform', operation: 'rotate_key', windowMs: 60_000 }],
    });
    const unknown = { product: 'runtime', operation: 'custom_op', key: 'k', parameters: {} } as const;
    await expectEnablementRejection(
      guard.run(unknown, () => 1),
      'PL-400',
      'windowMs',
    );
    expect(await guard.run({ ...unknown, windowMs: 10 }, () => 1)).toBe(1);
    expect(
      await guard.run({ product: 'platform', operation: 'rotate_key', key: 'k', parameters: {} }, () => 2),
    ).toBe(2);
  });

  it('validates options and requests with PL-400 naming the field', async () => {
    const store = createMemoryIdempotencyStore();
    const bad: [Partial<IdempotencyGuardOptions>, string][] = [
      [{ store: {} as IdempotencyStore }, 'store'],
      [{ lockTtlMs: 0 }, 'lockTtlMs'],
      [{ inFlightWaitMs: -1 }, 'inFlightWaitMs'],
      [{ maxInFlight: 1.5 }, 'maxInFlight'],
      [{ windows: [{ product: 'runtime', operation: 'x', windowMs: 0 }] }, 'windowMs'],
      [{ crypto: {} as never }, 'crypto'],
      [{ cacheFailure: 5 as never }, 'cacheFailure'],
    ];
    for (const [options, field] of bad) {
      expect(() => createIdempotencyGuard({ store, ...options })).toThrow(field);
    }
    const guard = createIdempotencyGuard({ store });
    await expectEnablementRejection(
      guard.run({ ...spawn('k'), windowMs: 0 }, () => 1),
      'PL-400',
      'windowMs',
    );
    await expectEnablementRejection(
      guard.run({ ...spawn('k'), lockTtlMs: 1.5 }, () => 1),
      'PL-400',
      'lockTtlMs',
    );
    await expectEnablementRejection(guard.run(spawn('k'), 'nope' as never), 'PL-400', 'fn');
    await expectEnablementRejection(
      guard.run(null as never, () => 1),
      'PL-400',
      'request',
    );
  });
});

/** The store's methods as own properties, so a test can spread it and override one. */
function bind(store: IdempotencyStore): IdempotencyStore {
  return {
    begin: store.begin.bind(store),
    complete: store.complete.bind(store),
    release: store.release.bind(store),
    get: store.get.bind(store),
  };
}
