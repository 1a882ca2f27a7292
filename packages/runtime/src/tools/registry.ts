import {
  ACTION_PARAMETERS_BOUNDS,
  assertBoundedJson,
  type DelegationChain,
  EnablementError,
  formatIssues,
  type JsonValue,
  type RiskFactor,
  type SandboxId,
} from '@creto/core';
import type { z } from 'zod';

/** Most tools one runtime holds. */
export const DEFAULT_MAX_TOOLS = 1024;
/** Longest tool description. */
export const MAX_TOOL_DESCRIPTION_LENGTH = 4096;
/** Tool names: a lower-case letter, then up to 63 of `a-z 0-9 _ . -`. */
export const TOOL_NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Tool arguments: a JSON object (it becomes the authz request's `context`, spec §3.2). */
export type ToolArguments = { readonly [key: string]: JsonValue };

/** What a tool handler learns about the call. */
export interface ToolContext {
  /** The sandbox the call comes from. */
  readonly sandboxId: SandboxId;
  /** The agent bound to the sandbox (the authz principal). */
  readonly agentNhi: string;
  /** The delegation chain the agent acts under, when the sandbox has one. */
  readonly delegationChain: DelegationChain | undefined;
  /** Aborted when the tool's timeout passes or the sandbox terminates. */
  readonly signal: AbortSignal;
  /** The oversight request that approved this call, when one did. */
  readonly oversightRequestId?: string;
  /** The override token that authorized this call, when one did (its id, not the token). */
  readonly overrideTokenId?: string;
}

/**
 * A host function sandbox code may call (`tools.call(name, args)`), with the policy that guards
 * it: each call validates `args` with `schema` (`RT-400`), then asks authz for `action` on
 * `resource(args)` with the arguments as context; `deny` is `RT-403`, `requires_oversight` goes
 * to Oversight and runs the handler only with the approved arguments (spec §4.2, §7.2).
 *
 * @example
 * ```ts
 * runtime.registerTool({
 *   name: 'transfer_funds',
 *   description: 'Move money between accounts',
 *   schema: z.object({ amount: z.number().positive(), to: z.string() }),
 *   action: 'funds.transfer',
 *   resource: (args) => `payments:account:${args.to}`,
 *   handler: async (args) => ({ ok: true, amount: args.amount }),
 * });
 * ```
 */
export interface ToolDefinition<A extends ToolArguments = ToolArguments> {
  /** Tool name ({@link TOOL_NAME_PATTERN}), unique in the runtime. */
  readonly name: string;
  /** What it does, for agents and approvers (1–4096 characters). */
  readonly description: string;
  /** zod schema of the arguments; its output (a JSON object) is what authz and the handler see. */
  readonly schema: z.ZodType<A>;
  /** Authz action; default `tool.<name>`. */
  readonly action?: string;
  /** Authz resource of a call; default `tool:<name>`. */
  resource?(args: A): string;
  /** Risk factors shown to approvers when the call needs oversight. */
  riskFactors?(args: A): RiskFactor[];
  /** One line for approvers describing this call; default `<description> (<name>)`. */
  describe?(args: A): string;
  /** Runs the tool; must return JSON (at most 64 KiB canonical). */
  handler(args: A, context: ToolContext): JsonValue | Promise<JsonValue>;
  /** Handler time limit, ms (`RT-408` beyond); the runtime's `toolTimeoutMs` by default. */
  readonly timeoutMs?: number;
}

/** A registered tool, as {@link ToolRegistry.list} shows it. */
export interface ToolInfo {
  /** Name. */
  readonly name: string;
  /** Description. */
  readonly description: string;
  /** Authz action. */
  readonly action: string;
}

/** The bounded set of tools of a runtime. */
export interface ToolRegistry {
  /** Adds a tool; `RT-400` for an invalid definition or a name in use, `RT-413` beyond the bound. */
  register<A extends ToolArguments>(tool: ToolDefinition<A>): void;
  /** Removes a tool; true when there was one. */
  unregister(name: string): boolean;
  /** The tool called `name`; `RT-400` when there is none. */
  get(name: string): ToolDefinition;
  /** Every tool, in registration order. */
  list(): ToolInfo[];
  /** Number of tools. */
  readonly size: number;
}

function invalid(message: string): EnablementError {
  return new EnablementError('RT-400', message);
}

/** The authz action of a tool. */
export function toolAction(tool: ToolDefinition): string {
  return tool.action ?? `tool.${tool.name}`;
}

/** Builds a {@link ToolRegistry} holding at most `maxTools` tools. */
export function createToolRegistry(maxTools = DEFAULT_MAX_TOOLS): ToolRegistry {
  const tools = new Map<string, ToolDefinition>();
  return {
    register<A extends ToolArguments>(tool: ToolDefinition<A>): void {
      if (typeof tool !== 'object' || tool === null) throw invalid('tool: expected an object');
      const { name, description, schema, action, handler, timeoutMs } = tool;
      if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
        throw invalid(`tool.name: expected ${TOOL_NAME_PATTERN.source}`);
      }
      if (
        typeof description !== 'string' ||
        description.length === 0 ||
        description.length > MAX_TOOL_DESCRIPTION_LENGTH
      ) {
        throw invalid(`tool ${name}: description: expected 1-${MAX_TOOL_DESCRIPTION_LENGTH} characters`);
      }
      if (typeof schema !== 'object' || schema === null || typeof schema.safeParse !== 'function') {
        throw invalid(`tool ${name}: schema: expected a zod schema`);
      }
      if (action !== undefined && (typeof action !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(action))) {
        throw invalid(`tool ${name}: action: expected 1-1024 visible ASCII characters`);
      }
      if (typeof handler !== 'function') throw invalid(`tool ${name}: handler: expected a function`);
      for (const hook of ['resource', 'riskFactors', 'describe'] as const) {
        if (tool[hook] !== undefined && typeof tool[hook] !== 'function') {
          throw invalid(`tool ${name}: ${hook}: expected a function`);
        }
      }
      if (
        timeoutMs !== undefined &&
        (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 86_400_000)
      ) {
        throw invalid(`tool ${name}: timeoutMs: expected an integer in [1, 86400000]`);
      }
      if (tools.has(name)) throw invalid(`tool ${name} is already registered`);
      if (tools.size >= maxTools) {
        throw new EnablementError('RT-413', `the runtime holds the maximum of ${maxTools} tools`);
      }
      tools.set(name, Object.freeze({ ...tool }) as unknown as ToolDefinition);
    },
    unregister(name: string): boolean {
      return tools.delete(name);
    },
    get(name: string): ToolDefinition {
      const tool = typeof name === 'string' ? tools.get(name) : undefined;
      if (tool === undefined) {
        throw invalid(`unknown tool ${typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : ''}`);
      }
      return tool;
    },
    list(): ToolInfo[] {
      return [...tools.values()].map((t) => ({
        name: t.name,
        description: t.description,
        action: toolAction(t),
      }));
    },
    get size(): number {
      return tools.size;
    },
  };
}

/**
 * Validates raw arguments with the tool's schema and the JSON bounds of an action's parameters
 * (spec §4.2: at most 64 KiB canonical, depth 16). Returns the schema's output; `RT-400` naming
 * the failing path otherwise.
 */
export function parseToolArguments(tool: ToolDefinition, args: unknown): ToolArguments {
  try {
    assertBoundedJson(args, ACTION_PARAMETERS_BOUNDS);
  } catch (cause) {
    throw new EnablementError('RT-400', `tool ${tool.name}: arguments: not bounded JSON`, { cause });
  }
  let result: ReturnType<ToolDefinition['schema']['safeParse']>;
  try {
    result = tool.schema.safeParse(args);
  } catch (cause) {
    throw new EnablementError('RT-400', `tool ${tool.name}: arguments could not be validated`, { cause });
  }
  if (!result.success) {
    throw new EnablementError(
      'RT-400',
      `tool ${tool.name}: invalid arguments: ${formatIssues(result.error.issues)}`,
    );
  }
  const parsed: unknown = result.data;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EnablementError('RT-400', `tool ${tool.name}: arguments must be a JSON object`);
  }
  try {
    assertBoundedJson(parsed, ACTION_PARAMETERS_BOUNDS);
  } catch (cause) {
    throw new EnablementError('RT-400', `tool ${tool.name}: the schema's output is not bounded JSON`, {
      cause,
    });
  }
  return parsed as ToolArguments;
}
