import { z } from 'zod';
import { INT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { clockSchema, parseOptions } from '../options/options.js';
import { type Clock, type ConsensusTimestamp, millisToNanos, systemClock } from '../time/clock.js';

/**
 * Layout of a hybrid-logical-clock timestamp (Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * A {@link ConsensusTimestamp} is a `bigint` of Unix nanoseconds. The HLC pair `(l, c)` is packed
 * into it in decimal: `l` (the logical physical time) is truncated to the microsecond and `c`
 * (the logical counter) occupies the last three decimal digits,
 *
 * ```
 * timestamp = l_µs × 1000 + c,   0 ≤ c ≤ 999
 * ```
 *
 * so a timestamp still reads as Unix nanoseconds, within 1 µs of the physical time it carries,
 * and orders exactly like the pair `(l, c)`. With this packing the paper's rules reduce to:
 *
 * - local event or send: `t = max(last + 1, trunc_µs(pt))`
 * - receive of remote `m`: `t = max(last + 1, m + 1, trunc_µs(pt))`
 *
 * (`last + 1` is "same `l`, `c + 1`"; `trunc_µs(pt)` is "new `l`, `c = 0`".)
 *
 * **Counter overflow.** When `c` would pass 999, `+ 1` carries into the microsecond digits: the
 * logical time moves 1 µs ahead of the physical clock instead of failing. That takes more than
 * 1000 events inside one microsecond (or a burst while the clock is held back by a remote
 * timestamp ahead of it); the physical clock catches up, and `max(…, trunc_µs(pt))` resets `c`.
 */
export const HLC_COUNTER_MODULUS = 1000n;

/** Largest logical counter carried in a timestamp's last three decimal digits. */
export const HLC_MAX_COUNTER = 999;

/** Default tolerance on remote timestamps: ±100 ms around the physical clock (spec §3.5). */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 100;

/** Largest `maxSkewMs` accepted (one day): beyond it the skew rule would protect nothing. */
export const MAX_CLOCK_SKEW_MS = 86_400_000;

/** The two halves of an HLC timestamp (see {@link HLC_COUNTER_MODULUS} for the layout). */
export interface HlcParts {
  /** Logical physical time `l`, Unix nanoseconds truncated to the microsecond. */
  readonly physical: bigint;
  /** Logical counter `c`, 0 to {@link HLC_MAX_COUNTER}. */
  readonly counter: number;
}

/** Splits a timestamp into its HLC parts; `PL-400` when it is not a non-negative int64. */
export function hlcParts(timestamp: ConsensusTimestamp): HlcParts {
  assertTimestamp(timestamp, 'timestamp');
  const counter = timestamp % HLC_COUNTER_MODULUS;
  return Object.freeze({ physical: timestamp - counter, counter: Number(counter) });
}

/**
 * Packs HLC parts into a timestamp: `physical` is truncated to the microsecond and `counter`
 * (0 to {@link HLC_MAX_COUNTER}) fills the last three digits. `PL-400` for out-of-range parts.
 */
export function hlcTimestamp(physical: bigint, counter: number): ConsensusTimestamp {
  assertTimestamp(physical, 'physical');
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > HLC_MAX_COUNTER) {
    throw new EnablementError('PL-400', `counter: expected an integer in [0, ${HLC_MAX_COUNTER}]`);
  }
  const packed = truncateMicros(physical) + BigInt(counter);
  assertTimestamp(packed, 'timestamp');
  return packed;
}

/**
 * The consensus port (spec §3.5): strictly increasing timestamps for ordering events. May be
 * remote; the in-process {@link HybridLogicalClock} also answers synchronously.
 */
export interface ConsensusClient {
  /** A timestamp strictly greater than every one this client returned or received before. */
  getTimestamp(): Promise<ConsensusTimestamp>;
  /**
   * Merges a remote timestamp (a peer's clock reading carried by a message) and returns a local
   * timestamp strictly greater than both. Rejects with `PL-425` when `remote` is further than the
   * skew tolerance from the local physical clock, and `PL-400` when it is not a non-negative int64.
   */
  receive(remote: ConsensusTimestamp): Promise<ConsensusTimestamp>;
}

/** Options of {@link createHybridLogicalClock}. */
export interface HybridLogicalClockOptions {
  /** Physical time source; default `systemClock`. */
  readonly clock?: Clock;
  /**
   * Tolerance on remote timestamps, in milliseconds, both ways around the physical clock:
   * default {@link DEFAULT_MAX_CLOCK_SKEW_MS} (spec §3.5), at most {@link MAX_CLOCK_SKEW_MS}.
   */
  readonly maxSkewMs?: number;
  /**
   * A timestamp already issued (for example persisted before a restart): every later timestamp
   * is greater than it, even if the physical clock now reads earlier. Default 0.
   */
  readonly initial?: ConsensusTimestamp;
}

/** The in-process hybrid logical clock (see {@link createHybridLogicalClock}). */
export interface HybridLogicalClock extends ConsensusClient {
  /** Sync twin of `getTimestamp`: the next local timestamp. */
  now(): ConsensusTimestamp;
  /** Sync twin of `receive`: merges `remote` and returns the next timestamp (see `receive`). */
  merge(remote: ConsensusTimestamp): ConsensusTimestamp;
  /**
   * Throws `PL-425` when `remote` is outside the skew tolerance, `PL-400` when it is malformed;
   * changes nothing. `merge` runs the same check.
   */
  checkSkew(remote: ConsensusTimestamp): void;
  /** The last timestamp issued (or `initial`): never decreases. */
  readonly last: ConsensusTimestamp;
  /** The skew tolerance in nanoseconds. */
  readonly maxSkewNs: bigint;
}

const optionsSchema = z.strictObject({
  clock: clockSchema.optional(),
  maxSkewMs: z.number().min(0).max(MAX_CLOCK_SKEW_MS).optional(),
  initial: z.bigint().min(0n).max(INT64_MAX).optional(),
});

function assertTimestamp(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint' || value < 0n || value > INT64_MAX) {
    throw new EnablementError('PL-400', `${field}: expected a non-negative int64 bigint of Unix nanoseconds`);
  }
}

function truncateMicros(ns: bigint): bigint {
  return ns - (ns % HLC_COUNTER_MODULUS);
}

/**
 * A hybrid logical clock on the injected {@link Clock}: strictly increasing timestamps across
 * `now()` calls and merges of remote timestamps, whatever the physical clock does (it may stall
 * or jump backwards), in the layout of {@link HLC_COUNTER_MODULUS}.
 *
 * Remote timestamps more than `maxSkewMs` ahead of or behind the physical clock are rejected with
 * `PL-425` and leave the clock unchanged: without the bound, one peer with a clock far in the
 * future would drag every timestamp after it (Kulkarni et al. §4 assume such a bound ε).
 *
 * @example
 * ```ts
 * const hlc = createHybridLogicalClock({ clock });
 * const t1 = hlc.now();
 * const t2 = hlc.merge(message.timestamp); // > t1 and > message.timestamp, or PL-425
 * ```
 */
export function createHybridLogicalClock(options: HybridLogicalClockOptions = {}): HybridLogicalClock {
  const parsed = parseOptions(optionsSchema, options, 'createHybridLogicalClock');
  const clock = parsed.clock ?? systemClock;
  const maxSkewNs = millisToNanos(parsed.maxSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS);
  let last: ConsensusTimestamp = parsed.initial ?? 0n;

  const physicalNow = (): bigint => {
    const pt = clock.now();
    if (typeof pt !== 'bigint' || pt < 0n || pt > INT64_MAX) {
      throw new EnablementError(
        'PL-500',
        'hybrid logical clock: the physical clock returned an invalid time',
      );
    }
    return pt;
  };

  const advance = (candidate: bigint): ConsensusTimestamp => {
    // Only reachable near the year 2262 or with a hostile clock; never wrap around.
    if (candidate > INT64_MAX) {
      throw new EnablementError('PL-500', 'hybrid logical clock: int64 nanosecond range exhausted');
    }
    last = candidate;
    return candidate;
  };

  const skewCheck = (remote: ConsensusTimestamp, pt: bigint): void => {
    assertTimestamp(remote, 'remote');
    const skew = remote - pt;
    if (skew > maxSkewNs || -skew > maxSkewNs) {
      const direction = skew > 0n ? 'ahead of' : 'behind';
      throw new EnablementError(
        'PL-425',
        `remote timestamp is ${skew > 0n ? skew : -skew} ns ${direction} the local clock (tolerance ${maxSkewNs} ns)`,
      );
    }
  };

  const now = (): ConsensusTimestamp => {
    const pt = truncateMicros(physicalNow());
    return advance(pt > last ? pt : last + 1n);
  };

  const merge = (remote: ConsensusTimestamp): ConsensusTimestamp => {
    const pt = physicalNow();
    skewCheck(remote, pt);
    const truncated = truncateMicros(pt);
    let next = last + 1n;
    if (remote + 1n > next) next = remote + 1n;
    if (truncated > next) next = truncated;
    return advance(next);
  };

  return Object.freeze({
    now,
    merge,
    checkSkew(remote: ConsensusTimestamp): void {
      skewCheck(remote, physicalNow());
    },
    async getTimestamp(): Promise<ConsensusTimestamp> {
      return now();
    },
    async receive(remote: ConsensusTimestamp): Promise<ConsensusTimestamp> {
      return merge(remote);
    },
    get last(): ConsensusTimestamp {
      return last;
    },
    maxSkewNs,
  });
}
