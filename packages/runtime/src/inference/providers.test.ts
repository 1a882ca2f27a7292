import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { createJsonLogger, EnablementError } from '@creto/core';
import { expectEnablementError, expectEnablementRejection, FakeClock } from '@creto/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicCompatibleProvider } from './anthropic.js';
import { createOpenAiCompatibleProvider } from './openai.js';
import { createPriceTable } from './price-table.js';
import { createInferenceRouter } from './router.js';
import type { InferenceProvider, InferenceRequest } from './types.js';

const KEY = 'sk-test-3f9a1c0de5b7-SECRET';

interface Captured {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}
type Handler = (request: Captured, response: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
let captured: Captured[];

const json = (
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      captured.push(entry);
      handler(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  captured = [];
  handler = (_req, res) => json(res, 500, { error: { message: 'no handler' } });
});

const signal = () => new AbortController().signal;

const conversation: InferenceRequest = {
  model: 'test-model-1',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'system', content: 'Answer in English.' },
    { role: 'user', content: 'Hello?' },
    { role: 'assistant', content: 'Hi.' },
    { role: 'user', content: 'Capital of France?' },
  ],
  maxTokens: 64,
  temperature: 0.2,
  stop: ['\n\n'],
};

const openAiOk = (res: ServerResponse) =>
  json(res, 200, {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    model: 'test-model-1-2025-01-01',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 31, completion_tokens: 2, total_tokens: 33 },
  });

const anthropicOk = (res: ServerResponse) =>
  json(res, 200, {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'test-model-1',
    content: [
      { type: 'text', text: 'Par' },
      { type: 'thinking', thinking: 'hmm' },
      { type: 'text', text: 'is.' },
    ],
    stop_reason: 'max_tokens',
    stop_sequence: null,
    usage: { input_tokens: 20, output_tokens: 64, cache_read_input_tokens: 5 },
  });

const openai = (extra: Partial<Parameters<typeof createOpenAiCompatibleProvider>[0]> = {}) =>
  createOpenAiCompatibleProvider({ baseUrl: `${baseUrl}/v1/`, apiKey: KEY, models: ['test-*'], ...extra });
const anthropic = (extra: Partial<Parameters<typeof createAnthropicCompatibleProvider>[0]> = {}) =>
  createAnthropicCompatibleProvider({ baseUrl, apiKey: KEY, models: ['test-*'], ...extra });

describe('createOpenAiCompatibleProvider', () => {
  it('POSTs the Chat Completions shape with a bearer key and maps the answer and usage', async () => {
    handler = (_req, res) => openAiOk(res);
    const result = await openai().complete(conversation, { signal: signal() });
    expect(result).toEqual({
      provider: 'openai',
      model: 'test-model-1',
      content: 'Paris.',
      inputTokens: 31n,
      outputTokens: 2n,
      finishReason: 'stop',
    });
    const [call] = captured;
    expect(call?.method).toBe('POST');
    expect(call?.url).toBe('/v1/chat/completions');
    expect(call?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(call?.headers['content-type']).toBe('application/json');
    expect(call?.body).toEqual({
      model: 'test-model-1',
      messages: conversation.messages,
      max_tokens: 64,
      temperature: 0.2,
      stop: ['\n\n'],
    });
  });

  it('omits optional fields the request does not set', async () => {
    handler = (_req, res) => openAiOk(res);
    await openai().complete(
      { model: 'test-x', messages: [{ role: 'user', content: 'q' }] },
      { signal: signal() },
    );
    expect(captured[0]?.body).toEqual({ model: 'test-x', messages: [{ role: 'user', content: 'q' }] });
  });

  it('maps finish reasons and a null content (refusal / tool call) to other', async () => {
    for (const [finish, content, expected] of [
      ['length', 'x', 'length'],
      ['content_filter', 'x', 'other'],
      ['stop', null, 'other'],
    ] as const) {
      handler = (_req, res) =>
        json(res, 200, {
          choices: [{ message: { content }, finish_reason: finish }],
          usage: { prompt_tokens: 1, completion_tokens: 1 },
        });
      const result = await openai().complete(conversation, { signal: signal() });
      expect(result.finishReason).toBe(expected);
      expect(result.content).toBe(content ?? '');
    }
  });

  it('refuses an answer without usage (RT-500): unmetered calls are not returned', async () => {
    handler = (_req, res) =>
      json(res, 200, { choices: [{ message: { content: 'x' }, finish_reason: 'stop' }] });
    await expectEnablementRejection(openai().complete(conversation, { signal: signal() }), 'RT-500', 'usage');
  });
});

describe('createAnthropicCompatibleProvider', () => {
  it('POSTs the Messages shape (x-api-key, version, system apart, max_tokens) and maps the answer', async () => {
    handler = (_req, res) => anthropicOk(res);
    const result = await anthropic().complete(conversation, { signal: signal() });
    expect(result).toEqual({
      provider: 'anthropic',
      model: 'test-model-1',
      content: 'Paris.',
      inputTokens: 25n,
      outputTokens: 64n,
      finishReason: 'length',
    });
    const [call] = captured;
    expect(call?.url).toBe('/v1/messages');
    expect(call?.headers['x-api-key']).toBe(KEY);
    expect(call?.headers['anthropic-version']).toBe('2023-06-01');
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.body).toEqual({
      model: 'test-model-1',
      max_tokens: 64,
      system: 'You are terse.\n\nAnswer in English.',
      messages: [
        { role: 'user', content: 'Hello?' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'user', content: 'Capital of France?' },
      ],
      temperature: 0.2,
      stop_sequences: ['\n\n'],
    });
  });

  it('sends the default max_tokens and version overrides, and no system field without system messages', async () => {
    handler = (_req, res) => anthropicOk(res);
    const p = anthropic({ defaultMaxTokens: 99, anthropicVersion: '2099-01-01', name: 'claude-gw' });
    const result = await p.complete(
      { model: 'test-y', messages: [{ role: 'user', content: 'q' }] },
      { signal: signal() },
    );
    expect(result.provider).toBe('claude-gw');
    expect(captured[0]?.headers['anthropic-version']).toBe('2099-01-01');
    expect(captured[0]?.body).toEqual({
      model: 'test-y',
      max_tokens: 99,
      messages: [{ role: 'user', content: 'q' }],
    });
  });

  it('maps stop reasons: end_turn and stop_sequence → stop, tool_use → other', async () => {
    for (const [reason, expected] of [
      ['end_turn', 'stop'],
      ['stop_sequence', 'stop'],
      ['tool_use', 'other'],
    ] as const) {
      handler = (_req, res) =>
        json(res, 200, { content: [], stop_reason: reason, usage: { input_tokens: 1, output_tokens: 0 } });
      expect((await anthropic().complete(conversation, { signal: signal() })).finishReason).toBe(expected);
    }
  });

  it('refuses a conversation of system messages only, locally (RT-400)', async () => {
    await expectEnablementRejection(
      anthropic().complete(
        { model: 'test-1', messages: [{ role: 'system', content: 's' }] },
        { signal: signal() },
      ),
      'RT-400',
      'user or assistant',
    );
    expect(captured).toHaveLength(0);
  });
});

describe.each([
  ['openai', () => openai()],
  ['anthropic', () => anthropic()],
] as const)('%s-compatible provider failures', (_name, make) => {
  const call = (p: InferenceProvider = make(), s: AbortSignal = signal()) =>
    p.complete(conversation, { signal: s });

  it('maps 429 to a retryable RT-503 with retryAfterMs from Retry-After (seconds)', async () => {
    handler = (_req, res) => json(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '7' });
    const error = await expectEnablementRejection(call(), 'RT-503', 'rate limiting: slow down');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(7000);
  });

  it('reads an HTTP-date Retry-After against the clock, and retry-after-ms', async () => {
    const clock = new FakeClock();
    const at = new Date(Number(clock.now() / 1_000_000n) + 30_000).toUTCString();
    handler = (_req, res) => json(res, 503, {}, { 'retry-after': at });
    const p = _name === 'openai' ? openai({ clock }) : anthropic({ clock });
    expect((await expectEnablementRejection(call(p), 'RT-503')).retryAfterMs).toBe(30_000);
    handler = (_req, res) => json(res, 503, {}, { 'retry-after-ms': '1500' });
    expect((await expectEnablementRejection(call(p), 'RT-503')).retryAfterMs).toBe(1500);
  });

  it('maps 500/529 to a retryable RT-503 without a hint', async () => {
    for (const status of [500, 529]) {
      handler = (_req, res) =>
        json(res, status, { type: 'error', error: { type: 'overloaded_error', message: 'busy' } });
      const error = await expectEnablementRejection(call(), 'RT-503', `HTTP ${status}`);
      expect(error.retryable).toBe(true);
      expect(error.retryAfterMs).toBeUndefined();
    }
  });

  it('ignores an unreadable Retry-After, and a huge error body is discarded rather than buffered', async () => {
    handler = (_req, res) =>
      json(res, 503, { error: { message: 'x'.repeat(1024 * 1024) } }, { 'retry-after': 'soon' });
    const error = await expectEnablementRejection(call(), 'RT-503', /HTTP 503: the provider is unavailable$/);
    expect(error.retryAfterMs).toBeUndefined();
  });

  it('maps 401/403 to a non-retryable RT-500 that does not quote the upstream (which may echo the key)', async () => {
    for (const status of [401, 403]) {
      handler = (_req, res) =>
        json(res, status, { error: { message: `Incorrect API key provided: ${KEY}` } });
      const error = await expectEnablementRejection(call(), 'RT-500', 'credentials');
      expect(error.retryable).toBe(false);
      expect(JSON.stringify(error)).not.toContain(KEY);
      expect(error.message).not.toContain('Incorrect');
    }
  });

  it('maps other 4xx to RT-400, quoting the upstream message with the key scrubbed and cut short', async () => {
    handler = (_req, res) =>
      json(res, 400, { error: { message: `context too long for ${KEY}\u0000 ${'x'.repeat(1000)}` } });
    const error = await expectEnablementRejection(call(), 'RT-400', 'context too long for [REDACTED]');
    expect(error.message).not.toContain(KEY);
    expect(error.message.length).toBeLessThan(450);
    expect(error.message).not.toContain('\u0000');
  });

  it('refuses a redirect instead of following it with the key (RT-500)', async () => {
    handler = (_req, res) => {
      res.writeHead(307, { location: 'http://attacker.invalid/steal' });
      res.end();
    };
    await expectEnablementRejection(call(), 'RT-500', 'redirect');
    expect(captured).toHaveLength(1);
  });

  it('maps malformed JSON, non-UTF-8 and a wrong shape to non-retryable RT-500 with a clear message', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"choices": [ ${KEY}`);
    };
    const malformed = await expectEnablementRejection(call(), 'RT-500', 'not valid UTF-8 JSON');
    expect(malformed.retryable).toBe(false);
    expect(malformed.cause).toBeUndefined();
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    };
    await expectEnablementRejection(call(), 'RT-500', 'not valid UTF-8 JSON');
    handler = (_req, res) => json(res, 200, { choices: 'nope', content: 7, usage: { prompt_tokens: -1 } });
    await expectEnablementRejection(call(), 'RT-500', /invalid .*(chat completion|message)/);
    handler = (_req, res) => json(res, 200, ['not', 'an', 'object']);
    await expectEnablementRejection(call(), 'RT-500');
  });

  it('refuses a body over maxResponseBytes, declared or streamed without end, without buffering it', async () => {
    const small =
      _name === 'openai' ? openai({ maxResponseBytes: 4096 }) : anthropic({ maxResponseBytes: 4096 });
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      res.write('{"choices":[');
    };
    await expectEnablementRejection(call(small), 'RT-500', 'exceeds 4096 bytes');
    // An endless stream: the test would hang if the provider kept reading.
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = () => {
        if (res.destroyed) return;
        res.write('x'.repeat(1024), () => setImmediate(pump));
      };
      pump();
    };
    await expectEnablementRejection(call(small), 'RT-500', 'exceeds 4096 bytes');
  });

  it('maps a refused connection to a retryable RT-503 without the URL or key', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const p =
      _name === 'openai'
        ? createOpenAiCompatibleProvider({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY, models: ['*'] })
        : createAnthropicCompatibleProvider({
            baseUrl: `http://127.0.0.1:${port}`,
            apiKey: KEY,
            models: ['*'],
          });
    const error = await expectEnablementRejection(call(p), 'RT-503', 'ECONNREFUSED');
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain(String(port));
  });

  it('aborts the HTTP request when the signal aborts, rejecting with its reason', async () => {
    let closed = false;
    handler = (_req, res) => {
      res.on('close', () => {
        closed = true;
      });
    };
    const controller = new AbortController();
    const pending = call(make(), controller.signal);
    while (captured.length === 0) await new Promise((r) => setImmediate(r));
    const reason = new EnablementError('RT-408', 'deadline');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    while (!closed) await new Promise((r) => setImmediate(r));
  });

  it('never reveals the key through JSON.stringify, String, util.inspect or option errors', () => {
    const p = make();
    for (const shown of [JSON.stringify(p), String(p), inspect(p, { depth: 10, showHidden: true })]) {
      expect(shown).not.toContain(KEY);
    }
    expect(JSON.parse(JSON.stringify(p))).toMatchObject({ name: _name, models: ['test-*'] });
    const badKey = `${KEY} with space`;
    const error =
      _name === 'openai'
        ? expectEnablementError(
            () => createOpenAiCompatibleProvider({ baseUrl, apiKey: badKey, models: ['m'] }),
            'PL-400',
            'apiKey',
          )
        : expectEnablementError(
            () => createAnthropicCompatibleProvider({ baseUrl, apiKey: badKey, models: ['m'] }),
            'PL-400',
            'apiKey',
          );
    expect(JSON.stringify(error) + error.message).not.toContain(KEY);
  });
});

describe('HTTP provider options', () => {
  it.each([
    [{ baseUrl: 'ftp://host' }, 'baseUrl'],
    [{ baseUrl: 'https://user:pw@host' }, 'baseUrl'],
    [{ apiKey: '' }, 'apiKey'],
    [{ apiKey: 'a\nb' }, 'apiKey'],
    [{ models: [] }, 'models'],
    [{ models: ['a b'] }, 'models[0]'],
    [{ fetch: 'no' }, 'fetch'],
    [{ maxResponseBytes: 10 }, 'maxResponseBytes'],
    [{ unknown: 1 }, 'unknown'],
  ])('refuses %o with PL-400', (bad, field) => {
    const options = { baseUrl: 'https://api.example.com', apiKey: KEY, models: ['m'], ...bad } as never;
    expectEnablementError(() => createOpenAiCompatibleProvider(options), 'PL-400', field);
    expectEnablementError(() => createAnthropicCompatibleProvider(options), 'PL-400', field);
  });

  it('uses an injected fetch', async () => {
    const urls: string[] = [];
    const p = createOpenAiCompatibleProvider({
      baseUrl: 'https://gateway.example.com/openai',
      apiKey: KEY,
      models: ['m'],
      fetch: async (url) => {
        urls.push(url);
        return new Response(
          JSON.stringify({
            choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 1 },
          }),
          { status: 200 },
        );
      },
    });
    await p.complete({ model: 'm', messages: [{ role: 'user', content: 'q' }] }, { signal: signal() });
    expect(urls).toEqual(['https://gateway.example.com/openai/chat/completions']);
  });
});

describe('router over a real HTTP provider', () => {
  const prices = createPriceTable([
    { provider: 'anthropic', model: 'test-*', inputPerMillion: '3', outputPerMillion: '15' },
  ]);

  it('retries a 503 and prices the successful answer exactly', async () => {
    let n = 0;
    handler = (_req, res) => (n++ === 0 ? json(res, 503, {}, { 'retry-after-ms': '1' }) : anthropicOk(res));
    const router = createInferenceRouter({
      providers: [anthropic()],
      prices,
      retry: { initialDelayMs: 1, random: () => 0 },
    });
    const result = await router.complete(conversation);
    expect(captured).toHaveLength(2);
    expect(result.costUsd.toString()).toBe('0.001035');
    expect(result.latencyMs).toBeGreaterThan(0);
  });

  it('times out a hanging upstream with RT-408, and logs nothing secret', async () => {
    handler = () => {};
    const lines: string[] = [];
    const logger = createJsonLogger({ sink: (l) => lines.push(l), level: 'debug' });
    const router = createInferenceRouter({ providers: [anthropic()], prices, logger });
    await expectEnablementRejection(router.complete(conversation, { timeoutMs: 50 }), 'RT-408');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(KEY);
  });

  it('surfaces a 401 at once (no retry), without the key anywhere in the error or the logs', async () => {
    handler = (_req, res) => json(res, 401, { error: { message: `invalid x-api-key ${KEY}` } });
    const lines: string[] = [];
    const logger = createJsonLogger({ sink: (l) => lines.push(l), level: 'debug' });
    const router = createInferenceRouter({ providers: [anthropic()], prices, logger });
    const error = await expectEnablementRejection(router.complete(conversation), 'RT-500');
    expect(captured).toHaveLength(1);
    expect(`${JSON.stringify(error)} ${error.message} ${error.stack} ${lines.join('\n')}`).not.toContain(KEY);
  });
});
