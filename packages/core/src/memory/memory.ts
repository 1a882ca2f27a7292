import { z } from 'zod';
import { utf8ToBytes } from '../encoding/bytes.js';
import { EnablementError } from '../errors/enablement-error.js';
import { AgentIdentity } from '../identity/agent-identity.js';
import { parseNhi } from '../identity/nhi.js';
import { sandboxId as parseSandboxId, type SandboxId } from '../ids/sandbox-id.js';
import { clockSchema, parseOptions } from '../options/options.js';
import { type Clock, type ConsensusTimestamp, systemClock } from '../time/clock.js';

/** A stored context value: bytes (copied in and out) or text. */
export type ContextValue = Uint8Array | string;

/** One context entry (see {@link MemoryClient.getContext}). */
export interface ContextEntry {
  /** The key it was stored under. */
  readonly key: string;
  /** The value (a fresh copy when bytes). */
  readonly value: ContextValue;
  /** Size charged against the agent's budget: byte length, or UTF-8 length of text. */
  readonly size: number;
  /** When it was stored, from the engine's clock. */
  readonly storedAt: ConsensusTimestamp;
}

/** One reasoning record (see {@link MemoryClient.recordReasoning}). */
export interface ReasoningEntry {
  /** Per-agent sequence number, increasing in recording order (the "most recent" order). */
  readonly sequence: number;
  /** NHI of the agent that reasoned. */
  readonly agent: string;
  /** The action the reasoning was about, e.g. `payment.approve`. */
  readonly action: string;
  /** The reasoning text. */
  readonly text: string;
  /** When it was recorded, from the engine's clock. */
  readonly recordedAt: ConsensusTimestamp;
}

/** Options of {@link MemoryClient.recordReasoning}. */
export interface RecordReasoningOptions {
  /** The action the reasoning is about; `fetchReasoningContext` filters on it (exact match). */
  readonly action: string;
}

/** Reference to a stored checkpoint. */
export interface CheckpointRef {
  /** The sandbox it belongs to. */
  readonly sandboxId: SandboxId;
  /** Per-sandbox sequence number, 1 for the first checkpoint. */
  readonly sequence: number;
  /** Byte length. */
  readonly size: number;
  /** When it was stored, from the engine's clock. */
  readonly storedAt: ConsensusTimestamp;
}

/** A stored checkpoint with its bytes. */
export interface Checkpoint extends CheckpointRef {
  /** The checkpoint bytes (a fresh copy). */
  readonly bytes: Uint8Array;
}

/** How much of its budget an agent uses. */
export interface MemoryUsage {
  /** Context entries held. */
  readonly contextEntries: number;
  /** Reasoning records held. */
  readonly reasoningEntries: number;
  /** Sandboxes with a checkpoint held. */
  readonly checkpoints: number;
  /** Bytes charged (context values + reasoning text and action + checkpoints). */
  readonly bytes: number;
}

/** An agent, by identity or NHI string. */
export type AgentRef = AgentIdentity | string;

/**
 * The memory port (spec §3.6): per-agent context, reasoning and sandbox checkpoints. May be
 * remote; every failure is an `EnablementError`.
 */
export interface MemoryClient {
  /**
   * Stores `value` under `key` for `agent`, replacing any previous value. `PL-400` for an
   * oversized or malformed key or value; `PL-409` when the agent's entry count or byte budget
   * (after evicting its oldest reasoning) or the engine's total budget is exhausted.
   */
  storeContext(agent: AgentRef, key: string, value: ContextValue): Promise<ContextEntry>;
  /** The entry under `key`, or `undefined` when there is none. */
  getContext(agent: AgentRef, key: string): Promise<ContextEntry | undefined>;
  /** Removes the entry under `key`; true when there was one. */
  deleteContext(agent: AgentRef, key: string): Promise<boolean>;
  /**
   * Records a reasoning step. The oldest records of the agent are evicted beyond its record
   * bound or byte budget; oversized text or action is rejected with `PL-400`.
   */
  recordReasoning(agent: AgentRef, text: string, options: RecordReasoningOptions): Promise<ReasoningEntry>;
  /**
   * The agent's reasoning about `action`, most recent first, at most `limit` records (`limit` is
   * capped at the engine's `maxFetchLimit`; a non-positive or fractional limit is `PL-400`).
   */
  fetchReasoningContext(agent: AgentRef, action: string, limit: number): Promise<ReasoningEntry[]>;
  /** Stores a checkpoint of a sandbox, replacing the previous one of that sandbox. */
  storeCheckpoint(agent: AgentRef, sandboxId: string, bytes: Uint8Array): Promise<CheckpointRef>;
  /** The latest checkpoint of the sandbox, or `undefined`. */
  latestCheckpoint(agent: AgentRef, sandboxId: string): Promise<Checkpoint | undefined>;
  /** Removes the sandbox's checkpoint; true when there was one. */
  deleteCheckpoint(agent: AgentRef, sandboxId: string): Promise<boolean>;
  /** Drops everything held for the agent; true when there was anything. */
  forgetAgent(agent: AgentRef): Promise<boolean>;
  /** The agent's usage against its bounds (zeros for an unknown agent). */
  usage(agent: AgentRef): Promise<MemoryUsage>;
}

/** The bounds of a {@link createAgentMemory} engine (see {@link DEFAULT_MEMORY_LIMITS}). */
export interface MemoryLimits {
  /** Agents with anything stored; a new agent beyond it is `PL-409`. */
  readonly maxAgents: number;
  /** Context entries per agent; a new key beyond it is `PL-409`. */
  readonly maxContextEntriesPerAgent: number;
  /** Characters in a context key (`PL-400` beyond). */
  readonly maxKeyLength: number;
  /** Bytes of one context value (`PL-400` beyond). */
  readonly maxValueBytes: number;
  /** Reasoning records per agent; the oldest is evicted beyond it. */
  readonly maxReasoningEntriesPerAgent: number;
  /** UTF-8 bytes of one reasoning text (`PL-400` beyond). */
  readonly maxReasoningBytes: number;
  /** Characters in an action name (`PL-400` beyond). */
  readonly maxActionLength: number;
  /** Bytes of one checkpoint (`PL-400` beyond). */
  readonly maxCheckpointBytes: number;
  /** Sandboxes with a checkpoint, per agent; a new sandbox beyond it is `PL-409`. */
  readonly maxCheckpointsPerAgent: number;
  /** Bytes charged to one agent (context + reasoning + checkpoints). */
  readonly maxBytesPerAgent: number;
  /** Bytes held by the whole engine. */
  readonly maxTotalBytes: number;
  /** Most records one `fetchReasoningContext` returns (larger limits are capped). */
  readonly maxFetchLimit: number;
}

/** Default bounds of {@link createAgentMemory} (see docs/platform.md, "Memory bounds"). */
export const DEFAULT_MEMORY_LIMITS: MemoryLimits = Object.freeze({
  /** Agents with anything stored. */
  maxAgents: 10_000,
  /** Context entries per agent. */
  maxContextEntriesPerAgent: 256,
  /** Characters in a context key. */
  maxKeyLength: 256,
  /** Bytes of one context value. */
  maxValueBytes: 256 * 1024,
  /** Reasoning records per agent; the oldest is evicted beyond it. */
  maxReasoningEntriesPerAgent: 1_000,
  /** UTF-8 bytes of one reasoning text. */
  maxReasoningBytes: 16 * 1024,
  /** Characters in an action name. */
  maxActionLength: 256,
  /** Bytes of one checkpoint. */
  maxCheckpointBytes: 4 * 1024 * 1024,
  /** Sandboxes with a checkpoint, per agent. */
  maxCheckpointsPerAgent: 16,
  /** Bytes charged to one agent (context + reasoning + checkpoints). */
  maxBytesPerAgent: 16 * 1024 * 1024,
  /** Bytes held by the whole engine. */
  maxTotalBytes: 256 * 1024 * 1024,
  /** Most records one `fetchReasoningContext` returns. */
  maxFetchLimit: 100,
});

/** Options of {@link createAgentMemory}: the clock and any bound to override. */
export interface AgentMemoryOptions {
  /** Time source for `storedAt` / `recordedAt`; default `systemClock`. */
  readonly clock?: Clock;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxAgents?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxContextEntriesPerAgent?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxKeyLength?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxValueBytes?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxReasoningEntriesPerAgent?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxReasoningBytes?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxActionLength?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxCheckpointBytes?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxCheckpointsPerAgent?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxBytesPerAgent?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxTotalBytes?: number;
  /** See {@link DEFAULT_MEMORY_LIMITS}. */
  readonly maxFetchLimit?: number;
}

/** The in-process memory engine (see {@link createAgentMemory}). */
export interface AgentMemory extends MemoryClient {
  /** The bounds in force. */
  readonly limits: MemoryLimits;
  /** Bytes held across all agents. */
  readonly totalBytes: number;
  /** Agents with anything stored. */
  readonly agentCount: number;
}

const bound = (max: number) => z.number().int().min(1).max(max).optional();
const GiB = 1024 * 1024 * 1024;

const optionsSchema = z.strictObject({
  clock: clockSchema.optional(),
  maxAgents: bound(10_000_000),
  maxContextEntriesPerAgent: bound(1_000_000),
  maxKeyLength: bound(4096),
  maxValueBytes: bound(GiB),
  maxReasoningEntriesPerAgent: bound(1_000_000),
  maxReasoningBytes: bound(16 * 1024 * 1024),
  maxActionLength: bound(4096),
  maxCheckpointBytes: bound(GiB),
  maxCheckpointsPerAgent: bound(100_000),
  maxBytesPerAgent: bound(16 * GiB),
  maxTotalBytes: bound(64 * GiB),
  maxFetchLimit: bound(100_000),
});

interface StoredContext {
  readonly entry: ContextEntry;
}

interface StoredReasoning {
  readonly entry: ReasoningEntry;
  /** Bytes charged: UTF-8 length of text and action. */
  readonly size: number;
}

interface StoredCheckpoint {
  readonly ref: CheckpointRef;
  readonly bytes: Uint8Array;
}

interface AgentState {
  readonly context: Map<string, StoredContext>;
  /** Oldest first; `head` skips evicted records without shifting the array each time. */
  reasoning: StoredReasoning[];
  head: number;
  readonly checkpoints: Map<SandboxId, StoredCheckpoint>;
  nextReasoningSequence: number;
  bytes: number;
}

function bad(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

function copyValue(value: ContextValue): ContextValue {
  return typeof value === 'string' ? value : value.slice();
}

/**
 * The in-process {@link MemoryClient}: per-agent maps in memory, every collection bounded (see
 * {@link DEFAULT_MEMORY_LIMITS} and docs/platform.md). Reasoning is a log: beyond the record bound
 * or when bytes are needed, the agent's oldest records are evicted. Context and checkpoints are
 * state addressed by key: they are never evicted; a store that does not fit is rejected with
 * `PL-409` and changes nothing.
 *
 * @example
 * ```ts
 * const memory = createAgentMemory({ clock });
 * await memory.recordReasoning(agent, 'invoice matches PO 1182', { action: 'payment.approve' });
 * const context = await memory.fetchReasoningContext(agent, 'payment.approve', 10);
 * ```
 */
export function createAgentMemory(options: AgentMemoryOptions = {}): AgentMemory {
  const parsed = parseOptions(optionsSchema, options, 'createAgentMemory');
  const { clock: clockOption, ...overrides } = parsed;
  const clock = clockOption ?? systemClock;
  const limits: MemoryLimits = Object.freeze({ ...DEFAULT_MEMORY_LIMITS, ...stripUndefined(overrides) });
  const agents = new Map<string, AgentState>();
  let totalBytes = 0;

  /** The NHI string that keys an agent; parsed (`PL-400`) only when it is not already a key. */
  const agentKey = (agent: AgentRef): string => {
    if (agent instanceof AgentIdentity) return agent.nhi;
    if (typeof agent === 'string' && agents.has(agent)) return agent; // validated when stored
    parseNhi(agent, 'agent');
    return agent;
  };

  const stateOf = (agent: AgentRef): AgentState | undefined => agents.get(agentKey(agent));

  const stateFor = (key: string): AgentState => {
    const existing = agents.get(key);
    if (existing !== undefined) return existing;
    if (agents.size >= limits.maxAgents) {
      throw new EnablementError('PL-409', `memory holds the maximum of ${limits.maxAgents} agents`);
    }
    const created: AgentState = {
      context: new Map(),
      reasoning: [],
      head: 0,
      checkpoints: new Map(),
      nextReasoningSequence: 1,
      bytes: 0,
    };
    agents.set(key, created);
    return created;
  };

  const dropIfEmpty = (key: string, state: AgentState): void => {
    if (state.context.size === 0 && state.checkpoints.size === 0 && state.head === state.reasoning.length) {
      agents.delete(key);
    }
  };

  const charge = (state: AgentState, delta: number): void => {
    state.bytes += delta;
    totalBytes += delta;
  };

  const evictOldestReasoning = (state: AgentState): boolean => {
    const oldest = state.reasoning[state.head];
    if (oldest === undefined) return false;
    state.head++;
    charge(state, -oldest.size);
    // Compact once half the array is dead, so eviction stays amortised O(1).
    if (state.head > 64 && state.head * 2 > state.reasoning.length) {
      state.reasoning = state.reasoning.slice(state.head);
      state.head = 0;
    }
    return true;
  };

  /**
   * Makes room for `extra` more bytes (net of `freed`, what the store replaces) by evicting the
   * agent's oldest reasoning if allowed; throws `PL-409` when it cannot. Evicts only when the
   * store is sure to fit afterwards, so a rejected store leaves the reasoning log intact.
   */
  const reserve = (state: AgentState, extra: number, freed: number, what: string): void => {
    const need = extra - freed;
    const agentOver = state.bytes + need - limits.maxBytesPerAgent;
    const totalOver = totalBytes + need - limits.maxTotalBytes;
    if (agentOver <= 0 && totalOver <= 0) return;
    let reclaimable = 0;
    for (let i = state.head; i < state.reasoning.length; i++) {
      reclaimable += (state.reasoning[i] as StoredReasoning).size;
    }
    if (agentOver > reclaimable || totalOver > reclaimable) {
      const scope =
        agentOver > reclaimable
          ? `the agent's budget of ${limits.maxBytesPerAgent}`
          : `the engine's budget of ${limits.maxTotalBytes}`;
      throw new EnablementError('PL-409', `${what} of ${extra} bytes does not fit in ${scope} bytes`);
    }
    while (state.bytes + need > limits.maxBytesPerAgent || totalBytes + need > limits.maxTotalBytes) {
      if (!evictOldestReasoning(state)) break;
    }
  };

  const checkKey = (key: unknown): string => {
    if (typeof key !== 'string' || key.length === 0) throw bad('key', 'expected a non-empty string');
    if (key.length > limits.maxKeyLength) throw bad('key', `longer than ${limits.maxKeyLength} characters`);
    return key;
  };

  const checkAction = (action: unknown): string => {
    if (typeof action !== 'string' || action.length === 0) throw bad('action', 'expected a non-empty string');
    if (action.length > limits.maxActionLength) {
      throw bad('action', `longer than ${limits.maxActionLength} characters`);
    }
    return action;
  };

  const storeContext = (agent: AgentRef, key: string, value: ContextValue): ContextEntry => {
    const nhi = agentKey(agent);
    checkKey(key);
    let size: number;
    if (typeof value === 'string') size = utf8ToBytes(value).length;
    else if (value instanceof Uint8Array) size = value.length;
    else throw bad('value', 'expected a Uint8Array or a string');
    if (size > limits.maxValueBytes) {
      throw bad('value', `${size} bytes exceeds the maximum of ${limits.maxValueBytes} bytes`);
    }
    const isNewAgent = !agents.has(nhi);
    const state = stateFor(nhi);
    try {
      const previous = state.context.get(key);
      if (previous === undefined && state.context.size >= limits.maxContextEntriesPerAgent) {
        throw new EnablementError(
          'PL-409',
          `agent ${nhi} holds the maximum of ${limits.maxContextEntriesPerAgent} context entries`,
        );
      }
      const freed = previous?.entry.size ?? 0;
      reserve(state, size, freed, 'context value');
      const entry: ContextEntry = Object.freeze({
        key,
        value: copyValue(value),
        size,
        storedAt: clock.now(),
      });
      state.context.set(key, { entry });
      charge(state, size - freed);
      return Object.freeze({ ...entry, value: copyValue(entry.value) });
    } catch (error) {
      if (isNewAgent) dropIfEmpty(nhi, state);
      throw error;
    }
  };

  const recordReasoning = (agent: AgentRef, text: string, opts: RecordReasoningOptions): ReasoningEntry => {
    const nhi = agentKey(agent);
    if (typeof text !== 'string') throw bad('text', 'expected a string');
    if (typeof opts !== 'object' || opts === null) throw bad('options', 'expected { action }');
    const action = checkAction(opts.action);
    const textBytes = utf8ToBytes(text).length;
    if (textBytes > limits.maxReasoningBytes) {
      throw bad('text', `${textBytes} bytes exceeds the maximum of ${limits.maxReasoningBytes} bytes`);
    }
    const isNewAgent = !agents.has(nhi);
    const state = stateFor(nhi);
    try {
      const entry: ReasoningEntry = Object.freeze({
        sequence: state.nextReasoningSequence,
        agent: nhi,
        action,
        text,
        recordedAt: clock.now(),
      });
      const size = textBytes + utf8ToBytes(action).length;
      reserve(state, size, 0, 'reasoning record');
      while (state.reasoning.length - state.head >= limits.maxReasoningEntriesPerAgent) {
        evictOldestReasoning(state);
      }
      state.reasoning.push({ entry, size });
      state.nextReasoningSequence++;
      charge(state, size);
      return entry;
    } catch (error) {
      if (isNewAgent) dropIfEmpty(nhi, state);
      throw error;
    }
  };

  const fetchReasoningContext = (agent: AgentRef, action: string, limit: number): ReasoningEntry[] => {
    const state = stateOf(agent);
    checkAction(action);
    if (!Number.isSafeInteger(limit) || limit < 1) throw bad('limit', 'expected a positive integer');
    const cap = Math.min(limit, limits.maxFetchLimit);
    const out: ReasoningEntry[] = [];
    if (state === undefined) return out;
    for (let i = state.reasoning.length - 1; i >= state.head && out.length < cap; i--) {
      const { entry } = state.reasoning[i] as StoredReasoning;
      if (entry.action === action) out.push(entry);
    }
    return out;
  };

  const storeCheckpoint = (agent: AgentRef, sandbox: string, bytes: Uint8Array): CheckpointRef => {
    const nhi = agentKey(agent);
    const id = parseSandboxId(sandbox, 'sandboxId');
    if (!(bytes instanceof Uint8Array)) throw bad('bytes', 'expected a Uint8Array');
    if (bytes.length > limits.maxCheckpointBytes) {
      throw bad('bytes', `${bytes.length} bytes exceeds the maximum of ${limits.maxCheckpointBytes} bytes`);
    }
    const isNewAgent = !agents.has(nhi);
    const state = stateFor(nhi);
    try {
      const previous = state.checkpoints.get(id);
      if (previous === undefined && state.checkpoints.size >= limits.maxCheckpointsPerAgent) {
        throw new EnablementError(
          'PL-409',
          `agent ${nhi} holds checkpoints of the maximum of ${limits.maxCheckpointsPerAgent} sandboxes`,
        );
      }
      const freed = previous?.ref.size ?? 0;
      reserve(state, bytes.length, freed, 'checkpoint');
      const ref: CheckpointRef = Object.freeze({
        sandboxId: id,
        sequence: (previous?.ref.sequence ?? 0) + 1,
        size: bytes.length,
        storedAt: clock.now(),
      });
      state.checkpoints.set(id, { ref, bytes: bytes.slice() });
      charge(state, bytes.length - freed);
      return ref;
    } catch (error) {
      if (isNewAgent) dropIfEmpty(nhi, state);
      throw error;
    }
  };

  const engine: AgentMemory = {
    async storeContext(agent, key, value) {
      return storeContext(agent, key, value);
    },
    async getContext(agent, key) {
      checkKey(key);
      const stored = stateOf(agent)?.context.get(key);
      if (stored === undefined) return undefined;
      return Object.freeze({ ...stored.entry, value: copyValue(stored.entry.value) });
    },
    async deleteContext(agent, key) {
      checkKey(key);
      const nhi = agentKey(agent);
      const state = agents.get(nhi);
      const stored = state?.context.get(key);
      if (state === undefined || stored === undefined) return false;
      state.context.delete(key);
      charge(state, -stored.entry.size);
      dropIfEmpty(nhi, state);
      return true;
    },
    async recordReasoning(agent, text, opts) {
      return recordReasoning(agent, text, opts);
    },
    async fetchReasoningContext(agent, action, limit) {
      return fetchReasoningContext(agent, action, limit);
    },
    async storeCheckpoint(agent, sandbox, bytes) {
      return storeCheckpoint(agent, sandbox, bytes);
    },
    async latestCheckpoint(agent, sandbox) {
      const id = parseSandboxId(sandbox, 'sandboxId');
      const stored = stateOf(agent)?.checkpoints.get(id);
      if (stored === undefined) return undefined;
      return Object.freeze({ ...stored.ref, bytes: stored.bytes.slice() });
    },
    async deleteCheckpoint(agent, sandbox) {
      const id = parseSandboxId(sandbox, 'sandboxId');
      const nhi = agentKey(agent);
      const state = agents.get(nhi);
      const stored = state?.checkpoints.get(id);
      if (state === undefined || stored === undefined) return false;
      state.checkpoints.delete(id);
      charge(state, -stored.ref.size);
      dropIfEmpty(nhi, state);
      return true;
    },
    async forgetAgent(agent) {
      const nhi = agentKey(agent);
      const state = agents.get(nhi);
      if (state === undefined) return false;
      totalBytes -= state.bytes;
      agents.delete(nhi);
      return true;
    },
    async usage(agent) {
      const state = stateOf(agent);
      return Object.freeze({
        contextEntries: state?.context.size ?? 0,
        reasoningEntries: state ? state.reasoning.length - state.head : 0,
        checkpoints: state?.checkpoints.size ?? 0,
        bytes: state?.bytes ?? 0,
      });
    },
    limits,
    get totalBytes() {
      return totalBytes;
    },
    get agentCount() {
      return agents.size;
    },
  };
  return Object.freeze(engine);
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]-?: Exclude<T[K], undefined>;
  };
}
