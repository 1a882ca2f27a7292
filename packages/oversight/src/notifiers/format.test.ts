import { decodeOversightNotification, type OversightNotification } from '@creto/core';
import { expectEnablementError } from '@creto/testing';
import { describe, expect, it } from 'vitest';
import { formatApprovalNotification, MAX_NOTIFICATION_BODY_LENGTH, parseNotification } from './index.js';

const approver = 'human:nhi:ed25519:GmaDrppBC7P5ARKV8g3djiwP89vz1jLK23V2GBjuAEGB';

const wire = (overrides: Record<string, unknown> = {}): OversightNotification =>
  decodeOversightNotification({
    request_id: '0b8e3f58-3c1f-4b6e-9a43-5f2d0b7e2c11',
    approver_identity: approver,
    channel_type: 'slack',
    notification_payload: {
      action_description: 'Drop the production database "orders"',
      risk_factors: [
        { name: 'data_loss', severity: 'critical', description: 'Irreversible', score: 0.97 },
        { name: 'off_hours', severity: 'low' },
      ],
      reasoning_context: 'Invoice approved\nDue date: 2024-12-31',
      approval_link: 'https://oversight.example/requests/0b8e3f58',
      ...overrides,
    },
  });

describe('formatApprovalNotification', () => {
  it('gives the subject spec §12.2 expects and a body with link, id, risks and reasoning', () => {
    const { subject, body } = formatApprovalNotification(wire(), { actionName: 'delete_database' });
    expect(subject).toBe('Approval Required: delete_database');
    expect(body).toContain('Approval Required: delete_database');
    expect(body).toContain('Drop the production database "orders"');
    expect(body).toContain('Approve or deny: https://oversight.example/requests/0b8e3f58');
    expect(body).toContain('Request: 0b8e3f58-3c1f-4b6e-9a43-5f2d0b7e2c11');
    expect(body).toContain('- [critical] data_loss — Irreversible (score 0.97)');
    expect(body).toContain('- [low] off_hours');
    expect(body).toContain('Reasoning context:\nInvoice approved\nDue date: 2024-12-31');
    // What it formats is a valid notification.
    expect(() =>
      parseNotification({ id: 'n', kind: 'approval_required', recipient: approver, subject, body }),
    ).not.toThrow();
  });

  it('falls back to the description’s first line, folds the name onto one line, and can drop reasoning', () => {
    const fallback = formatApprovalNotification(wire({ action_description: 'Transfer funds\nto vendor 42' }));
    expect(fallback.subject).toBe('Approval Required: Transfer funds');
    expect(formatApprovalNotification(wire(), { actionName: 'evil\r\nBcc: x' }).subject).toBe(
      'Approval Required: evil Bcc: x',
    );
    const bare = formatApprovalNotification(wire({ reasoning_context: '', risk_factors: [] }));
    expect(bare.body).toContain('(none available)');
    expect(bare.body).toContain('- none given');
    expect(formatApprovalNotification(wire(), { includeReasoning: false }).body).not.toContain(
      'Invoice approved',
    );
  });

  it('cuts a long body at its tail, keeping the link', () => {
    const { body } = formatApprovalNotification(wire({ reasoning_context: 'r'.repeat(16_000) }), {
      maxBodyLength: 1000,
    });
    expect(body).toHaveLength(1000);
    expect(body.endsWith('…')).toBe(true);
    expect(body).toContain('https://oversight.example/requests/0b8e3f58');
    const max = formatApprovalNotification(wire({ reasoning_context: 'r'.repeat(16_384) }));
    expect(max.body.length).toBeLessThanOrEqual(MAX_NOTIFICATION_BODY_LENGTH);
  });

  it('refuses an invalid notification (OV-400) and bad options (PL-400)', () => {
    const broken = { ...wire(), requestId: 'nope' } as unknown as OversightNotification;
    expectEnablementError(() => formatApprovalNotification(broken), 'OV-400', 'requestId');
    expectEnablementError(
      () => formatApprovalNotification(wire(), { actionName: '  ' }),
      'PL-400',
      'actionName',
    );
    expectEnablementError(
      () => formatApprovalNotification(wire(), { maxBodyLength: 10 }),
      'PL-400',
      'maxBodyLength',
    );
  });
});
