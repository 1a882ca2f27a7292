import {
  DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH,
  EnablementError,
  type IdempotencyBeginResult,
  type IdempotencyEntry,
  type IdempotencyStore,
  MAX_IDEMPOTENCY_FINGERPRINT_LENGTH,
  MAX_IDEMPOTENCY_STORE_KEY_LENGTH,
  newUuid,
  parseOptions,
} from '@creto/core';
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import { fromRedisError } from './errors.js';
import { BEGIN, COMPLETE, GET, type LuaScript, RELEASE } from './scripts.js';

/** Default {@link RedisIdempotencyStoreOptions.commandTimeoutMs} of a client the store opens. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 5000;
/** Longest {@link RedisIdempotencyStoreOptions.keyPrefix}. */
export const MAX_REDIS_KEY_PREFIX_LENGTH = 256;

/** Options of {@link createRedisIdempotencyStore}: `client` or `url`, not both. */
export interface RedisIdempotencyStoreOptions {
  /** An ioredis client (or cluster) to use; the store does not own it (`close` leaves it open). */
  readonly client?: Redis | Cluster;
  /** `redis://` or `rediss://` URL: the store opens, owns and closes its own client. */
  readonly url?: string;
  /**
   * ioredis options of the client the store opens (password, TLS, …; never logged). The store
   * sets `maxRetriesPerRequest: 1` and `commandTimeout` unless given here, so a call during an
   * outage fails fast with retryable `PL-503` instead of waiting for the reconnection.
   */
  readonly redisOptions?: RedisOptions;
  /**
   * Prepended to every key, e.g. `creto:` (keys are `<prefix>idem:{product}:{operation}:{key}`,
   * spec §9.2); default none. Visible ASCII, at most {@link MAX_REDIS_KEY_PREFIX_LENGTH}.
   */
  readonly keyPrefix?: string;
  /** Longest result accepted, UTF-16 code units; default core's `DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH` (64 Ki). */
  readonly maxResultLength?: number;
  /** Command timeout of the client the store opens, ms; default {@link DEFAULT_REDIS_COMMAND_TIMEOUT_MS}. */
  readonly commandTimeoutMs?: number;
}

/** The `IdempotencyStore` port on Redis. */
export interface RedisIdempotencyStore extends IdempotencyStore {
  /** The ioredis client (owned when the store was given a `url`). */
  readonly client: Redis | Cluster;
  /** The prefix of every key. */
  readonly keyPrefix: string;
  /** Closes the client if the store opened it; later calls reject with `PL-503`. Idempotent. */
  close(): Promise<void>;
}

/** The commands the store needs: `EVALSHA`, with `EVAL` when Redis does not have the script yet. */
interface ScriptRunner {
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

const isClient = (v: unknown): v is Redis | Cluster =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as ScriptRunner).evalsha === 'function' &&
  typeof (v as ScriptRunner).eval === 'function';

const optionsSchema = z
  .strictObject({
    client: z.custom<Redis | Cluster>(isClient, { error: 'expected an ioredis client' }).optional(),
    url: z
      .string()
      .max(2048)
      .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL')
      .optional(),
    redisOptions: z
      .custom<RedisOptions>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
        error: 'expected ioredis options',
      })
      .optional(),
    keyPrefix: z
      .string()
      .max(MAX_REDIS_KEY_PREFIX_LENGTH)
      .regex(/^[\x21-\x7e]*$/, 'expected visible ASCII')
      .optional(),
    maxResultLength: z
      .number()
      .int()
      .min(1)
      .max(512 * 1024 * 1024)
      .optional(),
    commandTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  })
  .refine((o) => (o.client === undefined) !== (o.url === undefined), {
    error: 'give exactly one of client and url',
    path: ['url'],
  })
  .refine((o) => o.client === undefined || o.redisOptions === undefined, {
    error: 'only for a client the store opens (with url)',
    path: ['redisOptions'],
  });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(message: string): EnablementError {
  return new EnablementError('PL-400', `idempotency store: ${message}`);
}

/**
 * Throws `PL-400` unless `value` is a non-empty, well-formed string of at most `max` code units
 * (the memory store's rule, plus well-formedness: Redis keeps UTF-8, in which a lone surrogate
 * cannot survive, so two such keys could collide and a result would not come back as stored).
 */
function assertString(value: unknown, field: string, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${field} must be a non-empty string`);
  if (value.length > max) throw invalid(`${field} is longer than ${max} characters`);
  if (LONE_SURROGATE.test(value)) throw invalid(`${field} must be well-formed Unicode (no lone surrogate)`);
}

/** Throws `PL-400` unless `value` is a whole number of milliseconds ≥ 1 (what `PEXPIRE` takes). */
function assertTtl(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${field} must be a positive integer number of milliseconds`);
  }
}

/** A TTL as Redis reports it (`PTTL`), as a positive number of milliseconds. */
const remaining = (pttl: unknown): number =>
  // -1 (no expiry: someone PERSISTed the key) or 0 (expiring this millisecond) still means "held".
  typeof pttl === 'number' && pttl >= 1 ? pttl : 1;

const unexpected = (script: LuaScript): EnablementError =>
  new EnablementError('PL-500', `idempotency store: unexpected reply from Redis to ${script.name}`);

/**
 * An `IdempotencyStore` on Redis (spec §9.2, ARCHITECTURE §5), with the exact semantics of
 * core's memory store: one hash per key (`<keyPrefix>idem:{product}:{operation}:{key}`) that
 * holds either the executor's lock (fingerprint, token; expiring after the lock TTL) or the
 * stored result (fingerprint, result; expiring at the end of the deduplication window). Each
 * method is one Lua script, so every transition is atomic on the server: `begin` is the
 * lookup-or-`SET NX PX` of the spec in one step, `complete` and `release` compare the lock's
 * token and swap or delete in one step. Expiry runs on Redis's clock.
 *
 * Failures are `EnablementError`s: `PL-400` bad input (nothing sent), `PL-409` the key holds
 * something that is not an idempotency record (never overwritten), `PL-503` (retryable) Redis
 * unreachable, timed out, out of memory or loading. Memory is bounded by Redis (`maxmemory`,
 * which must evict nothing of the store's: see the README), and each result by `maxResultLength`.
 *
 * @example
 * ```ts
 * const store = createRedisIdempotencyStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'creto:' });
 * const guard = createIdempotencyGuard({ store });
 * const sandbox = await guard.run({ product: 'runtime', operation: 'spawn_sandbox', key, parameters }, spawn);
 * ```
 */
export function createRedisIdempotencyStore(options: RedisIdempotencyStoreOptions): RedisIdempotencyStore {
  const parsed = parseOptions(optionsSchema, options, 'createRedisIdempotencyStore');
  const prefix = parsed.keyPrefix ?? '';
  const maxResultLength = parsed.maxResultLength ?? DEFAULT_IDEMPOTENCY_MAX_RESULT_LENGTH;
  const owned = parsed.client === undefined;
  let client: Redis | Cluster;
  if (parsed.client !== undefined) {
    client = parsed.client;
  } else {
    const redis = new Redis(parsed.url ?? '', {
      maxRetriesPerRequest: 1,
      commandTimeout: parsed.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
      ...parsed.redisOptions,
    });
    // Connection errors surface on the commands (PL-503); without a listener ioredis would also
    // print each one.
    redis.on('error', () => undefined);
    client = redis;
  }
  const runner = client as unknown as ScriptRunner;
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new EnablementError('PL-503', 'idempotency store is closed', { retryable: false });
  };

  async function run(script: LuaScript, key: string, args: (string | number)[]): Promise<unknown> {
    const redisKey = `${prefix}${key}`;
    try {
      try {
        return await runner.evalsha(script.sha, 1, redisKey, ...args);
      } catch (error) {
        // First use on this server (or after SCRIPT FLUSH): send the source once.
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
        return await runner.eval(script.lua, 1, redisKey, ...args);
      }
    } catch (error) {
      throw fromRedisError(error, `idempotency store ${script.name}`);
    }
  }

  return Object.freeze({
    async begin(key: string, fingerprint: string, lockTtlMs: number): Promise<IdempotencyBeginResult> {
      assertOpen();
      assertString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      assertString(fingerprint, 'fingerprint', MAX_IDEMPOTENCY_FINGERPRINT_LENGTH);
      assertTtl(lockTtlMs, 'lockTtlMs');
      const token = newUuid();
      const reply = await run(BEGIN, key, [fingerprint, lockTtlMs, token]);
      if (!Array.isArray(reply)) throw unexpected(BEGIN);
      switch (reply[0]) {
        case 'acquired':
          return { status: 'acquired', token };
        case 'mismatch':
          return { status: 'mismatch' };
        case 'completed':
          if (typeof reply[1] !== 'string') throw unexpected(BEGIN);
          return { status: 'completed', result: reply[1] };
        case 'in_flight':
          return { status: 'in_flight', retryAfterMs: remaining(reply[1]) };
        default:
          throw unexpected(BEGIN);
      }
    },

    async complete(key: string, token: string, result: string, ttlMs: number): Promise<boolean> {
      assertOpen();
      assertString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      assertString(token, 'token', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      if (typeof result !== 'string') throw invalid('result must be a string');
      if (result.length > maxResultLength)
        throw invalid(`result is longer than ${maxResultLength} characters`);
      if (LONE_SURROGATE.test(result))
        throw invalid('result must be well-formed Unicode (no lone surrogate)');
      assertTtl(ttlMs, 'ttlMs');
      return (await run(COMPLETE, key, [token, result, ttlMs])) === 1;
    },

    async release(key: string, token: string): Promise<boolean> {
      assertOpen();
      assertString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      assertString(token, 'token', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      return (await run(RELEASE, key, [token])) === 1;
    },

    async get(key: string): Promise<IdempotencyEntry | undefined> {
      assertOpen();
      assertString(key, 'key', MAX_IDEMPOTENCY_STORE_KEY_LENGTH);
      const reply = await run(GET, key, []);
      if (reply === null) return undefined;
      if (!Array.isArray(reply) || typeof reply[1] !== 'string' || typeof reply[2] !== 'string') {
        throw unexpected(GET);
      }
      const [kind, fingerprint, result, pttl] = reply as [unknown, string, string, unknown];
      const expiresInMs = remaining(pttl);
      if (kind === 'lock') return { status: 'in_flight', fingerprint, expiresInMs };
      if (kind === 'result') return { status: 'completed', fingerprint, result, expiresInMs };
      throw unexpected(GET);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (!owned) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },

    get client(): Redis | Cluster {
      return client;
    },

    keyPrefix: prefix,
  });
}
