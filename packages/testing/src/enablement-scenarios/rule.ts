import { type ComparisonOp, EnablementError, type OversightFinalAction, type Policy } from '@creto/core';

/** An approval rule of the scenario grammar, parsed (see {@link parseApprovalRule}). */
export interface ApprovalRule {
  /** The call argument compared, e.g. `amount` (read by authz as `context.amount`). */
  readonly field: string;
  /** The comparison. */
  readonly op: ComparisonOp;
  /** The bound: a number, or a decimal string when it is not a safe integer. */
  readonly value: number | string;
  /** The approving role as written, e.g. `CFO`. */
  readonly role: string;
  /** The approver's test agent name: the role in lower case at `test.com` (`cfo@test.com`). */
  readonly approver: string;
}

const OPS: Readonly<Record<string, ComparisonOp>> = Object.freeze({
  '>': 'gt',
  '>=': 'ge',
  '<': 'lt',
  '<=': 'le',
  '==': 'eq',
  '=': 'eq',
  '!=': 'ne',
});

const RULE =
  /^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){0,6})\s*(>=|<=|==|!=|>|<|=)\s*(-?\d{1,18}(?:\.\d{1,18})?)\s+requires\s+([A-Za-z][A-Za-z0-9_-]{0,63})\s+approval\s*$/i;

/**
 * Parses the approval-rule grammar of the scenario step `configure_policy`:
 *
 * ```
 * rule   = field op number "requires" ROLE "approval"        (keywords case-insensitive)
 * field  = name *("." name)        name = [A-Za-z_][A-Za-z0-9_]*   (at most 7 names)
 * op     = ">" | ">=" | "<" | "<=" | "==" | "=" | "!="
 * number = ["-"] 1*18DIGIT ["." 1*18DIGIT]
 * ROLE   = [A-Za-z][A-Za-z0-9_-]*  → approver "<role in lower case>@test.com"
 * ```
 *
 * `PL-400` quoting the rule for anything else.
 *
 * @example
 * ```ts
 * parseApprovalRule('amount > 10000 requires CFO approval');
 * // { field: 'amount', op: 'gt', value: 10000, role: 'CFO', approver: 'cfo@test.com' }
 * ```
 */
export function parseApprovalRule(rule: unknown): ApprovalRule {
  const text = typeof rule === 'string' ? rule : '';
  const match = text.length <= 512 ? RULE.exec(text) : null;
  const [, field, symbol, number, role] = match ?? [];
  const op = symbol === undefined ? undefined : OPS[symbol];
  if (field === undefined || op === undefined || number === undefined || role === undefined) {
    throw new EnablementError(
      'PL-400',
      `rule: ${JSON.stringify(String(rule).slice(0, 80))} is not "<field> <op> <number> requires <ROLE> approval" (e.g. "amount > 10000 requires CFO approval")`,
    );
  }
  const asNumber = Number(number);
  const value = Number.isSafeInteger(asNumber) && String(asNumber) === number ? asNumber : number;
  return Object.freeze({ field, op, value, role, approver: `${role.toLowerCase()}@test.com` });
}

/** Options of {@link approvalRulePolicies}. */
export interface ApprovalRulePolicyOptions {
  /** The authz action the rule guards (a tool's action, e.g. `funds.transfer`). */
  readonly action: string;
  /** The approver's NHI. */
  readonly approverNhi: string;
  /** The approval tier's timeout, ms; default 2 hours (spec §7.2). */
  readonly timeoutMs?: number;
  /** What happens when nobody decides in time; default `auto_deny`. */
  readonly finalAction?: OversightFinalAction;
}

/**
 * The policies a rule stands for: the action is permitted, and requires the approver's oversight
 * when the condition holds (`require_oversight` with `context.<field> <op> <value>`; one tier,
 * quorum 1). Ids are `scenario.permit.<action>` and `scenario.oversight.<action>`.
 */
export function approvalRulePolicies(rule: ApprovalRule, options: ApprovalRulePolicyOptions): Policy[] {
  return [
    {
      id: `scenario.permit.${options.action}`,
      description: `Scenario: ${options.action} is permitted`,
      effect: 'permit',
      action: options.action,
    },
    {
      id: `scenario.oversight.${options.action}`,
      description: `Scenario: ${rule.field} ${rule.op} ${rule.value} requires ${rule.role} approval`,
      effect: 'require_oversight',
      action: options.action,
      when: { attr: `context.${rule.field}`, op: rule.op, value: rule.value },
      requirement: {
        tiers: [{ approvers: [options.approverNhi], quorum: 1, timeoutMs: options.timeoutMs ?? 7_200_000 }],
        finalAction: options.finalAction ?? 'auto_deny',
      },
    },
  ];
}
