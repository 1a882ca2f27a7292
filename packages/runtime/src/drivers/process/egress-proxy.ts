import { chmod } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { EnablementError } from '@creto/core';
import type { EgressRequest, SandboxCapabilities } from '../../driver/types.js';

/** Bounds of one sandbox's egress proxy. */
export interface EgressProxyLimits {
  /** Most simultaneous connections (and requests in flight); more are refused. */
  readonly maxConnections: number;
  /** Largest request body, bytes (`413` beyond). */
  readonly maxRequestBytes: number;
  /** Largest response body passed back, bytes (`502` beyond). */
  readonly maxResponseBytes: number;
  /** Time a client has to send a whole request, ms. */
  readonly requestTimeoutMs: number;
}

/** A running egress proxy. */
export interface EgressProxy {
  /** The Unix socket it listens on (host path). */
  readonly socketPath: string;
  /** Stops listening and drops every connection. Idempotent. */
  close(): Promise<void>;
}

// Connection-level headers belong to each hop (RFC 9110 §7.6.1), not to the forwarded request;
// `proxy-authorization` would leak a credential meant for the proxy.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

// Response headers describing the bytes as they travelled to the host: the capability hands
// back the decoded body, so its length and encoding are recomputed here.
const RESPONSE_DROPPED = new Set([...HOP_BY_HOP, 'content-length', 'content-encoding']);

/** The HTTP status an `EnablementError` from the egress capability becomes. */
export function statusForCode(code: string): number {
  switch (code) {
    case 'RT-400':
    case 'PL-400':
      return 400;
    // RT-202 (pending approval) is a refusal too: the request was not made.
    case 'RT-202':
    case 'RT-403':
    case 'PL-403':
      return 403;
    case 'RT-413':
      return 413;
    case 'RT-429':
    case 'MT-429':
      return 429;
    case 'RT-408':
      return 504;
    case 'RT-503':
    case 'PL-503':
      return 503;
    default:
      return 502;
  }
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ code, message });
}

function refuseRaw(socket: Duplex, code: string, message: string): void {
  const body = errorBody(code, message);
  socket.end(
    `HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nx-creto-error-code: ${code}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  retryAfterMs?: number,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, message);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-creto-error-code': code,
    ...(retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) }),
  });
  res.end(body);
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

function requestHeaders(req: IncomingMessage): Record<string, string> {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out.push([name, Array.isArray(value) ? value.join(', ') : value]);
  }
  // fromEntries defines own properties: a "__proto__" header stays a header.
  return Object.fromEntries(out);
}

function cleanStatusText(text: string): string {
  return text.replace(/[^\t\x20-\x7e]/g, '').slice(0, 200);
}

/**
 * Starts the HTTP/1.1 forward proxy through which a process sandbox reaches the network
 * (spec §3.2): it listens on a Unix socket that is bound into the sandbox, and turns each
 * absolute-URI request (`GET http://host/path HTTP/1.1`, also for `https:` URLs, which the host
 * fetches over TLS) into `capabilities.fetch`, so the same authz check, audit and metering apply
 * as for QuickJS code. `CONNECT` (and protocol upgrades) are refused with `403`: a tunnel would
 * hide the request from the check. A capability rejection becomes an HTTP error whose
 * `x-creto-error-code` header and JSON body carry the code (e.g. `403` + `RT-403`).
 */
export async function startEgressProxy(
  socketPath: string,
  capabilities: Pick<SandboxCapabilities, 'fetch'>,
  limits: EgressProxyLimits,
): Promise<EgressProxy> {
  let inFlight = 0;
  const server = createServer(
    {
      maxHeaderSize: 16 * 1024,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: Math.min(limits.requestTimeoutMs, 30_000),
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on('connect', (_req: IncomingMessage, socket: Duplex) =>
    refuseRaw(
      socket,
      'RT-403',
      'CONNECT is refused: send absolute-URI requests (http:// or https://) instead',
    ),
  );
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) =>
    refuseRaw(socket, 'RT-403', 'protocol upgrades are refused by the egress proxy'),
  );
  server.on('clientError', (_error, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (inFlight >= limits.maxConnections) {
      sendError(res, 503, 'RT-503', 'too many egress requests in flight');
      return;
    }
    inFlight += 1;
    try {
      const target = req.url ?? '';
      if (!/^https?:\/\//i.test(target)) {
        sendError(
          res,
          400,
          'RT-400',
          'the egress proxy takes absolute-URI requests only (http:// or https://)',
        );
        return;
      }
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        sendError(res, 400, 'RT-400', 'the request URI is not a valid URL');
        return;
      }
      const body = await readBody(req, limits.maxRequestBytes);
      if (body === 'too_large') {
        res.setHeader('connection', 'close');
        sendError(res, 413, 'RT-413', `the request body is more than ${limits.maxRequestBytes} bytes`);
        return;
      }
      const request: EgressRequest = {
        url: url.href,
        method: (req.method ?? 'GET').toUpperCase(),
        headers: requestHeaders(req),
        ...(body.length === 0 ? {} : { body }),
      };
      let response: Awaited<ReturnType<SandboxCapabilities['fetch']>>;
      try {
        response = await capabilities.fetch(request);
      } catch (error) {
        if (EnablementError.is(error)) {
          sendError(res, statusForCode(error.code), error.code, error.message, error.retryAfterMs);
        } else {
          // Anything else may carry host internals.
          sendError(res, 502, 'RT-500', 'the egress request failed');
        }
        return;
      }
      if (response.body.length > limits.maxResponseBytes) {
        sendError(res, 502, 'RT-413', `the response body is more than ${limits.maxResponseBytes} bytes`);
        return;
      }
      if (!Number.isInteger(response.status) || response.status < 200 || response.status > 999) {
        sendError(res, 502, 'RT-500', 'the egress response had an invalid status');
        return;
      }
      res.statusCode = response.status;
      res.statusMessage = cleanStatusText(response.statusText);
      for (const [name, value] of Object.entries(response.headers)) {
        if (RESPONSE_DROPPED.has(name.toLowerCase())) continue;
        try {
          res.setHeader(name, value);
        } catch {
          // A header Node refuses to send (invalid characters) is dropped, not fatal.
        }
      }
      res.setHeader('content-length', response.body.length);
      res.end(response.body);
    } catch {
      sendError(res, 502, 'RT-500', 'the egress request failed');
    } finally {
      inFlight -= 1;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Owner only: other local users must not use this sandbox's egress (the directory is 0700 too).
  await chmod(socketPath, 0o600);
  // The proxy serves the sandbox's processes, which keep the host alive while they run; the
  // listening socket alone must not (a host that forgets to dispose a sandbox still exits).
  server.unref();

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
