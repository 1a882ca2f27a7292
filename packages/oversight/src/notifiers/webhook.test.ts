import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createJsonLogger, type Notification } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createWebhookNotifier,
  decodeNotificationPayload,
  type NotificationDeliveredEvent,
  type NotificationFailedEvent,
  parseRetryAfter,
  verifyWebhookSignature,
  type WebhookNotifierOptions,
} from './index.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_KEY_TEXT = 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET_PATH = 'T000/B000/s3cr3t-path-token';
const MS = 1_000_000n;

const notification = (id = 'n-1'): Notification => ({
  id,
  kind: 'approval_required',
  recipient: 'ops-team',
  subject: 'Approval Required: delete_database',
  body: 'Drop the production database?',
  data: { request_id: id },
});

interface Received {
  readonly method: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array;
  readonly at: bigint;
}

type Answer = { status: number; headers?: Record<string, string> } | 'hang';

interface TestServer {
  readonly url: string;
  readonly origin: string;
  readonly received: Received[];
  close(): Promise<void>;
}

/** Waits (in real time) for what the real server and sockets do; generous for a loaded machine. */
const eventually = (assertion: () => void) => vi.waitFor(assertion, { timeout: 10_000, interval: 5 });

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real HTTP server on 127.0.0.1 (random port) answering from `answers` (then 200). */
async function startServer(clock: FakeClock, answers: Answer[] = []): Promise<TestServer> {
  const received: Received[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method,
        headers: req.headers,
        body: new Uint8Array(Buffer.concat(chunks)),
        at: clock.now(),
      });
      const answer = answers.shift() ?? { status: 200 };
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      res.writeHead(answer.status, answer.headers).end('ignored body');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const handle: TestServer = {
    url: `${origin}/hooks/${SECRET_PATH}`,
    origin,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

async function setup(answers: Answer[] = [], overrides: Partial<WebhookNotifierOptions> = {}) {
  const clock = new FakeClock();
  const start = clock.now();
  const server = await startServer(clock, answers);
  const delivered: NotificationDeliveredEvent[] = [];
  const failed: NotificationFailedEvent[] = [];
  const logLines: string[] = [];
  const notifier = createWebhookNotifier({
    url: server.url,
    secret: SECRET,
    allowHttp: true,
    clock,
    random: () => 0.5,
    retry: { initialDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 5 },
    logger: createJsonLogger({ clock, level: 'debug', sink: (line) => logLines.push(line) }),
    onDelivered: (event) => delivered.push(event),
    onFailed: (event) => failed.push(event),
    ...overrides,
  });
  const offsetsMs = () => server.received.map((r) => Number((r.at - start) / MS));
  return { clock, start, server, notifier, delivered, failed, logLines, offsetsMs };
}

describe('createWebhookNotifier against a real HTTP server', () => {
  it('POSTs the signed payload; the receiver verifies it and decodes the notification', async () => {
    const { clock, server, notifier } = await setup();
    const receipt = await notifier.notify(notification());
    expect(receipt).toEqual({ notificationId: 'n-1', status: 'delivered', channel: 'webhook' });
    expect(server.received).toHaveLength(1);
    const request = server.received[0] as Received;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['webhook-id']).toBe('n-1');
    expect(request.headers['webhook-timestamp']).toBe(String(clock.now() / 1_000_000_000n));

    const verified = verifyWebhookSignature({
      secret: SECRET,
      headers: request.headers,
      body: request.body,
      clock,
    });
    expect(verified.id).toBe('n-1');
    expect(decodeNotificationPayload(request.body)).toEqual(notification());
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 0, failed: 0 });
  });

  it('the receiver rejects a tampered body and, later, the stale timestamp', async () => {
    const { clock, server, notifier } = await setup();
    await notifier.notify(notification());
    const request = server.received[0] as Received;
    const tampered = request.body.slice();
    tampered[tampered.length - 2] = 0x20;
    expectEnablementError(
      () => verifyWebhookSignature({ secret: SECRET, headers: request.headers, body: tampered, clock }),
      'PL-401',
      'matches',
    );
    clock.advance(301_000);
    expectEnablementError(
      () => verifyWebhookSignature({ secret: SECRET, headers: request.headers, body: request.body, clock }),
      'PL-401',
      'tolerance',
    );
  });

  it('500 then 200: queued with OV-202, retried with backoff on the clock, same id, fresh signature', async () => {
    const { clock, start, server, notifier, delivered, offsetsMs } = await setup([
      { status: 500 },
      { status: 502 },
    ]);
    const receipt = await notifier.notify(notification());
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.code).toBe('OV-202');
    expect(receipt.error?.causedBy?.code).toBe('PL-503');
    expect(receipt.error?.causedBy?.message).toBe(`webhook endpoint ${server.origin} answered HTTP 500`);
    expect(notifier.stats.queued).toBe(1);

    await clock.advanceAsync(1999);
    expect(server.received).toHaveLength(1);
    await clock.advanceAsync(1);
    await eventually(() => expect(server.received).toHaveLength(2));
    // The 502 was handled once the next backoff wait is the earliest timer (the request's own
    // timeout timer, 10 s out, is pending too).
    await eventually(() => expect(clock.nextDeadline).toBe(start + 5500n * MS));
    // Decorrelated jitter with random 0.5: waits of 2000 ms, then 3500 ms.
    await clock.advanceAsync(3500);
    await eventually(() => expect(delivered).toHaveLength(1));
    expect(offsetsMs()).toEqual([0, 2000, 5500]);

    const last = server.received[2] as Received;
    expect(last.headers['webhook-id']).toBe('n-1');
    expect(last.headers['webhook-timestamp']).toBe(String((start + 5500n * MS) / 1_000_000_000n));
    expect(verifyWebhookSignature({ secret: SECRET, headers: last.headers, body: last.body, clock }).id).toBe(
      'n-1',
    );
    expect(delivered[0]?.attempts).toBe(3);
    expect(notifier.stats).toEqual({ delivered: 1, deferred: 0, queued: 0, failed: 0 });
  });

  it('400: refused with OV-400 at once, never retried', async () => {
    const { clock, server, notifier } = await setup([{ status: 400 }]);
    const error = await expectEnablementRejection(notifier.notify(notification()), 'OV-400', 'HTTP 400');
    expect(error.retryable).toBe(false);
    await clock.advanceAsync(600_000);
    expect(server.received).toHaveLength(1);
    expect(notifier.stats).toEqual({ delivered: 0, deferred: 0, queued: 0, failed: 1 });
  });

  it('a redirect is not followed and not retried', async () => {
    const { server, notifier } = await setup([
      { status: 302, headers: { location: 'https://elsewhere.example/' } },
    ]);
    await expectEnablementRejection(notifier.notify(notification()), 'OV-400', 'HTTP 302');
    expect(server.received).toHaveLength(1);
  });

  it('honours Retry-After (429, delta-seconds): the next attempt waits at least that long', async () => {
    const { clock, server, notifier, delivered, offsetsMs } = await setup([
      { status: 429, headers: { 'retry-after': '7' } },
    ]);
    expect((await notifier.notify(notification())).status).toBe('queued');
    await clock.advanceAsync(6999);
    expect(server.received).toHaveLength(1);
    await clock.advanceAsync(1);
    await eventually(() => expect(delivered).toHaveLength(1));
    expect(offsetsMs()).toEqual([0, 7000]);
  });

  it('refuses to queue when Retry-After exceeds maxRetryAfterMs (retryable, with the hint)', async () => {
    const { notifier } = await setup([{ status: 503, headers: { 'retry-after': '7200' } }]);
    const error = await expectEnablementRejection(
      notifier.notify(notification()),
      'PL-503',
      'asks to retry after',
    );
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(7_200_000);
  });

  it('a 4xx on a retry ends the notification as rejected', async () => {
    const { clock, notifier, failed } = await setup([{ status: 503 }, { status: 410 }]);
    await notifier.notify(notification());
    await clock.advanceAsync(2000);
    await eventually(() => expect(failed).toHaveLength(1));
    expect(failed[0]).toMatchObject({ reason: 'rejected', attempts: 2 });
    expect(failed[0]?.error.code).toBe('OV-400');
  });

  it('bounds the retry queue: at the bound notify rejects with a clear retryable error', async () => {
    const { notifier } = await setup([{ status: 500 }, { status: 500 }], { maxQueued: 1 });
    expect((await notifier.notify(notification('n-1'))).status).toBe('queued');
    const error = await expectEnablementRejection(
      notifier.notify(notification('n-2')),
      'PL-503',
      'webhook notifier retry queue is full (1 notifications); notification n-2 was not queued',
    );
    expect(error.retryable).toBe(true);
    expect(notifier.stats).toMatchObject({ queued: 1, failed: 1 });
  });

  it('times out on the clock through the AbortSignal, then queues', async () => {
    const { clock, server, notifier } = await setup(['hang'], { timeoutMs: 5000 });
    const pending = notifier.notify(notification());
    await eventually(() => expect(server.received).toHaveLength(1));
    await clock.advanceAsync(5000);
    const receipt = await pending;
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.causedBy?.message).toContain('timed out after 5000 ms');
  });

  it('a refused connection is transient', async () => {
    const { server, notifier } = await setup();
    await server.close();
    const receipt = await notifier.notify(notification());
    expect(receipt.status).toBe('queued');
    expect(receipt.error?.causedBy?.message).toMatch(/failed: (ECONNREFUSED|TypeError)/);
  });

  it('never puts the secret or the URL path in errors or logs', async () => {
    const { clock, notifier, failed, logLines } = await setup(
      [
        { status: 500 },
        { status: 500 },
        { status: 400 },
        { status: 503, headers: { 'retry-after': '99999' } },
      ],
      { maxQueued: 1 },
    );
    const texts: string[] = [];
    const receipt = await notifier.notify(notification('n-1'));
    texts.push(JSON.stringify(receipt.error?.toJSON()));
    for (const id of ['n-2', 'n-3', 'n-4']) {
      try {
        await notifier.notify(notification(id));
      } catch (error) {
        texts.push(JSON.stringify((error as { toJSON(): unknown }).toJSON()), String(error));
      }
    }
    await notifier.close();
    for (const event of failed) texts.push(JSON.stringify(event.error.toJSON()));
    const construction = (() => {
      try {
        createWebhookNotifier({ url: `http://x/${SECRET_PATH}`, secret: `whsec_${SECRET_KEY_TEXT}!`, clock });
      } catch (error) {
        return `${(error as { code?: string }).code} ${String(error)}`;
      }
      return '';
    })();
    texts.push(construction, ...logLines);
    expect(texts.length).toBeGreaterThan(5);
    expect(construction).toContain('PL-400');
    for (const text of texts) {
      expect(text).not.toContain(SECRET_KEY_TEXT);
      expect(text).not.toContain('s3cr3t-path-token');
    }
  });

  it('resolves the URL per recipient; no URL or a bad one is refused with OV-400', async () => {
    const clock = new FakeClock();
    const server = await startServer(clock);
    const notifier = createWebhookNotifier({
      resolveUrl: (recipient) =>
        recipient === 'ops-team' ? server.url : recipient === 'bad' ? 'ftp://example.com/' : undefined,
      secret: SECRET,
      allowHttp: true,
      clock,
    });
    expect((await notifier.notify(notification())).status).toBe('delivered');
    await expectEnablementRejection(
      notifier.notify({ ...notification('n-2'), recipient: 'nobody' }),
      'OV-400',
      'no webhook URL for recipient nobody',
    );
    await expectEnablementRejection(
      notifier.notify({ ...notification('n-3'), recipient: 'bad' }),
      'OV-400',
      'invalid URL',
    );
    expect(server.received).toHaveLength(1);
  });

  it('validates its options with PL-400', () => {
    const clock = new FakeClock();
    const base = { secret: SECRET, clock };
    expectEnablementError(
      () => createWebhookNotifier({ ...base }),
      'PL-400',
      'exactly one of url and resolveUrl',
    );
    expectEnablementError(
      () => createWebhookNotifier({ ...base, url: 'https://a.example/', resolveUrl: () => undefined }),
      'PL-400',
      'exactly one',
    );
    expectEnablementError(
      () => createWebhookNotifier({ ...base, url: 'http://a.example/' }),
      'PL-400',
      'https',
    );
    expectEnablementError(
      () => createWebhookNotifier({ ...base, url: 'https://u:p@a.example/' }),
      'PL-400',
      'credentials',
    );
    expectEnablementError(
      () => createWebhookNotifier({ ...base, url: 'https://a.example/', timeoutMs: 0 }),
      'PL-400',
      'timeoutMs',
    );
    expectEnablementError(
      () => createWebhookNotifier({ url: 'https://a.example/', secret: 'plain', clock }),
      'PL-400',
      'secret',
    );
  });
});

describe('parseRetryAfter', () => {
  const now = BigInt(Date.UTC(2026, 0, 1)) * MS;
  it('reads delta-seconds and HTTP-dates against the clock', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('9'.repeat(100), now)).toBeUndefined();
    expect(parseRetryAfter('2026-01-01', now)).toBeUndefined();
  });
});
