// Metering crash test (spec §4.1 "at least once, exactly once counted"): a Metering engine in a
// child process consumes signed usage events from NATS into a PostgreSQL or PGlite store and is
// SIGKILLed in the middle of ingestion, with events stored but not yet acknowledged. A new process
// on the same store and durable consumer must count every published event exactly once: the
// redelivered ones are recognised as duplicates by the store's deduplication record.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AgentKeyPair,
  bytesToHex,
  createBufferingPublisher,
  Decimal,
  type EventBus,
  encodeHybridSignature,
  encodeJson,
  encodeRuntimeUsageEvent,
  newSandboxId,
  newUuid,
  type RuntimeUsageEvent,
  SUBJECTS,
  sleep,
  systemClock,
  type UnsignedRuntimeUsageEvent,
  usageEventSigningBytes,
} from '@creto/core';
import { createNatsEventBus } from '@creto/nats';
import { createPgClient } from '@creto/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDataDir } from '../../../packages/postgres/test/harness.js';
import { runId, serverUrl, skipTitle } from './servers.js';

const natsUrl = serverUrl('CRETO_NATS_URL');
const postgresUrl = serverUrl('CRETO_POSTGRES_URL');

const FIXTURE = fileURLToPath(new URL('./fixtures/metering-consumer.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../../packages/postgres/dist/index.js', import.meta.url));
const N = 200;
const PAUSE_AFTER = 60; // the first process hangs (and is killed) after its 60th stored event

// One agent per file: post-quantum keys are slow to derive. The child derives the same keys.
const SEED = new Uint8Array(32).fill(42);
const agent = AgentKeyPair.fromSeed(SEED, { postQuantum: true });

/** Messages the fixture printed on stdout, and a way to wait for one. */
interface Child {
  readonly process: ChildProcess;
  readonly messages: Record<string, unknown>[];
  waitFor(
    predicate: (message: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function startConsumer(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(env)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: Record<string, unknown>[] = [];
  const waiting = new Set<() => void>();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of waiting) wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const wake of waiting) wake();
      resolve({ code, signal });
    }),
  );
  return {
    process: child,
    messages,
    exited,
    stderr: () => stderr,
    waitFor(predicate, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found !== undefined) {
            waiting.delete(check);
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiting.delete(check);
            reject(new Error(`metering consumer exited before ${what}; stderr:\n${stderr}`));
          }
        };
        waiting.add(check);
        check();
      });
    },
  };
}

function signedEvent(index: number): RuntimeUsageEvent {
  const unsigned: UnsignedRuntimeUsageEvent = {
    eventId: newUuid(),
    agentNhi: agent.identity.nhi,
    delegationChain: [],
    eventType: 'inference_call',
    consensusTimestamp: systemClock.now(),
    idempotencyKey: `crash-${index}`,
    properties: {
      type: 'InferenceCall',
      sandboxId: newSandboxId(),
      modelId: 'claude-3',
      provider: 'anthropic',
      inputTokens: BigInt(index + 1),
      outputTokens: 1n,
      costUsd: Decimal.parse('0.0001'),
    },
  };
  const signature = encodeHybridSignature(agent.signHybrid(usageEventSigningBytes(unsigned)));
  return { ...unsigned, signature } as RuntimeUsageEvent;
}

/**
 * Waits (real time: a real broker) until the restarted process has stored the events the first
 * one did not, has seen at least one redelivered duplicate (the event the first process stored
 * and never acked must come back), and the durable consumer has nothing pending or unacknowledged. The consumer's
 * counters alone are not enough: right after a restart, deliveries whose ack wait expired with
 * the killed process were seen to count neither as pending nor as unacknowledged. Gives up after
 * 60 s without failing, so that the assertions below show what was counted.
 */
async function drained(
  bus: EventBus,
  stream: string,
  consumer: string,
  settled: () => Promise<boolean>,
): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const { state } = await bus.consumerInfo(stream, consumer);
    if (state.numPending === 0 && state.ackPending === 0 && (await settled())) return;
    await sleep(systemClock, 100);
  }
}

type StoreSetup = () => Promise<{ env: Record<string, string>; cleanup(): Promise<void> }>;

function crashSuite(storeName: string, setupStore: StoreSetup): void {
  it(`counts ${N} events exactly once across a SIGKILL of the consumer (${storeName})`, async () => {
    if (natsUrl === undefined) throw new Error('unreachable: suite skipped without NATS');
    const id = runId();
    const stream = `CRASH_${id}`;
    const consumer = `metering_${id}`;
    const store = await setupStore();
    const bus = await createNatsEventBus({ servers: natsUrl });
    const children: Child[] = [];
    try {
      // The same stream configuration the engine creates, so that both sides agree on it.
      await bus.addStream({ name: stream, subjects: [SUBJECTS.meteringEventsRuntime] });
      const common = {
        ...store.env,
        CRASH_NATS_URL: natsUrl,
        CRASH_STREAM: stream,
        CRASH_CONSUMER: consumer,
        CRASH_AGENT_SEED: bytesToHex(SEED),
      };

      const first = startConsumer({ ...common, CRASH_SETUP: '1', CRASH_PAUSE_AFTER: String(PAUSE_AFTER) });
      children.push(first);
      const ready = await first.waitFor((m) => m.ready === true, 'ready');
      const subscriptionId = String(ready.subscriptionId);

      // Mid-ingestion: once 60 or more events are committed (the last ones' deliveries never
      // acknowledged), the first process is killed at once, while events are still being published,
      // before any ack wait expires and hands its deliveries back to it.
      const killed = first
        .waitFor((m) => m.paused !== undefined, 'pausing')
        .then(() => first.process.kill('SIGKILL'));
      const publisher = createBufferingPublisher({ bus });
      for (let index = 0; index < N; index++) {
        const event = signedEvent(index);
        await publisher.publish(SUBJECTS.meteringEventsRuntime, encodeJson(encodeRuntimeUsageEvent(event)), {
          msgId: event.idempotencyKey,
        });
      }
      await publisher.close();
      await killed;
      expect((await first.exited).signal).toBe('SIGKILL');
      const storedBeforeCrash = first.messages.filter(
        (m) => m.commit === true && m.status === 'stored',
      ).length;
      // Deliveries are handled concurrently: commits already running when it paused complete too.
      expect(storedBeforeCrash).toBeGreaterThanOrEqual(PAUSE_AFTER);
      expect(storedBeforeCrash).toBeLessThan(N);

      const second = startConsumer({ ...common, CRASH_SUBSCRIPTION_ID: subscriptionId });
      children.push(second);
      await second.waitFor((m) => m.ready === true, 'ready after restart');
      const duplicatesSeen = () =>
        second.messages.filter((m) => m.duplicate === true || (m.commit === true && m.status === 'duplicate'))
          .length;
      type Report = Record<string, { value: string; events: string }>;
      /** Asks the restarted process for its store's totals and waits for the answer. */
      const askReport = async (): Promise<Report> => {
        const reports = () => second.messages.filter((m) => m.report !== undefined);
        const before = reports().length;
        second.process.stdin?.write('report\n');
        while (reports().length === before) {
          if (second.process.exitCode !== null) throw new Error(`consumer exited: ${second.stderr()}`);
          await sleep(systemClock, 20);
        }
        return (reports().at(-1) as { report: Report }).report;
      };
      // Settled when the store (not the processes' stdout: a SIGKILL can land between a commit
      // and its report line) holds every event and a redelivered duplicate was recognised.
      await drained(
        bus,
        stream,
        consumer,
        async () => duplicatesSeen() >= 1 && (await askReport()).inference_calls?.events === String(N),
      );

      const report = await askReport();
      expect(report.inference_calls).toEqual({ value: String(N), events: String(N) });
      expect(report.inference_input_tokens).toEqual({ value: String((N * (N + 1)) / 2), events: String(N) });

      const commits = second.messages.filter((m) => m.commit === true);
      const storedAfter = commits.filter((m) => m.status === 'stored').length;
      const duplicates =
        commits.filter((m) => m.status === 'duplicate').length +
        second.messages.filter((m) => m.duplicate === true).length;
      // Never more commits than events (none stored twice). It may be fewer than N as seen on
      // stdout: the killed process can commit an event and die before printing that it did;
      // the store's totals above are the exact count.
      expect(storedBeforeCrash + storedAfter).toBeLessThanOrEqual(N);
      // At least the event the first process stored and never acked came back and was not re-counted.
      expect(duplicates).toBeGreaterThanOrEqual(1);

      second.process.stdin?.write('exit\n');
      expect(await second.exited).toEqual({ code: 0, signal: null });
    } finally {
      for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
      await Promise.all(children.map((child) => child.exited));
      await bus.deleteStream(stream).catch(() => undefined);
      await bus.close();
      await store.cleanup();
    }
  }, 180_000);
}

if (natsUrl === undefined) {
  describe('Metering crash and restart on NATS', () => {
    it.skip(skipTitle(['CRETO_NATS_URL']), () => {});
  });
} else {
  describe('Metering crash and restart on NATS', () => {
    beforeAll(async () => {
      const { existsSync } = await import('node:fs');
      if (!existsSync(BUILT))
        throw new Error('build the packages first (npm run build): the fixture imports dist');
    });

    if (postgresUrl === undefined) {
      it.skip(skipTitle(['CRETO_POSTGRES_URL']), () => {});
    } else {
      const url = postgresUrl;
      crashSuite('PostgreSQL', async () => {
        const schema = `creto_crash_${runId()}`;
        return {
          env: { CRASH_STORE: 'pg', CRASH_PG_URL: url, CRASH_SCHEMA: schema },
          async cleanup() {
            const client = createPgClient({ connectionString: url });
            await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`, []);
            await client.close();
          },
        };
      });
    }

    crashSuite('PGlite with a data directory', async () => {
      const { dataDir, remove } = await scratchDataDir();
      return {
        env: { CRASH_STORE: 'pglite', CRASH_PGLITE_DIR: dataDir, CRASH_SCHEMA: 'creto' },
        async cleanup() {
          remove();
        },
      };
    });

    afterAll(() => undefined);
  });
}
