import { createHash } from 'node:crypto';

/** A Lua script and its SHA-1, for `EVALSHA` with an `EVAL` fallback. */
export interface LuaScript {
  /** Script name, for error messages. */
  readonly name: string;
  /** Lua source. */
  readonly lua: string;
  /** Hex SHA-1 of the source (Redis's script cache key, not a security digest). */
  readonly sha: string;
}

const script = (name: string, lua: string): LuaScript =>
  Object.freeze({ name, lua, sha: createHash('sha1').update(lua).digest('hex') });

// Record layout (spec §9.2 key `idem:{product}:{operation}:{key}`, under the store's prefix): one
// hash per key, expiring with the lock or the result window (PEXPIRE):
//   k = 'lock' | 'result'    what the record is
//   f = fingerprint          the parameters it belongs to
//   t = token                the lock holder (locks only)
//   r = result               the stored result (results only)
// Every transition reads and writes in one script, so it is atomic: Redis runs a script alone.
// A key holding anything else (another type, or a hash without `k`) is never overwritten: the
// scripts answer with an error instead, which the store maps to PL-409.

/** KEYS[1] key; ARGV fingerprint, lockTtlMs, token → {'acquired'} | {'mismatch'} | {'completed', r} | {'in_flight', pttl}. */
export const BEGIN = script(
  'begin',
  `local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  redis.call('HSET', KEYS[1], 'k', 'lock', 'f', ARGV[1], 't', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'acquired'}
end
if kind ~= 'hash' then
  return redis.error_reply('CRETOFOREIGN the key holds a ' .. kind .. ', not an idempotency record')
end
local v = redis.call('HMGET', KEYS[1], 'k', 'f', 'r')
if v[1] ~= 'lock' and v[1] ~= 'result' then
  return redis.error_reply('CRETOFOREIGN the key holds a hash that is not an idempotency record')
end
if v[2] ~= ARGV[1] then return {'mismatch'} end
if v[1] == 'result' then return {'completed', v[3]} end
return {'in_flight', redis.call('PTTL', KEYS[1])}`,
);

/** KEYS[1] key; ARGV token, result, ttlMs → 1 stored | 0 lock not held. */
export const COMPLETE = script(
  'complete',
  `if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
local v = redis.call('HMGET', KEYS[1], 'k', 't')
if v[1] ~= 'lock' or v[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'k', 'result', 'r', ARGV[2])
redis.call('HDEL', KEYS[1], 't')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`,
);

/** KEYS[1] key; ARGV token → 1 released | 0 not held with that token. */
export const RELEASE = script(
  'release',
  `if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
local v = redis.call('HMGET', KEYS[1], 'k', 't')
if v[1] ~= 'lock' or v[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
);

/** KEYS[1] key → nil | {kind, fingerprint, result or '', pttl}; a foreign value is an error, as in begin. */
export const GET = script(
  'get',
  `local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then return nil end
if kind ~= 'hash' then
  return redis.error_reply('CRETOFOREIGN the key holds a ' .. kind .. ', not an idempotency record')
end
local v = redis.call('HMGET', KEYS[1], 'k', 'f', 'r')
if v[1] ~= 'lock' and v[1] ~= 'result' then
  return redis.error_reply('CRETOFOREIGN the key holds a hash that is not an idempotency record')
end
return {v[1], v[2] or '', v[3] or '', redis.call('PTTL', KEYS[1])}`,
);
