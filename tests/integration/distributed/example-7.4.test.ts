import { describe, expect, it } from 'vitest';
import { runExample } from '../../../examples/run-example.js';

// Lives in the integration project (files run one at a time) rather than beside the example:
// the metering crash test and this example both consume `metering.events.runtime` on the same
// NATS server, and JetStream refuses two streams capturing one subject.
// The example needs NATS, Redis and PostgreSQL. Without them it is skipped, except in CI (`CI`
// set), where a missing server URL is an error: the example must run there.
const VARIABLES = ['CRETO_NATS_URL', 'CRETO_REDIS_URL', 'CRETO_POSTGRES_URL'] as const;
const missing = VARIABLES.filter((name) => !process.env[name]);
if (missing.length > 0 && process.env.CI) {
  throw new Error(
    `${missing.join(', ')} not set; CI must run examples/flow-7.4-distributed.mjs against real servers`,
  );
}

describe('examples/flow-7.4-distributed.mjs', () => {
  if (missing.length > 0) {
    it.skip(`skipped: set ${missing.join(', ')} to run the §7.4 flow on NATS, Redis and PostgreSQL`, () => {});
    return;
  }
  it('runs §7.4 with the bus on NATS, idempotency on Redis and the stores on PostgreSQL', async () => {
    const { stdout, stderr } = await runExample('flow-7.4-distributed.mjs', 120_000);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/NATS +nats:\/\/.*: the event bus/);
    expect(stdout).toMatch(/Redis +redis:\/\/.*: idempotency records/);
    expect(stdout).toMatch(/PostgreSQL +schema creto_example_[0-9a-f]{12}: metering, oversight/);
    expect(stdout).toMatch(/approval request [0-9a-f-]{36} \(PENDING\) → PostgreSQL/);
    expect(stdout).toContain('the tool ran with the override token: {"paid":true,"invoice":"INV-1182"}');
    expect(stdout).toContain('"Payment processed: INV-1182"');
    expect(stdout).toContain('terminated after 600 s');
    expect(stdout).toContain('sandbox_allocations this period: 1');
    expect(stdout).toMatch(/invoice [0-9a-f-]{36}: total 49\.18 USD/);
    expect(stdout).toMatch(/sent to billing-agent end to end: "Invoice /);
    // Every audit event the layer appended is a row in PostgreSQL.
    expect(stdout).toMatch(
      /8\. audit log: ([1-9]\d*) events, \1 of them stored in PostgreSQL; checkpoint signed/,
    );
    expect(stdout).toMatch(/\nDone\.\n$/);
  }, 150_000);
});
