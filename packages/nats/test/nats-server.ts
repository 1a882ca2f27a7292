// Test support (not published): where the NATS server is, how to start a private one, and a
// bus wrapper that records what a test creates so that it can be removed afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ConsumerConfig,
  DEAD_LETTER_PREFIX,
  DEAD_LETTER_STREAM,
  type EventBus,
  type StreamConfig,
  sleep,
  systemClock,
} from '@creto/core';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsEventBus } from '../src/index.js';

/**
 * The NATS URL the tests use (`CRETO_NATS_URL`), or `undefined` to skip them. In CI (`CI` set)
 * a missing URL is an error: the suites must run there, never skip.
 */
export function natsUrl(): string | undefined {
  const url = process.env.CRETO_NATS_URL;
  if (url !== undefined && url !== '') return url;
  if (process.env.CI) {
    throw new Error('CRETO_NATS_URL is not set; CI must run the @creto/nats tests against nats-server -js');
  }
  return undefined;
}

/** Why the NATS suites were skipped, as a test title. */
export const SKIP_NATS =
  'skipped: set CRETO_NATS_URL (e.g. nats://127.0.0.1:14222, a `nats-server -js`) to run the NATS adapter tests';

/** The nats-server binary for tests that run their own server (`CRETO_NATS_SERVER_BIN` or PATH). */
export const natsServerBin = (): string => process.env.CRETO_NATS_SERVER_BIN || 'nats-server';

/** A unique name for this run (streams and subjects of different runs never collide). */
export const runId = (): string => globalThis.crypto.randomUUID().replaceAll('-', '').slice(0, 12);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on `port`. */
export async function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A nats-server started by a test, with JetStream on a private store directory. */
export interface PrivateNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store directory; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Kills it and removes the store directory. */
  dispose(): Promise<void>;
}

/**
 * Starts `nats-server -js` on a free loopback port with a fresh store directory; `undefined`
 * when the binary is not installed (the caller skips, or fails in CI).
 */
export async function startPrivateNatsServer(): Promise<PrivateNatsServer | undefined> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'creto-nats-'));
  let child: ChildProcess | undefined;
  const launch = async (): Promise<boolean> => {
    const proc = spawn(natsServerBin(), ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      stdio: 'ignore',
    });
    const failed = new Promise<boolean>((resolve) => proc.once('error', () => resolve(false)));
    child = proc;
    for (let i = 0; i < 200; i++) {
      const ready = await Promise.race([portOpen(port).then((open) => (open ? true : undefined)), failed]);
      if (ready !== undefined) return ready;
      await sleep(systemClock, 25);
    }
    throw new Error(`nats-server did not start on port ${port}`);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };
  if (!(await launch())) {
    rmSync(storeDir, { recursive: true, force: true });
    return undefined;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    kill,
    async restart() {
      await kill();
      if (!(await launch())) throw new Error('nats-server could not be started again');
    },
    async dispose() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/**
 * Wraps a bus so that the streams it creates, and the consumers it adds to the dead-letter
 * stream, are removed by `cleanup` (with the dead letters of those streams), then closes it: the
 * tests share one server and must leave nothing behind.
 */
export function trackingBus(bus: NatsEventBus): { bus: EventBus; cleanup(): Promise<void> } {
  const streams = new Set<string>();
  const dlqConsumers = new Set<string>();
  const wrapped: EventBus = {
    addStream: async (config: StreamConfig) => {
      if (typeof config?.name === 'string') streams.add(config.name);
      return bus.addStream(config);
    },
    addConsumer: async (stream: string, config: ConsumerConfig) => {
      if (stream === DEAD_LETTER_STREAM && typeof config?.name === 'string') dlqConsumers.add(config.name);
      return bus.addConsumer(stream, config);
    },
    streamInfo: (name) => bus.streamInfo(name),
    deleteStream: (name) => bus.deleteStream(name),
    consumerInfo: (stream, name) => bus.consumerInfo(stream, name),
    deleteConsumer: (stream, name) => bus.deleteConsumer(stream, name),
    publish: (subject, data, options) => bus.publish(subject, data, options),
    subscribe: (stream, consumer, handler) => bus.subscribe(stream, consumer, handler),
    close: () => bus.close(),
  };
  return {
    bus: wrapped,
    async cleanup() {
      if (bus.connection.isClosed()) return;
      try {
        const jsm = await jetstreamManager(bus.connection);
        for (const name of dlqConsumers)
          await jsm.consumers.delete(DEAD_LETTER_STREAM, name).catch(() => false);
        for (const name of streams) {
          if (name === DEAD_LETTER_STREAM) continue;
          await jsm.streams.delete(name).catch(() => false);
          await jsm.streams
            .purge(DEAD_LETTER_STREAM, { filter: `${DEAD_LETTER_PREFIX}.${name}.>` })
            .catch(() => undefined);
        }
      } finally {
        await bus.close();
      }
    },
  };
}
