import { z } from 'zod';
import { DECIMAL_MAX_TEXT_LENGTH, DECIMAL_PATTERN } from '../decimal/decimal.js';
import { assertPattern } from '../delegation/pattern.js';
import { EnablementError } from '../errors/enablement-error.js';
import { isPolicyId, MAX_POLICY_ID_LENGTH } from '../ids/policy-id.js';
import { type OversightRequirement, oversightRequirementCodec } from '../wire/oversight.js';

/** What a policy does when it applies. */
export const POLICY_EFFECTS = Object.freeze(['permit', 'forbid', 'require_oversight'] as const);

/** One of {@link POLICY_EFFECTS}. */
export type PolicyEffect = (typeof POLICY_EFFECTS)[number];

/** Ordered and equality comparisons. */
export const COMPARISON_OPS = Object.freeze(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const);

/** One of {@link COMPARISON_OPS}. */
export type ComparisonOp = (typeof COMPARISON_OPS)[number];

/** Every operator of an attribute condition. */
export const CONDITION_OPS = Object.freeze([...COMPARISON_OPS, 'in', 'contains', 'like', 'exists'] as const);

/** One of {@link CONDITION_OPS}. */
export type ConditionOp = (typeof CONDITION_OPS)[number];

/** A JSON scalar literal in a condition. */
export type ScalarValue = string | number | boolean | null;

/**
 * An attribute path: `principal.<name>…`, `resource.<name>…` or `context.<name>…`, 1 to
 * {@link MAX_PATH_SEGMENTS} names of `A-Z a-z 0-9 _ -`. Built in (whatever the attribute sources
 * say): `principal.id` (the NHI), `principal.kind` (`agent`/`human`/`service`, from the NHI),
 * `resource.id` (the URI) and `resource.type` (the URI up to its first `:`).
 */
export type AttributePath = string;

/** Compares an attribute with a literal (`value`) or with another attribute (`ref`). */
export type ComparisonCondition =
  | {
      /** The attribute compared. */
      readonly attr: AttributePath;
      /** `eq ne lt le gt ge`. */
      readonly op: ComparisonOp;
      /** Literal; for `lt le gt ge` a number or a decimal string. */
      readonly value: ScalarValue;
    }
  | {
      /** The attribute compared. */
      readonly attr: AttributePath;
      /** `eq ne lt le gt ge`. */
      readonly op: ComparisonOp;
      /** The other attribute. */
      readonly ref: AttributePath;
    };

/** Membership: the attribute equals one of the literals (`value`) or one element of the array at `ref`. */
export type InCondition =
  | {
      /** The attribute tested. */
      readonly attr: AttributePath;
      /** `in`. */
      readonly op: 'in';
      /** Allowed values (1 to 1024 scalars). */
      readonly value: readonly ScalarValue[];
    }
  | {
      /** The attribute tested. */
      readonly attr: AttributePath;
      /** `in`. */
      readonly op: 'in';
      /** An array attribute. */
      readonly ref: AttributePath;
    };

/** The array attribute holds an element equal to the literal (`value`) or to the attribute at `ref`. */
export type ContainsCondition =
  | {
      /** The array attribute. */
      readonly attr: AttributePath;
      /** `contains`. */
      readonly op: 'contains';
      /** The element looked for. */
      readonly value: ScalarValue;
    }
  | {
      /** The array attribute. */
      readonly attr: AttributePath;
      /** `contains`. */
      readonly op: 'contains';
      /** The attribute whose value is looked for. */
      readonly ref: AttributePath;
    };

/** The string attribute matches a pattern of the delegation pattern language (`*`, `prefix*`, exact). */
export interface LikeCondition {
  /** The string attribute. */
  readonly attr: AttributePath;
  /** `like`. */
  readonly op: 'like';
  /** The pattern. */
  readonly value: string;
}

/** The attribute is present (any value, `null` included). */
export interface ExistsCondition {
  /** The attribute. */
  readonly attr: AttributePath;
  /** `exists`. */
  readonly op: 'exists';
}

/** A test of one attribute. A missing or wrongly typed attribute makes it false, never an error. */
export type AttributeCondition =
  | ComparisonCondition
  | InCondition
  | ContainsCondition
  | LikeCondition
  | ExistsCondition;

/** All of the conditions hold (1 to {@link MAX_CONDITION_CHILDREN}). */
export interface AndCondition {
  /** The conditions. */
  readonly and: readonly Condition[];
}

/** At least one of the conditions holds (1 to {@link MAX_CONDITION_CHILDREN}). */
export interface OrCondition {
  /** The conditions. */
  readonly or: readonly Condition[];
}

/** The condition does not hold. */
export interface NotCondition {
  /** The negated condition. */
  readonly not: Condition;
}

/** A policy condition: boolean combinations of attribute tests. */
export type Condition = AndCondition | OrCondition | NotCondition | AttributeCondition;

/**
 * A policy: plain JSON data. See docs/authz.md for the format and the combination rules.
 *
 * @example
 * ```ts
 * const policy: Policy = {
 *   id: 'large-transfer',
 *   effect: 'require_oversight',
 *   action: 'funds.transfer',
 *   when: { attr: 'context.amount', op: 'gt', value: 10000 },
 *   requirement: { tiers: [{ approvers: [cfo], quorum: 1, timeoutMs: 7_200_000 }], finalAction: 'auto_deny' },
 * };
 * ```
 */
export interface Policy {
  /** Unique id within the set (the `PolicyId` charset, at most 256 characters). */
  readonly id: string;
  /** Free text for people (at most 1024 characters). */
  readonly description?: string;
  /** What the policy does when it applies. */
  readonly effect: PolicyEffect;
  /** The oversight required; present exactly when `effect` is `require_oversight`. */
  readonly requirement?: OversightRequirement;
  /** Principal pattern(s) (any matches); default `*`. */
  readonly principal?: string | readonly string[];
  /** Action pattern(s) (any matches); default `*`. */
  readonly action?: string | readonly string[];
  /** Resource pattern(s) (any matches); default `*`. */
  readonly resource?: string | readonly string[];
  /** Condition; the policy applies only when it holds. Absent means always. */
  readonly when?: Condition;
}

/** A validated policy with defaults applied: patterns as arrays (what the engine stores and returns). */
export interface NormalizedPolicy extends Policy {
  /** Principal patterns (at least one). */
  readonly principal: readonly string[];
  /** Action patterns (at least one). */
  readonly action: readonly string[];
  /** Resource patterns (at least one). */
  readonly resource: readonly string[];
}

/** Most policies in one set. */
export const MAX_POLICIES = 100_000;
/** Most patterns in one of `principal`, `action`, `resource`. */
export const MAX_PATTERNS_PER_FIELD = 64;
/** Deepest nesting of `and` / `or` / `not` (a single attribute test has depth 1). */
export const MAX_CONDITION_DEPTH = 16;
/** Most condition nodes in one policy. */
export const MAX_CONDITION_NODES = 256;
/** Most children of one `and` / `or`. */
export const MAX_CONDITION_CHILDREN = 64;
/** Most literals in one `in` list. */
export const MAX_IN_VALUES = 1024;
/** Most names after the root of an attribute path. */
export const MAX_PATH_SEGMENTS = 8;
/** Longest string literal in a condition. */
export const MAX_LITERAL_LENGTH = 1024;
/** Longest policy description. */
export const MAX_DESCRIPTION_LENGTH = 1024;

const PATH_PATTERN = new RegExp(
  `^(principal|resource|context)(\\.[A-Za-z0-9_-]{1,64}){1,${MAX_PATH_SEGMENTS}}$`,
);

/** Re-raises a nested schema's issues (message and path kept, path prefixed) in a check or transform. */
function forward(
  target: z.core.$ZodRawIssue[],
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  prefix: readonly PropertyKey[] = [],
): void {
  for (const issue of issues) {
    target.push({ code: 'custom', message: issue.message, input, path: [...prefix, ...issue.path] });
  }
}

/** Picks the schema for an input by its shape, so errors point into the branch that was meant. */
function byShape<T>(pick: (input: unknown) => z.ZodType<T>): z.ZodType<T> {
  return z.unknown().transform((input, ctx) => {
    const result = pick(input).safeParse(input);
    if (result.success) return result.data;
    forward(ctx.issues, result.error.issues, input);
    return z.NEVER;
  }) as unknown as z.ZodType<T>;
}

const patternSchema = z.string().check((payload) => {
  try {
    assertPattern(payload.value, 'pattern');
  } catch (error) {
    payload.issues.push({ code: 'custom', message: messageOf(error), input: payload.value });
  }
});

const patternListSchema: z.ZodType<readonly string[]> = byShape((input) =>
  Array.isArray(input)
    ? z.array(patternSchema).min(1).max(MAX_PATTERNS_PER_FIELD)
    : patternSchema.transform((pattern) => [pattern]),
);

const pathSchema = z
  .string()
  .max(8 + MAX_PATH_SEGMENTS * 65, { abort: true })
  .regex(PATH_PATTERN, {
    error: `expected principal.<name>, resource.<name> or context.<name> (1-${MAX_PATH_SEGMENTS} names of A-Z a-z 0-9 _ -)`,
  });

const scalarSchema = z.union([z.string().max(MAX_LITERAL_LENGTH), z.number(), z.boolean(), z.null()], {
  error: `expected a string (at most ${MAX_LITERAL_LENGTH} characters), a finite number, a boolean or null`,
});

const numericLiteralSchema = z.union(
  [
    z.number(),
    z.string().max(DECIMAL_MAX_TEXT_LENGTH, { abort: true }).regex(DECIMAL_PATTERN, { abort: true }),
  ],
  { error: 'expected a finite number or a decimal string such as "10000.50"' },
);

/** The schema of `value` for each operator (`undefined`: the operator takes no `value`). */
const VALUE_SCHEMAS: Record<ConditionOp, z.ZodType | undefined> = {
  eq: scalarSchema,
  ne: scalarSchema,
  lt: numericLiteralSchema,
  le: numericLiteralSchema,
  gt: numericLiteralSchema,
  ge: numericLiteralSchema,
  in: z.array(scalarSchema).min(1).max(MAX_IN_VALUES),
  contains: scalarSchema,
  like: patternSchema,
  exists: undefined,
};

const leafSchema = z
  .strictObject({
    attr: pathSchema,
    op: z.enum(CONDITION_OPS),
    value: z.unknown().optional(),
    ref: pathSchema.optional(),
  })
  .check((payload) => {
    const { op, value, ref } = payload.value;
    const hasValue = Object.hasOwn(payload.value, 'value');
    const valueSchema = VALUE_SCHEMAS[op];
    if (op === 'exists' || op === 'like') {
      if (ref !== undefined) {
        payload.issues.push({ code: 'custom', message: `'${op}' takes no ref`, input: ref, path: ['ref'] });
      }
    }
    if (valueSchema === undefined) {
      if (hasValue) {
        payload.issues.push({
          code: 'custom',
          message: `'${op}' takes no value`,
          input: value,
          path: ['value'],
        });
      }
      return;
    }
    if (hasValue && ref !== undefined) {
      payload.issues.push({
        code: 'custom',
        message: 'give value or ref, not both',
        input: ref,
        path: ['ref'],
      });
      return;
    }
    if (ref !== undefined) return;
    if (!hasValue) {
      const message = op === 'like' ? `'like' needs a pattern value` : `'${op}' needs a value or a ref`;
      payload.issues.push({ code: 'custom', message, input: value, path: ['value'] });
      return;
    }
    const result = valueSchema.safeParse(value);
    if (!result.success) forward(payload.issues, result.error.issues, value, ['value']);
  });

const conditionSchema: z.ZodType<Condition> = byShape((input) => {
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    if (Object.hasOwn(input, 'and')) return andSchema;
    if (Object.hasOwn(input, 'or')) return orSchema;
    if (Object.hasOwn(input, 'not')) return notSchema;
  }
  return leafSchema as z.ZodType<Condition>;
});

const andSchema: z.ZodType<Condition> = z.strictObject({
  and: z
    .array(z.lazy(() => conditionSchema))
    .min(1)
    .max(MAX_CONDITION_CHILDREN),
});
const orSchema: z.ZodType<Condition> = z.strictObject({
  or: z
    .array(z.lazy(() => conditionSchema))
    .min(1)
    .max(MAX_CONDITION_CHILDREN),
});
const notSchema: z.ZodType<Condition> = z.strictObject({ not: z.lazy(() => conditionSchema) });

/** Validates the TS shape of an `OversightRequirement` with the wire codec, returning a fresh copy. */
const requirementSchema: z.ZodType<OversightRequirement> = z.unknown().transform((input, ctx) => {
  const encoded = z.safeEncode(oversightRequirementCodec, input as OversightRequirement);
  if (!encoded.success) {
    forward(ctx.issues, encoded.error.issues, input);
    return z.NEVER;
  }
  return z.decode(oversightRequirementCodec, encoded.data);
}) as unknown as z.ZodType<OversightRequirement>;

const policySchema = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .max(MAX_POLICY_ID_LENGTH, { abort: true })
      .refine(
        isPolicyId,
        'only letters, digits and . _ - : / @ are allowed, starting with a letter or digit',
      ),
    description: z.string().max(MAX_DESCRIPTION_LENGTH).optional(),
    effect: z.enum(POLICY_EFFECTS),
    requirement: requirementSchema.optional(),
    principal: patternListSchema.optional(),
    action: patternListSchema.optional(),
    resource: patternListSchema.optional(),
    when: conditionSchema.optional(),
  })
  .check((payload) => {
    const { effect, requirement } = payload.value;
    if (effect === 'require_oversight' && requirement === undefined) {
      payload.issues.push({
        code: 'custom',
        message: "effect 'require_oversight' needs a requirement",
        input: requirement,
        path: ['requirement'],
      });
    }
    if (effect !== 'require_oversight' && Object.hasOwn(payload.value, 'requirement')) {
      payload.issues.push({
        code: 'custom',
        message: `effect '${effect}' takes no requirement`,
        input: requirement,
        path: ['requirement'],
      });
    }
  });

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message.replace(/^pattern: /, '');
  return String(error);
}

/** `policies[3].when.and[1].op` from a root name and a zod path. */
export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += `.${String(key)}`;
  }
  return out;
}

function invalid(path: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${path}: ${why}`);
}

/**
 * Bounds the nesting and size of a raw condition before zod (which recurses) sees it, so a
 * hostile million-deep `not` costs a few thousand steps instead of a stack overflow.
 */
function checkConditionBounds(when: unknown, root: string): void {
  const stack: [unknown, number, string][] = [[when, 1, root]];
  let nodes = 0;
  while (stack.length > 0) {
    const [node, depth, path] = stack.pop() as [unknown, number, string];
    if (++nodes > MAX_CONDITION_NODES)
      throw invalid(root, `more than ${MAX_CONDITION_NODES} condition nodes`);
    if (depth > MAX_CONDITION_DEPTH)
      throw invalid(path, `conditions nested deeper than ${MAX_CONDITION_DEPTH}`);
    if (typeof node !== 'object' || node === null || Array.isArray(node)) continue;
    const record = node as Record<string, unknown>;
    for (const key of ['and', 'or'] as const) {
      const children = Object.hasOwn(record, key) ? record[key] : undefined;
      if (!Array.isArray(children)) continue;
      if (children.length > MAX_CONDITION_CHILDREN) {
        throw invalid(`${path}.${key}`, `more than ${MAX_CONDITION_CHILDREN} conditions`);
      }
      children.forEach((child, i) => {
        stack.push([child, depth + 1, `${path}.${key}[${i}]`]);
      });
    }
    if (Object.hasOwn(record, 'not')) stack.push([record.not, depth + 1, `${path}.not`]);
  }
}

function normalize(parsed: z.output<typeof policySchema>): NormalizedPolicy {
  const policy: {
    -readonly [K in keyof NormalizedPolicy]: NormalizedPolicy[K];
  } = {
    id: parsed.id,
    effect: parsed.effect,
    principal: Object.freeze([...(parsed.principal ?? ['*'])]),
    action: Object.freeze([...(parsed.action ?? ['*'])]),
    resource: Object.freeze([...(parsed.resource ?? ['*'])]),
  };
  if (parsed.description !== undefined) policy.description = parsed.description;
  if (parsed.requirement !== undefined) policy.requirement = deepFreeze(parsed.requirement);
  if (parsed.when !== undefined) policy.when = deepFreeze(parsed.when);
  return Object.freeze(policy);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates one policy; returns a frozen, normalized copy. Throws `PL-400` whose message starts
 * with the path of the first error, e.g. `policy.when.and[1].op: Invalid option: …`.
 */
export function parsePolicy(input: unknown, path = 'policy'): NormalizedPolicy {
  if (typeof input === 'object' && input !== null && Object.hasOwn(input, 'when')) {
    checkConditionBounds((input as { when: unknown }).when, `${path}.when`);
  }
  const result = policySchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (issue === undefined) throw invalid(path, 'invalid policy');
    throw invalid(formatPath(path, issue.path), issue.message);
  }
  return normalize(result.data);
}

/**
 * Validates a policy set: at most {@link MAX_POLICIES} policies with unique ids. Throws `PL-400`
 * naming the path of the first error (`policies[3].when.and[1].op: …`); nothing is returned
 * partially.
 */
export function parsePolicies(input: unknown, path = 'policies'): readonly NormalizedPolicy[] {
  if (!Array.isArray(input)) throw invalid(path, 'expected an array of policies');
  const length = input.length; // read once: a hostile array cannot grow while we copy it
  if (length > MAX_POLICIES) throw invalid(path, `at most ${MAX_POLICIES} policies`);
  const out: NormalizedPolicy[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < length; i++) {
    const policy = parsePolicy(input[i], `${path}[${i}]`);
    if (ids.has(policy.id)) throw invalid(`${path}[${i}].id`, `duplicate policy id '${policy.id}'`);
    ids.add(policy.id);
    out.push(policy);
  }
  return Object.freeze(out);
}
