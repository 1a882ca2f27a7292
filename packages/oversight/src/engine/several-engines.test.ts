import type { OversightOutcome } from '@creto/core';
import { describe, expect, it, vi } from 'vitest';
import {
  createKit,
  HOUR_MS,
  keys,
  MS,
  nhiOf,
  requirement,
  respond,
  settle,
  tier,
  transfer,
} from '../../test/kit.js';
import type { OversightStore } from '../store/index.js';
import type { OversightTransitionEvent } from './types.js';

const twoTiers = (resourceId = 'ops') =>
  transfer({
    requirement: requirement([tier([keys.cfo], 1, HOUR_MS), tier([keys.ceo], 1, HOUR_MS)], 'auto_deny'),
    resource: { resourceType: 'payments', resourceId },
  });

/** Tracks whether a promise has settled, without moving the fake clock. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => {
      state.done = true;
      state.value = value;
    },
    (error: unknown) => {
      state.done = true;
      state.error = error;
    },
  );
  return state;
}

/** The same store without `watch`: engines on it share data but never hear of each other. */
function withoutWatch(store: OversightStore): OversightStore {
  return {
    create: (record, transition) => store.create(record, transition),
    get: (requestId) => store.get(requestId),
    commit: (change) => store.commit(change),
    list: (query) => store.list(query),
    listOpen: (query) => store.listOpen(query),
  };
}

describe('several engines on one store', () => {
  it("an approval submitted through B wakes A's waiter at once, with the outcome A would give", async () => {
    const { engine: a, restart, clock, errors } = await createKit();
    const b = restart();
    await Promise.all([a.start(), b.start()]);
    const { requestId } = await a.createRequest(transfer());
    const before = clock.now();
    const waiting = track(a.awaitApproval(requestId, { timeoutMs: 24 * HOUR_MS }));
    await settle(clock);
    expect(waiting.done).toBe(false);

    await b.submitResponse(respond(clock, keys.cfo, requestId));
    // Real time only: the fake clock (and so A's 24 h timeout) never moves.
    await vi.waitFor(() => expect(waiting.done).toBe(true));
    expect(clock.now()).toBe(before);
    const outcome = waiting.value as OversightOutcome;
    expect(outcome).toMatchObject({ state: 'APPROVED', requestId, decidedBy: [nhiOf(keys.cfo)] });
    // The same object a local decision or a later read gives (token included).
    expect(outcome).toEqual(await b.awaitApproval(requestId));
    expect(a.stats()).toMatchObject({ waiters: 0, timers: 0, pendingChanges: 0, droppedChanges: 0 });
    expect(errors).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('without watch the waiter learns of B’s decision only at its own timeout (the control)', async () => {
    const { store, restart, clock } = await createKit();
    const a = restart({ store: withoutWatch(store) });
    const b = restart({ store: withoutWatch(store) });
    const { requestId } = await a.createRequest(transfer());
    const waiting = track(a.awaitApproval(requestId, { timeoutMs: HOUR_MS }));
    await settle(clock);
    await b.submitResponse(respond(clock, keys.cfo, requestId));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(waiting.done).toBe(false);
    await clock.advanceAsync(HOUR_MS);
    await vi.waitFor(() => expect(waiting.done).toBe(true));
    expect(waiting.value).toMatchObject({ state: 'APPROVED' });
    await Promise.all([a.close(), b.close()]);
  });

  it('a request created through B escalates on time in A after B closed, then expires there', async () => {
    const { engine: a, restart, clock, notifier, errors } = await createKit();
    await a.start();
    const b = restart();
    const t0 = clock.now();
    const { requestId } = await b.createRequest(twoTiers());
    await vi.waitFor(() => expect(a.stats().timers).toBe(1));
    await b.close();
    const waiting = track(a.awaitApproval(requestId));

    await clock.advanceAsync(HOUR_MS - 1);
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo)]);
    await clock.advanceAsync(1);
    await vi.waitFor(() => expect(notifier.recipients()).toEqual([nhiOf(keys.cfo), nhiOf(keys.ceo)]));
    expect(notifier.sent.at(-1)?.at).toBe(t0 + 3_600_000n * MS);
    expect(await a.getRequest(requestId)).toMatchObject({ state: 'ESCALATED', tier: 2 });

    await clock.advanceAsync(HOUR_MS);
    await vi.waitFor(() => expect(waiting.done).toBe(true));
    expect(waiting.value).toEqual({ state: 'EXPIRED', requestId, finalAction: 'auto_deny' });
    expect(errors).toEqual([]);
    await a.close();
  });

  it('two engines holding one deadline: exactly one transition per deadline, the loser quiet', async () => {
    const { store, restart, clock, notifier, errors } = await createKit();
    // Both engines go through this: a read answers a turn of the event loop late (as a remote
    // store would), so both engines read a due deadline before either commits; it counts the
    // commits that lost on the version.
    let conflicts = 0;
    const counting: OversightStore = {
      ...withoutWatch(store),
      get: async (requestId) => {
        const stored = await store.get(requestId);
        await new Promise((resolve) => setImmediate(resolve));
        return stored;
      },
      watch: (listener) => store.watch(listener),
      commit: (change) =>
        store.commit(change).catch((error: unknown) => {
          if ((error as { code?: string }).code === 'PL-409') conflicts++;
          throw error;
        }),
    };
    const a = restart({ store: counting });
    const b = restart({ store: counting });
    await Promise.all([a.start(), b.start()]);
    const events: string[] = [];
    const record = (name: string) => (event: OversightTransitionEvent) => events.push(`${name}:${event.to}`);
    a.onTransition(record('a'));
    b.onTransition(record('b'));
    const { requestId } = await a.createRequest(twoTiers('race'));
    await vi.waitFor(() => expect(b.stats().timers).toBe(1));
    expect(a.stats().timers).toBe(1);
    const waitA = track(a.awaitApproval(requestId));
    const waitB = track(b.awaitApproval(requestId));

    // Synchronously: both engines' timers fire before either has read the request.
    clock.advance(HOUR_MS);
    await vi.waitFor(async () => expect((await a.getRequest(requestId)).tier).toBe(2));
    // Both follow tier 2's deadline: the winner set it, the loser re-read (or was told).
    await vi.waitFor(() => {
      expect(a.stats().timers).toBe(1);
      expect(b.stats().timers).toBe(1);
    });
    clock.advance(HOUR_MS);
    await vi.waitFor(() => expect(waitA.done && waitB.done).toBe(true));
    expect(waitA.value).toEqual(waitB.value);
    expect(waitA.value).toMatchObject({ state: 'EXPIRED' });

    const view = await a.getRequest(requestId);
    expect(view.transitions.map((t) => `${t.from}→${t.to}`)).toEqual([
      'null→PENDING',
      'PENDING→ESCALATED',
      'ESCALATED→EXPIRED',
    ]);
    // Each transition was emitted by exactly one engine; tier 2 was notified once.
    expect(events.filter((e) => e.endsWith('ESCALATED'))).toHaveLength(1);
    expect(events.filter((e) => e.endsWith('EXPIRED'))).toHaveLength(1);
    expect(notifier.recipients()).toEqual([nhiOf(keys.cfo), nhiOf(keys.ceo)]);
    // The race was real (both engines tried each deadline), and the losing side stayed quiet.
    expect(conflicts).toBeGreaterThanOrEqual(1);
    expect(errors).toEqual([]);
    expect(a.stats().timers + b.stats().timers).toBe(0);
    await Promise.all([a.close(), b.close()]);
  });

  it("follows at most maxOpenRequests of the others' open requests; closing stops listening", async () => {
    const { restart, clock, store } = await createKit();
    const a = restart({ maxOpenRequests: 1 });
    await a.start();
    const b = restart();
    const first = await b.createRequest(twoTiers('one'));
    await b.createRequest(twoTiers('two'));
    await vi.waitFor(async () => expect((await store.listOpen({})).records).toHaveLength(2));
    await settle(clock);
    await vi.waitFor(() => expect(a.stats()).toMatchObject({ timers: 1, pendingChanges: 0 }));
    await a.close();
    // A closed engine holds nothing and hears nothing.
    await b.cancelRequest(first.requestId);
    await settle(clock);
    expect(a.stats()).toMatchObject({ timers: 0, waiters: 0, pendingChanges: 0 });
    await b.close();
  });
});
