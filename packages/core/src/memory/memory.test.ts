import { expectEnablementRejection, FakeClock } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { nobleCryptoProvider } from '../crypto/noble.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { createAgentMemory, DEFAULT_MEMORY_LIMITS } from './memory.js';

const key = (n: number) => nobleCryptoProvider.ed25519.publicKey(new Uint8Array(32).fill(n));
const ALICE = AgentIdentity.fromPublicKeys('agent', key(1));
const BOB = AgentIdentity.fromPublicKeys('agent', key(2)).nhi;
const SB = 'sb-0001';

describe('createAgentMemory: context', () => {
  it('stores and returns copies, with the clock time', async () => {
    const clock = new FakeClock();
    const memory = createAgentMemory({ clock });
    const bytes = Uint8Array.of(1, 2, 3);
    const stored = await memory.storeContext(ALICE, 'sandbox_state', bytes);
    expect(stored).toMatchObject({ key: 'sandbox_state', size: 3, storedAt: clock.now() });
    bytes[0] = 9; // the caller's buffer is not the stored one
    const got = await memory.getContext(ALICE.nhi, 'sandbox_state');
    expect(got?.value).toEqual(Uint8Array.of(1, 2, 3));
    (got?.value as Uint8Array)[1] = 9; // nor is the returned one
    expect((await memory.getContext(ALICE, 'sandbox_state'))?.value).toEqual(Uint8Array.of(1, 2, 3));
    clock.advance(5);
    await memory.storeContext(ALICE, 'note', 'héllo');
    const note = await memory.getContext(ALICE, 'note');
    expect(note).toMatchObject({ value: 'héllo', size: 6, storedAt: clock.now() });
    expect(await memory.getContext(BOB, 'note')).toBeUndefined();
    expect(await memory.usage(ALICE)).toEqual({
      contextEntries: 2,
      reasoningEntries: 0,
      checkpoints: 0,
      bytes: 9,
    });
  });

  it('replaces a value and recharges the budget; deletes', async () => {
    const memory = createAgentMemory({ clock: new FakeClock() });
    await memory.storeContext(ALICE, 'k', new Uint8Array(100));
    await memory.storeContext(ALICE, 'k', new Uint8Array(10));
    expect((await memory.usage(ALICE)).bytes).toBe(10);
    expect(memory.totalBytes).toBe(10);
    expect(await memory.deleteContext(ALICE, 'k')).toBe(true);
    expect(await memory.deleteContext(ALICE, 'k')).toBe(false);
    expect(memory.totalBytes).toBe(0);
    expect(memory.agentCount).toBe(0);
  });

  it('rejects oversized and malformed input with PL-400 and keeps what it had', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxValueBytes: 8, maxKeyLength: 4 });
    await memory.storeContext(ALICE, 'k', 'keep');
    await expectEnablementRejection(memory.storeContext(ALICE, 'k', new Uint8Array(9)), 'PL-400');
    await expectEnablementRejection(memory.storeContext(ALICE, 'k', 'ééééé'), 'PL-400'); // 10 UTF-8 bytes
    await expectEnablementRejection(memory.storeContext(ALICE, 'toolong', 'x'), 'PL-400');
    await expectEnablementRejection(memory.storeContext(ALICE, '', 'x'), 'PL-400');
    await expectEnablementRejection(memory.storeContext(ALICE, 'k', 42 as unknown as string), 'PL-400');
    await expectEnablementRejection(memory.storeContext('agent:nhi:ed25519:nope', 'k', 'x'), 'PL-400');
    await expectEnablementRejection(memory.getContext(7 as unknown as string, 'k'), 'PL-400');
    expect((await memory.getContext(ALICE, 'k'))?.value).toBe('keep');
  });

  it('bounds the number of keys per agent with PL-409', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxContextEntriesPerAgent: 2 });
    await memory.storeContext(ALICE, 'a', 'x');
    await memory.storeContext(ALICE, 'b', 'x');
    await expectEnablementRejection(memory.storeContext(ALICE, 'c', 'x'), 'PL-409');
    await memory.storeContext(ALICE, 'b', 'y'); // replacing is fine
    await memory.storeContext(BOB, 'c', 'x'); // another agent has its own bound
  });

  it('bounds the number of agents with PL-409 and does not leak a failed new agent', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxAgents: 1, maxValueBytes: 4 });
    await memory.storeContext(ALICE, 'a', 'x');
    await expectEnablementRejection(memory.storeContext(BOB, 'a', 'x'), 'PL-409');
    await memory.forgetAgent(ALICE);
    await expectEnablementRejection(memory.storeContext(BOB, 'a', 'too long'), 'PL-400');
    expect(memory.agentCount).toBe(0);
  });
});

describe('createAgentMemory: reasoning', () => {
  it('fetches most recent first, filtered by action, limit capped', async () => {
    const clock = new FakeClock();
    const memory = createAgentMemory({ clock, maxFetchLimit: 3 });
    for (let i = 0; i < 6; i++) {
      clock.advance(1);
      await memory.recordReasoning(ALICE, `step ${i}`, { action: i % 2 === 0 ? 'payment.approve' : 'other' });
    }
    const two = await memory.fetchReasoningContext(ALICE, 'payment.approve', 2);
    expect(two.map((r) => r.text)).toEqual(['step 4', 'step 2']);
    expect(two[0]).toMatchObject({ agent: ALICE.nhi, action: 'payment.approve', sequence: 5 });
    expect((two[0]?.recordedAt ?? 0n) > (two[1]?.recordedAt ?? 0n)).toBe(true);
    const capped = await memory.fetchReasoningContext(ALICE, 'payment.approve', 1_000);
    expect(capped.map((r) => r.text)).toEqual(['step 4', 'step 2', 'step 0']);
    expect(await memory.fetchReasoningContext(BOB, 'payment.approve', 10)).toEqual([]);
    expect(await memory.fetchReasoningContext(ALICE, 'unknown', 10)).toEqual([]);
  });

  it('evicts the oldest records beyond the per-agent bound', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxReasoningEntriesPerAgent: 100 });
    for (let i = 0; i < 250; i++) await memory.recordReasoning(ALICE, `r${i}`, { action: 'a' });
    const all = await memory.fetchReasoningContext(ALICE, 'a', 100);
    expect(all).toHaveLength(100);
    expect(all[0]?.text).toBe('r249');
    expect(all[99]?.text).toBe('r150');
    expect((await memory.usage(ALICE)).reasoningEntries).toBe(100);
    const expectedBytes = all.reduce((sum, r) => sum + r.text.length + 1, 0);
    expect((await memory.usage(ALICE)).bytes).toBe(expectedBytes);
  });

  it('evicts reasoning to make room for context, never the other way round', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxBytesPerAgent: 100 });
    for (let i = 0; i < 8; i++) await memory.recordReasoning(ALICE, '0123456789', { action: 'a' }); // 11 B each
    expect((await memory.usage(ALICE)).bytes).toBe(88);
    await memory.storeContext(ALICE, 'state', new Uint8Array(30));
    const usage = await memory.usage(ALICE);
    expect(usage.bytes).toBeLessThanOrEqual(100);
    expect(usage.reasoningEntries).toBe(6); // the two oldest went
    // Context cannot be evicted: a store that cannot fit even without reasoning is refused, intact.
    await expectEnablementRejection(memory.storeContext(ALICE, 'big', new Uint8Array(80)), 'PL-409');
    expect((await memory.usage(ALICE)).reasoningEntries).toBe(6);
    // A reasoning record evicts older reasoning to fit.
    await memory.recordReasoning(ALICE, 'x'.repeat(60), { action: 'a' });
    expect((await memory.usage(ALICE)).bytes).toBeLessThanOrEqual(100);
    expect((await memory.fetchReasoningContext(ALICE, 'a', 1))[0]?.text).toBe('x'.repeat(60));
  });

  it('enforces the engine-wide byte budget', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxTotalBytes: 50 });
    await memory.storeContext(ALICE, 'a', new Uint8Array(40));
    await expectEnablementRejection(memory.storeContext(BOB, 'a', new Uint8Array(20)), 'PL-409');
    expect(memory.totalBytes).toBe(40);
    expect(memory.agentCount).toBe(1);
  });

  it('rejects oversized text, bad actions and bad limits with PL-400', async () => {
    const memory = createAgentMemory({ clock: new FakeClock(), maxReasoningBytes: 4, maxActionLength: 3 });
    await expectEnablementRejection(memory.recordReasoning(ALICE, 'hello', { action: 'a' }), 'PL-400');
    await expectEnablementRejection(memory.recordReasoning(ALICE, 'hi', { action: 'long' }), 'PL-400');
    await expectEnablementRejection(memory.recordReasoning(ALICE, 'hi', { action: '' }), 'PL-400');
    await expectEnablementRejection(memory.recordReasoning(ALICE, 'hi', null as never), 'PL-400');
    await expectEnablementRejection(memory.recordReasoning(ALICE, 5 as never, { action: 'a' }), 'PL-400');
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      await expectEnablementRejection(memory.fetchReasoningContext(ALICE, 'a', limit), 'PL-400');
    }
    expect(memory.agentCount).toBe(0);
  });
});

describe('createAgentMemory: checkpoints', () => {
  it('keeps the latest checkpoint per sandbox', async () => {
    const clock = new FakeClock();
    const memory = createAgentMemory({ clock });
    const first = await memory.storeCheckpoint(ALICE, SB, Uint8Array.of(1));
    clock.advance(1);
    const second = await memory.storeCheckpoint(ALICE, SB, Uint8Array.of(2, 2));
    expect(first.sequence).toBe(1);
    expect(second).toMatchObject({ sandboxId: SB, sequence: 2, size: 2, storedAt: clock.now() });
    const latest = await memory.latestCheckpoint(ALICE, SB);
    expect(latest?.bytes).toEqual(Uint8Array.of(2, 2));
    expect((await memory.usage(ALICE)).bytes).toBe(2);
    expect(await memory.latestCheckpoint(ALICE, 'sb-other')).toBeUndefined();
    expect(await memory.latestCheckpoint(BOB, SB)).toBeUndefined();
    expect(await memory.deleteCheckpoint(ALICE, SB)).toBe(true);
    expect(await memory.latestCheckpoint(ALICE, SB)).toBeUndefined();
  });

  it('bounds checkpoint size and count, and validates the sandbox id', async () => {
    const memory = createAgentMemory({
      clock: new FakeClock(),
      maxCheckpointBytes: 4,
      maxCheckpointsPerAgent: 1,
    });
    await expectEnablementRejection(memory.storeCheckpoint(ALICE, SB, new Uint8Array(5)), 'PL-400');
    await expectEnablementRejection(
      memory.storeCheckpoint(ALICE, 'not-a-sandbox', new Uint8Array(1)),
      'PL-400',
    );
    await expectEnablementRejection(memory.storeCheckpoint(ALICE, SB, [1] as never), 'PL-400');
    await memory.storeCheckpoint(ALICE, SB, new Uint8Array(4));
    await expectEnablementRejection(memory.storeCheckpoint(ALICE, 'sb-0002', new Uint8Array(1)), 'PL-409');
  });
});

describe('createAgentMemory: options', () => {
  it('validates options, naming the option', () => {
    expect(() => createAgentMemory({ maxAgents: 0 })).toThrow(/maxAgents/);
    expect(() => createAgentMemory({ maxFetchLimit: 2.5 })).toThrow(/maxFetchLimit/);
    expect(() => createAgentMemory({ clock: {} as never })).toThrow(/clock/);
    expect(() => createAgentMemory({ maxEntries: 1 } as never)).toThrow(/maxEntries/);
    expect(createAgentMemory().limits).toEqual(DEFAULT_MEMORY_LIMITS);
    expect(createAgentMemory({ maxAgents: 5 }).limits.maxAgents).toBe(5);
  });
});
