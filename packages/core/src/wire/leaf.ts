import { z } from 'zod';
import {
  DECIMAL_MAX_DIGITS,
  DECIMAL_MAX_SCALE,
  DECIMAL_MAX_TEXT_LENGTH,
  Decimal,
} from '../decimal/decimal.js';
import { base64urlToBytes, bytesToBase64url } from '../encoding/bytes.js';
import { INT64_MAX, INT64_MIN, parseInt64, UINT64_MAX } from '../encoding/int64.js';
import { EnablementError } from '../errors/enablement-error.js';
import { NHI_MAX_LENGTH, parseNhi } from '../identity/nhi.js';
import { isUuid, parseUuid, UUID_PATTERN, type Uuid } from '../ids/uuid.js';
import { withMeta } from './registry.js';

/** Placeholder field name given to the SDK's parsers, stripped from their messages. */
const FIELD = '$value';
const FIELD_PREFIX = /^\$value(?:: |\.)?/;

/**
 * Wraps a validating conversion for use as a codec transform: an `EnablementError` thrown by
 * `convert` becomes a zod issue (so the caller sees every failure with its path, never a raw
 * throw). The `<field>: ` prefix the SDK's parsers put on messages is dropped, because zod's
 * path already names the field.
 */
export function guarded<I, O>(convert: (value: I, field: string) => O) {
  return (value: I, payload: z.core.ParsePayload<unknown>): O => {
    try {
      return convert(value, FIELD);
    } catch (error) {
      const message = EnablementError.is(error) ? error.message : 'invalid value';
      payload.issues.push({
        code: 'custom',
        message: message.replace(FIELD_PREFIX, '').replaceAll(FIELD, 'value'),
        input: value,
      });
      return z.NEVER;
    }
  };
}
// ---------------------------------------------------------------------------------------------
// Integers
// ---------------------------------------------------------------------------------------------

/**
 * Regex body (no anchors) matching the canonical decimal text of every integer in `1..max`:
 * shorter numbers freely, numbers with as many digits as `max` digit by digit. This lets the
 * JSON Schema state the exact int64/uint64 range that JSON numbers cannot carry.
 */
function positiveUpTo(max: bigint): string {
  const digits = max.toString();
  const n = digits.length;
  const alternatives: string[] = [];
  if (n > 1) alternatives.push(n > 2 ? `[1-9][0-9]{0,${n - 2}}` : '[1-9]');
  for (let i = 0; i < n; i++) {
    const d = Number(digits[i]);
    const lo = i === 0 ? 1 : 0;
    if (d - 1 < lo) continue;
    const rest = n - i - 1;
    const cls = d - 1 === lo ? String(lo) : `[${lo}-${d - 1}]`;
    alternatives.push(`${digits.slice(0, i)}${cls}${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  alternatives.push(digits);
  return alternatives.join('|');
}

/** Exactly the canonical decimal strings of signed 64-bit integers (no `-0`, no leading zeros). */
export const INT64_PATTERN = new RegExp(
  `^(?:0|${positiveUpTo(INT64_MAX)}|-(?:${positiveUpTo(-INT64_MIN)}))$`,
);

/** Exactly the canonical decimal strings of unsigned 64-bit integers. */
export const UINT64_PATTERN = new RegExp(`^(?:0|${positiveUpTo(UINT64_MAX)})$`);

function int64CodecOf(unsigned: boolean) {
  const kind = unsigned ? 'uint64' : 'int64';
  return z.codec(
    z
      .string()
      .max(20, { error: `expected an ${kind} decimal string`, abort: true })
      .regex(unsigned ? UINT64_PATTERN : INT64_PATTERN, { error: `expected an ${kind} decimal string` }),
    z
      .bigint()
      .min(unsigned ? 0n : INT64_MIN)
      .max(unsigned ? UINT64_MAX : INT64_MAX),
    {
      decode: guarded((text: string, field) => parseInt64(text, field, unsigned)),
      encode: (value) => value.toString(),
    },
  );
}

/**
 * A signed 64-bit integer: on the wire a canonical decimal string (JSON numbers lose precision
 * above 2^53), in TypeScript a `bigint`.
 */
export const int64Codec = withMeta(int64CodecOf(false), {
  id: 'Int64',
  description: 'Signed 64-bit integer as a canonical decimal string (no leading zeros, no "-0").',
});

/** An unsigned 64-bit integer: canonical decimal string ↔ `bigint` in `0..2^64-1`. */
export const uint64Codec = withMeta(int64CodecOf(true), {
  id: 'Uint64',
  description: 'Unsigned 64-bit integer as a canonical decimal string (no leading zeros).',
});

/** An unsigned 32-bit integer: a JSON number (exact in a double), `number` in TypeScript. */
export const uint32Schema = z
  .number({ error: 'expected an integer' })
  .int({ error: 'expected an integer' })
  .min(0)
  .max(0xffff_ffff);

/**
 * A consensus timestamp (spec §6.3): Unix nanoseconds, `i64`; on the wire a canonical decimal
 * string, in TypeScript a `bigint` (`ConsensusTimestamp`).
 */
export const consensusTimestampCodec = withMeta(int64CodecOf(false), {
  id: 'ConsensusTimestamp',
  description: 'Unix time in nanoseconds (spec §6.3), int64 as a canonical decimal string.',
});

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

const B64 = '[A-Za-z0-9_-]';
const B64_TEXT = /^[A-Za-z0-9_-]*$/;
/** Characters allowed last when 1 or 2 bytes remain: their unused low bits are zero. */
const TAIL_OF_ONE = 'AQgw';
const TAIL_OF_TWO = 'AEIMQUYcgkosw048';

/**
 * Regex body matching exactly the canonical unpadded base64url (RFC 4648 §5) text of `length`
 * bytes: the unused low bits of the last character must be zero, so each byte string has one
 * spelling (signatures cover the text).
 */
function base64urlOfLength(length: number): string {
  const full = Math.floor(length / 3) * 4;
  switch (length % 3) {
    case 1:
      return `${B64}{${full + 1}}[${TAIL_OF_ONE}]`;
    case 2:
      return `${B64}{${full + 2}}[${TAIL_OF_TWO}]`;
    default:
      return `${B64}{${full}}`;
  }
}

/**
 * The test {@link base64urlOfLength}'s regexes state, without running them: V8 runs a counted
 * repetition inside an alternation several times slower than a plain class scan, and every usage
 * event carries 4.5 KB of signature text. Same language: a text length one of `lengths` has,
 * base64url characters only, and a last character whose unused bits are zero.
 */
function isCanonicalBase64urlOf(lengths: readonly number[]): (text: string) => boolean {
  const tails = new Map<number, string | undefined>();
  for (const length of lengths) {
    const rest = length % 3;
    const textLength = Math.floor(length / 3) * 4 + (rest === 0 ? 0 : rest + 1);
    tails.set(textLength, rest === 1 ? TAIL_OF_ONE : rest === 2 ? TAIL_OF_TWO : undefined);
  }
  return (text) => {
    if (!tails.has(text.length) || !B64_TEXT.test(text)) return false;
    const tail = tails.get(text.length);
    return tail === undefined || tail.includes(text.charAt(text.length - 1));
  };
}

/**
 * Bytes of one of the given exact `lengths`: on the wire unpadded base64url (RFC 4648 §5,
 * canonical), in TypeScript a `Uint8Array`. Decoding copies, so the value never aliases the
 * caller's buffer.
 */
export function bytesCodec(lengths: readonly number[], meta: { id?: string; description?: string } = {}) {
  const sorted = [...new Set(lengths)].sort((a, b) => a - b);
  const maxText = Math.ceil(((sorted.at(-1) ?? 0) * 4) / 3);
  const expected = `expected unpadded base64url of ${sorted.join(' or ')} bytes`;
  const text = z
    .string()
    .max(maxText, { error: expected, abort: true })
    .refine(isCanonicalBase64urlOf(sorted), { error: expected });
  // The JSON Schema states the same rule as one regex (the check above does not run it).
  withMeta(text, { pattern: `^(?:${sorted.map(base64urlOfLength).join('|')})$` });
  const codec = z.codec(
    text,
    z
      .custom<Uint8Array>((value) => value instanceof Uint8Array, { error: 'expected a Uint8Array' })
      .refine((bytes) => sorted.includes(bytes.length), { error: `expected ${sorted.join(' or ')} bytes` }),
    {
      decode: guarded((text: string) => base64urlToBytes(text)),
      encode: (bytes) => bytesToBase64url(bytes),
    },
  );
  return withMeta(codec, {
    ...meta,
    description: meta.description ?? `${sorted.join(' or ')} bytes as unpadded base64url (RFC 4648 §5).`,
  });
}

// ---------------------------------------------------------------------------------------------
// Money
// ---------------------------------------------------------------------------------------------

function decimalPattern(signed: boolean): RegExp {
  const sign = signed ? '(?!-0(?:\\.0+)?$)-?' : '';
  return new RegExp(
    `^(?!(?:[^0-9]*[0-9]){${DECIMAL_MAX_DIGITS + 1}})${sign}(?:0|[1-9][0-9]*)(?:\\.[0-9]{1,${DECIMAL_MAX_SCALE}})?$`,
  );
}

/**
 * The canonical text of a {@link Decimal}, exactly: `-?digits(.digits)?`, no leading zeros, no
 * `-0`, at most {@link DECIMAL_MAX_SCALE} fraction digits and {@link DECIMAL_MAX_DIGITS} digits.
 * The lookaheads use only ECMAScript syntax that JSON Schema 2020-12 patterns allow.
 */
export const DECIMAL_WIRE_PATTERN = decimalPattern(true);

/** {@link DECIMAL_WIRE_PATTERN} without the sign: amounts that cannot be negative (costs, prices). */
export const NON_NEGATIVE_DECIMAL_WIRE_PATTERN = decimalPattern(false);

function decimalCodecOf(signed: boolean) {
  return z.codec(
    z
      .string()
      .max(DECIMAL_MAX_TEXT_LENGTH, { error: 'expected a decimal string', abort: true })
      .regex(signed ? DECIMAL_WIRE_PATTERN : NON_NEGATIVE_DECIMAL_WIRE_PATTERN, {
        error: signed
          ? 'expected a plain decimal string (-?digits(.digits)?)'
          : 'expected a non-negative plain decimal string (digits(.digits)?)',
      }),
    z
      .custom<Decimal>(Decimal.isDecimal, { error: 'expected a Decimal' })
      .refine((d) => signed || !d.isNegative(), { error: 'must not be negative' }),
    {
      decode: guarded((text: string, field) => Decimal.parse(text, field)),
      encode: (value) => value.toString(),
    },
  );
}

const DECIMAL_DESCRIPTION = `no exponent, at most ${DECIMAL_MAX_SCALE} fraction digits and ${DECIMAL_MAX_DIGITS} digits; trailing zeros are significant (the scale is kept).`;

/**
 * Money: on the wire a canonical decimal string (`"0.018510"`), in TypeScript a {@link Decimal}.
 * The scale is kept, so the text round-trips byte for byte.
 */
export const decimalCodec = withMeta(decimalCodecOf(true), {
  id: 'Decimal',
  description: `Exact decimal as a plain string -?digits(.digits)?: ${DECIMAL_DESCRIPTION}`,
});

/** Like {@link decimalCodec}, for amounts that cannot be negative (costs, prices, quantities). */
export const nonNegativeDecimalCodec = withMeta(decimalCodecOf(false), {
  id: 'NonNegativeDecimal',
  description: `Exact non-negative decimal as a plain string digits(.digits)?: ${DECIMAL_DESCRIPTION}`,
});

// ---------------------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------------------

/** The JSON Schema pattern of an NHI; the codec also checks the key is a valid Ed25519 point. */
export const NHI_PATTERN = /^(?:agent|human|service):nhi:ed25519:[1-9A-HJ-NP-Za-km-z]{32,44}$/;

/**
 * An NHI string (spec §6.1, `<kind>:nhi:ed25519:<base58 key>`), validated by `parseNhi`
 * (including the Ed25519 point check); the same `string` on both sides.
 */
export const nhiCodec = withMeta(
  z.codec(
    z
      .string()
      .max(NHI_MAX_LENGTH, { error: 'expected an NHI string', abort: true })
      .regex(NHI_PATTERN, { error: "expected '<agent|human|service>:nhi:ed25519:<base58 public key>'" }),
    z.string(),
    {
      decode: guarded((text: string, field) => {
        parseNhi(text, field);
        return text;
      }),
      encode: guarded((text: string, field) => {
        parseNhi(text, field);
        return text;
      }),
    },
  ),
  {
    id: 'Nhi',
    description: 'NHI string (spec §6.1): <agent|human|service>:nhi:ed25519:<base58 public key>.',
  },
);

/** A UUID: canonical lowercase RFC 9562 text on both sides, branded `Uuid` in TypeScript. */
export const uuidCodec = withMeta(
  z.codec(
    z
      .string()
      .max(36, { error: 'expected a lowercase RFC 9562 UUID', abort: true })
      .regex(UUID_PATTERN, { error: 'expected a lowercase RFC 9562 UUID' }),
    z.custom<Uuid>(isUuid, { error: 'expected a lowercase RFC 9562 UUID' }),
    {
      decode: guarded((text: string, field) => parseUuid(text, field)),
      encode: (id) => id as string,
    },
  ),
  { id: 'Uuid', description: 'UUID in canonical lowercase RFC 9562 form (8-4-4-4-12 hex).' },
);

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/**
 * Free text of 1 to `max` characters: no C0 control characters other than tab, LF and CR, and
 * no lone UTF-16 surrogates (they cannot be encoded in UTF-8, so RFC 8785 could not sign them).
 */
export function boundedText(max: number, min = 1) {
  return (
    z
      .string()
      .min(min)
      .max(max, { abort: true })
      // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
      .regex(/^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF]*$/u, {
        error: 'control characters and lone surrogates are not allowed',
      })
  );
}

/** An identifier-like token of 1 to `max` visible ASCII characters (no spaces, no controls). */
export function asciiToken(max: number) {
  return z
    .string()
    .min(1)
    .max(max, { abort: true })
    .regex(/^[\x21-\x7E]+$/, { error: 'expected visible ASCII characters only (no spaces)' });
}
