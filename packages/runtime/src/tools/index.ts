/**
 * Tools: host functions sandbox code may call, each guarded by its own authz action and, when a
 * policy requires it, human approval (spec §3.2, §4.2, §7.2).
 * @module
 */
export {
  createToolRegistry,
  DEFAULT_MAX_TOOLS,
  MAX_TOOL_DESCRIPTION_LENGTH,
  parseToolArguments,
  TOOL_NAME_PATTERN,
  type ToolArguments,
  type ToolContext,
  type ToolDefinition,
  type ToolInfo,
  type ToolRegistry,
  toolAction,
} from './registry.js';
