import { expectEnablementRejection, FakeClock } from '@creto/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnablementError } from '../errors/enablement-error.js';
import {
  type BufferedEvent,
  type BufferingPublisherOptions,
  createBufferingPublisher,
} from './buffering-publisher.js';
import { createInProcessEventBus } from './in-process.js';
import type { PublishAck, PublishOptions } from './types.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

type Mode = 'up' | 'down' | 'ambiguous';

/**
 * An in-process bus behind a switch: `down` fails before storing, `ambiguous` stores and then
 * fails (a lost reply), both with retryable PL-503. `gated` holds every call until released.
 */
async function flakyBus(clock: FakeClock) {
  const inner = createInProcessEventBus({ clock });
  await inner.addStream({ name: 'S', subjects: ['s.>'] });
  const state = {
    mode: 'up' as Mode,
    gated: false,
    gates: [] as (() => void)[],
    attempts: [] as bigint[],
  };
  const bus = {
    async publish(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PublishAck> {
      state.attempts.push(clock.now());
      if (state.gated) await new Promise<void>((resolve) => state.gates.push(resolve));
      if (state.mode === 'down') throw new EnablementError('PL-503', 'NATS unavailable');
      const ack = inner.publishSync(subject, data, options);
      if (state.mode === 'ambiguous') throw new EnablementError('PL-503', 'reply lost');
      return ack;
    },
  };
  const release = () => {
    for (const gate of state.gates.splice(0)) gate();
  };
  /** The payloads stored, in stream order. */
  const stored = async (): Promise<string[]> => {
    await inner.addConsumer('S', { name: 'audit', maxAckPending: 100_000 });
    const out: string[] = [];
    const sub = await inner.subscribe('S', 'audit', (m) => {
      out.push(text(m.data));
      m.ack();
    });
    for (let i = 0; i < 20; i++) await clock.advanceAsync(0);
    await sub.unsubscribe();
    await inner.deleteConsumer('S', 'audit');
    return out;
  };
  return { inner, bus, state, release, stored };
}

async function setup(options: Partial<BufferingPublisherOptions> = {}) {
  const clock = new FakeClock({ start: 0n });
  const flaky = await flakyBus(clock);
  const publisher = createBufferingPublisher({ bus: flaky.bus, clock, random: () => 0, ...options });
  return { clock, publisher, ...flaky };
}

describe('createBufferingPublisher', () => {
  it('publishes straight through while the bus is up', async () => {
    const { publisher, stored } = await setup();
    const result = await publisher.publish('s.a', bytes('1'), { msgId: 'm1', headers: { 'X-A': 'a' } });
    expect(result).toEqual({ status: 'published', ack: { stream: 'S', seq: 1, duplicate: false } });
    expect(publisher.buffered).toBe(0);
    expect(publisher.stats).toEqual({ buffered: 0, published: 1, rejected: 0, retries: 0 });
    expect(await stored()).toEqual(['1']);
  });

  it('buffers during an outage and flushes in order on reconnect', async () => {
    const { publisher, state, clock, stored } = await setup();
    state.mode = 'down';
    const results = [];
    for (const n of ['1', '2', '3']) results.push(await publisher.publish('s.a', bytes(n)));
    expect(results.map((r) => r.status)).toEqual(['buffered', 'buffered', 'buffered']);
    expect(publisher.buffered).toBe(3);
    state.mode = 'up';
    await clock.advanceAsync(1000);
    expect(publisher.buffered).toBe(0);
    const acks = await Promise.all(results.map((r) => (r.status === 'buffered' ? r.stored : r.ack)));
    expect(acks.map((a) => a.seq)).toEqual([1, 2, 3]);
    expect(await stored()).toEqual(['1', '2', '3']);
    expect(publisher.stats.published).toBe(3);
  });

  it('backs off exponentially with jitter, capped, on the clock', async () => {
    const { publisher, state, clock } = await setup({ initialDelayMs: 100, maxDelayMs: 1000 });
    state.mode = 'down';
    await publisher.publish('s.a', bytes('x'));
    await clock.advanceAsync(10_000);
    const gaps = state.attempts
      .slice(1)
      .map((t, i) => Math.round(Number(t - (state.attempts[i] as bigint)) / 1e6));
    // random() = 0 draws the low end of [d/2, d]: 50, 100, 200, 400, then the cap 1000/2.
    expect(gaps.slice(0, 6)).toEqual([50, 100, 200, 400, 500, 500]);

    const high = await setup({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.999 });
    high.state.mode = 'down';
    await high.publisher.publish('s.a', bytes('x'));
    await high.clock.advanceAsync(10_000);
    const highGaps = high.state.attempts
      .slice(1)
      .map((t, i) => Math.round(Number(t - (high.state.attempts[i] as bigint)) / 1e6));
    // random() = 0.999 draws the top: 99.95 ms rounds to 100.
    expect(highGaps.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
  });

  it('waits at least the retryAfterMs hint of the error (up to the cap)', async () => {
    const clock = new FakeClock({ start: 0n });
    const attempts: bigint[] = [];
    const bus = {
      async publish(): Promise<PublishAck> {
        attempts.push(clock.now());
        throw new EnablementError('PL-503', 'stream full', { retryAfterMs: 5000 });
      },
    };
    const publisher = createBufferingPublisher({ bus, clock, random: () => 0, maxDelayMs: 60_000 });
    await publisher.publish('s.a', bytes('x'));
    await clock.advanceAsync(4999);
    expect(attempts).toHaveLength(1);
    await clock.advanceAsync(1);
    expect(attempts).toHaveLength(2);
  });

  it('refuses with retryable PL-503 when full, dropping nothing it holds', async () => {
    const { publisher, state, clock, stored } = await setup({ maxBuffered: 3 });
    state.mode = 'down';
    for (const n of ['1', '2', '3']) await publisher.publish('s.a', bytes(n));
    const full = await expectEnablementRejection(publisher.publish('s.a', bytes('4')), 'PL-503');
    expect(full.retryable).toBe(true);
    expect(full.message).toContain('full');
    expect(publisher.buffered).toBe(3);
    state.mode = 'up';
    await clock.advanceAsync(1000);
    expect(await stored()).toEqual(['1', '2', '3']);
  });

  it('keeps order when new events arrive during a flush', async () => {
    const { publisher, state, clock, release, stored } = await setup();
    state.mode = 'down';
    for (const n of ['1', '2', '3']) await publisher.publish('s.a', bytes(n));
    state.mode = 'up';
    state.gated = true;
    const flushed = publisher.flush();
    await clock.advanceAsync(0);
    // Event 1 is in flight; 4 and 5 arrive now and must queue behind 2 and 3.
    const late = [publisher.publish('s.a', bytes('4')), publisher.publish('s.a', bytes('5'))];
    for (let i = 0; i < 10; i++) {
      release();
      await clock.advanceAsync(0);
    }
    await flushed;
    expect((await Promise.all(late)).map((r) => r.status)).toEqual(['buffered', 'buffered']);
    state.gated = false;
    release();
    await clock.advanceAsync(0);
    expect(await stored()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('rejects events that fail for good, reports them, and carries on with the rest', async () => {
    const rejected: [BufferedEvent, unknown][] = [];
    const { publisher, state, clock, stored } = await setup({
      onRejected: (e, error) => rejected.push([e, error]),
    });
    state.mode = 'down';
    const a = await publisher.publish('s.a', bytes('a'));
    const orphan = await publisher.publish('t.nostream', bytes('b'), { msgId: 'b-1' });
    const c = await publisher.publish('s.a', bytes('c'));
    state.mode = 'up';
    await clock.advanceAsync(1000);
    if (orphan.status !== 'buffered' || a.status !== 'buffered' || c.status !== 'buffered')
      throw new Error('expected buffered');
    await expectEnablementRejection(orphan.stored, 'PL-404');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.[0].msgId).toBe('b-1');
    expect(text(rejected[0]?.[0].data ?? new Uint8Array())).toBe('b');
    expect(publisher.stats.rejected).toBe(1);
    expect(await stored()).toEqual(['a', 'c']);
  });

  it('rejects invalid input and first-attempt permanent failures at once, holding nothing', async () => {
    const { publisher } = await setup();
    await expectEnablementRejection(publisher.publish('s.*', bytes('x')), 'PL-400');
    await expectEnablementRejection(publisher.publish('s.a', 'x' as unknown as Uint8Array), 'PL-400');
    await expectEnablementRejection(publisher.publish('t.nostream', bytes('x')), 'PL-404');
    expect(publisher.buffered).toBe(0);
  });

  it('copies the payload, so reusing the caller buffer changes nothing held', async () => {
    const { publisher, state, clock, stored } = await setup();
    state.mode = 'down';
    const buffer = bytes('abc');
    await publisher.publish('s.a', buffer);
    buffer[0] = 0x7a;
    state.mode = 'up';
    await clock.advanceAsync(1000);
    expect(await stored()).toEqual(['abc']);
  });

  it('flush retries now: rejects with PL-503 while down, resolves once stored when up', async () => {
    const { publisher, state, stored } = await setup({ initialDelayMs: 60_000 });
    state.mode = 'down';
    await publisher.publish('s.a', bytes('1'));
    await expectEnablementRejection(publisher.flush(), 'PL-503');
    expect(publisher.buffered).toBe(1);
    state.mode = 'up';
    await publisher.flush();
    expect(publisher.buffered).toBe(0);
    await expect(publisher.flush()).resolves.toBeUndefined();
    expect(await stored()).toEqual(['1']);
  });

  it('close drains everything, then refuses new events', async () => {
    const { publisher, state, clock, stored } = await setup();
    state.mode = 'down';
    for (const n of ['1', '2']) await publisher.publish('s.a', bytes(n));
    const closing = publisher.close();
    expect(publisher.closed).toBe(true);
    const refused = await expectEnablementRejection(publisher.publish('s.a', bytes('3')), 'PL-503');
    expect(refused.retryable).toBe(false);
    await clock.advanceAsync(500);
    state.mode = 'up';
    await clock.advanceAsync(2000);
    await closing;
    expect(publisher.close()).toBe(closing);
    expect(await stored()).toEqual(['1', '2']);
  });

  it('close with a timeout gives up loudly: the held events are rejected, not silently dropped', async () => {
    const { publisher, state, clock } = await setup();
    state.mode = 'down';
    const held = await publisher.publish('s.a', bytes('1'));
    const closing = publisher.close({ timeoutMs: 1000 });
    await clock.advanceAsync(1000);
    await expectEnablementRejection(closing, 'PL-503', '1 events not stored');
    if (held.status !== 'buffered') throw new Error('expected buffered');
    await expectEnablementRejection(held.stored, 'PL-503');
    expect(publisher.buffered).toBe(0);
    await clock.advanceAsync(60_000);
    expect(clock.pendingTimers).toBe(0);
    await expectEnablementRejection(
      createBufferingPublisher({
        bus: { publish: async () => ({ stream: 's', seq: 1, duplicate: false }) },
      }).close({ timeoutMs: -1 }),
      'PL-400',
    );
  });

  it('rejects bad options with PL-400 naming the option', () => {
    const bus = { publish: async () => ({ stream: 'S', seq: 1, duplicate: false }) };
    for (const [options, name] of [
      [{}, 'bus'],
      [{ bus, maxBuffered: 0 }, 'maxBuffered'],
      [{ bus, initialDelayMs: Number.NaN }, 'initialDelayMs'],
      [{ bus, random: 5 }, 'random'],
    ] as const) {
      try {
        createBufferingPublisher(options as unknown as BufferingPublisherOptions);
        throw new Error('expected PL-400');
      } catch (error) {
        expect(EnablementError.is(error) && error.code).toBe('PL-400');
        expect((error as Error).message).toContain(name);
      }
    }
  });

  it('property: with msgIds, any sequence of outages and lost replies stores every event once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ mode: fc.constantFrom<Mode>('up', 'down', 'ambiguous'), advanceMs: fc.nat(400) }),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        async (steps) => {
          const { publisher, state, clock, stored } = await setup({ random: Math.random });
          const sent: string[] = [];
          for (const [i, step] of steps.entries()) {
            state.mode = step.mode;
            const n = String(i);
            const result = await publisher.publish('s.a', bytes(n), { msgId: `id-${n}` });
            sent.push(n);
            if (result.status === 'buffered') result.stored.catch(() => {});
            await clock.advanceAsync(step.advanceMs);
          }
          state.mode = 'up';
          await publisher.close();
          expect(publisher.stats.rejected).toBe(0);
          expect(await stored()).toEqual(sent);
        },
      ),
      { numRuns: 60 },
    );
  });
});
