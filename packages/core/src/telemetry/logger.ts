import { context } from '@opentelemetry/api';
import { EnablementError } from '../errors/enablement-error.js';
import { type Clock, systemClock } from '../time/clock.js';
import { formatRfc3339Micros } from './timestamp.js';
import { currentSpanId, currentTraceId } from './tracing.js';

/** Severity of a log line, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every {@link LogLevel}, least severe first. */
export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error']);

/**
 * Structured fields of a log call or of a child logger's bindings. The named fields become the
 * top-level keys of spec §10.3 (`product`, `agent_nhi`, `operation`, `duration_ms`); `error` and
 * everything else go under `attributes`.
 */
export interface LogFields {
  /** Product that logs (spec §10.3 `product`), usually bound once per engine. */
  readonly product?: string;
  /** The agent the operation is for (spec §10.3 `agent_nhi`). */
  readonly agentNhi?: string;
  /** Operation name, e.g. `spawn_sandbox` (spec §10.3 `operation`). */
  readonly operation?: string;
  /** How long the operation took, in milliseconds (spec §10.3 `duration_ms`). */
  readonly durationMs?: number;
  /** A failure; an `EnablementError` is logged as its spec §8.2 JSON, others as name and message. */
  readonly error?: unknown;
  /** Any other attribute (`sandbox_id`, `runtime_class`, …). */
  readonly [key: string]: unknown;
}

/**
 * The logging port. Engines log through it; the default writes spec §10.3 JSON lines
 * ({@link createJsonLogger}); a host can adapt pino, winston or its own logger to it.
 */
export interface Logger {
  /** Detail useful while debugging; off by default. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong but the operation went on (a non-critical saga step, a degraded dependency). */
  warn(message: string, fields?: LogFields): void;
  /** An operation failed. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line (later fields win over bindings). */
  child(bindings: LogFields): Logger;
}

/** One log line in the JSON shape of spec §10.3. Absent optional fields are omitted. */
export interface LogRecord {
  /** RFC 3339 UTC with microseconds, from the logger's Clock. */
  timestamp: string;
  /** Upper-case level, as in the spec's example (`INFO`). */
  level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Product that logged. */
  product?: string;
  /** Trace id (32 hex) of the active span. */
  trace_id?: string;
  /** Span id (16 hex) of the active span. */
  span_id?: string;
  /** Agent NHI the line is about. */
  agent_nhi?: string;
  /** Operation name. */
  operation?: string;
  /** The message. */
  message: string;
  /** Operation duration in milliseconds. */
  duration_ms?: number;
  /** Every other field, redacted and bounded. */
  attributes?: Record<string, unknown>;
}

/** Size limits applied to every log line, so that one call cannot flood the sink. */
export interface LogLimits {
  /** Longest message, in UTF-16 code units (longer ones are cut and end with `…`). Default 4096. */
  readonly maxMessageLength: number;
  /** Longest string value inside `attributes`. Default 1024. */
  readonly maxStringLength: number;
  /** Most items kept of an array (the rest are summarised). Default 64. */
  readonly maxArrayLength: number;
  /** Most keys kept of an object (the rest are summarised). Default 64. */
  readonly maxKeys: number;
  /** Deepest nesting kept inside `attributes`; deeper values become `[depth limit]`. Default 6. */
  readonly maxDepth: number;
  /** Longest serialized line; a longer one keeps its top-level fields and drops `attributes`. Default 32768. */
  readonly maxLineLength: number;
}

/** The default {@link LogLimits}. */
export const DEFAULT_LOG_LIMITS: LogLimits = Object.freeze({
  maxMessageLength: 4096,
  maxStringLength: 1024,
  maxArrayLength: 64,
  maxKeys: 64,
  maxDepth: 6,
  maxLineLength: 32_768,
});

/** The value that replaces a redacted field. */
export const REDACTED = '[REDACTED]';

// Words that mark a field as secret wherever they appear in its name (camelCase, snake_case,
// kebab-case all split into words). `tokens` (plural, e.g. `input_tokens` in inference metering)
// is a count, not a credential, and is deliberately not listed.
const SECRET_WORDS: ReadonlySet<string> = new Set([
  'secret',
  'secrets',
  'private',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'passphrase',
  'token',
  'seed',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'apikey',
  'mnemonic',
]);

/**
 * True when a field name looks like it holds secret material: a word of it is one of `secret`,
 * `private`, `password`, `passphrase`, `token`, `seed`, `credential`, `authorization`, `cookie`,
 * `mnemonic`, or it contains `api key` (`apiKey`, `x-api-key`). Matching is by word, so
 * `privateKey`, `access_token`, `seedPhrase` and `clientSecret` match, while `input_tokens`
 * and `tokenizer` do not.
 */
export function isSecretFieldName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((word) => SECRET_WORDS.has(word)) || words.join('').includes('apikey');
}

function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

function errorFields(error: unknown, limits: LogLimits): unknown {
  if (EnablementError.is(error)) return error.toJSON();
  if (error instanceof Error) {
    return { name: error.name, message: truncateText(error.message, limits.maxStringLength) };
  }
  return undefined;
}

/**
 * A JSON-safe, redacted, bounded copy of `value`: secret-looking keys are replaced by
 * {@link REDACTED}, bytes by their length, `bigint` by its decimal string, non-finite numbers by
 * their name; strings, arrays, objects and depth are cut to `limits`. Functions, symbols and
 * `undefined` are dropped, as `JSON.stringify` does. Objects with `toJSON` are logged through it;
 * other class instances only by their class name, so that nothing private leaks.
 */
export function sanitizeLogValue(value: unknown, limits: LogLimits = DEFAULT_LOG_LIMITS, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
      return PEM_PRIVATE_KEY.test(value) ? REDACTED : truncateText(value, limits.maxStringLength);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (depth >= limits.maxDepth) return '[depth limit]';
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (Array.isArray(value)) {
    const out = value
      .slice(0, limits.maxArrayLength)
      .map((item) => sanitizeLogValue(item, limits, depth + 1) ?? null);
    if (value.length > limits.maxArrayLength) out.push(`[${value.length - limits.maxArrayLength} more]`);
    return out;
  }
  if (value instanceof Error || EnablementError.is(value))
    return sanitizeLogValue(errorFields(value, limits), limits, depth);
  const object = value as Record<string, unknown>;
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    if (typeof object.toJSON === 'function') {
      let json: unknown;
      try {
        json = (object.toJSON as () => unknown)();
      } catch {
        json = '[unserializable]';
      }
      // Guard against a toJSON that returns its own receiver (or another class instance).
      return json === object ? '[unserializable]' : sanitizeLogValue(json, limits, depth + 1);
    }
    const name = typeof proto?.constructor?.name === 'string' ? proto.constructor.name : 'object';
    return `[${truncateText(name, 64)}]`;
  }
  return sanitizeFields(object, limits, depth);
}

function sanitizeFields(
  object: Record<string, unknown>,
  limits: LogLimits,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(object);
  for (const key of keys.slice(0, limits.maxKeys)) {
    const safeKey = truncateText(key, 128);
    if (isSecretFieldName(key)) {
      out[safeKey] = REDACTED;
      continue;
    }
    const item = sanitizeLogValue(object[key], limits, depth + 1);
    if (item !== undefined) out[safeKey] = item;
  }
  if (keys.length > limits.maxKeys) out['…'] = `[${keys.length - limits.maxKeys} more keys]`;
  return out;
}

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = Object.freeze({
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
});
const LEVEL_TEXT = Object.freeze({ debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR' } as const);

/** Where JSON log lines go: one serialized line per call, without the trailing newline. */
export type LogSink = (line: string) => void;

/** Writes each line, newline-terminated, to standard output. */
export const stdoutLogSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Source of the `timestamp`; the system clock by default. */
  readonly clock?: Clock;
  /** Where lines go; {@link stdoutLogSink} by default. */
  readonly sink?: LogSink;
  /** Least severe level written; `info` by default. */
  readonly level?: LogLevel;
  /** Product written on every line (same as binding `product`). */
  readonly product?: string;
  /** Fields added to every line. */
  readonly bindings?: LogFields;
  /** Size limits; each one defaults to {@link DEFAULT_LOG_LIMITS}. */
  readonly limits?: Partial<LogLimits>;
}

function positiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new EnablementError('PL-400', `${field}: expected a positive integer`);
  }
  return value;
}

function resolveLimits(limits: Partial<LogLimits> | undefined): LogLimits {
  const out: Record<string, number> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_LOG_LIMITS)) {
    const given = limits?.[key as keyof LogLimits];
    out[key] = given === undefined ? fallback : positiveInteger(given, `limits.${key}`);
  }
  // A line budget below the fixed fields' size would make every line "too long".
  if ((out.maxLineLength as number) < 1024) {
    throw new EnablementError('PL-400', 'limits.maxLineLength: expected at least 1024');
  }
  return Object.freeze(out) as unknown as LogLimits;
}

/**
 * Builds the spec §10.3 record of one log call. Exposed for adapters and tests; the logger
 * serializes it to one JSON line.
 */
export function buildLogRecord(
  level: LogLevel,
  message: string,
  fields: LogFields,
  now: bigint,
  limits: LogLimits = DEFAULT_LOG_LIMITS,
): LogRecord {
  const { product, agentNhi, operation, durationMs, ...rest } = fields;
  const record: LogRecord = { timestamp: formatRfc3339Micros(now), level: LEVEL_TEXT[level], message: '' };
  if (typeof product === 'string') record.product = truncateText(product, 64);
  const active = context.active();
  const traceId = currentTraceId(active);
  if (traceId !== undefined) {
    record.trace_id = traceId;
    record.span_id = currentSpanId(active) as string;
  }
  if (typeof agentNhi === 'string') record.agent_nhi = truncateText(agentNhi, 256);
  if (typeof operation === 'string') record.operation = truncateText(operation, 128);
  record.message = truncateText(
    typeof message === 'string' ? message : String(message),
    limits.maxMessageLength,
  );
  if (typeof durationMs === 'number' && Number.isFinite(durationMs)) record.duration_ms = durationMs;
  const extra: Record<string, unknown> = { ...rest };
  if (extra.error !== undefined && !(extra.error instanceof Error)) {
    // A thrown non-Error (a string, an object) is still worth logging, but as a plain value.
    extra.error = { value: extra.error };
  }
  const attributes = sanitizeFields(extra, limits, 0);
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  return record;
}

/**
 * A {@link Logger} writing one spec §10.3 JSON object per line: timestamp from the Clock (RFC 3339,
 * microseconds), level, product, `trace_id` / `span_id` of the active OpenTelemetry span,
 * `agent_nhi`, operation, message, `duration_ms` and the remaining fields as `attributes`.
 *
 * Fields whose names look secret ({@link isSecretFieldName}) are replaced by {@link REDACTED},
 * byte arrays by their length, and every value is bounded ({@link LogLimits}). Logging never throws
 * into the caller: a sink that throws loses that line.
 *
 * @example
 * ```ts
 * const log = createJsonLogger({ clock, product: 'runtime' });
 * log.info('Sandbox spawned successfully', {
 *   agentNhi, operation: 'spawn_sandbox', durationMs: 1523, sandbox_id: 'sb-abc123',
 * });
 * ```
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const clock = options.clock ?? systemClock;
  const sink = options.sink ?? stdoutLogSink;
  const level = options.level ?? 'info';
  if (!LOG_LEVELS.includes(level))
    throw new EnablementError('PL-400', 'level: expected debug, info, warn or error');
  if (typeof sink !== 'function') throw new EnablementError('PL-400', 'sink: expected a function');
  const limits = resolveLimits(options.limits);
  const threshold = LEVEL_RANK[level];
  const base: LogFields = {
    ...(options.product === undefined ? {} : { product: options.product }),
    ...(options.bindings ?? {}),
  };

  const make = (bindings: LogFields): Logger => {
    const write = (lvl: LogLevel, message: string, fields: LogFields | undefined) => {
      if (LEVEL_RANK[lvl] < threshold) return;
      try {
        const record = buildLogRecord(lvl, message, { ...bindings, ...(fields ?? {}) }, clock.now(), limits);
        let line = JSON.stringify(record);
        if (line.length > limits.maxLineLength) {
          record.attributes = { truncated: `line longer than ${limits.maxLineLength} characters` };
          line = JSON.stringify(record);
        }
        sink(line);
      } catch {
        // Logging must never break the operation it describes.
      }
    };
    return Object.freeze({
      debug: (message: string, fields?: LogFields) => write('debug', message, fields),
      info: (message: string, fields?: LogFields) => write('info', message, fields),
      warn: (message: string, fields?: LogFields) => write('warn', message, fields),
      error: (message: string, fields?: LogFields) => write('error', message, fields),
      child: (more: LogFields) => make({ ...bindings, ...more }),
    });
  };
  return make(base);
}

const noop = () => {};

/** A {@link Logger} that discards everything; the default of engines given no logger. */
export const noopLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
});
