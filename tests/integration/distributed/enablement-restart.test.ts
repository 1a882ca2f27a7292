// A whole layer restarted on PostgreSQL (issue #10: relay offline queues and the audit log are
// durable). Layer 1: Bob goes offline, Alice sends him a message, which the relay queues in
// PostgreSQL; the layer shuts down. Layer 2, a new process's worth of objects on the same
// database: the audit log reopens with the same tree (the old signed checkpoint is consistent
// with the new head), and when Bob connects the relay delivers Alice's message, end to end, from
// the queue it loaded.
import {
  AgentKeyPair,
  type AuditLogStore,
  openCheckpoint,
  registrationProof,
  systemClock,
  utf8ToBytes,
  verifyConsistency,
  verifyInclusion,
} from '@creto/core';
import { createEnablement, type Enablement, type EnablementOptions } from '@creto/enablement';
import {
  createPostgresAuditLogStore,
  createPostgresIdempotencyStore,
  createPostgresRelayQueueStore,
  createPostgresSessionStore,
} from '@creto/postgres';
import { expect, it } from 'vitest';
import { describePostgres } from './servers.js';

const AUDIT_ORIGIN = 'audit.restart.example/log';

// Hybrid identities (envelopes carry ML-DSA-65 signatures), derived once per file.
const alice = AgentKeyPair.fromSeed(new Uint8Array(32).fill(21), { postQuantum: true });
const bob = AgentKeyPair.fromSeed(new Uint8Array(32).fill(22), { postQuantum: true });
const auditKey = new Uint8Array(32).fill(23);

describePostgres('Enablement restart on PostgreSQL', 'creto_restart', (db) => {
  /** One process's layer: fresh store objects each time, so only the database carries state. */
  async function startLayer(
    auditStore: AuditLogStore = createPostgresAuditLogStore({
      client: db().client,
      schema: db().schema,
      log: AUDIT_ORIGIN,
    }),
  ) {
    const { client, schema } = db();
    const options: EnablementOptions = {
      clock: systemClock,
      seed: new Uint8Array(32).fill(24), // the same service keys on every start
      policies: [
        {
          id: 'agents-message',
          effect: 'permit',
          principal: 'agent:*',
          action: 'messaging:send',
          resource: 'agent:*',
        },
      ],
      platform: { audit: { origin: AUDIT_ORIGIN, signingKey: auditKey } },
      stores: {
        audit: auditStore,
        relayQueues: createPostgresRelayQueueStore({ client, schema, relay: 'restart-test' }),
        idempotency: createPostgresIdempotencyStore({ client, schema, clock: systemClock }),
        messagingSessions: (owner) => createPostgresSessionStore({ client, schema, owner }),
      },
    };
    const layer: Enablement = await createEnablement(options);
    // The NHI registry is in memory: the agents register again on every start.
    for (const pair of [alice, bob]) {
      await layer.platform.nhi.register({ identity: pair.identity, proof: registrationProof(pair) });
    }
    return layer;
  }

  it('keeps the relay queue and the audit log across a restart', async () => {
    const { client, schema } = db();
    const first = await startLayer();
    const aliceClient = await first.messaging.connect(alice);
    const bobClient = await first.messaging.connect(bob);
    await aliceClient.send(bob.identity.nhi, utf8ToBytes('hello while you are here'));
    const firstMessage = await bobClient.messages().next();
    expect(new TextDecoder().decode(firstMessage.value?.payload)).toBe('hello while you are here');
    await bobClient.close();

    const queued = await aliceClient.sendMessage(bob.identity.nhi, utf8ToBytes('while you were out'));
    expect(queued.status).toBe('queued');
    expect(first.messaging.relay.queueDepth(bob.identity.nhi)).toBe(1);
    const before = await first.platform.audit.checkpoint();
    const beforeSize = before.checkpoint.treeSize;
    expect(beforeSize).toBeGreaterThan(0n);
    const { events: sentEvents } = await first.platform.audit.query({
      action: 'messaging.send',
      limit: 10,
    });
    await first.shutdown();

    const { rows } = await client.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${schema}.relay_queue`, []);
    expect(rows[0]?.n).toBe(1n);

    const second = await startLayer();
    const audit = second.platform.audit;
    // The reopened log: at least the old leaves, the old checkpoint verifies with the log's key
    // and is consistent with the new head, and old receipts still verify against their roots.
    expect(BigInt(audit.size)).toBeGreaterThanOrEqual(beforeSize);
    const opened = openCheckpoint(before.note, [audit.checkpointVerifier], { origin: AUDIT_ORIGIN });
    const proof = await audit.consistencyProof(beforeSize);
    expect(
      verifyConsistency(beforeSize, proof.toSize, opened.checkpoint.rootHash, proof.toRoot, proof.path),
    ).toBe(true);
    const again = await audit.query({ action: 'messaging.send', limit: 10 });
    expect(again.events.map((e) => e.eventId)).toEqual(sentEvents.map((e) => e.eventId));
    for (const event of again.events) {
      const receipt = event.merkleProof;
      if (receipt === undefined) throw new Error('no receipt');
      expect(
        verifyInclusion(
          receipt.leafIndex,
          receipt.treeSize,
          receipt.leafHash,
          receipt.inclusionPath,
          receipt.rootHash,
        ),
      ).toBe(true);
    }

    // The relay loaded Bob's queue; Bob connects and gets the message, end to end.
    expect(second.messaging.relay.queueDepth(bob.identity.nhi)).toBe(1);
    const bobAgain = await second.messaging.connect(bob);
    const delivered = await bobAgain.messages().next();
    expect(delivered.value?.messageId).toBe(queued.messageId);
    expect(new TextDecoder().decode(delivered.value?.payload)).toBe('while you were out');
    await second.messaging.relay.whenIdle();
    expect(second.messaging.relay.queueDepth(bob.identity.nhi)).toBe(0);
    const left = await client.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${schema}.relay_queue`, []);
    expect(left.rows[0]?.n).toBe(0n);
    const deliveredEvents = await audit.query({ action: 'messaging.deliver', limit: 100 });
    expect(deliveredEvents.events.some((e) => e.resource.endsWith(queued.messageId))).toBe(true);
    await second.shutdown();
  }, 120_000);

  it('refuses to start when the stored audit leaves were altered', async () => {
    const { client, schema } = db();
    const log = `${AUDIT_ORIGIN}-tamper`;
    const store = () => createPostgresAuditLogStore({ client, schema, log });
    const first = await startLayer(store());
    // Bob connects first (publishing prekeys), so this test does not lean on the previous one's sessions.
    await first.messaging.connect(bob);
    const aliceClient = await first.messaging.connect(alice);
    await aliceClient.sendMessage(bob.identity.nhi, utf8ToBytes('audited'));
    await first.platform.audit.checkpoint();
    await first.shutdown();
    // A database user rewrites history: the first event becomes a failure.
    const altered = await client.query(
      `UPDATE ${schema}.audit_leaves SET leaf = replace(leaf, '"outcome":"success"', '"outcome":"failure"')
          WHERE log = $1 AND leaf_index = 0`,
      [log],
    );
    expect(altered.rowCount).toBe(1);
    await expect(startLayer(store())).rejects.toMatchObject({ code: 'PL-401' });
  }, 120_000);
});
