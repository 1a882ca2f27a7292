/**
 * Memory: per-agent context, reasoning records and sandbox checkpoints behind the `MemoryClient`
 * port, with an in-process engine whose every collection is bounded (spec §3.6,
 * docs/platform.md).
 * @module
 */
export {
  type AgentMemory,
  type AgentMemoryOptions,
  type AgentRef,
  type Checkpoint,
  type CheckpointRef,
  type ContextEntry,
  type ContextValue,
  createAgentMemory,
  DEFAULT_MEMORY_LIMITS,
  type MemoryClient,
  type MemoryLimits,
  type MemoryUsage,
  type ReasoningEntry,
  type RecordReasoningOptions,
} from './memory.js';
