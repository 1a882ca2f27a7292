import {
  createScheduler,
  EnablementError,
  newSandboxId,
  newUuid,
  noopLogger,
  type RuntimeUsageEvent,
  type UsageSink,
} from '@creto/core';
import { expectEnablementError, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { createUsageOutbox } from './outbox.js';

function event(key: string): RuntimeUsageEvent {
  return {
    eventId: newUuid(),
    agentNhi: 'agent:nhi:ed25519:11111111111111111111111111111111',
    delegationChain: [],
    eventType: 'network_egress',
    consensusTimestamp: 1n,
    idempotencyKey: key,
    signature: new Uint8Array(3309),
    properties: { type: 'NetworkEgress', sandboxId: newSandboxId(), destination: 'h', bytesTransferred: 1n },
  };
}

/** A sink that fails while `down` is true. */
function flakySink() {
  const received: string[] = [];
  const state = { down: false, calls: 0 };
  const sink: UsageSink = {
    async publish(e) {
      state.calls++;
      if (state.down) throw new EnablementError('PL-503', 'bus down');
      received.push(e.idempotencyKey);
    },
  };
  return { sink, received, state };
}

function setup(sink?: UsageSink, maxPending = 3) {
  const clock = new FakeClock();
  const scheduler = createScheduler({ clock });
  const outbox = createUsageOutbox({ sink, scheduler, logger: noopLogger, maxPending });
  return { clock, outbox };
}

describe('usage outbox', () => {
  it('delivers in order and keeps failed events for retry with backoff', async () => {
    const { sink, received, state } = flakySink();
    const { clock, outbox } = setup(sink, 10);
    outbox.reserve().commit(event('a'));
    await outbox.flush();
    state.down = true;
    outbox.reserve().commit(event('b'));
    outbox.reserve().commit(event('c'));
    await clock.advanceAsync(0);
    expect(received).toEqual(['a']);
    expect(outbox.stats()).toMatchObject({ pending: 2, published: 1 });
    const callsWhileDown = state.calls;
    await clock.advanceAsync(50); // first retry after 100 ms, not before
    expect(state.calls).toBe(callsWhileDown);
    await clock.advanceAsync(50);
    expect(state.calls).toBe(callsWhileDown + 1);
    await clock.advanceAsync(199); // then 200 ms
    expect(state.calls).toBe(callsWhileDown + 1);
    state.down = false;
    await clock.advanceAsync(1);
    expect(received).toEqual(['a', 'b', 'c']);
    expect(outbox.stats()).toMatchObject({ pending: 0, published: 3, failedAttempts: 2 });
  });

  it('refuses new metered work with RT-503 when full, and frees places on release or delivery', async () => {
    const { sink, state } = flakySink();
    state.down = true;
    const { outbox } = setup(sink, 2);
    const held = outbox.reserve();
    outbox.reserve().commit(event('a'));
    expectEnablementError(() => outbox.reserve(), 'RT-503', /outbox is full/);
    held.release();
    held.release(); // idempotent
    const again = outbox.reserve();
    again.commit(event('b'));
    again.commit(event('c')); // ignored: one event per slot
    expect(outbox.stats()).toMatchObject({ pending: 2, reserved: 0 });
    // Termination records are never refused.
    outbox.pushUnbounded(event('end'));
    expect(outbox.stats().pending).toBe(3);
    state.down = false;
    expect(await outbox.flush()).toEqual({ published: 3, remaining: 0 });
    expect(() => outbox.reserve()).not.toThrow();
  });

  it('keeps events without a sink until drained', async () => {
    const { outbox } = setup(undefined, 5);
    for (const key of ['a', 'b', 'c']) outbox.reserve().commit(event(key));
    expect(await outbox.flush()).toEqual({ published: 0, remaining: 3 });
    expect(outbox.drain(2).map((e) => e.idempotencyKey)).toEqual(['a', 'b']);
    expect(outbox.drain().map((e) => e.idempotencyKey)).toEqual(['c']);
    expect(outbox.stats().pending).toBe(0);
  });

  it('stops retrying after close', async () => {
    const { sink, state } = flakySink();
    state.down = true;
    const { clock, outbox } = setup(sink, 5);
    outbox.reserve().commit(event('a'));
    await clock.advanceAsync(0);
    outbox.close();
    const calls = state.calls;
    await clock.advanceAsync(60_000);
    expect(state.calls).toBe(calls);
    expect(outbox.drain().map((e) => e.idempotencyKey)).toEqual(['a']);
  });
});
