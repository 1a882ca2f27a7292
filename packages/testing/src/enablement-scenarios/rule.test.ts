import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectEnablementError } from '../assertions/index.js';
import { approvalRulePolicies, parseApprovalRule } from './rule.js';

describe('parseApprovalRule', () => {
  it('reads the spec rule and the documented grammar', () => {
    expect(parseApprovalRule('amount > 10000 requires CFO approval')).toEqual({
      field: 'amount',
      op: 'gt',
      value: 10000,
      role: 'CFO',
      approver: 'cfo@test.com',
    });
    expect(parseApprovalRule('  invoice.total>=2500.50 REQUIRES finance-lead Approval ')).toMatchObject({
      field: 'invoice.total',
      op: 'ge',
      value: '2500.50',
      approver: 'finance-lead@test.com',
    });
    // Beyond 2^53 the bound stays exact, as a decimal string.
    expect(parseApprovalRule('amount != 123456789012345678 requires CEO approval').value).toBe(
      '123456789012345678',
    );
    expect(parseApprovalRule('count = -3 requires ops approval')).toMatchObject({ op: 'eq', value: -3 });
  });

  it('round-trips every rule it can print', () => {
    const ops = ['>', '>=', '<', '<=', '==', '!='] as const;
    const names = { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' } as const;
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
        fc.constantFrom(...ops),
        fc.integer({ min: -1_000_000, max: 1_000_000 }),
        fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,8}$/),
        (field, op, n, role) => {
          const rule = parseApprovalRule(`${field} ${op} ${n} requires ${role} approval`);
          expect([rule.field, names[rule.op], rule.value, rule.role]).toEqual([field, op, n, role]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses anything else with PL-400, quoting the rule', () => {
    const bad: unknown[] = [
      'amount > 10000',
      'amount > ten requires CFO approval',
      'amount >> 1 requires CFO approval',
      '1amount > 1 requires CFO approval',
      'amount > 1 requires approval',
      'amount > 1 requires C F O approval',
      'amount > 1e5 requires CFO approval',
      `${'a'.repeat(600)} > 1 requires CFO approval`,
      42,
      undefined,
      { rule: 'amount > 1 requires CFO approval' },
    ];
    for (const rule of bad) {
      expectEnablementError(() => parseApprovalRule(rule), 'PL-400', 'requires <ROLE> approval');
    }
  });
});

describe('approvalRulePolicies', () => {
  it('permits the action and requires the approver above the bound (one tier, quorum 1)', () => {
    const [permit, oversight] = approvalRulePolicies(
      parseApprovalRule('amount > 10000 requires CFO approval'),
      {
        action: 'funds.transfer',
        approverNhi: 'agent:nhi:ed25519:cfo',
      },
    );
    expect(permit).toMatchObject({
      id: 'scenario.permit.funds.transfer',
      effect: 'permit',
      action: 'funds.transfer',
    });
    expect(oversight).toMatchObject({
      id: 'scenario.oversight.funds.transfer',
      effect: 'require_oversight',
      when: { attr: 'context.amount', op: 'gt', value: 10000 },
      requirement: {
        tiers: [{ approvers: ['agent:nhi:ed25519:cfo'], quorum: 1, timeoutMs: 7_200_000 }],
        finalAction: 'auto_deny',
      },
    });
  });
});
